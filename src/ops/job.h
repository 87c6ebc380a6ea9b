/*
 * job.h — one run of a scheduled job (coffer.yaml's schedule: jobs:) as
 * the daemon runs it: its actions in a fixed order — backup (with its
 * tag), forget, prune, check, drill, monitor — each through the same
 * workflow its command uses, then a "run" event in the repository (job,
 * slot, start, end, outcome, what each action did, warnings), which
 * `coffer log` lists.
 *
 * The clock is the caller's: `coffer daemon --now T` runs a job as if it
 * were T, so its snapshots are dated T, ages are judged at T and the
 * events say T.
 */
#ifndef COFFER_OPS_JOB_H
#define COFFER_OPS_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "repo/snapshot.h"
#include "util/error.h"

struct repo;

/* How a run went, worst last: the order of the enum is the order of
 * severity, so the worst of several actions is the largest. */
enum job_outcome {
    JOB_OK,       /* every action did what it should */
    JOB_PARTIAL,  /* done, but something needs attention: a backup's warnings, a health rule, a problem found */
    JOB_FAILED,   /* an action failed */
    JOB_STOPPED,  /* SIGTERM or SIGINT stopped it (cleanly) */
    JOB_SKIPPED,  /* not run: its previous run still ran */
    JOB_MISSED,   /* not run: late, and the next run was near */
};

const char *job_outcome_name(enum job_outcome outcome);

struct job_run {
    const struct config *cfg;
    const struct config_job *job;
    int64_t now;            /* the clock: when the run starts */
    bool is_clock_fixed;    /* now is --now: date snapshots and events by it */
    double event_time;      /* the time its event records; 0: the host's clock as it starts */
    int64_t slot;           /* the cron time it runs for */
    unsigned passed;        /* due slots it stands for (more than 1 after downtime) */

    enum job_outcome outcome;
    struct error first;     /* the first failure, when outcome is FAILED or STOPPED */
    json_t *actions;        /* [{action, outcome, what}] */
    json_t *problems;       /* monitor: [{source, rule, what, todo}] */
    json_t *facts;          /* for the metrics: [{kind: backup|drill|check, source, ok, time, ...}] */
    struct string_list sources; /* the sources it touched */
    struct string_list warnings;
    json_t *doc;            /* the run event as saved */
    double action_seconds;  /* spent in the actions themselves (the rest of a step is the daemon's) */
};

/* Runs the job's actions on repo and records the run; returns 0 (the
 * outcome says how it went) or -1 when not even the event could be
 * saved (err says why; the outcome still holds). */
int ops_job_run(struct repo *repo, struct job_run *run, struct error *err);

/* Records a slot that was not run (JOB_SKIPPED, JOB_MISSED) with why, as
 * a run event of its own, so `coffer log` shows it. */
int ops_job_record_not_run(struct repo *repo, struct job_run *run, enum job_outcome outcome, const char *why,
                           struct error *err);

/* The run as text: "TIME JOB: OUTCOME — action: what; ..." and a line
 * per warning (the daemon's output, healthchecks' log). */
struct buf;
void ops_job_run_describe(const struct job_run *run, struct buf *out);

void ops_job_run_free(struct job_run *run);

#endif
