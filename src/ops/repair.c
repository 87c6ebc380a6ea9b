/*
 * repair.c — making a damaged repository whole again as far as it can be:
 * `coffer repair index | packs | snapshots`.
 *
 *  - index: rebuilds the index from the packs' own sealed headers (each
 *    pack names its blobs), for when index files are damaged or lost.
 *  - packs: copies the intact blobs of damaged packs (those check
 *    --read-data recorded, damage.h) into new packs and drops the damaged
 *    and the missing packs from the index; what was lost is then no longer
 *    indexed, so the next backup of a source that still has it stores it
 *    again, which makes every snapshot that needed it whole.
 *  - snapshots: writes, for each tree snapshot that needs something still
 *    lost, a snapshot without the unreadable files, tagged "repaired" and
 *    naming the original (repair_snapshots.c).
 *
 * Each holds the exclusive lock, takes --dry-run, and writes new objects
 * before removing old ones, so a kill -9 at any moment leaves a repository
 * no worse than before: at worst both the old and the new files are there,
 * which readers and the next repair take as they come. Packs are never
 * deleted here: a damaged pack is condemned (prune.c) with no blobs, so
 * the prune after next deletes it.
 *
 * After any of them, repair_report_lost walks every snapshot and says what
 * is still unrestorable.
 */
#include "ops/ops.h"
#include "ops/repair_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "repo/damage.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "store/store.h"
#include "util/parallel.h"
#include "util/text.h"

/* ---- repair index --------------------------------------------------- */

struct stored {
    uint8_t id[CRYPTO_ID_SIZE];
    uint64_t size;
    struct pack_record record; /* its header, when readable */
    char *why;                 /* why not */
};

struct rebuild {
    struct repo *repo;
    struct stored *packs;
    size_t count;
    struct string_list old_files; /* index/ and condemned/ */
};

static int note_pack(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct rebuild *rb = ctx;
    uint8_t id[CRYPTO_ID_SIZE];
    if (repo_object_id_from_name(name, id) < 0)
        return 0;
    rb->packs = xrealloc(rb->packs, (rb->count + 1) * sizeof *rb->packs);
    struct stored *p = &rb->packs[rb->count++];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, CRYPTO_ID_SIZE);
    p->size = size;
    return 0;
}

static int note_name(void *ctx, const char *name, uint64_t size, struct error *err)
{
    string_list_add(ctx, name);
    return 0;
}

/* The header guess: a pack of 16 MiB in 8 KiB database chunks has ~2,000
 * blobs, 41 bytes each; a larger header takes a second read. */
#define TAIL_GUESS (128u << 10)

/* Reads one pack's header from its end. */
static int read_header(void *ctx, size_t item, struct error *unused)
{
    struct rebuild *rb = ctx;
    struct stored *p = &rb->packs[item];
    char name[96];
    struct buf tail = BUF_INIT;
    struct error err;
    repo_object_name(OBJ_BLOB, p->id, name);
    memcpy(p->record.id, p->id, CRYPTO_ID_SIZE);
    uint64_t want = p->size < TAIL_GUESS ? p->size : TAIL_GUESS;
    int rc = store_get(rb->repo->store, name, p->size - want, want, &tail, &err);
    if (rc == 0 && pack_header_length(tail.data, tail.len) > tail.len &&
        pack_header_length(tail.data, tail.len) <= p->size) {
        want = pack_header_length(tail.data, tail.len);
        buf_reset(&tail);
        rc = store_get(rb->repo->store, name, p->size - want, want, &tail, &err);
    }
    if (rc == 0)
        rc = pack_header_read_tail(rb->repo, tail.data, tail.len, p->size, &p->record, &err);
    if (rc < 0) {
        p->why = xstrdup(err.msg);
        pack_record_free(&p->record);
    }
    buf_free(&tail);
    return 0;
}

static void rebuild_free(struct rebuild *rb)
{
    for (size_t i = 0; i < rb->count; i++) {
        pack_record_free(&rb->packs[i].record);
        free(rb->packs[i].why);
    }
    free(rb->packs);
    string_list_free(&rb->old_files);
}

