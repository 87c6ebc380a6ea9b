/*
 * repair.c — making a damaged repository whole again as far as it can be:
 * `coffer repair index | packs | snapshots`.
 *
 *  - index: rebuilds the index from the packs' own sealed headers (each
 *    pack names its blobs), for when index files are damaged or lost. A
 *    pack that only condemned files list stays condemned (a pack repair
 *    packs dropped as damaged among them); a pack whose header cannot be
 *    read keeps the records the old files gave it.
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
 * deleted here: a damaged pack is condemned (prune.c) with no blobs, so it
 * holds nothing a snapshot needs, and the first prune after it that runs
 * alone (no lock held but by processes certainly gone; one that is not
 * alone condemns it again) deletes it. A prune runs at all only once no
 * snapshot needs a blob the index lacks: after the backup that stores the
 * lost blobs again, or repair snapshots --forget.
 *
 * What the store lacks is decided afresh, never from an old check's
 * records: a pack is missing when the store's listing leaves it out and
 * the store says it does not exist (repair_load_index). What cannot be
 * read for another reason than damage (an I/O error, a timeout) is left as
 * it is, said, and makes the command fail, so that it is run again: only
 * what was read and failed authentication counts as lost.
 *
 * After index or packs, the command runs repair snapshots --dry-run on the
 * repository as it is then, which says what is still unrestorable.
 */
#include "ops/ops.h"
#include "ops/repair_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/damage.h"
#include "repo/dict.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "store/store.h"
#include "util/interrupt.h"
#include "util/parallel.h"
#include "util/text.h"

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

/* ---- what the store has ------------------------------------------------ */

/* Pack ids, sorted for lookup once filled. */
int repair_load_index(struct repo *repo, const struct repair_options *opts, struct damage_list *damage,
                      size_t *undecided, struct error *err)
{
    struct pack_ids listed;
    *undecided = 0;
    if (damage_load(repo, damage, err) < 0 || repo_load_index_with_damage(repo, damage, err) < 0 ||
        repo_list_packs(repo, &listed, err) < 0)
        return -1;
    struct index *idx = repo_index(repo);
    struct index *asked = index_new(); /* an id may have several numbers: one question each */
    for (uint32_t p = 0; p < index_pack_count(idx); p++) {
        uint8_t id[CRYPTO_ID_SIZE];
        char name[96], hex[65];
        uint64_t size;
        struct error why;
        index_pack_id(idx, p, id);
        if (pack_ids_has(&listed, id) || !index_add_id(asked, id))
            continue;
        repo_object_name(OBJ_BLOB, id, name);
        if (store_size(repo_store(repo), name, &size, &why) == 0)
            continue; /* there, though the listing left it out */
        if (why.kind == ERR_NOT_FOUND) {
            index_mark_pack(idx, p, INDEX_PACK_MISSING);
            continue;
        }
        hex_encode(id, CRYPTO_ID_SIZE, hex);
        repair_say(opts, "pack %s: not in the store's listing, and the store does not say whether it exists: %s", hex,
            why.msg);
        (*undecided)++;
    }
    index_free(asked);
    pack_ids_free(&listed);
    return 0;
}

/* ---- repair index --------------------------------------------------- */

struct stored {
    uint8_t id[CRYPTO_ID_SIZE];
    uint64_t size;
    struct pack_record record; /* its header, when readable */
    char *why;                 /* why not */
    enum error_kind why_kind;  /* ERR_AUTH: the header is damaged */
};

/* The records of the old index and condemned files that could be read,
 * each kind sorted by pack id. */
struct old_records {
    struct pack_record *items;
    size_t count;
};

struct rebuild {
    struct repo *repo;
    const struct repair_options *opts;
    struct stored *packs;
    size_t count;
    struct string_list old_files;    /* index/ and condemned/ */
    struct old_records live, condemned;
    size_t unread;                   /* objects not read for another reason than damage */
};

static struct stored *add_stored(struct rebuild *rb, const uint8_t id[CRYPTO_ID_SIZE], uint64_t size)
{
    rb->packs = xrealloc(rb->packs, (rb->count + 1) * sizeof *rb->packs);
    struct stored *p = &rb->packs[rb->count++];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, CRYPTO_ID_SIZE);
    p->size = size;
    return p;
}

static int note_pack(void *ctx, const char *name, uint64_t size, struct error *err)
{
    uint8_t id[CRYPTO_ID_SIZE];
    if (repo_object_id_from_name(name, id) == 0)
        add_stored(ctx, id, size);
    return 0;
}

