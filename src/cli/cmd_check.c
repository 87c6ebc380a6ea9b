/*
 * cmd_check.c — `coffer check`: verify the repository.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "repo/lock.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer check [--read-data | --read-data=N%] [OPTIONS]\n\n"
    "Verifies the repository: every index and snapshot opens, every blob a snapshot\n"
    "needs is indexed, every indexed pack exists. With --read-data it also reads every\n"
    "pack and authenticates, decompresses and hashes every blob; --read-data=10%\n"
    "reads a random tenth of the packs (spread a full read over days). Problems are\n"
    "listed with the packs and the snapshots they affect; the exit code is then 1.\n\n"
    "options:\n"
    "  --read-data[=N%]       read and verify all stored data, or N percent of packs\n"
    "  --workers N            reader threads (default: one per core)\n" CLI_GLOBAL_HELP;

/* Stale locks are no damage, but worth knowing: they are reported before
 * check takes its own lock (which clears those of dead local processes). */
static void report_stale_lock(void *ctx, const struct lock_info *info)
{
    const struct cli_globals *g = ctx;
    if ((!info->is_orphaned && !info->is_expired) || g->is_json)
        return;
    char when[32];
    time_format_rfc3339(info->time, when);
    printf("stale lock: %s lock of pid %d on %s, last refreshed %s (%s); `coffer unlock` removes it\n",
           info->is_exclusive ? "an exclusive" : "a shared", info->pid, info->host, when,
           info->is_orphaned ? "its process is gone" : "not refreshed for 30 minutes");
}

static void print_problem(void *ctx, const char *line)
{
    (void)ctx;
    printf("error: %s\n", line);
    fflush(stdout);
}

int cmd_check(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"read-data", optional_argument, NULL, 'd'},
        {"workers", required_argument, NULL, 'w'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct check_options opts = {0};
    struct progress progress;
    struct error err;
    int opt;
    opterr = 0;
    opts.read_percent = 100;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 'd': {
            opts.is_read_data = true;
            if (optarg) {
                char *end;
                long pct = strtol(optarg, &end, 10);
                if (end == optarg || (*end && strcmp(end, "%") != 0) || pct < 1 || pct > 100)
                    return cli_usage_error("check", "bad --read-data value \"%s\" (use e.g. --read-data=10%%)", optarg);
                opts.read_percent = (unsigned)pct;
            }
            break;
        }
        case 'w': opts.workers = (unsigned)atoi(optarg); break;
        default: return cli_usage_error("check", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("check", "unexpected argument \"%s\"", argv[optind]);
    progress_init(&progress, "check", g->is_quiet, g->is_json);
    opts.progress = &progress;
    opts.report = print_problem;

    struct repo *repo = NULL;
    struct check_result result;
    int code = EXIT_OK;
    if (cli_open_repo(g, &repo, &err) < 0) {
        code = cli_fail(&err);
    } else {
        struct error ignored;
        repo_locks_list(repo, report_stale_lock, g, &ignored);
        int rc = ops_check(repo, &opts, &result, &err);
        progress_done(&progress);
        if (g->is_json) {
            printf("{\"type\":\"summary\",\"snapshots\":%llu,\"packs\":%llu,\"packs_read\":%llu,\"blobs_read\":%llu,"
                   "\"unindexed_packs\":%llu,\"errors\":%llu}\n",
                   (unsigned long long)result.snapshots, (unsigned long long)result.packs,
                   (unsigned long long)result.packs_read, (unsigned long long)result.blobs,
                   (unsigned long long)result.unindexed_packs, (unsigned long long)result.errors);
        } else if (!g->is_quiet && rc == 0) {
            printf("checked %llu snapshots and %llu packs", (unsigned long long)result.snapshots,
                   (unsigned long long)result.packs);
            if (opts.is_read_data)
                printf(" (read %llu packs, %llu blobs)", (unsigned long long)result.packs_read,
                       (unsigned long long)result.blobs);
            printf(": no errors were found\n");
            if (result.unindexed_packs)
                printf("%llu pack%s from interrupted backups can be removed by prune\n",
                       (unsigned long long)result.unindexed_packs, result.unindexed_packs == 1 ? "" : "s");
        }
        if (rc < 0)
            code = cli_fail(&err);
    }
    repo_free(repo);
    return code;
}
