/*
 * ledger.c — the run ledger in the state directory (ledger.h): a JSON
 * document, read whole under a flock, written whole with a rename.
 */
#include "sched/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fdio.h"

#define LEDGER_VERSION 1
#define LEDGER_SIZE_MAX (4u << 20) /* a few hundred bytes per job */

static void job_free(struct ledger_job *j)
{
    free(j->name);
    free(j->error);
}

static void jobs_free(struct ledger *l)
{
    for (size_t i = 0; i < l->count; i++)
        job_free(&l->jobs[i]);
    free(l->jobs);
    l->jobs = NULL;
    l->count = 0;
}

/* A time or count from the file, kept within what arithmetic on it can
 * take (a damaged ledger must not make the schedule's sums overflow). */
static int64_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
    return n < 0 ? 0 : n > ((json_int_t)1 << 40) ? (int64_t)1 << 40 : (int64_t)n;
}

int ledger_parse(const char *text, size_t len, struct ledger *l, struct error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *jobs = json_object_get(doc, "jobs");
    if (!json_is_object(doc) || int_of(doc, "version") != LEDGER_VERSION || !json_is_object(jobs)) {
        json_decref(doc);
        return error_set(err, "not a coffer run ledger (version %d)", LEDGER_VERSION);
    }
    const char *name;
    json_t *j;
    json_object_foreach(jobs, name, j) {
        if (!json_is_object(j) || !*name || strlen(name) > 255)
            continue;
        l->jobs = xrealloc(l->jobs, (l->count + 1) * sizeof *l->jobs);
        struct ledger_job *job = &l->jobs[l->count++];
        memset(job, 0, sizeof *job);
        job->name = xstrdup(name);
        job->since = int_of(j, "since");
        job->slot = int_of(j, "slot");
        job->started = int_of(j, "started");
        job->ended = int_of(j, "ended");
        job->last_ok = int_of(j, "last_ok");
        job->skipped_in_a_row = (unsigned)(int_of(j, "skipped_in_a_row") & 0xffff);
        job->failed_in_a_row = (unsigned)(int_of(j, "failed_in_a_row") & 0xffff);
        const char *outcome = json_string_value(json_object_get(j, "outcome"));
        snprintf(job->outcome, sizeof job->outcome, "%s", outcome ? outcome : "");
        const char *error = json_string_value(json_object_get(j, "error"));
        job->error = error ? xstrdup(error) : NULL;
    }
    json_decref(doc);
    return 0;
}

int ledger_open(const char *dir, struct ledger *l, struct error *err)
{
    char path[4096];
    memset(l, 0, sizeof *l);
    l->lock_fd = -1;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return error_set(err, "cannot create the state directory %s: %s (set state_dir: in coffer.yaml to a "
                         "directory coffer may write)", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/ledger.lock", dir);
    l->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (l->lock_fd < 0)
        return error_set(err, "cannot open %s: %s (set state_dir: in coffer.yaml to a directory coffer may "
                         "write)", path, strerror(errno));
    while (flock(l->lock_fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            int saved = errno;
            close(l->lock_fd);
            l->lock_fd = -1;
            return error_set(err, "cannot lock %s: %s", path, strerror(saved));
        }
    l->dir = xstrdup(dir);
    snprintf(path, sizeof path, "%s/ledger.json", dir);
    struct buf text = BUF_INIT;
    struct error why;
    if (read_file_max(path, LEDGER_SIZE_MAX, &text) < 0 && errno != ENOENT) {
        error_set(err, "cannot read %s: %s", path, strerror(errno));
        buf_free(&text);
        ledger_close(l);
        return -1;
    }
    if (text.len && (text.len > LEDGER_SIZE_MAX || ledger_parse((const char *)text.data, text.len, l, &why) < 0)) {
        char aside[4096 + 8];
        jobs_free(l);
        snprintf(aside, sizeof aside, "%s.bad", path);
        rename(path, aside);
        snprintf(l->warning, sizeof l->warning, "the run ledger %s could not be read (%s); it is kept as %s and "
                 "the schedule starts again from now: slots missed before are not run", path,
                 text.len > LEDGER_SIZE_MAX ? "too large" : why.msg, aside);
    }
    buf_free(&text);
    return 0;
}

struct ledger_job *ledger_job(struct ledger *l, const char *name, int64_t now)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->jobs[i].name, name))
            return &l->jobs[i];
    l->jobs = xrealloc(l->jobs, (l->count + 1) * sizeof *l->jobs);
    struct ledger_job *job = &l->jobs[l->count++];
    memset(job, 0, sizeof *job);
    job->name = xstrdup(name);
    job->since = now;
    return job;
}

static json_t *job_json(const struct ledger_job *j)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:s, s:s?, s:I, s:I, s:I}", "since", (json_int_t)j->since, "slot",
                     (json_int_t)j->slot, "started", (json_int_t)j->started, "ended", (json_int_t)j->ended,
                     "outcome", j->outcome, "error", j->error, "last_ok", (json_int_t)j->last_ok,
                     "skipped_in_a_row", (json_int_t)j->skipped_in_a_row, "failed_in_a_row",
                     (json_int_t)j->failed_in_a_row);
}

int ledger_save(struct ledger *l, struct error *err)
{
    json_t *jobs = json_object();
    for (size_t i = 0; i < l->count; i++)
        json_object_set_new(jobs, l->jobs[i].name, job_json(&l->jobs[i]));
    json_t *doc = json_pack("{s:i, s:o}", "version", LEDGER_VERSION, "jobs", jobs);
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    char path[4096];
    snprintf(path, sizeof path, "%s/ledger.json", l->dir);
    int rc = write_file_atomic(path, text, strlen(text), 0600);
    int saved = errno;
    free(text);
    return rc < 0 ? error_set(err, "cannot write the run ledger %s: %s", path, strerror(saved)) : 0;
}

void ledger_close(struct ledger *l)
{
    if (l->lock_fd >= 0)
        close(l->lock_fd); /* releases the flock */
    jobs_free(l);
    free(l->dir);
    memset(l, 0, sizeof *l);
    l->lock_fd = -1;
}

int ledger_run_lock(const char *dir, const char *job)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/run-%s.lock", dir, job);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
