/*
 * common.c — what every command shares: global options, the passphrase,
 * opening the repository, and turning errors into messages and exit codes.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "repo/lock.h"
#include "repo/snapshot.h"
#include "util/buf.h"
#include "util/interrupt.h"
#include "util/secret.h"
#include "util/text.h"

static void env_over(const char **slot, const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        *slot = v;
}

static void env_under(const char **slot, const char *name)
{
    if (!*slot || !**slot)
        *slot = getenv(name);
}

int s3_settings_from_env(struct s3_settings *s, struct error *err)
{
    env_over(&s->endpoint, "COFFER_S3_ENDPOINT");
    env_over(&s->region, "AWS_REGION");
    env_over(&s->region, "COFFER_S3_REGION");
    const char *style = getenv("COFFER_S3_PATH_STYLE");
    if (style && *style && strcmp(style, "true") && strcmp(style, "false"))
        return error_setk(err, ERR_USAGE, "COFFER_S3_PATH_STYLE must be true or false");
    if (style && *style)
        s->path_style = !strcmp(style, "true");
    const char *key = getenv("AWS_ACCESS_KEY_ID");
    if (key && *key) { /* a key pair from the environment comes whole */
        s->access_key = key;
        s->secret_key = getenv("AWS_SECRET_ACCESS_KEY");
        s->session_token = getenv("AWS_SESSION_TOKEN");
    }
    const char *retry = getenv("COFFER_S3_RETRY_SECONDS");
    if (retry && *retry) {
        char *end;
        unsigned long seconds = strtoul(retry, &end, 10);
        if (*end || retry[0] == '-' || seconds < 1 || seconds > 86400)
            return error_setk(err, ERR_USAGE, "COFFER_S3_RETRY_SECONDS must be a whole number of seconds, 1 to 86400");
        s->retry_seconds = (unsigned)seconds;
    }
    env_over(&s->ca_file, "COFFER_S3_CA_FILE");
    /* Where coffer.yaml names a credentials file or profile, it wins. */
    env_under(&s->credentials_file, "AWS_SHARED_CREDENTIALS_FILE");
    env_under(&s->profile, "AWS_PROFILE");
    env_under(&s->home, "HOME");
    return 0;
}

static int parse_lock_wait(const char *arg, void *to, struct error *err)
{
    struct cli_globals *g = to;
    uint64_t seconds;
    if (duration_parse(arg, &seconds) < 0 || seconds > UINT32_MAX)
        return error_set(err, "not a duration: \"%s\" (use e.g. 30s, 10m, 1h30m; m is minutes)", arg);
    g->lock_wait = (unsigned)seconds;
    g->has_lock_wait = true;
    return 0;
}

int cli_parse(struct cli_globals *g, const struct opt_command *cmd, int argc, char **argv, struct opt_args *args)
{
    struct opt common[] = {
        {OPT_STRING("repo", &g->repo), .arg = "REPO",
         .help = "repository: a directory or s3://BUCKET/PREFIX (default: $COFFER_REPOSITORY, then coffer.yaml)"},
        {OPT_STRING("password-file", &g->password_file), .arg = "FILE",
         .help = "read the passphrase from FILE (default: $COFFER_PASSWORD_FILE, then $COFFER_PASSWORD, then a "
                 "prompt on the terminal)"},
        {OPT_STRING("config", &g->config_path), .arg = "FILE",
         .help = "configuration file (default: $COFFER_CONFIG, ./coffer.yaml, /etc/coffer/coffer.yaml; see "
                 "docs/config.md)"},
        {OPT_CUSTOM("retry-lock", parse_lock_wait, g), .arg = "DURATION",
         .help = "if another coffer holds a conflicting lock, wait up to DURATION (e.g. 30s, 10m, 1h) for it to go "
                 "(default: coffer.yaml's lock_wait:, else fail at once)"},
        {OPT_FLAG("quiet", &g->is_quiet), .help = "no progress output"},
        {OPT_FLAG("json", &g->is_json),
         .help = "machine-readable output: JSON on stdout; backup, restore and check also print progress as JSON "
                 "lines on stderr"},
        {OPT_HELP("help"), .help = "this help"},
        {0},
    };
    struct opt_command full = *cmd;
    struct error err;
    if (!cmd->takes_lock) /* offered only where it means something */
        memmove(&common[3], &common[4], sizeof common - 4 * sizeof *common);
    full.common = common;
    if (g->describe) {
        memset(args, 0, sizeof *args);
        args->is_help = true;
        g->describe(g->describe_ctx, &full);
        return EXIT_OK;
    }
    if (opt_parse(&full, argc, argv, args, &err) < 0)
        return cli_usage_error(cmd->name, "%s", err.msg);
    if (args->is_help)
        opt_print_help(&full, stdout);
    return EXIT_OK;
}

