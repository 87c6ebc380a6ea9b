/*
 * schedule.c — one step of the scheduler (schedule.h): the ledger read
 * under its lock, the most overdue job chosen, its slot taken, the job run
 * with the ledger unlocked, the outcome written back.
 */
#include "ops/schedule.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/alerts.h"
#include "repo/repo.h"
#include "sched/cron.h"
#include "store/store.h"
#include "sched/ledger.h"
#include "sched/plan.h"
#include "util/buf.h"
#include "util/text.h"
#include "util/tz.h"
#include "util/host.h"

const char *ops_state_dir(const struct config *cfg)
{
    return cfg && cfg->state_dir ? cfg->state_dir : CONFIG_DEFAULT_STATE_DIR;
}

static const struct config_job *job_at(const struct config *cfg, size_t i)
{
    return &((const struct config_job *)cfg->schedule.jobs.items)[i];
}

unsigned ops_schedule_jitter(const struct config *cfg, const struct config_job *job)
{
    char host[256];
    host_name(host, sizeof host);
    return sched_jitter(host, job->head.name, cfg->schedule.jitter);
}

/* What is due of job at now, by the ledger. */
static int job_due(const struct config *cfg, const struct config_job *job, struct ledger *l, int64_t now,
                   bool has_jitter, struct sched_due *due, struct error *err)
{
    struct cron c;
    struct ledger_job *lj = ledger_job(l, job->head.name, now);
    if (cron_parse(job->cron, &c, err) < 0)
        return -1;
    return sched_due(&c, cfg->schedule.timezone, has_jitter ? ops_schedule_jitter(cfg, job) : 0, lj->since, lj->slot,
                     now, due, err);
}

/* The due job with the earliest slot (the file's order between equals),
 * of all or only only_job, not one marked waiting: its index, or -1. */
static int pick_job(const struct config *cfg, struct ledger *l, int64_t now, const char *only_job,
                    const bool *waiting, struct sched_due *picked, struct error *err)
{
    int best = -1;
    for (size_t i = 0; i < cfg->schedule.jobs.count; i++) {
        struct sched_due due = {0};
        if ((only_job && strcmp(job_at(cfg, i)->head.name, only_job)) || waiting[i])
            continue;
        if (job_due(cfg, job_at(cfg, i), l, now, !only_job, &due, err) < 0)
            return -2;
        if (due.slot && (best < 0 || due.slot < picked->slot)) {
            best = (int)i;
            *picked = due;
        }
    }
    return best;
}

static void record_outcome(struct ledger_job *lj, const struct job_run *run, int64_t ended)
{
    snprintf(lj->outcome, sizeof lj->outcome, "%s", job_outcome_name(run->outcome));
    free(lj->error);
    lj->error = run->first.msg[0] ? xstrdup(run->first.msg) : NULL;
    if (run->outcome == JOB_SKIPPED) {
        lj->skipped_in_a_row++;
        return;
    }
    if (run->outcome == JOB_MISSED)
        return;
    lj->skipped_in_a_row = 0;
    lj->ended = ended;
    if (run->outcome <= JOB_PARTIAL) {
        lj->last_ok = ended;
        lj->failed_in_a_row = 0;
    } else if (run->outcome == JOB_FAILED) {
        lj->failed_in_a_row++;
    }
}

