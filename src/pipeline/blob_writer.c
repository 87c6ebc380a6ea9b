/*
 * blob_writer.c — the parallel store path for blobs (see blob_writer.h).
 *
 * One mutex guards the job ring, the pack being filled, the hand-off slot
 * for a full pack and the written packs waiting for an index file; the
 * costly work (compress, seal, store_put) runs outside it. Packs are handed
 * to the writer threads through a slot of depth one, which bounds memory.
 * There are as many writers as the store wants uploads in flight
 * (store_parallel_uploads): one for a local disk, whose writes are best
 * sequential; several for S3, where one upload leaves the link idle
 * between requests.
 */
#include "pipeline/blob_writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/pack.h"
#include "util/interrupt.h"
#include "util/text.h"

/* An index file is written after this many packs, so an interrupted long
 * backup leaves most of what it stored indexed and reusable. */

/* Small blobs travel in batches: one hand-over between threads per
 * ~256 KiB instead of per blob (measured: per-blob hand-overs cost ~2 s per
 * GiB of 16 KiB database chunks, in futex calls). */
#define BATCH_BYTES (256u << 10)
#define BATCH_BLOBS 64

struct job_blob {
    const struct blob_dict *dict;
    uint8_t type;
    uint8_t id[CRYPTO_ID_SIZE];
    size_t offset; /* in the job's data */
    size_t len;
};

struct job {
    struct job_blob blobs[BATCH_BLOBS];
    size_t count;
    struct buf data; /* the blobs' contents, one after another */
};

struct open_pack {
    struct pack_builder builder;
    uint32_t number; /* in the in-memory index */
};

struct blob_writer {
    struct repo *repo;
    pthread_mutex_t mutex;
    pthread_cond_t job_ready;  /* a job was queued, or stopping */
    pthread_cond_t job_free;   /* a job went back to the free list */
    pthread_cond_t pack_ready; /* a full pack waits for the writer */
    pthread_cond_t pack_taken; /* the writer took the full pack */

    struct job **queue; /* ring of job_total slots: every job may be queued at once */
    size_t queue_head;
    size_t queue_count;
    struct job **free_jobs;
    size_t free_count;
    size_t job_total;
    unsigned busy_workers;

    pthread_t *workers;
    unsigned worker_count;
    pthread_t *writers;
    unsigned writer_count;

    struct open_pack *filling;
    struct open_pack *full;
    /* The last written pack's buffer, reused by the next pack: a fresh
     * 16 MiB buffer costs 4096 page faults, 0.1 s per GB stored. */
    struct buf spare_pack;
    bool is_stopping_workers;
    bool is_stopping_writer;

    /* Written packs not yet named by an index file. */
    struct pack_record *unindexed;
    size_t unindexed_count;

    bool has_failed;
    struct error failure;
    struct blob_writer_stats stats;
    const struct blob_dict *dict; /* for data blobs added from now on */
    struct job *batch;            /* being filled by the caller's thread, or NULL */
    bool is_verifying;            /* each sealed blob is opened again before it goes into a pack */
    struct dict_copy *copies;     /* dictionaries whose second copy waits for the next pack */
    size_t copy_count;
};

/* A dictionary is stored in two packs: every blob compressed with it
 * depends on it, and one damaged byte would otherwise take them all
 * (docs/format.md, "Dictionaries"). The second copy goes into the next pack
 * opened, so the two never share a pack. */
struct dict_copy {
    struct index_entry entry; /* of the first copy (its pack number) */
    struct buf sealed;
};

static void fail_locked(struct blob_writer *w, const struct error *err)
{
    if (!w->has_failed) {
        w->has_failed = true;
        w->failure = *err;
    }
    /* Wake everyone who might wait for progress that will not come. */
    pthread_cond_broadcast(&w->job_free);
    pthread_cond_broadcast(&w->pack_taken);
}

static struct open_pack *open_pack_new(struct blob_writer *w)
{
    struct open_pack *p = xcalloc(1, sizeof *p);
    p->builder.data = w->spare_pack;
    w->spare_pack = (struct buf)BUF_INIT;
    pack_builder_start(&p->builder);
    pack_builder_reserve(w->repo, &p->builder);
    p->number = index_add_pack(repo_index(w->repo), p->builder.record.id);
    return p;
}

