/*
 * alerts.h — what the daemon tells the receivers of coffer.yaml's
 * `alerts:`, and when: the problems of each run turned into incidents
 * (alert/incident.h) whose notices go to every receiver that takes them,
 * pings of each run for those that follow runs (healthchecks), and the
 * outbox of notices not delivered yet, tried again with backoff. Nothing
 * here fails a run: delivery problems become warnings and counts.
 */
#ifndef COFFER_OPS_ALERTS_H
#define COFFER_OPS_ALERTS_H

#include <stdint.h>

#include "alert/incident.h"
#include "config/config.h"
#include "ops/job.h"
#include "sched/ledger.h"

/* Pings the receivers that follow runs that run starts; rid gets its id
 * (37 bytes), which its end ping repeats. */
void ops_alerts_run_started(const struct config *cfg, const struct job_run *run, char rid[37]);

/* After run (its ledger entry lj, as written): its end ping, the job's
 * incidents (failed, skipped twice in a row, missed) and, for a monitor
 * run, the status rules' problems; then delivery. Call with the ledger
 * lock held (the incident book shares it). */
void ops_alerts_after_run(const struct config *cfg, const char *repository, const struct job_run *run,
                          const struct ledger_job *lj, const char *rid, struct string_list *warnings);

/* The incidents open now, as [{source, rule, what, todo, opened, key}]
 * (opened an RFC 3339 time, key the receivers' dedup key); an empty list
 * without alerts: or an incident book. */
json_t *ops_alerts_open(const struct config *cfg, const char *repository);

/* The daemon's own problem (its configuration did not reload), or NULL
 * once it is gone. */
void ops_alerts_daemon(const struct config *cfg, const char *repository, const struct alert_problem *problem,
                       int64_t now, struct string_list *warnings);

#endif