int cli_args_at_most(const char *command, const struct opt_args *args, size_t max)
{
    if (args->count <= max)
        return EXIT_OK;
    return cli_usage_error(command, "unexpected argument \"%s\"", args->items[max]);
}

/* The s3: block's settings, then the environment's over them. */
static int s3_settings_from_config(const struct config *cfg, struct s3_settings *s, struct error *err)
{
    memset(s, 0, sizeof *s);
    s->path_style = -1;
    if (cfg && cfg->s3.is_set) {
        const struct config_s3 *c = &cfg->s3;
        s->endpoint = c->endpoint;
        s->region = c->region;
        if (c->path_style)
            s->path_style = !strcmp(c->path_style, "true");
        s->credentials_file = c->credentials_file;
        s->profile = c->profile;
        s->ca_file = c->ca_file;
        s->connections = c->connections;
        s->retry_seconds = c->retry_time;
        s->data_class = c->storage_class.data;
        s->metadata_class = c->storage_class.metadata;
    }
    return s3_settings_from_env(s, err);
}

int cli_resolve_globals(struct cli_globals *g, struct error *err)
{
    if (!g->config) {
        char *path = NULL;
        if (config_locate(g->config_path, &path, err) < 0)
            return -1;
        if (path) {
            g->config = xcalloc(1, sizeof *g->config);
            int rc = config_load(path, g->config, err);
            free(path);
            if (rc < 0) {
                free(g->config);
                g->config = NULL;
                return -1;
            }
        }
    }
    /* Flags first, then the environment, then the file. */
    if (!g->repo)
        g->repo = getenv("COFFER_REPOSITORY");
    if (!g->repo && g->config)
        g->repo = g->config->repository;
    if (!g->password_file)
        g->password_file = getenv("COFFER_PASSWORD_FILE");
    if (!g->password_file && !(getenv("COFFER_PASSWORD") && *getenv("COFFER_PASSWORD")) && g->config)
        g->password_file = g->config->password_file;
    if (s3_settings_from_config(g->config, &g->s3, err) < 0)
        return -1;
    if (!g->repo || !*g->repo)
        return error_setk(err, ERR_USAGE, "no repository given: use --repo DIR, set COFFER_REPOSITORY, "
                          "or name it in coffer.yaml (repository:)");
    return 0;
}

void cli_globals_free(struct cli_globals *g)
{
    if (g->config) {
        config_free(g->config);
        free(g->config);
        g->config = NULL;
    }
}

