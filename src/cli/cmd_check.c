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

#include "cli/cli.h"
#include "ops/check_job.h"

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

static void print_damage(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "damage: %s\n", line);
    fflush(stderr);
}

static void print_health(const struct health_report *health)
{
    for (size_t i = 0; i < health->count; i++)
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
 * packs and rules, printed. Returns the exit code; *is_run is false when
 * the check could not run at all. */
static int check_one(struct repo *repo, const struct cli_globals *g, const struct check_request *req,
                     const char *source, json_t *stale_locks, bool *is_run)
{
    struct progress progress;
    progress_init(&progress, "check", g->is_quiet, g->is_json);
    struct check_job job = {.source = source, .is_read_data = req->is_read_data, .percent = req->percent,
                            .workers = req->workers, .cfg = g->config, .stale_locks = stale_locks,
                            .progress = &progress, .report = g->is_json ? NULL : print_damage};
    struct error err;
    int rc = ops_check_job(repo, &job, &err);
    progress_done(&progress);
    *is_run = rc == 0;
    if (rc < 0) {
        ops_check_job_free(&job);
        return cli_fail(&err);
    }
    if (!g->is_json)
        print_health(&job.health);
    for (size_t i = 0; i < job.warnings.count; i++)
        fprintf(stderr, "coffer: warning: %s\n", job.warnings.items[i]);
    if (g->is_json) {
        json_object_set(job.doc, "damage_detail", job.damage_detail);
        cli_print_event_json(job.doc);
    } else if (!g->is_quiet || job.is_damaged || job.health.count) {
        if (req->is_named)
            printf("source %s: ", source);
        print_summary(&job.opts, &job.result, &job.health, job.is_judged, job.is_damaged);
    }
    fflush(stdout);
    int code = job.is_damaged ? cli_fail(&job.damage_err) : job.health.count ? EXIT_PARTIAL : EXIT_OK;
    ops_check_job_free(&job);
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
    const struct opt_command command = {.name = "check", .takes_lock = true,
                                        .usage = "[--read-data[=N%]] [--source NAME]... [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct repo *repo = NULL;
    json_t *stale_locks = NULL;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("check", &args, 0)) != EXIT_OK)
        goto out;
    if (cli_open_repo(g, &repo, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    stale_locks = ops_check_stale_locks(repo);
    for (size_t i = 0; i < json_array_size(stale_locks) && !g->is_json; i++)
        printf("stale lock: %s\n", json_string_value(json_array_get(stale_locks, i)));
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
