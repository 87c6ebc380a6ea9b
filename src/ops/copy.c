/*
 * copy.c — `coffer copy`: puts the snapshots one repository has and
 * another lacks into the other, so a local repository and an S3 one (or a
 * hot one and an archive) hold the same history.
 *
 * The repositories have keys of their own, so nothing is copied as stored
 * bytes: every blob is read and opened with the source's key, its id is
 * computed again with the destination's key, and it is stored there through
 * the destination's blob writer, which seals it and skips what the
 * destination holds already. Chunk boundaries stay the source's. Trees and
 * content lists name blobs by id, so they are rebuilt with the new ids,
 * bottom up; the snapshot document is copied with its new root and an
 * "origin" naming the original, which is how a later copy (in either
 * direction) knows the snapshot is there already: copying twice is a no-op.
 *
 * Dictionaries go along: the copy's data blobs are compressed with the
 * copied dictionary, so a database dump takes as little room there.
 *
 * Blobs are read a few ahead on worker threads (content_reader); within
 * one run a blob met twice (a file unchanged between snapshots) is read
 * once, by a map from source to destination ids (64 bytes a blob).
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/dict.h"
#include "repo/lock.h"
#include "util/interrupt.h"
#include "util/text.h"

/* ---- source id -> destination id ---------------------------------------- */

struct id_pair {
    uint8_t from[CRYPTO_ID_SIZE];
    uint8_t to[CRYPTO_ID_SIZE];
    bool is_used;
};

struct id_map {
    struct id_pair *slots;
    size_t cap; /* a power of two */
    size_t count;
};

static size_t slot_of(const struct id_map *m, const uint8_t id[CRYPTO_ID_SIZE])
{
    uint64_t h;
    memcpy(&h, id, sizeof h); /* ids are keyed hashes: any 8 bytes spread well */
    return (size_t)h & (m->cap - 1);
}

static const uint8_t *id_map_get(const struct id_map *m, const uint8_t from[CRYPTO_ID_SIZE])
{
    if (!m->cap)
        return NULL;
    for (size_t i = slot_of(m, from);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].is_used)
            return NULL;
        if (!memcmp(m->slots[i].from, from, CRYPTO_ID_SIZE))
            return m->slots[i].to;
    }
}

/* Adds or replaces the mapping of from. */
static void id_map_put(struct id_map *m, const uint8_t from[CRYPTO_ID_SIZE], const uint8_t to[CRYPTO_ID_SIZE])
{
    uint8_t *known = (uint8_t *)id_map_get(m, from);
    if (known) {
        memcpy(known, to, CRYPTO_ID_SIZE);
        return;
    }
    if ((m->count + 1) * 2 > m->cap) {
        struct id_map bigger = {xcalloc(m->cap ? m->cap * 2 : 1024, sizeof *m->slots), m->cap ? m->cap * 2 : 1024, 0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].is_used)
                id_map_put(&bigger, m->slots[i].from, m->slots[i].to);
        free(m->slots);
        *m = bigger;
    }
    size_t i = slot_of(m, from);
    while (m->slots[i].is_used)
        i = (i + 1) & (m->cap - 1);
    memcpy(m->slots[i].from, from, CRYPTO_ID_SIZE);
    memcpy(m->slots[i].to, to, CRYPTO_ID_SIZE);
    m->slots[i].is_used = true;
    m->count++;
}

/* ---- one copy run --------------------------------------------------------- */

struct copy_run {
    struct repo *from;
    struct repo *to;
    struct blob_writer *blobs;
    struct content_reader *reader;
    struct blob_codec *codec; /* for trees and list blobs, on this thread */
    struct id_map map;
    struct copy_result *result;
    struct progress *progress; /* or NULL */
    /* The blobs being read by copy_ids, in order. */
    const uint8_t *reading;
    size_t read_next;
};

