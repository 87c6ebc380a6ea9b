/*
 * cmd_drill.c — `coffer drill`: rehearse restoring each source's newest
 * snapshot (ops/drill.h), and remember how it went.
 *
 * Each source's drill runs in a child process in its own process group,
 * watched by this one. The watcher knows the scratch places before the
 * child starts (a private directory, the scratch database's name), so when
 * the drill ends — passed, failed, crashed, or interrupted by Ctrl-C or
 * SIGTERM, which kill the child's whole group (pg_restore, redis-server)
 * — it removes them, unless keep_on_failure keeps a failed drill's for
 * inspection and says where. The result goes into the repository as a
 * "drill" event, which `coffer status` shows.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ops/drill.h"
#include "ops/health.h"
#include "ops/ops.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "source/types.h"
#include "util/fdio.h"
#include "util/progress.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer drill [--source NAME] [OPTIONS]\n\n"
    "Restores the newest snapshot of each source (those coffer.yaml names, else\n"
    "every source in the repository) into a scratch place, validates it, times it,\n"
    "and removes the scratch place again:\n"
    "  postgres  a new database on drill.postgres.scratch_url: every table with the\n"
    "            row count recorded at backup, foreign keys valid, then the SQL\n"
    "            checks of coffer.yaml (drill: checks:)\n"
    "  redis     a throwaway redis-server on a free loopback port loads the RDB; the\n"
    "            key counts must match those recorded at backup\n"
    "  others    restored to a temporary directory; every file read back must hash\n"
    "            to the snapshot's content; a git bundle must pass git bundle verify\n"
    "The time from restore to the last check is the measured RTO, compared with the\n"
    "source's objectives: rto. Results are recorded in the repository (coffer\n"
    "status shows them). Ctrl-C stops the drill and removes its scratch places;\n"
    "keep_on_failure: true keeps a failed drill's for inspection.\n\n"
    "exit code: 0 every drill passed, 1 a drill failed, 3 all passed but one\n"
    "missed its RTO objective.\n\n"
    "options:\n"
    "  --source NAME          drill only this source (repeat for more)\n"
    "  --jobs N               database restore connections (default: the source's jobs)\n" CLI_GLOBAL_HELP;

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* What one drill needs to know and to clean up. */
struct drill_run {
    const struct snapshot *snap;
    const struct config_source *src; /* NULL: not in coffer.yaml */
    const struct config_drill *settings;
    struct config_objectives objectives;
    char scratch_dir[4096];
    char scratch_db[96];
    struct drill_options opts;
};

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
static void run_child(struct repo *repo, struct drill_run *run, int fd)
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
    _exit(0);
}

/* Reads the child's result; NULL when it died or was stopped. */
static json_t *watch_child(pid_t pid, int fd)
{
    struct buf text = BUF_INIT;
    char chunk[4096];
    for (;;) {
        if (stop_signal) {
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
    json_t *result = stop_signal ? NULL : json_loadb((const char *)text.data, text.len, 0, NULL);
    buf_free(&text);
    return result;
}

/* Removes the scratch places, unless a failed drill keeps them; returns
 * where they were kept, or NULL. */
static const char *clean_up(struct drill_run *run, bool is_ok, char *kept, size_t size)
{
    const struct source_type *kind = source_type_find(run->snap->type);
    bool has_server = kind && kind->has_scratch_server;
    if (!is_ok && run->settings->keep_on_failure && !stop_signal) {
        if (has_server)
            snprintf(kept, size, "database %s on the scratch server, and %s", run->scratch_db, run->scratch_dir);
        else
            snprintf(kept, size, "%s", run->scratch_dir);
        return kept;
    }
    struct error err;
    if (has_server && kind->drill_drop && run->opts.scratch_url &&
        kind->drill_drop(run->opts.scratch_url, run->opts.password_file, run->scratch_db, &err) < 0)
        fprintf(stderr, "coffer: warning: %s (drop database %s by hand)\n", err.msg, run->scratch_db);
    if (remove_tree(run->scratch_dir) < 0)
        fprintf(stderr, "coffer: warning: cannot remove %s: %s\n", run->scratch_dir, strerror(errno));
    return NULL;
}

static void print_result(const struct drill_run *run, json_t *doc)
{
    char id[65], when[32], took[32], rto[32];
    snapshot_id_hex(run->snap, id);
    time_format_rfc3339(run->snap->time, when);
    double seconds = json_real_value(json_object_get(doc, "rto_seconds"));
    snprintf(took, sizeof took, "%.1f s", seconds);
    bool is_ok = json_is_true(json_object_get(doc, "ok"));
    printf("drill %s (snapshot %.8s of %s): %s in %s", run->snap->source, id, when, is_ok ? "passed" : "FAILED", took);
    if (run->objectives.rto) {
        duration_format(run->objectives.rto, rto);
        printf(" (RTO objective %s: %s)", rto, seconds <= run->objectives.rto ? "met" : "MISSED");
    }
    printf("\n");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "steps"), i, s)
        printf("  %-4s  %-28s %7.1f s  %s\n", json_is_true(json_object_get(s, "ok")) ? "ok" : "FAIL",
               json_string_value(json_object_get(s, "name")), json_real_value(json_object_get(s, "seconds")),
               json_string_value(json_object_get(s, "detail")));
    const char *kept = json_string_value(json_object_get(doc, "kept"));
    if (kept)
        printf("  kept for inspection: %s\n", kept);
    fflush(stdout);
}

