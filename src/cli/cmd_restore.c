/*
 * cmd_restore.c — `coffer restore` and `coffer dump`: getting data back.
 */
#include <errno.h>
#include <stdlib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "ops/ops.h"
#include "source/envfile.h"
#include "source/types.h"
#include "util/buf.h"
#include "util/fdio.h"
#include "util/text.h"

static const char restore_description[] =
    "Restores a snapshot into DIR (created if needed), with modes, owners (as root),\n"
    "times and symlinks. A tree backed up from /srv/uploads lands in DIR/srv/uploads.\n"
    "SNAPSHOT is an id prefix or \"latest\"; SOURCE (or --source) picks the source.\n"
    "DIR must be empty or new, unless --overwrite (then files of the same names are\n"
    "replaced); --dry-run lists what would be written. Every byte is verified;\n"
    "items that cannot be restored are listed and the command fails.";

static const char restore_epilog[] =
    "PostgreSQL snapshots restore into a database given by URL: it is created if\n"
    "missing, and filled with pg_restore --clean --if-exists --no-owner. A database\n"
    "that already has tables is only restored into with --force. Into an empty\n"
    "database coffer loads every table over all --jobs connections at once; with\n"
    "--force pg_restore --jobs works from a copy in $TMPDIR. Restored to a\n"
    "directory, they give the dump (db.dump), globals.sql and the JSON exports.\n\n"
    "Redis snapshots restore to a file when --to ends in .rdb (replaced only once\n"
    "the whole file is written and verified), else to DIR/dump.rdb. Load it by\n"
    "stopping the server, putting the file at its dir/dbfilename, and starting it\n"
    "(with appendonly no, or AOF rebuilt after; see docs/redis.md).\n";

struct would_write {
    const struct restore_options *opts;
    size_t files, replaced;
    uint64_t bytes;
};

static void print_would_write(void *ctx, const struct snapshot *snap, const char *path, const struct node *n)
{
    (void)snap;
    struct would_write *w = ctx;
    if (!cli_is_under(path, w->opts->path))
        return;
    char where[8192], size[32];
    struct stat st;
    snprintf(where, sizeof where, "%s%s", w->opts->target, path);
    bool is_there = lstat(where, &st) == 0;
    if (n->type == NODE_DIR && is_there)
        return; /* kept as it is, its entries listed */
    size_format(n->size, size);
    printf("%s%s%s%s%s\n", where, n->type == NODE_DIR ? "/" : "", n->type == NODE_FILE ? " " : "",
           n->type == NODE_FILE ? size : "", is_there ? " (replaces what is there)" : "");
    w->files += n->type != NODE_DIR;
    w->replaced += is_there;
    w->bytes += n->type == NODE_FILE ? n->size : 0;
}

/* restore --dry-run: what would be written under the target, nothing written. */
static int list_restore(struct repo *repo, const struct snapshot *snap, const struct restore_options *opts)
{
    struct would_write w = {opts, 0, 0, 0};
    struct error err;
    if (ops_ls(repo, snap, print_would_write, &w, &err) < 0)
        return cli_fail(&err);
    char size[32];
    size_format(w.bytes, size);
    printf("would restore %zu entr%s (%s) to %s, replacing %zu; nothing written\n", w.files,
           w.files == 1 ? "y" : "ies", size, opts->target, w.replaced);
    return EXIT_OK;
}

