/*
 * cmd_restore.c — `coffer restore` and `coffer dump`: getting data back.
 */
#include <errno.h>
#include <getopt.h>
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

static const char restore_help[] =
    "usage: coffer restore SNAPSHOT [SOURCE] --to DIR [OPTIONS]\n"
    "       coffer restore SNAPSHOT [SOURCE] --to postgresql://... [OPTIONS]\n"
    "       coffer restore SNAPSHOT [SOURCE] --to FILE.rdb [OPTIONS]\n\n"
    "Restores a snapshot into DIR (created if needed), with modes, owners (as root),\n"
    "times and symlinks. A tree backed up from /srv/uploads lands in DIR/srv/uploads.\n"
    "SNAPSHOT is an id prefix or \"latest\"; SOURCE (or --source) picks the source.\n"
    "Existing files of the same names are replaced. Every byte is verified; items\n"
    "that cannot be restored are listed and the command fails.\n\n"
    "options:\n"
    "  --to DIR               where to restore (required)\n"
    "  --source NAME          the source\n"
    "  --path PATH            only this file or directory of the snapshot\n"
    "  --workers N            reader threads (default: one per core)\n\n"
    "PostgreSQL snapshots restore into a database given by URL: it is created if\n"
    "missing, and filled with pg_restore --clean --if-exists --no-owner. A database\n"
    "that already has tables is only restored into with --force. Restored to a\n"
    "directory, they give the dump (db.dump), globals.sql and the JSON exports.\n"
    "  --table NAME           restore only this table\n"
    "  --jobs N               restore over N connections (default: the source's\n"
    "                         jobs: in coffer.yaml, else 1); into an empty database\n"
    "                         coffer loads every table over all N at once, with\n"
    "                         --force pg_restore --jobs works from a copy in $TMPDIR\n"
    "  --force                restore into a database that has tables\n"
    "  --db-password-file F   the target database's password (else ~/.pgpass,\n"
    "                         PGPASSFILE, or the URL)\n\n"
    "Redis snapshots restore to a file when --to ends in .rdb (replaced only once\n"
    "the whole file is written and verified), else to DIR/dump.rdb. Load it by\n"
    "stopping the server, putting the file at its dir/dbfilename, and starting it\n"
    "(with appendonly no, or AOF rebuilt after; see docs/redis.md).\n" CLI_GLOBAL_HELP;

int cmd_restore(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"to", required_argument, NULL, 'o'},
        {"target", required_argument, NULL, 'o'},
        {"source", required_argument, NULL, 's'},
        {"path", required_argument, NULL, 'P'},
        {"workers", required_argument, NULL, 'w'},
        {"table", required_argument, NULL, 'T'},
        {"jobs", required_argument, NULL, 'J'},
        {"force", no_argument, NULL, 'f'},
        {"db-password-file", required_argument, NULL, 'D'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct restore_options opts = {0};
    struct restore_request req = {0};
    struct progress progress;
    const char *source = NULL;
    struct error err;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(restore_help, stdout); return EXIT_OK;
        case 'o': opts.target = optarg; break;
        case 's': source = optarg; break;
        case 'P': opts.path = optarg; break;
        case 'w': opts.workers = req.workers = (unsigned)atoi(optarg); break;
        case 'T': req.table = optarg; break;
        case 'J': req.jobs = (unsigned)atoi(optarg); break;
        case 'f': req.is_force = true; break;
        case 'D': req.password_file = optarg; break;
        default: return cli_usage_error("restore", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("restore", "which snapshot? give an id prefix or \"latest\"");
    const char *spec = argv[optind++];
    if (optind < argc && !source)
        source = argv[optind++];
    if (optind < argc)
        return cli_usage_error("restore", "unexpected argument \"%s\"", argv[optind]);
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
    int code = EXIT_OK;
    req.target = opts.target;
    if (cli_open_repo(g, &repo, &err) < 0 || cli_pick_snapshot(repo, spec, source, &list, &snap, &err) < 0 ||
        ops_find_restore_target(snap, opts.target, &target, &err) < 0) {
        code = cli_fail(&err);
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

static const char dump_help[] =
    "usage: coffer dump SNAPSHOT [SOURCE] [PATH] [OPTIONS] > output\n\n"
    "Writes a stream snapshot, or one file of a tree snapshot (PATH, as backed up,\n"
    "e.g. /srv/uploads/a.png), to standard output. Every byte is verified before it\n"
    "is written; damaged data stops the dump with an error.\n\n"
    "options:\n"
    "  --source NAME          the source (also the second argument, if it has no /)\n"
    "  --redacted             for env snapshots: every file (or PATH), with the value\n"
    "                         of each variable whose name holds a redact word\n"
    "                         replaced by [REDACTED]; may go to a terminal\n"
    "  --workers N            reader threads (default: one per core)\n" CLI_GLOBAL_HELP;

#define ENV_FILE_MAX (64u << 20) /* an env file larger than this is no env file */

static int sink_to_buf(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct buf *b = ctx;
    if (b->len + len > ENV_FILE_MAX)
        return error_set(err, "larger than %u MiB: not an environment file", ENV_FILE_MAX >> 20);
    buf_append(b, data, len);
    return 0;
}

static void collect_file(void *ctx, const char *path, const struct node *node)
{
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
    static const struct option options[] = {
        {"source", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'w'},
        {"redacted", no_argument, NULL, 'R'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *source = NULL, *path = NULL;
    unsigned workers = 0;
    bool is_redacted = false;
    struct error err;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(dump_help, stdout); return EXIT_OK;
        case 's': source = optarg; break;
        case 'w': workers = (unsigned)atoi(optarg); break;
        case 'R': is_redacted = true; break;
        default: return cli_usage_error("dump", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("dump", "which snapshot? give an id prefix or \"latest\"");
    const char *spec = argv[optind++];
    for (; optind < argc; optind++) {
        if (!strchr(argv[optind], '/') && !source)
            source = argv[optind];
        else if (!path)
            path = argv[optind];
        else
            return cli_usage_error("dump", "unexpected argument \"%s\"", argv[optind]);
    }
    if (isatty(STDOUT_FILENO) && !is_redacted)
        return cli_usage_error("dump", "standard output is a terminal: redirect it to a file or a pipe");
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    const struct snapshot *snap;
    int code = EXIT_OK;
    if (cli_open_repo(g, &repo, &err) < 0 || cli_pick_snapshot(repo, spec, source, &list, &snap, &err) < 0 ||
        (is_redacted ? dump_redacted(repo, snap, path, workers, &err)
                     : ops_dump(repo, snap, path, STDOUT_FILENO, workers, &err)) < 0)
        code = cli_fail(&err);
    snapshot_list_free(&list);
    repo_free(repo);
    return code;
}
