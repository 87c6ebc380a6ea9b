/*
 * cmd_browse.c — `coffer snapshots`, `coffer ls` and `coffer find`: what
 * is in the repository.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/text.h"

static const char snapshots_epilog[] =
    "With --json: an array of objects with id, short_id, time (RFC 3339, UTC), source,\n"
    "type (files or stream), tags, host, paths, size (logical bytes), added (bytes this\n"
    "snapshot added to the repository), files, parent and warnings.\n";

static json_t *strings_json(const struct string_list *list)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < list->count; i++)
        json_array_append_new(arr, json_string(list->items[i]));
    return arr;
}

static json_t *snapshot_json(const struct snapshot *s)
{
    char hex[65], when[40], short_id[9];
    snapshot_id_hex(s, hex);
    memcpy(short_id, hex, 8);
    short_id[8] = '\0';
    time_format_rfc3339_precise(s->time, s->time_ns, when);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:I, s:I, s:I, s:o}", "id", hex, "short_id",
                          short_id, "time", when, "source", s->source, "type", s->type, "tags",
                          strings_json(&s->tags), "host", s->host, "paths", strings_json(&s->paths), "size",
                          (json_int_t)s->stats.size, "added", (json_int_t)s->stats.added, "files",
                          (json_int_t)s->stats.files, "warnings", strings_json(&s->warnings));
    json_t *meta = s->meta_json ? json_loads(s->meta_json, 0, NULL) : NULL;
    json_object_set_new(o, "meta", meta ? meta : json_object());
    json_object_set_new(o, "run", s->run ? json_string(s->run) : json_null());
    json_object_set_new(o, "revision", s->revision ? json_string(s->revision) : json_null());
    if (s->repaired_from)
        json_object_set_new(o, "repaired_from", json_string(s->repaired_from));
    if (s->has_parent) {
        char parent[65];
        hex_encode(s->parent, CRYPTO_ID_SIZE, parent);
        json_object_set_new(o, "parent", json_string(parent));
    } else {
        json_object_set_new(o, "parent", json_null());
    }
    return o;
}

/* No sources given: every snapshot is shown. */
static bool is_shown(const struct snapshot *s, const struct string_list *sources)
{
    return sources->count == 0 || string_list_has(sources, s->source);
}

static void print_table(const struct snapshot_list *list, const struct string_list *sources)
{
    printf("%-8s  %-20s  %-12s  %-8s  %-10s  %10s  %10s  %s\n", "ID", "TIME", "SOURCE", "TYPE", "TAGS", "SIZE",
           "ADDED", "HOST");
    size_t shown = 0;
    for (size_t i = 0; i < list->count; i++) {
        const struct snapshot *s = &list->items[i];
        if (!is_shown(s, sources))
            continue;
        char hex[65], when[32], size[32], added[32], tags[128] = "";
        snapshot_id_hex(s, hex);
        time_format_rfc3339(s->time, when);
        size_format(s->stats.size, size);
        size_format(s->stats.added, added);
        for (size_t t = 0; t < s->tags.count; t++) {
            size_t used = strlen(tags);
            snprintf(tags + used, sizeof tags - used, "%s%s", t ? "," : "", s->tags.items[t]);
        }
        printf("%.8s  %-20s  %-12s  %-8s  %-10s  %10s  %10s  %s%s\n", hex, when, s->source, s->type,
               tags[0] ? tags : "-", size, added, s->host, s->warnings.count ? "  (incomplete)" : "");
        shown++;
    }
    printf("%zu snapshot%s\n", shown, shown == 1 ? "" : "s");
}

int cmd_snapshots(struct cli_globals *g, int argc, char **argv)
{
    struct string_list sources = {0};
    const struct opt options[] = {
        {OPT_LIST("source", &sources), .arg = "NAME", .help = "only snapshots of this source (repeat for more)"},
        {0},
    };
    const struct opt_command command = {.name = "snapshots", .usage = "[--source NAME]... [OPTIONS]",
                                        .description = "Lists snapshots, oldest first.", .options = options,
                                        .epilog = snapshots_epilog};
    struct opt_args args;
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("snapshots", &args, 0)) != EXIT_OK)
        goto out;
    if (cli_open_repo(g, &repo, &err) < 0 || cli_load_snapshots(repo, &list, &err) < 0) {
        code = cli_fail(&err);
        goto out;
    }
    if (g->is_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < list.count; i++)
            if (is_shown(&list.items[i], &sources))
                json_array_append_new(arr, snapshot_json(&list.items[i]));
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        print_table(&list, &sources);
    }
