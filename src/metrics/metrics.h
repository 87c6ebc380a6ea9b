/*
 * metrics.h — the daemon's numbers for Prometheus: a small registry of
 * gauges and counters, each series a name and its labels, rendered in the
 * text exposition format (version 0.0.4) — served over HTTP from the
 * process that did the work (libmicrohttpd, on its own thread) and
 * written as a file for node_exporter's textfile collector. Nothing here
 * reads the repository: values are set as runs end, so a scrape costs a
 * copy of a few kilobytes.
 *
 * The metrics coffer has, with their help lines and types, are one table
 * in metrics.c (docs/metrics.md lists them); a name not in it is refused.
 * Thread-safe: the daemon's thread sets, the server's thread renders.
 */
#ifndef COFFER_METRICS_METRICS_H
#define COFFER_METRICS_METRICS_H

#include <stdbool.h>

#include "util/buf.h"
#include "util/error.h"

struct metrics;
struct metrics_server;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Sets (or, for metrics_add, adds to) the series of metric name with
 * labels, given as pairs: "source", "db", NULL. Values of labels are
 * escaped as the format wants. An unknown name is ignored (and asserted
 * in tests). */
void metrics_set(struct metrics *m, double value, const char *name, ...) __attribute__((sentinel));
void metrics_add(struct metrics *m, double delta, const char *name, ...) __attribute__((sentinel));

/* Every series, grouped by metric with its # HELP and # TYPE lines. */
void metrics_render(struct metrics *m, struct buf *out);

/* Writes the rendering to path atomically (node_exporter's textfile
 * collector reads whole files ending in .prom). */
int metrics_write_textfile(struct metrics *m, const char *path, struct error *err);

/* Serves GET /metrics on listen ("127.0.0.1:9914", "[::1]:9914",
 * ":9914" for every address). */
int metrics_serve(struct metrics *m, const char *listen, struct metrics_server **out, struct error *err);
void metrics_server_stop(struct metrics_server *s);

#endif
