/*
 * generate.c — `coffer generate`: coffer(1) and the bash and zsh
 * completions, written from the commands' own option tables (each command
 * hands its table over through cli_globals.describe instead of running),
 * so that they say what the parser takes and cannot drift from it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "config/config.h"
#include "sched/systemd.h"
#include "util/buf.h"
#include "util/fdio.h"

static const char description[] =
    "Writes coffer(1) (--man FILE) and completions for bash (--bash-completion\n"
    "FILE) and zsh (--zsh-completion FILE, the _coffer function) from the option\n"
    "tables the commands parse with, and the package's coffer.service\n"
    "(--systemd-unit FILE). The package build runs it.";

/* Every command's table, copied while its run hands it over. */
struct described {
    const char *name, *summary;
    char *usage, *description, *epilog;
    struct opt *options; /* the command's, then the common ones; ends with a NULL name */
};

struct catalog {
    struct described *items;
    size_t count;
};

static size_t table_length(const struct opt *t)
{
    size_t n = 0;
    while (t && t[n].name)
        n++;
    return n;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void take_table(void *ctx, const struct opt_command *cmd)
{
    struct catalog *c = ctx;
    struct described *d = &c->items[c->count - 1];
    size_t own = table_length(cmd->options), common = table_length(cmd->common);
    d->usage = dup_or_null(cmd->usage);
    d->description = dup_or_null(cmd->description);
    d->epilog = dup_or_null(cmd->epilog);
    d->options = xcalloc(own + common + 1, sizeof *d->options);
    memcpy(d->options, cmd->options, own * sizeof *d->options);
    memcpy(d->options + own, cmd->common, common * sizeof *d->options);
}

static void catalog_load(struct catalog *c)
{
    c->count = 0;
    c->items = xcalloc(cli_command_count(), sizeof *c->items);
    for (size_t i = 0; i < cli_command_count(); i++) {
        struct cli_command_info info = cli_command_at(i);
        if (!strcmp(info.name, "generate"))
            continue;
        c->items[c->count++] = (struct described){.name = info.name, .summary = info.summary};
        struct cli_globals g = {.describe = take_table, .describe_ctx = c};
        char *argv[] = {(char *)info.name, NULL};
        info.run(&g, 1, argv);
        cli_globals_free(&g);
    }
}

static void catalog_free(struct catalog *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->items[i].usage);
        free(c->items[i].description);
        free(c->items[i].epilog);
        free(c->items[i].options);
    }
    free(c->items);
}

/* ---- roff ------------------------------------------------------------- */

/* Text as roff: backslashes and hyphens escaped, a line never starting
 * with a control character, paragraphs (blank lines) as .PP. */
static void roff_text(struct buf *out, const char *text)
{
    bool is_line_start = true;
    for (const char *p = text; p && *p; p++) {
        if (is_line_start && (*p == '.' || *p == '\''))
            buf_printf(out, "\\&");
        is_line_start = false;
        if (*p == '\\')
            buf_printf(out, "\\e");
        else if (*p == '-')
            buf_printf(out, "\\-");
        else if (*p == '\n' && p[1] == '\n') {
            buf_printf(out, "\n.PP\n");
            p++;
            is_line_start = true;
        } else {
            buf_append(out, p, 1);
            is_line_start = *p == '\n';
        }
    }
    buf_printf(out, "\n");
}

static void man_option(struct buf *out, const struct opt *o)
{
    buf_printf(out, ".TP\n.B \\-\\-");
    roff_text(out, o->name);
    out->len--; /* the newline roff_text ended with */
    if (o->letter)
        buf_printf(out, ", \\-%c", o->letter);
    if (o->arg)
        buf_printf(out, " \\fI%s\\fR", o->arg);
    buf_printf(out, "\n");
    roff_text(out, o->help ? o->help : "");
}