out:
    snapshot_list_free(&list);
    repo_free(repo);
    string_list_free(&sources);
    return code;
}

static const char ls_description[] =
    "Lists the entries of a snapshot, one path per line; with PATH (as backed up,\n"
    "e.g. /srv/uploads) only that file or directory and what is in it. SNAPSHOT is\n"
    "an id prefix or \"latest\"; SOURCE (or --source) picks the source for \"latest\".";

struct ls_out {
    bool is_long;
    bool is_json;
    bool is_find; /* lines start with the snapshot's id, time and source */
    json_t *arr;
    const char *under; /* PATH, or NULL */
    size_t shown;
    const struct snapshot *last; /* of the last entry shown (find) */
    size_t snapshots;            /* how many snapshots had an entry shown (find) */
};

static void print_entry(void *ctx, const struct snapshot *snap, const char *path, const struct node *n)
{
    struct ls_out *out = ctx;
    char when[32], hex[65], snap_time[32];
    if (!cli_is_under(path, out->under))
        return;
    out->shown++;
    if (out->last != snap)
        out->snapshots++, out->last = snap;
    time_format_rfc3339(n->mtime_ns / 1000000000, when);
    snapshot_id_hex(snap, hex);
    time_format_rfc3339(snap->time, snap_time);
    if (out->is_json) {
        json_t *entry = json_pack("{s:s, s:s, s:I, s:i, s:s}", "path", path, "type", node_type_name(n->type), "size",
                                  (json_int_t)n->size, "mode", (int)n->mode, "mtime", when);
        if (out->is_find)
            json_object_update_new(entry, json_pack("{s:s, s:s, s:s}", "snapshot", hex, "snapshot_time", snap_time,
                                                    "source", snap->source));
        json_array_append_new(out->arr, entry);
        return;
    }
    if (out->is_find)
        printf("%.8s  %s  %-12s  ", hex, snap_time, snap->source);
    if (out->is_long)
        printf("%-7s %04o %12llu %s %s%s%s\n", node_type_name(n->type), n->mode, (unsigned long long)n->size, when,
               path, n->target ? " -> " : "", n->target ? n->target : "");
    else
        puts(path);
}

/* Parses "SNAPSHOT [SOURCE]" plus --source; shared by ls, restore, dump. */
int cli_load_snapshots(struct repo *repo, struct snapshot_list *list, struct error *err)
{
    if (snapshot_list_load(repo, list, err) < 0)
        return -1;
    for (size_t i = 0; i < list->unreadable.count; i++)
        fprintf(stderr, "coffer: warning: cannot read %s (left out; run `coffer check`)\n",
                list->unreadable.items[i]);
    return 0;
}

int cli_pick_snapshot(struct repo *repo, const char *spec, const char *source, struct snapshot_list *list,
                      const struct snapshot **out, struct error *err)
{
    if (cli_load_snapshots(repo, list, err) < 0)
        return -1;
    return snapshot_find(list, spec, source, out, err);
}

