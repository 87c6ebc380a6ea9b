/*
 * check.c — verifying a repository.
 *
 * Structure: every index file and snapshot opens, every blob a snapshot
 * refers to is indexed, and every indexed pack exists and is long enough.
 * With --read-data: packs (all, a slice, or those of one source) are read
 * whole, their headers opened and every blob decrypted, decompressed and
 * hashed against its id, on worker threads. Damaged or missing blobs are
 * then traced back to the snapshots that need them, so the report says
 * which restores would fail, and each problem (check_problem: a kind, the
 * pack and blob, the snapshots it hurts, check_hurt.h) names them too.
 * Blobs that fail because the dictionary they were compressed with
 * cannot be read are reported once per dictionary (each one only to
 * detail, i.e. --json). What was found damaged or missing is recorded in a
 * damage/ object (damage.h), so that backups store it again; that and its
 * event are all check writes.
 */
#include "ops/ops.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/check_hurt.h"
#include "ops/reach.h"
#include "pipeline/content.h"
#include "repo/blob.h"
#include "repo/damage.h"
#include "repo/dict.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "util/interrupt.h"
#include "util/text.h"

struct stored_pack {
    uint8_t id[CRYPTO_ID_SIZE];
    uint64_t size;
    bool is_unreadable; /* its header could not be read */
    bool is_read;       /* --read-data read it (whole or not) */
    bool is_wanted;     /* holds blobs of the source being checked (all, without one) */
    bool is_condemned;  /* only condemned/ files list it: no backup uses it, a prune deletes it */
};

struct checker {
    struct repo *repo;
    const struct check_options *opts;
    struct check_result *result;
    pthread_mutex_t mutex; /* guards result, bad, report while reading packs */
    struct stored_pack *packs; /* sorted by id */
    size_t pack_count;
    struct index *bad;     /* ids of missing or damaged blobs (used as a set) */
    struct index *visited; /* tree ids already walked; type = 1 if it needs a bad blob */
    struct blob_codec *codec;
    struct damage_list found;  /* for the damage record */
    struct dict_damage *dicts; /* dictionaries that could not be read, with how many blobs need them */
    size_t dict_count;
};

struct dict_damage {
    uint8_t id[CRYPTO_ID_SIZE];
    uint64_t blobs;
    char why[ERROR_MSG_MAX];
};

/* Counts a problem of kind (check_problem) about pack and blob (either
 * may be NULL), keeps it for the result and passes its line on. Called
 * with the mutex held where threads run; the pointer returned is good
 * until the next report. */
