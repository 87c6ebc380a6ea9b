/*
 * prune.c — deleting data no snapshot needs, repacking what is mostly unused.
 *
 * Under the exclusive lock (no backup runs meanwhile):
 *  1. mark every blob some snapshot needs (reach.h); a snapshot that cannot
 *     be read, or a needed blob missing from the index, stops the prune
 *     before anything is written: it never guesses;
 *     (and every dictionary: see reach.h);
 *  2. judge each pack: no needed blob -> delete; more than max_unused of
 *     its bytes unneeded -> repack; else keep as it is;
 *  3. copy the needed blobs of packs to repack into new packs, each blob
 *     checked (authenticated, decompressed, hashed) on the way — sealed
 *     blobs do not depend on their pack, so they are copied as they are,
 *     never recompressed or re-encrypted; one thread per CPU, each taking
 *     the next pack and filling new packs of its own;
 *  4. write a new index covering the kept and the new packs;
 *  5. only then delete the old index files, and then the packs no longer
 *     needed.
 * A crash at any point leaves a repository in which every snapshot still
 * finds its blobs: before step 5 the old index and packs are all there;
 * during it, the new index already covers everything kept. At worst some
 * packs are left that nothing indexes, which the next prune deletes.
 *
 * Why repack at 5% unused by default: a pack is rewritten whole to drop its
 * unused part, so a lower threshold rewrites many bytes to free few (at 5%,
 * at least one byte freed per 19 rewritten), and a higher one leaves more
 * dead data behind; restic's default for the same trade-off is also 5%.
 */
#include "ops/ops.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops/reach.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "store/store.h"
#include "util/parallel.h"

struct pack_state {
    bool is_indexed;  /* the index names it */
    bool is_stored;   /* the store has it */
    uint8_t id[CRYPTO_ID_SIZE];
    uint64_t size;    /* of the file */
    uint64_t used;    /* sealed bytes of needed blobs */
    struct index_entry *entries; /* its blobs as the index has them */
    size_t count, capacity;
    enum { PACK_KEEP, PACK_REPACK, PACK_DELETE } fate;
};

struct pruner {
    struct repo *repo;
    const struct prune_options *opts;
    struct blob_codec *codec;
    struct index *used;       /* ids of needed blobs */
    struct pack_state *packs; /* one per pack id: indexed ones sorted by id, then orphans */
    size_t pack_count;
    size_t sorted_count;      /* the indexed, sorted ones */
    uint32_t *state_of;       /* index pack number -> packs[] (a pack two index files list has two numbers) */
    struct string_list index_files;
    struct prune_result *result;
};

static int mark_used(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct pruner *p = ctx;
    if (!index_find(p->repo->index, id, NULL)) {
        char short_id[17];
        id_short(id, short_id);
        return error_set(err, "blob %s is needed but not in the index: run `coffer check`; nothing was pruned",
                         short_id);
    }
    index_add_id(p->used, id);
    return 0;
}

static void mark_always_needed(void *ctx, const struct index_entry *e, const uint8_t *pack_id)
{
    struct pruner *p = ctx;
    if (reach_is_always_needed(e))
        index_add_id(p->used, e->id);
}

static int mark_all(struct pruner *p, struct error *err)
{
    struct snapshot_list list = {0};
    if (snapshot_list_load(p->repo, &list, err) < 0)
        return -1;
    int rc = 0;
    if (list.unreadable.count)
        rc = error_set(err, "%s cannot be read; prune will not guess what it needs (run `coffer check`)",
                       list.unreadable.items[0]);
    struct index *visited = index_new();
    for (size_t i = 0; i < list.count && rc == 0; i++)
        if (reach_snapshot(p->repo, p->codec, &list.items[i], visited, mark_used, p, err) < 0)
            rc = error_wrap(err, "cannot walk a snapshot of %s", list.items[i].source);
    index_free(visited);
    snapshot_list_free(&list);
    if (rc == 0)
        index_each(p->repo->index, mark_always_needed, p);
    return rc;
}

static void collect_entry(void *ctx, const struct index_entry *e, const uint8_t *pack_id)
{
    struct pruner *p = ctx;
    if (e->pack == INDEX_PACK_PENDING)
        return;
    struct pack_state *ps = &p->packs[p->state_of[e->pack]];
    if (ps->count == ps->capacity) {
        ps->capacity = ps->capacity ? 2 * ps->capacity : 16;
        ps->entries = xrealloc(ps->entries, ps->capacity * sizeof *ps->entries);
    }
    ps->entries[ps->count++] = *e;
    if (index_find(p->used, e->id, NULL))
        ps->used += e->length;
}

