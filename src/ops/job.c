/*
 * job.c — one run of a scheduled job (job.h): each action through the
 * workflow its command uses (ops_backup_sources, ops_forget, ops_prune,
 * ops_check_job, ops_drill_job, ops_status), what it did as one line, the
 * worst outcome, and the "run" event.
 */
#include "ops/job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/check_job.h"
#include "ops/drill.h"
#include "ops/health.h"
#include "ops/ops.h"
#include "ops/status.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "util/buf.h"
#include "util/interrupt.h"
#include "util/text.h"

static const char *const outcome_names[] = {"ok", "partial", "failed", "stopped", "skipped", "missed"};

const char *job_outcome_name(enum job_outcome outcome)
{
    return outcome <= JOB_MISSED ? outcome_names[outcome] : "?";
}

/* Records what one action did; the run's outcome is the worst so far. */
__attribute__((format(printf, 4, 5)))
static void action_done(struct job_run *run, const char *action, enum job_outcome outcome, const char *fmt, ...)
{
    char what[ERROR_MSG_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (interrupt_signal() && outcome == JOB_FAILED)
        outcome = JOB_STOPPED;
    json_array_append_new(run->actions, json_pack("{s:s, s:s, s:s}", "action", action, "outcome",
                                                  job_outcome_name(outcome), "what", what));
    if (outcome > run->outcome)
        run->outcome = outcome;
    if (outcome >= JOB_FAILED && !run->first.msg[0])
        error_setk(&run->first, outcome == JOB_STOPPED ? ERR_INTERRUPTED : ERR_GENERIC, "%s: %s", action, what);
}

static void note_source(struct job_run *run, const char *name)
{
    if (!string_list_has(&run->sources, name))
        string_list_add(&run->sources, name);
}

/* ---- backup ----------------------------------------------------------- */

struct backup_tally {
    struct job_run *run;
    char failures[ERROR_MSG_MAX];
};

static void backup_done(void *ctx, const struct config_source *src, const struct snapshot *snap,
                        const struct error *err)
{
    struct backup_tally *t = ctx;
    note_source(t->run, src->name);
    json_array_append_new(t->run->facts,
                          err ? json_pack("{s:s, s:s, s:b}", "kind", "backup", "source", src->name, "ok", false)
                              : json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:f}", "kind", "backup", "source", src->name,
                                          "ok", true, "time", (json_int_t)snap->time, "size",
                                          (json_int_t)snap->stats.size, "added", (json_int_t)snap->stats.added,
                                          "seconds", snap->stats.seconds));
    if (err) {
        size_t used = strlen(t->failures);
        snprintf(t->failures + used, sizeof t->failures - used, "; %s: %s", src->name, err->msg);
        return;
    }
    for (size_t i = 0; i < snap->warnings.count; i++) {
        char line[ERROR_MSG_MAX + 64];
        snprintf(line, sizeof line, "%s: %s", src->name, snap->warnings.items[i]);
        string_list_add(&t->run->warnings, line);
    }
}

static void run_backup(struct repo *repo, struct job_run *run)
{
    const struct config_job *job = run->job;
    struct backup_options base = {.time = run->is_clock_fixed ? run->now : 0};
    if (job->tag)
        string_list_add(&base.tags, job->tag);
    struct backup_tally tally = {run, ""};
    struct backup_run br = {.base = &base, .done = backup_done, .ctx = &tally};
    bool is_all = config_is_all(&job->backup);
    struct error err;
    if (ops_backup_sources(repo, run->cfg, is_all ? NULL : job->backup.items, is_all ? 0 : job->backup.count, &br,
                           &err) < 0)
        action_done(run, "backup", JOB_FAILED, "%s", err.msg);
    else if (br.failed)
        action_done(run, "backup", JOB_FAILED, "%zu saved, %zu with warnings, %zu failed%s", br.saved, br.partial,
                    br.failed, tally.failures);
    else
        action_done(run, "backup", br.partial ? JOB_PARTIAL : JOB_OK, "%zu saved%s", br.saved + br.partial,
                    br.partial ? " (some with warnings)" : "");
    if (br.revision_problem[0])
        string_list_add(&run->warnings, br.revision_problem);
    string_list_free(&base.tags);
}

/* ---- forget and prune ------------------------------------------------- */

struct forget_tally {
    size_t kept, removed;
};

