/*
 * options.c — parses a command's argv against its option table and prints
 * its --help from the same table (options.h says why).
 *
 * The rules are getopt_long's, minus what surprised people: "--name VALUE"
 * and "--name=VALUE" both work, options may come anywhere among the other
 * words, "--" ends them; but a long name is never abbreviated (adding an
 * option must not change what an old command line means; an unknown
 * prefix gets a "did you mean"), a value is never taken from a word that
 * starts with "--" (that is a missing value), and numbers are checked
 * against their range instead of going through atoi.
 */
#include "cli/options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "repo/snapshot.h"
#include "util/buf.h"
#include "util/text.h"

enum { HELP_WIDTH = 80, HELP_MIN_COLUMN = 25, SHOWN_MAX = 40 };

static bool is_value_taken(const struct opt *o)
{
    return o->kind != OPT_KIND_FLAG && o->kind != OPT_KIND_HELP;
}

static const struct opt *find_long(const struct opt_command *cmd, const char *name, size_t len)
{
    const struct opt *tables[] = {cmd->options, cmd->common};
    for (size_t t = 0; t < 2; t++)
        for (const struct opt *o = tables[t]; o && o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, name, len))
                return o;
    return NULL;
}

static const struct opt *find_letter(const struct opt_command *cmd, char letter)
{
    const struct opt *tables[] = {cmd->options, cmd->common};
    for (size_t t = 0; t < 2; t++)
        for (const struct opt *o = tables[t]; o && o->name; o++)
            if (o->letter && o->letter == letter)
                return o;
    return NULL;
}

/* The one option whose name starts with name[0..len), or NULL. */
static const struct opt *find_prefix(const struct opt_command *cmd, const char *name, size_t len)
{
    const struct opt *tables[] = {cmd->options, cmd->common}, *match = NULL;
    for (size_t t = 0; t < 2; t++) {
        for (const struct opt *o = tables[t]; o && o->name; o++) {
            if (len == 0 || o->is_hidden || strncmp(o->name, name, len) != 0)
                continue;
            if (match)
                return NULL;
            match = o;
        }
    }
    return match;
}

/* "-q" or "--quiet", as the user would type it. */
static void display_name(const struct opt *o, bool is_letter, char out[64])
{
    if (is_letter)
        snprintf(out, 64, "-%c", o->letter);
    else
        snprintf(out, 64, "--%s", o->name);
}

/* A bound as --help and errors show it: 4K, 16M, 1G when it is one. */
static void bound_text(const struct opt *o, long long v, char out[32])
{
    const char *units = "KMG";
    if (o->kind == OPT_KIND_SIZE && v > 0) {
        int unit = -1;
        while (unit < 2 && v % 1024 == 0) {
            v /= 1024;
            unit++;
        }
        if (unit >= 0) {
            snprintf(out, 32, "%lld%c", v, units[unit]);
            return;
        }
    }
    snprintf(out, 32, "%lld", v);
}

static int range_error(const struct opt *o, const char *name, const char *arg, struct error *err)
{
    char lo[32], hi[32];
    bound_text(o, o->min, lo);
    bound_text(o, o->max, hi);
    const char *unit = o->kind == OPT_KIND_PERCENT ? "%" : o->unit ? o->unit : "";
    const char *what = o->kind == OPT_KIND_SIZE ? "a size " : "";
    return error_setk(err, ERR_USAGE, "%s: must be %s%s..%s%s (got \"%.*s\"%s)", name, what, lo, hi, unit, SHOWN_MAX,
                      arg, strlen(arg) > SHOWN_MAX ? "..." : "");
}

/* A whole number: an optional '-' (when negatives are allowed), digits,
 * then nothing or the row's unit. */
static int parse_whole(const struct opt *o, const char *name, const char *arg, long long *out, struct error *err)
{
    const char *p = arg;
    if (*p == '-' && o->kind == OPT_KIND_INT)
        p++;
    if (*p < '0' || *p > '9')
        return range_error(o, name, arg, err);
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    bool is_unit = o->unit && *end && !strcmp(end, o->unit);
    if (errno == ERANGE || (*end && !is_unit) || v < o->min || v > o->max)
        return range_error(o, name, arg, err);
    *out = v;
    return 0;
}