static struct check_problem *report(struct checker *c, const char *kind, const uint8_t *pack, const uint8_t *blob,
                                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct check_problem *report(struct checker *c, const char *kind, const uint8_t *pack, const uint8_t *blob,
                                    const char *fmt, ...)
{
    char line[ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct check_result *r = c->result;
    r->errors++;
    r->problems = xrealloc(r->problems, (r->problem_count + 1) * sizeof *r->problems);
    struct check_problem *p = &r->problems[r->problem_count++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    if ((p->has_pack = pack != NULL))
        memcpy(p->pack, pack, CRYPTO_ID_SIZE);
    if ((p->has_blob = blob != NULL))
        memcpy(p->blob, blob, CRYPTO_ID_SIZE);
    p->what = xstrdup(line);
    if (c->opts->report)
        c->opts->report(c->opts->report_ctx, line);
    return p;
}

void check_result_free(struct check_result *result)
{
    for (size_t i = 0; i < result->problem_count; i++) {
        string_list_free(&result->problems[i].snapshots);
        free(result->problems[i].what);
    }
    free(result->problems);
    result->problems = NULL;
    result->problem_count = 0;
}

/* A line only for --json: one of many that a reported line sums up. */
static void detail(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void detail(struct checker *c, const char *fmt, ...)
{
    char line[ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->opts->detail)
        c->opts->detail(c->opts->report_ctx, line);
}

/* Counts a blob that failed because its dictionary could not be read;
 * called with the mutex held. */
static void note_dictionary_damage(struct checker *c, const uint8_t dict[CRYPTO_ID_SIZE], const char *why)
{
    for (size_t i = 0; i < c->dict_count; i++)
        if (!memcmp(c->dicts[i].id, dict, CRYPTO_ID_SIZE)) {
            c->dicts[i].blobs++;
            return;
        }
    c->dicts = xrealloc(c->dicts, (c->dict_count + 1) * sizeof *c->dicts);
    struct dict_damage *d = &c->dicts[c->dict_count++];
    memcpy(d->id, dict, CRYPTO_ID_SIZE);
    d->blobs = 1;
    snprintf(d->why, sizeof d->why, "%s", why);
}

static void mark_bad(struct checker *c, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct index_entry e = {0};
    memcpy(e.id, id, CRYPTO_ID_SIZE);
    index_insert(c->bad, &e);
}

static int compare_packs(const void *a, const void *b)
{
    return memcmp(((const struct stored_pack *)a)->id, ((const struct stored_pack *)b)->id, CRYPTO_ID_SIZE);
}

static const struct stored_pack *find_stored(const struct checker *c, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct stored_pack key;
    if (c->pack_count == 0)
        return NULL;
    memcpy(key.id, id, CRYPTO_ID_SIZE);
    return bsearch(&key, c->packs, c->pack_count, sizeof key, compare_packs);
}

static int collect_pack(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct checker *c = ctx;
    uint8_t id[CRYPTO_ID_SIZE];
    if (repo_object_id_from_name(name, id) < 0)
        return 0;
    c->packs = xrealloc(c->packs, (c->pack_count + 1) * sizeof *c->packs);
    struct stored_pack *p = &c->packs[c->pack_count++];
    memset(p, 0, sizeof *p); /* every flag starts false */
    memcpy(p->id, id, CRYPTO_ID_SIZE);
    p->size = size;
    p->is_wanted = c->opts->source == NULL;
    return 0;
}

/* Every indexed blob must lie inside a pack that exists and could be
 * read; the rest are bad. */
static void check_entry(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct checker *c = ctx;
    const struct stored_pack *p = pack_id ? find_stored(c, pack_id) : NULL;
    if (!p || p->is_unreadable || (uint64_t)e->offset + e->length > p->size)
        mark_bad(c, e->id);
    if (pack_id && !p && !(pack_flags & INDEX_PACK_CONDEMNED))
        damage_add_missing(&c->found, pack_id);
    else if (p && p->is_unreadable)
        damage_add_blob(&c->found, e->id, pack_id, "its pack's header cannot be read");
    else if (p && (uint64_t)e->offset + e->length > p->size)
        damage_add_blob(&c->found, e->id, pack_id, "its pack is shorter than the index says");
}

/* Reports indexed packs that are missing, counts stored packs that no
 * index names (leftovers of interrupted backups, for prune). */
static void compare_packs_with_index(struct checker *c)
{
    struct index *idx = repo_index(c->repo);
    size_t n = index_pack_count(idx);
    struct stored_pack *indexed = xcalloc(n ? n : 1, sizeof *indexed);
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        index_pack_id(idx, (uint32_t)i, indexed[i].id);
        if (!find_stored(c, indexed[i].id)) {
            hex_encode(indexed[i].id, CRYPTO_ID_SIZE, hex);
            /* A pack only condemned/ lists is on its way out (repair packs
             * condemns a lost one): its absence is no damage by itself; a
             * snapshot that needs one of its blobs is reported anyway. */
            if (index_pack_flags(idx, (uint32_t)i) & INDEX_PACK_CONDEMNED)
                detail(c, "pack %s, condemned, is gone already (the next prune forgets it)", hex);
            else
                report(c, "pack_missing", indexed[i].id, NULL, "pack %s is in the index but missing from the repository",
                       hex);
        }
    }
    if (n > 1)
        qsort(indexed, n, sizeof *indexed, compare_packs);
    for (size_t i = 0; i < c->pack_count; i++)
        if (n == 0 || !bsearch(&c->packs[i], indexed, n, sizeof *indexed, compare_packs))
            c->result->unindexed_packs++;
    free(indexed);
}

/* Packs that only condemned/ files list are not read: they wait for a
 * prune to delete them, and a damaged one repair dropped is one of them. */
static void note_condemned_packs(struct checker *c)
{
    struct index *idx = repo_index(c->repo);
    size_t n = index_pack_count(idx);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            uint8_t id[CRYPTO_ID_SIZE];
            index_pack_id(idx, (uint32_t)i, id);
            struct stored_pack *p = (struct stored_pack *)find_stored(c, id);
            bool is_condemned = index_pack_flags(idx, (uint32_t)i) & INDEX_PACK_CONDEMNED;
            if (p && pass == 0 && is_condemned)
                p->is_condemned = true;
            else if (p && pass == 1 && !is_condemned)
                p->is_condemned = false; /* an index file lists it too */
        }
}

/* Whether the index finds blob id in pack (its copy there is the one
 * readers use). */
static bool is_primary_copy(struct checker *c, const uint8_t id[CRYPTO_ID_SIZE], const uint8_t pack[CRYPTO_ID_SIZE])
{
    uint8_t where[CRYPTO_ID_SIZE];
    return index_find_pack(repo_index(c->repo), id, where) && memcmp(where, pack, CRYPTO_ID_SIZE) == 0;
}

/* ---- walking snapshots ------------------------------------------------ */

struct walk_state {
    struct checker *c;
    bool needs_bad;
    bool is_reporting; /* first pass: report unindexed blobs */
};

static int check_blob_id(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct walk_state *ws = ctx;
    if (index_find(ws->c->bad, id, NULL)) {
        ws->needs_bad = true;
    } else if (!index_find(repo_index(ws->c->repo), id, NULL)) {
        char short_id[17];
        id_short(id, short_id);
        if (ws->is_reporting)
            report(ws->c, "blob_unindexed", NULL, id, "blob %s is referenced but not in the index", short_id);
        mark_bad(ws->c, id);
        ws->needs_bad = true;
    }
    return 0;
}

struct check_frame {
    struct tree tree;
    uint8_t id[CRYPTO_ID_SIZE];
    size_t next;             /* the next node of tree to walk */
    struct walk_state state; /* needs_bad: this tree or one below it needs a bad blob */
};

/* Starts a frame for tree id, reading it; false when visited already in
 * this pass, with *needs_bad what was found then. */
static bool walk_enter(struct checker *c, bool is_reporting, const uint8_t id[CRYPTO_ID_SIZE], struct check_frame *f,
                       bool *needs_bad)
{
    struct index_entry seen;
    if (index_find(c->visited, id, &seen)) {
        *needs_bad = seen.type;
        return false;
    }
    memset(f, 0, sizeof *f);
    memcpy(f->id, id, CRYPTO_ID_SIZE);
    f->state = (struct walk_state){c, false, is_reporting};
    struct buf raw = BUF_INIT;
    struct error err;
    check_blob_id(&f->state, id, BLOB_TREE, &err);
    int rc = f->state.needs_bad ? 0 : repo_read_blob(c->repo, c->codec, id, &raw, &err);
    if (rc < 0 && interrupt_signal()) { /* not damage: the check stops (ops_check) */
        buf_free(&raw);
        return false;
    }
    if (!f->state.needs_bad && (rc < 0 || tree_decode(raw.data, raw.len, &f->tree, &err) < 0)) {
        char short_id[17];
        id_short(id, short_id);
        uint8_t pack[CRYPTO_ID_SIZE];
        if (is_reporting)
            report(c, "tree", index_find_pack(repo_index(c->repo), id, pack) ? pack : NULL, id, "tree %s: %s", short_id, err.msg);
        mark_bad(c, id);
        f->state.needs_bad = true;
    }
    buf_free(&raw);
    return true;
}

/* Walks a tree once per pass; returns whether it needs a bad blob. The
 * walk keeps its frames on the heap: a tree of any depth is checked. */
static bool walk_tree(struct walk_state *ws, const uint8_t id[CRYPTO_ID_SIZE])
{
    size_t depth = 0, cap = 16;
    struct check_frame *frames = xcalloc(cap, sizeof *frames);
    struct error err;
    bool needs_bad = false;
    if (walk_enter(ws->c, ws->is_reporting, id, &frames[0], &needs_bad))
        depth = 1;
    while (depth > 0) {
        if (interrupt_signal()) { /* ops_check stops before judging anything */
            while (depth > 0)
                tree_free(&frames[--depth].tree);
            break;
        }
        struct check_frame *top = &frames[depth - 1];
        if (top->next == top->tree.count) {
            struct index_entry mark = {0};
            memcpy(mark.id, top->id, CRYPTO_ID_SIZE);
            mark.type = top->state.needs_bad;
            index_insert(ws->c->visited, &mark);
            bool top_needs_bad = top->state.needs_bad;
            tree_free(&top->tree);
            depth--;
            if (depth > 0)
                frames[depth - 1].state.needs_bad |= top_needs_bad;
            else
                needs_bad = top_needs_bad;
            continue;
        }
        const struct node *n = &top->tree.nodes[top->next++];
        if (n->type == NODE_FILE &&
            content_walk_ids(ws->c->repo, ws->c->codec, &n->content, check_blob_id, &top->state, &err) < 0)
            top->state.needs_bad = true;
        if (n->type != NODE_DIR)
            continue;
        if (depth == cap) {
            cap *= 2;
            frames = xrealloc(frames, cap * sizeof *frames);
            top = &frames[depth - 1];
        }
        bool child_needs_bad = false;
        if (walk_enter(ws->c, ws->is_reporting, n->subtree, &frames[depth], &child_needs_bad))
            depth++;
        else if (child_needs_bad)
            top->state.needs_bad = true;
    }
    free(frames);
    if (needs_bad)
        ws->needs_bad = true;
    return needs_bad;
}

/* ---- a source's packs ------------------------------------------------- */

static void want_pack_of(void *ctx, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct checker *c = ctx;
    struct index_entry e;
    uint8_t pack_id[CRYPTO_ID_SIZE];
    if (!index_find(repo_index(c->repo), id, &e) || e.pack == INDEX_PACK_PENDING)
        return;
    index_pack_id(repo_index(c->repo), e.pack, pack_id);
    struct stored_pack *p = (struct stored_pack *)find_stored(c, pack_id);
    if (p)
        p->is_wanted = true;
}

static int want_blob(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    want_pack_of(ctx, id);
    return 0;
}

/* Marks the packs that hold blobs the snapshots need. A tree that cannot
 * be read stops its walk; the structure check reports it. */
static void want_packs_of(struct checker *c, const struct snapshot *const *snaps, size_t count)
{
    struct index *visited = index_new();
    struct error ignored;
    for (size_t i = 0; i < count; i++) {
        for (size_t d = 0; d < snaps[i]->dictionary_count; d++)
            want_pack_of(c, snaps[i]->dictionaries[d]);
        reach_snapshot(c->repo, c->codec, snaps[i], visited, want_blob, c, &ignored);
    }
    index_free(visited);
}

/* ---- reading packs ---------------------------------------------------- */

struct pack_reader {
    struct checker *c;
    const size_t *order;
    size_t count;
    size_t next;
    size_t finished;
    uint64_t bytes_read; /* for progress */
};

static void read_one_pack(struct checker *c, struct blob_codec *codec, const struct stored_pack *p)
{
    char hex[65];
    struct buf data = BUF_INIT, content = BUF_INIT;
    struct pack_record rec = {0};
    struct error err;
    hex_encode(p->id, CRYPTO_ID_SIZE, hex);
    memcpy(rec.id, p->id, CRYPTO_ID_SIZE);
    ((struct stored_pack *)p)->is_read = true; /* each pack is read by one thread only */
    int rc = repo_read_pack(c->repo, p->id, 0, STORE_TO_END, &data, &err);
    if (rc < 0 && interrupt_signal()) { /* not damage: the check stops */
        buf_free(&data);
        return;
    }
    if (rc < 0 || pack_header_read(c->repo, data.data, data.len, &rec, &err) < 0) {
        pthread_mutex_lock(&c->mutex);
        report(c, "pack_unreadable", p->id, NULL, "pack %s: %s", hex, err.msg);
        ((struct stored_pack *)p)->is_unreadable = true; /* all its blobs are suspect */
        c->result->packs_read++;
        pthread_mutex_unlock(&c->mutex);
        buf_free(&data);
        pack_record_free(&rec);
        return;
    }
    for (size_t i = 0; i < rec.count; i++) {
        const struct pack_blob *b = &rec.blobs[i];
        buf_reset(&content);
        if (blob_open(c->repo, codec, b->id, data.data + b->offset, b->length, &content, &err) < 0) {
            uint8_t dict[CRYPTO_ID_SIZE];
            struct error dict_err;
            bool is_dict_cause = blob_names_dictionary(c->repo, b->id, data.data + b->offset, b->length, dict) &&
                                 !repo_dictionary(c->repo, dict, &dict_err);
            pthread_mutex_lock(&c->mutex);
            if (is_dict_cause) {
                char dict_short[17];
                id_short(dict, dict_short);
                note_dictionary_damage(c, dict, dict_err.msg);
                detail(c, "pack %s: %s", hex, err.msg);
                damage_add_blob(&c->found, b->id, p->id, DAMAGE_CAUSE_DICTIONARY);
            } else if (is_primary_copy(c, b->id, p->id)) {
                report(c, "blob_damaged", p->id, b->id, "pack %s: %s", hex, err.msg);
                damage_add_blob(&c->found, b->id, p->id, err.msg);
            } else { /* another copy serves readers: no snapshot is hurt */
                report(c, "copy_damaged", p->id, b->id, "pack %s: %s (another copy of it serves restores)", hex, err.msg);
                damage_add_blob(&c->found, b->id, p->id, err.msg);
            }
            if (is_dict_cause || is_primary_copy(c, b->id, p->id))
                mark_bad(c, b->id);
            pthread_mutex_unlock(&c->mutex);
        }
    }
    pthread_mutex_lock(&c->mutex);
    c->result->packs_read++;
    c->result->blobs += rec.count;
    pthread_mutex_unlock(&c->mutex);
    buf_free(&data);
    buf_free(&content);
    pack_record_free(&rec);
}

static void *pack_reader_main(void *arg)
{
    struct pack_reader *pr = arg;
    struct checker *c = pr->c;
    struct blob_codec *codec = repo_blob_codec_new(c->repo);
    for (;;) {
        pthread_mutex_lock(&c->mutex);
        size_t i = pr->next < pr->count && !interrupt_signal() ? pr->next++ : SIZE_MAX;
        pthread_mutex_unlock(&c->mutex);
        if (i == SIZE_MAX)
            break;
        read_one_pack(c, codec, &c->packs[pr->order[i]]);
        pthread_mutex_lock(&c->mutex);
        pr->bytes_read += c->packs[pr->order[i]].size;
        pr->finished++;
        pthread_mutex_unlock(&c->mutex);
    }
    blob_codec_free(codec);
    return NULL;
}

/* Slice of a pack for partial reads: the top bits of its id, which is a
 * hash, spread packs evenly. */
static unsigned pack_slice(const uint8_t id[CRYPTO_ID_SIZE], unsigned slices)
{
    uint32_t top = (uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3];
    return (unsigned)(((uint64_t)top * slices) >> 32);
}

static void read_packs(struct checker *c)
{
    size_t *order = xmalloc((c->pack_count ? c->pack_count : 1) * sizeof *order);
    size_t count = 0;
    unsigned slices = c->opts->read_slices;
    for (size_t i = 0; i < c->pack_count; i++)
        if (c->packs[i].is_wanted && !c->packs[i].is_condemned && (slices <= 1 || pack_slice(c->packs[i].id, slices) == c->opts->read_slice))
            order[count++] = i;
    struct pack_reader pr = {c, order, count, 0, 0, 0};
    struct progress *progress = c->opts->progress;
    for (size_t i = 0; i < count; i++)
        progress->total_bytes += c->packs[order[i]].size;
    unsigned workers = c->opts->workers ? c->opts->workers : ops_default_workers();
    pthread_t *threads = xcalloc(workers, sizeof *threads);
    for (unsigned i = 0; i < workers; i++)
        pthread_create(&threads[i], NULL, pack_reader_main, &pr);
    /* Progress is reported from this thread only (progress.h). */
    for (bool is_done = false; !is_done;) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&c->mutex);
        progress->bytes = pr.bytes_read;
        progress->files = pr.finished;
        is_done = pr.finished == count || interrupt_signal(); /* the joins wait for the packs being read */
        pthread_mutex_unlock(&c->mutex);
        progress_update(progress);
    }
    for (unsigned i = 0; i < workers; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(order);
}

/* One line per dictionary that could not be read, however many blobs it
 * takes with it. */
static void report_dictionaries(struct checker *c, const struct snapshot *const *snaps, size_t count)
{
    for (size_t i = 0; i < c->dict_count; i++) {
        const struct dict_damage *d = &c->dicts[i];
        char dict_short[17];
        struct string_list users = {0};
        id_short(d->id, dict_short);
        for (size_t s = 0; s < count; s++)
            for (size_t k = 0; k < snaps[s]->dictionary_count; k++)
                if (!memcmp(snaps[s]->dictionaries[k], d->id, CRYPTO_ID_SIZE)) {
                    char hex[65];
                    snapshot_id_hex(snaps[s], hex);
                    string_list_add(&users, hex);
                    break;
                }
        struct check_problem *p =
            report(c, "dictionary", NULL, d->id, "dictionary %s cannot be read (%s): %llu blob%s compressed with "
                   "it cannot be opened, in %zu snapshot%s that name it", dict_short, d->why,
                   (unsigned long long)d->blobs, d->blobs == 1 ? "" : "s", users.count, users.count == 1 ? "" : "s");
        p->snapshots = users;
    }
}

/* A snapshot forget removed that is there again: an old copy of the
 * repository put back in part, or someone replaying deleted objects. */
static void report_resurrected(struct checker *c, const struct snapshot_list *list)
{
    struct event_list events = {0};
    struct error ignored;
    if (list->count == 0 || event_list_load(c->repo, "forget", &events, &ignored) < 0)
        return;
    struct index *listed = index_new(); /* snapshot ids, the list position as "offset" */
    for (size_t i = 0; i < list->count; i++) {
        struct index_entry e = {.pack = INDEX_PACK_PENDING, .offset = (uint32_t)i};
        memcpy(e.id, list->items[i].id, CRYPTO_ID_SIZE);
        index_insert(listed, &e);
    }
    for (size_t e = 0; e < events.count; e++) {
        json_t *ids = json_object_get(events.items[e].doc, "removed_ids");
        for (size_t k = 0; k < json_array_size(ids); k++) {
            const char *removed = json_string_value(json_array_get(ids, k));
            uint8_t id[CRYPTO_ID_SIZE];
            struct index_entry found;
            if (!removed || hex_decode(removed, id, CRYPTO_ID_SIZE) < 0 || !index_find(listed, id, &found))
                continue;
            char when[32];
            time_format_rfc3339((int64_t)events.items[e].time, when);
            struct check_problem *p =
                report(c, "snapshot_resurrected", NULL, NULL, "snapshot %.8s (source %s) was removed by forget at %s "
                       "and is back (an old copy of it was put back): remove it again with `coffer forget` if it is "
                       "not wanted", removed, list->items[found.offset].source, when);
            string_list_add(&p->snapshots, removed);
        }
    }
    index_free(listed);
    event_list_free(&events);
}

/* A snapshot object that cannot be read: the line snapshot_list_load
 * wrote ("snapshots/<id>: why"), with the id when it has one. */
static void report_unreadable_snapshot(struct checker *c, const char *line)
{
    static const char prefix[] = "snapshots/";
    uint8_t id[CRYPTO_ID_SIZE];
    struct check_problem *p = report(c, "snapshot_unreadable", NULL, NULL, "snapshot %s", line);
    char hex_id[2 * CRYPTO_ID_SIZE + 1];
    snprintf(hex_id, sizeof hex_id, "%s", strncmp(line, prefix, sizeof prefix - 1) ? "" : line + sizeof prefix - 1);
    if (hex_decode(hex_id, id, CRYPTO_ID_SIZE) == 0) {
        char hex[65];
        hex_encode(id, CRYPTO_ID_SIZE, hex);
        string_list_add(&p->snapshots, hex);
    }
}

static bool is_read_pack(void *ctx, const uint8_t pack[CRYPTO_ID_SIZE])
{
    const struct stored_pack *p = find_stored(ctx, pack);
    return p && p->is_read;
}

/* Replaces the damage records with what this check knows. A check that
 * read no data keeps the old blob records; one that found nothing and
 * had none writes nothing. Where the records cannot be written (a
 * read-only store), the check says so only if it found damage, which
 * fails it anyway. */
static void record_damage(struct checker *c)
{
    struct damage_list old;
    struct error err;
    bool has_found = c->found.count || c->found.missing_count;
    int rc = damage_load(c->repo, &old, &err);
    if (rc == 0 && (old.name_count || has_found))
        rc = damage_replace(c->repo, &old, &c->found, is_read_pack, c, &err);
    if (rc < 0 && has_found)
        report(c, "record", NULL, NULL, "%s (backups may deduplicate against the damage until a check can record it)",
               err.msg);
    damage_free(&old);
}

/* 0, or -1 with ERR_INTERRUPTED saying how far the check came. */
static int check_stopped(const struct checker *c, struct error *err)
{
    struct error stop;
    if (interrupt_check(&stop) == 0)
        return 0;
    return error_setk(err, ERR_INTERRUPTED, "%s: check stopped, nothing recorded (%llu of %zu packs read, %llu "
                      "problem%s reported)", stop.msg, (unsigned long long)c->result->packs_read, c->pack_count,
                      (unsigned long long)c->result->errors, c->result->errors == 1 ? "" : "s");
}

int ops_check(struct repo *repo, const struct check_options *opts, struct check_result *result, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    const struct snapshot **snaps = NULL;
    size_t snap_count = 0;
    struct checker c = {.repo = repo, .opts = opts, .result = result};
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    pthread_mutex_init(&c.mutex, NULL);
    c.bad = index_new();
    c.visited = index_new();
    c.codec = repo_blob_codec_new(repo);
    /* Snapshots, then index files, then packs: a backup running meanwhile
     * writes in the opposite order (packs, index, snapshot), so whatever
     * an object read first refers to exists by the time it is listed. */
    if (snapshot_list_load(repo, &list, err) < 0)
        report(&c, "snapshot_list", NULL, NULL, "%s", err->msg);
    else
        result->is_snapshot_list_read = true;
    int rc = repo_load_index(repo, err);
    for (size_t i = 0; rc == 0 && repo_index_problem(repo, i); i++)
        report(&c, "index", NULL, NULL, "%s (what it indexed is stored again by the next backup; rebuild it with "
               "`coffer repair index`)", repo_index_problem(repo, i));
    if (rc == 0)
        rc = store_list(repo_store(repo), "data", collect_pack, &c, err);
    if (rc < 0)
        goto out;
    if (c.pack_count > 1)
        qsort(c.packs, c.pack_count, sizeof *c.packs, compare_packs);
    result->packs = c.pack_count;
    for (size_t i = 0; i < c.pack_count; i++)
        result->pack_bytes += c.packs[i].size;
    compare_packs_with_index(&c);
    note_condemned_packs(&c);
    for (size_t i = 0; i < list.unreadable.count; i++)
        report_unreadable_snapshot(&c, list.unreadable.items[i]);
    report_resurrected(&c, &list);
    snaps = xcalloc(list.count + 1, sizeof *snaps);
    for (size_t i = 0; i < list.count; i++)
        if (!opts->source || !strcmp(list.items[i].source, opts->source))
            snaps[snap_count++] = &list.items[i];
    if (opts->source && snap_count == 0) {
        rc = error_setk(err, ERR_NOT_FOUND, "the repository has no snapshot of source %s", opts->source);
        goto out;
    }
    result->snapshots = snap_count;
    if (opts->is_read_data) {
        if (opts->source)
            want_packs_of(&c, snaps, snap_count);
        read_packs(&c);
    }
    /* Stopped: what was read so far is neither recorded nor judged, as a
     * half-read repository would look damaged (or whole) for no reason. */
    if ((rc = check_stopped(&c, err)) < 0)
        goto out;
    index_each(repo_index(repo), check_entry, &c);
    report_dictionaries(&c, snaps, snap_count);

    struct walk_state ws = {&c, false, true};
    for (size_t i = 0; i < snap_count && !interrupt_signal(); i++) {
        for (size_t d = 0; d < snaps[i]->dictionary_count; d++)
            check_blob_id(&ws, snaps[i]->dictionaries[d], BLOB_DICT, err);
        walk_tree(&ws, snaps[i]->root);
    }
    if ((rc = check_stopped(&c, err)) < 0) /* during the walk */
        goto out;
    if (result->errors > 0 || index_blob_count(c.bad) > 0) {
        /* Second pass: which snapshots need what is bad. The first pass
         * may have found bad blobs after walking trees that need them. */
        index_free(c.visited);
        c.visited = index_new();
        bool *is_hurt = xcalloc(snap_count + 1, sizeof *is_hurt);
        for (size_t i = 0; i < snap_count; i++) {
            struct walk_state trace = {&c, false, false};
            for (size_t d = 0; d < snaps[i]->dictionary_count; d++)
                check_blob_id(&trace, snaps[i]->dictionaries[d], BLOB_DICT, err);
            if (walk_tree(&trace, snaps[i]->root) || trace.needs_bad) {
                char hex[65], when[32];
                snapshot_id_hex(snaps[i], hex);
                time_format_rfc3339(snaps[i]->time, when);
                struct check_problem *p =
                    report(&c, "snapshot", NULL, NULL, "snapshot %.8s (source %s, %s) cannot be fully restored: it "
                           "needs missing or damaged data", hex, snaps[i]->source, when);
                string_list_add(&p->snapshots, hex);
                is_hurt[i] = true;
            }
        }
        check_name_hurt(repo, c.codec, c.bad, c.visited, result, snaps, snap_count, is_hurt);
        free(is_hurt);
    }
    record_damage(&c);
    if (repo_index_problem(repo, 0))
        result->todo = "coffer repair index, then coffer check --read-data";
    else if (c.found.count || c.found.missing_count)
        result->todo = "coffer repair packs, then coffer backup of the affected sources, then coffer check "
                       "--read-data";
    else if (result->errors && !opts->is_read_data)
        result->todo = "coffer check --read-data (it records what is damaged), then coffer repair packs";
    else if (result->errors)
        result->todo = "coffer repair snapshots (it says what each snapshot lacks), then coffer backup";
    rc = 0;
    if (result->errors > 0)
        rc = error_set(err, "check found %llu error%s", (unsigned long long)result->errors,
                       result->errors == 1 ? "" : "s");
out:
    if (opts->snapshots) { /* handed over, read or not */
        *opts->snapshots = list;
        memset(&list, 0, sizeof list);
    }
    free(snaps);
    snapshot_list_free(&list);
    blob_codec_free(c.codec);
    damage_free(&c.found);
    free(c.dicts);
    index_free(c.bad);
    index_free(c.visited);
    free(c.packs);
    pthread_mutex_destroy(&c.mutex);
    repo_unlock(lock);
    return rc;
}

int ops_check_next_slice(struct repo *repo, const char *source, unsigned percent, unsigned *slice,
                         unsigned *slices, struct error *err)
{
    *slices = percent >= 100 || percent == 0 ? 1 : 100 / percent;
    *slice = 0;
    if (*slices == 1)
        return 0;
    struct event_list events;
    if (event_list_load(repo, "check", &events, err) < 0)
        return -1;
    for (size_t i = events.count; i-- > 0;) {
        json_t *doc = events.items[i].doc;
        const char *s = json_string_value(json_object_get(doc, "source"));
        json_int_t n = json_integer_value(json_object_get(doc, "read_slices"));
        if (n != (json_int_t)*slices || (source ? !s || strcmp(s, source) : s != NULL))
            continue;
        *slice = (unsigned)((json_integer_value(json_object_get(doc, "read_slice")) + 1) % n);
        break;
    }
    event_list_free(&events);
    return 0;
}