static int by_id(const void *a, const void *b)
{
    return memcmp(((const struct pack_state *)a)->id, ((const struct pack_state *)b)->id, CRYPTO_ID_SIZE);
}

static struct pack_state *find_pack(const struct pruner *p, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct pack_state key;
    memcpy(key.id, id, CRYPTO_ID_SIZE);
    return bsearch(&key, p->packs, p->sorted_count, sizeof *p->packs, by_id);
}

/* One state per indexed pack id, sorted for lookup, and the state of every
 * pack number the index gave out. */
static void list_indexed_packs(struct pruner *p)
{
    size_t numbers = index_pack_count(p->repo->index);
    p->packs = xcalloc(numbers ? numbers : 1, sizeof *p->packs);
    for (size_t i = 0; i < numbers; i++)
        index_pack_id(p->repo->index, (uint32_t)i, p->packs[i].id);
    qsort(p->packs, numbers, sizeof *p->packs, by_id);
    size_t unique = 0;
    for (size_t i = 0; i < numbers; i++)
        if (unique == 0 || by_id(&p->packs[unique - 1], &p->packs[i]) != 0)
            p->packs[unique++] = p->packs[i];
    for (size_t i = 0; i < unique; i++)
        p->packs[i].is_indexed = true;
    p->pack_count = p->sorted_count = unique;
    p->state_of = xcalloc(numbers ? numbers : 1, sizeof *p->state_of);
    for (size_t i = 0; i < numbers; i++) {
        uint8_t id[CRYPTO_ID_SIZE];
        index_pack_id(p->repo->index, (uint32_t)i, id);
        p->state_of[i] = (uint32_t)(find_pack(p, id) - p->packs);
    }
}

static int note_stored_pack(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct pruner *p = ctx;
    uint8_t id[CRYPTO_ID_SIZE];
    if (repo_object_id_from_name(name, id) < 0)
        return 0;
    struct pack_state *ps = find_pack(p, id);
    if (!ps) { /* on the store, in no index: left by a crash */
        p->packs = xrealloc(p->packs, (p->pack_count + 1) * sizeof *p->packs);
        ps = &p->packs[p->pack_count++];
        memset(ps, 0, sizeof *ps);
        memcpy(ps->id, id, CRYPTO_ID_SIZE);
    }
    ps->is_stored = true;
    ps->size = size;
    return 0;
}

static int note_index_file(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct pruner *p = ctx;
    string_list_add(&p->index_files, name);
    return 0;
}

/* Steps 1 and 2. */
static int judge(struct pruner *p, struct error *err)
{
    if (store_list(p->repo->store, "index", note_index_file, p, err) < 0 || repo_load_index(p->repo, err) < 0 ||
        mark_all(p, err) < 0)
        return -1;
    list_indexed_packs(p);
    index_each(p->repo->index, collect_entry, p);
    if (store_list(p->repo->store, "data", note_stored_pack, p, err) < 0)
        return -1;
    struct prune_result *r = p->result;
    for (size_t i = 0; i < p->pack_count; i++) {
        struct pack_state *ps = &p->packs[i];
        if (ps->is_indexed && !ps->is_stored) {
            if (ps->used) {
                char short_id[17];
                id_short(ps->id, short_id);
                return error_set(err, "pack %s holds needed blobs but is missing: run `coffer check`; nothing was pruned",
                                 short_id);
            }
            ps->fate = PACK_DELETE; /* nothing to delete on the store, only to drop from the index */
            continue;
        }
        uint64_t unused = ps->size > ps->used ? ps->size - ps->used : 0;
        r->packs++;
        r->bytes_stored += ps->size;
        if (ps->used == 0) {
            ps->fate = PACK_DELETE;
            r->packs_deleted++;
            r->bytes_freed += ps->size;
        } else if ((double)unused > p->opts->max_unused * (double)ps->size) {
            ps->fate = PACK_REPACK;
            r->packs_repacked++;
            r->bytes_rewritten += ps->used;
            r->bytes_freed += unused;
        }
    }
    return 0;
}

/* ---- writing -------------------------------------------------------- */

