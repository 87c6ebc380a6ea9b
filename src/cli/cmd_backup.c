/*
 * cmd_backup.c — `coffer backup`: a file tree or standard input into a new
 * snapshot.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "ops/ops.h"
#include "source/postgres.h"
#include "source/program.h"
#include "source/redis.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer backup [OPTIONS] [SOURCE...]\n"
    "       coffer backup [OPTIONS] PATH...\n"
    "       coffer backup --stdin --name NAME [OPTIONS] < stream\n\n"
    "With a configuration file (see --config), backs up every configured source, or\n"
    "the SOURCEs named, one snapshot each. Otherwise backs up files and directories\n"
    "(or standard input, or a database) into a new snapshot.\n"
    "Files unchanged since the source's previous snapshot (same size, mtime, ctime\n"
    "and inode) are not read again.\n\n"
    "options:\n"
    "  --name NAME      the source this snapshot belongs to (default: files, or\n"
    "                   stdin with --stdin)\n"
    "  --stdin          back up standard input as one stream\n"
    "  --tag TAG        label the snapshot (repeat, or separate with commas):\n"
    "                   hourly, daily, weekly, monthly, yearly, manual, ...\n"
    "  --time TIME      record this time (RFC 3339, e.g. 2025-01-05T02:00:00Z)\n"
    "                   instead of now, for imports and tests\n"
    "  --force          read every file, even unchanged ones\n"
    "  --postgres URL   back up a PostgreSQL database (libpq URL) with pg_dump\n"
    "  --globals        with --postgres: also roles and tablespaces (pg_dumpall)\n"
    "  --export TABLE   with --postgres: also export TABLE as JSON lines (repeat)\n"
    "  --redis URL      back up a Redis server's RDB (redis://[user@]host[:port], or\n"
    "                   rediss:// for TLS), taken over the replication protocol\n"
    "  --tls-ca-file F  with a rediss:// URL: the CA certificates to trust (default:\n"
    "                   the system's)\n"
    "  --db-password-file F  with --postgres or --redis: the password (else the\n"
    "                   URL, ~/.pgpass or PGPASSFILE)\n"
    "  --workers N      compression threads (default: one per core)\n" CLI_GLOBAL_HELP
    "\nexit codes: 0 saved; 1 failed (no snapshot); 2 usage; 3 saved, but some files\n"
    "could not be read or changed while read (listed as warnings)\n";

static void print_summary(const struct cli_globals *g, const struct snapshot *snap)
{
    char hex[65], size[32], added[32];
    snapshot_id_hex(snap, hex);
    if (g->is_json) {
        json_t *warnings = json_array();
        for (size_t i = 0; i < snap->warnings.count; i++)
            json_array_append_new(warnings, json_string(snap->warnings.items[i]));
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "type", "summary",
                                "snapshot", hex, "source", snap->source, "snapshot_type", snap->type,
                                "size", (json_int_t)snap->stats.size, "added", (json_int_t)snap->stats.added,
                                "files", (json_int_t)snap->stats.files, "files_unchanged",
                                (json_int_t)snap->stats.files_unchanged, "dirs", (json_int_t)snap->stats.dirs,
                                "seconds", snap->stats.seconds, "warnings", warnings);
        json_dumpf(doc, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(doc);
        return;
    }
    if (g->is_quiet)
        return;
    size_format(snap->stats.size, size);
    size_format(snap->stats.added, added);
    printf("snapshot %.8s saved: source %s, %s in %llu file%s", hex, snap->source, size,
           (unsigned long long)snap->stats.files, snap->stats.files == 1 ? "" : "s");
    if (snap->stats.files_unchanged)
        printf(" (%llu unchanged)", (unsigned long long)snap->stats.files_unchanged);
    printf(", added %s to the repository in %.1f s\n", added, snap->stats.seconds);
}

static void add_tags(struct string_list *tags, const char *arg)
{
    char *copy = xstrdup(arg), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t && !string_list_has(tags, t))
            string_list_add(tags, t);
    free(copy);
}

/* Checks that the options name one kind of input, and fills defaults. */
static int settle_kind(struct backup_options *opts, bool is_stdin, bool is_postgres, bool is_redis)
{
    static const char *const default_names[] = {"files", "stdin", "db", "cache"};
    if (is_stdin + is_postgres + is_redis > 1)
        return cli_usage_error("backup", "give one of --stdin, --postgres and --redis");
    if ((is_stdin || is_postgres || is_redis) && opts->path_count)
        return cli_usage_error("backup", "paths go with a file backup, not with --stdin, --postgres or --redis");
    opts->kind = is_stdin ? BACKUP_STREAM : is_postgres ? BACKUP_POSTGRES : is_redis ? BACKUP_REDIS : BACKUP_FILES;
    if (opts->kind == BACKUP_FILES && !opts->path_count)
        return cli_usage_error("backup", "nothing to back up: give paths, --stdin, --postgres URL or --redis URL");
    if (opts->kind == BACKUP_STREAM && isatty(STDIN_FILENO))
        return cli_usage_error("backup", "--stdin reads a stream, but standard input is a terminal");
    if (!opts->source)
        opts->source = default_names[opts->kind];
    const char *why = tree_path_problem(opts->source); /* a stream is stored under it */
    if (why)
        return cli_usage_error("backup", "--name \"%s\" %s: a snapshot cannot hold that name", opts->source, why);
    return EXIT_OK;
}

