/*
 * cmd_status.c — `coffer status`: one screen that answers "are we safe?".
 *
 * Per source: the newest snapshot, its age against the RPO objective, its
 * size against the one before, the health rules (health.h), the last check
 * and the last drill (events) with the drill's RTO against the objective —
 * and for each problem what to do about it. Reads only; exit code 3 when
 * any objective or rule is not met.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ops/health.h"
#include "repo/event.h"
#include "util/text.h"

static const char description[] =
    "For each source (those coffer.yaml names, else every source in the repository):\n"
    "the newest snapshot and its age against the RPO objective (objectives: rpo),\n"
    "its size against the snapshot before, the health rules (health:), the last\n"
    "check and the last drill with its RTO against the objective (objectives: rto),\n"
    "and what to do about each problem.\n\n"
    "exit code: 0 every objective and rule met, 3 otherwise, 1 the status could not\n"
    "be read.";

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

static json_t *source_status(const struct snapshot_list *list, const struct event_list *events,
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

static void print_age(int64_t seconds)
{
    char text[32];
    duration_format(seconds < 0 ? 0 : (uint64_t)seconds, text);
    printf("%s ago", text);
}

/* "  check    <time>, <age> ago" for an event (its "time" field). */
static void print_event_start(const char *label, json_t *event, int64_t now)
{
    const char *when = json_string_value(json_object_get(event, "time"));
    int64_t time = 0;
    time_parse_rfc3339(when, &time, NULL);
    printf("  %-8s %s, ", label, when);
    print_age(now - time);
}

static void print_source(json_t *s, int64_t now)
{
    char size[32];
    json_t *newest = json_object_get(s, "newest");
    printf("%s", json_string_value(json_object_get(s, "source")));
    if (newest) {
        printf(" (%s)\n  newest   %s, ", json_string_value(json_object_get(s, "type")),
               json_string_value(json_object_get(newest, "time")));
        print_age(json_integer_value(json_object_get(newest, "age_seconds")));
        json_t *rpo = json_object_get(s, "rpo");
        if (rpo) {
            duration_format((uint64_t)json_integer_value(json_object_get(rpo, "seconds")), size);
            printf(" (RPO %s: %s)", size, json_is_true(json_object_get(rpo, "met")) ? "met" : "MISSED");
        }
        size_format((uint64_t)json_integer_value(json_object_get(newest, "size")), size);
        printf(", %s", size);
        json_t *prev = json_object_get(s, "previous_size");
        if (prev && json_integer_value(prev) > 0)
            printf(" (%+.1f%% against the one before)",
                   100.0 * ((double)json_integer_value(json_object_get(newest, "size")) / (double)json_integer_value(prev) - 1));
        printf("\n");
    } else {
        printf("\n  newest   none\n");
    }
    json_t *check = json_object_get(s, "last_check");
    if (check) {
        print_event_start("check", check, now);
        printf(", %s (data read: %s)\n", json_is_true(json_object_get(check, "damage")) ? "DAMAGE" : "no damage",
               json_string_value(json_object_get(check, "read")));
    }
    json_t *drill = json_object_get(s, "last_drill");
    if (drill) {
        print_event_start("drill", drill, now);
        printf(", %s, RTO %.1f s", json_is_true(json_object_get(drill, "ok")) ? "passed" : "FAILED",
               json_real_value(json_object_get(drill, "rto_seconds")));
        json_t *objective = json_object_get(s, "rto_objective");
        if (objective) {
            duration_format((uint64_t)json_integer_value(objective), size);
            printf(" (objective %s)", size);
        }
        printf("\n");
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(s, "problems"), i, p)
        printf("  PROBLEM  %s: %s\n           to do: %s\n", json_string_value(json_object_get(p, "rule")),
               json_string_value(json_object_get(p, "what")), json_string_value(json_object_get(p, "todo")));
}

/* The sources asked for, in the order given; else health.h's choice. The
 * caller frees the array (the names belong to only, cfg or list). */
static const char **status_sources(const struct snapshot_list *list, const struct config *cfg,
                                   const struct string_list *only, size_t *count)
{
    if (!only->count)
        return health_sources(list, cfg, NULL, count);
    const char **names = xcalloc(only->count, sizeof *names);
    for (size_t i = 0; i < only->count; i++)
        names[i] = only->items[i];
    *count = only->count;
    return names;
}

int cmd_status(struct cli_globals *g, int argc, char **argv)
{
    struct string_list only = {0};
    const struct opt options[] = {
        {OPT_LIST("source", &only), .arg = "NAME", .help = "only this source (repeat for more)"},
        {0},
    };
    const struct opt_command command = {.name = "status", .usage = "[--source NAME]... [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    struct event_list events = {0};
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("status", &args, 0)) != EXIT_OK)
        goto out;
    if (cli_open_repo(g, &repo, &err) < 0 || snapshot_list_load(repo, &list, &err) < 0 ||
        event_list_load(repo, NULL, &events, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    int64_t now = (int64_t)time(NULL);
    size_t count;
    const char **names = status_sources(&list, g->config, &only, &count);
    json_t *sources = json_array();
    size_t problems = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *s = source_status(&list, &events, g->config, names[i], now);
        problems += json_array_size(json_object_get(s, "problems"));
        json_array_append_new(sources, s);
    }
    free(names);
    json_t *doc = json_pack("{s:o, s:I, s:b}", "sources", sources, "problems", (json_int_t)problems, "ok",
                            problems == 0);
    if (g->is_json) {
        json_dumpf(doc, stdout, JSON_COMPACT);
        printf("\n");
    } else {
        size_t i;
        json_t *s;
        json_array_foreach(sources, i, s)
            print_source(s, now);
        if (!count)
            printf("no sources: the repository has no snapshots and coffer.yaml names none\n");
        printf("\n%s\n", problems ? "NOT SAFE: see the problems above" : "all objectives and rules met");
    }
    json_decref(doc);
    code = problems ? EXIT_PARTIAL : EXIT_OK;
out:
    event_list_free(&events);
    snapshot_list_free(&list);
    repo_free(repo);
    string_list_free(&only);
    return code;
}
