/*
 * snapshot.h — snapshot documents: one sealed JSON object per snapshot
 * under snapshots/<id>, naming the source, when and where it ran, its tags,
 * statistics, warnings and the root tree of its content.
 *
 * A snapshot is written last in a backup (after its packs and index), so a
 * snapshot that exists always refers to data that exists.
 */
#ifndef COFFER_REPO_SNAPSHOT_H
#define COFFER_REPO_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

struct string_list {
    char **items;
    size_t count;
};

void string_list_add(struct string_list *list, const char *s);
bool string_list_has(const struct string_list *list, const char *s);
/* Sorts the items in strcmp order. */
void string_list_sort(struct string_list *list);
/* "a, b, c" into out (cut short, with "...", if it does not fit). */
void string_list_join(const struct string_list *list, char *out, size_t size);
void string_list_free(struct string_list *list);

struct snapshot_stats {
    uint64_t size;      /* logical bytes of the content */
    uint64_t added;     /* sealed bytes this snapshot added to the repository */
    uint64_t files;
    uint64_t dirs;
    uint64_t blobs_new;
    uint64_t files_unchanged; /* reused from the parent without reading */
    double seconds;
};

struct snapshot {
    uint8_t id[CRYPTO_ID_SIZE];
    int64_t time;    /* unix seconds, UTC */
    int32_t time_ns; /* and nanoseconds: orders snapshots made in one second */
    char *host;
    char *source;
    char *type;   /* the source type's name (source/types.h) */
    char *run;      /* shared by the snapshots of one `coffer backup` of a configuration, or NULL */
    char *revision; /* the application's git HEAD at that run, or NULL */
    char *origin;   /* a copy's original: "<repository id>/<snapshot id>" in hex, or NULL (copy.c) */
    char *repaired_from; /* a repaired copy's original snapshot id in hex, or NULL (repair_snapshots.c) */
    struct string_list tags;
    struct string_list paths;
    uint8_t root[CRYPTO_ID_SIZE];
    bool has_parent;
    uint8_t parent[CRYPTO_ID_SIZE];
    struct snapshot_stats stats;
    struct string_list warnings;
    char *meta_json; /* the source's own metadata, a JSON object text, or NULL */
    uint8_t (*dictionaries)[CRYPTO_ID_SIZE]; /* dictionary blobs its blobs may need */
    size_t dictionary_count;
};

void snapshot_encode(const struct snapshot *snap, struct buf *out);
int snapshot_decode(const uint8_t *data, size_t len, struct snapshot *snap, struct error *err);
void snapshot_free(struct snapshot *snap);

/* Gives the snapshot a fresh id and stores it. */
int snapshot_save(struct repo *repo, struct snapshot *snap, struct error *err);

/* Stores the snapshot again under its id, replacing the document there in
 * one put (its tags changed: ops/tag.c). */
int snapshot_rewrite(struct repo *repo, const struct snapshot *snap, struct error *err);

struct snapshot_list {
    struct snapshot *items; /* oldest first */
    size_t count;
    struct string_list unreadable; /* "snapshots/<id>: why", one per damaged snapshot */
};

/* Loads every snapshot. One that cannot be read or parsed is left out and
 * named in list->unreadable, so that one damaged snapshot does not hide the
 * others; only a failure to list the folder fails the call. */
int snapshot_list_load(struct repo *repo, struct snapshot_list *list, struct error *err);
void snapshot_list_free(struct snapshot_list *list);

/* Finds "latest" or a unique id prefix, optionally only of one source. */
int snapshot_find(const struct snapshot_list *list, const char *spec, const char *source,
                  const struct snapshot **out, struct error *err);

/* Records that blobs of the snapshot may need a dictionary (once each). */
void snapshot_add_dictionary(struct snapshot *snap, const uint8_t id[CRYPTO_ID_SIZE]);

/* The snapshot's id in hex (64 digits) and short form (8). */
void snapshot_id_hex(const struct snapshot *snap, char out[65]);

#endif
