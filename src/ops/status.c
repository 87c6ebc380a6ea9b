/*
 * status.c — the answer to "are we safe?" for each source (status.h): the
 * newest snapshot against the RPO objective and the clock, the health
 * rules, the last check and the last drill against the RTO objective,
 * each problem with what to do. `coffer status` prints it; the daemon's
 * monitor job raises its problems as alerts.
 */
#include "ops/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ops/alerts.h"
#include "ops/health.h"
#include "ops/schedule.h"
#include "repo/repo.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/text.h"

__attribute__((format(printf, 4, 5)))
static void problem(json_t *problems, const char *rule, const char *todo, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    json_array_append_new(problems, json_pack("{s:s, s:s, s:s}", "rule", rule, "what", what, "todo", todo));
}

/* The event's time as RFC 3339 in when; returns when. */
static const char *event_when(const struct event *e, char when[32])
{
    time_format_rfc3339((int64_t)e->time, when);
    return when;
}

/* The newest check that covered this source (its own, or of everything). */
static const struct event *last_check(const struct event_list *events, const char *source)
{
    const struct event *mine = event_latest(events, "check", source), *all = NULL;
    for (size_t i = events->count; i-- > 0 && !all;)
        if (!strcmp(events->items[i].kind, "check") && !json_string_value(json_object_get(events->items[i].doc, "source")))
            all = &events->items[i];
    if (!mine || (all && all->time > mine->time))
        return all;
    return mine;
}

/* How far ahead of this host's clock a snapshot may be dated before it is
 * a problem: clocks differ a little. */
#define STATUS_CLOCK_SKEW_MAX 300

json_t *ops_source_status(const struct snapshot_list *list, const struct event_list *events,
                             const struct config *cfg, const char *source, int64_t now)
{
    const struct config_source *src = cfg ? config_find_source(cfg, source) : NULL;
    struct config_objectives objectives = config_objectives_for(cfg, src);
    json_t *problems = json_array();
    json_t *out = json_pack("{s:s}", "source", source);
    const struct snapshot *newest, *previous;
    health_newest_two(list, source, &newest, &previous);
    char a[32], b[32], when[32];

    if (newest) {
        char id[65];
        snapshot_id_hex(newest, id);
        time_format_rfc3339(newest->time, when);
        json_object_set_new(out, "type", json_string(newest->type));
        json_object_set_new(out, "newest", json_pack("{s:s, s:s, s:I, s:I}", "id", id, "time", when, "age_seconds",
                                                     (json_int_t)(now - newest->time), "size",
                                                     (json_int_t)newest->stats.size));
        if (previous)
            json_object_set_new(out, "previous_size", json_integer((json_int_t)previous->stats.size));
        if (newest->time > now + STATUS_CLOCK_SKEW_MAX) {
            duration_format((uint64_t)(newest->time - now), a);
            snprintf(b, sizeof b, "%.8s", id);
            char todo[300];
            snprintf(todo, sizeof todo, "check the clock of %s (or the --time it was given); once a backup with the "
                     "right date exists, `coffer forget %s --force` removes this one", newest->host, b);
            problem(problems, "future", todo, "the newest snapshot is dated %s, %s in the future: until then it counts "
                    "as the newest whatever happens (RPO met, retention keeping it)", when, a);
        }
        if (objectives.rpo) {
            bool is_met = now - newest->time <= (int64_t)objectives.rpo;
            json_object_set_new(out, "rpo", json_pack("{s:I, s:b}", "seconds", (json_int_t)objectives.rpo, "met",
                                                      is_met));
            if (!is_met) {
                duration_format((uint64_t)(now - newest->time), a);
                duration_format(objectives.rpo, b);
                problem(problems, "rpo", "back up more often (the schedule), or check that backups succeed",
                        "the newest snapshot is %s old: data since then would be lost (RPO objective %s)", a, b);
            }
        }
    }
    struct health_report health;
    health_evaluate(list, cfg, source, now, &health);
    for (size_t i = 0; i < health.count; i++)
        problem(problems, health.items[i].rule, health.items[i].todo, "%s", health.items[i].what);
    health_report_free(&health);

    const struct event *check = last_check(events, source);
    if (check) {
        json_t *d = check->doc;
        json_t *damage = json_object_get(d, "damage");
        json_object_set_new(out, "last_check", json_pack("{s:s, s:s, s:b}", "time", event_when(check, when), "read",
                                                         json_string_value(json_object_get(d, "read")), "damage",
                                                         json_array_size(damage) > 0));
        const char *todo = json_string_value(json_object_get(d, "todo"));
        json_t *first = json_array_get(damage, 0); /* an object; a line in checks before objects */
        const char *what = json_is_string(first) ? json_string_value(first)
                                                 : json_string_value(json_object_get(first, "what"));
        if (json_array_size(damage))
            problem(problems, "damage", todo ? todo : "coffer check --read-data (it records what is damaged), then "
                                                      "coffer repair packs",
                    "the last check found damage: %s", what ? what : "(not said)");
    } else {
        problem(problems, "check", "run `coffer check` (and regularly `coffer check --read-data=10%`)",
                "the repository was never checked");
    }

    const struct event *drill = event_latest(events, "drill", source);
    if (drill) {
        json_t *d = drill->doc;
        double rto = json_real_value(json_object_get(d, "rto_seconds"));
        bool is_ok = json_is_true(json_object_get(d, "ok"));
        json_object_set_new(out, "last_drill", json_pack("{s:s, s:b, s:f, s:s?}", "time", event_when(drill, when),
                                                         "ok", is_ok, "rto_seconds", rto, "error",
                                                         json_string_value(json_object_get(d, "error"))));
        if (!is_ok) {
            char failed[512] = "";
            size_t i;
            json_t *step;
            json_array_foreach(json_object_get(d, "steps"), i, step) {
                size_t used = strlen(failed);
                if (!json_is_true(json_object_get(step, "ok")))
                    snprintf(failed + used, sizeof failed - used, "%s%s", used ? ", " : "",
                             json_string_value(json_object_get(step, "name")));
            }
            problem(problems, "drill", "fix what the drill found (`coffer drill --source NAME` shows each step)",
                    "the last drill failed at: %s", failed[0] ? failed : "its start (the process died)");
        }
        if (objectives.rto && rto > objectives.rto) {
            duration_format(objectives.rto, b);
            problem(problems, "rto", "make the restore faster (restore --jobs, a closer server) or revise the objective",
                    "the last drill took %.1f s, more than the RTO objective %s", rto, b);
        }
    } else if (objectives.rto) {
        problem(problems, "drill", "run `coffer drill` to measure the RTO", "no drill has measured the RTO yet");
    }
    if (objectives.rto)
        json_object_set_new(out, "rto_objective", json_integer((json_int_t)objectives.rto));
    json_object_set_new(out, "problems", problems);
    return out;
}

