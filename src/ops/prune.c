/*
 * prune.c — deleting data no snapshot needs, repacking what is mostly unused.
 *
 * Deletion takes two prunes. A pack found unneeded is not deleted but
 * condemned: written to a condemned/ file with its blobs, so readers still
 * find them while no backup deduplicates against them (index.h). A later
 * prune deletes it if it is still unneeded and if, when that prune took its
 * lock, no other lock was held but by processes certainly gone. Why: a
 * process stopped for longer than the stale-lock time (SIGSTOP, a paused
 * VM, a closed laptop lid), or one whose clock runs ahead, may run beside a
 * prune with the index it read before, and write a snapshot needing a pack
 * the prune judged unneeded. Condemning hides the pack from every backup
 * that starts afterwards; a backup that started before holds a lock the
 * later prune sees, so it deletes nothing; and a condemned pack that a new
 * snapshot turns out to need is taken back into the index. No check of the
 * clock at the moment of deleting is needed, because nothing a deleting
 * prune decides depends on what happened after it took its lock — which a
 * freeze between a check and a delete could hide. (docs/retention.md.)
 *
 * Under the exclusive lock:
 *  1. mark every blob some snapshot needs (reach.h); a snapshot that cannot
 *     be read, an index file that cannot be read, or a needed blob missing
 *     from the index stops the prune before anything is written: it never
 *     guesses (and every dictionary is needed: see reach.h); so does a
 *     snapshot list that is empty, or less than half of what the last prune
 *     or forget left, unless --force (an S3 endpoint answering with
 *     something that is not a listing must not read as "no snapshots");
 *  2. judge each pack: no needed blob -> condemn it, or delete it if an
 *     earlier prune condemned it and this one is alone; more than
 *     max_unused of its bytes unneeded -> repack (the old pack is
 *     condemned); a condemned pack holding a needed blob -> keep it again
 *     (a needed blob whose first copy is damaged or in a missing pack is
 *     needed in each other copy not known damaged: keep_good_copies);
 *     a pack on the store that no file lists (left by a crash, or being
 *     written by a stopped backup) -> condemn it with no blobs;
 *  3. copy the needed blobs of packs to repack into new packs, each blob
 *     checked (authenticated, decompressed, hashed) on the way — sealed
 *     blobs do not depend on their pack, so they are copied as they are,
 *     never recompressed or re-encrypted; one thread per CPU, each taking
 *     the next pack and filling new packs of its own;
 *  4. write a new index covering the kept and the new packs, then the new
 *     condemned files, then condemned files of their own for the packs to
 *     delete;
 *  5. only then delete the old index files, then the old condemned files,
 *     and then — the lock still ours, checked — the files listing the
 *     packs to delete, and those packs (if the lock is not ours, they stay
 *     condemned for the next prune).
 * A crash at any point leaves a repository in which every snapshot still
 * finds its blobs: before step 5 the old files and packs are all there;
 * during it, the new files already cover everything kept or condemned. At
 * worst some packs are left that nothing lists, which the next prune
 * condemns and the one after deletes.
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
#include "repo/blob.h"
#include "repo/event.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "store/store.h"
#include "util/interrupt.h"
#include "util/parallel.h"

struct pack_state {
    bool is_indexed;  /* an index or condemned file names it */
    bool is_live;     /* an index file names it (not only condemned files) */
    bool is_stored;   /* the store has it */
    uint8_t id[CRYPTO_ID_SIZE];
    uint64_t size;    /* of the file */
    uint64_t used;    /* sealed bytes of needed blobs */
    bool has_dict_copy; /* holds the second copy of a dictionary: kept, never repacked */
    struct index_entry *entries; /* its blobs as the index has them */
    size_t count, capacity;
    enum { PACK_KEEP, PACK_REPACK, PACK_CONDEMN, PACK_DELETE, PACK_DROP } fate;
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
    size_t state_count;       /* numbers in state_of */
    struct string_list index_files;     /* index/ and condemned/ files read at the start: all replaced */
    uint8_t (*doomed_files)[CRYPTO_ID_SIZE]; /* condemned/ files listing the packs to delete (step 4) */
    size_t doomed_file_count;
    bool is_alone;                      /* the lock says nothing else may be running */
    struct prune_result *result;
};

static int mark_used(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct pruner *p = ctx;
    if (!index_find(repo_index(p->repo), id, NULL)) {
        char short_id[17];
        id_short(id, short_id);
        return error_set(err, "blob %s is needed but not in the index: run `coffer check`; nothing was pruned",
                         short_id);
    }
    index_add_id(p->used, id);
    return 0;
}

