/*
 * cmd_prune.c — `coffer prune`: free the space of forgotten snapshots.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer prune [--max-unused N%] [--dry-run] [OPTIONS]\n\n"
    "Deletes the data no snapshot needs: packs holding nothing needed are deleted,\n"
    "packs with more than --max-unused of their bytes unneeded are rewritten with\n"
    "only what is needed (each blob verified on the way). The new index is written\n"
    "before anything old is deleted, so an interrupted prune loses nothing; run it\n"
    "again to finish. Takes the exclusive lock: no backup runs meanwhile.\n\n"
    "options:\n"
    "  --max-unused N%        rewrite packs with more than N% unused (default 5%)\n"
    "  --dry-run              say what would be deleted and rewritten, change nothing\n" CLI_GLOBAL_HELP;

int cli_parse_max_unused(const char *command, const char *arg, double *out)
{
    char *end;
    double pct = strtod(arg, &end);
    if (end == arg || (*end && strcmp(end, "%") != 0) || pct < 0 || pct > 100)
        return cli_usage_error(command, "bad --max-unused \"%s\" (a percentage, e.g. 5%%)", arg);
    *out = pct / 100.0;
    return EXIT_OK;
}

void cli_print_prune(const struct cli_globals *g, const struct prune_result *r, bool is_dry_run)
{
    if (g->is_quiet)
        return;
    char freed[32], rewritten[32], stored[32];
    size_format(r->bytes_freed, freed);
    size_format(r->bytes_rewritten, rewritten);
    size_format(r->bytes_stored, stored);
    if (g->is_json) {
        printf("{\"type\":\"prune\",\"dry_run\":%s,\"packs\":%llu,\"packs_deleted\":%llu,\"packs_repacked\":%llu,"
               "\"packs_written\":%llu,\"bytes_freed\":%llu,\"bytes_rewritten\":%llu}\n",
               is_dry_run ? "true" : "false", (unsigned long long)r->packs, (unsigned long long)r->packs_deleted,
               (unsigned long long)r->packs_repacked, (unsigned long long)r->packs_written,
               (unsigned long long)r->bytes_freed, (unsigned long long)r->bytes_rewritten);
        return;
    }
    printf("%s %llu of %llu packs (%s stored), %s %llu (%s of needed data)%s; %s %s\n",
           is_dry_run ? "would delete" : "deleted", (unsigned long long)r->packs_deleted,
           (unsigned long long)r->packs, stored, is_dry_run ? "would repack" : "repacked",
           (unsigned long long)r->packs_repacked, rewritten,
           is_dry_run ? "" : r->packs_written ? " into new packs" : "", is_dry_run ? "would free" : "freed", freed);
}

int cmd_prune(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"max-unused", required_argument, NULL, 'm'},
        {"dry-run", no_argument, NULL, 'n'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct prune_options opts = {.max_unused = 0.05};
    struct error err;
    int opt, code = EXIT_OK;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 'm':
            if ((code = cli_parse_max_unused("prune", optarg, &opts.max_unused)) != EXIT_OK)
                return code;
            break;
        case 'n': opts.is_dry_run = true; break;
        default: return cli_usage_error("prune", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("prune", "unexpected argument \"%s\"", argv[optind]);
    struct repo *repo = NULL;
    struct prune_result r;
    if (cli_open_repo(g, &repo, &err) < 0 || ops_prune(repo, &opts, &r, &err) < 0)
        code = cli_fail(&err);
    else
        cli_print_prune(g, &r, opts.is_dry_run);
    repo_free(repo);
    return code;
}