int cmd_ls(struct cli_globals *g, int argc, char **argv)
{
    struct ls_out out = {0};
    const char *source = NULL;
    const struct opt options[] = {
        {OPT_STRING("source", &source), .arg = "NAME", .help = "the source (one: ls lists one snapshot)"},
        {OPT_FLAG("long", &out.is_long), .help = "type, mode, size and time too"},
        {0},
    };
    const struct opt_command command = {.name = "ls", .takes_lock = true, .usage = "SNAPSHOT [SOURCE] [PATH] [OPTIONS]",
                                        .description = ls_description, .options = options};
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if (args.count == 0)
        return cli_usage_error("ls", "which snapshot? give an id prefix or \"latest\"");
    const char *spec = args.items[0];
    for (size_t i = 1; i < args.count; i++) {
        if (!strchr(args.items[i], '/') && !source)
            source = args.items[i];
        else if (!out.under)
            out.under = args.items[i];
        else
            return cli_usage_error("ls", "unexpected argument \"%s\"", args.items[i]);
    }
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    const struct snapshot *snap;
    out.is_json = g->is_json;
    out.arr = json_array();
    if (cli_open_repo(g, &repo, &err) < 0 || cli_pick_snapshot(repo, spec, source, &list, &snap, &err) < 0 ||
        ops_ls(repo, snap, print_entry, &out, &err) < 0) {
        code = cli_fail(&err);
    } else if (out.under && out.shown == 0) {
        char hex[65];
        snapshot_id_hex(snap, hex);
        error_setk(&err, ERR_NOT_FOUND, "snapshot %.8s holds nothing at %s (`coffer ls %.8s` lists what it holds)",
                   hex, out.under, hex);
        code = cli_fail(&err);
    } else if (out.is_json) {
        json_dumpf(out.arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
    json_decref(out.arr);
    snapshot_list_free(&list);
    repo_free(repo);
    return code;
}

static const char find_description[] =
    "Lists the entries matching PATTERN in every snapshot (oldest first), or in those\n"
    "of --source, or the --snapshot ones: a line per match with the snapshot's id,\n"
    "time and source. PATTERN is written as an `exclude:` pattern of coffer.yaml:\n"
    "  *.env, id_rsa      no slash: the entry's name, at any depth\n"
    "  uploads/           a trailing slash: directories only\n"
    "  /srv/app/**/*.yml  a slash inside: the whole path as backed up\n"
    "  * ? [a-z] [!a-z]   as in fnmatch(3), never matching a slash\n"
    "Exits 1 when nothing matches. Only trees are read, never file contents.";

static const char find_epilog[] =
    "With --json: an array of the entries of `ls --json` (path, type, size, mode, mtime)\n"
    "with snapshot (its id), snapshot_time and source.\n";

/* The snapshots find searches: the --snapshot ones, else every one (of the
 * --source ones, when given), oldest first. */
static int pick_searched(const struct snapshot_list *list, const struct string_list *specs,
                         const struct string_list *sources, const struct snapshot ***out, size_t *count,
                         struct error *err)
{
    *out = xcalloc(list->count + specs->count + 1, sizeof **out);
    *count = 0;
    for (size_t i = 0; i < specs->count; i++) {
        const char *source = sources->count == 1 ? sources->items[0] : NULL;
        if (snapshot_find(list, specs->items[i], source, &(*out)[*count], err) < 0)
            return -1;
        (*count)++;
    }
    for (size_t i = 0; specs->count == 0 && i < list->count; i++)
        if (is_shown(&list->items[i], sources))
            (*out)[(*count)++] = &list->items[i];
    return 0;
}

int cmd_find(struct cli_globals *g, int argc, char **argv)
{
    struct ls_out out = {.is_find = true};
    struct string_list sources = {0}, specs = {0};
    const struct opt options[] = {
        {OPT_LIST("source", &sources), .arg = "NAME", .help = "only snapshots of this source (repeat for more)"},
        {OPT_LIST("snapshot", &specs), .arg = "ID", .help = "only this snapshot (an id prefix or \"latest\"; repeat for more)"},
        {OPT_FLAG("long", &out.is_long), .help = "type, mode, size and time too"},
        {0},
    };
    const struct opt_command command = {.name = "find", .takes_lock = true, .usage = "PATTERN [OPTIONS]",
                                        .description = find_description, .options = options,
                                        .epilog = find_epilog};
    struct opt_args args;
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    const struct snapshot **searched = NULL;
    size_t count = 0;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        goto out;
    if (args.count == 0) {
        code = cli_usage_error("find", "find what? give a PATTERN, such as '*.env' or /srv/app/uploads/");
        goto out;
    }
    if ((code = cli_args_at_most("find", &args, 1)) != EXIT_OK)
        goto out;
    out.is_json = g->is_json;
    out.arr = json_array();
    if (cli_open_repo(g, &repo, &err) < 0 || cli_load_snapshots(repo, &list, &err) < 0 ||
        pick_searched(&list, &specs, &sources, &searched, &count, &err) < 0 ||
        ops_find(repo, searched, count, args.items[0], print_entry, &out, &err) < 0) {
        code = cli_fail(&err);
    } else if (out.shown == 0) {
        error_setk(&err, ERR_NOT_FOUND, "nothing matches \"%s\" in the %zu snapshot%s searched", args.items[0], count,
                   count == 1 ? "" : "s");
        code = cli_fail(&err);
    } else if (out.is_json) {
        json_dumpf(out.arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        printf("%zu match%s in %zu of %zu snapshots\n", out.shown, out.shown == 1 ? "" : "es", out.snapshots, count);
    }
out:
    json_decref(out.arr);
    free(searched);
    snapshot_list_free(&list);
    repo_free(repo);
    string_list_free(&sources);
    string_list_free(&specs);
    return code;
}
