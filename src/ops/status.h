/*
 * status.h — each source's state against its objectives and rules, as
 * `coffer status --json` gives it (docs/json-output.md): the newest
 * snapshot and its age against the RPO, the health rules, the last check
 * and drill, and problems, each {rule, what, todo}.
 */
#ifndef COFFER_OPS_STATUS_H
#define COFFER_OPS_STATUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/event.h"
#include "repo/snapshot.h"

struct config;

/* One source's status object at time now. cfg may be NULL. */
json_t *ops_source_status(const struct snapshot_list *list, const struct event_list *events,
                          const struct config *cfg, const char *source, int64_t now);

/* What status says of the repository itself: its file system's free
 * space (a local one) and the bytes its packs take (the last check's). */
struct status_repository {
    const char *location;
    bool has_space;
    uint64_t free_bytes, total_bytes;
    bool has_stored;
    uint64_t stored_bytes;
};

/* Fills r for repo, with the stored bytes from events' last check. */
struct repo;
void ops_status_repository(struct repo *repo, const struct event_list *events, struct status_repository *r);

/* {sources, repository, problems, ok} for the sources named (only), or
 * for those coffer.yaml names, else every source in the repository
 * (health.h); the repository's rules (health: min_free, max_stored) when
 * repo is not NULL. */
json_t *ops_status(const struct snapshot_list *list, const struct event_list *events, const struct config *cfg,
                   const char *const *only, size_t only_count, const struct status_repository *repo, int64_t now);

/* With a schedule in cfg, adds "daemon": {jobs (each with its next time
 * and last run), incidents (open now)} to doc (null without one), and
 * counts the open incidents of jobs and of the daemon among its problems
 * (the monitor's are the rules ops_status judged already). */
struct string_list;
void ops_status_add_daemon(json_t *doc, const struct config *cfg, const char *repository, int64_t now,
                           struct string_list *warnings);

#endif
