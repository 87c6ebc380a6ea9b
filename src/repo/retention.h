/*
 * retention.h — which snapshots a retention policy keeps.
 *
 * The runbook keeps 24 hourly, 30 daily, 12 weekly, 12 monthly and 7 yearly
 * backups. A rule "keep N <period>" walks a source's snapshots newest first
 * and keeps the newest snapshot of each of the last N distinct periods
 * (hour, day, ISO week, month, year) that have one; "keep last N" keeps the
 * N newest; "keep within D" keeps every snapshot taken within D of the
 * newest; "keep tag T" keeps every snapshot tagged T. A snapshot kept by
 * several rules is kept once, with every rule that kept it recorded. This
 * is restic's documented `forget` behaviour, so users can carry policies
 * over, with one difference: a snapshot that fails a health rule (it
 * shrank, or is below min_size: ops/health.h) never fills a slot by
 * itself. When it is the newest of its period it is kept, and the period
 * also keeps its newest healthy snapshot, which is the one that counts;
 * so a shrunken backup never pushes out the complete one before it.
 *
 * Periods are computed in UTC, or in the time zone named by the policy.
 * This module only decides; forget (ops) deletes.
 */
#ifndef COFFER_REPO_RETENTION_H
#define COFFER_REPO_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/snapshot.h"
#include "util/error.h"

enum retention_rule { KEEP_LAST, KEEP_HOURLY, KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY, KEEP_YEARLY, KEEP_WITHIN,
                      KEEP_TAG, KEEP_NEWEST_HEALTHY, RETENTION_RULES };

struct retention_policy {
    unsigned counts[KEEP_WITHIN]; /* last, hourly, daily, weekly, monthly, yearly; 0 = rule off */
    int64_t within_seconds;       /* 0 = rule off */
    const char *const *tags;      /* keep snapshots with any of these */
    size_t tag_count;
    const char *timezone;         /* NULL: UTC; else a tz database name ("Europe/Berlin") */
};

/* What the policy decided for one snapshot. */
struct retention_verdict {
    bool is_kept;
    unsigned reasons;             /* bit (1 << rule) for each rule that kept it */
};

/* Whether any rule is on. */
bool retention_is_empty(const struct retention_policy *policy);

/* Judges snaps (one source's snapshots, any order); verdicts[i] is for
 * snaps[i], unhealthy[i] (unhealthy may be NULL: all healthy) says whether
 * snaps[i] fails a health rule. Fails only for an unknown time zone.
 * KEEP_NEWEST_HEALTHY is not set here: forget adds it (ops.h). */
int retention_apply(const struct retention_policy *policy, const struct snapshot *const *snaps,
                    const bool *unhealthy, size_t count, struct retention_verdict *verdicts, struct error *err);

/* "last", "hourly", ... for messages and JSON. */
const char *retention_rule_name(enum retention_rule rule);

/* Parses a duration such as "90d", "2y6m", "36h", "1w" (y = 365 days,
 * m = 30 days, w, d, h, and s). */
int retention_parse_duration(const char *text, int64_t *seconds, struct error *err);

#endif
