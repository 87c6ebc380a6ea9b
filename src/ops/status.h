/*
 * status.h — each source's state against its objectives and rules, as
 * `coffer status --json` gives it (docs/json-output.md): the newest
 * snapshot and its age against the RPO, the health rules, the last check
 * and drill, and problems, each {rule, what, todo}.
 */
#ifndef COFFER_OPS_STATUS_H
#define COFFER_OPS_STATUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/event.h"
#include "repo/snapshot.h"

struct config;

/* One source's status object at time now. cfg may be NULL. */
json_t *ops_source_status(const struct snapshot_list *list, const struct event_list *events,
                          const struct config *cfg, const char *source, int64_t now);

/* {sources, problems, ok} for the sources named (only), or for those
 * coffer.yaml names, else every source in the repository (health.h). */
json_t *ops_status(const struct snapshot_list *list, const struct event_list *events, const struct config *cfg,
                   const char *const *only, size_t only_count, int64_t now);

#endif
