/*
 * content.c — content lists: writing (chunk, store, collect ids level upon
 * level) and reading (parallel fetch, in-order delivery). See content.h.
 */
#include "pipeline/content.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/readahead.h"
#include "repo/blob.h"

/* ---- writing ---------------------------------------------------------- */

void content_writer_init(struct content_writer *cw, struct blob_writer *blobs, const struct chunker *chunker)
{
    memset(cw, 0, sizeof *cw);
    cw->blobs = blobs;
    cw->chunker = chunker;
    /* The window must hold a whole chunk beyond any partial one. */
    size_t window = CONTENT_WINDOW;
    if (window < 2 * (size_t)chunker->params.max_size)
        window = 2 * (size_t)chunker->params.max_size;
    buf_reserve(&cw->window, window);
}

void content_writer_free(struct content_writer *cw)
{
    buf_free(&cw->window);
    for (int i = 0; i < CONTENT_MAX_DEPTH; i++)
        buf_free(&cw->levels[i]);
}

static int push_id(struct content_writer *cw, int level, const uint8_t id[CRYPTO_ID_SIZE], struct error *err)
{
    struct buf *ids = &cw->levels[level];
    buf_append(ids, id, CRYPTO_ID_SIZE);
    if (ids->len < (size_t)CONTENT_FANOUT * CRYPTO_ID_SIZE)
        return 0;
    if (level + 1 >= CONTENT_MAX_DEPTH)
        return error_set(err, "content is too long to list");
    uint8_t list_id[CRYPTO_ID_SIZE];
    if (blob_writer_add(cw->blobs, BLOB_LIST, ids->data, ids->len, list_id, err) < 0)
        return -1;
    buf_reset(ids);
    return push_id(cw, level + 1, list_id, err);
}

static int cut_chunks(struct content_writer *cw, bool is_eof, content_progress_fn progress, void *ctx,
                      struct error *err)
{
    size_t pos = 0;
    while (pos < cw->window.len) {
        size_t n = chunker_cut(cw->chunker, cw->window.data + pos, cw->window.len - pos, is_eof);
        if (n == 0)
            break;
        uint8_t id[CRYPTO_ID_SIZE];
        if (blob_writer_add(cw->blobs, BLOB_DATA, cw->window.data + pos, n, id, err) < 0 ||
            push_id(cw, 0, id, err) < 0)
            return -1;
        pos += n;
        cw->size += n;
        cw->chunks++;
        if (progress)
            progress(ctx, cw->size);
    }
    memmove(cw->window.data, cw->window.data + pos, cw->window.len - pos);
    cw->window.len -= pos;
    return 0;
}

int content_writer_write(struct content_writer *cw, const void *data, size_t len, content_progress_fn progress,
                         void *ctx, struct error *err)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t room = cw->window.cap - cw->window.len;
        size_t n = len < room ? len : room;
        memcpy(cw->window.data + cw->window.len, p, n);
        cw->window.len += n;
        p += n;
        len -= n;
        if (cw->window.len == cw->window.cap && cut_chunks(cw, false, progress, ctx, err) < 0)
            return -1;
    }
    return 0;
}

/* Pipes are drained by a read-ahead thread so that the program writing
 * them never waits for our chunking and hashing. */
static int read_pipe(struct content_writer *cw, int fd, content_progress_fn progress, void *ctx,
                     struct error *err)
{
    /* A bigger pipe means fewer hand-overs between writer and reader. */
    fcntl(fd, F_SETPIPE_SZ, 1 << 20);
    struct readahead *ra = readahead_start(fd);
    int rc = 0;
    for (;;) {
        const uint8_t *data;
        size_t len;
        rc = readahead_next(ra, &data, &len, err);
        if (rc < 0 || len == 0)
            break;
        rc = content_writer_write(cw, data, len, progress, ctx, err);
        if (rc < 0)
            break;
    }
    readahead_stop(ra);
    return rc;
}

