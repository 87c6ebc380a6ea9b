/*
 * cmd_log.c — `coffer log`: the runbook's "review the backup logs for
 * errors" from any machine with a key. Lists the runs the daemon recorded
 * in the repository (ops/job.h's "run" events), oldest first: when, which
 * job, how it went, what each action did, and the error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "repo/event.h"
#include "util/text.h"

static const char description[] =
    "The runs of scheduled jobs (coffer daemon), oldest first: the time, the job,\n"
    "its outcome (ok, partial, failed, stopped, skipped, missed), what each action\n"
    "did and the first error. --since takes a duration back from now (7d, 24h) or a\n"
    "time (RFC 3339); --source keeps the runs that touched that source or found a\n"
    "problem with it; --failed only those that did not end ok.\n\n"
    "exit code: 0, also when nothing matches; 1 the log could not be read.";

struct since_arg {
    int64_t time;
};

static int parse_since(const char *arg, void *to, struct error *err)
{
    struct since_arg *since = to;
    uint64_t back;
    if (time_parse_rfc3339(arg, &since->time, NULL) == 0)
        return 0;
    if (duration_parse(arg, &back) == 0 && back < (uint64_t)INT64_MAX / 2) {
        since->time = (int64_t)time(NULL) - (int64_t)back;
        return 0;
    }
    return error_setk(err, ERR_USAGE, "bad --since \"%s\": give a duration back from now (7d, 24h, 90m) or a time "
                      "(RFC 3339, e.g. 2026-01-05T02:00:00Z)", arg);
}

static bool is_text(json_t *value, const char *text)
{
    return json_is_string(value) && !strcmp(json_string_value(value), text);
}

static bool names_source(json_t *doc, const char *source)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "sources"), i, v)
        if (is_text(v, source))
            return true;
    json_array_foreach(json_object_get(doc, "problems"), i, v)
        if (is_text(json_object_get(v, "source"), source))
            return true;
    return false;
}

static void print_run(json_t *doc)
{
    char when[32];
    time_format_rfc3339((int64_t)json_number_value(json_object_get(doc, "time")), when);
    printf("%s  %-10s %-8s", when, json_string_value(json_object_get(doc, "job")),
           json_string_value(json_object_get(doc, "outcome")));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "actions"), i, a)
        printf("%s%s: %s", i ? "; " : " ", json_string_value(json_object_get(a, "action")),
               json_string_value(json_object_get(a, "what")));
    const char *why = json_string_value(json_object_get(doc, "why"));
    if (why)
        printf(" not run: %s", why);
    printf("\n");
    const char *error = json_string_value(json_object_get(doc, "error"));
    if (error && !why)
        printf("  error: %s\n", error);
    json_array_foreach(json_object_get(doc, "warnings"), i, a)
        printf("  warning: %s\n", json_string_value(a));
}

int cmd_log(struct cli_globals *g, int argc, char **argv)
{
    const char *source = NULL, *job = NULL;
    struct since_arg since = {0};
    bool is_failed_only = false;
    const struct opt options[] = {
        {OPT_STRING("source", &source), .arg = "NAME", .help = "only runs that touched NAME or found a problem with it"},
        {OPT_STRING("job", &job), .arg = "NAME", .help = "only runs of this job"},
        {OPT_CUSTOM("since", parse_since, &since), .arg = "WHEN", .help = "only runs since WHEN (7d, 24h, or RFC 3339)"},
        {OPT_FLAG("failed", &is_failed_only), .help = "only runs that did not end ok"},
        {0},
    };
    const struct opt_command command = {.name = "log", .usage = "[OPTIONS]", .description = description,
                                        .options = options};
    struct opt_args args;
    struct repo *repo = NULL;
    struct event_list events = {0};
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("log", &args, 0)) != EXIT_OK)
        return code;
    if (cli_open_repo(g, &repo, &err) < 0 || event_list_load(repo, "run", &events, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    json_t *list = g->is_json ? json_array() : NULL;
    size_t shown = 0;
    for (size_t i = 0; i < events.count; i++) {
        json_t *doc = events.items[i].doc;
        const char *outcome = json_string_value(json_object_get(doc, "outcome"));
        if ((int64_t)events.items[i].time < since.time || (source && !names_source(doc, source)) ||
            (job && !is_text(json_object_get(doc, "job"), job)) ||
            (is_failed_only && outcome && !strcmp(outcome, "ok")))
            continue;
        shown++;
        if (list)
            json_array_append_new(list, cli_event_json(doc));
        else
            print_run(doc);
    }
    if (list) {
        json_dumpf(list, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(list);
    } else if (!shown && !g->is_quiet) {
        printf("no runs%s (runs are those of `coffer daemon`)\n", events.count ? " match" : " recorded");
    }
    if (events.unreadable)
        fprintf(stderr, "coffer: warning: %zu event%s could not be read\n", events.unreadable,
                events.unreadable == 1 ? "" : "s");
out:
    event_list_free(&events);
    repo_free(repo);
    return code;
}