/* Runs one backup and reports it; returns the exit code. */
static int run_backup(const struct cli_globals *g, struct repo *repo, struct backup_options *opts)
{
    struct progress progress;
    struct snapshot snap;
    struct error err;
    progress_init(&progress, "backup", g->is_quiet, g->is_json);
    opts->progress = &progress;
    int rc = ops_backup(repo, opts, &snap, &err);
    progress_done(&progress);
    if (rc < 0)
        return cli_fail(&err);
    for (size_t i = 0; i < snap.warnings.count; i++)
        fprintf(stderr, "coffer: warning: %s\n", snap.warnings.items[i]);
    print_summary(g, &snap);
    int code = EXIT_OK;
    if (snap.warnings.count) {
        fprintf(stderr, "coffer: the snapshot was saved, but %zu item%s could not be backed up as they were\n",
                snap.warnings.count, snap.warnings.count == 1 ? "" : "s");
        code = EXIT_PARTIAL;
    }
    snapshot_free(&snap);
    return code;
}

/* True when names are all configured sources (or there are none: all). */
static bool names_are_sources(const struct config *cfg, char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!config_find_source(cfg, names[i]))
            return false;
    return true;
}

/* The worse of two exit codes: failure over partial over success. */
static int worse(int a, int b)
{
    if (a == EXIT_FAILURE_ || b == EXIT_FAILURE_)
        return EXIT_FAILURE_;
    return a > b ? a : b;
}