int content_writer_read_fd(struct content_writer *cw, int fd, content_progress_fn progress, void *ctx,
                           struct error *err)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return read_pipe(cw, fd, progress, ctx, err);
    for (;;) {
        if (cw->window.len == cw->window.cap && cut_chunks(cw, false, progress, ctx, err) < 0)
            return -1;
        ssize_t n = read(fd, cw->window.data + cw->window.len, cw->window.cap - cw->window.len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return error_errno(err, errno, "read failed");
        }
        if (n == 0)
            return 0;
        cw->window.len += (size_t)n;
    }
}

static int highest_level(const struct content_writer *cw)
{
    int top = 0;
    for (int l = 0; l < CONTENT_MAX_DEPTH; l++)
        if (cw->levels[l].len)
            top = l;
    return top;
}

int content_writer_add_stored(struct content_writer *cw, const uint8_t id[CRYPTO_ID_SIZE], uint64_t len,
                              struct error *err)
{
    if (push_id(cw, 0, id, err) < 0)
        return -1;
    cw->size += len;
    cw->chunks++;
    return 0;
}

int content_writer_finish(struct content_writer *cw, struct content_ref *out, uint64_t *size, struct error *err)
{
    if (cut_chunks(cw, true, NULL, NULL, err) < 0)
        return -1;
    /* Fold every level below the highest into list blobs. */
    for (int l = 0; l < highest_level(cw); l++) {
        struct buf *ids = &cw->levels[l];
        if (!ids->len)
            continue;
        uint8_t list_id[CRYPTO_ID_SIZE];
        if (blob_writer_add(cw->blobs, BLOB_LIST, ids->data, ids->len, list_id, err) < 0)
            return -1;
        buf_reset(ids);
        if (push_id(cw, l + 1, list_id, err) < 0)
            return -1;
    }
    int top = highest_level(cw);
    struct buf *ids = &cw->levels[top];
    out->depth = (uint8_t)top;
    out->count = (uint32_t)(ids->len / CRYPTO_ID_SIZE);
    out->ids = xmalloc(ids->len ? ids->len : 1);
    if (ids->len)
        memcpy(out->ids, ids->data, ids->len);
    buf_reset(ids);
    *size = cw->size;
    cw->size = 0;
    cw->chunks = 0;
    return 0;
}

static int check_reusable(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct repo *repo = ctx;
    struct index_entry e;
    if (!index_find(repo_index(repo), id, &e) || !index_is_usable(repo_index(repo), &e))
        return error_set(err, "not reusable");
    return 0;
}

bool content_is_reusable(struct repo *repo, struct blob_codec *codec, const struct content_ref *ref)
{
    struct error ignored;
    return content_walk_ids(repo, codec, ref, check_reusable, repo, &ignored) == 0;
}

void content_ref_copy(struct content_ref *to, const struct content_ref *from)
{
    to->depth = from->depth;
    to->count = from->count;
    size_t bytes = (size_t)from->count * CRYPTO_ID_SIZE;
    to->ids = xmalloc(bytes ? bytes : 1);
    memcpy(to->ids, from->ids, bytes);
}

void content_ref_free(struct content_ref *ref)
{
    free(ref->ids);
    memset(ref, 0, sizeof *ref);
}

/* ---- reading ---------------------------------------------------------- */

#define READ_AHEAD 16

enum slot_state { SLOT_EMPTY, SLOT_QUEUED, SLOT_WORKING, SLOT_DONE, SLOT_FAILED };

struct read_slot {
    uint8_t id[CRYPTO_ID_SIZE];
    enum slot_state state;
    struct buf data;
    struct error err;
};

struct content_reader {
    struct repo *repo;
    pthread_mutex_t mutex;
    pthread_cond_t work; /* a slot was queued, or stopping */
    pthread_cond_t done; /* a slot finished */
    struct read_slot slots[READ_AHEAD];
    uint64_t next_submit;
    uint64_t next_take;
    uint64_t next_emit;
    bool is_stopping;
    pthread_t *workers;
    unsigned worker_count;
    struct blob_codec *codec; /* the caller's thread, for list blobs */
};