/* Repacking runs on a few threads, each taking the next pack to rewrite and
 * filling a new pack of its own (a writer): verifying blobs is CPU work, and
 * reading and writing packs waits on the store, so threads overlap both.
 * The new packs' records are gathered under the mutex for the new index. */
struct pack_writer {
    struct pack_builder builder;
    bool is_open;
    struct blob_codec *codec;
    struct buf file, plain;
    bool is_busy;
};

struct repacking {
    struct pruner *p;
    struct pack_state **todo;
    struct pack_writer *writers;
    unsigned writer_count;
    pthread_mutex_t mutex; /* guards writers[].is_busy, records, count, result */
    struct pack_record *records; /* written, for the new index */
    size_t count;
};

static int flush_pack(struct repacking *r, struct pack_writer *w, struct error *err)
{
    if (!w->is_open || w->builder.record.count == 0)
        return 0;
    char name[96];
    pack_builder_finish(r->p->repo, &w->builder);
    repo_object_name(OBJ_BLOB, w->builder.record.id, name);
    if (store_put(r->p->repo->store, name, w->builder.data.data, w->builder.data.len, err) < 0)
        return -1;
    pthread_mutex_lock(&r->mutex);
    r->p->result->packs_written++;
    r->records = xrealloc(r->records, (r->count + 1) * sizeof *r->records);
    r->records[r->count++] = w->builder.record;
    pthread_mutex_unlock(&r->mutex);
    memset(&w->builder.record, 0, sizeof w->builder.record);
    w->is_open = false;
    return 0;
}

/* Step 3 for one pack, into writer w. */
static int repack(struct repacking *r, struct pack_writer *w, const struct pack_state *ps, struct error *err)
{
    struct pruner *p = r->p;
    char name[96];
    repo_object_name(OBJ_BLOB, ps->id, name);
    buf_reset(&w->file);
    int rc = store_get(p->repo->store, name, 0, ps->size, &w->file, err);
    for (size_t i = 0; i < ps->count && rc == 0; i++) {
        const struct index_entry *e = &ps->entries[i];
        if (!index_find(p->used, e->id, NULL))
            continue;
        if ((uint64_t)e->offset + e->length > w->file.len) {
            rc = error_set(err, "pack %s is shorter than its index says: run `coffer check`", name);
            break;
        }
        const uint8_t *sealed = w->file.data + e->offset;
        buf_reset(&w->plain);
        if (blob_open(p->repo, w->codec, e->id, sealed, e->length, &w->plain, err) < 0) {
            error_wrap(err, "cannot repack %s", name);
            rc = -1;
            break;
        }
        if (!w->is_open) {
            pack_builder_start(&w->builder);
            w->is_open = true;
        }
        pack_builder_add(&w->builder, e->id, e->type, sealed, e->length, e->raw_length);
        if (w->builder.data.len >= p->repo->config.pack_size)
            rc = flush_pack(r, w, err);
    }
    return rc;
}

static int repack_item(void *ctx, size_t item, struct error *err)
{
    struct repacking *r = ctx;
    struct pack_writer *w = NULL;
    pthread_mutex_lock(&r->mutex); /* at most writer_count calls run at once: one is free */
    for (unsigned i = 0; i < r->writer_count && !w; i++)
        if (!r->writers[i].is_busy)
            w = &r->writers[i];
    w->is_busy = true;
    pthread_mutex_unlock(&r->mutex);
    int rc = repack(r, w, r->todo[item], err);
    pthread_mutex_lock(&r->mutex);
    w->is_busy = false;
    pthread_mutex_unlock(&r->mutex);
    return rc;
}

/* Step 3: every pack judged PACK_REPACK, then the writers' last packs. */
static int repack_all(struct repacking *r, struct error *err)
{
    struct pruner *p = r->p;
    size_t todo_count = 0;
    r->todo = xcalloc(p->pack_count + 1, sizeof *r->todo);
    for (size_t i = 0; i < p->pack_count; i++)
        if (p->packs[i].fate == PACK_REPACK)
            r->todo[todo_count++] = &p->packs[i];
    r->writer_count = ops_default_workers();
    r->writers = xcalloc(r->writer_count, sizeof *r->writers);
    for (unsigned i = 0; i < r->writer_count; i++)
        r->writers[i].codec = blob_codec_new(p->repo->config.zstd_level);
    int rc = parallel_for(todo_count, r->writer_count, repack_item, r, err);
    for (unsigned i = 0; i < r->writer_count && rc == 0; i++)
        rc = flush_pack(r, &r->writers[i], err);
    return rc;
}

