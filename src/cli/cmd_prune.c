/*
 * cmd_prune.c — `coffer prune`: free the space of forgotten snapshots.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer prune [--max-unused N%] [--dry-run] [--force] [OPTIONS]\n\n"
    "Deletes the data no snapshot needs, in two steps: packs holding nothing needed\n"
    "are condemned (no backup uses them any more, restores still can), and deleted by\n"
    "the next prune if still unneeded; packs with more than --max-unused of their\n"
    "bytes unneeded are rewritten with only what is needed (each blob verified on the\n"
    "way). Nothing is deleted while a lock of a process that may still run is there\n"
    "(an expired lock of another host, or of a stopped process). The new index is\n"
    "written before anything old is deleted, so an interrupted prune loses nothing;\n"
    "run it again to finish. Takes the exclusive lock: no backup runs meanwhile.\n"
    "Refuses when no snapshot is listed though the index holds data, or when fewer\n"
    "than half the snapshots the last prune or forget left are listed.\n\n"
    "options:\n"
    "  --max-unused N%        rewrite packs with more than N% unused (default 5%)\n"
    "  --dry-run              say what would be deleted and rewritten, change nothing\n"
    "  --force                prune although the snapshot list is empty or shrank by\n"
    "                         more than half\n" CLI_GLOBAL_HELP;

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
    char freed[32], rewritten[32], stored[32], condemned[32];
    size_format(r->bytes_freed, freed);
    size_format(r->bytes_rewritten, rewritten);
    size_format(r->bytes_stored, stored);
    size_format(r->bytes_condemned, condemned);
    if (g->is_json) {
        json_t *doc = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "type", "prune",
                                "dry_run", is_dry_run, "snapshots", (json_int_t)r->snapshots, "packs",
                                (json_int_t)r->packs, "packs_deleted", (json_int_t)r->packs_deleted,
                                "packs_condemned", (json_int_t)r->packs_condemned, "packs_kept_again",
                                (json_int_t)r->packs_kept_again, "packs_repacked", (json_int_t)r->packs_repacked,
                                "packs_written", (json_int_t)r->packs_written, "bytes_freed",
                                (json_int_t)r->bytes_freed, "bytes_condemned", (json_int_t)r->bytes_condemned,
                                "bytes_rewritten", (json_int_t)r->bytes_rewritten);
        if (r->not_alone_because[0])
            json_object_set_new(doc, "deletion_deferred_by", json_string(r->not_alone_because));
        json_dumpf(doc, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(doc);
        return;
    }
    printf("%s %llu of %llu packs (%s stored), %s %llu (%s of needed data)%s; %s %s; %s %llu (%s, %s)\n",
           is_dry_run ? "would delete" : "deleted", (unsigned long long)r->packs_deleted,
           (unsigned long long)r->packs, stored, is_dry_run ? "would repack" : "repacked",
           (unsigned long long)r->packs_repacked, rewritten,
           is_dry_run ? "" : r->packs_written ? " into new packs" : "", is_dry_run ? "would free" : "freed", freed,
           is_dry_run ? "would condemn" : "condemned", (unsigned long long)r->packs_condemned, condemned,
           "the next prune deletes what is still unneeded");
    if (r->packs_kept_again)
        printf("%llu condemned pack%s taken back: a newer snapshot needs %s\n", (unsigned long long)r->packs_kept_again,
               r->packs_kept_again == 1 ? "" : "s", r->packs_kept_again == 1 ? "it" : "them");
    if (r->not_alone_because[0])
        printf("nothing deleted: %s may still run (a stopped or suspended process, or another host whose clock is "
               "ahead); if it is gone, `coffer unlock` removes its lock\n", r->not_alone_because);
}

int cmd_prune(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"max-unused", required_argument, NULL, 'm'},
        {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},
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
        case 'f': opts.is_force = true; break;
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
