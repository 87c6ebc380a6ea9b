/*
 * health.h — judging each source's newest snapshot against the rules of
 * coffer.yaml: it exists, it is fresh (max_age), large enough (min_size),
 * and neither it nor a database's exported tables shrank below
 * shrink_alert of the snapshot before. `coffer check` reports these
 * problems (exit code 3) and `coffer status` shows them.
 *
 * Which sources: those coffer.yaml names when it names any, else every
 * source the repository has snapshots of (with the top-level or default
 * rules). Every snapshot in the repository is a successful backup: a
 * failed one records none.
 */
#ifndef COFFER_OPS_HEALTH_H
#define COFFER_OPS_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "repo/snapshot.h"

struct health_problem {
    char *source;
    const char *rule;  /* "no_snapshot", "max_age", "min_size", "shrink_alert", "rows" */
    char *what;        /* one sentence with the numbers */
    char *todo;        /* what to do about it */
};

struct health_report {
    struct health_problem *items;
    size_t count;
    size_t sources_judged;
};

/* Judges the sources (only source when it is not NULL) at time now. */
void health_evaluate(const struct snapshot_list *list, const struct config *cfg, const char *source, int64_t now,
                     struct health_report *out);
void health_report_free(struct health_report *report);

/* The names health_evaluate judges, in order (config order, else sorted);
 * the caller frees the list (not the names, which belong to cfg or list). */
const char **health_sources(const struct snapshot_list *list, const struct config *cfg, const char *source,
                            size_t *count);

/* The newest snapshot of a source and the one before it (either NULL). */
void health_newest_two(const struct snapshot_list *list, const char *source, const struct snapshot **newest,
                       const struct snapshot **previous);

/* Which of one source's snapshots fail the rules on what they hold
 * (min_size; shrink_alert on the size and a database's row counts against
 * the snapshot right before it of those given): what check says of the
 * newest, said of each. snaps in any order; unhealthy[i] is for
 * snaps[i], and why[i] (why may be NULL) is the first problem's sentence,
 * or NULL, for the caller to free. */
void health_judge_each(const struct config_health *rules, const struct snapshot *const *snaps, size_t count,
                       bool *unhealthy, char **why);

#endif