int ops_schedule_step(struct repo *repo, const struct config *cfg, const struct sched_clock *clock,
                      const char *only_job, struct job_run *run, struct string_list *warnings, struct error *err)
{
    int64_t now = clock->now;
    const char *dir = ops_state_dir(cfg);
    struct ledger l;
    struct sched_due due = {0};
    memset(run, 0, sizeof *run);
    if (ledger_open(dir, &l, err) < 0)
        return -1;
    if (l.warning[0])
        string_list_add(warnings, l.warning);
    /* Jobs queued behind their previous run (overlap: queue, still going
     * in another process) wait; the others due go on. */
    bool *waiting = xcalloc(cfg->schedule.jobs.count + 1, sizeof *waiting);
    bool has_waiting = false;
    int i, run_fd = -1;
    bool is_busy = false;
    for (;;) {
        i = pick_job(cfg, &l, now, only_job, waiting, &due, err);
        if (i < 0)
            break;
        const struct config_job *job = job_at(cfg, (size_t)i);
        run_fd = due.is_too_late ? -1 : ledger_run_lock(dir, job->head.name);
        is_busy = !due.is_too_late && run_fd < 0;
        if (is_busy && errno != EWOULDBLOCK) {
            error_set(err, "cannot take the run lock of job %s in %s: %s", job->head.name, dir, strerror(errno));
            i = -2;
            break;
        }
        if (!is_busy || !job->overlap || strcmp(job->overlap, "queue"))
            break;
        waiting[i] = has_waiting = true;
    }
    free(waiting);
    if (i < 0) {
        int rc = i == -1 ? ledger_save(&l, err) : -1; /* a new job's since is kept */
        ledger_close(&l);
        return rc < 0 ? -1 : has_waiting ? 2 : 0;
    }
    const struct config_job *job = job_at(cfg, (size_t)i);
    struct ledger_job *lj = ledger_job(&l, job->head.name, now);
    *run = (struct job_run){.cfg = cfg, .job = job, .now = now, .is_clock_fixed = clock->is_fixed,
                            .event_time = clock->event_time, .slot = due.slot, .passed = due.passed};
    lj->slot = due.slot; /* taken before anything runs: never twice */
    if (run_fd < 0) {
        char why[256], next[32];
        time_format_rfc3339(due.next_slot, next);
        if (is_busy)
            snprintf(why, sizeof why, "its previous run still runs");
        else
            snprintf(why, sizeof why, "%u slot%s passed without a run (no daemon ran, or it was busy), and the "
                     "next (%s) is near", due.passed, due.passed == 1 ? "" : "s", next);
        struct error record_err;
        if (ops_job_record_not_run(repo, run, is_busy ? JOB_SKIPPED : JOB_MISSED, why, &record_err) < 0)
            string_list_add(&run->warnings, record_err.msg);
        error_setk(&run->first, ERR_GENERIC, "%s", why);
        record_outcome(lj, run, now);
        ops_alerts_after_run(cfg, store_location(repo_store(repo)), run, lj, NULL, &run->warnings);
        int rc = ledger_save(&l, err);
        ledger_close(&l);
        return rc < 0 ? -1 : 1;
    }
    lj->started = now;
    snprintf(lj->outcome, sizeof lj->outcome, "running");
    if (ledger_save(&l, err) < 0) {
        ledger_close(&l);
        close(run_fd);
        return -1;
    }
    ledger_close(&l);

    char rid[37] = "";
    if (cfg->alerts.is_set)
        ops_alerts_run_started(cfg, run, rid);
    struct error record_err;
    int recorded = ops_job_run(repo, run, &record_err);
    int64_t ended = run->is_clock_fixed ? now : (int64_t)time(NULL);
    if (recorded < 0)
        string_list_add(&run->warnings, record_err.msg);
    int rc = ledger_open(dir, &l, err);
    if (rc == 0) {
        struct ledger_job *done = ledger_job(&l, job->head.name, now);
        record_outcome(done, run, ended);
        ops_alerts_after_run(cfg, store_location(repo_store(repo)), run, done, rid, &run->warnings);
        rc = ledger_save(&l, err);
        ledger_close(&l);
    }
    close(run_fd);
    return rc < 0 ? -1 : 1;
}

int ops_schedule_next(const struct config *cfg, int64_t now, int64_t *when, struct error *err)
{
    struct ledger l;
    *when = 0;
    if (ledger_open(ops_state_dir(cfg), &l, err) < 0)
        return -1;
    for (size_t i = 0; i < cfg->schedule.jobs.count; i++) {
        const struct config_job *j = job_at(cfg, i);
        struct cron c;
        int64_t next;
        if (cron_parse(j->cron, &c, err) < 0 ||
            sched_next_due(&c, cfg->schedule.timezone, ops_schedule_jitter(cfg, j),
                           ledger_job(&l, j->head.name, now)->slot, now, &next, err) < 0) {
            ledger_close(&l);
            return -1;
        }
        if (i == 0 || next < *when)
            *when = next;
    }
    ledger_close(&l);
    return 0;
}

