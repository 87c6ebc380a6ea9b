/*
 * cmd_drill.c — `coffer drill`: rehearse restoring each source's newest
 * snapshot, and print how it went. The drill itself, its scratch places,
 * its child process and its event are ops_drill_job's (ops/drill.h); this
 * file picks the sources, turns Ctrl-C and SIGTERM into its stop flag, and
 * prints.
 */
#include <errno.h>
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
#include "util/buf.h"
#include "util/fdio.h"
#include "util/progress.h"
#include "util/text.h"

static const char description[] =
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
    "missed its RTO objective.";

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}
static void print_result(const struct drill_job *run, json_t *doc)
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
        printf(" (RTO objective %s: %s)", rto,
               !is_ok ? "not met: nothing usable was restored" : run->is_rto_met ? "met" : "MISSED");
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

/* One source's drill, reported; returns the exit code it asks for. */
static int drill_source(struct repo *repo, const struct cli_globals *g, struct drill_job *job)
{
    struct error err;
    if (ops_drill_job(repo, job, &err) < 0)
        return cli_fail(&err);
    for (size_t i = 0; i < job->warnings.count; i++)
        fprintf(stderr, "coffer: warning: %s\n", job->warnings.items[i]);
    if (job->stopped_by) {
        fprintf(stderr, "coffer: drill of %s interrupted; its scratch database and directory were removed\n",
                job->snap->source);
        return 128 + job->stopped_by;
    }
    if (g->is_json) {
        cli_print_event_json(job->doc);
    } else {
        print_result(job, job->doc);
    }
    return !job->is_ok ? EXIT_FAILURE_ : !job->is_rto_met ? EXIT_PARTIAL : EXIT_OK;
}

int cmd_drill(struct cli_globals *g, int argc, char **argv)
{
    struct string_list sources = {0};
    unsigned jobs = 0;
    const struct opt options[] = {
        {OPT_LIST("source", &sources), .arg = "NAME", .help = "drill only this source (repeat for more)"},
        {OPT_UINT("jobs", &jobs, 1, 64), .arg = "N",
         .help = "database restore connections (default: the source's jobs)"},
        {0},
    };
    const struct opt_command command = {.name = "drill", .takes_lock = true, .usage = "[--source NAME]... [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("drill", &args, 0)) != EXIT_OK) {
        string_list_free(&sources);
        return code;
    }

    struct repo *repo = NULL;
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct error err;
    const char **names = NULL;
    if (cli_open_repo(g, &repo, &err) < 0 || repo_lock(repo, false, &lock, &err) < 0 ||
        snapshot_list_load(repo, &list, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    struct sigaction stop = {.sa_handler = on_stop}; /* no SA_RESTART: a read returns EINTR */
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    size_t count = sources.count;
    if (count) { /* the sources named, in the order given */
        names = xmalloc(count * sizeof *names);
        memcpy(names, sources.items, count * sizeof *names);
    } else {
        names = health_sources(&list, g->config, NULL, &count);
    }
    for (size_t i = 0; i < count && !stop_signal; i++) {
        struct drill_job run = {.jobs = jobs, .stop = &stop_signal};
        if (!ops_drill_job_for(&run, &list, g->config, names[i])) {
            fprintf(stderr, "coffer: source %s has no snapshot to drill\n", names[i]);
            code = EXIT_FAILURE_;
            continue;
        }
        int one = drill_source(repo, g, &run);
        ops_drill_job_free(&run);
        if (one > 100)
            code = one;
        else if (one == EXIT_FAILURE_ || (one == EXIT_PARTIAL && code == EXIT_OK))
            code = one;
    }
out:
    free(names);
    string_list_free(&sources);
    snapshot_list_free(&list);
    repo_unlock(lock);
    repo_free(repo);
    return code;
}
