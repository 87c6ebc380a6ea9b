/*
 * cmd_daemon.c — `coffer daemon`: the schedule of coffer.yaml run without
 * a person, and `coffer schedule list`: when each job runs next.
 *
 * The daemon opens the repository once, then repeats one step of the
 * scheduler (ops/schedule.h) until nothing is due, prints a line per job
 * it dealt with, and sleeps until the next job is due — on the wall clock,
 * so a clock set forward or a machine waking from sleep does not delay
 * it. SIGTERM or SIGINT stops the running job cleanly (its slot stays
 * taken) and ends the daemon with exit code 0; SIGHUP reloads coffer.yaml,
 * keeping the old settings when the new file does not load. With --once
 * it does what is due and exits; --now TIME makes it act as if the clock
 * read TIME (for cron-driven setups and for walking through days of
 * schedule in a test).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "metrics/metrics.h"
#include "ops/alerts.h"
#include "ops/run_metrics.h"
#include "ops/schedule.h"
#include "repo/repo.h"
#include "store/store.h"
#include "sched/cron.h"
#include "sched/systemd.h"
#include "util/buf.h"
#include "util/debug.h"
#include "util/fdio.h"
#include "util/interrupt.h"
#include "util/text.h"
#include "util/tz.h"

static const char daemon_description[] =
    "Runs the jobs of coffer.yaml's schedule: (backups with their tags, forget and\n"
    "prune, check, drill, monitor) at their cron times, one at a time. A run ledger\n"
    "in state_dir: (default /var/lib/coffer) remembers which slot of each job was\n"
    "dealt with: after downtime each job whose time passed runs once (not when its\n"
    "next run is due within a quarter of its period), and a restart never runs a\n"
    "slot twice. Every run is recorded in the repository (see `coffer log`).\n"
    "SIGTERM stops the running job cleanly and exits 0; SIGHUP reloads coffer.yaml.\n\n"
    "exit code (--once): 0 every job ran ok or nothing was due, 3 a job needs\n"
    "attention (warnings, a rule not met, skipped or missed), 1 a job failed.";

static const char schedule_description[] =
    "coffer schedule list: each job of coffer.yaml's schedule with its cron line,\n"
    "what it does, its next times (in the schedule's timezone, jitter included) and\n"
    "how its last run went (from the run ledger in state_dir).\n\n"
    "coffer schedule install --systemd: a coffer-JOB.timer (OnCalendar= from the cron\n"
    "line, Persistent=true, RandomizedDelaySec= the jitter with FixedRandomDelay=true)\n"
    "and a coffer-JOB.service (coffer daemon --once --job JOB, hardened: ProtectSystem=\n"
    "strict, ReadWritePaths= the state directory and a local repository,\n"
    "NoNewPrivileges, PrivateTmp, Nice, IOSchedulingClass=idle) per job; with --daemon\n"
    "one coffer.service running coffer daemon instead. --cron prints crontab lines.";

static volatile sig_atomic_t is_reload_asked;

/* Seconds between looks at a queued job whose previous run goes on in
 * another process. */
#define QUEUE_RECHECK 30

static void on_hup(int signo)
{
    (void)signo;
    is_reload_asked = 1;
}

/* One line per job dealt with: when, which, how it went, what each action did. */
static void print_run(const struct cli_globals *g, const struct job_run *run)
{
    if (g->is_json) {
        cli_print_event_json(run->doc);
        return;
    }
    struct buf text = BUF_INIT;
    ops_job_run_describe(run, &text);
    fwrite(text.data, 1, text.len, stdout);
    fflush(stdout);
    buf_free(&text);
}

static int worse_code(int code, enum job_outcome outcome)
{
    int one = outcome == JOB_FAILED ? EXIT_FAILURE_ : outcome == JOB_OK || outcome == JOB_STOPPED ? EXIT_OK
                                                                                                   : EXIT_PARTIAL;
    return one == EXIT_FAILURE_ || code == EXIT_FAILURE_ ? EXIT_FAILURE_ : one > code ? one : code;
}

/* The metrics kept while the daemon runs (none without metrics:). */
struct daemon_metrics {
    struct metrics *m;
    struct metrics_server *server;
};

static void write_textfile(const struct cli_globals *g, const struct daemon_metrics *dm)
{
    struct error err;
    const char *path = g->config->metrics.textfile;
    if (dm->m && path && metrics_write_textfile(dm->m, path, &err) < 0)
        fprintf(stderr, "coffer: daemon: warning: %s\n", err.msg);
}