int cmd_restore(struct cli_globals *g, int argc, char **argv)
{
    struct restore_options opts = {0};
    struct restore_request req = {0};
    struct progress progress;
    const char *source = NULL;
    bool is_dry_run = false;
    const struct opt options[] = {
        {OPT_STRING("to", &opts.target), .arg = "DIR|URL|FILE.rdb", .help = "where to restore (required)"},
        {OPT_STRING("target", &opts.target), .is_hidden = true, .arg = "DIR", .help = "the old name of --to"},
        {OPT_STRING("source", &source), .arg = "NAME", .help = "the source"},
        {OPT_STRING("path", &opts.path), .arg = "PATH", .help = "only this file or directory of the snapshot"},
        {OPT_UINT("workers", &opts.workers, 1, 256), .arg = "N", .help = "reader threads (default: one per core)"},
        {OPT_FLAG("overwrite", &opts.is_overwrite),
         .help = "restore into a directory that is not empty, replacing its files of the same names"},
        {OPT_FLAG("dry-run", &is_dry_run), .help = "list what would be written to DIR (and what it would replace); "
                                                   "write nothing"},
        {OPT_STRING("table", &req.table), .arg = "NAME", .help = "PostgreSQL: restore only this table"},
        {OPT_UINT("jobs", &req.jobs, 1, 64), .arg = "N",
         .help = "PostgreSQL: restore over N connections (default: the source's jobs in coffer.yaml, else 1)"},
        {OPT_FLAG("force", &req.is_force), .help = "PostgreSQL: restore into a database that has tables"},
        {OPT_STRING("db-password-file", &req.password_file), .arg = "F",
         .help = "PostgreSQL: the target database's password (else the source's password_file in coffer.yaml, ~/.pgpass, PGPASSFILE, or the URL)"},
        {0},
    };
    const struct opt_command command = {.name = "restore", .takes_lock = true,
                                        .usage = "SNAPSHOT [SOURCE] --to DIR [OPTIONS]\n"
                                                 "SNAPSHOT [SOURCE] --to postgresql://... [OPTIONS]\n"
                                                 "SNAPSHOT [SOURCE] --to FILE.rdb [OPTIONS]",
                                        .description = restore_description, .options = options,
                                        .epilog = restore_epilog};
    struct opt_args args;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        return code;
    req.workers = opts.workers;
    if (args.count == 0)
        return cli_usage_error("restore", "which snapshot? give an id prefix or \"latest\"");
    const char *spec = args.items[0];
    size_t used = 1;
    if (args.count > used && !source)
        source = args.items[used++];
    if ((code = cli_args_at_most("restore", &args, used)) != EXIT_OK)
        return code;
    if (!opts.target)
        return cli_usage_error("restore", "where to? give --to DIR");
    if (strstr(opts.target, "://") && cli_check_url_flag("restore", "--to", opts.target) != EXIT_OK)
        return EXIT_USAGE;
    progress_init(&progress, "restore", g->is_quiet, g->is_json);
    opts.progress = &progress;

    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    struct string_list failures = {0};
    const struct snapshot *snap;
    const struct source_target *target = NULL;
    req.target = opts.target;
    if (cli_open_repo(g, &repo, &err) < 0 || cli_pick_snapshot(repo, spec, source, &list, &snap, &err) < 0 ||
        ops_find_restore_target(snap, opts.target, &target, &err) < 0) {
        code = cli_fail(&err);
    } else if (is_dry_run && target) {
        code = cli_usage_error("restore", "--dry-run lists the files of a restore to a directory; a restore %s "
                               "writes nothing before it checks the target", target->into ? target->into : "there");
    } else if (is_dry_run) {
        code = list_restore(repo, snap, &opts);
    } else if (target) {
        /* The configured source's settings (a database's jobs) apply if it is still of the snapshot's type. */
        const struct config_source *src = g->config ? config_find_source(g->config, snap->source) : NULL;
        req.settings = src && !strcmp(src->kind->name, snap->type) ? src->settings : NULL;
        double started = progress_now();
        char note[256] = "", where[4200];
        snprintf(where, sizeof where, "to %s", opts.target);
        if (target->restore(repo, snap, &req, note, sizeof note, &err) < 0)
            code = cli_fail(&err);
        else if (!g->is_quiet)
            printf("restored snapshot of %s %s in %.1f s%s\n", snap->source, target->into ? target->into : where,
                   progress_now() - started, note);
    } else {
        int rc = ops_restore(repo, snap, &opts, &failures, &err);
        progress_done(&progress);
        for (size_t i = 0; i < failures.count; i++)
            fprintf(stderr, "coffer: cannot restore %s\n", failures.items[i]);
        char hex[65], size[32];
        snapshot_id_hex(snap, hex);
        size_format(progress.bytes, size);
        if (rc < 0) {
            code = cli_fail(&err);
        } else if (g->is_json) {
            printf("{\"type\":\"summary\",\"snapshot\":\"%s\",\"target\":\"%s\",\"files\":%llu,\"bytes\":%llu}\n", hex,
                   opts.target, (unsigned long long)progress.files, (unsigned long long)progress.bytes);
        } else if (!g->is_quiet) {
            printf("restored snapshot %.8s (%s, %llu file%s) to %s in %.1f s\n", hex, size,
                   (unsigned long long)progress.files, progress.files == 1 ? "" : "s", opts.target,
                   progress_now() - progress.started);
        }
    }
    string_list_free(&failures);
    snapshot_list_free(&list);
    repo_free(repo);
    return code;
}

static const char dump_description[] =
    "Writes a stream snapshot, or one file of a tree snapshot (PATH, as backed up,\n"
    "e.g. /srv/uploads/a.png), to standard output. Every byte is verified before it\n"
    "is written; damaged data stops the dump with an error.";

#define ENV_FILE_MAX (64u << 20) /* an env file larger than this is no env file */