void ops_status_repository(struct repo *repo, const struct event_list *events, struct status_repository *r)
{
    struct error ignored;
    memset(r, 0, sizeof *r);
    r->location = store_location(repo_store(repo));
    r->has_space = store_space(repo_store(repo), &r->free_bytes, &r->total_bytes, &ignored) == 0;
    const struct event *check = event_latest(events, "check", NULL);
    json_t *bytes = check ? json_object_get(check->doc, "pack_bytes") : NULL;
    r->has_stored = json_is_integer(bytes);
    r->stored_bytes = r->has_stored ? (uint64_t)json_integer_value(bytes) : 0;
}

/* {location, free_bytes, total_bytes, stored_bytes, problems}. */
static json_t *repository_status(const struct status_repository *r, const struct config *cfg)
{
    struct config_health rules = config_health_for(cfg, NULL);
    json_t *problems = json_array();
    char a[32], b[32];
    if (r->has_space && rules.min_free && r->total_bytes &&
        (double)r->free_bytes * 100 < (double)rules.min_free * (double)r->total_bytes) {
        size_format(r->free_bytes, a);
        size_format(r->total_bytes, b);
        problem(problems, "min_free", "delete what else fills the file system, prune (`coffer forget --prune`), or move "
                "the repository to a larger one", "the repository's file system has %s free of %s (%.1f%%), less "
                "than health.min_free %u%%", a, b, 100.0 * (double)r->free_bytes / (double)r->total_bytes,
                rules.min_free);
    }
    if (r->has_stored && rules.max_stored && r->stored_bytes > rules.max_stored) {
        size_format(r->stored_bytes, a);
        size_format(rules.max_stored, b);
        problem(problems, "max_stored", "keep fewer snapshots (retention:) and prune, or raise health.max_stored",
                "the repository's packs take %s, more than health.max_stored %s (at the last check)", a, b);
    }
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "location", r->location, "free_bytes",
                     r->has_space ? json_integer((json_int_t)r->free_bytes) : json_null(), "total_bytes",
                     r->has_space ? json_integer((json_int_t)r->total_bytes) : json_null(), "stored_bytes",
                     r->has_stored ? json_integer((json_int_t)r->stored_bytes) : json_null(), "problems", problems);
}

json_t *ops_status(const struct snapshot_list *list, const struct event_list *events, const struct config *cfg,
                   const char *const *only, size_t only_count, const struct status_repository *repo, int64_t now)
{
    size_t count;
    const char **names;
    if (only_count) {
        names = xcalloc(only_count, sizeof *names);
        memcpy(names, only, only_count * sizeof *names);
        count = only_count;
    } else {
        names = health_sources(list, cfg, NULL, &count);
    }
    json_t *sources = json_array();
    size_t problems = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *s = ops_source_status(list, events, cfg, names[i], now);
        problems += json_array_size(json_object_get(s, "problems"));
        json_array_append_new(sources, s);
    }
    free(names);
    json_t *repository = repo ? repository_status(repo, cfg) : json_null();
    problems += json_array_size(json_object_get(repository, "problems"));
    return json_pack("{s:o, s:o, s:I, s:b}", "sources", sources, "repository", repository, "problems",
                     (json_int_t)problems, "ok", problems == 0);
}

void ops_status_add_daemon(json_t *doc, const struct config *cfg, const char *repository, int64_t now,
                           struct string_list *warnings)
{
    struct error err;
    if (!cfg || !cfg->schedule.is_set) {
        json_object_set_new(doc, "daemon", json_null());
        return;
    }
    json_t *jobs = ops_schedule_jobs(cfg, now, 1, warnings, &err);
    if (!jobs)
        string_list_add(warnings, err.msg);
    json_t *incidents = ops_alerts_open(cfg, repository);
    json_int_t problems = json_integer_value(json_object_get(doc, "problems"));
    size_t i;
    json_t *inc;
    json_array_foreach(incidents, i, inc) {
        const char *source = json_string_value(json_object_get(inc, "source"));
        problems += !strncmp(source, "job ", 4) || !strcmp(source, "daemon");
    }
    json_object_set_new(doc, "daemon", json_pack("{s:o, s:o}", "jobs", jobs ? jobs : json_array(), "incidents",
                                                 incidents));
    json_object_set_new(doc, "problems", json_integer(problems));
    json_object_set_new(doc, "ok", json_boolean(problems == 0));
}