static void forget_counted(void *ctx, const struct snapshot *snap, const struct retention_verdict *verdict,
                           const char *unhealthy)
{
    struct forget_tally *t = ctx;
    if (verdict->is_kept)
        t->kept++;
    else
        t->removed++;
}

static void run_forget(struct repo *repo, struct job_run *run)
{
    struct retention_plan plan = {0};
    struct forget_tally tally = {0};
    struct error err;
    struct forget_options opts = {.policy_for = ops_retention_policy_for, .ctx = &plan, .cfg = run->cfg};
    if (ops_retention_plan_init(&plan, run->cfg, NULL, &err) < 0 || ops_forget(repo, &opts, forget_counted, &tally,
                                                                                 &err) < 0)
        action_done(run, "forget", JOB_FAILED, "%s", err.msg);
    else
        action_done(run, "forget", JOB_OK, "%zu kept, %zu removed", tally.kept, tally.removed);
    ops_retention_plan_free(&plan);
}

static void run_prune(struct repo *repo, struct job_run *run)
{
    struct prune_options opts = {.max_unused = 0.05};
    struct prune_result r;
    struct error err;
    char freed[32];
    if (ops_prune(repo, &opts, &r, &err) < 0) {
        action_done(run, "prune", JOB_FAILED, "%s", err.msg);
        return;
    }
    size_format(r.bytes_freed, freed);
    action_done(run, "prune", JOB_OK, "%llu packs deleted, %s freed, %llu condemned for the next prune%s%s",
                (unsigned long long)r.packs_deleted, freed, (unsigned long long)r.packs_condemned,
                r.not_alone_because[0] ? "; " : "", r.not_alone_because);
}

/* ---- check, drill, monitor -------------------------------------------- */

static void run_check(struct repo *repo, struct job_run *run)
{
    unsigned percent = run->job->check.read_data;
    struct check_job job = {.is_read_data = percent > 0, .percent = percent, .cfg = run->cfg,
                            .now = run->is_clock_fixed ? run->now : 0};
    struct error err;
    job.stale_locks = ops_check_stale_locks(repo);
    if (ops_check_job(repo, &job, &err) < 0) {
        action_done(run, "check", JOB_FAILED, "%s", err.msg);
    } else if (job.is_damaged) {
        action_done(run, "check", JOB_FAILED, "%s: %s; to do: %s", job.damage_err.msg,
                    json_string_value(json_object_get(json_array_get(job.damage, 0), "what")),
                    job.result.todo ? job.result.todo : "coffer check --read-data");
    }
    if (job.doc)
        json_array_append_new(run->facts, json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "kind", "check", "ok",
                                                    !job.is_damaged, "time", (json_int_t)run->now, "packs",
                                                    (json_int_t)job.result.packs, "packs_read",
                                                    (json_int_t)job.result.packs_read, "pack_bytes",
                                                    (json_int_t)job.result.pack_bytes));
    if (job.doc && !job.is_damaged) {
        action_done(run, "check", job.health.count ? JOB_PARTIAL : JOB_OK, "%llu snapshots, %llu of %llu packs "
                    "read%s", (unsigned long long)job.result.snapshots, (unsigned long long)job.result.packs_read,
                    (unsigned long long)job.result.packs, job.health.count ? ", a health rule failed" : ", no damage");
    }
    for (size_t i = 0; i < job.warnings.count; i++)
        string_list_add(&run->warnings, job.warnings.items[i]);
    json_decref(job.stale_locks);
    ops_check_job_free(&job);
}

