/*
 * cmd_repair.c — `coffer repair index | packs | snapshots`.
 *
 * The commands are the steps `check` and `status` name after damage: repair
 * what can be repaired, say what stays lost, and point at the backup that
 * stores it again. Each ends by listing what is still unrestorable (a dry
 * run of repair snapshots on the repository as it is then).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/interrupt.h"

static const char description[] =
    "Repairs a damaged repository as far as its data allows. Run `coffer check\n"
    "--read-data` first: it records what is damaged. Then:\n"
    "  index       rebuild the index from the packs' own headers (an index file is\n"
    "              damaged or lost); condemned packs stay condemned\n"
    "  packs       copy the intact blobs of damaged packs into new packs and drop the\n"
    "              damaged and the missing packs from the index; the next backup of\n"
    "              each source stores what was lost again, which makes every\n"
    "              snapshot that needed it whole\n"
    "  snapshots   for each file-tree snapshot that still needs lost data, store a\n"
    "              copy without the unreadable files, tagged \"repaired\"\n"
    "Each takes the exclusive lock, writes new objects before it removes old ones\n"
    "(safe to interrupt; run it again), and ends by listing what is still\n"
    "unrestorable. What cannot be read for another reason than damage (an I/O\n"
    "error, a timeout) is left as it is and named, and the command fails: run it\n"
    "again once it can be read. The usual order: check --read-data, repair packs,\n"
    "backup, check --read-data.";

struct repair_cli {
    const struct cli_globals *g;
    json_t *lines;
};

static void print_line(void *ctx, const char *line)
{
    struct repair_cli *r = ctx;
    if (r->lines)
        json_array_append_new(r->lines, json_string(line));
    else if (!r->g->is_quiet)
        printf("%s\n", line);
}

static void print_result(struct repair_cli *r, const char *what, const struct repair_result *res, bool is_dry_run)
{
    const char *would = is_dry_run ? "would be " : "";
    if (r->lines) {
        json_t *doc = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "repair",
                                what, "dry_run", is_dry_run, "packs", (json_int_t)res->packs, "blobs",
                                (json_int_t)res->blobs, "packs_unreadable", (json_int_t)res->packs_unreadable,
                                "packs_condemned", (json_int_t)res->packs_condemned, "files_replaced",
                                (json_int_t)res->files_replaced, "packs_damaged", (json_int_t)res->packs_damaged,
                                "packs_missing", (json_int_t)res->packs_missing, "packs_written",
                                (json_int_t)res->packs_written, "blobs_saved", (json_int_t)res->blobs_saved,
                                "blobs_lost", (json_int_t)res->blobs_lost, "snapshots_written",
                                (json_int_t)res->snapshots_written, "snapshots_lost", (json_int_t)res->snapshots_lost,
                                "lines", json_incref(r->lines));
        json_dumpf(doc, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(doc);
        return;
    }
    if (r->g->is_quiet)
        return;
    if (!strcmp(what, "index"))
        printf("index %srebuilt from %llu packs (%llu blobs; %llu condemned packs stay condemned); %llu old index "
               "files %sreplaced; %llu packs with an unreadable header\n", would, (unsigned long long)res->packs,
               (unsigned long long)res->blobs, (unsigned long long)res->packs_condemned,
               (unsigned long long)res->files_replaced, would, (unsigned long long)res->packs_unreadable);
    else if (!strcmp(what, "packs"))
        printf("%llu damaged pack%s: %llu blobs %ssaved into %llu new packs, %llu lost; %llu missing pack%s %sdropped "
               "from the index\n", (unsigned long long)res->packs_damaged, res->packs_damaged == 1 ? "" : "s",
               (unsigned long long)res->blobs_saved, would, (unsigned long long)res->packs_written,
               (unsigned long long)res->blobs_lost, (unsigned long long)res->packs_missing,
               res->packs_missing == 1 ? "" : "s", would);
    else
        printf("%llu snapshot%s need lost data; %llu repaired cop%s %sstored\n", (unsigned long long)res->snapshots_lost,
               res->snapshots_lost == 1 ? "" : "s", (unsigned long long)res->snapshots_written,
               res->snapshots_written == 1 ? "y" : "ies", would);
}

/* What is still unrestorable once a repair of the index or the packs ran,
 * read afresh from the repository. */
static int report_still_lost(struct cli_globals *g, struct repair_cli *r, struct error *err)
{
    struct repo *repo = NULL;
    struct repair_result res;
    struct repair_options opts = {.is_dry_run = true, .report = print_line, .ctx = r};
    if (cli_open_repo(g, &repo, err) < 0)
        return -1;
    int rc = ops_repair_snapshots(repo, &opts, &res, err);
    repo_free(repo);
    if (rc < 0 && interrupt_signal()) { /* the repair itself is done: say so, not what the listing's walk says */
        struct error stop;
        interrupt_check(&stop);
        error_setk(err, ERR_INTERRUPTED, "%s: the repair is done; the list of what is still unrestorable was not "
                   "finished (`coffer check` gives it)", stop.msg);
    }
    if (rc == 0 && !r->lines && !g->is_quiet)
        printf(res.snapshots_lost ? "to do: `coffer backup` of the sources named above stores what they lack again; "
                                    "then `coffer check --read-data`\n"
                                  : "every snapshot can be restored\n");
    return rc;
}

int cmd_repair(struct cli_globals *g, int argc, char **argv)
{
    struct repair_options opts = {0};
    const struct opt options[] = {
        {OPT_FLAG("dry-run", &opts.is_dry_run), .help = "say what would be done, change nothing"},
        {OPT_FLAG("forget", &opts.is_forget),
         .help = "snapshots: remove each original once its repaired copy is stored"},
        {0},
    };
    const struct opt_command command = {.name = "repair", .takes_lock = true, .usage = "index|packs|snapshots [--dry-run] [--forget] [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if (args.count == 0)
        return cli_usage_error("repair", "say what to repair: index, packs or snapshots");
    const char *what = args.items[0];
    int (*repair)(struct repo *, const struct repair_options *, struct repair_result *, struct error *) =
        !strcmp(what, "index") ? ops_repair_index : !strcmp(what, "packs") ? ops_repair_packs
                                                  : !strcmp(what, "snapshots") ? ops_repair_snapshots : NULL;
    if (!repair)
        return cli_usage_error("repair", "unknown \"%s\": repair index, packs or snapshots", what);
    if ((code = cli_args_at_most("repair", &args, 1)) != EXIT_OK)
        return code;
    if (opts.is_forget && strcmp(what, "snapshots") != 0)
        return cli_usage_error("repair", "--forget goes with repair snapshots");

    struct repair_cli r = {g, g->is_json ? json_array() : NULL};
    opts.report = print_line;
    opts.ctx = &r;
    struct repo *repo = NULL;
    struct repair_result res;
    if (cli_open_repo(g, &repo, &err) < 0 || repair(repo, &opts, &res, &err) < 0) {
        code = cli_fail(&err);
    } else {
        repo_free(repo);
        repo = NULL;
        if (strcmp(what, "snapshots") != 0 && !opts.is_dry_run && report_still_lost(g, &r, &err) < 0)
            code = cli_fail(&err);
        print_result(&r, what, &res, opts.is_dry_run);
    }
    repo_free(repo);
    json_decref(r.lines);
    return code;
}
