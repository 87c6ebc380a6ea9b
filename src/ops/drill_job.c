/*
 * drill_job.c — one source's drill as `coffer drill` (and, later, the
 * daemon) runs it: scratch places made, the drill run in a watched child,
 * the scratch places removed, the result recorded as a "drill" event.
 *
 * The drill runs in a child process in its own process group. The watcher
 * knows the scratch places before the child starts (a private directory,
 * the scratch database's name), so when the drill ends — passed, failed,
 * crashed, or stopped by the caller's stop flag (a signal), which kills the
 * child's whole group (pg_restore, redis-server) — it removes them, unless
 * keep_on_failure keeps a failed drill's for inspection and says where.
 */
#include "ops/drill.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "ops/health.h"
#include "repo/event.h"
#include "source/types.h"
#include "util/buf.h"
#include "util/fdio.h"

__attribute__((format(printf, 2, 3)))
static void add_warning(struct drill_job *run, const char *fmt, ...)
{
    char line[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    string_list_add(&run->warnings, line);
}

/* "coffer_drill_<source>_<utc time>_<random>", lower-case letters, digits
 * and '_' only: a database name no one else uses. */
static void scratch_db_name(const char *source, char out[96])
{
    char when[32], clean[40];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y%m%d%H%M%S", gmtime(&now));
    size_t n = 0;
    for (const char *p = source; *p && n < sizeof clean - 1; p++)
        clean[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a')
                     : ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) ? *p : '_';
    clean[n] = '\0';
    uint8_t r[2];
    crypto_random(r, sizeof r);
    snprintf(out, 96, "coffer_drill_%s_%s_%02x%02x", clean, when, r[0], r[1]);
}

/* The child: runs the drill and writes its result, as JSON, to fd. */
static void run_child(struct repo *repo, struct drill_job *run, int fd)
{
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* Everything the drill creates on disk (password files for pg_restore
     * included) goes under the scratch directory, which the watcher
     * removes even when this process is killed. */
    setenv("TMPDIR", run->scratch_dir, 1);
    json_t *steps = json_array();
    double seconds = 0;
    struct error err;
    int rc = ops_drill(repo, run->snap, &run->opts, steps, &seconds, &err);
    json_t *out = json_pack("{s:o, s:f, s:b, s:s?}", "steps", steps, "seconds", seconds, "ok", rc == 0, "error",
                            rc == 0 ? NULL : err.msg);
    char *text = json_dumps(out, JSON_COMPACT);
    write_all(fd, text, strlen(text));
    free(text); /* the child exits at once, but leak checkers follow it */
    json_decref(out);
    _exit(0);
}

/* Reads the child's result; NULL when it died or was stopped. */
static json_t *watch_child(pid_t pid, int fd, volatile sig_atomic_t *stop)
{
    struct buf text = BUF_INIT;
    char chunk[4096];
    for (;;) {
        if (*stop) {
            kill(-pid, SIGTERM);
            struct timespec pause = {0, 300 * 1000 * 1000};
            nanosleep(&pause, NULL);
            kill(-pid, SIGKILL);
            break;
        }
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf_append(&text, chunk, (size_t)n);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    json_t *result = *stop ? NULL : json_loadb((const char *)text.data, text.len, 0, NULL);
    buf_free(&text);
    return result;
}


/* Removes the scratch places, unless a failed drill keeps them; returns
 * where they were kept, or NULL. */
static const char *clean_up(struct drill_job *run, bool is_ok, char *kept, size_t size)
{
    const struct source_type *kind = source_type_find(run->snap->type);
    bool has_server = kind && kind->has_scratch_server;
    if (!is_ok && run->settings->keep_on_failure && !*run->stop) {
        if (has_server)
            snprintf(kept, size, "database %s on the scratch server, and %s", run->scratch_db, run->scratch_dir);
        else
            snprintf(kept, size, "%s", run->scratch_dir);
        return kept;
    }
    struct error err;
    if (has_server && kind->drill_drop && run->opts.scratch_url &&
        kind->drill_drop(run->opts.scratch_url, run->opts.password_file, run->scratch_db, &err) < 0)
        add_warning(run, "%s (drop database %s by hand)", err.msg, run->scratch_db);
    if (remove_tree(run->scratch_dir) < 0)
        add_warning(run, "cannot remove %s: %s", run->scratch_dir, strerror(errno));
    return NULL;
}

bool ops_drill_job_for(struct drill_job *job, const struct snapshot_list *list, const struct config *cfg,
                       const char *source)
{
    const struct snapshot *previous;
    health_newest_two(list, source, &job->snap, &previous);
    if (!job->snap)
        return false;
    job->src = cfg ? config_find_source(cfg, source) : NULL;
    if (job->src && strcmp(job->src->kind->name, job->snap->type))
        job->src = NULL; /* the file's source of that name is another type now: its settings do not apply */
    job->settings = config_drill_for(cfg, job->src);
    job->objectives = config_objectives_for(cfg, job->src);
    return true;
}

int ops_drill_job(struct repo *repo, struct drill_job *run, struct error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(run->scratch_dir, sizeof run->scratch_dir, "%s/coffer-drill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(run->scratch_dir))
        return error_errno(err, errno, "cannot create a scratch directory in %s", tmp && *tmp ? tmp : "/tmp");
    scratch_db_name(run->snap->source, run->scratch_db);
    unsigned source_jobs = config_source_uint(run->src, "jobs");
    run->opts = (struct drill_options){
        .scratch_dir = run->scratch_dir,
        .scratch_url = run->settings->scratch_url,
        .password_file = config_source_string(run->src, "password_file"),
        .scratch_db = run->scratch_db,
        .checks = run->settings->checks,
        .check_count = run->settings->check_count,
        .jobs = run->jobs ? run->jobs : source_jobs ? source_jobs : 1,
    };
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0) {
        error_errno(err, errno, "cannot create a pipe");
        remove_tree(run->scratch_dir);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipe_fds[0]);
        run_child(repo, run, pipe_fds[1]);
    }
    close(pipe_fds[1]);
    if (pid > 0)
        setpgid(pid, pid); /* also done by the child: whichever runs first */
    json_t *result = pid > 0 ? watch_child(pid, pipe_fds[0], run->stop) : NULL;
    close(pipe_fds[0]);

    run->is_ok = result && json_is_true(json_object_get(result, "ok"));
    char kept_buf[4400];
    const char *kept = clean_up(run, run->is_ok, kept_buf, sizeof kept_buf);
    if (*run->stop) {
        json_decref(result);
        run->stopped_by = *run->stop;
        return 0;
    }
    char id[65];
    snapshot_id_hex(run->snap, id);
    double seconds = result ? json_real_value(json_object_get(result, "seconds")) : 0;
    /* A drill that failed restored nothing usable: no objective is met. */
    run->is_rto_met = run->is_ok && (!run->objectives.rto || seconds <= run->objectives.rto);
    json_t *steps = json_incref(json_object_get(result, "steps"));
    if (!json_is_array(steps)) {
        json_decref(steps);
        steps = json_array();
    }
    run->doc = json_pack("{s:s, s:s, s:s, s:I, s:b, s:f, s:I, s:b, s:o, s:s?, s:s?}", "source", run->snap->source,
                         "type", run->snap->type, "snapshot", id, "snapshot_time", (json_int_t)run->snap->time,
                         "ok", run->is_ok, "rto_seconds", seconds, "rto_objective", (json_int_t)run->objectives.rto,
                         "rto_met", run->is_rto_met, "steps", steps, "error",
                         result ? json_string_value(json_object_get(result, "error"))
                                : "the drill process died before it reported",
                         "kept", kept);
    json_decref(result);
    if (run->now) /* the daemon's clock (--now) */
        json_object_set_new(run->doc, "time", json_integer((json_int_t)run->now));
    struct error save_err;
    if (event_save(repo, "drill", run->doc, &save_err) < 0)
        add_warning(run, "%s", save_err.msg);
    return 0;
}

void ops_drill_job_free(struct drill_job *run)
{
    json_decref(run->doc);
    run->doc = NULL;
    string_list_free(&run->warnings);
}