static void write_man(const struct catalog *c, struct buf *out)
{
    char date[32];
    const char *epoch = getenv("SOURCE_DATE_EPOCH"); /* reproducible package builds */
    time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    buf_printf(out, ".\\\" Written by `coffer generate --man FILE` from the option tables; do not edit.\n"
                    ".TH COFFER 1 \"%s\" \"coffer " COFFER_VERSION "\" \"User Commands\"\n"
                    ".SH NAME\ncoffer \\- encrypted, deduplicated backups of an application stack\n"
                    ".SH SYNOPSIS\n.B coffer\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
                    ".SH DESCRIPTION\n", date);
    roff_text(out, "coffer backs up PostgreSQL, Redis, files, environment files, git repositories, command output "
                   "and S3 buckets into an encrypted, deduplicated, compressed repository on a local disk or S3; "
                   "checks and repairs it; rehearses restores (drills); and, as a daemon, runs coffer.yaml's "
                   "schedule with alerts and Prometheus metrics. Settings are in coffer.yaml(5).");
    buf_printf(out, ".SH COMMANDS\n");
    for (size_t i = 0; i < c->count; i++) {
        const struct described *d = &c->items[i];
        buf_printf(out, ".SS coffer %s\n", d->name);
        roff_text(out, d->summary);
        buf_printf(out, ".PP\n.nf\n");
        for (const char *line = d->usage ? d->usage : ""; *line;) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            char *one = xmalloc(len + 1);
            memcpy(one, line, len);
            one[len] = '\0';
            buf_printf(out, "\\fBcoffer %s\\fR ", d->name);
            roff_text(out, one);
            free(one);
            line += len + (end ? 1 : 0);
        }
        buf_printf(out, ".fi\n.PP\n");
        roff_text(out, d->description);
        for (const struct opt *o = d->options; o->name; o++)
            if (!o->is_hidden)
                man_option(out, o);
        if (d->epilog) {
            buf_printf(out, ".PP\n");
            roff_text(out, d->epilog);
        }
    }
    buf_printf(out, ".SH EXIT STATUS\n");
    roff_text(out, "0 success; 1 failure (the message says what failed and what to do); 2 usage error; 3 it ran, "
                   "but something needs attention (a backup saved without some files, a health rule or an "
                   "objective not met); 10 no repository at the location; 11 the repository is locked by another "
                   "coffer; 12 wrong passphrase; 130 and 143 stopped by SIGINT or SIGTERM, cleanly.");
    buf_printf(out, ".SH ENVIRONMENT\n");
    static const char *const env[][2] = {
        {"COFFER_REPOSITORY", "the repository: a directory or s3://BUCKET/PREFIX (or \\-\\-repo)"},
        {"COFFER_PASSWORD_FILE", "a file holding the passphrase (or \\-\\-password\\-file)"},
        {"COFFER_PASSWORD", "the passphrase itself (prefer the file)"},
        {"COFFER_CONFIG", "the configuration file (or \\-\\-config)"},
        {"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", "S3 credentials (or coffer.yaml's s3: credentials_file)"},
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        buf_printf(out, ".TP\n.B %s\n%s\n", env[i][0], env[i][1]);
    buf_printf(out, ".SH FILES\n.TP\n.I /etc/coffer/coffer.yaml\nthe configuration, when neither \\-\\-config nor "
                    "COFFER_CONFIG names one and ./coffer.yaml is absent\n.TP\n.I /var/lib/coffer\nthe daemon's "
                    "state: its run ledger and incidents (state_dir)\n"
                    ".SH SEE ALSO\n.BR coffer.yaml (5),\n.BR systemd.timer (5),\n.BR crontab (5)\n");
}

/* ---- completions ------------------------------------------------------ */

static void option_words(const struct described *d, struct buf *out)
{
    for (const struct opt *o = d->options; o->name; o++)
        if (!o->is_hidden)
            buf_printf(out, " --%s", o->name);
}

static void write_bash(const struct catalog *c, struct buf *out)
{
    buf_printf(out, "# bash completion for coffer; written by `coffer generate --bash-completion FILE`, do not edit.\n"
                    "_coffer()\n{\n    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} words\n"
                    "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        words=\"");
    for (size_t i = 0; i < c->count; i++)
        buf_printf(out, "%s%s", i ? " " : "", c->items[i].name);
    buf_printf(out, " --help --version\"\n    else\n        case $cmd in\n");
    for (size_t i = 0; i < c->count; i++) {
        buf_printf(out, "        %s) words=\"", c->items[i].name);
        option_words(&c->items[i], out);
        buf_printf(out, "\" ;;\n");
    }
    buf_printf(out, "        *) words= ;;\n        esac\n"
                    "        case $cur in -*) ;; *) COMPREPLY=($(compgen -f -- \"$cur\")); return ;; esac\n    fi\n"
                    "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -o filenames -F _coffer coffer\n");
}

/* A help line for zsh's _arguments: no brackets, colons or quotes. */
static void zsh_help(struct buf *out, const char *help)
{
    for (const char *p = help ? help : ""; *p && *p != '\n'; p++)
        buf_printf(out, "%c", strchr("[]:'\\`$", *p) ? ' ' : *p);
}