/* Sets the metrics up from the repository, and serves them unless --once. */
static int start_metrics(struct cli_globals *g, struct repo *repo, bool is_once, struct daemon_metrics *dm,
                         struct error *err)
{
    const struct config_metrics *mc = &g->config->metrics;
    if (!mc->is_set || (!mc->textfile && (!mc->listen || is_once)))
        return 0;
    dm->m = metrics_new();
    struct error seed_err;
    if (ops_metrics_seed(dm->m, repo, g->config, &seed_err) < 0)
        fprintf(stderr, "coffer: daemon: warning: the metrics start empty: %s\n", seed_err.msg);
    if (mc->listen && !is_once && metrics_serve(dm->m, mc->listen, &dm->server, err) < 0)
        return -1;
    write_textfile(g, dm);
    malloc_trim(0); /* the snapshot list read for the seed is not needed again */
    return 0;
}

/* Deals with every job due at now (the clock's, or fixed); the worst exit
 * code their outcomes ask for goes to *code. Returns 0, 2 when a queued
 * job waits for its previous run (in another process), or -1 when the
 * ledger failed (err). */
static int run_due(struct cli_globals *g, struct repo *repo, const struct daemon_metrics *dm, int64_t fixed_now,
                   const char *only_job, int *code, struct error *err)
{
    struct timespec started, at;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (;;) {
        if (interrupt_signal())
            return 0;
        struct job_run run;
        struct sched_clock clock = {.now = fixed_now ? fixed_now : (int64_t)time(NULL), .is_fixed = fixed_now != 0};
        clock_gettime(CLOCK_MONOTONIC, &at);
        if (fixed_now)
            clock.event_time = (double)fixed_now + (double)(at.tv_sec - started.tv_sec) +
                               (double)(at.tv_nsec - started.tv_nsec) / 1e9 + 1e-6;
        struct string_list warnings = {0};
        int rc = ops_schedule_step(repo, g->config, &clock, only_job, &run, &warnings, err);
        for (size_t i = 0; i < warnings.count; i++)
            fprintf(stderr, "coffer: daemon: warning: %s\n", warnings.items[i]);
        string_list_free(&warnings);
        if (rc != 1)
            return rc;
        struct timespec done;
        clock_gettime(CLOCK_MONOTONIC, &done);
        double step = (double)(done.tv_sec - at.tv_sec) + (double)(done.tv_nsec - at.tv_nsec) / 1e9;
        debug_log("daemon: job %s: step %.1f ms, of which its actions %.1f ms, the daemon's own %.1f ms",
                  run.job->head.name, step * 1e3, run.action_seconds * 1e3, (step - run.action_seconds) * 1e3);
        print_run(g, &run);
        *code = worse_code(*code, run.outcome);
        if (dm->m) {
            ops_metrics_after_run(dm->m, repo, g->config, &run);
            write_textfile(g, dm);
        }
        ops_job_run_free(&run);
        malloc_trim(0); /* an idle daemon gives back what a job's index and lists took */
    }
}

/* Sleeps until when (wall clock), or a signal. */
static void sleep_until(int64_t when)
{
    struct timespec deadline = {.tv_sec = (time_t)when, .tv_nsec = 0};
    while (!interrupt_signal() && !is_reload_asked &&
           clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &deadline, NULL) == EINTR)
        ;
}

/* SIGHUP: coffer.yaml again; a file that does not load leaves the old one. */
static void reload_config(struct cli_globals *g, struct repo *repo)
{
    struct config *fresh = xcalloc(1, sizeof *fresh);
    struct error err = {0};
    struct string_list warnings = {0};
    const char *location = store_location(repo_store(repo));
    is_reload_asked = 0;
    int rc = config_load(g->config->path, fresh, &err);
    if (rc == 0 && !fresh->schedule.is_set)
        rc = error_set(&err, "it has no schedule:");
    if (rc < 0) {
        char what[ERROR_MSG_MAX + 64];
        snprintf(what, sizeof what, "coffer.yaml did not reload: %s", err.msg);
        struct alert_problem problem = {"daemon", "config", what, "fix the file, then `systemctl reload coffer` "
                                        "(SIGHUP); until then the schedule goes on as before"};
        fprintf(stderr, "coffer: daemon: %s not reloaded, the schedule goes on as before: %s\n", g->config->path,
                err.msg);
        ops_alerts_daemon(g->config, location, &problem, (int64_t)time(NULL), &warnings);
        config_free(fresh);
        free(fresh);
    } else {
        config_free(g->config);
        free(g->config);
        g->config = fresh;
        fprintf(stderr, "coffer: daemon: %s reloaded (%zu jobs)\n", fresh->path, fresh->schedule.jobs.count);
        ops_alerts_daemon(g->config, location, NULL, (int64_t)time(NULL), &warnings);
    }
    for (size_t i = 0; i < warnings.count; i++)
        fprintf(stderr, "coffer: daemon: warning: %s\n", warnings.items[i]);
    string_list_free(&warnings);
}