static int store_value(const struct opt *o, const char *name, const char *arg, struct error *err)
{
    long long n;
    if (o->seen)
        *o->seen = true;
    if (!arg) /* an optional value left out */
        return 0;
    switch (o->kind) {
    case OPT_KIND_STRING: *o->to.string = arg; return 0;
    case OPT_KIND_LIST:
        if (!string_list_has(o->to.list, arg))
            string_list_add(o->to.list, arg);
        return 0;
    case OPT_KIND_UINT:
        if (parse_whole(o, name, arg, &n, err) < 0)
            return -1;
        *o->to.uint = (unsigned)n;
        return 0;
    case OPT_KIND_INT:
        if (parse_whole(o, name, arg, &n, err) < 0)
            return -1;
        *o->to.integer = (int)n;
        return 0;
    case OPT_KIND_PERCENT: {
        char *end;
        if ((*arg < '0' || *arg > '9') && *arg != '.')
            return range_error(o, name, arg, err);
        double pct = strtod(arg, &end);
        if ((*end && strcmp(end, "%") != 0) || !isfinite(pct) || pct < (double)o->min || pct > (double)o->max)
            return range_error(o, name, arg, err);
        *o->to.fraction = pct / 100.0;
        return 0;
    }
    case OPT_KIND_SIZE: {
        uint64_t bytes;
        if (size_parse(arg, &bytes) < 0 || bytes < (uint64_t)o->min || bytes > (uint64_t)o->max)
            return range_error(o, name, arg, err);
        *o->to.size = bytes;
        return 0;
    }
    case OPT_KIND_CUSTOM:
        if (o->parse(arg, o->to.custom, err) < 0) {
            err->kind = ERR_USAGE;
            return error_wrap(err, "%s", name);
        }
        return 0;
    case OPT_KIND_FLAG:
    case OPT_KIND_HELP:
        break;
    }
    return 0;
}

/* Whether word may be the separate value of an option whose value is
 * optional: only what starts like a number, so that "--read-data --json"
 * and "--read-data latest" leave the next word alone. */
static bool is_optional_value(const char *word)
{
    return word && ((*word >= '0' && *word <= '9') || *word == '.');
}

/* Stores the option o, named name, whose value is inline (after '=' or
 * after a short letter) or else the next word, argv[*i + 1]. */
static int take(const struct opt *o, const char *name, const char *inline_value, int argc, char **argv, int *i,
                struct opt_args *args, struct error *err)
{
    if (o->kind == OPT_KIND_HELP) {
        args->is_help = true;
        return 0;
    }
    if (o->kind == OPT_KIND_FLAG) {
        if (inline_value)
            return error_setk(err, ERR_USAGE, "%s takes no value", name);
        *o->to.flag = true;
        if (o->seen)
            *o->seen = true;
        return 0;
    }
    const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
    const char *value = inline_value;
    if (!value && o->is_value_optional) {
        if (is_optional_value(next)) {
            value = next;
            (*i)++;
        }
    } else if (!value) {
        if (!next || !strncmp(next, "--", 2))
            return error_setk(err, ERR_USAGE, "%s needs a value: %s %s", name, name, o->arg ? o->arg : "VALUE");
        value = next;
        (*i)++;
    }
    return store_value(o, name, value, err);
}

static int parse_long(const struct opt_command *cmd, const char *word, int argc, char **argv, int *i,
                      struct opt_args *args, struct error *err)
{
    const char *name = word + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct opt *o = find_long(cmd, name, len);
    if (!o) {
        /* Only the name: what follows '=' may be a secret typed in the wrong place. */
        const struct opt *guess = find_prefix(cmd, name, len);
        if (guess)
            return error_setk(err, ERR_USAGE, "unknown option --%.*s (did you mean --%s?)", (int)len, name,
                              guess->name);
        return error_setk(err, ERR_USAGE, "unknown option --%.*s", (int)len, name);
    }
    char shown[64];
    display_name(o, false, shown);
    return take(o, shown, eq ? eq + 1 : NULL, argc, argv, i, args, err);
}

/* "-q", "-qj", "-w4", "-w 4": letters of flags may be run together; the
 * first letter that takes a value takes the rest of the word, or the next. */
