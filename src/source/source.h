/*
 * source.h — what every source gets to back up with, and the two shapes
 * all of them produce: a file tree (files.c) or named streams (stream.c,
 * bundle.h).
 *
 * A source turns its input into a root tree blob through the blob writer
 * and reports statistics and warnings (files it could not read, files that
 * changed while read) into the backup context. Each type's backup
 * function (types.h) has the same shape, so ops/backup.c runs any of them.
 */
#ifndef COFFER_SOURCE_SOURCE_H
#define COFFER_SOURCE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/field.h"
#include "pipeline/blob_writer.h"
#include "pipeline/content.h"
#include "repo/snapshot.h"
#include "util/progress.h"

struct backup_ctx {
    struct snapshot *snapshot; /* being made: sources may set meta_json, dictionaries */
    struct repo *repo;
    struct blob_writer *blobs;
    struct blob_codec *codec; /* reads parent trees */
    struct snapshot_stats *stats;
    struct string_list *warnings;
    struct progress *progress;
    bool is_force; /* reread files even where the parent says unchanged */
    const uint8_t *parent_root; /* the root of the source's previous snapshot (incremental types), or NULL */
    int stdin_fd;  /* what a stream backup reads */
};

struct exclude;
struct tree;

/* Adds a warning (printf-style) to the snapshot being made, and counts it
 * in the progress line. */
void backup_warn(struct backup_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads the parent snapshot's tree id (NULL: none) into tree; false if
 * there is none or it cannot be read, which only means that every file
 * below is read again. */
bool backup_load_parent_tree(struct backup_ctx *ctx, const uint8_t *id, struct tree *tree);

/* Sorts, encodes and stores a directory's tree, giving its id. */
int backup_store_tree(struct backup_ctx *ctx, struct tree *tree, uint8_t id_out[CRYPTO_ID_SIZE], struct error *err);

/* Backs up paths (files or directories), leaving out what exclude (may be
 * NULL) matches. The root tree mirrors their absolute paths: /srv/uploads
 * becomes srv/uploads. parent_root is the root of the same source's
 * previous snapshot, or NULL: files whose size, mtime, ctime and inode
 * match it are not read again. */
int files_backup(struct backup_ctx *ctx, char *const *paths, size_t count, const struct exclude *exclude,
                 const uint8_t *parent_root, uint8_t root_out[CRYPTO_ID_SIZE], struct error *err);

/* Backs up everything readable from fd as one file named name. */
int stream_backup(struct backup_ctx *ctx, int fd, const char *name, uint8_t root_out[CRYPTO_ID_SIZE],
                  struct error *err);

/* A files source's coffer.yaml keys (its row in types.c reads them). */
/* The probe (source_type.probe) of sources that read paths: each one is
 * there and readable (a directory: listable). */
int source_probe_paths(const struct config_strings *paths, char *what, size_t size, struct error *err);

struct files_settings {
    struct config_strings paths;   /* at least one */
    struct config_strings exclude; /* patterns (exclude.h) */
};

/* The files type's backup (settings: struct files_settings): the paths,
 * recorded absolute in the snapshot, against ctx->parent_root. */
int files_source_backup(struct backup_ctx *ctx, const void *settings, struct error *err);
/* Its probe: every path readable. */
int files_probe(const void *settings, char *what, size_t size, struct error *err);

/* The stdin type's: ctx->stdin_fd as one file named after the source. */
int stream_source_backup(struct backup_ctx *ctx, const void *settings, struct error *err);

/* Makes an absolute, clean path ("/a/./b/../c/" -> "/a/c"); caller frees. */
char *path_absolute(const char *path);

#endif