static void mark_always_needed(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct pruner *p = ctx;
    if (reach_is_always_needed(e))
        index_add_id(p->used, e->id);
}

/* The snapshot count the last prune or forget left, or -1 if none did. */
static int64_t last_recorded_count(struct repo *repo)
{
    struct event_list events = {0};
    struct error ignored;
    int64_t count = -1;
    if (event_list_load(repo, NULL, &events, &ignored) == 0)
        for (size_t i = events.count; i-- > 0 && count < 0;) {
            const char *kind = events.items[i].kind;
            json_t *n = json_object_get(events.items[i].doc, "snapshots");
            if ((!strcmp(kind, "prune") || !strcmp(kind, "forget")) && json_is_integer(n))
                count = json_integer_value(n);
        }
    event_list_free(&events);
    return count;
}

/* A listing that lost snapshots must not make their data look unneeded. */
static int check_snapshot_count(struct pruner *p, size_t listed, struct error *err)
{
    if (p->opts->is_force)
        return 0;
    int64_t before = last_recorded_count(p->repo);
    if (listed == 0 && index_blob_count(repo_index(p->repo)) > 0)
        return error_set(err, "no snapshot was listed, but the index holds %zu blobs; if the listing is right and "
                         "every snapshot was forgotten, run prune --force; nothing was pruned",
                         index_blob_count(repo_index(p->repo)));
    if (before > 0 && (int64_t)listed * 2 < before)
        return error_set(err, "%zu snapshots were listed, but the last prune or forget left %lld; if that many were "
                         "removed on purpose, run prune --force; nothing was pruned", listed, (long long)before);
    return 0;
}

static int mark_all(struct pruner *p, struct error *err)
{
    struct snapshot_list list = {0};
    if (snapshot_list_load(p->repo, &list, err) < 0)
        return -1;
    int rc = 0;
    p->result->snapshots = list.count;
    if (list.unreadable.count)
        rc = error_set(err, "%s cannot be read; prune will not guess what it needs (run `coffer check`)",
                       list.unreadable.items[0]);
    else if (repo_index_problem(p->repo, 0))
        rc = error_set(err, "%s; prune will not guess what it indexed (run `coffer repair index` first)",
                       repo_index_problem(p->repo, 0));
    else
        rc = check_snapshot_count(p, list.count, err);
    struct index *visited = index_new();
    for (size_t i = 0; i < list.count && rc == 0; i++)
        if (reach_snapshot(p->repo, p->codec, &list.items[i], visited, mark_used, p, err) < 0)
            rc = error_wrap(err, "cannot walk a snapshot of %s", list.items[i].source);
    index_free(visited);
    snapshot_list_free(&list);
    if (rc == 0)
        index_each(repo_index(p->repo), mark_always_needed, p);
    return rc;
}

/* Files entry e under its pack's state; returns that state. */
static struct pack_state *add_entry(struct pruner *p, const struct index_entry *e)
{
    struct pack_state *ps = &p->packs[p->state_of[e->pack]];
    if (ps->count == ps->capacity) {
        ps->capacity = ps->capacity ? 2 * ps->capacity : 16;
        ps->entries = xrealloc(ps->entries, ps->capacity * sizeof *ps->entries);
    }
    ps->entries[ps->count++] = *e;
    return ps;
}

static void collect_entry(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct pruner *p = ctx;
    if (e->pack == INDEX_PACK_PENDING)
        return;
    struct pack_state *ps = add_entry(p, e);
    if (index_find(p->used, e->id, NULL))
        ps->used += e->length;
}

/* A second copy of a dictionary keeps its pack (and the pack is never
 * repacked, which would leave the dictionary in one copy). */
static void collect_other(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct pruner *p = ctx;
    if (e->type != BLOB_DICT || e->pack == INDEX_PACK_PENDING || e->pack >= p->state_count)
        return;
    struct pack_state *ps = add_entry(p, e);
    ps->used += e->length;
    ps->has_dict_copy = true;
}

/* The other copies of needed blobs, gathered with the index locked
 * (index_each_other) and judged after it (keep_good_copies). */
struct copies {
    struct pruner *p;
    struct index_entry *items;
    size_t count, capacity;
};

static void collect_copy(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct copies *c = ctx;
    if (e->type == BLOB_DICT || e->pack == INDEX_PACK_PENDING || e->pack >= c->p->state_count ||
        (e->flags & INDEX_BLOB_DAMAGED) || (pack_flags & INDEX_PACK_MISSING) || !index_find(c->p->used, e->id, NULL))
        return; /* a dictionary's copies are kept anyway (collect_other) */
    if (c->count == c->capacity) {
        c->capacity = c->capacity ? 2 * c->capacity : 16;
        c->items = xrealloc(c->items, c->capacity * sizeof *c->items);
    }
    c->items[c->count++] = *e;
}