static int compare_records(const void *a, const void *b)
{
    return memcmp(((const struct pack_record *)a)->id, ((const struct pack_record *)b)->id, CRYPTO_ID_SIZE);
}

/* The old record of a pack with the most blobs; NULL if none names it. */
static const struct pack_record *old_record(const struct old_records *old, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct pack_record key;
    memcpy(key.id, id, CRYPTO_ID_SIZE);
    const struct pack_record *hit = old->count ? bsearch(&key, old->items, old->count, sizeof key, compare_records)
                                               : NULL;
    if (!hit)
        return NULL;
    while (hit > old->items && !compare_records(hit - 1, &key))
        hit--;
    const struct pack_record *best = hit;
    for (; hit < old->items + old->count && !compare_records(hit, &key); hit++)
        if (hit->count > best->count)
            best = hit;
    return best;
}

/* Reads one old index or condemned file into its kind's records. One that
 * fails authentication (or, authenticated, does not decode) is damaged:
 * the packs' headers replace it. One that cannot be read for another
 * reason is counted in unread, and every old file is kept. */
static void read_old_file(struct rebuild *rb, const char *name)
{
    uint8_t id[CRYPTO_ID_SIZE];
    bool is_condemned = !strncmp(name, "condemned/", 10);
    struct old_records *old = is_condemned ? &rb->condemned : &rb->live;
    struct buf plain = BUF_INIT;
    struct pack_record *recs = NULL;
    size_t n = 0;
    struct error err;
    if (repo_object_id_from_name(name, id) < 0)
        return;
    int rc = repo_get_object(rb->repo, is_condemned ? OBJ_CONDEMNED : OBJ_INDEX, id, &plain, &err);
    if (rc < 0 && err.kind == ERR_NOT_FOUND) {
        /* gone since the listing: nothing to replace */
    } else if (rc < 0 && err.kind != ERR_AUTH) {
        repair_say(rb->opts, "%s cannot be read: %s; the old index files are kept", name, err.msg);
        rb->unread++;
    } else if (rc < 0 || index_file_records(plain.data, plain.len, &recs, &n, &err) < 0) {
        repair_say(rb->opts, "%s is damaged (%s): the packs' headers replace it", name, err.msg);
    } else {
        old->items = xrealloc(old->items, (old->count + n + 1) * sizeof *old->items);
        memcpy(old->items + old->count, recs, n * sizeof *recs);
        old->count += n;
    }
    free(recs);
    buf_free(&plain);
}

/* The header guess: a pack of 16 MiB in 8 KiB database chunks has ~2,000
 * blobs, 41 bytes each; a larger header takes a second read. */
#define TAIL_GUESS (128u << 10)

/* Reads one pack's header from its end. */
static int read_header(void *ctx, size_t item, struct error *stop)
{
    struct rebuild *rb = ctx;
    if (interrupt_check(stop) < 0) /* before anything is written: the index stays as it was */
        return -1;
    struct stored *p = &rb->packs[item];
    struct buf tail = BUF_INIT;
    struct error err;
    if (p->why)
        return 0; /* its size could not be read */
    memcpy(p->record.id, p->id, CRYPTO_ID_SIZE);
    uint64_t want = p->size < TAIL_GUESS ? p->size : TAIL_GUESS;
    int rc = repo_read_pack(rb->repo, p->id, p->size - want, want, &tail, &err);
    if (rc == 0 && pack_header_length(tail.data, tail.len) > tail.len &&
        pack_header_length(tail.data, tail.len) <= p->size) {
        want = pack_header_length(tail.data, tail.len);
        buf_reset(&tail);
        rc = repo_read_pack(rb->repo, p->id, p->size - want, want, &tail, &err);
    }
    if (rc == 0)
        rc = pack_header_read_tail(rb->repo, tail.data, tail.len, p->size, &p->record, &err);
    if (rc < 0 && interrupt_signal()) { /* not a finding about the pack */
        buf_free(&tail);
        pack_record_free(&p->record);
        return interrupt_check(stop);
    }
    if (rc < 0) {
        p->why = xstrdup(err.msg);
        p->why_kind = err.kind;
        pack_record_free(&p->record);
    }
    buf_free(&tail);
    return 0;
}

static int compare_stored(const void *a, const void *b)
{
    return memcmp(((const struct stored *)a)->id, ((const struct stored *)b)->id, CRYPTO_ID_SIZE);
}

/* Packs an old file names that the listing (the first listed packs, sorted)
 * left out: there after all (store_size), or gone. */