static int need_schedule(struct cli_globals *g, const char *command)
{
    struct error err;
    if (cli_resolve_globals(g, &err) < 0)
        return cli_fail(&err);
    if (!g->config || !g->config->schedule.is_set || !g->config->schedule.jobs.count)
        return cli_usage_error(command, "%s has no schedule: with jobs (see docs/config.md, \"schedule\")",
                               g->config ? g->config->path : "no coffer.yaml was found, so it");
    return EXIT_OK;
}

int cmd_daemon(struct cli_globals *g, int argc, char **argv)
{
    bool is_once = false;
    int64_t fixed_now = 0;
    const char *only_job = NULL;
    const struct opt options[] = {
        {OPT_FLAG("once", &is_once), .help = "do what is due now, then exit (for cron, and tests)"},
        {OPT_CUSTOM("now", cli_parse_time, &fixed_now), .arg = "TIME",
         .help = "act as if the clock read TIME (RFC 3339): run what is due then, date snapshots and events by it"},
        {OPT_STRING("job", &only_job), .arg = "NAME",
         .help = "with --once: only this job, without its jitter (as its systemd timer or cron line runs it)"},
        {0},
    };
    const struct opt_command command = {.name = "daemon", .takes_lock = true, .usage = "[--once] [--now TIME]",
                                        .description = daemon_description, .options = options};
    struct opt_args args;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("daemon", &args, 0)) != EXIT_OK ||
        (code = need_schedule(g, "daemon")) != EXIT_OK)
        return code;
    if ((fixed_now || only_job) && !is_once)
        return cli_usage_error("daemon", "%s needs --once (a daemon that keeps running follows the clock and runs "
                               "every job)", fixed_now ? "--now" : "--job");
    const struct config_job *named = NULL;
    for (size_t i = 0; only_job && i < g->config->schedule.jobs.count && !named; i++)
        if (!strcmp(((const struct config_job *)g->config->schedule.jobs.items)[i].head.name, only_job))
            named = &((const struct config_job *)g->config->schedule.jobs.items)[i];
    if (only_job && !named)
        return cli_usage_error("daemon", "--job %s: %s has no such job", only_job, g->config->path);
    struct repo *repo = NULL;
    struct error err;
    if (cli_open_repo(g, &repo, &err) < 0)
        return cli_fail(&err);
    struct sigaction hup = {.sa_handler = on_hup}; /* no SA_RESTART: the sleep returns */
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    struct daemon_metrics dm = {0};
    if (start_metrics(g, repo, is_once, &dm, &err) < 0) {
        metrics_free(dm.m);
        repo_free(repo);
        return cli_fail(&err);
    }
    if (!is_once && !g->is_quiet)
        fprintf(stderr, "coffer: daemon: %zu jobs of %s, state in %s%s%s\n", g->config->schedule.jobs.count,
                g->config->path, ops_state_dir(g->config), dm.server ? ", metrics on " : "",
                dm.server ? g->config->metrics.listen : "");
    for (;;) {
        int due = run_due(g, repo, &dm, fixed_now, only_job, &code, &err);
        if (due < 0) {
            code = cli_fail(&err);
            break;
        }
        if (is_once || interrupt_signal())
            break;
        int64_t when;
        if (ops_schedule_next(g->config, (int64_t)time(NULL), &when, &err) < 0) {
            code = cli_fail(&err);
            break;
        }
        if (due == 2 && when > (int64_t)time(NULL) + QUEUE_RECHECK)
            when = (int64_t)time(NULL) + QUEUE_RECHECK; /* the queued job's previous run may end any moment */
        sleep_until(when);
        if (is_reload_asked)
            reload_config(g, repo);
    }
    if (interrupt_signal() && !g->is_quiet)
        fprintf(stderr, "coffer: daemon: stopped by %s\n", interrupt_signal() == SIGINT ? "SIGINT" : "SIGTERM");
    metrics_server_stop(dm.server);
    metrics_free(dm.m);
    repo_free(repo);
    return interrupt_signal() ? EXIT_OK : code;
}

