/*
 * cmd_check.c — `coffer check`: is the repository whole, and is each
 * source healthy?
 *
 * Two kinds of problem, reported one per line on stderr (or as JSON on
 * stdout with --json): damage (ops_check: missing or corrupt data, which
 * restores would hit; exit code 1) and health (health.h: a stale, small or
 * shrunken newest snapshot; exit code 3). Every check that ran is recorded
 * as an event in the repository, for `coffer status` and for the next
 * partial read.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ops/health.h"
#include "ops/ops.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "util/text.h"

static const char description[] =
    "Verifies the repository: every index and snapshot opens, every blob a snapshot\n"
    "needs is indexed, every indexed pack exists. With --read-data it also reads every\n"
    "pack and authenticates, decompresses and hashes every blob; --read-data=10%\n"
    "reads a tenth of the packs, the next tenth on the next run, so ten runs read\n"
    "them all. Then the health rules of coffer.yaml (health: max_age, min_size,\n"
    "shrink_alert) judge each source's newest snapshot. Problems go to stderr, one per\n"
    "line, naming the source, the rule or the damaged pack and snapshots, and what to\n"
    "do. The result is recorded in the repository for `coffer status`. With several\n"
    "--source options each source is checked (and recorded) on its own, one after\n"
    "the other: one summary line each, with --json one object per line.\n\n"
    "exit code: 0 healthy, 1 damage found or the check could not run, 3 a health rule\n"
    "failed.";

struct check_report {
    const struct cli_globals *g;
    json_t *damage;        /* lines */
    json_t *damage_detail; /* what the lines sum up (--json only, not in the event) */
    json_t *stale_locks;
};

/* Stale locks are no damage, but worth knowing: they are reported before
 * check takes its own lock (which clears those of dead local processes). */
static void report_stale_lock(void *ctx, const struct lock_info *info)
{
    struct check_report *r = ctx;
    if (!info->is_orphaned && !info->is_expired)
        return;
    char when[32], line[512];
    time_format_rfc3339(info->time, when);
    snprintf(line, sizeof line, "%s lock of pid %d on %s, last refreshed %s (%s)%s",
             info->is_exclusive ? "an exclusive" : "a shared", info->pid, info->host, when,
             info->is_orphaned ? "its process is gone" : "not refreshed for 30 minutes",
             info->is_orphaned ? "; any coffer that locks removes it (or `coffer unlock`)"
                               : "; prune deletes nothing while it is there: if that process is gone, `coffer unlock` "
                                 "removes it");
    json_array_append_new(r->stale_locks, json_string(line));
    if (!r->g->is_json)
        printf("stale lock: %s\n", line);
}

static void report_damage(void *ctx, const char *line)
{
    struct check_report *r = ctx;
    json_array_append_new(r->damage, json_string(line));
    if (!r->g->is_json) {
        fprintf(stderr, "damage: %s\n", line);
        fflush(stderr);
    }
}

/* The blobs one damage line sums up: listed in --json only. */
static void report_detail(void *ctx, const char *line)
{
    struct check_report *r = ctx;
    json_array_append_new(r->damage_detail, json_string(line));
}

static json_t *health_json(const struct health_report *h)
{
    json_t *list = json_array();
    for (size_t i = 0; i < h->count; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "source", h->items[i].source, "rule",
                                              h->items[i].rule, "what", h->items[i].what, "todo",
                                              h->items[i].todo ? h->items[i].todo : ""));
    return list;
}

/* Health rules apply to the sources coffer.yaml names, or to --source. */
static void judge_health(const struct check_result *r, const struct snapshot_list *list,
                         const struct cli_globals *g, const char *source, struct health_report *health,
                         bool *is_judged)
{
    memset(health, 0, sizeof *health);
    /* Without a snapshot list the damage check has reported why. */
    *is_judged = r->is_snapshot_list_read && (source || (g->config && g->config->source_count));
    if (!*is_judged)
        return;
    health_evaluate(list, g->config, source, (int64_t)time(NULL), health);
    for (size_t i = 0; i < health->count && !g->is_json; i++)
        fprintf(stderr, "health: %s: %s: %s; %s\n", health->items[i].source, health->items[i].rule,
                health->items[i].what, health->items[i].todo);
}

static void print_summary(const struct check_options *opts, const struct check_result *r,
                          const struct health_report *health, bool is_judged, bool is_damaged)
{
    printf("checked %llu snapshot%s and %llu packs", (unsigned long long)r->snapshots, r->snapshots == 1 ? "" : "s",
           (unsigned long long)r->packs);
    if (opts->is_read_data && opts->read_slices > 1)
        printf(" (read %llu packs, %llu blobs: slice %u of %u)", (unsigned long long)r->packs_read,
               (unsigned long long)r->blobs, opts->read_slice + 1, opts->read_slices);
    else if (opts->is_read_data)
        printf(" (read %llu packs, %llu blobs)", (unsigned long long)r->packs_read, (unsigned long long)r->blobs);
    printf(": %s", is_damaged ? "DAMAGE FOUND (see above)" : "no damage");
    if (is_judged)
        printf("; %zu source%s judged, %zu health problem%s", health->sources_judged,
               health->sources_judged == 1 ? "" : "s", health->count, health->count == 1 ? "" : "s");
    else
        printf("; no health rules applied (name sources in coffer.yaml, or use --source)");
    printf("\n");
    if (is_damaged && r->todo)
        printf("to do: %s\n", r->todo);
    if (r->unindexed_packs)
        printf("%llu pack%s from interrupted backups can be removed by prune\n", (unsigned long long)r->unindexed_packs,
               r->unindexed_packs == 1 ? "" : "s");
}

