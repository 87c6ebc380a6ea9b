/*
 * pgload.h — loading COPY rows into tables over several connections.
 *
 * pg_restore --jobs loads different tables at once, but each table over a
 * single COPY; when one table holds most of the data (a typical
 * application database: messages, events, logs), that one COPY is the
 * restore time. The loader cuts each table's rows into pieces of about
 * 1 MiB at row boundaries and hands them to whichever connection is free,
 * so every table is loaded by all connections at once: measured on a
 * 546 MB table, 6.2 s over one connection, 3.2 s over two.
 *
 * Rows are COPY text format, as pg_dump writes them: one row per line, a
 * newline inside a value escaped, an optional "\." line ending the data.
 * Each connection commits its own COPYs, so a failed load leaves some rows
 * behind (as pg_restore does); the restore as a whole then fails.
 * Memory: about 3 pieces per connection.
 */
#ifndef COFFER_SOURCE_PGLOAD_H
#define COFFER_SOURCE_PGLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "source/pgconn.h"
#include "util/error.h"

struct pg_loader;

/* Opens `connections` connections to the target database, each running
 * setup_sql (client encoding and the like; may be NULL) first. */
struct pg_loader *pg_loader_new(const struct pg_target *t, unsigned connections, const char *setup_sql,
                                struct error *err);

/* The rows written from now on go into the table this COPY ... FROM stdin
 * statement names, until pg_loader_end_table. */
int pg_loader_begin_table(struct pg_loader *l, const char *copy_stmt, struct error *err);
int pg_loader_write(struct pg_loader *l, const uint8_t *data, size_t len, struct error *err);
int pg_loader_end_table(struct pg_loader *l, struct error *err);

/* Waits until every row is in; returns the first failure of any connection. */
int pg_loader_finish(struct pg_loader *l, struct error *err);

/* Stops and closes everything (after a failure too); accepts NULL. */
void pg_loader_free(struct pg_loader *l);

#endif