static void look_for_unlisted(struct rebuild *rb, size_t listed, const struct old_records *old)
{
    for (size_t i = 0; i < old->count; i++) {
        const uint8_t *id = old->items[i].id;
        struct stored key;
        memcpy(key.id, id, CRYPTO_ID_SIZE);
        bool is_known = listed && bsearch(&key, rb->packs, listed, sizeof key, compare_stored);
        for (size_t p = listed; p < rb->count && !is_known; p++) /* few: only packs a listing glitch hid */
            is_known = !memcmp(rb->packs[p].id, id, CRYPTO_ID_SIZE);
        if (is_known)
            continue;
        char name[96];
        uint64_t size;
        struct error err;
        repo_object_name(OBJ_BLOB, id, name);
        if (store_size(repo_store(rb->repo), name, &size, &err) == 0) {
            add_stored(rb, id, size);
        } else if (err.kind != ERR_NOT_FOUND) {
            struct stored *p = add_stored(rb, id, 0);
            p->why = xstrdup(err.msg);
            p->why_kind = err.kind;
        }
    }
}

static void rebuild_free(struct rebuild *rb)
{
    for (size_t i = 0; i < rb->count; i++) {
        pack_record_free(&rb->packs[i].record);
        free(rb->packs[i].why);
    }
    free(rb->packs);
    string_list_free(&rb->old_files);
    for (size_t i = 0; i < rb->live.count; i++)
        pack_record_free(&rb->live.items[i]);
    free(rb->live.items);
    for (size_t i = 0; i < rb->condemned.count; i++)
        pack_record_free(&rb->condemned.items[i]);
    free(rb->condemned.items);
}

int ops_repair_index(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                     struct error *err)
{
    struct repo_lock *lock = NULL;
    struct rebuild rb = {.repo = repo, .opts = opts};
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    int rc = repo_list_index_files(repo, &rb.old_files, err);
    for (size_t i = 0; rc == 0 && i < rb.old_files.count; i++)
        read_old_file(&rb, rb.old_files.items[i]);
    if (rb.live.count > 1)
        qsort(rb.live.items, rb.live.count, sizeof *rb.live.items, compare_records);
    if (rb.condemned.count > 1)
        qsort(rb.condemned.items, rb.condemned.count, sizeof *rb.condemned.items, compare_records);
    if (rc == 0)
        rc = store_list(repo_store(repo), repo_object_folder(OBJ_BLOB), note_pack, &rb, err);
    if (rc == 0) {
        size_t listed = rb.count;
        if (listed > 1)
            qsort(rb.packs, listed, sizeof *rb.packs, compare_stored);
        look_for_unlisted(&rb, listed, &rb.live);
        look_for_unlisted(&rb, listed, &rb.condemned);
        rc = parallel_for(rb.count, store_parallel_requests(repo_store(repo)), read_header, &rb, err);
        if (rc == 0) /* a stop while the last headers were read: still nothing written */
            rc = interrupt_check(err);
    }
    /* Borrowed records: the new index, and the new condemned files. */
    struct pack_record *live = xcalloc(rb.count + 1, sizeof *live), *condemned = xcalloc(rb.count + 1, sizeof *condemned);
    size_t live_count = 0, condemned_count = 0;
    for (size_t i = 0; rc == 0 && i < rb.count; i++) {
        struct stored *p = &rb.packs[i];
        char hex[65];
        hex_encode(p->id, CRYPTO_ID_SIZE, hex);
        /* As readers take them: a pack any index file lists is live. */
        const struct pack_record *old_live = old_record(&rb.live, p->id);
        const struct pack_record *old_condemned = old_record(&rb.condemned, p->id);
        bool is_condemned = old_condemned && !old_live;
        const struct pack_record *old = is_condemned ? old_condemned : old_live;
        const struct pack_record *use = &p->record;
        if (p->why) {
            result->packs_unreadable++;
            if (p->why_kind != ERR_AUTH)
                rb.unread++;
            repair_say(opts, "pack %s: %s: %s", hex, p->why,
                old ? "its blobs stay indexed as the old files had them" : "its blobs cannot be indexed");
            if (!old)
                continue;
            use = old;
        } else {
            result->packs++;
            result->blobs += p->record.count;
        }
        if (!is_condemned) {
            live[live_count++] = *use;
        } else if (old_condemned->count == 0) { /* dropped by repair packs: nothing may take it back */
            memset(&condemned[condemned_count], 0, sizeof *condemned);
            memcpy(condemned[condemned_count++].id, p->id, CRYPTO_ID_SIZE);
        } else {
            condemned[condemned_count++] = *use;
        }
    }
    result->packs_condemned = condemned_count;
    result->files_replaced = rb.unread ? 0 : rb.old_files.count;
    if (rc == 0 && !opts->is_dry_run) {
        rc = repo_write_index(repo, live, live_count, NULL, err);
        if (rc == 0)
            rc = repo_write_pack_list(repo, OBJ_CONDEMNED, condemned, condemned_count, NULL, NULL, err);
        /* The new files cover every pack the old ones did: the old go only
         * after they are stored, and only when every old file and pack
         * was read or found damaged. */
        if (rc == 0 && !rb.unread)
            rc = store_delete_many(repo_store(repo), rb.old_files.items, rb.old_files.count, err);
    }
    if (rc == 0 && rb.unread)
        rc = error_set(err, "%zu object%s could not be read (named above), so the old index files are kept; "
                       "run `coffer repair index` again", rb.unread, rb.unread == 1 ? "" : "s");
    free(live);
    free(condemned);
    rebuild_free(&rb);
    repo_unlock(lock);
    if (rc < 0 && interrupt_signal()) { /* stopped while reading packs, before writing */
        struct error stop;
        interrupt_check(&stop);
        return error_setk(err, ERR_INTERRUPTED, "%s: the index is as it was", stop.msg);
    }
    return rc < 0 ? error_wrap(err, "cannot rebuild the index") : 0;
}