/* What every source's check of one command line shares. */
struct check_request {
    bool is_read_data;
    unsigned percent; /* of the packs read, with is_read_data */
    unsigned workers;
    bool is_named;    /* several sources: each summary says which */
};

/* One check, of everything (source NULL) or of one source's snapshots,
 * packs and rules: run, judged, recorded as an event, printed. Returns
 * the exit code; *is_run is false when the check could not run at all. */
static int check_one(struct repo *repo, const struct cli_globals *g, const struct check_request *req,
                     const char *source, json_t *stale_locks, bool *is_run)
{
    struct snapshot_list snapshots = {0};
    struct check_options opts = {.snapshots = &snapshots, .is_read_data = req->is_read_data, .source = source,
                                 .workers = req->workers};
    struct progress progress;
    struct error err;
    progress_init(&progress, "check", g->is_quiet, g->is_json);
    opts.progress = &progress;
    struct check_report report = {g, json_array(), json_array(), stale_locks};
    opts.report = report_damage;
    opts.detail = report_detail;
    opts.report_ctx = &report;

    struct check_result result;
    struct health_report health = {0};
    int code = EXIT_OK;
    *is_run = false;
    if (opts.is_read_data &&
        ops_check_next_slice(repo, opts.source, req->percent, &opts.read_slice, &opts.read_slices, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    int rc = ops_check(repo, &opts, &result, &err);
    progress_done(&progress);
    bool is_damaged = rc < 0 && result.errors > 0;
    if (rc < 0 && !is_damaged) { /* it could not run: nothing to record */
        code = cli_fail(&err);
        goto out;
    }
    *is_run = true;
    bool is_judged;
    judge_health(&result, &snapshots, g, opts.source, &health, &is_judged);

    json_t *doc = json_pack("{s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:O, s:o, s:b, s:b}",
                            "source", opts.source, "read",
                            !opts.is_read_data ? "none" : opts.read_slices > 1 ? "slice" : "all", "read_slice",
                            (json_int_t)opts.read_slice, "read_slices", (json_int_t)opts.read_slices, "snapshots",
                            (json_int_t)result.snapshots, "packs", (json_int_t)result.packs, "packs_read",
                            (json_int_t)result.packs_read, "blobs_read", (json_int_t)result.blobs,
                            "unindexed_packs", (json_int_t)result.unindexed_packs, "damage", json_incref(report.damage),
                            "stale_locks", stale_locks, "health", health_json(&health),
                            "health_judged", is_judged, "ok", !is_damaged && health.count == 0);
    if (is_damaged && result.todo)
        json_object_set_new(doc, "todo", json_string(result.todo));
    struct error record_err;
    if (event_save(repo, "check", doc, &record_err) < 0)
        fprintf(stderr, "coffer: warning: %s\n", record_err.msg);
    if (g->is_json) {
        json_object_set(doc, "damage_detail", report.damage_detail);
        json_dumpf(doc, stdout, JSON_COMPACT);
        printf("\n");
    } else if (!g->is_quiet || is_damaged || health.count) {
        if (req->is_named)
            printf("source %s: ", source);
        print_summary(&opts, &result, &health, is_judged, is_damaged);
    }
    fflush(stdout);
    json_decref(doc);
    if (is_damaged)
        code = cli_fail(&err);
    else if (health.count)
        code = EXIT_PARTIAL;
out:
    snapshot_list_free(&snapshots);
    health_report_free(&health);
    json_decref(report.damage);
    json_decref(report.damage_detail);
    return code;
}

int cmd_check(struct cli_globals *g, int argc, char **argv)
{
    struct check_request req = {.percent = 100};
    struct string_list sources = {0};
    const struct opt options[] = {
        {OPT_UINT("read-data", &req.percent, 1, 100), .unit = "%", .is_value_optional = true,
         .seen = &req.is_read_data, .arg = "N%",
         .help = "read and verify all stored data, or N percent of packs (--read-data 10% or --read-data=10%)"},
        {OPT_LIST("source", &sources), .arg = "NAME",
         .help = "only this source's snapshots, packs and rules (repeat for more)"},
        {OPT_UINT("workers", &req.workers, 1, 256), .arg = "N", .help = "reader threads (default: one per core)"},
        {0},
    };
    const struct opt_command command = {.name = "check",
                                        .usage = "[--read-data[=N%]] [--source NAME]... [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct repo *repo = NULL;
    json_t *stale_locks = json_array();
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("check", &args, 0)) != EXIT_OK)
        goto out;
    if (cli_open_repo(g, &repo, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    struct check_report locks = {g, NULL, NULL, stale_locks};
    struct error ignored;
    repo_locks_list(repo, report_stale_lock, &locks, &ignored);
    req.is_named = sources.count > 1;
    /* No --source: one check of everything. */
    for (size_t i = 0; i < (sources.count ? sources.count : 1); i++) {
        bool is_run;
        int one = check_one(repo, g, &req, sources.count ? sources.items[i] : NULL, stale_locks, &is_run);
        if (one != EXIT_OK && (code == EXIT_OK || (code == EXIT_PARTIAL && one != EXIT_PARTIAL)))
            code = one; /* the first failure, else a health problem */
        if (!is_run)
            break;
    }
out:
    json_decref(stale_locks);
    string_list_free(&sources);
    repo_free(repo);
    return code;
}