int ops_repair_index(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                     struct error *err)
{
    struct repo_lock *lock = NULL;
    struct rebuild rb = {.repo = repo};
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    int rc = store_list(repo->store, "index", note_name, &rb.old_files, err);
    if (rc == 0)
        rc = store_list(repo->store, "condemned", note_name, &rb.old_files, err);
    if (rc == 0)
        rc = store_list(repo->store, repo_object_folder(OBJ_BLOB), note_pack, &rb, err);
    if (rc == 0)
        rc = parallel_for(rb.count, store_parallel_requests(repo->store), read_header, &rb, err);
    struct pack_record *records = xcalloc(rb.count + 1, sizeof *records);
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < rb.count; i++) {
        if (rb.packs[i].why) {
            char hex[65], line[ERROR_MSG_MAX + 128];
            hex_encode(rb.packs[i].id, CRYPTO_ID_SIZE, hex);
            snprintf(line, sizeof line, "pack %s: %s: its blobs cannot be indexed", hex, rb.packs[i].why);
            if (opts->report)
                opts->report(opts->ctx, line);
            result->packs_unreadable++;
            continue;
        }
        records[n++] = rb.packs[i].record; /* borrowed */
        result->packs++;
        result->blobs += rb.packs[i].record.count;
    }
    result->files_replaced = rb.old_files.count;
    if (rc == 0 && !opts->is_dry_run) {
        rc = repo_write_index(repo, records, n, NULL, err);
        /* The new index covers every readable pack: the old files (and the
         * condemned lists, whose packs are indexed again and judged anew by
         * the next prune) go only after it is stored. */
        if (rc == 0)
            rc = store_delete_many(repo->store, rb.old_files.items, rb.old_files.count, err);
    }
    free(records);
    rebuild_free(&rb);
    repo_unlock(lock);
    return rc < 0 ? error_wrap(err, "cannot rebuild the index") : 0;
}

/* ---- repair packs ---------------------------------------------------- */

struct salvage {
    struct repo *repo;
    const struct repair_options *opts;
    struct repair_result *result;
    struct blob_codec *codec;
    struct pack_builder builder;
    bool is_open;
    struct pack_record *written;
    size_t written_count;
};