static int parse_letters(const struct opt_command *cmd, const char *word, int argc, char **argv, int *i,
                         struct opt_args *args, struct error *err)
{
    for (const char *p = word + 1; *p; p++) {
        const struct opt *o = find_letter(cmd, *p);
        if (!o)
            return error_setk(err, ERR_USAGE, "unknown option -%c", *p);
        char shown[64];
        display_name(o, true, shown);
        if (is_value_taken(o))
            return take(o, shown, p[1] ? p + 1 : NULL, argc, argv, i, args, err);
        if (take(o, shown, NULL, argc, argv, i, args, err) < 0)
            return -1;
        if (args->is_help)
            return 0;
    }
    return 0;
}

int opt_parse(const struct opt_command *cmd, int argc, char **argv, struct opt_args *args, struct error *err)
{
    memset(args, 0, sizeof *args);
    args->items = argv + (argc > 0);
    bool is_options_end = false;
    for (int i = 1; i < argc; i++) {
        char *word = argv[i];
        int rc = 0;
        /* Words move forward over the options already read: count < i. */
        if (is_options_end || word[0] != '-' || word[1] == '\0')
            args->items[args->count++] = word;
        else if (!strcmp(word, "--"))
            is_options_end = true;
        else if (word[1] == '-')
            rc = parse_long(cmd, word, argc, argv, &i, args, err);
        else
            rc = parse_letters(cmd, word, argc, argv, &i, args, err);
        if (rc < 0) {
            args->count = 0;
            return -1;
        }
        if (args->is_help)
            return 0;
    }
    return 0;
}

/* "  -q, --quiet" or "  --read-data[=N%]": the left column of a row. */
static void row_left(const struct opt *o, char *out, size_t size)
{
    char letter[8] = "";
    if (o->letter)
        snprintf(letter, sizeof letter, "-%c, ", o->letter);
    if (!is_value_taken(o))
        snprintf(out, size, "  %s--%s", letter, o->name);
    else if (o->is_value_optional)
        snprintf(out, size, "  %s--%s[=%s]", letter, o->name, o->arg ? o->arg : "VALUE");
    else
        snprintf(out, size, "  %s--%s %s", letter, o->name, o->arg ? o->arg : "VALUE");
}

/* Prints text from column col on, wrapped at HELP_WIDTH; a '\n' in text
 * starts a new line. The first line continues the current one. */
static void print_wrapped(FILE *out, const char *text, size_t col)
{
    size_t at = col;
    bool is_line_start = true;
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            fprintf(out, "\n%*s", (int)col, "");
            at = col;
            is_line_start = true;
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, " \n");
        if (!is_line_start && at + 1 + len > HELP_WIDTH) {
            fprintf(out, "\n%*s", (int)col, "");
            at = col;
            is_line_start = true;
        }
        if (!is_line_start) {
            fputc(' ', out);
            at++;
        }
        fwrite(p, 1, len, out);
        at += len;
        is_line_start = false;
        p += len;
    }
    fputc('\n', out);
}

void opt_print_help(const struct opt_command *cmd, FILE *out)
{
    const char *line = cmd->usage ? cmd->usage : "[OPTIONS]";
    for (bool is_first = true; ; is_first = false) {
        size_t len = strcspn(line, "\n");
        fprintf(out, "%s coffer %s %.*s\n", is_first ? "usage:" : "      ", cmd->name, (int)len, line);
        if (!line[len])
            break;
        line += len + 1;
    }
    if (cmd->description)
        fprintf(out, "\n%s\n", cmd->description);

    const struct opt *tables[] = {cmd->options, cmd->common};
    char left[128];
    size_t col = HELP_MIN_COLUMN;
    for (size_t t = 0; t < 2; t++) {
        for (const struct opt *o = tables[t]; o && o->name; o++) {
            if (o->is_hidden)
                continue;
            row_left(o, left, sizeof left);
            if (strlen(left) + 2 > col)
                col = strlen(left) + 2;
        }
    }
    fputs("\noptions:\n", out);
    for (size_t t = 0; t < 2; t++) {
        for (const struct opt *o = tables[t]; o && o->name; o++) {
            if (o->is_hidden)
                continue;
            row_left(o, left, sizeof left);
            fprintf(out, "%-*s", (int)col, left);
            print_wrapped(out, o->help ? o->help : "", col);
        }
    }
    if (cmd->epilog)
        fprintf(out, "\n%s%s", cmd->epilog, cmd->epilog[0] && cmd->epilog[strlen(cmd->epilog) - 1] == '\n' ? "" : "\n");
}
