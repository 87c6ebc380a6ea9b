/*
 * cmd_stats.c — `coffer stats`: sizes, deduplication, what each source costs.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/text.h"

static const char description[] =
    "Prints the logical size of all snapshots (what restoring each would write),\n"
    "the bytes the repository stores, the deduplication ratio, and per source its\n"
    "snapshots, their logical size and the stored bytes no other source shares\n"
    "(what forgetting the source entirely and pruning would free). Also the stored\n"
    "bytes no snapshot references any more, which a prune would free.";

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void print_text(const struct stats_result *r)
{
    char logical[32], stored[32], unref[32], shared[32];
    size_format(r->logical_bytes, logical);
    size_format(r->stored_bytes, stored);
    size_format(r->unreferenced_bytes, unref);
    size_format(r->shared_bytes, shared);
    printf("snapshots:        %llu\n", (unsigned long long)r->snapshots);
    printf("logical size:     %s\n", logical);
    printf("stored:           %s\n", stored);
    printf("deduplication:    %.1fx (logical / stored)\n", ratio(r->logical_bytes, r->stored_bytes));
    printf("shared:           %s (referenced by several sources)\n", shared);
    printf("unreferenced:     %s (a prune frees it)\n", unref);
    printf("\n%-16s %9s %12s %12s\n", "SOURCE", "SNAPSHOTS", "LOGICAL", "UNIQUE");
    for (size_t i = 0; i < r->source_count; i++) {
        char l[32], u[32];
        size_format(r->sources[i].logical_bytes, l);
        size_format(r->sources[i].unique_bytes, u);
        printf("%-16s %9llu %12s %12s\n", r->sources[i].name, (unsigned long long)r->sources[i].snapshots, l, u);
    }
}

static void print_json(const struct stats_result *r)
{
    json_t *sources = json_array();
    for (size_t i = 0; i < r->source_count; i++)
        json_array_append_new(sources, json_pack("{s:s, s:I, s:I, s:I}", "source", r->sources[i].name, "snapshots",
                                                 (json_int_t)r->sources[i].snapshots, "logical_bytes",
                                                 (json_int_t)r->sources[i].logical_bytes, "unique_bytes",
                                                 (json_int_t)r->sources[i].unique_bytes));
    json_t *doc = json_pack("{s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:o}", "snapshots", (json_int_t)r->snapshots,
                            "logical_bytes", (json_int_t)r->logical_bytes, "stored_bytes",
                            (json_int_t)r->stored_bytes, "dedup_ratio", ratio(r->logical_bytes, r->stored_bytes),
                            "referenced_bytes", (json_int_t)r->referenced_bytes, "shared_bytes",
                            (json_int_t)r->shared_bytes, "unreferenced_bytes", (json_int_t)r->unreferenced_bytes,
                            "sources", sources);
    json_dumpf(doc, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(doc);
}

int cmd_stats(struct cli_globals *g, int argc, char **argv)
{
    const struct opt options[] = {{0}};
    const struct opt_command command = {.name = "stats", .takes_lock = true, .usage = "[OPTIONS]", .description = description,
                                        .options = options};
    struct opt_args args;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if ((code = cli_args_at_most("stats", &args, 0)) != EXIT_OK)
        return code;
    struct repo *repo = NULL;
    struct stats_result r;
    struct error err;
    if (cli_open_repo(g, &repo, &err) < 0 || ops_stats(repo, &r, &err) < 0) {
        code = cli_fail(&err);
    } else {
        if (g->is_json)
            print_json(&r);
        else
            print_text(&r);
        stats_result_free(&r);
    }
    repo_free(repo);
    return code;
}