static void open_pack_free(struct open_pack *p)
{
    if (!p)
        return;
    pack_builder_free(&p->builder);
    free(p);
}

/* Hands the filling pack to the writer, waiting for the slot. */
static void hand_off_locked(struct blob_writer *w)
{
    while (w->full && !w->has_failed)
        pthread_cond_wait(&w->pack_taken, &w->mutex);
    if (w->has_failed) {
        open_pack_free(w->filling);
    } else {
        w->full = w->filling;
        pthread_cond_signal(&w->pack_ready);
    }
    w->filling = NULL;
}

/* Appends a sealed blob to the pack being filled and records where. */
/* Puts the waiting second copies of dictionaries into the pack being
 * filled (a pack other than their first copy's); they are listed in its
 * index record, and readers fall back on them (index_find_other). */
static void add_dict_copies_locked(struct blob_writer *w)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->copy_count; i++) {
        struct dict_copy *c = &w->copies[i];
        if (c->entry.pack == w->filling->number) {
            w->copies[kept++] = *c;
            continue;
        }
        struct index_entry e = c->entry;
        e.pack = w->filling->number;
        e.length = (uint32_t)c->sealed.len;
        e.offset = pack_builder_add(&w->filling->builder, e.id, e.type, c->sealed.data, c->sealed.len, e.raw_length);
        index_insert(repo_index(w->repo), &e); /* the first copy stays the one readers try first */
        buf_free(&c->sealed);
    }
    w->copy_count = kept;
}

static void add_to_pack_locked(struct blob_writer *w, const struct job_blob *b, const struct buf *sealed)
{
    if (!w->filling) {
        w->filling = open_pack_new(w);
        add_dict_copies_locked(w);
    }
    struct index_entry e = {0};
    memcpy(e.id, b->id, CRYPTO_ID_SIZE);
    e.type = b->type;
    e.pack = w->filling->number;
    e.length = (uint32_t)sealed->len;
    e.raw_length = (uint32_t)b->len;
    e.offset = pack_builder_add(&w->filling->builder, b->id, b->type, sealed->data, sealed->len, e.raw_length);
    index_set_location(repo_index(w->repo), &e);
    if (b->type == BLOB_DICT) {
        w->copies = xrealloc(w->copies, (w->copy_count + 1) * sizeof *w->copies);
        struct dict_copy *c = &w->copies[w->copy_count++];
        c->entry = e;
        c->sealed = (struct buf)BUF_INIT;
        buf_append(&c->sealed, sealed->data, sealed->len);
    }
    w->stats.blobs_new++;
    w->stats.bytes_new += b->len;
    if (pack_builder_is_full(w->repo, &w->filling->builder))
        hand_off_locked(w);
}

static void *worker_main(void *arg)
{
    struct blob_writer *w = arg;
    struct blob_codec *codec = repo_blob_codec_new(w->repo);
    struct buf sealed = BUF_INIT, check = BUF_INIT;
    pthread_mutex_lock(&w->mutex);
    for (;;) {
        while (w->queue_count == 0 && !w->is_stopping_workers)
            pthread_cond_wait(&w->job_ready, &w->mutex);
        if (w->queue_count == 0)
            break;
        struct job *job = w->queue[w->queue_head];
        w->queue_head = (w->queue_head + 1) % w->job_total;
        w->queue_count--;
        w->busy_workers++;
        bool is_failed = w->has_failed;
        pthread_mutex_unlock(&w->mutex);

        for (size_t i = 0; i < job->count && !is_failed; i++) {
            const struct job_blob *b = &job->blobs[i];
            struct error verify_err;
            blob_seal(w->repo, codec, b->dict, b->id, job->data.data + b->offset, b->len, &sealed);
            bool is_bad = w->is_verifying && blob_verify_sealed(w->repo, codec, b->id, sealed.data, sealed.len,
                                                                job->data.data + b->offset, b->len, &check,
                                                                &verify_err) < 0;
            pthread_mutex_lock(&w->mutex);
            if (is_bad)
                fail_locked(w, &verify_err);
            is_failed = w->has_failed;
            if (!is_failed)
                add_to_pack_locked(w, b, &sealed);
            pthread_mutex_unlock(&w->mutex);
        }

        pthread_mutex_lock(&w->mutex);
        job->count = 0;
        buf_reset(&job->data);
        w->free_jobs[w->free_count++] = job;
        w->busy_workers--;
        pthread_cond_broadcast(&w->job_free);
    }
    pthread_mutex_unlock(&w->mutex);
    buf_free(&sealed);
    buf_free(&check);
    blob_codec_free(codec);
    return NULL;
}