/* ---- coffer schedule list --------------------------------------------- */

static void print_job(const json_t *j, const char *zone)
{
    printf("%s  (%s)  %s\n", json_string_value(json_object_get(j, "job")),
           json_string_value(json_object_get(j, "cron")), json_string_value(json_object_get(j, "does")));
    size_t i;
    json_t *t;
    printf("  next  ");
    json_array_foreach(json_object_get(j, "next"), i, t) {
        int64_t when;
        struct tm tm;
        struct error err;
        char local[40];
        time_parse_rfc3339(json_string_value(t), &when, NULL);
        if (tz_local(zone, when, &tm, &err) == 0)
            strftime(local, sizeof local, "%a %Y-%m-%d %H:%M %Z", &tm);
        else
            snprintf(local, sizeof local, "%s", json_string_value(t));
        printf("%s%s", i ? ", " : "", local);
    }
    printf("\n");
    json_t *last = json_object_get(j, "last");
    if (json_is_object(last))
        printf("  last  %s, ended %s%s%s\n", json_string_value(json_object_get(last, "outcome")),
               json_string_value(json_object_get(last, "ended")) ? json_string_value(json_object_get(last, "ended"))
                                                                  : "-",
               json_string_value(json_object_get(last, "error")) ? ": " : "",
               json_string_value(json_object_get(last, "error")) ? json_string_value(json_object_get(last, "error"))
                                                                   : "");
    else
        printf("  last  never run\n");
}

/* The absolute form of path (which may not exist yet), into out. */
static void absolute_path(const char *path, char out[PATH_MAX])
{
    if (!realpath(path, out)) {
        char cwd[PATH_MAX];
        if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
            snprintf(out, PATH_MAX, "%s", path);
        else
            snprintf(out, PATH_MAX, "%.2048s/%.2000s", cwd, path);
    }
}

static int write_unit(const char *dir, const char *name, const struct buf *text, struct error *err)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (write_file_atomic(path, text->data, text->len, 0644) < 0)
        return error_set(err, "cannot write %s: %s (give --dir a directory you may write)", path, strerror(errno));
    printf("wrote %s\n", path);
    return 0;
}

struct install_request {
    bool is_systemd, is_cron, is_daemon;
    const char *dir, *user;
};

/* `schedule install`: units into req->dir, or crontab lines on stdout. */
static int install_schedule(struct cli_globals *g, const struct install_request *req)
{
    char coffer[PATH_MAX], config[PATH_MAX], state[PATH_MAX], repository[PATH_MAX];
    struct error err;
    ssize_t n = readlink("/proc/self/exe", coffer, sizeof coffer - 1);
    coffer[n > 0 ? n : 0] = '\0';
    absolute_path(g->config->path, config);
    absolute_path(ops_state_dir(g->config), state);
    bool is_local = g->repo && strncmp(g->repo, "s3://", 5);
    if (is_local)
        absolute_path(g->repo, repository);
    struct systemd_unit_settings settings = {coffer, config, req->user, state, is_local ? repository : NULL};
    if (req->is_systemd && mkdir(req->dir, 0755) < 0 && errno != EEXIST) {
        error_set(&err, "cannot create %s: %s (give --dir a directory you may write)", req->dir, strerror(errno));
        return cli_fail(&err);
    }
    const struct config_schedule *sc = &g->config->schedule;
    if (req->is_cron) {
        printf("# coffer's schedule (%s), for crontab -e; cron starts each job on its minute, without the jitter\n",
               config);
        if (sc->timezone)
            printf("CRON_TZ=%s\n", sc->timezone);
        for (size_t i = 0; i < sc->jobs.count; i++) {
            const struct config_job *job = &((const struct config_job *)sc->jobs.items)[i];
            printf("%-14s %s daemon --once --quiet --job %s --config %s\n", job->cron, coffer, job->head.name,
                   config);
        }
        return EXIT_OK;
    }
    if (req->is_daemon) {
        struct buf unit = BUF_INIT;
        systemd_daemon_unit(&settings, &unit);
        int rc = write_unit(req->dir, "coffer.service", &unit, &err);
        buf_free(&unit);
        if (rc < 0)
            return cli_fail(&err);
        printf("then: systemctl daemon-reload && systemctl enable --now coffer\n");
        return EXIT_OK;
    }
    for (size_t i = 0; i < sc->jobs.count; i++) {
        const struct config_job *job = &((const struct config_job *)sc->jobs.items)[i];
        struct cron c;
        char calendars[2][SYSTEMD_CALENDAR_MAX], name[300];
        if (cron_parse(job->cron, &c, &err) < 0)
            return cli_fail(&err);
        size_t count = systemd_calendar(&c, sc->timezone, calendars);
        struct buf service = BUF_INIT, timer = BUF_INIT;
        systemd_job_units(&settings, job->head.name, job->cron, (const char(*)[SYSTEMD_CALENDAR_MAX])calendars, count,
                          sc->jitter, &service, &timer);
        snprintf(name, sizeof name, "coffer-%s.service", job->head.name);
        int rc = write_unit(req->dir, name, &service, &err);
        snprintf(name, sizeof name, "coffer-%s.timer", job->head.name);
        if (rc == 0)
            rc = write_unit(req->dir, name, &timer, &err);
        buf_free(&service);
        buf_free(&timer);
        if (rc < 0)
            return cli_fail(&err);
    }
    printf("then: systemctl daemon-reload && systemctl enable --now");
    for (size_t i = 0; i < sc->jobs.count; i++)
        printf(" coffer-%s.timer", ((const struct config_job *)sc->jobs.items)[i].head.name);
    printf("\n");
    return EXIT_OK;
}

