/*
 * cmd_backup.c — `coffer backup`: the configured sources, or one made of
 * the command line (paths, --stdin, --postgres URL, ...: the flags of the
 * source types, source/types.c), each into a new snapshot.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "ops/ops.h"
#include "source/types.h"
#include "util/interrupt.h"
#include "util/text.h"

static const char description[] =
    "With a configuration file (see --config), backs up every configured source, or\n"
    "the SOURCEs named, one snapshot each. Otherwise backs up files and directories\n"
    "(or standard input, or a database) into a new snapshot.\n"
    "Files unchanged since the source's previous snapshot (same size, mtime, ctime\n"
    "and inode) are not read again.";

static const char epilog[] =
    "exit codes: 0 saved; 1 failed (no snapshot); 2 usage; 3 saved, but some files\n"
    "could not be read or changed while read (listed as warnings)\n";

#define TYPE_FLAGS_MAX 32
#define FIXED_OPTIONS 5 /* --name, --tag, --time, --force, --workers */

/* Every type's flags, each name once (types sharing a flag describe it alike). */
struct type_flags {
    const struct source_flag *items[TYPE_FLAGS_MAX];
    size_t count;
};

static void add_flag(struct type_flags *out, const struct source_flag *f)
{
    if (!f->name || out->count == TYPE_FLAGS_MAX)
        return;
    for (size_t i = 0; i < out->count; i++)
        if (!strcmp(out->items[i]->name, f->name))
            return;
    out->items[out->count++] = f;
}

static void collect_flags(struct type_flags *out)
{
    out->count = 0;
    for (const struct source_type *t = source_types; t->name; t++) {
        add_flag(out, &t->flag);
        for (size_t i = 0; i < SOURCE_FLAGS_MAX; i++)
            add_flag(out, &t->flags[i]);
    }
}

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

/* Reports one backup: its warnings and summary, or its failure; returns
 * the exit code it asks for. */
