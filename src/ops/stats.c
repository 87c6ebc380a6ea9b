/*
 * stats.c — what the repository holds and what deduplication saves.
 *
 * Every snapshot's blobs are walked (trees, content lists, data blobs,
 * dictionaries) once per source, and each blob is attributed to the source
 * that references it, or marked shared when several do. From that: the
 * logical size of all snapshots, the bytes stored, the deduplication
 * ratio, per source the bytes no other source references (what forgetting
 * that source entirely would free), and the indexed bytes no snapshot
 * references any more (what a prune would free). Memory: about 60 bytes
 * per blob, twice (the repository's index and the attribution).
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "ops/reach.h"
#include "pipeline/content.h"
#include "repo/blob.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "store/store.h"

#define SHARED (UINT32_MAX - 1) /* attribution of a blob several sources reference */

struct attribution {
    struct repo *repo;
    struct blob_codec *codec;
    struct index *owners;  /* id -> the source number (in .offset; .pack stays pending), or SHARED */
    struct index *visited; /* trees already walked for the current source */
    uint32_t source;
};

/* Records that the current source references id. */
static int attribute(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct attribution *a = ctx;
    struct index_entry e = {0};
    if (index_find(a->owners, id, &e)) {
        if (e.offset != a->source && e.offset != SHARED) {
            e.offset = SHARED;
            index_set_location(a->owners, &e);
        }
        return 0;
    }
    struct index_entry stored;
    memcpy(e.id, id, CRYPTO_ID_SIZE);
    e.type = (uint8_t)type;
    e.pack = INDEX_PACK_PENDING; /* not a pack: index_each must not look it up */
    e.offset = a->source;
    e.length = index_find(repo_index(a->repo), id, &stored) ? stored.length : 0;
    index_insert(a->owners, &e);
    return 0;
}

static void add_up(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct stats_result *r = ctx;
    if (e->offset == SHARED)
        r->shared_bytes += e->length;
    else if (e->offset < r->source_count)
        r->sources[e->offset].unique_bytes += e->length;
    r->referenced_bytes += e->length;
}

struct indexed_sum {
    struct stats_result *r;
    struct index *owners;
};

static void add_indexed(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct indexed_sum *s = ctx;
    s->r->indexed_bytes += e->length;
    if (reach_is_always_needed(e) && !index_find(s->owners, e->id, NULL))
        s->r->referenced_bytes += e->length;
}

static int add_file_size(void *ctx, const char *name, uint64_t size, struct error *err)
{
    uint64_t *total = ctx;
    *total += size;
    return 0;
}

/* The index of source in out->sources, added if new. */
static uint32_t source_number(struct stats_result *out, const char *source)
{
    for (size_t i = 0; i < out->source_count; i++)
        if (!strcmp(out->sources[i].name, source))
            return (uint32_t)i;
    out->sources = xrealloc(out->sources, (out->source_count + 1) * sizeof *out->sources);
    memset(&out->sources[out->source_count], 0, sizeof *out->sources);
    out->sources[out->source_count].name = xstrdup(source);
    return (uint32_t)out->source_count++;
}

int ops_stats(struct repo *repo, struct stats_result *out, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct attribution a = {repo, NULL, NULL, NULL, 0};
    memset(out, 0, sizeof *out);
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    int rc = repo_load_index(repo, err);
    if (rc == 0)
        rc = snapshot_list_load(repo, &list, err);
    a.codec = repo_blob_codec_new(repo);
    a.owners = index_new();
    for (size_t i = 0; i < list.count && rc == 0; i++)
        source_number(out, list.items[i].source);
    for (uint32_t s = 0; s < out->source_count && rc == 0; s++) {
        a.source = s;
        a.visited = index_new();
        for (size_t i = 0; i < list.count && rc == 0; i++) {
            const struct snapshot *snap = &list.items[i];
            if (strcmp(snap->source, out->sources[s].name) != 0)
                continue;
            out->sources[s].snapshots++;
            out->sources[s].logical_bytes += snap->stats.size;
            out->snapshots++;
            out->logical_bytes += snap->stats.size;
            rc = reach_snapshot(repo, a.codec, snap, a.visited, attribute, &a, err);
            if (rc < 0)
                error_wrap(err, "snapshot of %s", snap->source);
        }
        index_free(a.visited);
        a.visited = NULL;
    }
    if (rc == 0) {
        index_each(a.owners, add_up, out);
        struct indexed_sum sum = {out, a.owners};
        index_each(repo_index(repo), add_indexed, &sum);
        rc = store_list(repo_store(repo), "data", add_file_size, &out->stored_bytes, err);
    }
    if (rc == 0)
        rc = store_list(repo_store(repo), "index", add_file_size, &out->stored_bytes, err);
    if (rc == 0)
        rc = store_list(repo_store(repo), "snapshots", add_file_size, &out->stored_bytes, err);
    out->unreferenced_bytes = out->indexed_bytes > out->referenced_bytes ? out->indexed_bytes - out->referenced_bytes : 0;
    index_free(a.owners);
    blob_codec_free(a.codec);
    snapshot_list_free(&list);
    repo_unlock(lock);
    if (rc < 0)
        stats_result_free(out);
    return rc;
}

void stats_result_free(struct stats_result *r)
{
    for (size_t i = 0; i < r->source_count; i++)
        free(r->sources[i].name);
    free(r->sources);
    memset(r, 0, sizeof *r);
}