void repair_say(const struct repair_options *opts, const char *fmt, ...)
{
    char line[ERROR_MSG_MAX + 4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (opts->report)
        opts->report(opts->ctx, line);
}

static int flush_salvaged(struct salvage *s, struct error *err)
{
    if (!s->is_open || s->builder.record.count == 0)
        return 0;
    char name[96];
    pack_builder_finish(s->repo, &s->builder);
    repo_object_name(OBJ_BLOB, s->builder.record.id, name);
    if (store_put(s->repo->store, name, s->builder.data.data, s->builder.data.len, err) < 0)
        return -1;
    s->written = xrealloc(s->written, (s->written_count + 1) * sizeof *s->written);
    s->written[s->written_count++] = s->builder.record;
    memset(&s->builder.record, 0, sizeof s->builder.record);
    s->is_open = false;
    s->result->packs_written++;
    return 0;
}

struct pack_set {
    uint8_t (*ids)[CRYPTO_ID_SIZE];
    size_t count;
};

static void pack_set_add(struct pack_set *set, const uint8_t id[CRYPTO_ID_SIZE])
{
    for (size_t i = 0; i < set->count; i++)
        if (!memcmp(set->ids[i], id, CRYPTO_ID_SIZE))
            return;
    set->ids = xrealloc(set->ids, (set->count + 1) * sizeof *set->ids);
    memcpy(set->ids[set->count++], id, CRYPTO_ID_SIZE);
}

static bool pack_set_has(const struct pack_set *set, const uint8_t id[CRYPTO_ID_SIZE])
{
    for (size_t i = 0; i < set->count; i++)
        if (!memcmp(set->ids[i], id, CRYPTO_ID_SIZE))
            return true;
    return false;
}

/* Every index file as pack records: the index is rewritten from these, not
 * from the in-memory table, which keeps one copy of each blob. A file that
 * cannot be read is kept as it is (repair index is for that). */
struct index_files {
    struct string_list read;     /* names of the files read: replaced */
    struct pack_record *records;
    size_t count;
};

static int read_index_file(void *ctx, const char *name, uint64_t size, struct error *unused)
{
    struct index_files *f = ((void **)ctx)[0];
    struct repo *repo = ((void **)ctx)[1];
    uint8_t id[CRYPTO_ID_SIZE];
    struct buf plain = BUF_INIT;
    struct pack_record *recs = NULL;
    size_t n = 0;
    struct error err;
    if (repo_object_id_from_name(name, id) == 0 && repo_get_object(repo, OBJ_INDEX, id, &plain, &err) == 0 &&
        index_file_records(plain.data, plain.len, &recs, &n, &err) == 0) {
        f->records = xrealloc(f->records, (f->count + n + 1) * sizeof *f->records);
        memcpy(f->records + f->count, recs, n * sizeof *recs);
        f->count += n;
        string_list_add(&f->read, name);
    }
    free(recs);
    buf_free(&plain);
    return 0;
}

/* Copies what still opens of one damaged pack into new packs: the blobs
 * every index file places there. */
static int salvage_pack(struct salvage *s, const struct index_files *files, const uint8_t pack_id[CRYPTO_ID_SIZE],
                        struct error *err)
{
    char name[96], hex[65];
    struct buf file = BUF_INIT, plain = BUF_INIT;
    struct error read_err;
    struct index *seen = index_new();
    repo_object_name(OBJ_BLOB, pack_id, name);
    hex_encode(pack_id, CRYPTO_ID_SIZE, hex);
    bool is_read = store_get(s->repo->store, name, 0, STORE_TO_END, &file, &read_err) == 0;
    uint64_t saved = 0, lost = 0;
    int rc = 0;
    for (size_t r = 0; r < files->count && rc == 0; r++) {
        if (memcmp(files->records[r].id, pack_id, CRYPTO_ID_SIZE) != 0)
            continue;
        for (size_t i = 0; i < files->records[r].count && rc == 0; i++) {
            const struct pack_blob *b = &files->records[r].blobs[i];
            if (!index_add_id(seen, b->id))
                continue;
            buf_reset(&plain);
            bool is_intact = is_read && (uint64_t)b->offset + b->length <= file.len &&
                             blob_open(s->repo, s->codec, b->id, file.data + b->offset, b->length, &plain,
                                       &read_err) == 0;
            if (!is_intact) {
                lost++;
                continue;
            }
            saved++;
            if (s->opts->is_dry_run)
                continue;
            if (!s->is_open) {
                pack_builder_start(&s->builder);
                s->is_open = true;
            }
            pack_builder_add(&s->builder, b->id, b->type, file.data + b->offset, b->length, b->raw_length);
            if (s->builder.data.len >= s->repo->config.pack_size)
                rc = flush_salvaged(s, err);
        }
    }
    repair_say(s->opts, "pack %s: %llu blob%s %s, %llu lost%s", hex, (unsigned long long)saved, saved == 1 ? "" : "s",
        s->opts->is_dry_run ? "can be saved" : "saved", (unsigned long long)lost,
        is_read ? "" : " (the pack cannot be read)");
    s->result->blobs_saved += saved;
    s->result->blobs_lost += lost;
    index_free(seen);
    buf_free(&file);
    buf_free(&plain);
    return rc;
}

static bool is_any_pack(void *ctx, const uint8_t pack[CRYPTO_ID_SIZE])
{
    return true;
}

int ops_repair_packs(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                     struct error *err)
{
    struct repo_lock *lock = NULL;
    struct damage_list damage = {0}, kept = {0};
    struct pack_set damaged = {0}, dropped = {0};
    struct index_files files = {0};
    struct salvage s = {.repo = repo, .opts = opts, .result = result};
    struct pack_record *next = NULL;
    size_t next_count = 0;
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    void *list_ctx[2] = {&files, repo};
    int rc = store_list(repo->store, "index", read_index_file, list_ctx, err);
    if (rc == 0)
        rc = repo_load_index(repo, err);
    if (rc == 0)
        rc = repo_mark_missing_packs(repo, NULL, err);
    if (rc == 0)
        rc = damage_load(repo, &damage, err);
    if (rc < 0)
        goto out;
    /* A blob whose only fault is its dictionary is intact: its pack stays,
     * and so does its record, until a backup stores the dictionary again
     * and a check finds it readable. */
    for (size_t i = 0; i < damage.count; i++) {
        if (!strcmp(damage.blobs[i].cause, DAMAGE_CAUSE_DICTIONARY))
            damage_add_blob(&kept, damage.blobs[i].id, damage.blobs[i].pack, damage.blobs[i].cause);
        else
            pack_set_add(&damaged, damage.blobs[i].pack);
    }
    for (uint32_t p = 0; p < index_pack_count(repo->index); p++) {
        uint8_t id[CRYPTO_ID_SIZE];
        index_pack_id(repo->index, p, id);
        if ((index_pack_flags(repo->index, p) & INDEX_PACK_MISSING) && !pack_set_has(&dropped, id)) {
            char hex[65];
            hex_encode(id, CRYPTO_ID_SIZE, hex);
            repair_say(opts, "pack %s: missing from the repository; %s from the index", hex,
                opts->is_dry_run ? "would be dropped" : "dropped");
            pack_set_add(&dropped, id);
        }
    }
    result->packs_missing = dropped.count;
    s.codec = blob_codec_new(repo->config.zstd_level);
    for (size_t i = 0; i < damaged.count && rc == 0; i++) {
        if (pack_set_has(&dropped, damaged.ids[i]))
            continue;
        rc = salvage_pack(&s, &files, damaged.ids[i], err);
        pack_set_add(&dropped, damaged.ids[i]);
        result->packs_damaged++;
    }
    if (rc == 0 && !opts->is_dry_run)
        rc = flush_salvaged(&s, err);
    if (rc < 0 || opts->is_dry_run || dropped.count == 0)
        goto out;
    /* New packs are stored; now an index without the dropped packs, then
     * the dropped ones condemned (no blobs: nothing may take them back),
     * then the old index files and the damage records go. */
    next = xcalloc(files.count + s.written_count + 1, sizeof *next);
    for (size_t i = 0; i < files.count; i++)
        if (!pack_set_has(&dropped, files.records[i].id))
            next[next_count++] = files.records[i]; /* borrowed */
    for (size_t i = 0; i < s.written_count; i++)
        next[next_count++] = s.written[i];
    rc = repo_write_index(repo, next, next_count, NULL, err);
    struct pack_record *condemned = xcalloc(dropped.count, sizeof *condemned);
    for (size_t i = 0; i < dropped.count; i++)
        memcpy(condemned[i].id, dropped.ids[i], CRYPTO_ID_SIZE);
    if (rc == 0)
        rc = repo_write_pack_list(repo, OBJ_CONDEMNED, condemned, dropped.count, NULL, NULL, err);
    free(condemned);
    if (rc == 0)
        rc = store_delete_many(repo->store, files.read.items, files.read.count, err);
    if (rc == 0)
        rc = damage_replace(repo, &damage, &kept, is_any_pack, NULL, err);
out:
    free(next);
    for (size_t i = 0; i < files.count; i++)
        pack_record_free(&files.records[i]);
    free(files.records);
    string_list_free(&files.read);
    for (size_t i = 0; i < s.written_count; i++)
        pack_record_free(&s.written[i]);
    free(s.written);
    pack_builder_free(&s.builder);
    blob_codec_free(s.codec);
    free(damaged.ids);
    free(dropped.ids);
    damage_free(&kept);
    damage_free(&damage);
    repo_unlock(lock);
    return rc < 0 ? error_wrap(err, "cannot repair the packs") : 0;
}