static void write_zsh(const struct catalog *c, struct buf *out)
{
    buf_printf(out, "#compdef coffer\n# zsh completion for coffer; written by `coffer generate --zsh-completion FILE`, "
                    "do not edit.\n\n_coffer() {\n    local -a commands\n    commands=(\n");
    for (size_t i = 0; i < c->count; i++) {
        buf_printf(out, "        '%s:", c->items[i].name);
        zsh_help(out, c->items[i].summary);
        buf_printf(out, "'\n");
    }
    buf_printf(out, "    )\n    if (( CURRENT == 2 )); then\n        _describe 'command' commands\n        return\n    fi\n"
                    "    case ${words[2]} in\n");
    for (size_t i = 0; i < c->count; i++) {
        buf_printf(out, "    %s)\n        _arguments -s", c->items[i].name);
        for (const struct opt *o = c->items[i].options; o->name; o++) {
            if (o->is_hidden)
                continue;
            buf_printf(out, " \\\n            '--%s%s[", o->name, o->kind == OPT_KIND_FLAG || o->kind == OPT_KIND_HELP
                                                               ? "" : "=");
            zsh_help(out, o->help);
            buf_printf(out, "]%s'", o->kind == OPT_KIND_FLAG || o->kind == OPT_KIND_HELP ? "" : ":value:_files");
        }
        buf_printf(out, " \\\n            '*:file:_files'\n        ;;\n");
    }
    buf_printf(out, "    esac\n}\n\n_coffer \"$@\"\n");
}

/* The package's coffer.service: the daemon with the installed paths. */
static void write_unit(const struct catalog *c, struct buf *out)
{
    (void)c;
    struct systemd_unit_settings s = {COFFER_INSTALL_BIN "/coffer", CONFIG_SYSTEM_PATH, "coffer",
                                      CONFIG_DEFAULT_STATE_DIR, NULL};
    buf_printf(out, "# For a repository on a local disk, let the daemon write there: `systemctl edit coffer`,\n"
                    "# then [Service] ReadWritePaths=/srv/backups/repo (or run `coffer schedule install --systemd\n"
                    "# --daemon`, which writes a unit with it).\n");
    systemd_daemon_unit(&s, out);
}

static void print_key(void *ctx, const char *key)
{
    (void)ctx;
    puts(key);
}

static int write_out(const char *path, const struct buf *text)
{
    if (!strcmp(path, "-")) {
        fwrite(text->data, 1, text->len, stdout);
        return EXIT_OK;
    }
    if (write_file_atomic(path, text->data, text->len, 0644) < 0) {
        fprintf(stderr, "coffer: cannot write %s: %s\n", path, strerror(errno));
        return EXIT_FAILURE_;
    }
    return EXIT_OK;
}

int cmd_generate(struct cli_globals *g, int argc, char **argv)
{
    const char *man = NULL, *bash = NULL, *zsh = NULL, *unit = NULL;
    bool is_config_keys = false;
    const struct opt options[] = {
        {OPT_STRING("man", &man), .arg = "FILE", .help = "write coffer(1) in roff to FILE (- for stdout)"},
        {OPT_STRING("bash-completion", &bash), .arg = "FILE", .help = "write the bash completion to FILE"},
        {OPT_STRING("zsh-completion", &zsh), .arg = "FILE", .help = "write the zsh completion (_coffer) to FILE"},
        {OPT_STRING("systemd-unit", &unit), .arg = "FILE",
         .help = "write the package's coffer.service (the daemon, installed paths, user coffer) to FILE"},
        {OPT_FLAG("config-keys", &is_config_keys),
         .help = "print every key coffer.yaml takes, one a line (what docs/config.md and coffer.yaml(5) describe)"},
        {0},
    };
    const struct opt_command command = {.name = "generate", .usage = "--man FILE | --bash-completion FILE | "
                                        "--zsh-completion FILE", .description = description, .options = options};
    struct opt_args args;
    int code = cli_parse(g, &command, argc, argv, &args);
    if (code != EXIT_OK || args.is_help || (code = cli_args_at_most("generate", &args, 0)) != EXIT_OK)
        return code;
    if (is_config_keys) {
        config_each_key(print_key, NULL);
        return EXIT_OK;
    }
    if (!man && !bash && !zsh && !unit)
        return cli_usage_error("generate", "say what to write: --man FILE, --bash-completion FILE or "
                               "--zsh-completion FILE");
    struct catalog c;
    catalog_load(&c);
    const struct {
        const char *path;
        void (*write)(const struct catalog *, struct buf *);
    } outputs[] = {{man, write_man}, {bash, write_bash}, {zsh, write_zsh}, {unit, write_unit}};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0] && code == EXIT_OK; i++) {
        if (!outputs[i].path)
            continue;
        struct buf text = BUF_INIT;
        outputs[i].write(&c, &text);
        code = write_out(outputs[i].path, &text);
        buf_free(&text);
    }
    catalog_free(&c);
    return code;
}