static int sink_to_buf(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct buf *b = ctx;
    if (b->len + len > ENV_FILE_MAX)
        return error_set(err, "larger than %u MiB: not an environment file", ENV_FILE_MAX >> 20);
    buf_append(b, data, len);
    return 0;
}

static void collect_file(void *ctx, const struct snapshot *snap, const char *path, const struct node *node)
{
    (void)snap;
    if (node->type == NODE_FILE)
        string_list_add(ctx, path);
}

/* Prints the files of a snapshot whose type hides secrets (env; or the
 * one at path) with the secrets hidden;
 * several files each after a "# ==> path <==" comment line. */
static int dump_redacted(struct repo *repo, const struct snapshot *snap, const char *path, unsigned workers,
                         struct error *err)
{
    const struct source_type *kind = source_type_find(snap->type);
    if (!kind || !kind->redact_words) {
        char types[256] = "";
        size_t used = 0;
        for (const struct source_type *t = source_types; t->name && used < sizeof types; t++)
            if (t->redact_words)
                used += (size_t)snprintf(types + used, sizeof types - used, "%s%s", used ? " or " : "", t->name);
        return error_setk(err, ERR_USAGE, "--redacted is for %s snapshots; %s's snapshot holds %s", types,
                          snap->source, snap->type);
    }
    struct string_list files = {0}, words = {0};
    int rc = 0;
    if (path)
        string_list_add(&files, path);
    else
        rc = ops_ls(repo, snap, collect_file, &files, err);
    kind->redact_words(snap, &words);
    struct buf text = BUF_INIT, out = BUF_INIT;
    for (size_t i = 0; i < files.count && rc == 0; i++) {
        buf_reset(&text);
        buf_reset(&out);
        if (ops_read(repo, snap, files.items[i], workers, sink_to_buf, &text, err) < 0) {
            rc = error_wrap(err, "cannot read %s", files.items[i]);
            break;
        }
        if (!path) {
            char header[4200];
            int n = snprintf(header, sizeof header, "%s# ==> %s <==\n", i ? "\n" : "", files.items[i]);
            buf_append(&out, header, (size_t)n);
        }
        envfile_redact((const char *)text.data, text.len, (const char *const *)words.items, words.count, &out);
        if (write_all(STDOUT_FILENO, out.data, out.len) < 0)
            rc = error_errno(err, errno, "cannot write the output");
    }
    buf_free(&text);
    buf_free(&out);
    string_list_free(&files);
    string_list_free(&words);
    return rc;
}

int cmd_dump(struct cli_globals *g, int argc, char **argv)
{
    const char *source = NULL, *path = NULL;
    unsigned workers = 0;
    bool is_redacted = false;
    const struct opt options[] = {
        {OPT_STRING("source", &source), .arg = "NAME",
         .help = "the source (also the second argument, if it has no /)"},
        {OPT_FLAG("redacted", &is_redacted),
         .help = "for env snapshots: every file (or PATH), with the value of each variable whose name holds a "
                 "redact word (or whose value matches a value: pattern) and every URL's password replaced by "
                 "[REDACTED]; may go to a terminal"},
        {OPT_UINT("workers", &workers, 1, 256), .arg = "N", .help = "reader threads (default: one per core)"},
        {0},
    };
    const struct opt_command command = {.name = "dump", .takes_lock = true, .usage = "SNAPSHOT [SOURCE] [PATH] [OPTIONS] > output",
                                        .description = dump_description, .options = options};
    struct opt_args args;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        return code;
    if (args.count == 0)
        return cli_usage_error("dump", "which snapshot? give an id prefix or \"latest\"");
    const char *spec = args.items[0];
    for (size_t i = 1; i < args.count; i++) {
        if (!strchr(args.items[i], '/') && !source)
            source = args.items[i];
        else if (!path)
            path = args.items[i];
        else
            return cli_usage_error("dump", "unexpected argument \"%s\"", args.items[i]);
    }
    if (isatty(STDOUT_FILENO) && !is_redacted)
        return cli_usage_error("dump", "standard output is a terminal: redirect it to a file or a pipe");
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    const struct snapshot *snap;
    if (cli_open_repo(g, &repo, &err) < 0 || cli_pick_snapshot(repo, spec, source, &list, &snap, &err) < 0 ||
        (is_redacted ? dump_redacted(repo, snap, path, workers, &err)
                     : ops_dump(repo, snap, path, STDOUT_FILENO, workers, &err)) < 0)
        code = cli_fail(&err);
    snapshot_list_free(&list);
    repo_free(repo);
    return code;
}
