/*
 * plan.h — when a scheduled job is due, given its cron line, its jitter,
 * what the ledger says it last dealt with, and the time.
 *
 * A job's slots are the instants its cron line names; slot s is due at
 * s + jitter, the job's stable delay. At time now the due slots are those
 * after the ledger's last one (and not before the job was first seen)
 * whose due time has come. However many there are — a daemon that was
 * down for a day — they collapse into one run for the latest, and that
 * one is not run either when the next slot is due within a quarter of the
 * job's period (the run would be late and the next one is almost here).
 */
#ifndef COFFER_SCHED_PLAN_H
#define COFFER_SCHED_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "sched/cron.h"

struct sched_due {
    int64_t slot;        /* the latest due slot; 0: nothing is due */
    unsigned passed;     /* due slots it stands for (1 on time; more after downtime) */
    bool is_too_late;    /* the next slot is within a quarter period: take the slot, do not run */
    int64_t next_slot;   /* the first slot after it */
};

/* What is due at now for a job whose ledger says last_slot (0: none) and
 * since; zone NULL is UTC. */
int sched_due(const struct cron *c, const char *zone, unsigned jitter, int64_t since, int64_t last_slot, int64_t now,
              struct sched_due *out, struct error *err);

/* The first time after now the job is due (its next slot's time plus the
 * jitter), given the last slot the ledger has. */
int sched_next_due(const struct cron *c, const char *zone, unsigned jitter, int64_t last_slot, int64_t now,
                   int64_t *out, struct error *err);

/* The job's delay in [0, jitter) seconds: the same on every run of this
 * host, different between hosts and between jobs (FNV-1a of both names). */
unsigned sched_jitter(const char *host, const char *job, unsigned jitter);

#endif
