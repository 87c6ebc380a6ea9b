/*
 * schedule.h — the daemon's step: of the jobs in coffer.yaml's schedule,
 * deal with the one most overdue at a given time — run it (ops/job.h),
 * or record why not — keeping the run ledger (sched/ledger.h) true, so
 * that any number of processes sharing a state directory, started and
 * stopped at any moment, run each slot of each job at most once.
 *
 * A step holds the ledger's lock only to decide and to record: the slot
 * is taken (written to the ledger) before the job starts, and the job
 * holds its run lock while it runs. A job whose run lock is held (its
 * previous run goes on in another process) has the slot recorded as
 * skipped, or with `overlap: queue` left for a later step.
 */
#ifndef COFFER_OPS_SCHEDULE_H
#define COFFER_OPS_SCHEDULE_H

#include <stdbool.h>
#include <jansson.h>
#include <stdint.h>

#include "config/config.h"
#include "ops/job.h"

struct repo;

/* The state directory coffer.yaml names, or the default. */
const char *ops_state_dir(const struct config *cfg);

/* The clock a step runs by: the host's, or `--now`'s. */
struct sched_clock {
    int64_t now;
    bool is_fixed;      /* now is --now: snapshots and events are dated by it */
    double event_time;  /* what the run's event records: with --now, now plus the seconds the daemon has run,
                           so that the runs of one invocation keep their order; 0: now */
};

/* Deals with the most overdue job at clock->now. Returns 1 with *run
 * filled (free it with ops_job_run_free) when one was run or recorded not
 * run; 2 when nothing is due but a job that waits (overlap: queue) for its
 * previous run in another process; 0 when nothing is due; -1 when the
 * ledger cannot be kept (err). With only_job, only that job, and without
 * its jitter: a systemd timer or a cron line started it, and systemd
 * applies the delay itself. A ledger that could not be read (put aside,
 * the schedule started again) is said in warnings. */
struct string_list;
int ops_schedule_step(struct repo *repo, const struct config *cfg, const struct sched_clock *clock,
                      const char *only_job, struct job_run *run, struct string_list *warnings, struct error *err);

/* When the next job is due after now. */
int ops_schedule_next(const struct config *cfg, int64_t now, int64_t *when, struct error *err);

/* Each job as `schedule list --json` and `status --json` give it: {job,
 * cron, does, timezone, jitter_seconds, next (the next next_count due
 * times), last (the ledger's last run, or null)}. A ledger that cannot be
 * read is a warning (the last runs unknown); NULL (err) when a cron line
 * cannot be read. */
struct string_list;
json_t *ops_schedule_jobs(const struct config *cfg, int64_t now, unsigned next_count, struct string_list *warnings,
                          struct error *err);

/* The job's delay (sched_jitter) on this host. */
unsigned ops_schedule_jitter(const struct config *cfg, const struct config_job *job);

#endif
