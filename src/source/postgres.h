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

/* A postgres source's coffer.yaml keys (its row in types.c reads them). */
struct postgres_settings {
    char *url;                     /* a libpq URL or key=value string, without a password */
    bool globals;                  /* also roles and tablespaces (pg_dumpall --globals-only) */
    struct config_strings exports; /* tables to export as JSON lines */
    unsigned jobs;                 /* connections a restore or drill uses, 1..64 */
    char *password_file;           /* NULL: libpq's own ~/.pgpass or $PGPASSFILE */
    char *format;                  /* "custom", "directory" or NULL (custom) */
};

/* Backs up a database (settings: struct postgres_settings) into
 * ctx->snapshot: its root, its metadata (server version, database size,
 * largest tables, dump format, pg_dump version) and its dictionary. A
 * failed pg_dump fails the backup with pg_dump's own message. */
int postgres_backup(struct backup_ctx *ctx, const void *settings, struct error *err);

/* The tables snap's metadata says its dump holds, with their row counts
 * (meta "rows", counted while the dump was read): see source_type.tables. */
struct table_rows;
long postgres_snapshot_tables(const struct snapshot *snap, struct table_rows **out);

/* Its probe: connects as a backup would, with the source's password. */
int postgres_probe(const void *settings, char *what, size_t size, struct error *err);

/* "format: ..." when the settings ask for what coffer cannot do yet, else NULL. */
const char *postgres_validate(const void *settings);

#endif
