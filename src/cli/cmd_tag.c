/*
 * cmd_tag.c — `coffer tag`: add, remove or set the tags of snapshots.
 */
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "ops/ops.h"
#include "util/text.h"

static const char description[] =
    "Changes the tags of the snapshots named (ids, id prefixes, or \"latest\" with\n"
    "--source). --set replaces a snapshot's tags, then --add adds and --remove\n"
    "removes; each is repeatable and takes comma-separated tags. A snapshot keeps its\n"
    "id. Tags decide what `coffer forget --keep-tag TAG` keeps: to hold on to the\n"
    "complete snapshot before a shrink, `coffer tag ID --add keep`, and forget with\n"
    "--keep-tag keep (or keep_tags: [keep] in coffer.yaml's retention:).";

struct tag_cli {
    const struct cli_globals *g;
    json_t *json;
    size_t changed;
};

static void report(void *ctx, const struct snapshot *snap, bool is_changed)
{
    struct tag_cli *t = ctx;
    char hex[65];
    snapshot_id_hex(snap, hex);
    t->changed += is_changed;
    json_t *tags = json_array();
    for (size_t i = 0; i < snap->tags.count; i++)
        json_array_append_new(tags, json_string(snap->tags.items[i]));
    if (t->json) {
        json_array_append_new(t->json, json_pack("{s:s, s:s, s:o, s:b}", "id", hex, "source", snap->source, "tags",
                                                 tags, "changed", is_changed));
        return;
    }
    char *list = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);
    if (!t->g->is_quiet)
        printf("%.8s %-12s %s%s\n", hex, snap->source, list, is_changed ? "" : " (unchanged)");
    free(list);
}

int cmd_tag(struct cli_globals *g, int argc, char **argv)
{
    struct tag_cli t = {.g = g};
    struct tag_request req = {0};
    const struct opt options[] = {
        {OPT_CUSTOM("add", cli_parse_tags, &req.change.add), .arg = "TAG", .help = "add TAG (repeat, or a,b)"},
        {OPT_CUSTOM("remove", cli_parse_tags, &req.change.remove), .arg = "TAG", .help = "remove TAG"},
        {OPT_CUSTOM("set", cli_parse_tags, &req.change.set), .seen = &req.change.is_set, .arg = "TAG",
         .help = "make the tags exactly these (repeat for more)"},
        {OPT_STRING("source", &req.source), .arg = "NAME", .help = "the source \"latest\" is of"},
        {0},
    };
    const struct opt_command command = {.name = "tag", .takes_lock = true, .usage = "SNAPSHOT... (--add TAG | --remove TAG | --set TAG)...",
                                        .description = description, .options = options};
    struct opt_args args;
    struct repo *repo = NULL;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        goto out;
    if (!args.count) {
        code = cli_usage_error("tag", "name the snapshots to tag (ids from `coffer snapshots`, or latest)");
        goto out;
    }
    if (!req.change.is_set && !req.change.add.count && !req.change.remove.count) {
        code = cli_usage_error("tag", "say what to change: --add TAG, --remove TAG or --set TAG");
        goto out;
    }
    req.specs = (const char *const *)args.items;
    req.count = args.count;
    if (g->is_json)
        t.json = json_array();
    if (cli_open_repo(g, &repo, &err) < 0 || ops_tag(repo, &req, report, &t, &err) < 0) {
        code = cli_fail(&err);
    } else if (t.json) {
        json_dumpf(t.json, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    } else if (!g->is_quiet) {
        printf("%zu snapshot%s changed\n", t.changed, t.changed == 1 ? "" : "s");
    }
out:
    json_decref(t.json);
    string_list_free(&req.change.add);
    string_list_free(&req.change.remove);
    string_list_free(&req.change.set);
    repo_free(repo);
    return code;
}