/* Backs up one source as the config describes it. */
static int backup_source(struct cli_globals *g, struct repo *repo, const struct config_source *src,
                         const struct backup_options *base)
{
    struct backup_options opts = *base;
    struct postgres_source pg = {0};
    struct redis_source redis = {0};
    struct command_source command = {0};
    char **argv = NULL, **env_names = NULL;
    struct string_list tags = {0};
    opts.source = src->name;
    for (size_t i = 0; i < base->tags.count; i++)
        string_list_add(&tags, base->tags.items[i]);
    for (size_t i = 0; i < src->tags.count; i++)
        if (!string_list_has(&tags, src->tags.items[i]))
            string_list_add(&tags, src->tags.items[i]);
    opts.tags = tags;
    int code;
    if (!strcmp(src->type, "postgres") && src->format && strcmp(src->format, "custom")) {
        fprintf(stderr, "coffer: %s:%u: source %s: format: directory is not supported yet (use custom)\n",
                g->config->path, src->line, src->name);
        code = EXIT_FAILURE_;
    } else if (!strcmp(src->type, "postgres")) {
        opts.kind = BACKUP_POSTGRES;
        pg.url = src->url;
        pg.password_file = src->password_file;
        pg.has_globals = src->globals;
        pg.exports = src->exports.items;
        pg.export_count = src->exports.count;
        opts.postgres = &pg;
        code = run_backup(g, repo, &opts);
    } else if (!strcmp(src->type, "redis")) {
        opts.kind = BACKUP_REDIS;
        redis.url = src->url;
        redis.password_file = src->password_file;
        redis.tls_ca_file = src->tls_ca_file;
        opts.redis = &redis;
        code = run_backup(g, repo, &opts);
    } else if (!strcmp(src->type, "command")) {
        opts.kind = BACKUP_COMMAND;
        argv = xcalloc(src->command.count + 1, sizeof *argv);
        if (src->command.count)
            memcpy(argv, src->command.items, src->command.count * sizeof *argv);
        char default_name[300];
        snprintf(default_name, sizeof default_name, "%s.out", src->name);
        command.argv = argv;
        command.name = src->file_name ? src->file_name : default_name;
        env_names = xcalloc(src->env.count + 1, sizeof *env_names);
        if (src->env.count) /* items is NULL for an empty list */
            memcpy(env_names, src->env.items, src->env.count * sizeof *env_names);
        command.env = (const char *const *)env_names;
        opts.command = &command;
        code = run_backup(g, repo, &opts);
    } else if (!strcmp(src->type, "env")) {
        static char *default_redact[] = {"KEY", "SECRET", "PASSWORD", "TOKEN"};
        opts.kind = BACKUP_ENV;
        opts.paths = src->paths.items;
        opts.path_count = src->paths.count;
        opts.redact = src->redact.count ? src->redact.items : default_redact;
        opts.redact_count = src->redact.count ? src->redact.count : 4;
        code = run_backup(g, repo, &opts);
    } else if (!strcmp(src->type, "git")) {
        opts.kind = BACKUP_GIT;
        opts.git_path = src->path;
        code = run_backup(g, repo, &opts);
    } else if (!strcmp(src->type, "files")) {
        opts.kind = BACKUP_FILES;
        opts.paths = src->paths.items;
        opts.path_count = src->paths.count;
        opts.exclude = src->exclude.items;
        opts.exclude_count = src->exclude.count;
        code = run_backup(g, repo, &opts);
    } else {
        fprintf(stderr, "coffer: %s:%u: source %s: type %s is not supported yet\n", g->config->path, src->line,
                src->name, src->type);
        code = EXIT_FAILURE_;
    }
    string_list_free(&tags);
    free(argv);
    free(env_names);
    return code;
}

/* The application's revision for this run: git_revision_of, else the first
 * git source's repository; NULL (with a warning) when it cannot be read. */
static char *run_revision(const struct config *cfg)
{
    const char *path = cfg->git_revision_of;
    for (size_t i = 0; !path && i < cfg->source_count; i++)
        if (!strcmp(cfg->sources[i].type, "git"))
            path = cfg->sources[i].path;
    if (!path)
        return NULL;
    char head[128];
    struct error err;
    if (git_head(path, head, sizeof head, &err) < 0) {
        fprintf(stderr, "coffer: warning: %s; snapshots will not record the application's revision\n", err.msg);
        return NULL;
    }
    return xstrdup(head);
}

/* `coffer backup [NAME...]` with a config file: every source, or those named. */
static int backup_configured(struct cli_globals *g, const struct backup_options *base, char *const *names,
                             size_t count)
{
    struct repo *repo = NULL;
    struct error err;
    if (cli_open_repo(g, &repo, &err) < 0)
        return cli_fail(&err);
    int code = EXIT_OK;
    const struct config *cfg = g->config;
    /* One run id for all the snapshots of this run, so that a restore can
     * pick the database, the cache and the files of the same moment. */
    uint8_t run_bytes[8];
    char run[17];
    crypto_random(run_bytes, sizeof run_bytes);
    hex_encode(run_bytes, sizeof run_bytes, run);
    char *revision = run_revision(cfg);
    struct backup_options opts = *base;
    opts.run = run;
    opts.revision = revision;
    size_t total = count ? count : cfg->source_count;
    struct string_list failed = {0};
    for (size_t i = 0; i < total; i++) {
        const struct config_source *src = count ? config_find_source(cfg, names[i]) : &cfg->sources[i];
        int one = backup_source(g, repo, src, &opts);
        if (one == EXIT_FAILURE_)
            string_list_add(&failed, src->name);
        code = worse(code, one);
    }
    if (failed.count && total > 1) {
        fprintf(stderr, "coffer: %zu of %zu sources failed:", failed.count, total);
        for (size_t i = 0; i < failed.count; i++)
            fprintf(stderr, "%s %s", i ? "," : "", failed.items[i]);
        fprintf(stderr, " (the others were saved)\n");
    }
    string_list_free(&failed);
    free(revision);
    repo_free(repo);
    return code;
}

