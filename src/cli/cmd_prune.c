/*
 * cmd_prune.c — `coffer prune`: free the space of forgotten snapshots.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/text.h"

static const char description[] =
    "Deletes the data no snapshot needs, in two steps: packs holding nothing needed\n"
    "are condemned (no backup uses them any more, restores still can), and deleted by\n"
    "the next prune if still unneeded; packs with more than --max-unused of their\n"
    "bytes unneeded are rewritten with only what is needed (each blob verified on the\n"
    "way). Nothing is deleted while a lock of a process that may still run is there\n"
    "(an expired lock of another host, or of a stopped process). The new index is\n"
    "written before anything old is deleted, so an interrupted prune loses nothing;\n"
    "run it again to finish. Takes the exclusive lock: no backup runs meanwhile.\n"
    "Refuses when no snapshot is listed though the index holds data, or when fewer\n"
    "than half the snapshots the last prune or forget left are listed.";

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
    struct prune_options opts = {.max_unused = 0.05};
    const struct opt options[] = {
        {OPT_PERCENT("max-unused", &opts.max_unused, 0, 100), .arg = "N%",
         .help = "rewrite packs with more than N% unused (default 5%)"},
        {OPT_FLAG("dry-run", &opts.is_dry_run), .help = "say what would be deleted and rewritten, change nothing"},
        {OPT_FLAG("force", &opts.is_force),
         .help = "prune although the snapshot list is empty or shrank by more than half"},
        {0},
    };
    const struct opt_command command = {.name = "prune", .takes_lock = true, .usage = "[--max-unused N%] [--dry-run] [--force] [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if ((code = cli_args_at_most("prune", &args, 0)) != EXIT_OK)
        return code;
    struct repo *repo = NULL;
    struct prune_result r;
    if (cli_open_repo(g, &repo, &err) < 0 || ops_prune(repo, &opts, &r, &err) < 0)
        code = cli_fail(&err);
    else
        cli_print_prune(g, &r, opts.is_dry_run);
    repo_free(repo);
    return code;
}
