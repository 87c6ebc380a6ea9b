/*
 * cli.h — the command layer: parses arguments, finds the repository and
 * passphrase, calls the operations, prints results and maps failures to
 * exit codes. The only place that prints to the user or decides an exit
 * status.
 */
#ifndef COFFER_CLI_CLI_H
#define COFFER_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "cli/options.h"
#include "repo/repo.h"
#include "store/s3.h"

struct config;
#include "util/error.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILURE_ = 1, /* the command failed */
    EXIT_USAGE = 2,    /* bad arguments */
    EXIT_PARTIAL = 3,  /* it ran, but something needs attention: a backup saved without some
                          files, a health rule or an objective not met */
    /* Failures a script may want to tell apart (restic's numbers, so that
     * scripts written for it read coffer's the same way). Each is also a
     * failure: scripts that test for non-zero see them as before. */
    EXIT_NO_REPO = 10,    /* no repository at the location (ERR_NO_REPO) */
    EXIT_LOCKED = 11,     /* another coffer holds a conflicting lock, after any --retry-lock wait */
    EXIT_PASSPHRASE = 12, /* the passphrase opens none of the repository's keys */
};

/* Options every command accepts. */
struct cli_globals {
    const char *repo;          /* --repo, else COFFER_REPOSITORY, else the config file */
    const char *password_file; /* --password-file, else COFFER_PASSWORD_FILE, else the config file */
    const char *config_path;   /* --config, else COFFER_CONFIG, ./coffer.yaml, /etc/coffer/coffer.yaml */
    struct config *config;     /* loaded by cli_resolve_globals, or NULL without a file */
    struct s3_settings s3;     /* for an s3:// repository: the config file's s3: block, then the
                                  environment (cli_resolve_globals) */
    bool is_quiet;
    bool is_json;
    bool has_lock_wait;        /* --retry-lock given: lock_wait is it, else coffer.yaml's lock_wait: */
    unsigned lock_wait;        /* seconds */
    /* When set, cli_parse hands the command's whole option table to it and
     * the command returns as after --help, having done nothing: how
     * `coffer generate` writes man pages and completions from the tables. */
    void (*describe)(void *ctx, const struct opt_command *cmd);
    void *describe_ctx;
};

int cli_main(int argc, char **argv);

/* The commands (cli.c), for `coffer generate`. */
struct cli_command_info {
    const char *name, *summary;
    int (*run)(struct cli_globals *g, int argc, char **argv);
};
size_t cli_command_count(void);
struct cli_command_info cli_command_at(size_t i);
/* The top-level help (coffer --help). */
void cli_print_help(FILE *out);

/* Shared by the commands (common.c). */

/* Reads a command's argv (argv[0] its name) against its option table and
 * the options every command shares (--repo, --password-file, --config,
 * --quiet, --json, --help), which go into g. Returns EXIT_OK with the
 * other words in args: if args->is_help, the help has been printed and the
 * command returns EXIT_OK. Else prints the usage error and returns
 * EXIT_USAGE. The usual start of a command:
 *     if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
 *         return code; */
int cli_parse(struct cli_globals *g, const struct opt_command *cmd, int argc, char **argv, struct opt_args *args);
/* EXIT_OK when args holds at most max words; else a usage error naming the
 * first one too many. */
int cli_args_at_most(const char *command, const struct opt_args *args, size_t max);

/* Sets what the environment says over what s holds: COFFER_S3_ENDPOINT,
 * COFFER_S3_REGION (else AWS_REGION), COFFER_S3_PATH_STYLE (true/false),
 * COFFER_S3_RETRY_SECONDS, COFFER_S3_CA_FILE, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; and, where s names none,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE and HOME (whose
 * .aws/credentials is read last). The strings stay the environment's. A
 * malformed value fails (ERR_USAGE) naming the variable. The store reads
 * no environment: this is where S3 settings get it. */
int s3_settings_from_env(struct s3_settings *s, struct error *err);
/* Loads the config file (if any) and fills unset globals from the
 * environment, then the file; fails (usage) with no repository. */
int cli_resolve_globals(struct cli_globals *g, struct error *err);
/* Frees what cli_resolve_globals loaded. */
void cli_globals_free(struct cli_globals *g);

/* The passphrase from --password-file, COFFER_PASSWORD_FILE,
 * COFFER_PASSWORD or a terminal prompt (asked twice when is_new). */
int cli_passphrase(const struct cli_globals *g, bool is_new, char **out, struct error *err);
/* A second passphrase for key add/passwd: --new-password-file,
 * COFFER_NEW_PASSWORD_FILE, COFFER_NEW_PASSWORD or a prompt. */
