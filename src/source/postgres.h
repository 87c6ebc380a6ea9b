/*
 * postgres.h — the PostgreSQL source.
 *
 * One snapshot holds, in a tree:
 *   db.dump               pg_dump custom format with pg_dump's compression
 *                         off (coffer compresses after deduplicating; see
 *                         docs/postgres.md for the measurement)
 *   globals.sql           roles and tablespaces (pg_dumpall --globals-only)
 *   exports/<table>.jsonl one JSON object per row, for the tables named
 *   exports/manifest.json time, tables, row counts, SHA-256 per file, ...
 * All of it is read in one repeatable-read transaction whose snapshot
 * pg_dump imports, so the dump and the exports show the same moment.
 */
#ifndef COFFER_SOURCE_POSTGRES_H
#define COFFER_SOURCE_POSTGRES_H

#include <stdbool.h>

#include "source/source.h"

#define POSTGRES_DUMP_NAME "db.dump"
#define POSTGRES_GLOBALS_NAME "globals.sql"

struct postgres_source {
    const char *url;
    const char *password_file; /* NULL: the URL's password, or libpq's own lookup */
    bool has_globals;
    char *const *exports;
    size_t export_count;
};

/* Backs up a database. Sets the snapshot's metadata (server version,
 * database size, largest tables, dump format, pg_dump version) and its
 * dictionary. A failed pg_dump fails the backup with pg_dump's own
 * message. */
int postgres_backup(struct backup_ctx *ctx, const struct postgres_source *src, uint8_t root_out[CRYPTO_ID_SIZE],
                    struct error *err);

#endif