/* ---- repair packs ---------------------------------------------------- */

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

struct salvage {
    struct repo *repo;
    const struct repair_options *opts;
    struct repair_result *result;
    struct blob_codec *codec;
    struct pack_builder builder;
    bool is_open;
    struct pack_record *written;
    size_t written_count;
    struct damage_list dict_only; /* intact blobs whose dictionary cannot be read, and the pack they were in */
};

static int flush_salvaged(struct salvage *s, struct error *err)
{
    if (!s->is_open || s->builder.record.count == 0)
        return 0;
    if (repo_put_pack(s->repo, &s->builder, err) < 0)
        return -1;
    s->written = xrealloc(s->written, (s->written_count + 1) * sizeof *s->written);
    s->written[s->written_count++] = s->builder.record;
    memset(&s->builder.record, 0, sizeof s->builder.record);
    s->is_open = false;
    s->result->packs_written++;
    return 0;
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

enum blob_state { BLOB_INTACT, BLOB_DICT_ONLY, BLOB_LOST };

/* What one blob of a pack that was read is: it opens; or its sealed bytes
 * authenticate and name a dictionary that cannot be read (intact: the
 * dictionary's other copy, or a backup that stores it again, makes it
 * readable); or it is lost. */
static enum blob_state blob_state_of(struct salvage *s, const struct buf *file, const struct pack_blob *b,
                                     struct buf *plain)
{
    struct error err;
    uint8_t dict[CRYPTO_ID_SIZE];
    if ((uint64_t)b->offset + b->length > file->len)
        return BLOB_LOST;
    const uint8_t *sealed = file->data + b->offset;
    buf_reset(plain);
    if (blob_open(s->repo, s->codec, b->id, sealed, b->length, plain, &err) == 0)
        return BLOB_INTACT;
    if (blob_names_dictionary(s->repo, b->id, sealed, b->length, dict) && !repo_dictionary(s->repo, dict, &err))
        return BLOB_DICT_ONLY;
    return BLOB_LOST;
}

enum salvage_outcome { PACK_SALVAGED, PACK_WHOLE, PACK_UNREAD };

/* Reads one pack check recorded damaged (is_damaged) or missing, and
 * copies what is intact of it, sealed bytes unchanged, into new packs: the
 * blobs every index file places there. A pack recorded only missing whose
 * blobs are all intact is whole and stays. A pack that cannot be read is
 * left as it is. */
static int salvage_pack(struct salvage *s, const struct index_files *files, const uint8_t pack_id[CRYPTO_ID_SIZE],
                        bool is_damaged, enum salvage_outcome *outcome, struct error *err)
{
    char hex[65];
    struct buf file = BUF_INIT, plain = BUF_INIT;
    struct error read_err;
    struct pack_blob *blobs = NULL;
    enum blob_state *states = NULL;
    size_t count = 0;
    uint64_t saved = 0, lost = 0;
    int rc = 0;
    struct index *seen = index_new();
    hex_encode(pack_id, CRYPTO_ID_SIZE, hex);
    for (size_t r = 0; r < files->count; r++) {
        if (memcmp(files->records[r].id, pack_id, CRYPTO_ID_SIZE) != 0)
            continue;
        for (size_t i = 0; i < files->records[r].count; i++)
            if (index_add_id(seen, files->records[r].blobs[i].id)) {
                blobs = xrealloc(blobs, (count + 1) * sizeof *blobs);
                blobs[count++] = files->records[r].blobs[i];
            }
    }
    *outcome = PACK_SALVAGED;
    if (count && repo_read_pack(s->repo, pack_id, 0, STORE_TO_END, &file, &read_err) < 0) {
        repair_say(s->opts, "pack %s could not be read: %s; it is left as it is: run `coffer repair packs` again", hex,
            read_err.msg);
        *outcome = PACK_UNREAD;
        goto out;
    }
    states = xcalloc(count + 1, sizeof *states);
    for (size_t i = 0; i < count; i++) {
        states[i] = blob_state_of(s, &file, &blobs[i], &plain);
        lost += states[i] == BLOB_LOST;
        if (states[i] == BLOB_DICT_ONLY)
            damage_add_blob(&s->dict_only, blobs[i].id, pack_id, DAMAGE_CAUSE_DICTIONARY);
    }
    if (!is_damaged && lost == 0) {
        repair_say(s->opts, "pack %s: an earlier check found it missing, but it is there and whole; it stays", hex);
        *outcome = PACK_WHOLE;
        goto out;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (states[i] == BLOB_LOST)
            continue;
        saved++;
        if (s->opts->is_dry_run)
            continue;
        if (!s->is_open) {
            pack_builder_start(&s->builder);
            s->is_open = true;
        }
        pack_builder_add(&s->builder, blobs[i].id, blobs[i].type, file.data + blobs[i].offset, blobs[i].length,
                         blobs[i].raw_length);
        if (pack_builder_is_full(s->repo, &s->builder))
            rc = flush_salvaged(s, err);
    }
    repair_say(s->opts, "pack %s: %llu blob%s %s, %llu lost", hex, (unsigned long long)saved, saved == 1 ? "" : "s",
        s->opts->is_dry_run ? "can be saved" : "saved", (unsigned long long)lost);
    s->result->blobs_saved += saved;
    s->result->blobs_lost += lost;
out:
    index_free(seen);
    free(blobs);
    free(states);
    buf_free(&file);
    buf_free(&plain);
    return rc;
}

/* The new pack a salvaged blob went to; false if none (a dry run). */
static bool written_pack_of(const struct salvage *s, const uint8_t id[CRYPTO_ID_SIZE], uint8_t pack[CRYPTO_ID_SIZE])
{
    for (size_t w = 0; w < s->written_count; w++)
        for (size_t i = 0; i < s->written[w].count; i++)
            if (!memcmp(s->written[w].blobs[i].id, id, CRYPTO_ID_SIZE)) {
                memcpy(pack, s->written[w].id, CRYPTO_ID_SIZE);
                return true;
            }
    return false;
}

static bool is_dealt_with(void *ctx, const uint8_t pack[CRYPTO_ID_SIZE])
{
    return pack_set_has(ctx, pack);
}

static bool is_indexed_pack(const struct index_files *files, const uint8_t id[CRYPTO_ID_SIZE])
{
    for (size_t i = 0; i < files->count; i++)
        if (!memcmp(files->records[i].id, id, CRYPTO_ID_SIZE))
            return true;
    return false;
}

int ops_repair_packs(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                     struct error *err)
{
    struct repo_lock *lock = NULL;
    struct damage_list damage = {0}, kept = {0};
    struct pack_set damaged = {0}, to_read = {0}, dropped = {0}, dealt = {0};
    struct index_files files = {0};
    struct salvage s = {.repo = repo, .opts = opts, .result = result};
    struct pack_record *next = NULL;
    size_t next_count = 0, undecided = 0;
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    void *list_ctx[2] = {&files, repo};
    int rc = store_list(repo_store(repo), "index", read_index_file, list_ctx, err);
    if (rc == 0)
        rc = repair_load_index(repo, opts, &damage, &undecided, err);
    if (rc < 0)
        goto out;
    struct index *idx = repo_index(repo);
    for (uint32_t p = 0; p < index_pack_count(idx); p++) {
        uint8_t id[CRYPTO_ID_SIZE];
        index_pack_id(idx, p, id);
        if ((index_pack_flags(idx, p) & INDEX_PACK_MISSING) && !pack_set_has(&dropped, id)) {
            char hex[65];
            hex_encode(id, CRYPTO_ID_SIZE, hex);
            repair_say(opts, "pack %s: missing from the repository; %s from the index", hex,
                opts->is_dry_run ? "would be dropped" : "dropped");
            pack_set_add(&dropped, id);
        }
    }
    result->packs_missing = dropped.count;
    /* To read: the packs with damaged blobs, and those an earlier check
     * found missing that are there now. A blob whose only fault is its
     * dictionary does not make its pack damaged: the pack stays, and so
     * does the record, until a backup stores the dictionary again and a
     * check finds the blob readable. */
    for (size_t i = 0; i < damage.count; i++)
        if (strcmp(damage.blobs[i].cause, DAMAGE_CAUSE_DICTIONARY) != 0) {
            pack_set_add(&damaged, damage.blobs[i].pack);
            pack_set_add(&to_read, damage.blobs[i].pack);
        }
    for (size_t i = 0; i < damage.missing_count; i++)
        if (is_indexed_pack(&files, damage.missing[i]))
            pack_set_add(&to_read, damage.missing[i]);
    s.codec = repo_blob_codec_new(repo);
    for (size_t i = 0; i < to_read.count && rc == 0; i++) {
        enum salvage_outcome outcome;
        if (pack_set_has(&dropped, to_read.ids[i]))
            continue;
        if ((rc = interrupt_check(err)) < 0)
            break;
        rc = salvage_pack(&s, &files, to_read.ids[i], pack_set_has(&damaged, to_read.ids[i]), &outcome, err);
        if (outcome == PACK_SALVAGED) {
            pack_set_add(&dropped, to_read.ids[i]);
            result->packs_damaged++;
        } else if (outcome == PACK_WHOLE) {
            pack_set_add(&dealt, to_read.ids[i]);
        } else {
            result->packs_unreadable++;
        }
    }
    if (rc == 0 && !opts->is_dry_run)
        rc = flush_salvaged(&s, err);
    if (rc < 0 && interrupt_signal() && s.written_count) { /* no index lists them: the repository is as it was */
        struct error ignored;
        repo_delete_packs(repo, s.written, s.written_count, &ignored);
    }
    if (rc < 0 || opts->is_dry_run)
        goto out;
    if (dropped.count) {
        /* New packs are stored; now an index without the dropped packs,
         * then the dropped ones condemned (no blobs: nothing may take them
         * back), then the old index files go. */
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
            rc = store_delete_many(repo_store(repo), files.read.items, files.read.count, err);
    }
    /* Last, the records of the packs dealt with go. What stays: the
     * records of every other pack (damage_replace keeps them), the
     * dictionary records of intact blobs, moved with them to their new
     * pack, and the missing records of packs left as they are. */
    for (size_t i = 0; i < dropped.count; i++)
        pack_set_add(&dealt, dropped.ids[i]);
    for (size_t i = 0; i < s.dict_only.count; i++) {
        uint8_t pack[CRYPTO_ID_SIZE];
        memcpy(pack, s.dict_only.blobs[i].pack, CRYPTO_ID_SIZE);
        if (!pack_set_has(&dropped, pack) || written_pack_of(&s, s.dict_only.blobs[i].id, pack))
            damage_add_blob(&kept, s.dict_only.blobs[i].id, pack, DAMAGE_CAUSE_DICTIONARY);
    }
    for (size_t i = 0; i < damage.missing_count; i++)
        if (!pack_set_has(&dealt, damage.missing[i]) && is_indexed_pack(&files, damage.missing[i]))
            damage_add_missing(&kept, damage.missing[i]);
    if (rc == 0 && dealt.count)
        rc = damage_replace(repo, &damage, &kept, is_dealt_with, &dealt, err);
out:
    if (rc == 0 && (result->packs_unreadable || undecided))
        rc = error_set(err, "%llu pack%s could not be read or looked at (named above): left as %s; run "
                       "`coffer repair packs` again", (unsigned long long)(result->packs_unreadable + undecided),
                       result->packs_unreadable + undecided == 1 ? "" : "s",
                       result->packs_unreadable + undecided == 1 ? "it is" : "they are");
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
    damage_free(&s.dict_only);
    free(damaged.ids);
    free(to_read.ids);
    free(dropped.ids);
    free(dealt.ids);
    damage_free(&kept);
    damage_free(&damage);
    repo_unlock(lock);
    return rc < 0 ? error_wrap(err, "cannot repair the packs") : 0;
}