/* What a job does, as "backup db, cache (tag daily); prune". */
static void job_actions(const struct config_job *job, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    const struct {
        bool is_on;
        const char *name;
        const struct config_strings *names;
    } parts[] = {
        {job->backup.count > 0, "backup", &job->backup}, {job->forget, "forget", NULL},
        {job->prune, "prune", NULL},                     {job->check.is_set, "check", NULL},
        {job->drill.count > 0, "drill", &job->drill},    {job->monitor, "monitor", NULL},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i].is_on)
            continue;
        n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s", n ? "; " : "", parts[i].name);
        for (size_t k = 0; parts[i].names && k < parts[i].names->count; k++)
            n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s", k ? ", " : " ",
                                  parts[i].names->items[k]);
        if (!strcmp(parts[i].name, "backup") && job->tag)
            n += (size_t)snprintf(out + n, n < size ? size - n : 0, " (tag %s)", job->tag);
        if (!strcmp(parts[i].name, "check") && job->check.read_data)
            n += (size_t)snprintf(out + n, n < size ? size - n : 0, " --read-data=%u%%", job->check.read_data);
    }
}

static json_t *job_json(const struct config *cfg, const struct config_job *job, const struct ledger_job *last,
                        int64_t now, unsigned next_count, struct error *err)
{
    struct cron c;
    unsigned jitter = ops_schedule_jitter(cfg, job);
    json_t *next = json_array();
    int64_t t = now - (int64_t)jitter;
    if (cron_parse(job->cron, &c, err) < 0) {
        json_decref(next);
        return NULL;
    }
    for (unsigned i = 0; i < next_count; i++) {
        char when[32];
        if (cron_next(&c, cfg->schedule.timezone, t, &t, err) < 0) {
            json_decref(next);
            return NULL;
        }
        time_format_rfc3339(t + (int64_t)jitter, when);
        json_array_append_new(next, json_string(when));
    }
    char actions[512], started[32], ended[32];
    job_actions(job, actions, sizeof actions);
    json_t *last_json = json_null();
    if (last && last->outcome[0]) {
        time_format_rfc3339(last->started, started);
        time_format_rfc3339(last->ended, ended);
        last_json = json_pack("{s:s, s:s?, s:s?, s:s?}", "outcome", last->outcome, "started",
                              last->started ? started : NULL, "ended", last->ended ? ended : NULL, "error",
                              last->error);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "job", job->head.name, "cron", job->cron, "does",
                     actions, "timezone", cfg->schedule.timezone ? cfg->schedule.timezone : "UTC", "jitter_seconds",
                     (json_int_t)jitter, "next", next, "last", last_json);
}

json_t *ops_schedule_jobs(const struct config *cfg, int64_t now, unsigned next_count, struct string_list *warnings,
                          struct error *err)
{
    struct ledger l;
    struct error ledger_err;
    bool has_ledger = ledger_open(ops_state_dir(cfg), &l, &ledger_err) == 0;
    if (has_ledger && l.warning[0])
        string_list_add(warnings, l.warning);
    if (!has_ledger) {
        char line[ERROR_MSG_MAX + 64];
        snprintf(line, sizeof line, "the last runs are not known: %s", ledger_err.msg);
        string_list_add(warnings, line);
    }
    json_t *jobs = json_array();
    const struct config_schedule *sc = &cfg->schedule;
    for (size_t i = 0; i < sc->jobs.count && jobs; i++) {
        const struct config_job *job = job_at(cfg, i);
        const struct ledger_job *last = NULL;
        for (size_t k = 0; has_ledger && k < l.count && !last; k++)
            if (!strcmp(l.jobs[k].name, job->head.name))
                last = &l.jobs[k];
        json_t *j = job_json(cfg, job, last, now, next_count, err);
        if (j) {
            json_array_append_new(jobs, j);
        } else {
            json_decref(jobs);
            jobs = NULL;
        }
    }
    if (has_ledger)
        ledger_close(&l);
    return jobs;
}