/* Writes an index file for packs (taken from the unindexed list). */
static int write_index(struct blob_writer *w, struct pack_record *packs, size_t count, struct error *err)
{
    uint64_t bytes = 0;
    int rc = count ? repo_write_index(w->repo, packs, count, &bytes, err) : 0;
    for (size_t i = 0; i < count; i++)
        pack_record_free(&packs[i]);
    free(packs);
    pthread_mutex_lock(&w->mutex);
    w->stats.bytes_stored += bytes;
    pthread_mutex_unlock(&w->mutex);
    return rc;
}

/* Takes the unindexed packs out of w when there are at least min of them
 * (the caller holds the mutex). */
static size_t take_unindexed_locked(struct blob_writer *w, size_t min, struct pack_record **out)
{
    size_t count = w->unindexed_count;
    if (count == 0 || count < min)
        return 0;
    *out = w->unindexed;
    w->unindexed = NULL;
    w->unindexed_count = 0;
    return count;
}

static int write_pack(struct blob_writer *w, struct open_pack *p, struct error *err)
{
    if (repo_put_pack(w->repo, &p->builder, err) < 0)
        return -1;
    struct pack_record *full = NULL;
    pthread_mutex_lock(&w->mutex);
    w->unindexed = xrealloc(w->unindexed, (w->unindexed_count + 1) * sizeof *w->unindexed);
    w->unindexed[w->unindexed_count++] = p->builder.record;
    memset(&p->builder.record, 0, sizeof p->builder.record); /* moved */
    w->stats.bytes_stored += p->builder.data.len;
    w->stats.packs++;
    size_t count = take_unindexed_locked(w, REPO_PACKS_PER_INDEX, &full);
    pthread_mutex_unlock(&w->mutex);
    return count ? write_index(w, full, count, err) : 0;
}

static void *writer_main(void *arg)
{
    struct blob_writer *w = arg;
    pthread_mutex_lock(&w->mutex);
    for (;;) {
        while (!w->full && !w->is_stopping_writer)
            pthread_cond_wait(&w->pack_ready, &w->mutex);
        if (!w->full)
            break;
        struct open_pack *p = w->full;
        w->full = NULL;
        pthread_cond_broadcast(&w->pack_taken);
        bool is_failed = w->has_failed;
        pthread_mutex_unlock(&w->mutex);

        struct error err;
        int rc = is_failed ? 0 : write_pack(w, p, &err);

        pthread_mutex_lock(&w->mutex);
        if (!w->spare_pack.data) {
            w->spare_pack = p->builder.data;
            p->builder.data = (struct buf)BUF_INIT;
        }
        open_pack_free(p);
        if (rc < 0)
            fail_locked(w, &err);
    }
    pthread_mutex_unlock(&w->mutex);
    return NULL;
}

bool blob_writer_verifies(void)
{
    const char *env = getenv("COFFER_VERIFY_WRITES");
    return env ? strcmp(env, "0") != 0 : BLOB_WRITER_VERIFY_DEFAULT;
}

