/*
 * cmd_config.c — `coffer config check`: is coffer.yaml right, and can every
 * source and the repository be reached? Nothing is backed up.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "ops/ops.h"
#include "repo/snapshot.h"
#include "source/types.h"

static const char description[] =
    "check: reads coffer.yaml (every key checked, as a backup would), opens the\n"
    "repository, and reaches each source (or the SOURCEs named) as a backup would:\n"
    "connects to PostgreSQL and Redis with their passwords, opens the paths, reads a\n"
    "git repository's HEAD, finds a command's program, lists a bucket. Nothing is\n"
    "backed up. One line per source; exit code 0 when everything answered, 1\n"
    "otherwise, 2 for a usage error.";

struct config_cli {
    const struct cli_globals *g;
    json_t *json;
};

static void report(void *ctx, const struct config_source *src, const char *what, const char *why)
{
    struct config_cli *c = ctx;
    if (c->json)
        json_array_append_new(c->json, json_pack("{s:s, s:s, s:b, s:s}", "source", src->name, "type",
                                                 src->kind->name, "ok", what != NULL, what ? "what" : "error",
                                                 what ? what : why));
    else
        printf("%s (%s): %s: %s\n", src->name, src->kind->name, what ? "ok" : "FAILED", what ? what : why);
}

/* The repository line: it opens with the passphrase, and how many snapshots it holds. */
static int check_repository(struct cli_globals *g, json_t **doc)
{
    struct repo *repo = NULL;
    struct snapshot_list list = {0};
    struct error err;
    int rc = cli_open_repo(g, &repo, &err);
    if (rc == 0)
        rc = snapshot_list_load(repo, &list, &err);
    char what[600];
    if (rc == 0)
        snprintf(what, sizeof what, "%s opens (%zu snapshots)", g->repo, list.count);
    *doc = json_pack("{s:b, s:s}", "ok", rc == 0, rc == 0 ? "what" : "error", rc == 0 ? what : err.msg);
    if (!g->is_json)
        printf("repository: %s: %s\n", rc == 0 ? "ok" : "FAILED", rc == 0 ? what : err.msg);
    snapshot_list_free(&list);
    repo_free(repo);
    return rc;
}

int cmd_config(struct cli_globals *g, int argc, char **argv)
{
    const struct opt options[] = {{0}};
    const struct opt_command command = {.name = "config", .usage = "check [SOURCE...] [OPTIONS]",
                                        .description = description, .options = options};
    struct opt_args args;
    struct error err;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help)
        return code;
    if (args.count == 0 || strcmp(args.items[0], "check") != 0)
        return cli_usage_error("config", args.count ? "unknown \"%s\": the one subcommand is check" :
                                                      "say what to do: coffer config check", args.count ? args.items[0] : "");
    if (cli_resolve_globals(g, &err) < 0)
        return cli_fail(&err);
    if (!g->config)
        return cli_usage_error("config", "no coffer.yaml found: give --config FILE, set COFFER_CONFIG, or create "
                                         "./coffer.yaml (see docs/config.md)");
    if (!g->is_json)
        printf("config: %s is valid (%zu source%s)\n", g->config->path, g->config->source_count,
               g->config->source_count == 1 ? "" : "s");
    json_t *repo_doc = NULL;
    struct config_cli c = {g, g->is_json ? json_array() : NULL};
    int failed = ops_probe_sources(g->config, args.items + 1, args.count - 1, report, &c, &err);
    int repo_rc = failed < 0 ? 0 : check_repository(g, &repo_doc);
    if (failed < 0) {
        code = cli_fail(&err);
    } else {
        code = failed || repo_rc < 0 ? EXIT_FAILURE_ : EXIT_OK;
        if (c.json) {
            json_t *doc = json_pack("{s:s, s:O, s:O, s:b}", "config", g->config->path, "repository", repo_doc,
                                    "sources", c.json, "ok", code == EXIT_OK);
            json_dumpf(doc, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(doc);
        }
    }
    json_decref(repo_doc);
    json_decref(c.json);
    return code;
}