/* Stores one blob that came from the source, in the order copy_ids asked. */
static int store_read_blob(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct copy_run *run = ctx;
    uint8_t id[CRYPTO_ID_SIZE];
    if (blob_writer_add(run->blobs, BLOB_DATA, data, len, id, err) < 0)
        return -1;
    id_map_put(&run->map, run->reading + run->read_next * CRYPTO_ID_SIZE, id);
    run->read_next++;
    run->result->bytes_read += len;
    return 0;
}

/* Copies count data blobs (the source's ids, in content order) and lists
 * their new ids in cw: the ones not met before are read together, a few
 * ahead, then every id is listed from the map. */
static int copy_ids(struct copy_run *run, const uint8_t *ids, size_t count, struct content_writer *cw,
                    struct error *err)
{
    struct buf missing = BUF_INIT;
    uint64_t missing_bytes = 0;
    uint64_t *lengths = xcalloc(count ? count : 1, sizeof *lengths);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const uint8_t *id = ids + i * CRYPTO_ID_SIZE;
        struct index_entry e;
        if (!index_find(repo_index(run->from), id, &e)) {
            char shown[17];
            id_short(id, shown);
            rc = error_setk(err, ERR_NOT_FOUND, "blob %s is not in the source repository's index (run `coffer "
                            "check` there)", shown);
            break;
        }
        lengths[i] = e.raw_length;
        if (id_map_get(&run->map, id))
            continue;
        id_map_put(&run->map, id, id); /* claimed: a second mention in this list is not read twice */
        buf_append(&missing, id, CRYPTO_ID_SIZE);
        missing_bytes += e.raw_length;
    }
    if (rc == 0 && missing.len) {
        struct content_ref ref = {0, (uint32_t)(missing.len / CRYPTO_ID_SIZE), missing.data};
        run->reading = missing.data;
        run->read_next = 0;
        rc = content_reader_copy(run->reader, &ref, missing_bytes, store_read_blob, run, err);
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = content_writer_add_stored(cw, id_map_get(&run->map, ids + i * CRYPTO_ID_SIZE), lengths[i], err);
        if (run->progress)
            run->progress->bytes += lengths[i];
    }
    if (run->progress)
        progress_update(run->progress);
    free(lengths);
    buf_free(&missing);
    return rc;
}

static int read_list(struct copy_run *run, const uint8_t id[CRYPTO_ID_SIZE], struct buf *out, struct error *err)
{
    if (repo_read_blob(run->from, run->codec, id, out, err) < 0)
        return -1;
    if (out->len % CRYPTO_ID_SIZE)
        return error_setk(err, ERR_AUTH, "a list blob has a malformed length");
    return 0;
}

