/*
 * cmd_diff.c — `coffer diff`: what changed between two snapshots, or in
 * one snapshot since the one before it of its source.
 *
 * Files come from ops_diff (trees only: nothing is restored, and a
 * directory with the same tree on both sides is not even read). For a
 * database snapshot the tables' row counts recorded at backup are
 * compared too, through the source type's tables hook, which answers
 * "what did last night's import do to the orders table" without a restore.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "source/types.h"
#include "util/text.h"

static const char description[] =
    "Lists what changed from the first snapshot to the second: one line per path,\n"
    "  +  added       -  removed       M  content changed\n"
    "  T  type changed (a file became a directory, ...)\n"
    "  U  mode, owner or mtime only (listed with --metadata, always counted)\n"
    "then, for database snapshots, the tables whose row counts (as recorded at backup)\n"
    "differ. With one SNAPSHOT it is compared with the snapshot before it of the same\n"
    "source. A SNAPSHOT is an id prefix or \"latest\" (with --source when the repository\n"
    "holds several sources). Only trees are read, never file contents.";

static const char epilog[] =
    "With --json: an object with before and after ({id, time, source}), changes (an\n"
    "array of {path, change: added|removed|content|type|metadata, before, after}, where\n"
    "before and after are {type, size} or null), tables (an array of {name, before,\n"
    "after}, row counts or null; null when either snapshot records no tables) and\n"
    "summary (counts of each change, added_bytes, removed_bytes).\n";

static const char *const change_names[] = {"added", "removed", "content", "type", "metadata"};
static const char change_marks[] = "+-MTU";

struct diff_out {
    bool is_json;
    bool is_metadata_shown;
    json_t *changes;
    size_t counts[5];
    uint64_t added_bytes, removed_bytes;
};

static json_t *side_json(const struct node *n)
{
    return n ? json_pack("{s:s, s:I}", "type", node_type_name(n->type), "size", (json_int_t)n->size) : json_null();
}

static void print_change(void *ctx, enum diff_change change, const char *path, const struct node *before,
                         const struct node *after)
{
    struct diff_out *out = ctx;
    out->counts[change]++;
    if (change == DIFF_ADDED && after->type == NODE_FILE)
        out->added_bytes += after->size;
    if (change == DIFF_REMOVED && before->type == NODE_FILE)
        out->removed_bytes += before->size;
    if (change == DIFF_METADATA && !out->is_metadata_shown)
        return;
    if (out->is_json) {
        json_array_append_new(out->changes, json_pack("{s:s, s:s, s:o, s:o}", "path", path, "change",
                                                      change_names[change], "before", side_json(before),
                                                      "after", side_json(after)));
    } else if (change == DIFF_TYPE) {
        printf("T %s  (%s -> %s)\n", path, node_type_name(before->type), node_type_name(after->type));
    } else {
        const struct node *n = after ? after : before;
        printf("%c %s%s\n", change_marks[change], path, n->type == NODE_DIR ? "/" : "");
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct table_rows *)a)->name, ((const struct table_rows *)b)->name);
}

/* The snapshot's tables sorted by name; -1 when it records none. */
static long sorted_tables(const struct snapshot *snap, struct table_rows **out)
{
    const struct source_type *kind = source_type_find(snap->type);
    *out = NULL;
    long count = kind && kind->tables ? kind->tables(snap, out) : -1;
    if (count > 0)
        qsort(*out, (size_t)count, sizeof **out, by_name);
    return count;
}

/* Prints (or adds to json) the tables whose rows differ; the number of them. */
static size_t diff_tables(const struct snapshot *before, const struct snapshot *after, json_t *json)
{
    struct table_rows *a, *b;
    long na = sorted_tables(before, &a), nb = sorted_tables(after, &b);
    size_t changed = 0;
    if (na >= 0 && nb >= 0) {
        for (long i = 0, j = 0; i < na || j < nb;) {
            int order = i == na ? 1 : j == nb ? -1 : strcmp(a[i].name, b[j].name);
            const struct table_rows *old = order <= 0 ? &a[i++] : NULL;
            const struct table_rows *now = order >= 0 ? &b[j++] : NULL;
            if (old && now && old->rows == now->rows)
                continue;
            const char *name = old ? old->name : now->name;
            if (changed++ == 0 && !json)
                printf("\ntables (rows at backup):\n");
            if (json) {
                json_array_append_new(json, json_pack("{s:s, s:o, s:o}", "name", name, "before",
                                                      old ? json_integer(old->rows) : json_null(), "after",
                                                      now ? json_integer(now->rows) : json_null()));
            } else if (old && now) {
                printf("M %s  %lld -> %lld (%+lld)\n", name, (long long)old->rows, (long long)now->rows,
                       (long long)(now->rows - old->rows));
            } else {
                printf("%c %s  %lld rows\n", old ? '-' : '+', name, (long long)(old ? old->rows : now->rows));
            }
        }
    }
    table_rows_free(a, na > 0 ? (size_t)na : 0);
    table_rows_free(b, nb > 0 ? (size_t)nb : 0);
    return na >= 0 && nb >= 0 ? changed : (size_t)-1;
}

