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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ops/status.h"
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

/* "  PROBLEM  rule: what / to do: todo" for each. */
static void print_problems(json_t *problems)
{
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
        printf("  PROBLEM  %s: %s\n           to do: %s\n", json_string_value(json_object_get(p, "rule")),
               json_string_value(json_object_get(p, "what")), json_string_value(json_object_get(p, "todo")));
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
    print_problems(json_object_get(s, "problems"));
}

static void print_repository(json_t *r)
{
    char free_text[32], total[32], stored[32];
    json_t *free_bytes = json_object_get(r, "free_bytes"), *stored_bytes = json_object_get(r, "stored_bytes");
    if (!json_is_object(r) || (!json_is_integer(free_bytes) && !json_is_integer(stored_bytes)))
        return;
    printf("repository %s\n", json_string_value(json_object_get(r, "location")));
    if (json_is_integer(free_bytes)) {
        size_format((uint64_t)json_integer_value(free_bytes), free_text);
        size_format((uint64_t)json_integer_value(json_object_get(r, "total_bytes")), total);
        printf("  free     %s of %s\n", free_text, total);
    }
    if (json_is_integer(stored_bytes)) {
        size_format((uint64_t)json_integer_value(stored_bytes), stored);
        printf("  stored   %s of packs (at the last check)\n", stored);
    }
    print_problems(json_object_get(r, "problems"));
}

static void print_daemon(json_t *d)
{
    if (!json_is_object(d))
        return;
    size_t i;
    json_t *j;
    printf("schedule\n");
    json_array_foreach(json_object_get(d, "jobs"), i, j) {
        json_t *last = json_object_get(j, "last");
        const char *error = json_string_value(json_object_get(last, "error"));
        printf("  %-10s next %s, last %s%s%s\n", json_string_value(json_object_get(j, "job")),
               json_string_value(json_array_get(json_object_get(j, "next"), 0)),
               json_is_object(last) ? json_string_value(json_object_get(last, "outcome")) : "never run",
               error ? ": " : "", error ? error : "");
    }
    json_array_foreach(json_object_get(d, "incidents"), i, j)
        printf("  INCIDENT %s: %s: %s (open since %s)\n", json_string_value(json_object_get(j, "source")),
               json_string_value(json_object_get(j, "rule")), json_string_value(json_object_get(j, "what")),
               json_string_value(json_object_get(j, "opened")));
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
    struct status_repository here;
    ops_status_repository(repo, &events, &here);
    json_t *doc = ops_status(&list, &events, g->config, (const char *const *)only.items, only.count, &here, now);
    struct string_list warnings = {0};
    ops_status_add_daemon(doc, g->config, here.location, now, &warnings);
    for (size_t w = 0; w < warnings.count; w++)
        fprintf(stderr, "coffer: warning: %s\n", warnings.items[w]);
    string_list_free(&warnings);
    json_t *sources = json_object_get(doc, "sources");
    size_t problems = (size_t)json_integer_value(json_object_get(doc, "problems")), count = json_array_size(sources);
    size_t i;
    if (g->is_json) {
        json_dumpf(doc, stdout, JSON_COMPACT);
        printf("\n");
    } else {
        json_t *s;
        json_array_foreach(sources, i, s)
            print_source(s, now);
        print_repository(json_object_get(doc, "repository"));
        print_daemon(json_object_get(doc, "daemon"));
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
