/*
 * options.h — a command's options as a table, parsed and documented from
 * the same rows.
 *
 * Each command used to carry its own getopt_long loop, a switch that
 * parsed numbers with atoi, and a --help text kept in step by hand; a
 * repeated --source was last-wins in one command and additive in the
 * next. Here a row says everything about one option once: its name, what
 * kind of value it takes (and in what range), where the value goes, and
 * the line --help prints. opt_parse reads argv against the rows and
 * opt_print_help prints the help, so the two cannot disagree, every number
 * is range-checked with the option named, and every repeatable option
 * adds to a list.
 *
 * A table is an array of struct opt ended by a row whose name is NULL
 * ({0}). Rows hold pointers to where the values go, so a command builds
 * its table on the stack, next to those variables:
 *
 *     unsigned workers = 0;
 *     struct string_list sources = {0};
 *     const struct opt options[] = {
 *         {OPT_UINT("workers", &workers, 1, 256), .arg = "N", .help = "reader threads"},
 *         {OPT_LIST("source", &sources), .arg = "NAME", .help = "only this source (repeat for more)"},
 *         {0},
 *     };
 *
 * The OPT_* macros name the kind and the destination together, so the
 * pointer's type is checked by the compiler; the rest of a row is plain
 * designated initializers.
 */
#ifndef COFFER_CLI_OPTIONS_H
#define COFFER_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

struct string_list;

enum opt_kind {
    OPT_KIND_FLAG,    /* no value: sets a bool to true */
    OPT_KIND_STRING,  /* a const char * pointing into argv; given twice, the last wins */
    OPT_KIND_LIST,    /* repeatable: each value is added to a struct string_list (once: a value
                         given twice is there once) */
    OPT_KIND_UINT,    /* a whole number in min..max, optionally followed by unit ("%") */
    OPT_KIND_INT,     /* a whole number in min..max that may be negative */
    OPT_KIND_PERCENT, /* "N" or "N%", decimals allowed, N in min..max; stored as a fraction (5% = 0.05) */
    OPT_KIND_SIZE,    /* bytes: "65536", "128K", "1MiB", "2G", in min..max */
    OPT_KIND_CUSTOM,  /* the row's parse function reads the value */
    OPT_KIND_HELP,    /* --help: opt_parse stops and says so (struct opt_args.is_help) */
};

/* Reads one value of an OPT_KIND_CUSTOM option into to; on failure says
 * why in err (opt_parse puts "--NAME: " in front). */
typedef int (*opt_parse_fn)(const char *arg, void *to, struct error *err);

struct opt {
    const char *name;   /* the long name without "--"; NULL ends the table */
    char letter;        /* a short name (-q), or 0 for none */
    enum opt_kind kind;
    union {
        bool *flag;
        const char **string;
        struct string_list *list;
        unsigned *uint;
        int *integer;
        double *fraction;
        uint64_t *size;
        void *custom;
    } to;
    opt_parse_fn parse; /* OPT_KIND_CUSTOM */
    long long min, max; /* UINT, INT, SIZE (bytes), PERCENT (percent) */
    const char *unit;   /* UINT: a suffix the number may carry, such as "%" */
    /* The value may be left out (--read-data, or --read-data=10%). A
     * separate next word is taken as the value only when it starts with a
     * digit, so "--read-data --json" and "--read-data 10%" both work. */
    bool is_value_optional;
    bool *seen;         /* set to true when the option is given; may be NULL */
    /* Read, but not listed by --help: an old spelling kept for scripts
     * (restore's --target beside --to). */
    bool is_hidden;
    const char *arg;    /* the placeholder --help shows for the value: "N", "NAME" */
    const char *help;   /* one line (wrapped by the printer; '\n' starts a new line) */
};

#define OPT_FLAG(name_, to_) .name = (name_), .kind = OPT_KIND_FLAG, .to.flag = (to_)
#define OPT_STRING(name_, to_) .name = (name_), .kind = OPT_KIND_STRING, .to.string = (to_)
#define OPT_LIST(name_, to_) .name = (name_), .kind = OPT_KIND_LIST, .to.list = (to_)
#define OPT_UINT(name_, to_, min_, max_) \
    .name = (name_), .kind = OPT_KIND_UINT, .to.uint = (to_), .min = (min_), .max = (max_)
#define OPT_INT(name_, to_, min_, max_) \
    .name = (name_), .kind = OPT_KIND_INT, .to.integer = (to_), .min = (min_), .max = (max_)
#define OPT_PERCENT(name_, to_, min_, max_) \
    .name = (name_), .kind = OPT_KIND_PERCENT, .to.fraction = (to_), .min = (min_), .max = (max_)
#define OPT_SIZE(name_, to_, min_, max_) \
    .name = (name_), .kind = OPT_KIND_SIZE, .to.size = (to_), .min = (min_), .max = (max_)
#define OPT_CUSTOM(name_, parse_, to_) .name = (name_), .kind = OPT_KIND_CUSTOM, .parse = (parse_), .to.custom = (to_)
#define OPT_HELP(name_) .name = (name_), .kind = OPT_KIND_HELP

/* What a command is: its name, its help texts and its options. */
struct opt_command {
    const char *name;        /* "check": errors point to `coffer check --help` */
    /* What follows "usage: coffer NAME " (several forms: one per line,
     * each printed after "coffer NAME "). */
    const char *usage;
    const char *description; /* printed as written, between usage and options */
    const struct opt *options; /* the command's own */
    const struct opt *common;  /* those every command shares, listed after; may be NULL */
    const char *epilog;        /* printed as written after the options; may be NULL */
    bool takes_lock;           /* it locks the repository: --retry-lock is among the common options */
};

/* The words of argv that are no options, in order, and whether --help was
 * asked for. items is argv + 1: opt_parse moves those words to the front
 * of argv (as GNU getopt does), so nothing needs freeing. */
struct opt_args {
    char **items;
    size_t count;
    bool is_help;
};

/* Reads argv[1..argc-1] (argv[0] is the command's name) against the
 * command's options and common options: each value is stored where its row
 * says, each word that is no option goes into args (argv is reordered:
 * values already stored point to the strings, not to argv's slots); "--"
 * ends the options.
 * Options may come before, between and after the other words. Fails with
 * ERR_USAGE on an unknown option, a missing or unwanted value, or a value
 * out of its range, the message naming the option (never repeating the
 * value of an option that is unknown: it might be a secret). Stops at
 * --help with args->is_help set. */
int opt_parse(const struct opt_command *cmd, int argc, char **argv, struct opt_args *args, struct error *err);

/* Prints --help: the usage lines, the description, every option with its
 * placeholder and help, the epilog. */
void opt_print_help(const struct opt_command *cmd, FILE *out);

#endif
