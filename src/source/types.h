/*
 * types.h — the source types: one row per kind of thing coffer backs up.
 *
 * A row holds everything the layers above need to know about a type: its
 * name (in coffer.yaml and in snapshots), its coffer.yaml keys (a table of
 * config/field.h rows pointing into the type's own settings struct), the
 * command-line flags of `coffer backup` that set those keys, how it backs
 * up, where else than a directory it restores to, how a drill proves it
 * restorable, and the facts other commands use (is it incremental, is it
 * a file tree, does `dump` print it whole). The config reader, backup,
 * restore, dump, drill, repair and health all ask the row, so no code
 * outside this table and the type's own files names a type, and a new
 * type is its own file plus one row in types.c.
 *
 * Rows point at functions in the type's file (postgres.c, redis.c, ...)
 * and, for restoring and drilling, at the ops/ code that does those for
 * every type; types.c is the one place that joins them.
 */
#ifndef COFFER_SOURCE_TYPES_H
#define COFFER_SOURCE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/field.h"
#include "util/error.h"

struct backup_ctx;
struct drill;
struct repo;
struct snapshot;
struct string_list;

/* A flag of `coffer backup` that sets one of the type's keys, as if it
 * were in coffer.yaml (a switch sets a bool key; a repeated flag adds to a
 * list key). */
struct source_flag {
    const char *name;   /* without "--" */
    const char *arg;    /* the argument's placeholder, or NULL for a switch */
    const char *key;    /* the coffer.yaml key it sets */
    const char *help;   /* what it does, one line (--help wraps it) */
    bool is_url;        /* its argument may carry a password: refused on a command line */
};

/* What `coffer restore` passes to a target, whatever the type. */
struct restore_request {
    const char *target;        /* as given to --to */
    unsigned workers;          /* 0: one per core */
    unsigned jobs;             /* 0: the source's own, else 1 */
    const char *table;         /* only this table, or NULL */
    const char *password_file; /* the target's password, or NULL */
    bool is_force;             /* replace what the target holds */
    const void *settings;      /* the configured source's settings of this type, or NULL */
};

/* A place other than a directory that a snapshot of the type restores to. */
struct source_target {
    const char *what;                     /* "a database URL (postgresql://...)", for messages */
    bool (*matches)(const char *target);
    bool is_url;                          /* the target may carry a secret: refuse one on the command line */
    /* Restores; note (may be left empty) ends the summary line, e.g.
     * " (rows loaded over 4 connections)"; into names the target in it
     * ("into the database"), NULL: "to <target>". */
    int (*restore)(struct repo *repo, const struct snapshot *snap, const struct restore_request *req, char *note,
                   size_t note_size, struct error *err);
    const char *into;
};

/* A table of a database snapshot, with the rows the snapshot holds. */
struct table_rows {
    char *name; /* "schema.table" */
    int64_t rows;
};

/* Frees the count tables of list. */
void table_rows_free(struct table_rows *list, size_t count);

#define SOURCE_TARGETS_MAX 2
#define SOURCE_FLAGS_MAX 4

struct source_type {
    const char *name;
    /* coffer.yaml: the type's keys besides the common ones (tags,
     * retention, ...), into a settings struct of settings_size bytes; NULL:
     * the type is not written in coffer.yaml (stdin) */
    const struct config_field *fields;
    size_t settings_size;
    /* `coffer backup`: the flag that picks the type, its argument's key
     * (NULL for a switch), the flags that go with it; arguments_key: the
     * list key that the command's remaining arguments fill (paths) */
    struct source_flag flag;
    struct source_flag flags[SOURCE_FLAGS_MAX];
    const char *arguments_key;
    const char *default_name;  /* the source's name when --name is not given */
    bool reads_stdin;          /* backs up standard input, which must then not be a terminal */
    /* A problem coffer.yaml's keys cannot express, found before anything
     * runs (NULL: none), as "key: what is wrong". */
    const char *(*validate)(const void *settings);
    /* Backs up: sets ctx->snapshot's root, and its paths or metadata. */
    int (*backup)(struct backup_ctx *ctx, const void *settings, struct error *err);
    /* `coffer config check`: reaches what a backup would read (connects,
     * authenticates, opens the paths) without backing anything up; what
     * gets a few words on what answered ("PostgreSQL 15.4, database app"). */
    int (*probe)(const void *settings, char *what, size_t size, struct error *err);
    bool is_incremental;       /* files unchanged since the previous snapshot are not read again */
    bool is_tree;              /* a tree of the user's files, which repair can copy without the lost ones */
    /* What `dump` without a path prints: this file at the top of the
     * snapshot ("db.dump"); NULL: the snapshot's only file, if it is not a
     * tree of the user's files (a stream, a command's output). */
    const char *main_stream;
    /* The words `dump --redacted` hides, from a snapshot; NULL: the type
     * has no secrets to hide and no --redacted. */
    void (*redact_words)(const struct snapshot *snap, struct string_list *words);
    const char *revision_key;  /* the key of a git repository whose HEAD a run records, or NULL */
    /* The tables a database snapshot records it holds (restore --table,
     * diff): their count, or -1 when the snapshot records none (an older
     * coffer, a dump whose rows were not counted); *out for
     * table_rows_free. NULL: the type holds no tables. */
    long (*tables)(const struct snapshot *snap, struct table_rows **out);
    struct source_target targets[SOURCE_TARGETS_MAX];
    /* drill: restores into the scratch directory (or database) and
     * validates (drill.h); has_scratch_server: it needs a scratch_url, and
     * drill_drop removes the scratch database it made */
    void (*drill)(struct drill *d);
    bool has_scratch_server;
    int (*drill_drop)(const char *scratch_url, const char *password_file, const char *name, struct error *err);
};

/* Every type, ending with a row whose name is NULL. */
extern const struct source_type source_types[];

/* The type called name, or NULL. */
const struct source_type *source_type_find(const char *name);

/* "postgres, redis, files, ..." for messages: the coffer.yaml types. */
void source_type_names(char *out, size_t size);

/* The target of kind's that target matches, or NULL (a directory). */
const struct source_target *source_target_find(const struct source_type *kind, const char *target);

#endif
