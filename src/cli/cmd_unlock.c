/*
 * cmd_unlock.c — `coffer unlock`: remove stale locks.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/lock.h"
#include "util/text.h"

static const char description[] =
    "Removes stale locks: locks of coffer processes on this host that are gone, and\n"
    "locks not refreshed for 30 minutes (a running coffer refreshes its lock every 5).\n"
    "Other locks belong to running backups, restores or prunes: they are listed and\n"
    "kept. coffer removes locks of processes certainly gone by itself; an expired\n"
    "lock may belong to a process that is stopped or suspended, so coffer only goes\n"
    "on beside it, and prune deletes nothing while it is there. Remove one of another\n"
    "host only when you know its coffer is gone.";

static const char epilog[] =
    "With --json: an object with locks (an array of {id, state: removed|kept, why,\n"
    "exclusive, pid, host, refreshed (RFC 3339, UTC)}; an unreadable lock has why\n"
    "\"unreadable\" and null for what it could not tell), removed and kept (counts).\n";

struct unlock_run {
    struct repo *repo;
    bool is_remove_all;
    bool is_quiet;
    json_t *json; /* --json: the locks, or NULL */
    unsigned removed, kept;
    int failures;
};

static void one_lock(void *ctx, const struct lock_info *info)
{
    struct unlock_run *u = ctx;
    char when[32], hex[65];
    time_format_rfc3339(info->time, when);
    hex_encode(info->id, 4, hex);
    const char *why = info->is_orphaned ? "its process is gone"
                      : info->is_expired ? "not refreshed for 30 minutes"
                                         : NULL;
    bool is_remove = why || u->is_remove_all;
    if (info->is_unreadable) {
        struct error err;
        if (u->is_remove_all && repo_lock_remove(u->repo, info->id, &err) < 0) {
            fprintf(stderr, "coffer: cannot remove lock %s: %s\n", hex, err.msg);
            u->failures++;
        } else if (u->is_remove_all) {
            u->removed++;
        } else {
            u->kept++;
        }
        if (u->json)
            json_array_append_new(u->json, json_pack("{s:s, s:s, s:s, s:n, s:n, s:n, s:n}", "id", hex, "state",
                                                     u->is_remove_all ? "removed" : "kept", "why", "unreadable",
                                                     "exclusive", "pid", "host", "refreshed"));
        else if (!u->is_quiet)
            printf("%s unreadable lock %s (damaged, or of another repository%s)\n",
                   u->is_remove_all ? "removed" : "kept", hex, u->is_remove_all ? "" : "; --remove-all removes it");
        return;
    }
    struct error err;
    if (is_remove && repo_lock_remove(u->repo, info->id, &err) < 0) {
        fprintf(stderr, "coffer: cannot remove lock %s: %s\n", hex, err.msg);
        u->failures++;
        return;
    }
    if (is_remove)
        u->removed++;
    else
        u->kept++;
    if (u->json)
        json_array_append_new(u->json, json_pack("{s:s, s:s, s:s?, s:b, s:i, s:s, s:s}", "id", hex, "state",
                                                 is_remove ? "removed" : "kept", "why",
                                                 why ? why : is_remove ? "--remove-all" : NULL, "exclusive",
                                                 info->is_exclusive, "pid", info->pid, "host", info->host,
                                                 "refreshed", when));
    else if (!u->is_quiet)
        printf("%s %s lock %s of pid %d on %s, last refreshed %s%s%s%s\n", is_remove ? "removed" : "kept",
               info->is_exclusive ? "exclusive" : "shared", hex, info->pid, info->host, when, why ? " (" : "",
               why ? why : "", why ? ")" : is_remove ? "" : " (live)");
}

int cmd_unlock(struct cli_globals *g, int argc, char **argv)
{
    struct unlock_run u = {0};
    const struct opt options[] = {
        {OPT_FLAG("remove-all", &u.is_remove_all),
         .help = "remove every lock, live or not (only when no coffer runs against this repository on any host)"},
        {0},
    };
    const struct opt_command command = {.name = "unlock", .usage = "[--remove-all] [OPTIONS]",
                                        .description = description, .options = options, .epilog = epilog};
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if ((code = cli_args_at_most("unlock", &args, 0)) != EXIT_OK)
        return code;
    u.is_quiet = g->is_quiet;
    u.json = g->is_json ? json_array() : NULL;
    if (cli_open_repo(g, &u.repo, &err) < 0 || repo_locks_list(u.repo, one_lock, &u, &err) < 0) {
        code = cli_fail(&err);
    } else if (u.json) {
        json_t *doc = json_pack("{s:O, s:i, s:i}", "locks", u.json, "removed", (int)u.removed, "kept", (int)u.kept);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    } else if (!g->is_quiet) {
        printf("%u lock%s removed, %u kept\n", u.removed, u.removed == 1 ? "" : "s", u.kept);
    }
    json_decref(u.json);
    if (code == EXIT_OK && u.failures)
        code = EXIT_FAILURE_;
    repo_free(u.repo);
    return code;
}