/* A needed blob whose first copy is damaged or whose pack is missing is
 * needed in every other copy that is not known damaged — one in a
 * condemned pack too, which is then kept again: otherwise the pack holding
 * the only good copy would look unneeded and be deleted. (The first copy
 * stays the one the index finds: a damaged copy marked before the files
 * were read gives way only to a usable one, never to a condemned pack's.)
 * After the store was listed, so that a pack not stored counts as missing. */
static void keep_good_copies(struct pruner *p)
{
    struct index *idx = repo_index(p->repo);
    struct copies c = {.p = p};
    index_each_other(idx, collect_copy, &c);
    for (size_t i = 0; i < c.count; i++) {
        const struct index_entry *e = &c.items[i];
        struct index_entry first;
        if (!index_find(idx, e->id, &first) || first.pack == INDEX_PACK_PENDING ||
            first.pack >= p->state_count)
            continue;
        bool is_first_bad = (first.flags & INDEX_BLOB_DAMAGED) ||
                            (index_pack_flags(idx, first.pack) & INDEX_PACK_MISSING) ||
                            !p->packs[p->state_of[first.pack]].is_stored;
        if (is_first_bad && p->state_of[e->pack] != p->state_of[first.pack])
            add_entry(p, e)->used += e->length;
    }
    free(c.items);
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
    struct index *idx = repo_index(p->repo);
    size_t numbers = index_pack_count(idx);
    p->packs = xcalloc(numbers ? numbers : 1, sizeof *p->packs);
    for (size_t i = 0; i < numbers; i++)
        index_pack_id(idx, (uint32_t)i, p->packs[i].id);
    qsort(p->packs, numbers, sizeof *p->packs, by_id);
    size_t unique = 0;
    for (size_t i = 0; i < numbers; i++)
        if (unique == 0 || by_id(&p->packs[unique - 1], &p->packs[i]) != 0)
            p->packs[unique++] = p->packs[i];
    for (size_t i = 0; i < unique; i++)
        p->packs[i].is_indexed = true;
    p->pack_count = p->sorted_count = unique;
    p->state_of = xcalloc(numbers ? numbers : 1, sizeof *p->state_of);
    p->state_count = numbers;
    for (size_t i = 0; i < numbers; i++) {
        uint8_t id[CRYPTO_ID_SIZE];
        index_pack_id(idx, (uint32_t)i, id);
        p->state_of[i] = (uint32_t)(find_pack(p, id) - p->packs);
        if (!(index_pack_flags(idx, (uint32_t)i) & INDEX_PACK_CONDEMNED))
            p->packs[p->state_of[i]].is_live = true;
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

/* An unneeded pack: deleted if an earlier prune condemned it and nothing
 * may be running beside this one, else condemned (again). */
static void doom(struct pruner *p, struct pack_state *ps)
{
    struct prune_result *r = p->result;
    if (!ps->is_live && ps->is_indexed && p->is_alone) {
        ps->fate = PACK_DELETE;
        r->packs_deleted++;
        r->bytes_freed += ps->size;
    } else {
        ps->fate = PACK_CONDEMN;
        r->packs_condemned++;
        r->bytes_condemned += ps->size;
    }
}

/* Steps 1 and 2. */
static int judge(struct pruner *p, struct error *err)
{
    if (repo_list_index_files(p->repo, &p->index_files, err) < 0 || repo_load_index(p->repo, err) < 0 ||
        mark_all(p, err) < 0)
        return -1;
    list_indexed_packs(p);
    index_each(repo_index(p->repo), collect_entry, p);
    index_each_other(repo_index(p->repo), collect_other, p);
    if (store_list(repo_store(p->repo), "data", note_stored_pack, p, err) < 0)
        return -1;
    keep_good_copies(p);
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
            ps->fate = PACK_DROP; /* nothing to delete on the store, only to drop from the index */
            continue;
        }
        uint64_t unused = ps->size > ps->used ? ps->size - ps->used : 0;
        r->packs++;
        r->bytes_stored += ps->size;
        if (ps->used == 0) {
            doom(p, ps);
        } else if ((double)unused > p->opts->max_unused * (double)ps->size && !ps->has_dict_copy) {
            ps->fate = PACK_REPACK; /* the old pack is condemned once its blobs are copied */
            r->packs_repacked++;
            r->bytes_rewritten += ps->used;
            r->packs_condemned++;
            r->bytes_condemned += ps->size;
        } else if (!ps->is_live) {
            r->packs_kept_again++; /* condemned by an earlier prune, needed by a newer snapshot */
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
    if (repo_put_pack(r->p->repo, &w->builder, err) < 0)
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
    int rc = repo_read_pack(p->repo, ps->id, 0, ps->size, &w->file, err);
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
        if (pack_builder_is_full(p->repo, &w->builder))
            rc = flush_pack(r, w, err);
    }
    return rc;
}

static int repack_item(void *ctx, size_t item, struct error *err)
{
    struct repacking *r = ctx;
    if (interrupt_check(err) < 0)
        return -1;
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
        r->writers[i].codec = repo_blob_codec_new(p->repo);
    int rc = parallel_for(todo_count, r->writer_count, repack_item, r, err);
    for (unsigned i = 0; i < r->writer_count && rc == 0; i++)
        rc = flush_pack(r, &r->writers[i], err);
    return rc;
}

/* An interruption during step 3: nothing was deleted, and the packs
 * written so far, which no index lists, are deleted again, so the
 * repository is as it was. */
static void unwrite_repacked(struct pruner *p, struct repacking *r, struct error *err)
{
    struct error why, stop;
    int rc = repo_delete_packs(p->repo, r->records, r->count, &why);
    interrupt_check(&stop);
    if (rc < 0)
        error_setk(err, ERR_INTERRUPTED, "%s: nothing deleted; packs repacked before the stop are left for the next "
                   "prune (%s)", stop.msg, why.msg);
    else
        error_setk(err, ERR_INTERRUPTED, "%s: nothing deleted, the repository is as it was (%zu pack%s repacked "
                   "before the stop removed again)", stop.msg, r->count, r->count == 1 ? "" : "s");
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

/* Step 4: the index (kept and new packs), then the condemned files
 * (condemned and repacked packs, with their blobs, so that readers still
 * find them and a later prune can take one back), then condemned files of
 * their own for the packs to delete: until the lock is checked in step 5
 * they are still condemned packs, and if the check fails they stay so
 * (delete_old), instead of becoming packs that no file lists. */
static int write_index(struct pruner *p, const struct repacking *r, struct error *err)
{
    struct pack_record *all = xcalloc(p->pack_count + r->count + 1, sizeof *all);
    size_t n = 0;
    for (size_t i = 0; i < p->pack_count; i++)
        if (p->packs[i].fate == PACK_KEEP && p->packs[i].is_indexed && p->packs[i].is_stored)
            kept_record(&p->packs[i], &all[n++]);
    size_t kept = n;
    for (size_t i = 0; i < r->count; i++)
        all[n++] = r->records[i]; /* borrowed */
    int rc = repo_write_index(p->repo, all, n, NULL, err);
    for (size_t i = 0; i < kept; i++)
        pack_record_free(&all[i]);
    n = 0;
    for (size_t i = 0; i < p->pack_count; i++)
        if (p->packs[i].fate == PACK_CONDEMN || p->packs[i].fate == PACK_REPACK)
            kept_record(&p->packs[i], &all[n++]);
    if (rc == 0)
        rc = repo_write_pack_list(p->repo, OBJ_CONDEMNED, all, n, NULL, NULL, err);
    for (size_t i = 0; i < n; i++)
        pack_record_free(&all[i]);
    n = 0;
    for (size_t i = 0; i < p->pack_count; i++)
        if (p->packs[i].fate == PACK_DELETE)
            kept_record(&p->packs[i], &all[n++]);
    p->doomed_file_count = (n + REPO_PACKS_PER_INDEX - 1) / REPO_PACKS_PER_INDEX;
    p->doomed_files = xcalloc(p->doomed_file_count + 1, sizeof *p->doomed_files);
    if (rc == 0)
        rc = repo_write_pack_list(p->repo, OBJ_CONDEMNED, all, n, NULL, p->doomed_files, err);
    for (size_t i = 0; i < n; i++)
        pack_record_free(&all[i]);
    free(all);
    return rc;
}

/* Step 5. */
static int delete_old(struct pruner *p, struct repo_lock *lock, struct error *err)
{
    char **names = xcalloc(p->index_files.count + p->doomed_file_count + p->pack_count + 1, sizeof *names);
    size_t index_count = 0, doomed_count = 0, pack_count = 0;
    for (size_t i = 0; i < p->index_files.count; i++) {
        uint8_t id[CRYPTO_ID_SIZE];
        const char *name = p->index_files.items[i];
        if (repo_object_id_from_name(name, id) < 0)
            continue;
        names[index_count] = xcalloc(1, 96);
        repo_object_name(!strncmp(name, "condemned/", 10) ? OBJ_CONDEMNED : OBJ_INDEX, id, names[index_count++]);
    }
    for (size_t i = 0; i < p->doomed_file_count; i++) {
        names[index_count + doomed_count] = xcalloc(1, 96);
        repo_object_name(OBJ_CONDEMNED, p->doomed_files[i], names[index_count + doomed_count++]);
    }
    char **packs = names + index_count + doomed_count;
    for (size_t i = 0; i < p->pack_count; i++) {
        struct pack_state *ps = &p->packs[i];
        if (ps->fate != PACK_DELETE)
            continue;
        char *name = packs[pack_count++] = xcalloc(1, 96);
        repo_object_name(OBJ_BLOB, ps->id, name);
    }
    /* Every old index and condemned file is gone before the first pack goes
     * (store listings are in name order: index/ files are listed first). */
    int rc = store_delete_many(repo_store(p->repo), names, index_count, err);
    /* Not needed for safety (see the top of this file), but a prune stopped
     * for so long that its lock was taken over leaves the deleting to the
     * process that took it: the packs stay listed as condemned (step 4),
     * so the next prune that is alone deletes them, or takes one back that
     * a snapshot written meanwhile needs. */
    if (rc == 0 && pack_count && repo_lock_check(lock, err) < 0) {
        p->result->packs_condemned += p->result->packs_deleted;
        p->result->bytes_condemned += p->result->bytes_freed;
        p->result->packs_deleted = p->result->bytes_freed = 0;
        rc = error_wrap(err, "the packs to delete were kept, still condemned (the next prune deletes them)");
    }
    /* The files listing the packs go first: a crash between the two leaves
     * packs no file lists (the next prune condemns them), never a listed
     * pack that is gone. */
    if (rc == 0)
        rc = store_delete_many(repo_store(p->repo), names + index_count, doomed_count, err);
    if (rc == 0)
        rc = store_delete_many(repo_store(p->repo), packs, pack_count, err);
    for (size_t i = 0; i < index_count + doomed_count + pack_count; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Leaves the snapshot count for the next prune's check_snapshot_count. */
static void record_prune(struct pruner *p)
{
    struct error ignored;
    json_t *doc = json_pack("{s:I, s:I, s:I}", "snapshots", (json_int_t)p->result->snapshots, "packs_deleted",
                            (json_int_t)p->result->packs_deleted, "packs_condemned",
                            (json_int_t)p->result->packs_condemned);
    event_save(p->repo, "prune", doc, &ignored);
    json_decref(doc);
}

int ops_prune(struct repo *repo, const struct prune_options *opts, struct prune_result *result, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct pruner p = {.repo = repo, .opts = opts, .result = result};
    struct repacking r = {.p = &p};
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    const char *other = NULL;
    p.is_alone = repo_lock_is_alone(lock, &other);
    if (other)
        snprintf(result->not_alone_because, sizeof result->not_alone_because, "%s", other);
    p.codec = repo_blob_codec_new(repo);
    p.used = index_new();
    int rc = judge(&p, err);
    bool has_work = result->packs_deleted || result->packs_repacked || result->packs_condemned ||
                    result->packs_kept_again || p.index_files.count > 1;
    for (size_t i = 0; i < p.pack_count && !has_work; i++)
        has_work = p.packs[i].fate != PACK_KEEP;
    if (rc == 0 && !opts->is_dry_run && has_work) {
        pthread_mutex_init(&r.mutex, NULL);
        rc = repack_all(&r, err);
        if (rc == 0) /* a stop while the last packs were repacked: still nothing deleted */
            rc = interrupt_check(err);
        pthread_mutex_destroy(&r.mutex);
        if (rc < 0 && interrupt_signal())
            unwrite_repacked(&p, &r, err);
        if (rc == 0)
            rc = write_index(&p, &r, err);
        if (rc == 0)
            rc = delete_old(&p, lock, err);
    }
    if (rc == 0 && !opts->is_dry_run)
        record_prune(&p);
    repacking_free(&r);
    for (size_t i = 0; i < p.pack_count; i++)
        free(p.packs[i].entries);
    free(p.packs);
    free(p.state_of);
    string_list_free(&p.index_files);
    free(p.doomed_files);
    index_free(p.used);
    blob_codec_free(p.codec);
    repo_unlock(lock);
    return rc;
}
