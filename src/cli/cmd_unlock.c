/*
 * cmd_unlock.c — `coffer unlock`: remove stale locks.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/lock.h"
#include "util/text.h"

static const char help[] =
    "usage: coffer unlock [--remove-all] [OPTIONS]\n\n"
    "Removes stale locks: locks of coffer processes on this host that are gone, and\n"
    "locks not refreshed for 30 minutes (a running coffer refreshes its lock every 5).\n"
    "Other locks belong to running backups, restores or prunes: they are listed and\n"
    "kept. coffer removes locks of processes certainly gone by itself; an expired\n"
    "lock may belong to a process that is stopped or suspended, so coffer only goes\n"
    "on beside it, and prune deletes nothing while it is there. Remove one of another\n"
    "host only when you know its coffer is gone.\n\n"
    "options:\n"
    "  --remove-all           remove every lock, live or not (only when no coffer runs\n"
    "                         against this repository on any host)\n" CLI_GLOBAL_HELP;

struct unlock_run {
    struct repo *repo;
    bool is_remove_all;
    bool is_quiet;
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
        if (!u->is_quiet)
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
    if (!u->is_quiet)
        printf("%s %s lock %s of pid %d on %s, last refreshed %s%s%s%s\n", is_remove ? "removed" : "kept",
               info->is_exclusive ? "exclusive" : "shared", hex, info->pid, info->host, when, why ? " (" : "",
               why ? why : "", why ? ")" : is_remove ? "" : " (live)");
}

int cmd_unlock(struct cli_globals *g, int argc, char **argv)
{
    static const struct option options[] = {
        {"remove-all", no_argument, NULL, 'a'},
        CLI_GLOBAL_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct unlock_run u = {0};
    struct error err;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_global_option(g, opt, optarg))
            continue;
        switch (opt) {
        case 'h': fputs(help, stdout); return EXIT_OK;
        case 'a': u.is_remove_all = true; break;
        default: return cli_usage_error("unlock", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("unlock", "unexpected argument \"%s\"", argv[optind]);
    u.is_quiet = g->is_quiet;
    int code = EXIT_OK;
    if (cli_open_repo(g, &u.repo, &err) < 0 || repo_locks_list(u.repo, one_lock, &u, &err) < 0)
        code = cli_fail(&err);
    else if (!g->is_quiet)
        printf("%u lock%s removed, %u kept\n", u.removed, u.removed == 1 ? "" : "s", u.kept);
    if (code == EXIT_OK && u.failures)
        code = EXIT_FAILURE_;
    repo_free(u.repo);
    return code;
}