/* Walks a content list down to its data blobs, copying them in order. */
static int copy_level(struct copy_run *run, unsigned depth, const uint8_t *ids, size_t count,
                      struct content_writer *cw, struct error *err)
{
    if (depth == 0)
        return copy_ids(run, ids, count, cw, err);
    for (size_t i = 0; i < count; i++) {
        struct buf list = BUF_INIT;
        int rc = read_list(run, ids + i * CRYPTO_ID_SIZE, &list, err);
        if (rc == 0)
            rc = copy_level(run, depth - 1, list.data, list.len / CRYPTO_ID_SIZE, cw, err);
        buf_free(&list);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Replaces a file's content list with the destination's. */
static int copy_content(struct copy_run *run, struct node *file, struct error *err)
{
    struct content_writer cw;
    struct content_ref copied = {0};
    uint64_t size = 0;
    content_writer_init(&cw, run->blobs, repo_stream_chunker(run->to));
    int rc = copy_level(run, file->content.depth, file->content.ids, file->content.count, &cw, err);
    if (rc == 0)
        rc = content_writer_finish(&cw, &copied, &size, err);
    content_writer_free(&cw);
    if (rc == 0 && size != file->size)
        rc = error_setk(err, ERR_AUTH, "file %s holds %llu bytes where %llu were recorded", file->name,
                        (unsigned long long)size, (unsigned long long)file->size);
    if (rc < 0) {
        content_ref_free(&copied);
        return -1;
    }
    content_ref_free(&file->content);
    file->content = copied;
    return 0;
}

struct copy_frame {
    struct tree tree;             /* the source's, ids rewritten as its entries are copied */
    uint8_t id[CRYPTO_ID_SIZE];   /* the source's id of this tree */
    size_t next;                  /* the next node to copy */
};

/* Reads the source's tree id into a new frame; a tree copied already is
 * only looked up (*is_known, its new id in known_out). */
static int copy_enter(struct copy_run *run, const uint8_t id[CRYPTO_ID_SIZE], struct copy_frame *f,
                      bool *is_known, uint8_t known_out[CRYPTO_ID_SIZE], struct error *err)
{
    const uint8_t *known = id_map_get(&run->map, id);
    *is_known = known != NULL;
    if (known) {
        memcpy(known_out, known, CRYPTO_ID_SIZE);
        return 0;
    }
    struct buf plain = BUF_INIT;
    memset(f, 0, sizeof *f);
    memcpy(f->id, id, CRYPTO_ID_SIZE);
    int rc = repo_read_blob(run->from, run->codec, id, &plain, err);
    if (rc == 0)
        rc = tree_decode(plain.data, plain.len, &f->tree, err);
    buf_free(&plain);
    return rc;
}

/* Stores the rewritten tree of a finished frame; its new id into out. */
static int copy_leave(struct copy_run *run, struct copy_frame *f, uint8_t out[CRYPTO_ID_SIZE], struct error *err)
{
    struct buf plain = BUF_INIT;
    int rc = tree_encode(&f->tree, &plain, err);
    if (rc == 0)
        rc = blob_writer_add(run->blobs, BLOB_TREE, plain.data, plain.len, out, err);
    if (rc == 0)
        id_map_put(&run->map, f->id, out);
    buf_free(&plain);
    return rc;
}

/* Copies a tree and everything below it, bottom up (a tree is stored after
 * its subtrees, whose new ids it names); its new id into out. The walk
 * keeps its frames on the heap: a tree of any depth copies. */
static int copy_tree(struct copy_run *run, const uint8_t id[CRYPTO_ID_SIZE], uint8_t out[CRYPTO_ID_SIZE],
                     struct error *err)
{
    size_t depth = 0, cap = 16;
    struct copy_frame *frames = xcalloc(cap, sizeof *frames);
    bool is_known;
    int rc = copy_enter(run, id, &frames[0], &is_known, out, err);
    if (rc == 0 && !is_known)
        depth = 1;
    while (rc == 0 && depth > 0) {
        struct copy_frame *top = &frames[depth - 1];
        if (top->next == top->tree.count) {
            uint8_t copied[CRYPTO_ID_SIZE];
            if ((rc = copy_leave(run, top, copied, err)) < 0)
                break;
            tree_free(&top->tree);
            depth--;
            if (depth == 0)
                memcpy(out, copied, CRYPTO_ID_SIZE);
            else
                memcpy(frames[depth - 1].tree.nodes[frames[depth - 1].next - 1].subtree, copied, CRYPTO_ID_SIZE);
            continue;
        }
        struct node *n = &top->tree.nodes[top->next++];
        if (n->type == NODE_FILE) {
            rc = copy_content(run, n, err);
        } else if (n->type == NODE_DIR) {
            if (depth == cap) {
                cap *= 2;
                frames = xrealloc(frames, cap * sizeof *frames);
                n = &frames[depth - 1].tree.nodes[frames[depth - 1].next - 1];
            }
            rc = copy_enter(run, n->subtree, &frames[depth], &is_known, n->subtree, err);
            if (rc == 0 && !is_known)
                depth++;
        }
    }
    while (depth > 0)
        tree_free(&frames[--depth].tree);
    free(frames);
    return rc;
}

/* Copies the dictionaries snap's blobs were compressed with, lists them in
 * the copy, and has the copy's data blobs compressed with the newest: the
 * small chunks of a database dump compress a fifth worse without one.
 * (Each blob then names that dictionary, not necessarily the one it had;
 * any dictionary of the same source serves.) */
static int copy_dictionaries(struct copy_run *run, const struct snapshot *snap, struct snapshot *copy,
                             struct error *err)
{
    const struct blob_dict *newest = NULL;
    for (size_t i = 0; i < snap->dictionary_count; i++) {
        const uint8_t *from_id = snap->dictionaries[i];
        uint8_t to_id[CRYPTO_ID_SIZE];
        const uint8_t *known = id_map_get(&run->map, from_id);
        if (known) {
            memcpy(to_id, known, CRYPTO_ID_SIZE);
            newest = repo_dictionary(run->to, to_id, err);
        } else {
            struct buf plain = BUF_INIT;
            int rc = repo_read_blob(run->from, run->codec, from_id, &plain, err);
            if (rc == 0)
                rc = blob_writer_add(run->blobs, BLOB_DICT, plain.data, plain.len, to_id, err);
            if (rc == 0) {
                newest = repo_dictionary_adopt(
                    run->to, blob_dict_new(to_id, plain.data, plain.len, repo_config(run->to)->zstd_level));
                id_map_put(&run->map, from_id, to_id);
            }
            buf_free(&plain);
            if (rc < 0)
                return -1;
        }
        if (!newest)
            return -1;
        snapshot_add_dictionary(copy, to_id);
    }
    blob_writer_use_dictionary(run->blobs, newest);
    return 0;
}

/* "<repository id>/<snapshot id>" in hex: who a snapshot is, wherever it
 * was copied to. */
static char *identity_of(const struct repo *repo, const struct snapshot *snap)
{
    if (snap->origin)
        return xstrdup(snap->origin);
    char repo_hex[2 * REPO_ID_SIZE + 1], snap_hex[65];
    hex_encode(repo_config(repo)->id, REPO_ID_SIZE, repo_hex);
    snapshot_id_hex(snap, snap_hex);
    char *out = xmalloc(sizeof repo_hex + sizeof snap_hex + 1);
    sprintf(out, "%s/%s", repo_hex, snap_hex);
    return out;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_wanted(const struct snapshot *snap, const struct copy_options *opts)
{
    if (opts->source && strcmp(snap->source, opts->source))
        return false;
    for (size_t i = 0; i < opts->tag_count; i++)
        if (!string_list_has(&snap->tags, opts->tags[i]))
            return false;
    return true;
}

/* The copy of snap in the destination, with its new root, saved there. */
static int copy_snapshot(struct copy_run *run, const struct snapshot *snap, const char *identity,
                         struct error *err)
{
    struct snapshot copy;
    struct buf text = BUF_INIT;
    snapshot_encode(snap, &text); /* a deep copy, through its document */
    int rc = snapshot_decode(text.data, text.len, &copy, err);
    buf_free(&text);
    if (rc < 0)
        return -1;
    struct blob_writer_stats before, after;
    blob_writer_get_stats(run->blobs, &before);
    free(copy.dictionaries); /* the source's ids: the copy lists its own */
    copy.dictionaries = NULL;
    copy.dictionary_count = 0;
    rc = copy_dictionaries(run, snap, &copy, err);
    if (rc == 0)
        rc = copy_tree(run, snap->root, copy.root, err);
    if (rc == 0)
        rc = blob_writer_finish(run->blobs, err);
    if (rc == 0) {
        blob_writer_get_stats(run->blobs, &after);
        free(copy.origin);
        copy.origin = xstrdup(identity);
        copy.has_parent = false;   /* the parent's id is the source's */
        copy.stats.added = after.bytes_stored - before.bytes_stored;
        copy.stats.blobs_new = after.blobs_new - before.blobs_new;
        rc = snapshot_save(run->to, &copy, err);
    }
    if (rc == 0)
        run->result->bytes_stored += copy.stats.added;
    if (rc == 0 && run->result->on_copied)
        run->result->on_copied(run->result->ctx, snap, &copy);
    snapshot_free(&copy);
    return rc;
}

int ops_copy(struct repo *from, struct repo *to, const struct copy_options *opts, struct copy_result *result,
             struct error *err)
{
    struct repo_lock *from_lock = NULL, *to_lock = NULL;
    struct snapshot_list from_list = {0}, to_list = {0};
    struct string_list present = {0};
    struct copy_run run = {from, to, NULL, NULL, NULL, {0}, result, opts->progress, NULL, 0};
    bool has_indexes = false;
    int rc = -1;

    if (repo_lock(from, false, &from_lock, err) < 0)
        return error_wrap(err, "source repository");
    if (repo_lock(to, false, &to_lock, err) < 0) {
        error_wrap(err, "destination repository");
        goto out;
    }
    if (snapshot_list_load(from, &from_list, err) < 0 || snapshot_list_load(to, &to_list, err) < 0)
        goto out;
    for (size_t i = 0; i < to_list.count; i++) {
        char *identity = identity_of(to, &to_list.items[i]);
        string_list_add(&present, identity);
        free(identity);
    }
    /* Sorted once, looked up by halving: 10,000 snapshots on each side
     * would otherwise take 10^8 comparisons. */
    if (present.count)
        qsort(present.items, present.count, sizeof *present.items, compare_strings);
    rc = 0;
    for (size_t i = 0; i < from_list.count && rc == 0; i++) {
        const struct snapshot *snap = &from_list.items[i];
        if (!is_wanted(snap, opts))
            continue;
        char *identity = identity_of(from, snap);
        if (present.count &&
            bsearch(&identity, present.items, present.count, sizeof *present.items, compare_strings)) {
            result->already++;
        } else if (opts->is_dry_run) {
            result->copied++;
            if (result->on_copied)
                result->on_copied(result->ctx, snap, NULL);
        } else {
            /* The destination's packs are listed after its index is read,
             * as a backup does (backup.c): one lost there, that no damage
             * record names, is then missing, and its blobs are stored again
             * instead of deduplicated against. */
            if (!has_indexes && (repo_load_index(from, err) < 0 || repo_load_index(to, err) < 0 ||
                                 repo_mark_missing_packs(to, &result->packs_missing, err) < 0)) {
                free(identity);
                rc = -1;
                break;
            }
            has_indexes = true;
            if (opts->progress)
                opts->progress->total_bytes += snap->stats.size;
            unsigned workers = opts->workers ? opts->workers : ops_default_workers();
            if (!run.reader) { /* S3 answers each read slowly: keep more in flight */
                unsigned readers = store_parallel_requests(repo_store(from));
                run.reader = content_reader_new(from, readers > workers ? readers : workers);
                run.codec = repo_blob_codec_new(to);
            }
            run.blobs = blob_writer_new(to, workers);
            rc = copy_snapshot(&run, snap, identity, err);
            char shown[65];
            snapshot_id_hex(snap, shown);
            if (rc < 0 && interrupt_signal()) { /* the packs it stored are indexed for the next copy */
                char lost[300];
                snprintf(lost, sizeof lost, "snapshot %.8s of %s not copied (%zu copied before it)", shown,
                         snap->source, result->copied);
                interrupt_check(err);
                blob_writer_keep(run.blobs, lost, "the next copy", err);
            } else if (rc < 0) {
                error_wrap(err, "cannot copy snapshot %.8s of %s", shown, snap->source);
            } else { /* the source holds each identity once: no need to add it to present */
                result->copied++;
            }
            blob_writer_free(run.blobs);
            run.blobs = NULL;
        }
        free(identity);
    }
out:
    content_reader_free(run.reader);
    blob_codec_free(run.codec);
    free(run.map.slots);
    string_list_free(&present);
    snapshot_list_free(&from_list);
    snapshot_list_free(&to_list);
    repo_unlock(to_lock);
    repo_unlock(from_lock);
    return rc;
}
