/*
 * cmd_copy.c — `coffer copy --to OTHER`: the snapshots this repository has
 * and OTHER lacks, copied into OTHER (ops/copy.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/secret.h"
#include "util/text.h"

static const char description[] =
    "Copies every snapshot of the repository (--repo) that REPOSITORY lacks into\n"
    "REPOSITORY: a local directory or s3://BUCKET/PREFIX, created beforehand with\n"
    "`coffer init`. Each snapshot is re-encrypted with REPOSITORY's key and its\n"
    "data deduplicated against what REPOSITORY holds; a snapshot copied before, in\n"
    "either direction, is skipped, so running copy twice copies nothing the second\n"
    "time. Both repositories stay readable and writable by backups meanwhile.";

struct copy_print {
    const struct cli_globals *g;
    struct progress *progress;
};

static void print_copied(void *ctx, const struct snapshot *original, const struct snapshot *copy)
{
    const struct copy_print *p = ctx;
    progress_done(p->progress);
    char from_hex[65], to_hex[65], when[32], stored[32];
    snapshot_id_hex(original, from_hex);
    time_format_rfc3339(original->time, when);
    if (p->g->is_json) {
        json_t *line = json_pack("{s:s, s:s, s:s, s:s?, s:I}", "snapshot", from_hex, "source", original->source,
                                 "time", when, "copy", copy ? (snapshot_id_hex(copy, to_hex), to_hex) : NULL,
                                 "added_bytes", (json_int_t)(copy ? copy->stats.added : 0));
        json_dumpf(line, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(line);
    } else if (!copy) {
        printf("would copy %.8s  %-16s %s\n", from_hex, original->source, when);
    } else {
        snapshot_id_hex(copy, to_hex);
        size_format(copy->stats.added, stored);
        printf("copied %.8s -> %.8s  %-16s %s  (%s new)\n", from_hex, to_hex, original->source, when, stored);
    }
    fflush(stdout);
}

/* The destination's passphrase: its own file or variable, else the source's. */
static int to_passphrase(const struct cli_globals *g, const char *file, char **out, struct error *err)
{
    if (!file)
        file = getenv("COFFER_TO_PASSWORD_FILE");
    if (file && *file)
        return secret_read_file(file, "destination passphrase file", out, err);
    const char *env = getenv("COFFER_TO_PASSWORD");
    if (env && *env) {
        *out = secret_dup(env);
        return 0;
    }
    return cli_passphrase(g, false, out, err);
}

/* The destination, whose lockers wait as this repository's do. */
static int open_destination(struct cli_globals *g, const char *location, const char *pass, struct repo **out,
                            struct error *err)
{
    if (repo_open(location, &g->s3, pass, out, err) < 0)
        return -1;
    cli_set_lock_wait(g, *out);
    return 0;
}

int cmd_copy(struct cli_globals *g, int argc, char **argv)
{
    const char *to_location = NULL, *to_password_file = NULL;
    struct string_list tags = {0}, sources = {0};
    struct copy_options opts = {0};
    const struct opt options[] = {
        {OPT_STRING("to", &to_location), .arg = "REPOSITORY", .help = "where to copy to (required)"},
        {OPT_STRING("to-password-file", &to_password_file), .arg = "FILE",
         .help = "its passphrase (default: $COFFER_TO_PASSWORD_FILE, then $COFFER_TO_PASSWORD, then the source "
                 "repository's)"},
        /* A list, so that a second --source is refused rather than wins. */
        {OPT_LIST("source", &sources), .arg = "NAME", .help = "only snapshots of this source (one)"},
        {OPT_LIST("tag", &tags), .arg = "TAG", .help = "only snapshots with this tag (repeat: all of them)"},
        {OPT_FLAG("dry-run", &opts.is_dry_run), .help = "list what would be copied, copy nothing"},
        {0},
    };
    const struct opt_command command = {.name = "copy", .takes_lock = true, .usage = "--to REPOSITORY [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct repo *from = NULL, *to = NULL;
    char *to_pass = NULL;
    struct copy_result result = {.on_copied = print_copied};
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("copy", &args, 0)) != EXIT_OK)
        goto out;
    if (!to_location) {
        code = cli_usage_error("copy", "--to REPOSITORY is required");
        goto out;
    }
    if (sources.count > 1) {
        code = cli_usage_error("copy", "--source: copy takes one source (run it once for each)");
        goto out;
    }
    opts.source = sources.count ? sources.items[0] : NULL;
    opts.tags = (const char *const *)tags.items;
    opts.tag_count = tags.count;

    struct progress progress;
    struct copy_print print = {g, &progress};
    progress_init(&progress, "copy", g->is_quiet || opts.is_dry_run, g->is_json);
    opts.progress = &progress;
    result.ctx = &print;
    if (cli_open_repo(g, &from, &err) < 0) {
        code = cli_fail(&err);
    } else if (!strcmp(store_location(repo_store(from)), to_location)) {
        code = cli_usage_error("copy", "--to names the repository being copied from");
    } else if (to_passphrase(g, to_password_file, &to_pass, &err) < 0 ||
               open_destination(g, to_location, to_pass, &to, &err) < 0) {
        error_wrap(&err, "destination %s", to_location);
        code = cli_fail(&err);
        if (err.kind == ERR_PASSPHRASE)
            fputs("        (the destination's passphrase comes from --to-password-file, COFFER_TO_PASSWORD_FILE\n"
                  "        or COFFER_TO_PASSWORD; without them it is this repository's)\n", stderr);
    } else if (ops_copy(from, to, &opts, &result, &err) < 0) {
        code = cli_fail(&err);
        fprintf(stderr, "        (%zu snapshot%s copied before the failure are complete; run copy again to go on)\n",
                result.copied, result.copied == 1 ? "" : "s");
    } else if (!g->is_json) {
        progress_done(&progress);
        char read[32], stored[32];
        size_format(result.bytes_read, read);
        size_format(result.bytes_stored, stored);
        printf("%s %zu snapshot%s (%zu already there); read %s, stored %s\n",
               opts.is_dry_run ? "would copy" : "copied", result.copied, result.copied == 1 ? "" : "s",
               result.already, read, stored);
    }
    if (result.packs_missing) /* the backup's words for the same (backup.c) */
        fprintf(stderr, "coffer: warning: %zu indexed pack%s not in the destination: what %s held was stored again "
                "(run `coffer check` there to see which snapshots it affects)\n", result.packs_missing,
                result.packs_missing == 1 ? " is" : "s are", result.packs_missing == 1 ? "it" : "they");
out:
    secret_free(to_pass);
    repo_free(to);
    repo_free(from);
    string_list_free(&tags);
    string_list_free(&sources);
    return code;
}
