/*
 * check_job.h — one check as a command (or the daemon) runs it: the
 * repository check of ops_check, then the health rules of coffer.yaml on
 * the snapshots it read, the result saved as a "check" event for
 * `coffer status` and the next partial read.
 */
#ifndef COFFER_OPS_CHECK_JOB_H
#define COFFER_OPS_CHECK_JOB_H

#include <jansson.h>
#include <stdbool.h>

#include "ops/health.h"
#include "ops/ops.h"

struct config;
struct repo;

/*
 * The caller fills the first block; ops_check_job fills the rest and the
 * job is freed with ops_check_job_free. It returns -1 (err says why) only
 * when the check could not run, so nothing was recorded; a check that
 * found damage is 0 with is_damaged, and damage_err holding the error a
 * command reports (its code is the exit status's).
 */
struct check_job {
    const char *source;         /* only this source; NULL: everything */
    bool is_read_data;
    unsigned percent;           /* of the packs read, with is_read_data (1..100) */
    unsigned workers;           /* 0: one per core */
    const struct config *cfg;   /* the health rules; may be NULL */
    json_t *stale_locks;        /* lines recorded in the event (ops_check_stale_locks); may be NULL */
    int64_t now;                /* the health rules' clock and the event's time; 0: time(NULL) */
    struct progress *progress;  /* may be NULL */
    void (*report)(void *ctx, const char *line); /* each damage line as found; may be NULL */
    void *report_ctx;

    struct check_options opts;  /* as run: read_slice and read_slices say which packs were read */
    struct check_result result;
    struct health_report health;
    bool is_judged;             /* health rules applied (coffer.yaml names sources, or source given) */
    bool is_damaged;
    struct error damage_err;
    json_t *damage;             /* result.problems as JSON objects (docs/json-output.md) */
    json_t *damage_detail;      /* the blobs damage lines sum up, for --json */
    json_t *doc;                /* the event as saved (without damage_detail) */
    struct string_list warnings; /* the event not saved */

    struct snapshot_list snapshots;
};

int ops_check_job(struct repo *repo, struct check_job *job, struct error *err);
void ops_check_job_free(struct check_job *job);

/* The repository's locks worth a user's attention, as lines: those of
 * processes that are certainly gone, which it removes (as any locker
 * would) and says so, and those not refreshed for the stale time, with
 * what to do. Run before the check takes its own lock, which would clear
 * the first kind unseen. The caller owns the array. */
json_t *ops_check_stale_locks(struct repo *repo);

#endif