static json_t *snapshot_ref_json(const struct snapshot *s)
{
    char hex[65], when[40];
    snapshot_id_hex(s, hex);
    time_format_rfc3339(s->time, when);
    return json_pack("{s:s, s:s, s:s}", "id", hex, "time", when, "source", s->source);
}

static void print_heading(const struct snapshot *before, const struct snapshot *after)
{
    char a[65], b[65], ta[32], tb[32];
    snapshot_id_hex(before, a);
    snapshot_id_hex(after, b);
    time_format_rfc3339(before->time, ta);
    time_format_rfc3339(after->time, tb);
    printf("comparing %.8s (%s, %s) with %.8s (%s, %s)\n", a, before->source, ta, b, after->source, tb);
}

static void print_summary(const struct diff_out *out, size_t tables)
{
    char added[32], removed[32];
    size_format(out->added_bytes, added);
    size_format(out->removed_bytes, removed);
    printf("\n%zu added (%s), %zu removed (%s), %zu changed, %zu type changed, %zu metadata only%s", out->counts[0],
           added, out->counts[1], removed, out->counts[2], out->counts[3], out->counts[4],
           out->counts[4] && !out->is_metadata_shown ? " (--metadata lists them)" : "");
    if (tables != (size_t)-1)
        printf("; %zu table%s with other row counts", tables, tables == 1 ? "" : "s");
    printf("\n");
}

static void print_json(const struct diff_out *out, const struct snapshot *before, const struct snapshot *after)
{
    json_t *tables = json_array();
    if (diff_tables(before, after, tables) == (size_t)-1) {
        json_decref(tables);
        tables = json_null();
    }
    json_t *summary = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "added", (json_int_t)out->counts[0],
                                "removed", (json_int_t)out->counts[1], "content", (json_int_t)out->counts[2],
                                "type", (json_int_t)out->counts[3], "metadata", (json_int_t)out->counts[4],
                                "added_bytes", (json_int_t)out->added_bytes, "removed_bytes",
                                (json_int_t)out->removed_bytes);
    json_t *doc = json_pack("{s:o, s:o, s:O, s:o, s:o}", "before", snapshot_ref_json(before), "after",
                            snapshot_ref_json(after), "changes", out->changes, "tables", tables, "summary", summary);
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(doc);
}

/* The snapshot before snap of its source (the list is oldest first). */
static int pick_previous(const struct snapshot_list *list, const struct snapshot *snap,
                         const struct snapshot **out, struct error *err)
{
    *out = NULL;
    for (size_t i = 0; i < list->count && &list->items[i] != snap; i++)
        if (!strcmp(list->items[i].source, snap->source))
            *out = &list->items[i];
    if (*out)
        return 0;
    char hex[65];
    snapshot_id_hex(snap, hex);
    return error_setk(err, ERR_USAGE, "snapshot %.8s is the first of %s: name two snapshots to compare "
                      "(`coffer snapshots` lists them)", hex, snap->source);
}

int cmd_diff(struct cli_globals *g, int argc, char **argv)
{
    struct diff_out out = {0};
    const char *source = NULL;
    const struct opt options[] = {
        {OPT_STRING("source", &source), .arg = "NAME", .help = "the source, for \"latest\""},
        {OPT_FLAG("metadata", &out.is_metadata_shown), .help = "also list paths whose mode, owner or mtime alone changed"},
        {0},
    };
    const struct opt_command command = {.name = "diff", .takes_lock = true, .usage = "SNAPSHOT [SNAPSHOT] [OPTIONS]",
                                        .description = description, .options = options, .epilog = epilog};
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if (args.count == 0)
        return cli_usage_error("diff", "which snapshots? give one (compared with the one before it) or two");
    if ((code = cli_args_at_most("diff", &args, 2)) != EXIT_OK)
        return code;
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    const struct snapshot *before = NULL, *after = NULL;
    out.is_json = g->is_json;
    out.changes = json_array();
    int rc = cli_open_repo(g, &repo, &err);
    if (rc == 0)
        rc = cli_pick_snapshot(repo, args.items[0], source, &list, &before, &err);
    if (rc == 0 && args.count == 2)
        rc = snapshot_find(&list, args.items[1], source, &after, &err);
    else if (rc == 0)
        after = before, rc = pick_previous(&list, after, &before, &err);
    if (rc == 0 && !out.is_json)
        print_heading(before, after);
    if (rc == 0)
        rc = ops_diff(repo, before, after, print_change, &out, &err);
    if (rc < 0) {
        code = cli_fail(&err);
    } else if (out.is_json) {
        print_json(&out, before, after);
    } else {
        print_summary(&out, diff_tables(before, after, NULL));
    }
    json_decref(out.changes);
    snapshot_list_free(&list);
    repo_free(repo);
    return code;
}