/* Drills one source's newest snapshot; returns its outcome. */
static enum job_outcome drill_one(struct repo *repo, struct job_run *run, const struct snapshot_list *list,
                                  const char *source, char *line, size_t size)
{
    struct drill_job job = {.stop = interrupt_flag(), .now = run->is_clock_fixed ? run->now : 0};
    struct error err;
    note_source(run, source);
    if (!ops_drill_job_for(&job, list, run->cfg, source)) {
        snprintf(line, size, "%s: no snapshot to drill", source);
        return JOB_FAILED;
    }
    enum job_outcome outcome = JOB_OK;
    if (ops_drill_job(repo, &job, &err) < 0) {
        snprintf(line, size, "%s: %s", source, err.msg);
        outcome = JOB_FAILED;
    } else if (job.stopped_by) {
        snprintf(line, size, "%s: stopped", source);
        outcome = JOB_STOPPED;
    } else {
        double seconds = json_real_value(json_object_get(job.doc, "rto_seconds"));
        const char *error = json_string_value(json_object_get(job.doc, "error"));
        outcome = !job.is_ok ? JOB_FAILED : !job.is_rto_met ? JOB_PARTIAL : JOB_OK;
        json_array_append_new(run->facts, json_pack("{s:s, s:s, s:b, s:I, s:f}", "kind", "drill", "source", source,
                                                    "ok", job.is_ok, "time", (json_int_t)run->now, "rto_seconds",
                                                    seconds));
        snprintf(line, size, "%s: %s in %.1f s%s%s", source, !job.is_ok ? "FAILED" : "passed", seconds,
                 error ? ": " : job.is_ok && !job.is_rto_met ? " (RTO objective missed)" : "", error ? error : "");
    }
    for (size_t i = 0; i < job.warnings.count; i++)
        string_list_add(&run->warnings, job.warnings.items[i]);
    ops_drill_job_free(&job);
    return outcome;
}

static void run_drill(struct repo *repo, struct job_run *run)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct error err;
    if (repo_lock(repo, false, &lock, &err) < 0 || snapshot_list_load(repo, &list, &err) < 0) {
        action_done(run, "drill", JOB_FAILED, "%s", err.msg);
        repo_unlock(lock);
        return;
    }
    size_t count = run->job->drill.count;
    const char **names;
    if (config_is_all(&run->job->drill)) {
        names = health_sources(&list, run->cfg, NULL, &count);
    } else {
        names = xcalloc(count, sizeof *names);
        memcpy(names, run->job->drill.items, count * sizeof *names);
    }
    enum job_outcome worst = JOB_OK;
    char lines[ERROR_MSG_MAX] = "";
    for (size_t i = 0; i < count && !interrupt_signal(); i++) {
        char line[ERROR_MSG_MAX];
        enum job_outcome one = drill_one(repo, run, &list, names[i], line, sizeof line);
        if (one > worst)
            worst = one;
        size_t used = strlen(lines);
        snprintf(lines + used, sizeof lines - used, "%s%s", used ? "; " : "", line);
    }
    action_done(run, "drill", worst, "%s", count ? lines : "no source to drill");
    free(names);
    snapshot_list_free(&list);
    repo_unlock(lock);
}

/* The status rules at the run's time: each problem, with its source. */
static void run_monitor(struct repo *repo, struct job_run *run)
{
    struct snapshot_list list = {0};
    struct event_list events = {0};
    struct error err;
    if (snapshot_list_load(repo, &list, &err) < 0 || event_list_load(repo, NULL, &events, &err) < 0) {
        action_done(run, "monitor", JOB_FAILED, "%s", err.msg);
    } else {
        struct status_repository here;
        ops_status_repository(repo, &events, &here);
        json_t *status = ops_status(&list, &events, run->cfg, NULL, 0, &here, run->now);
        size_t i, k;
        json_t *s, *p;
        json_array_foreach(json_object_get(json_object_get(status, "repository"), "problems"), k, p) {
            json_t *one = json_deep_copy(p);
            json_object_set_new(one, "source", json_string("repository"));
            json_array_append_new(run->problems, one);
        }
        json_array_foreach(json_object_get(status, "sources"), i, s) {
            const char *source = json_string_value(json_object_get(s, "source"));
            json_array_foreach(json_object_get(s, "problems"), k, p) {
                json_t *one = json_deep_copy(p);
                json_object_set_new(one, "source", json_string(source));
                json_array_append_new(run->problems, one);
            }
        }
        size_t n = json_array_size(run->problems);
        json_t *first = json_array_get(run->problems, 0);
        action_done(run, "monitor", n ? JOB_PARTIAL : JOB_OK, n ? "%zu problem%s, the first: %s: %s: %s" : "all "
                    "objectives and rules met", n, n == 1 ? "" : "s",
                    json_string_value(json_object_get(first, "source")),
                    json_string_value(json_object_get(first, "rule")),
                    json_string_value(json_object_get(first, "what")));
        json_decref(status);
    }
    event_list_free(&events);
    snapshot_list_free(&list);
}

/* ---- the run ---------------------------------------------------------- */

