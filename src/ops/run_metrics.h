/*
 * run_metrics.h — what the daemon's metrics (metrics/metrics.h) say, and
 * where each number comes from: set once from the repository when the
 * daemon starts (the newest snapshot of each source, the last check and
 * drill, the objectives), then from each run as it ends (its facts, its
 * outcome) and from the alert book's counts. Never from the repository at
 * scrape time.
 */
#ifndef COFFER_OPS_RUN_METRICS_H
#define COFFER_OPS_RUN_METRICS_H

#include "config/config.h"
#include "metrics/metrics.h"
#include "ops/job.h"

struct repo;

/* The starting values, read from repo (snapshots and events) and cfg. */
int ops_metrics_seed(struct metrics *m, struct repo *repo, const struct config *cfg, struct error *err);

/* What run changed. */
void ops_metrics_after_run(struct metrics *m, struct repo *repo, const struct config *cfg, const struct job_run *run);

#endif