static void *reader_main(void *arg)
{
    struct content_reader *cr = arg;
    struct blob_codec *codec = repo_blob_codec_new(cr->repo);
    pthread_mutex_lock(&cr->mutex);
    for (;;) {
        while (cr->next_take == cr->next_submit && !cr->is_stopping)
            pthread_cond_wait(&cr->work, &cr->mutex);
        if (cr->next_take == cr->next_submit)
            break;
        struct read_slot *slot = &cr->slots[cr->next_take++ % READ_AHEAD];
        slot->state = SLOT_WORKING;
        pthread_mutex_unlock(&cr->mutex);

        buf_reset(&slot->data);
        int rc = repo_read_blob(cr->repo, codec, slot->id, &slot->data, &slot->err);

        pthread_mutex_lock(&cr->mutex);
        slot->state = rc == 0 ? SLOT_DONE : SLOT_FAILED;
        pthread_cond_broadcast(&cr->done);
    }
    pthread_mutex_unlock(&cr->mutex);
    blob_codec_free(codec);
    return NULL;
}

struct content_reader *content_reader_new(struct repo *repo, unsigned workers)
{
    struct content_reader *cr = xcalloc(1, sizeof *cr);
    cr->repo = repo;
    pthread_mutex_init(&cr->mutex, NULL);
    pthread_cond_init(&cr->work, NULL);
    pthread_cond_init(&cr->done, NULL);
    cr->codec = repo_blob_codec_new(repo);
    cr->worker_count = workers ? workers : 1;
    cr->workers = xcalloc(cr->worker_count, sizeof *cr->workers);
    for (unsigned i = 0; i < cr->worker_count; i++)
        pthread_create(&cr->workers[i], NULL, reader_main, cr);
    return cr;
}

void content_reader_free(struct content_reader *cr)
{
    if (!cr)
        return;
    pthread_mutex_lock(&cr->mutex);
    cr->is_stopping = true;
    pthread_cond_broadcast(&cr->work);
    pthread_mutex_unlock(&cr->mutex);
    for (unsigned i = 0; i < cr->worker_count; i++)
        pthread_join(cr->workers[i], NULL);
    for (int i = 0; i < READ_AHEAD; i++)
        buf_free(&cr->slots[i].data);
    blob_codec_free(cr->codec);
    pthread_mutex_destroy(&cr->mutex);
    pthread_cond_destroy(&cr->work);
    pthread_cond_destroy(&cr->done);
    free(cr->workers);
    free(cr);
}

struct copy_state {
    struct content_reader *cr;
    content_sink_fn sink;
    void *ctx;
    uint64_t emitted;
};

/* Delivers the oldest submitted blob to the sink. */
static int emit_one(struct copy_state *cs, struct error *err)
{
    struct content_reader *cr = cs->cr;
    struct read_slot *slot = &cr->slots[cr->next_emit % READ_AHEAD];
    pthread_mutex_lock(&cr->mutex);
    while (slot->state != SLOT_DONE && slot->state != SLOT_FAILED)
        pthread_cond_wait(&cr->done, &cr->mutex);
    pthread_mutex_unlock(&cr->mutex);
    int rc;
    if (slot->state == SLOT_FAILED) {
        *err = slot->err;
        rc = -1;
    } else {
        rc = cs->sink(cs->ctx, slot->data.data, slot->data.len, err);
        cs->emitted += slot->data.len;
    }
    pthread_mutex_lock(&cr->mutex);
    slot->state = SLOT_EMPTY;
    cr->next_emit++;
    pthread_mutex_unlock(&cr->mutex);
    return rc;
}

