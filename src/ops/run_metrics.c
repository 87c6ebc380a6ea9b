/*
 * run_metrics.c — the daemon's numbers from the repository at start and
 * from each run (run_metrics.h).
 */
#include "ops/run_metrics.h"

#include <math.h>
#include <string.h>

#include "alert/incident.h"
#include "ops/health.h"
#include "ops/schedule.h"
#include "repo/event.h"
#include "repo/repo.h"
#include "store/store.h"

static const char *repository_of(struct repo *repo)
{
    return store_location(repo_store(repo));
}

static void set_objectives(struct metrics *m, const struct config *cfg, const char *source)
{
    struct config_objectives o = config_objectives_for(cfg, config_find_source(cfg, source));
    if (o.rpo)
        metrics_set(m, o.rpo, "coffer_rpo_objective_seconds", "source", source, NULL);
    if (o.rto)
        metrics_set(m, o.rto, "coffer_rto_objective_seconds", "source", source, NULL);
}

/* A snapshot made: the newest of its source. */
static void set_backup(struct metrics *m, const char *source, double time, double size, double added, double seconds)
{
    metrics_set(m, time, "coffer_last_success_timestamp_seconds", "source", source, NULL);
    metrics_set(m, size, "coffer_snapshot_size_bytes", "source", source, NULL);
    metrics_set(m, added, "coffer_snapshot_added_bytes", "source", source, NULL);
    metrics_set(m, seconds, "coffer_run_duration_seconds", "source", source, NULL);
}

/* A check (its event, or a run's fact: both have packs, packs_read and
 * pack_bytes, the event since #15) that found no damage when is_clean. */
static void set_check(struct metrics *m, const char *repository, json_t *doc, double time, bool is_clean)
{
    double packs = (double)json_integer_value(json_object_get(doc, "packs"));
    double read = (double)json_integer_value(json_object_get(doc, "packs_read"));
    json_t *bytes = json_object_get(doc, "pack_bytes");
    if (is_clean)
        metrics_set(m, time, "coffer_check_last_success_timestamp_seconds", "repository", repository, NULL);
    metrics_set(m, packs > 0 ? read / packs : 1, "coffer_check_read_coverage_ratio", "repository", repository, NULL);
    if (json_is_integer(bytes))
        metrics_set(m, (double)json_integer_value(bytes), "coffer_repository_stored_bytes", "repository", repository,
                    NULL);
}

int ops_metrics_seed(struct metrics *m, struct repo *repo, const struct config *cfg, struct error *err)
{
    struct snapshot_list list = {0};
    struct event_list events = {0};
    if (snapshot_list_load(repo, &list, err) < 0 || event_list_load(repo, NULL, &events, err) < 0) {
        snapshot_list_free(&list);
        return -1;
    }
    size_t count;
    const char **names = health_sources(&list, cfg, NULL, &count);
    for (size_t i = 0; i < count; i++) {
        const struct snapshot *newest, *previous;
        health_newest_two(&list, names[i], &newest, &previous);
        if (newest)
            set_backup(m, newest->source, (double)newest->time, (double)newest->stats.size,
                       (double)newest->stats.added, newest->stats.seconds);
        set_objectives(m, cfg, names[i]);
        bool has_rto = false; /* the newest drill's; the newest passed one's time */
        for (size_t e = events.count; e-- > 0;) {
            json_t *doc = events.items[e].doc;
            const char *source = json_string_value(json_object_get(doc, "source"));
            if (strcmp(events.items[e].kind, "drill") || !source || strcmp(source, names[i]))
                continue;
            if (!has_rto)
                metrics_set(m, json_real_value(json_object_get(doc, "rto_seconds")), "coffer_drill_rto_seconds",
                            "source", names[i], NULL);
            has_rto = true;
            if (json_is_true(json_object_get(doc, "ok"))) {
                metrics_set(m, floor(events.items[e].time), "coffer_drill_last_success_timestamp_seconds", "source",
                            names[i], NULL);
                break;
            }
        }
    }
    free(names);
    const struct event *check = event_latest(&events, "check", NULL);
    if (check)
        set_check(m, repository_of(repo), check->doc, floor(check->time),
                  json_array_size(json_object_get(check->doc, "damage")) == 0);
    event_list_free(&events);
    snapshot_list_free(&list);
    return 0;
}

/* The alert book's counts: what was delivered, what failed. */
static void set_alert_counts(struct metrics *m, const struct config *cfg, struct repo *repo)
{
    struct incident_book book;
    struct error ignored;
    if (!cfg->alerts.is_set || incident_book_load(ops_state_dir(cfg), "", repository_of(repo), &book, &ignored) < 0)
        return;
    const char *type;
    json_t *n;
    json_object_foreach(book.sent, type, n)
        metrics_set(m, (double)json_integer_value(n), "coffer_alerts_sent_total", "type", type, NULL);
    metrics_set(m, (double)book.failures, "coffer_alert_delivery_failures_total", NULL);
    incident_book_free(&book);
}

void ops_metrics_after_run(struct metrics *m, struct repo *repo, const struct config *cfg, const struct job_run *run)
{
    const char *repository = repository_of(repo);
    metrics_add(m, 1, "coffer_job_runs_total", "job", run->job->head.name, "outcome", job_outcome_name(run->outcome),
                NULL);
    size_t i;
    json_t *f;
    json_array_foreach(run->facts, i, f) {
        const char *kind = json_string_value(json_object_get(f, "kind"));
        const char *source = json_string_value(json_object_get(f, "source"));
        bool is_ok = json_is_true(json_object_get(f, "ok"));
        double time = (double)json_integer_value(json_object_get(f, "time"));
        if (!strcmp(kind, "backup")) {
            metrics_set(m, is_ok, "coffer_last_run_status", "source", source, NULL);
            set_objectives(m, cfg, source);
            if (!is_ok)
                continue;
            set_backup(m, source, time, (double)json_integer_value(json_object_get(f, "size")),
                       (double)json_integer_value(json_object_get(f, "added")),
                       json_real_value(json_object_get(f, "seconds")));
        } else if (!strcmp(kind, "drill")) {
            metrics_set(m, json_real_value(json_object_get(f, "rto_seconds")), "coffer_drill_rto_seconds", "source",
                        source, NULL);
            if (is_ok)
                metrics_set(m, time, "coffer_drill_last_success_timestamp_seconds", "source", source, NULL);
        } else if (!strcmp(kind, "check")) {
            set_check(m, repository, f, time, is_ok);
        }
    }
    set_alert_counts(m, cfg, repo);
}