int cmd_backup(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {"stdin", no_argument, NULL, 'i'},
        {"tag", required_argument, NULL, 't'},
        {"time", required_argument, NULL, 'T'},
        {"force", no_argument, NULL, 'f'},
        {"workers", required_argument, NULL, 'w'},
        {"postgres", required_argument, NULL, 'P'},
        {"globals", no_argument, NULL, 'G'},
        {"export", required_argument, NULL, 'E'},
        {"db-password-file", required_argument, NULL, 'D'},
        {"redis", required_argument, NULL, 'R'},
        {"tls-ca-file", required_argument, NULL, 'A'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct backup_options opts = {0};
    struct postgres_source pg = {0};
    struct redis_source redis = {0};
    struct string_list exports = {0};
    struct repo *repo = NULL;
    struct error err;
    bool is_stdin = false, is_postgres = false, is_redis = false;
    int opt, code = EXIT_OK;
    opterr = 0;
    while (code == EXIT_OK && (opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(help, stdout); goto out;
        case 'n': opts.source = optarg; break;
        case 'i': is_stdin = true; break;
        case 't': add_tags(&opts.tags, optarg); break;
        case 'T':
            if (time_parse_rfc3339(optarg, &opts.time, NULL) < 0)
                code = cli_usage_error("backup", "bad time \"%s\" (use RFC 3339, e.g. 2025-01-05T02:00:00Z)", optarg);
            break;
        case 'f': opts.is_force = true; break;
        case 'w': opts.workers = (unsigned)atoi(optarg); break;
        case 'P': is_postgres = true; pg.url = optarg; code = cli_check_url_flag("backup", "--postgres", optarg); break;
        case 'G': pg.has_globals = true; break;
        case 'E': string_list_add(&exports, optarg); break;
        case 'D': pg.password_file = redis.password_file = optarg; break;
        case 'R': is_redis = true; redis.url = optarg; code = cli_check_url_flag("backup", "--redis", optarg); break;
        case 'A': redis.tls_ca_file = optarg; break;
        default: code = cli_usage_error("backup", "unknown option %s", argv[optind - 1]); break;
        }
    }
    if (code != EXIT_OK)
        goto out;
    opts.paths = argv + optind;
    opts.path_count = (size_t)(argc - optind);
    if (!is_stdin && !is_postgres && !is_redis) {
        /* Names of configured sources, or nothing at all, mean the config. */
        if (cli_resolve_globals(g, &err) < 0) {
            code = cli_fail(&err);
            goto out;
        }
        if (g->config && g->config->source_count && names_are_sources(g->config, opts.paths, opts.path_count)) {
            if (opts.source)
                code = cli_usage_error("backup", "--name does not go with configured sources (their names are used)");
            else
                code = backup_configured(g, &opts, opts.paths, opts.path_count);
            goto out;
        }
    }
    if ((code = settle_kind(&opts, is_stdin, is_postgres, is_redis)) != EXIT_OK)
        goto out;
    for (size_t i = 0; i < opts.path_count; i++) {
        struct stat st;
        if (lstat(opts.paths[i], &st) < 0) {
            error_errno(&err, errno, "cannot back up %s", opts.paths[i]);
            code = cli_fail(&err);
            goto out;
        }
    }
    opts.stdin_fd = STDIN_FILENO;
    pg.exports = exports.items;
    pg.export_count = exports.count;
    opts.postgres = &pg;
    opts.redis = &redis;
    if (cli_open_repo(g, &repo, &err) < 0)
        code = cli_fail(&err);
    else
        code = run_backup(g, repo, &opts);
out:
    repo_free(repo);
    string_list_free(&opts.tags);
    string_list_free(&exports);
    return code;
}