static void repacking_free(struct repacking *r)
{
    for (unsigned i = 0; i < r->writer_count; i++) {
        struct pack_writer *w = &r->writers[i];
        pack_builder_free(&w->builder); /* its buffer outlives each flush; a flushed record is zeroed */
        blob_codec_free(w->codec);
        buf_free(&w->file);
        buf_free(&w->plain);
    }
    free(r->writers);
    free(r->todo);
    for (size_t i = 0; i < r->count; i++)
        pack_record_free(&r->records[i]);
    free(r->records);
}

/* The kept packs as index records, from their index entries. */
static void kept_record(const struct pack_state *ps, struct pack_record *rec)
{
    memset(rec, 0, sizeof *rec);
    memcpy(rec->id, ps->id, CRYPTO_ID_SIZE);
    for (size_t i = 0; i < ps->count; i++) {
        struct pack_blob b;
        memcpy(b.id, ps->entries[i].id, CRYPTO_ID_SIZE);
        b.type = ps->entries[i].type;
        b.offset = ps->entries[i].offset;
        b.length = ps->entries[i].length;
        b.raw_length = ps->entries[i].raw_length;
        pack_record_add(rec, &b);
    }
}

/* Step 4. */
static int write_index(struct pruner *p, const struct repacking *r, struct error *err)
{
    struct pack_record *all = xcalloc(p->pack_count + r->count + 1, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < p->pack_count; i++)
        if (p->packs[i].fate == PACK_KEEP && p->packs[i].is_indexed && p->packs[i].is_stored)
            kept_record(&p->packs[i], &all[n++]);
    for (size_t i = 0; i < r->count; i++)
        all[n++] = r->records[i]; /* borrowed */
    int rc = repo_write_index(p->repo, all, n, NULL, err);
    for (size_t i = 0; i < n - r->count; i++)
        pack_record_free(&all[i]);
    free(all);
    return rc;
}

/* Step 5. */
static int delete_old(struct pruner *p, struct error *err)
{
    char **names = xcalloc(p->index_files.count + p->pack_count + 1, sizeof *names);
    size_t index_count = 0, pack_count = 0;
    for (size_t i = 0; i < p->index_files.count; i++) {
        uint8_t id[CRYPTO_ID_SIZE];
        if (repo_object_id_from_name(p->index_files.items[i], id) < 0)
            continue;
        names[index_count] = xcalloc(1, 96);
        repo_object_name(OBJ_INDEX, id, names[index_count++]);
    }
    for (size_t i = 0; i < p->pack_count; i++) {
        struct pack_state *ps = &p->packs[i];
        if (ps->fate == PACK_KEEP || !ps->is_stored)
            continue;
        char *name = names[index_count + pack_count++] = xcalloc(1, 96);
        repo_object_name(OBJ_BLOB, ps->id, name);
    }
    /* Every old index file is gone before the first pack goes. */
    int rc = store_delete_many(p->repo->store, names, index_count, err);
    if (rc == 0)
        rc = store_delete_many(p->repo->store, names + index_count, pack_count, err);
    for (size_t i = 0; i < index_count + pack_count; i++)
        free(names[i]);
    free(names);
    return rc;
}

int ops_prune(struct repo *repo, const struct prune_options *opts, struct prune_result *result, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct pruner p = {.repo = repo, .opts = opts, .result = result};
    struct repacking r = {.p = &p};
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    p.codec = blob_codec_new(repo->config.zstd_level);
    p.used = index_new();
    int rc = judge(&p, err);
    bool has_work = result->packs_deleted || result->packs_repacked || p.index_files.count > 1;
    for (size_t i = 0; i < p.pack_count && !has_work; i++)
        has_work = p.packs[i].fate != PACK_KEEP;
    if (rc == 0 && !opts->is_dry_run && has_work) {
        pthread_mutex_init(&r.mutex, NULL);
        rc = repack_all(&r, err);
        pthread_mutex_destroy(&r.mutex);
        if (rc == 0)
            rc = write_index(&p, &r, err);
        if (rc == 0)
            rc = delete_old(&p, err);
    }
    repacking_free(&r);
    for (size_t i = 0; i < p.pack_count; i++)
        free(p.packs[i].entries);
    free(p.packs);
    free(p.state_of);
    string_list_free(&p.index_files);
    index_free(p.used);
    blob_codec_free(p.codec);
    repo_unlock(lock);
    return rc;
}