struct blob_writer *blob_writer_new(struct repo *repo, unsigned workers)
{
    struct blob_writer *w = xcalloc(1, sizeof *w);
    w->repo = repo;
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->job_ready, NULL);
    pthread_cond_init(&w->job_free, NULL);
    pthread_cond_init(&w->pack_ready, NULL);
    pthread_cond_init(&w->pack_taken, NULL);
    w->is_verifying = blob_writer_verifies();
    w->worker_count = workers ? workers : 1;
    w->job_total = BLOB_WRITER_QUEUE + w->worker_count;
    w->free_jobs = xcalloc(w->job_total, sizeof *w->free_jobs);
    w->queue = xcalloc(w->job_total, sizeof *w->queue);
    for (size_t i = 0; i < w->job_total; i++)
        w->free_jobs[w->free_count++] = xcalloc(1, sizeof(struct job));
    w->workers = xcalloc(w->worker_count, sizeof *w->workers);
    for (unsigned i = 0; i < w->worker_count; i++)
        pthread_create(&w->workers[i], NULL, worker_main, w);
    w->writer_count = store_parallel_uploads(repo_store(repo));
    if (w->writer_count < 1)
        w->writer_count = 1;
    w->writers = xcalloc(w->writer_count, sizeof *w->writers);
    for (unsigned i = 0; i < w->writer_count; i++)
        pthread_create(&w->writers[i], NULL, writer_main, w);
    return w;
}

/* Queues the batch being filled for the workers. */
static void submit_batch(struct blob_writer *w)
{
    struct job *job = w->batch;
    if (!job)
        return;
    w->batch = NULL;
    pthread_mutex_lock(&w->mutex);
    w->queue[(w->queue_head + w->queue_count) % w->job_total] = job;
    w->queue_count++;
    pthread_cond_signal(&w->job_ready);
    pthread_mutex_unlock(&w->mutex);
}

int blob_writer_add(struct blob_writer *w, enum blob_type type, const uint8_t *data, size_t len,
                    uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    if (interrupt_check(err) < 0)
        return -1;
    struct index_entry e = {0};
    repo_blob_id(w->repo, data, len, id_out);
    memcpy(e.id, id_out, CRYPTO_ID_SIZE);
    e.pack = INDEX_PACK_PENDING;
    e.type = (uint8_t)type;
    bool is_new = index_insert(repo_index(w->repo), &e); /* else known, or on its way */
    if (!is_new) {
        pthread_mutex_lock(&w->mutex);
        int rc = w->has_failed ? (*err = w->failure, -1) : 0;
        pthread_mutex_unlock(&w->mutex);
        return rc;
    }
    if (!w->batch) {
        pthread_mutex_lock(&w->mutex);
        while (w->free_count == 0 && !w->has_failed)
            pthread_cond_wait(&w->job_free, &w->mutex);
        if (w->has_failed) {
            *err = w->failure;
            pthread_mutex_unlock(&w->mutex);
            return -1;
        }
        w->batch = w->free_jobs[--w->free_count];
        pthread_mutex_unlock(&w->mutex);
    }
    struct job *job = w->batch;
    struct job_blob *b = &job->blobs[job->count++];
    b->type = (uint8_t)type;
    b->dict = type == BLOB_DATA ? w->dict : NULL;
    memcpy(b->id, id_out, CRYPTO_ID_SIZE);
    b->offset = job->data.len;
    b->len = len;
    buf_append(&job->data, data, len);
    if (job->count == BATCH_BLOBS || job->data.len >= BATCH_BYTES)
        submit_batch(w);
    return 0;
}

void blob_writer_use_dictionary(struct blob_writer *w, const struct blob_dict *dict)
{
    w->dict = dict; /* read only by the caller's thread, in blob_writer_add */
}

static void stop_threads(struct blob_writer *w)
{
    submit_batch(w); /* the last, partly filled batch */
    pthread_mutex_lock(&w->mutex);
    w->is_stopping_workers = true;
    pthread_cond_broadcast(&w->job_ready);
    pthread_mutex_unlock(&w->mutex);
    for (unsigned i = 0; i < w->worker_count; i++)
        pthread_join(w->workers[i], NULL);
    w->worker_count = 0;

    pthread_mutex_lock(&w->mutex);
    if (w->filling && w->filling->builder.record.count > 0 && !w->has_failed)
        hand_off_locked(w);
    if (w->copy_count && !w->has_failed) { /* second copies still waiting: a small pack of their own */
        w->filling = open_pack_new(w);
        add_dict_copies_locked(w);
        hand_off_locked(w);
    }
    w->is_stopping_writer = true;
    pthread_cond_broadcast(&w->pack_ready);
    pthread_mutex_unlock(&w->mutex);
    for (unsigned i = 0; i < w->writer_count; i++)
        pthread_join(w->writers[i], NULL);
    w->writer_count = 0;
}