/* One source: scratch places, the child, the cleanup, the event. Returns
 * the exit code this drill asks for. */
static int drill_source(struct repo *repo, const struct cli_globals *g, struct drill_run *run, unsigned jobs)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(run->scratch_dir, sizeof run->scratch_dir, "%s/coffer-drill-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(run->scratch_dir)) {
        fprintf(stderr, "coffer: cannot create a scratch directory in %s: %s\n", tmp && *tmp ? tmp : "/tmp",
                strerror(errno));
        return EXIT_FAILURE_;
    }
    scratch_db_name(run->snap->source, run->scratch_db);
    run->opts = (struct drill_options){
        .scratch_dir = run->scratch_dir,
        .scratch_url = run->settings->scratch_url,
        .password_file = config_source_string(run->src, "password_file"),
        .scratch_db = run->scratch_db,
        .checks = run->settings->checks,
        .check_count = run->settings->check_count,
        .jobs = jobs ? jobs : config_source_uint(run->src, "jobs") ? config_source_uint(run->src, "jobs") : 1,
    };
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0) {
        fprintf(stderr, "coffer: cannot create a pipe: %s\n", strerror(errno));
        remove_tree(run->scratch_dir);
        return EXIT_FAILURE_;
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
    json_t *result = pid > 0 ? watch_child(pid, pipe_fds[0]) : NULL;
    close(pipe_fds[0]);

    bool is_ok = result && json_is_true(json_object_get(result, "ok"));
    char kept_buf[4400];
    const char *kept = clean_up(run, is_ok, kept_buf, sizeof kept_buf);
    if (stop_signal) {
        json_decref(result);
        fprintf(stderr, "coffer: drill of %s interrupted; its scratch database and directory were removed\n",
                run->snap->source);
        return 128 + stop_signal;
    }
    char id[65];
    snapshot_id_hex(run->snap, id);
    double seconds = result ? json_real_value(json_object_get(result, "seconds")) : 0;
    bool is_rto_met = !run->objectives.rto || seconds <= run->objectives.rto;
    json_t *steps = json_incref(json_object_get(result, "steps"));
    if (!json_is_array(steps)) {
        json_decref(steps);
        steps = json_array();
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:b, s:f, s:I, s:b, s:o, s:s?, s:s?}", "source", run->snap->source,
                            "type", run->snap->type, "snapshot", id, "snapshot_time", (json_int_t)run->snap->time,
                            "ok", is_ok, "rto_seconds", seconds, "rto_objective", (json_int_t)run->objectives.rto,
                            "rto_met", is_rto_met, "steps", steps, "error",
                            result ? json_string_value(json_object_get(result, "error"))
                                   : "the drill process died before it reported",
                            "kept", kept);
    struct error err;
    if (event_save(repo, "drill", doc, &err) < 0)
        fprintf(stderr, "coffer: warning: %s\n", err.msg);
    if (g->is_json) {
        json_dumpf(doc, stdout, JSON_COMPACT);
        printf("\n");
    } else {
        print_result(run, doc);
    }
    json_decref(doc);
    json_decref(result);
    return !is_ok ? EXIT_FAILURE_ : !is_rto_met ? EXIT_PARTIAL : EXIT_OK;
}

int cmd_drill(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"source", required_argument, NULL, 's'},
        {"jobs", required_argument, NULL, 'j'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *only = NULL;
    unsigned jobs = 0;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 's': only = optarg; break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 64)
                return cli_usage_error("drill", "bad --jobs value \"%s\" (use 1 to 64)", optarg);
            jobs = (unsigned)n;
            break;
        }
        default: return cli_usage_error("drill", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("drill", "unexpected argument \"%s\"", argv[optind]);

    struct repo *repo = NULL;
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct error err;
    int code = EXIT_OK;
    if (cli_open_repo(g, &repo, &err) < 0 || repo_lock(repo, false, &lock, &err) < 0 ||
        snapshot_list_load(repo, &list, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    struct sigaction stop = {.sa_handler = on_stop}; /* no SA_RESTART: a read returns EINTR */
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    size_t count;
    const char **names = health_sources(&list, g->config, only, &count);
    for (size_t i = 0; i < count && !stop_signal; i++) {
        struct drill_run run = {0};
        const struct snapshot *previous;
        health_newest_two(&list, names[i], &run.snap, &previous);
        if (!run.snap) {
            fprintf(stderr, "coffer: source %s has no snapshot to drill\n", names[i]);
            code = EXIT_FAILURE_;
            continue;
        }
        run.src = g->config ? config_find_source(g->config, names[i]) : NULL;
        if (run.src && strcmp(run.src->kind->name, run.snap->type))
            run.src = NULL; /* the file's source of that name is another type now: its settings do not apply */
        run.settings = config_drill_for(g->config, run.src);
        run.objectives = config_objectives_for(g->config, run.src);
        int one = drill_source(repo, g, &run, jobs);
        if (one > 100)
            code = one;
        else if (one == EXIT_FAILURE_ || (one == EXIT_PARTIAL && code == EXIT_OK))
            code = one;
    }
    free(names);
out:
    snapshot_list_free(&list);
    repo_unlock(lock);
    repo_free(repo);
    return code;
}