static int prompt_once(FILE *tty, const char *question, char **out, struct error *err)
{
    struct termios old, quiet;
    int fd = fileno(tty);
    fputs(question, stderr);
    fflush(stderr);
    bool is_echo_off = tcgetattr(fd, &old) == 0;
    if (is_echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, tty);
    if (is_echo_off)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputc('\n', stderr);
    if (n < 0) {
        free(line);
        return error_set(err, "no passphrase was entered");
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *out = secret_dup(line); /* locked memory, see secret.h */
    crypto_wipe(line, cap);
    free(line);
    return 0;
}

static int prompt(const char *question, bool is_new, char **out, struct error *err)
{
    FILE *tty = isatty(STDIN_FILENO) || isatty(STDERR_FILENO) ? fopen("/dev/tty", "r+") : NULL;
    if (!tty)
        return error_setk(err, ERR_USAGE,
                          "no passphrase: set COFFER_PASSWORD_FILE (or COFFER_PASSWORD), or use --password-file");
    char *first = NULL, *second = NULL;
    int rc = prompt_once(tty, question, &first, err);
    if (rc == 0 && !*first)
        rc = error_set(err, "the passphrase must not be empty");
    if (rc == 0 && is_new) {
        rc = prompt_once(tty, "enter the passphrase again: ", &second, err);
        if (rc == 0 && strcmp(first, second) != 0)
            rc = error_set(err, "the passphrases do not match");
    }
    fclose(tty);
    cli_passphrase_free(second);
    if (rc < 0) {
        cli_passphrase_free(first);
        return -1;
    }
    *out = first;
    return 0;
}

int cli_passphrase(const struct cli_globals *g, bool is_new, char **out, struct error *err)
{
    if (g->password_file)
        return secret_read_file(g->password_file, "passphrase file", out, err);
    const char *env = getenv("COFFER_PASSWORD");
    if (env && *env) {
        *out = secret_dup(env);
        return 0;
    }
    return prompt(is_new ? "passphrase for the new repository: " : "repository passphrase: ", is_new, out, err);
}

int cli_new_passphrase(const char *file, char **out, struct error *err)
{
    if (!file)
        file = getenv("COFFER_NEW_PASSWORD_FILE");
    if (file)
        return secret_read_file(file, "passphrase file", out, err);
    const char *env = getenv("COFFER_NEW_PASSWORD");
    if (env && *env) {
        *out = secret_dup(env);
        return 0;
    }
    return prompt("new passphrase: ", true, out, err);
}

void cli_passphrase_free(char *pass)
{
    secret_free(pass);
}

int cli_open_repo(struct cli_globals *g, struct repo **out, struct error *err)
{
    char *pass = NULL;
    if (cli_resolve_globals(g, err) < 0 || cli_passphrase(g, false, &pass, err) < 0)
        return -1;
    int rc = repo_open(g->repo, &g->s3, pass, out, err);
    cli_passphrase_free(pass);
    if (rc == 0)
        cli_set_lock_wait(g, *out);
    return rc;
}

/* Replaces the number at key (Unix seconds, maybe with a fraction) by its
 * RFC 3339 UTC string. */
static void time_to_text(json_t *doc, const char *key)
{
    json_t *value = json_object_get(doc, key);
    if (!json_is_number(value))
        return;
    double t = json_number_value(value);
    int64_t seconds = (int64_t)t;
    char when[40];
    time_format_rfc3339_precise(seconds, (int32_t)((t - (double)seconds) * 1e3) * 1000000, when);
    json_object_set_new(doc, key, json_string(when));
}

json_t *cli_event_json(const json_t *doc)
{
    json_t *out = json_deep_copy(doc);
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(out, tmp, key, value) {
        size_t len = strlen(key);
        if (!strcmp(key, "time") || (len > 5 && !strcmp(key + len - 5, "_time")))
            time_to_text(out, key);
    }
    return out;
}

void cli_print_event_json(const json_t *doc)
{
    json_t *out = cli_event_json(doc);
    json_dumpf(out, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(out);
}

bool cli_is_under(const char *path, const char *prefix)
{
    if (!prefix)
        return true;
    size_t len = strlen(prefix);
    while (len > 1 && prefix[len - 1] == '/')
        len--;
    return !strncmp(path, prefix, len) && (path[len] == '\0' || path[len] == '/' || (len == 1 && prefix[0] == '/'));
}

static void say_waiting(void *ctx, const char *why, unsigned seconds)
{
    const struct cli_globals *g = ctx;
    char text[32];
    duration_format(seconds, text);
    if (!g->is_quiet)
        fprintf(stderr, "coffer: %s; waiting up to %s for it to go\n", why, text);
}

void cli_set_lock_wait(struct cli_globals *g, struct repo *repo)
{
    struct repo_lock_wait wait = {g->has_lock_wait ? g->lock_wait : g->config ? g->config->lock_wait : 0, say_waiting,
                                  g};
    repo_set_lock_wait(repo, &wait);
}

int cli_fail(const struct error *err)
{
    fprintf(stderr, "coffer: %s\n", err->msg);
    if (interrupt_signal()) /* whatever failed on the way out, the run was stopped */
        return interrupt_exit_code();
    switch (err->kind) {
    case ERR_PASSPHRASE:
        fputs("        (check COFFER_PASSWORD_FILE / --password-file; `coffer key list` shows the keys)\n", stderr);
        return EXIT_PASSPHRASE;
    case ERR_AUTH:
        fputs("        (the data is damaged or was written with another key; run `coffer check --read-data`)\n", stderr);
        return EXIT_FAILURE_;
    case ERR_NO_REPO:
        return EXIT_NO_REPO;
    case ERR_LOCKED:
        return EXIT_LOCKED;
    case ERR_USAGE:
        return EXIT_USAGE;
    default:
        return EXIT_FAILURE_;
    }
}

int cli_check_url_flag(const char *command, const char *flag, const char *url)
{
    if (!config_url_secret_problem(url))
        return EXIT_OK;
    /* The URL itself is never echoed: it holds the secret. */
    return cli_usage_error(command, "the URL given to %s holds a password (user:password@, password= or "
                           "sslpassword=), and every user of this host can read a command line "
                           "(/proc/PID/cmdline): put the password in a file only you can read and give "
                           "--db-password-file FILE (password_file in coffer.yaml)", flag);
}

int cli_check_kdf_level(const char *level, struct error *err)
{
    const char *allow = getenv("COFFER_TESTONLY_WEAK_KDF");
    if (strcmp(level, KDF_LEVEL_TESTONLY) != 0 || (allow && strcmp(allow, "1") == 0))
        return 0;
    return error_setk(err, ERR_USAGE,
                      "the key-derivation level \"%s\" is for coffer's own tests: a passphrase under it is "
                      "guessed in no time (use interactive, moderate or sensitive; the test suite sets "
                      "COFFER_TESTONLY_WEAK_KDF=1)",
                      level);
}

int cli_parse_tags(const char *arg, void *to, struct error *err)
{
    struct string_list *tags = to;
    char *copy = xstrdup(arg), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
        for (const char *c = t; *c && rc == 0; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                rc = error_setk(err, ERR_USAGE, "a tag holds no control characters");
        if (rc == 0 && !string_list_has(tags, t))
            string_list_add(tags, t);
    }
    free(copy);
    return rc;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("coffer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n        (see `coffer %s --help`)\n", command);
    va_end(ap);
    return EXIT_USAGE;
}

/* The furthest ahead --time may be: clocks differ a little, but a snapshot
 * dated later would pass for the newest (RPO met, retention keeping it)
 * until that date. */
#define BACKUP_TIME_AHEAD_MAX 300

int cli_parse_time(const char *arg, void *to, struct error *err)
{
    int64_t *when = to;
    if (time_parse_rfc3339(arg, when, NULL) < 0)
        return error_setk(err, ERR_USAGE, "bad time \"%s\" (use RFC 3339, e.g. 2025-01-05T02:00:00Z)", arg);
    int64_t ahead = *when - (int64_t)time(NULL);
    if (ahead > BACKUP_TIME_AHEAD_MAX) {
        char by[32];
        duration_format((uint64_t)ahead, by);
        return error_setk(err, ERR_USAGE, "%s is %s in the future: a snapshot dated then would count as the newest "
                          "until that date; give a time in the past (or within 5 minutes of now)", arg, by);
    }
    return 0;
}