static json_t *strings_json(const struct string_list *list)
{
    json_t *out = json_array();
    for (size_t i = 0; i < list->count; i++)
        json_array_append_new(out, json_string(list->items[i]));
    return out;
}

static int save_event(struct repo *repo, struct job_run *run, int64_t ended, const char *why, struct error *err)
{
    run->doc = json_pack("{s:s, s:I, s:I, s:I, s:s, s:O, s:o, s:O, s:o, s:s?, s:s?}", "job", run->job->head.name,
                         "slot_time", (json_int_t)run->slot, "passed", (json_int_t)run->passed, "end_time",
                         (json_int_t)ended, "outcome", job_outcome_name(run->outcome), "actions", run->actions,
                         "sources", strings_json(&run->sources), "problems", run->problems, "warnings",
                         strings_json(&run->warnings), "error", run->first.msg[0] ? run->first.msg : NULL, "why", why);
    json_object_set_new(run->doc, "time", json_real(run->event_time));
    return event_save(repo, "run", run->doc, err);
}

/* The host's clock, to the microsecond: runs of one second keep their order. */
static double clock_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)now.tv_sec + (double)(now.tv_nsec / 1000) / 1e6;
}

int ops_job_run(struct repo *repo, struct job_run *run, struct error *err)
{
    const struct config_job *job = run->job;
    struct timespec began, ended;
    clock_gettime(CLOCK_MONOTONIC, &began);
    if (!run->event_time)
        run->event_time = clock_now();
    run->actions = json_array();
    run->problems = json_array();
    run->facts = json_array();
    run->outcome = JOB_OK;
    const struct {
        bool is_on;
        void (*action)(struct repo *, struct job_run *);
    } actions[] = {
        {job->backup.count > 0, run_backup}, {job->forget, run_forget},         {job->prune, run_prune},
        {job->check.is_set, run_check},      {job->drill.count > 0, run_drill}, {job->monitor, run_monitor},
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0] && !interrupt_signal(); i++) {
        if (!actions[i].is_on)
            continue;
        /* The repository stays open between runs, and the action before
         * (a prune) or another process may have rewritten the index: each
         * action reads it afresh, as a command of its own would. */
        repo_drop_index(repo);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        actions[i].action(repo, run);
        clock_gettime(CLOCK_MONOTONIC, &b);
        run->action_seconds += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    }
    if (interrupt_signal() && run->outcome < JOB_STOPPED) {
        run->outcome = JOB_STOPPED;
        if (!run->first.msg[0])
            interrupt_check(&run->first);
    }
    clock_gettime(CLOCK_MONOTONIC, &ended);
    return save_event(repo, run, run->now + (int64_t)(ended.tv_sec - began.tv_sec), NULL, err);
}

int ops_job_record_not_run(struct repo *repo, struct job_run *run, enum job_outcome outcome, const char *why,
                           struct error *err)
{
    run->actions = json_array();
    run->problems = json_array();
    run->facts = json_array();
    run->outcome = outcome;
    if (!run->event_time)
        run->event_time = clock_now();
    return save_event(repo, run, run->now, why, err);
}

void ops_job_run_describe(const struct job_run *run, struct buf *out)
{
    char when[32];
    time_format_rfc3339(run->now, when);
    buf_printf(out, "%s %s: %s", when, run->job->head.name, job_outcome_name(run->outcome));
    if (run->passed > 1)
        buf_printf(out, " (one run for %u slots that passed)", run->passed);
    size_t i;
    json_t *a;
    json_array_foreach(run->actions, i, a)
        buf_printf(out, "%s %s: %s", i ? ";" : " —", json_string_value(json_object_get(a, "action")),
                   json_string_value(json_object_get(a, "what")));
    if (!json_array_size(run->actions) && run->first.msg[0])
        buf_printf(out, " — %s", run->first.msg);
    buf_printf(out, "\n");
    for (size_t w = 0; w < run->warnings.count; w++)
        buf_printf(out, "  warning: %s\n", run->warnings.items[w]);
}

void ops_job_run_free(struct job_run *run)
{
    json_decref(run->actions);
    json_decref(run->problems);
    json_decref(run->facts);
    json_decref(run->doc);
    string_list_free(&run->sources);
    string_list_free(&run->warnings);
    run->actions = run->problems = run->facts = run->doc = NULL;
}