int cli_new_passphrase(const char *file, char **out, struct error *err);
void cli_passphrase_free(char *pass);

/* Resolves globals, asks for the passphrase and opens the repository. */
int cli_open_repo(struct cli_globals *g, struct repo **out, struct error *err);
/* Whether a snapshot path ("/srv/a/b") is prefix or inside it ("/srv/a",
 * "/srv/a/"); a NULL prefix holds everything. */
bool cli_is_under(const char *path, const char *prefix);

/* An event document (check, drill, run) as --json gives it: a copy whose
 * times (time and every *_time: Unix seconds as recorded) are RFC 3339
 * UTC strings, as every --json output writes times. The caller owns it. */
json_t *cli_event_json(const json_t *doc);
/* Prints it as one JSON line. */
void cli_print_event_json(const json_t *doc);
/* Makes repo's lockers wait as --retry-lock, else coffer.yaml's lock_wait:,
 * says (cli_open_repo does it; for a second repository such as copy's). */
void cli_set_lock_wait(struct cli_globals *g, struct repo *repo);

/* Prints "coffer: <message>" and a hint for the error's kind; returns
 * the exit code for it. */
int cli_fail(const struct error *err);
/* Prints a usage error and returns EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* -1 (ERR_USAGE) for the test-only key-derivation level unless
 * COFFER_TESTONLY_WEAK_KDF=1 is set (crypto.h): no user gets a key a
 * passphrase guesser breaks in seconds by a typo or a copied script. */
int cli_check_kdf_level(const char *level, struct error *err);

/* EXIT_OK if the URL given to flag holds no secret; else a usage error
 * (exit 2) saying to use a password file: a command line is readable by
 * every user of the host in /proc/PID/cmdline. */
int cli_check_url_flag(const char *command, const char *flag, const char *url);

/* An OPT_CUSTOM parser of a time (RFC 3339) into an int64_t, refusing
 * one more than 5 minutes ahead of this host's clock (backup --time,
 * daemon --now: a snapshot dated later would pass for the newest). */
int cli_parse_time(const char *arg, void *to, struct error *err);

/* An OPT_CUSTOM parser of tags into a struct string_list: repeatable,
 * each value holding one or more, comma-separated, each kept once. */
int cli_parse_tags(const char *arg, void *to, struct error *err);

/* Loads the snapshots and finds SPEC ("latest" or an id prefix) of source. */
struct snapshot_list;
struct snapshot;
int cli_pick_snapshot(struct repo *repo, const char *spec, const char *source, struct snapshot_list *list,
                      const struct snapshot **out, struct error *err);
/* Loads the snapshots, warning on stderr about any that cannot be read. */
int cli_load_snapshots(struct repo *repo, struct snapshot_list *list, struct error *err);

/* Commands. */
int cmd_init(struct cli_globals *g, int argc, char **argv);
int cmd_backup(struct cli_globals *g, int argc, char **argv);
int cmd_snapshots(struct cli_globals *g, int argc, char **argv);
int cmd_ls(struct cli_globals *g, int argc, char **argv);
int cmd_find(struct cli_globals *g, int argc, char **argv);
int cmd_diff(struct cli_globals *g, int argc, char **argv);
int cmd_restore(struct cli_globals *g, int argc, char **argv);
int cmd_dump(struct cli_globals *g, int argc, char **argv);
int cmd_check(struct cli_globals *g, int argc, char **argv);
int cmd_drill(struct cli_globals *g, int argc, char **argv);
int cmd_status(struct cli_globals *g, int argc, char **argv);
int cmd_forget(struct cli_globals *g, int argc, char **argv);
int cmd_tag(struct cli_globals *g, int argc, char **argv);
int cmd_config(struct cli_globals *g, int argc, char **argv);
int cmd_stats(struct cli_globals *g, int argc, char **argv);
int cmd_copy(struct cli_globals *g, int argc, char **argv);
int cmd_prune(struct cli_globals *g, int argc, char **argv);
int cmd_unlock(struct cli_globals *g, int argc, char **argv);
int cmd_repair(struct cli_globals *g, int argc, char **argv);

/* Shared by prune and forget --prune. */
struct prune_result;
void cli_print_prune(const struct cli_globals *g, const struct prune_result *r, bool is_dry_run);
int cmd_key(struct cli_globals *g, int argc, char **argv);
int cmd_daemon(struct cli_globals *g, int argc, char **argv);
int cmd_schedule(struct cli_globals *g, int argc, char **argv);
int cmd_log(struct cli_globals *g, int argc, char **argv);
int cmd_generate(struct cli_globals *g, int argc, char **argv);

#endif