int cmd_schedule(struct cli_globals *g, int argc, char **argv)
{
    int64_t now = 0;
    struct install_request req = {.dir = "/etc/systemd/system", .user = "coffer"};
    const struct opt options[] = {
        {OPT_CUSTOM("now", cli_parse_time, &now), .arg = "TIME", .help = "list: the next times after TIME, not now"},
        {OPT_FLAG("systemd", &req.is_systemd), .help = "install: a .timer and a .service per job"},
        {OPT_FLAG("daemon", &req.is_daemon), .help = "install --systemd: one coffer.service running coffer daemon instead"},
        {OPT_STRING("dir", &req.dir), .arg = "DIR", .help = "install --systemd: where the units go (default /etc/systemd/system)"},
        {OPT_STRING("user", &req.user), .arg = "NAME", .help = "install --systemd: the user the units run as (default coffer)"},
        {OPT_FLAG("cron", &req.is_cron), .help = "install: print crontab lines instead"},
        {0},
    };
    const struct opt_command command = {.name = "schedule", .usage = "list | install (--systemd [--daemon] | --cron) [OPTIONS]",
                                        .description = schedule_description, .options = options};
    struct opt_args args;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        return code;
    bool is_list = args.count == 1 && !strcmp(args.items[0], "list");
    bool is_install = args.count == 1 && !strcmp(args.items[0], "install");
    if (!is_list && !is_install)
        return cli_usage_error("schedule", args.count ? "unknown \"%s\": the subcommands are list and install" :
                                                        "say what to do: coffer schedule list (or install)", args.count ? args.items[0] : "");
    if (is_install && req.is_systemd == req.is_cron)
        return cli_usage_error("schedule", "install needs --systemd or --cron (one of them)");
    if ((code = need_schedule(g, "schedule")) != EXIT_OK)
        return code;
    if (is_install)
        return install_schedule(g, &req);
    if (!now)
        now = (int64_t)time(NULL);
    struct error err;
    struct string_list warnings = {0};
    json_t *jobs = ops_schedule_jobs(g->config, now, 5, &warnings, &err);
    for (size_t i = 0; i < warnings.count && !g->is_quiet; i++)
        fprintf(stderr, "coffer: warning: %s\n", warnings.items[i]);
    string_list_free(&warnings);
    if (!jobs)
        return cli_fail(&err);
    const struct config_schedule *sc = &g->config->schedule;
    if (code == EXIT_OK && g->is_json) {
        json_dumpf(jobs, stdout, JSON_COMPACT);
        printf("\n");
    } else if (code == EXIT_OK) {
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j)
            print_job(j, sc->timezone);
    }
    json_decref(jobs);
    return code;
}