int blob_writer_finish(struct blob_writer *w, struct error *err)
{
    stop_threads(w);
    if (!w->has_failed) {
        struct pack_record *rest = NULL;
        pthread_mutex_lock(&w->mutex);
        size_t count = take_unindexed_locked(w, 1, &rest);
        pthread_mutex_unlock(&w->mutex);
        struct error index_err;
        if (write_index(w, rest, count, &index_err) < 0)
            fail_locked(w, &index_err);
    }
    if (w->has_failed) {
        *err = w->failure;
        return error_wrap(err, "cannot store data");
    }
    return 0;
}

int blob_writer_keep(struct blob_writer *w, const char *lost, const char *next, struct error *err)
{
    pthread_mutex_lock(&w->mutex);
    struct error stopped;
    error_set(&stopped, "stopped");
    fail_locked(w, &stopped); /* queued work is dropped, a pack being filled too */
    pthread_mutex_unlock(&w->mutex);
    stop_threads(w);
    struct pack_record *rest = NULL;
    pthread_mutex_lock(&w->mutex);
    size_t count = take_unindexed_locked(w, 1, &rest);
    pthread_mutex_unlock(&w->mutex);
    struct error why;
    char line[ERROR_MSG_MAX];
    if (write_index(w, rest, count, &why) < 0) {
        snprintf(line, sizeof line, "%s: %s; the packs stored before the stop are left for prune, as their index "
                 "could not be written: %s", err->msg, lost, why.msg);
    } else {
        struct blob_writer_stats kept;
        char size[32];
        blob_writer_get_stats(w, &kept);
        size_format(kept.bytes_stored, size);
        snprintf(line, sizeof line, "%s: %s; %llu pack%s (%s) stored before the stop kept for %s", err->msg, lost,
                 (unsigned long long)kept.packs, kept.packs == 1 ? "" : "s", size, next);
    }
    return error_setk(err, err->kind, "%s", line);
}

void blob_writer_get_stats(const struct blob_writer *w, struct blob_writer_stats *stats)
{
    pthread_mutex_lock((pthread_mutex_t *)&w->mutex);
    *stats = w->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&w->mutex);
}

void blob_writer_free(struct blob_writer *w)
{
    if (!w)
        return;
    if (w->worker_count || w->writer_count) {
        /* Abandoned: drop queued work so the threads stop quickly. */
        pthread_mutex_lock(&w->mutex);
        struct error abandoned;
        error_set(&abandoned, "backup abandoned");
        fail_locked(w, &abandoned);
        pthread_mutex_unlock(&w->mutex);
        stop_threads(w);
    }
    for (size_t i = 0; i < w->free_count; i++) {
        buf_free(&w->free_jobs[i]->data);
        free(w->free_jobs[i]);
    }
    for (size_t i = 0; i < w->queue_count; i++) {
        struct job *job = w->queue[(w->queue_head + i) % w->job_total];
        buf_free(&job->data);
        free(job);
    }
    for (size_t i = 0; i < w->unindexed_count; i++)
        pack_record_free(&w->unindexed[i]);
    free(w->unindexed);
    for (size_t i = 0; i < w->copy_count; i++)
        buf_free(&w->copies[i].sealed);
    free(w->copies);
    open_pack_free(w->filling);
    open_pack_free(w->full);
    buf_free(&w->spare_pack);
    free(w->free_jobs);
    free(w->queue);
    free(w->workers);
    free(w->writers);
    pthread_mutex_destroy(&w->mutex);
    pthread_cond_destroy(&w->job_ready);
    pthread_cond_destroy(&w->job_free);
    pthread_cond_destroy(&w->pack_ready);
    pthread_cond_destroy(&w->pack_taken);
    free(w);
}