static int report_backup(const struct cli_globals *g, const struct snapshot *snap, const struct error *err)
{
    if (!snap)
        return cli_fail(err);
    for (size_t i = 0; i < snap->warnings.count; i++)
        fprintf(stderr, "coffer: warning: %s\n", snap->warnings.items[i]);
    print_summary(g, snap);
    if (!snap->warnings.count)
        return EXIT_OK;
    fprintf(stderr, "coffer: the snapshot was saved, but %zu item%s could not be backed up as they were\n",
            snap->warnings.count, snap->warnings.count == 1 ? "" : "s");
    return EXIT_PARTIAL;
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
    int code = report_backup(g, rc == 0 ? &snap : NULL, &err);
    if (rc == 0)
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

/* A word that names no configured source and no file: most likely a
 * misspelt source, so the error lists them. NULL if every word is one or
 * the other (or has a slash: a path, whose error is the file's). */
static const char *unknown_source(const struct config *cfg, char *const *names, size_t count)
{
    struct stat st;
    for (size_t i = 0; i < count; i++)
        if (!config_find_source(cfg, names[i]) && !strchr(names[i], '/') && lstat(names[i], &st) < 0)
            return names[i];
    return NULL;
}

static int refuse_unknown_source(const struct config *cfg, const char *word)
{
    struct string_list names = {0};
    for (size_t i = 0; i < cfg->source_count; i++)
        string_list_add(&names, cfg->sources[i].name);
    string_list_sort(&names);
    char shown[768];
    string_list_join(&names, shown, sizeof shown);
    string_list_free(&names);
    return cli_usage_error("backup", "no source \"%s\" in %s (sources: %s), and no file of that name", word,
                           cfg->path, shown);
}

/* The worse of two exit codes: failure over partial over success. */
static int worse(int a, int b)
{
    if (a == EXIT_FAILURE_ || b == EXIT_FAILURE_)
        return EXIT_FAILURE_;
    return a > b ? a : b;
}


/* What a configured run's callbacks share. */
struct configured_run {
    const struct cli_globals *g;
    struct progress progress;
    struct string_list failed;
    int code;
};

static struct progress *start_source(void *ctx, const struct config_source *src)
{
    (void)src;
    struct configured_run *cr = ctx;
    progress_init(&cr->progress, "backup", cr->g->is_quiet, cr->g->is_json);
    return &cr->progress;
}

static void source_done(void *ctx, const struct config_source *src, const struct snapshot *snap,
                        const struct error *err)
{
    struct configured_run *cr = ctx;
    progress_done(&cr->progress);
    int one = report_backup(cr->g, snap, err);
    if (one == EXIT_FAILURE_)
        string_list_add(&cr->failed, src->name);
    cr->code = worse(cr->code, one);
}

/* `coffer backup [NAME...]` with a config file: every source, or those named. */
static int backup_configured(struct cli_globals *g, const struct backup_options *base, char *const *names,
                             size_t count)
{
    struct repo *repo = NULL;
    struct error err;
    if (cli_open_repo(g, &repo, &err) < 0)
        return cli_fail(&err);
    struct configured_run cr = {.g = g, .code = EXIT_OK};
    struct backup_run run = {.base = base, .start = start_source, .done = source_done, .ctx = &cr};
    if (ops_backup_sources(repo, g->config, names, count, &run, &err) < 0)
        cr.code = err.kind == ERR_INTERRUPTED ? interrupt_exit_code() : cli_fail(&err); /* done said it */
    if (run.revision_problem[0])
        fprintf(stderr, "coffer: warning: %s; snapshots will not record the application's revision\n",
                run.revision_problem);
    size_t total = run.saved + run.partial + run.failed;
    if (cr.failed.count && total > 1) {
        fprintf(stderr, "coffer: %zu of %zu sources failed:", cr.failed.count, total);
        for (size_t i = 0; i < cr.failed.count; i++)
            fprintf(stderr, "%s %s", i ? "," : "", cr.failed.items[i]);
        fprintf(stderr, " (the others were saved)\n");
    }
    string_list_free(&cr.failed);
    repo_free(repo);
    return cr.code;
}

/* ---- a source made of the command line ---- */

/* A type flag as given, in order. */
struct given_flag {
    const struct source_flag *flag;
    const char *value;
};

/* One type flag's row in the option table: where its values go. */
struct type_flag_slot {
    const struct source_flag *flag;
    struct given_flag *given; /* shared by every slot */
    size_t *given_count;
    bool is_seen;             /* a switch (no value) was given */
};

static int take_type_flag(const char *arg, void *to, struct error *err)
{
    (void)err;
    struct type_flag_slot *slot = to;
    slot->given[(*slot->given_count)++] = (struct given_flag){slot->flag, arg};
    return 0;
}

static bool has_flag(const struct source_type *kind, const char *name)
{
    if (kind->flag.name && !strcmp(kind->flag.name, name))
        return true;
    for (size_t i = 0; i < SOURCE_FLAGS_MAX; i++)
        if (kind->flags[i].name && !strcmp(kind->flags[i].name, name))
            return true;
    return false;
}

/* "--a, --b or --c": the flags that pick a type, of the types that take
 * flag (NULL: of every type). */
static void selectors(const char *flag, char *out, size_t size)
{
    size_t count = 0, used = 0, i = 0;
    for (const struct source_type *t = source_types; t->name; t++)
        count += t->flag.name && (!flag || has_flag(t, flag));
    out[0] = '\0';
    for (const struct source_type *t = source_types; t->name && used < size; t++) {
        if (!t->flag.name || (flag && !has_flag(t, flag)))
            continue;
        i++;
        used += (size_t)snprintf(out + used, size - used, "%s--%s", i == 1 ? "" : i == count ? " or " : ", ",
                                 t->flag.name);
    }
}

/* The type a bare PATH argument backs up: the one whose arguments fill a
 * key and that no flag picks. */
static const struct source_type *path_type(void)
{
    for (const struct source_type *t = source_types; t->name; t++)
        if (t->arguments_key && !t->flag.name)
            return t;
    return NULL;
}

/* Which type the flags pick, checking that they agree; *kind is NULL when
 * none does (paths, or configured sources). */
static int pick_type(const struct given_flag *given, size_t count, const struct source_type **kind)
{
    char names[256];
    *kind = NULL;
    for (size_t i = 0; i < count; i++) {
        const struct source_type *t = source_types;
        while (t->name && !(t->flag.name && !strcmp(t->flag.name, given[i].flag->name)))
            t++;
        if (!t->name)
            continue;
        if (*kind && *kind != t) {
            selectors(NULL, names, sizeof names);
            return cli_usage_error("backup", "give one of %s", names);
        }
        *kind = t;
    }
    return EXIT_OK;
}

/* Sets the source's keys from the flags and the remaining arguments, as
 * coffer.yaml would, with the same checks. */
static int fill_source(struct config_source *src, const struct given_flag *given, size_t count, char *const *args,
                       size_t arg_count)
{
    const struct source_type *kind = src->kind;
    char names[256];
    struct error err;
    for (size_t i = 0; i < count; i++) {
        const struct source_flag *f = given[i].flag;
        if (!has_flag(kind, f->name)) {
            selectors(f->name, names, sizeof names);
            return cli_usage_error("backup", "--%s goes with %s", f->name, names);
        }
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", f->name);
        if (f->is_url && cli_check_url_flag("backup", flag, given[i].value) != EXIT_OK)
            return EXIT_USAGE;
        if (f->key && config_source_set(src, f->key, given[i].value, &err) < 0)
            return cli_usage_error("backup", "%s: %s", flag, err.msg);
    }
    if (arg_count && !kind->arguments_key)
        return cli_usage_error("backup", "paths go with a file backup, not with --%s", kind->flag.name);
    for (size_t i = 0; i < arg_count; i++) {
        struct stat st;
        if (lstat(args[i], &st) < 0) {
            error_errno(&err, errno, "cannot back up %s", args[i]);
            return cli_fail(&err);
        }
        if (config_source_set(src, kind->arguments_key, args[i], &err) < 0)
            return cli_usage_error("backup", "%s: %s", args[i], err.msg);
    }
    if (kind->reads_stdin && isatty(STDIN_FILENO))
        return cli_usage_error("backup", "--%s reads a stream, but standard input is a terminal", kind->flag.name);
    return EXIT_OK;
}

/* `coffer backup PATH...`, `--stdin`, `--postgres URL`, ...: one source
 * made of the command line, backed up as a configured one would be. */
static int backup_given(struct cli_globals *g, struct backup_options *opts, const char *name,
                        const struct source_type *kind, const struct given_flag *given, size_t count, char *const *args,
                        size_t arg_count)
{
    char names[256];
    if (!kind && !arg_count && !count) {
        selectors(NULL, names, sizeof names);
        return cli_usage_error("backup", "nothing to back up: give paths, or one of %s", names);
    }
    if (!kind)
        kind = path_type();
    if (!name)
        name = kind->default_name;
    const char *why = tree_path_problem(name); /* a stream is stored under it */
    if (why)
        return cli_usage_error("backup", "--name \"%s\" %s: a snapshot cannot hold that name", name, why);
    struct config_source src;
    config_source_init(&src, kind, name);
    int code = fill_source(&src, given, count, args, arg_count);
    struct repo *repo = NULL;
    struct error err;
    if (code == EXIT_OK && cli_open_repo(g, &repo, &err) < 0)
        code = cli_fail(&err);
    if (code == EXIT_OK) {
        opts->source = &src;
        code = run_backup(g, repo, opts);
    }
    repo_free(repo);
    config_source_free(&src);
    return code;
}

int cmd_backup(struct cli_globals *g, int argc, char **argv)
{
    struct backup_options opts = {.stdin_fd = STDIN_FILENO};
    const char *name = NULL;
    struct opt options[FIXED_OPTIONS + TYPE_FLAGS_MAX + 1] = {
        {OPT_STRING("name", &name), .arg = "NAME",
         .help = "the source this snapshot belongs to (default: files, or stdin with --stdin)"},
        {OPT_CUSTOM("tag", cli_parse_tags, &opts.tags), .arg = "TAG",
         .help = "label the snapshot (repeat, or separate with commas): hourly, daily, weekly, monthly, yearly, "
                 "manual, ..."},
        {OPT_CUSTOM("time", cli_parse_time, &opts.time), .arg = "TIME",
         .help = "record this time (RFC 3339, e.g. 2025-01-05T02:00:00Z) instead of now, for imports and tests"},
        {OPT_FLAG("force", &opts.is_force), .help = "read every file, even unchanged ones"},
        {OPT_UINT("workers", &opts.workers, 1, 256), .arg = "N",
         .help = "compression threads (default: one per core)"},
    };
    /* Then each source type's flags (source/types.c). */
    struct type_flags flags;
    collect_flags(&flags);
    struct given_flag *given = xcalloc((size_t)argc + TYPE_FLAGS_MAX, sizeof *given);
    size_t given_count = 0;
    struct type_flag_slot slots[TYPE_FLAGS_MAX];
    for (size_t i = 0; i < flags.count; i++) {
        const struct source_flag *f = flags.items[i];
        slots[i] = (struct type_flag_slot){f, given, &given_count, false};
        struct opt *row = &options[FIXED_OPTIONS + i];
        if (f->arg)
            *row = (struct opt){OPT_CUSTOM(f->name, take_type_flag, &slots[i]), .arg = f->arg, .help = f->help};
        else
            *row = (struct opt){OPT_FLAG(f->name, &slots[i].is_seen), .help = f->help};
    }
    const struct opt_command command = {.name = "backup", .takes_lock = true,
                                        .usage = "[OPTIONS] [SOURCE...]\n[OPTIONS] PATH...\n"
                                                 "--stdin --name NAME [OPTIONS] < stream",
                                        .description = description, .options = options, .epilog = epilog};
    struct opt_args args;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        goto out;
    for (size_t i = 0; i < flags.count; i++)
        if (slots[i].is_seen)
            given[given_count++] = (struct given_flag){slots[i].flag, NULL};
    const struct source_type *kind = NULL;
    if (code != EXIT_OK || (code = pick_type(given, given_count, &kind)) != EXIT_OK)
        goto out;
    char *const *names = args.items;
    size_t arg_count = args.count;
    if (!kind) {
        /* Names of configured sources, or nothing at all, mean the config. */
        if (cli_resolve_globals(g, &err) < 0) {
            code = cli_fail(&err);
            goto out;
        }
        if (g->config && g->config->source_count && names_are_sources(g->config, names, arg_count)) {
            if (name)
                code = cli_usage_error("backup", "--name does not go with configured sources (their names are used)");
            else if (given_count)
                code = cli_usage_error("backup", "--%s does not go with configured sources (set it in %s)",
                                       given[0].flag->name, g->config->path);
            else
                code = backup_configured(g, &opts, names, arg_count);
            goto out;
        }
        const char *unknown = g->config && g->config->source_count ? unknown_source(g->config, names, arg_count) : NULL;
        if (unknown) {
            code = refuse_unknown_source(g->config, unknown);
            goto out;
        }
    }
    code = backup_given(g, &opts, name, kind, given, given_count, names, arg_count);
out:
    string_list_free(&opts.tags);
    free(given);
    return code;
}
