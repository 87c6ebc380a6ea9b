/*
 * cmd_forget.c — `coffer forget`: apply a retention policy.
 *
 * The policy comes from the flags when any --keep-* flag is given (for
 * every source), else from coffer.yaml: a source's own `retention:`, or
 * the top-level one. Snapshots named on the command line are removed
 * instead, with no policy.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "ops/ops.h"
#include "util/text.h"

static const char description[] =
    "Removes the snapshots a retention policy does not keep. Each source's snapshots\n"
    "are judged on their own: a --keep-hourly N rule keeps the newest snapshot of\n"
    "each of the last N hours that have one (likewise daily, weekly by ISO week,\n"
    "monthly, yearly); a snapshot kept by any rule stays. The output says which\n"
    "rules kept each snapshot. Without --keep-* flags the policy is coffer.yaml's\n"
    "retention: (a source's own, else the top-level one).\n"
    "\n"
    "A snapshot that fails its source's health rules (it shrank below shrink_alert\n"
    "of the one before, or is below min_size) never fills a slot by itself: each\n"
    "period also keeps its newest healthy snapshot, and the newest healthy snapshot\n"
    "of a source is kept whatever the policy (--force removes it).\n"
    "\n"
    "With SNAPSHOT arguments (ids, id prefixes or \"latest\"), exactly those are\n"
    "removed. Only snapshots are removed; their data stays until a prune.";

struct forget_cli {
    const struct cli_globals *g;
    json_t *json;
    const char *last_source;
    size_t kept, removed;
    bool is_dry_run;
};

static void report(void *ctx, const struct snapshot *snap, const struct retention_verdict *v, const char *unhealthy)
{
    struct forget_cli *f = ctx;
    char hex[65], when[40], reasons[128] = "";
    snapshot_id_hex(snap, hex);
    time_format_rfc3339(snap->time, when);
    json_t *why = json_array();
    for (int r = 0; r < RETENTION_RULES; r++) {
        if (!(v->reasons & (1u << r)))
            continue;
        size_t len = strlen(reasons);
        snprintf(reasons + len, sizeof reasons - len, "%s%s", len ? ", " : "", retention_rule_name((enum retention_rule)r));
        json_array_append_new(why, json_string(retention_rule_name((enum retention_rule)r)));
    }
    if (v->is_kept)
        f->kept++;
    else
        f->removed++;
    if (f->json) {
        json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:o}", "source", snap->source, "id", hex, "time", when,
                                 "action", v->is_kept ? "keep" : "remove", "reasons", why);
        if (unhealthy)
            json_object_set_new(item, "unhealthy", json_string(unhealthy));
        json_array_append_new(f->json, item);
        return;
    }
    json_decref(why);
    if (f->g->is_quiet)
        return;
    if (!f->last_source || strcmp(f->last_source, snap->source))
        printf("source %s:\n", snap->source);
    f->last_source = snap->source;
    char health[640] = "";
    if (unhealthy)
        snprintf(health, sizeof health, "%s(unhealthy: %s)", *reasons ? " " : "", unhealthy);
    printf("  %-12s %.8s  %s  %s%s\n", v->is_kept ? "keep" : f->is_dry_run ? "would remove" : "remove", hex, when,
           reasons, health);
}

static int parse_within(const char *arg, void *to, struct error *err)
{
    return retention_parse_duration(arg, to, err);
}

int cmd_forget(struct cli_globals *g, int argc, char **argv)
{
    struct forget_cli f = {.g = g};
    struct retention_policy flags = {0};
    bool has_flags = false;
    struct retention_plan plan = {0};
    struct forget_options opts = {.policy_for = ops_retention_policy_for, .ctx = &plan, .cfg = g->config};
    struct prune_options prune = {.max_unused = 0.05};
    bool is_prune = false;
    struct string_list tags = {0}, sources = {0};
    unsigned *counts = flags.counts;
    const struct opt options[] = {
        {OPT_UINT("keep-last", &counts[KEEP_LAST], 0, 1000000), .seen = &has_flags, .arg = "N",
         .help = "the N newest snapshots"},
        {OPT_UINT("keep-hourly", &counts[KEEP_HOURLY], 0, 1000000), .seen = &has_flags, .arg = "N",
         .help = "the newest of each of the last N hours"},
        {OPT_UINT("keep-daily", &counts[KEEP_DAILY], 0, 1000000), .seen = &has_flags, .arg = "N",
         .help = "... days"},
        {OPT_UINT("keep-weekly", &counts[KEEP_WEEKLY], 0, 1000000), .seen = &has_flags, .arg = "N",
         .help = "... ISO weeks"},
        {OPT_UINT("keep-monthly", &counts[KEEP_MONTHLY], 0, 1000000), .seen = &has_flags, .arg = "N",
         .help = "... months"},
        {OPT_UINT("keep-yearly", &counts[KEEP_YEARLY], 0, 1000000), .seen = &has_flags, .arg = "N",
         .help = "... years"},
        {OPT_CUSTOM("keep-within", parse_within, &flags.within_seconds), .seen = &has_flags, .arg = "D",
         .help = "every snapshot within D of the newest (90d, 2y6m, 36h)"},
        {OPT_LIST("keep-tag", &tags), .seen = &has_flags, .arg = "TAG",
         .help = "every snapshot tagged TAG (repeat for more)"},
        {OPT_STRING("timezone", &flags.timezone), .arg = "ZONE",
         .help = "periods in this zone (e.g. Europe/Berlin; default UTC)"},
        {OPT_LIST("source", &sources), .arg = "NAME", .help = "only this source (repeat for more)"},
        {OPT_FLAG("dry-run", &opts.is_dry_run), .help = "say what would be removed, remove nothing"},
        {OPT_FLAG("prune", &is_prune), .help = "then prune (see coffer prune --help)"},
        {OPT_PERCENT("max-unused", &prune.max_unused, 0, 100), .arg = "N%",
         .help = "with --prune: as for prune (default 5%)"},
        {OPT_FLAG("force", &opts.is_force),
         .help = "remove even the last snapshot of a source (with --prune: prune --force)"},
        {0},
    };
    const struct opt_command command = {.name = "forget", .takes_lock = true,
                                        .usage = "[--keep-* N ...] [--source NAME]... [--dry-run] [OPTIONS]\n"
                 "SNAPSHOT... [--dry-run] [--force]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct repo *repo = NULL;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        goto out;
    if (args.count && has_flags) {
        code = cli_usage_error("forget", "give either snapshots to remove (%s, ...) or --keep-* rules, not both",
                               args.items[0]);
        goto out;
    }
    opts.ids = (const char *const *)args.items;
    opts.id_count = args.count;
    f.is_dry_run = opts.is_dry_run;
    flags.tags = (const char *const *)tags.items;
    flags.tag_count = tags.count;
    opts.sources = (const char *const *)sources.items;
    opts.source_count = sources.count;
    if (cli_open_repo(g, &repo, &err) < 0 ||
        (!args.count && ops_retention_plan_init(&plan, g->config, has_flags ? &flags : NULL, &err) < 0)) {
        code = cli_fail(&err);
        goto out;
    }
    if (g->is_json)
        f.json = json_array();
    if (ops_forget(repo, &opts, report, &f, &err) < 0) {
        code = cli_fail(&err);
    } else if (f.json) {
        json_dumpf(f.json, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    } else if (!g->is_quiet) {
        printf("%zu kept, %zu %s%s\n", f.kept, f.removed, f.is_dry_run ? "would be removed" : "removed",
               f.removed && !f.is_dry_run && !is_prune ? " (their data stays until a prune)" : "");
    }
    if (code == EXIT_OK && is_prune) {
        struct prune_result r;
        prune.is_dry_run = opts.is_dry_run;
        prune.is_force = opts.is_force;
        if (ops_prune(repo, &prune, &r, &err) < 0)
            code = cli_fail(&err);
        else
            cli_print_prune(g, &r, prune.is_dry_run);
    }
out:
    json_decref(f.json);
    ops_retention_plan_free(&plan);
    string_list_free(&tags);
    string_list_free(&sources);
    repo_free(repo);
    return code;
}
