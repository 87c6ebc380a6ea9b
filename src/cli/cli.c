/*
 * cli.c — dispatches `coffer COMMAND ...` to a command and prints the
 * top-level help.
 */
#include "cli/cli.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/interrupt.h"

struct command {
    const char *name;
    int (*run)(struct cli_globals *g, int argc, char **argv);
    const char *summary;
    bool is_stoppable; /* Ctrl-C and SIGTERM stop it cleanly (util/interrupt.h) */
};

static const struct command commands[] = {
    {"init", cmd_init, "create a repository", false},
    {"backup", cmd_backup, "back up files or a stream into a new snapshot", true},
    {"snapshots", cmd_snapshots, "list snapshots", false},
    {"ls", cmd_ls, "list the files in a snapshot", false},
    {"find", cmd_find, "find files by name or path across snapshots", false},
    {"diff", cmd_diff, "what changed between two snapshots: files, and tables' rows", false},
    {"restore", cmd_restore, "restore a snapshot into a directory", true},
    {"dump", cmd_dump, "write a stream, or one file of a snapshot, to stdout", true},
    {"check", cmd_check, "verify the repository and each source's health rules", true},
    {"drill", cmd_drill, "rehearse restores: restore, validate, time (the RTO), clean up", false},
    {"status", cmd_status, "are we safe? freshness, RPO and RTO, last check and drill", false},
    {"forget", cmd_forget, "remove the snapshots a retention policy does not keep, or those named", true},
    {"tag", cmd_tag, "add, remove or set the tags of snapshots", false},
    {"prune", cmd_prune, "delete the data no snapshot needs", true},
    {"repair", cmd_repair, "rebuild the index, salvage damaged packs, repair snapshots", true},
    {"unlock", cmd_unlock, "remove stale locks (of coffer processes that are gone)", false},
    {"stats", cmd_stats, "sizes, deduplication, and what each source costs", false},
    {"copy", cmd_copy, "copy snapshots another repository lacks into it (local, S3)", true},
    {"key", cmd_key, "list, add, remove keys, change a passphrase", false},
    {"config", cmd_config, "check coffer.yaml, and reach every source and the repository", false},
    {"daemon", cmd_daemon, "run coffer.yaml's schedule: backups, retention, checks, drills, monitoring", true},
    {"schedule", cmd_schedule, "when each scheduled job runs next, and how it last went", false},
    {"log", cmd_log, "what the scheduled runs did: outcome, actions, errors", false},
    {"generate", cmd_generate, "write the man page and shell completions (from the option tables)", false},
};

size_t cli_command_count(void)
{
    return sizeof commands / sizeof commands[0];
}

struct cli_command_info cli_command_at(size_t i)
{
    return (struct cli_command_info){commands[i].name, commands[i].summary, commands[i].run};
}

void cli_print_help(FILE *out)
{
    fputs("coffer " COFFER_VERSION " — encrypted, deduplicated backups of an application stack\n\n"
          "usage: coffer COMMAND [OPTIONS] [ARGS]\n\ncommands:\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nOptions go after the command; `coffer COMMAND --help` lists them.\n\n"
          "environment:\n"
          "  COFFER_REPOSITORY      the repository: a directory or s3://BUCKET/PREFIX (or --repo)\n"
          "  COFFER_PASSWORD_FILE   file holding the passphrase (or --password-file)\n"
          "  COFFER_PASSWORD        the passphrase itself (prefer the file)\n"
          "  COFFER_DEBUG=1         debug lines on stderr (each S3 retry, ...)\n\n"
          "exit codes:\n"
          "  0  success\n"
          "  1  failure (the message says what failed and what to do)\n"
          "  2  usage error\n"
          "  3  it ran, but something needs attention: a backup saved without some\n"
          "     files (the warnings name them), a health rule or an objective not met\n"
          "  10 no repository at the location (create one with `coffer init`)\n"
          "  11 the repository is locked by another coffer (see --retry-lock)\n"
          "  12 wrong passphrase: it opens none of the repository's keys\n"
          "  130, 143  stopped by Ctrl-C (SIGINT) or SIGTERM: backup, restore, dump,\n"
          "     check, forget, prune, repair and copy stop cleanly within a second or\n"
          "     two, say what was kept, and leave no lock; a second signal quits at once\n",
          out);
}

int cli_main(int argc, char **argv)
{
    struct error err;
    /* A closed pipe (dump | head) is an error on write, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    if (crypto_init(&err) < 0)
        return cli_fail(&err);
    if (argc < 2) {
        cli_print_help(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        cli_print_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        puts("coffer " COFFER_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            struct cli_globals g = {0};
            if (commands[i].is_stoppable)
                interrupt_install();
            int code = commands[i].run(&g, argc - 1, argv + 1);
            cli_globals_free(&g);
            return code;
        }
    }
    fprintf(stderr, "coffer: unknown command \"%s\"\n        (see `coffer --help`)\n", argv[1]);
    return EXIT_USAGE;
}