static int submit(struct copy_state *cs, const uint8_t id[CRYPTO_ID_SIZE], struct error *err)
{
    struct content_reader *cr = cs->cr;
    if (cr->next_submit - cr->next_emit == READ_AHEAD && emit_one(cs, err) < 0)
        return -1;
    struct read_slot *slot = &cr->slots[cr->next_submit % READ_AHEAD];
    pthread_mutex_lock(&cr->mutex);
    memcpy(slot->id, id, CRYPTO_ID_SIZE);
    slot->state = SLOT_QUEUED;
    cr->next_submit++;
    pthread_cond_signal(&cr->work);
    pthread_mutex_unlock(&cr->mutex);
    return 0;
}

/* After a failure: let in-flight reads finish and forget them. */
static void drain(struct content_reader *cr)
{
    pthread_mutex_lock(&cr->mutex);
    while (cr->next_emit < cr->next_submit) {
        struct read_slot *slot = &cr->slots[cr->next_emit % READ_AHEAD];
        if (slot->state == SLOT_QUEUED && cr->next_take == cr->next_emit) {
            cr->next_take++; /* never started: skip it */
        } else {
            while (slot->state == SLOT_QUEUED || slot->state == SLOT_WORKING)
                pthread_cond_wait(&cr->done, &cr->mutex);
        }
        slot->state = SLOT_EMPTY;
        cr->next_emit++;
    }
    pthread_mutex_unlock(&cr->mutex);
}

static int read_list_blob(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                          struct buf *out, struct error *err)
{
    if (repo_read_blob(repo, codec, id, out, err) < 0)
        return -1;
    if (out->len % CRYPTO_ID_SIZE != 0 || out->len > (size_t)CONTENT_FANOUT * CRYPTO_ID_SIZE)
        return error_set(err, "list blob has a malformed length");
    return 0;
}

static int copy_level(struct copy_state *cs, unsigned depth, const uint8_t *ids, size_t count, struct error *err)
{
    for (size_t i = 0; i < count; i++) {
        const uint8_t *id = ids + i * CRYPTO_ID_SIZE;
        if (depth == 0) {
            if (submit(cs, id, err) < 0)
                return -1;
            continue;
        }
        struct buf list = BUF_INIT;
        int rc = read_list_blob(cs->cr->repo, cs->cr->codec, id, &list, err);
        if (rc == 0)
            rc = copy_level(cs, depth - 1, list.data, list.len / CRYPTO_ID_SIZE, err);
        buf_free(&list);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int content_reader_copy(struct content_reader *cr, const struct content_ref *ref, uint64_t expected_size,
                        content_sink_fn sink, void *ctx, struct error *err)
{
    struct copy_state cs = {cr, sink, ctx, 0};
    int rc = copy_level(&cs, ref->depth, ref->ids, ref->count, err);
    while (rc == 0 && cr->next_emit < cr->next_submit)
        rc = emit_one(&cs, err);
    if (rc < 0) {
        drain(cr);
        return -1;
    }
    if (cs.emitted != expected_size)
        return error_setk(err, ERR_AUTH, "content is %llu bytes where %llu were recorded",
                          (unsigned long long)cs.emitted, (unsigned long long)expected_size);
    return 0;
}

int content_walk_ids(struct repo *repo, struct blob_codec *codec, const struct content_ref *ref,
                     content_id_fn fn, void *ctx, struct error *err)
{
    for (uint32_t i = 0; i < ref->count; i++) {
        const uint8_t *id = ref->ids + (size_t)i * CRYPTO_ID_SIZE;
        if (fn(ctx, id, ref->depth ? BLOB_LIST : BLOB_DATA, err) < 0)
            return -1;
        if (ref->depth == 0)
            continue;
        struct buf list = BUF_INIT;
        int rc = read_list_blob(repo, codec, id, &list, err);
        if (rc == 0) {
            struct content_ref sub = {(uint8_t)(ref->depth - 1), (uint32_t)(list.len / CRYPTO_ID_SIZE), list.data};
            rc = content_walk_ids(repo, codec, &sub, fn, ctx, err);
        }
        buf_free(&list);
        if (rc < 0)
            return -1;
    }
    return 0;
}
