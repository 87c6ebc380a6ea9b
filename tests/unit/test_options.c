/*
 * test_options.c — the option tables of the command layer (cli/options.c):
 * each kind of value is read in both the "--opt VALUE" and "--opt=VALUE"
 * forms, numbers outside their range are refused with the option and the
 * range named, a repeatable option adds up instead of the last one
 * winning, unknown options and missing values are usage errors that name
 * the option (and never echo what followed '='), and --help prints every
 * option of the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "repo/snapshot.h"

/* Where one table's values go. */
struct values {
    bool is_dry_run, is_verbose, is_read_data, has_keep;
    const char *to;
    struct string_list sources;
    unsigned jobs, percent, keep;
    int level;
    double max_unused;
    uint64_t chunks;
    long custom;
    bool is_global_json;
};

static int parse_even(const char *arg, void *to, struct error *err)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n % 2)
        return error_set(err, "\"%s\" is not an even number", arg);
    *(long *)to = n;
    return 0;
}

struct run {
    struct values v;
    struct opt_args args;
    struct error err;
    int rc;
};

/* Parses words (NULL-terminated, after the command name "demo") against a
 * table of every kind. */
static void run_words(struct run *r, const char *const *words)
{
    memset(r, 0, sizeof *r);
    r->v.percent = 100;
    r->v.max_unused = 0.05;
    const struct opt options[] = {
        {OPT_FLAG("dry-run", &r->v.is_dry_run), .letter = 'n', .help = "change nothing"},
        {OPT_FLAG("verbose", &r->v.is_verbose), .letter = 'v', .help = "say more"},
        {OPT_STRING("to", &r->v.to), .arg = "DIR", .help = "where to"},
        {OPT_LIST("source", &r->v.sources), .arg = "NAME", .help = "only this source (repeat for more)"},
        {OPT_UINT("jobs", &r->v.jobs, 1, 64), .letter = 'j', .arg = "N", .help = "connections"},
        {OPT_UINT("read-data", &r->v.percent, 1, 100), .unit = "%", .is_value_optional = true,
         .seen = &r->v.is_read_data, .arg = "N%", .help = "read the data"},
        {OPT_UINT("keep", &r->v.keep, 0, 1000), .seen = &r->v.has_keep, .arg = "N", .help = "keep N"},
        {OPT_INT("level", &r->v.level, -7, 19), .arg = "LEVEL", .help = "zstd level"},
        {OPT_PERCENT("max-unused", &r->v.max_unused, 0, 100), .arg = "N%", .help = "repack above N% unused"},
        {OPT_SIZE("chunks", &r->v.chunks, 4 << 10, 4 << 20), .arg = "SIZE", .help = "average chunk size"},
        {OPT_CUSTOM("even", parse_even, &r->v.custom), .arg = "E", .help = "an even number"},
        {OPT_STRING("target", &r->v.to), .arg = "DIR", .is_hidden = true, .help = "old name of --to"},
        {0},
    };
    const struct opt common[] = {
        {OPT_FLAG("json", &r->v.is_global_json), .help = "JSON"},
        {OPT_HELP("help"), .help = "this help"},
        {0},
    };
    const struct opt_command cmd = {.name = "demo", .usage = "[OPTIONS] ARG...", .options = options,
                                    .common = common};
    static char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"demo";
    for (size_t i = 0; words[i]; i++)
        argv[argc++] = (char *)words[i];
    r->rc = opt_parse(&cmd, argc, argv, &r->args, &r->err);
}

#define RUN(r, ...) run_words((r), (const char *const[]){__VA_ARGS__, NULL})

static void run_free(struct run *r)
{
    string_list_free(&r->v.sources);
}

static void assert_usage_error(const struct run *r, const char *needle)
{
    assert_int_equal(r->rc, -1);
    assert_int_equal(r->err.kind, ERR_USAGE);
    if (!strstr(r->err.msg, needle))
        print_error("error \"%s\" does not contain \"%s\"\n", r->err.msg, needle);
    assert_non_null(strstr(r->err.msg, needle));
}

/* Nothing given: nothing set, defaults stay. */
static void test_no_options_leaves_defaults(void **state)
{
    struct run r;
    RUN(&r, "x");
    assert_int_equal(r.rc, 0);
    assert_false(r.v.is_dry_run);
    assert_false(r.v.is_read_data);
    assert_null(r.v.to);
    assert_int_equal(r.v.percent, 100);
    assert_true(r.v.max_unused == 0.05);
    assert_int_equal(r.args.count, 1);
    assert_string_equal(r.args.items[0], "x");
    run_free(&r);
}

static void test_flag_is_set(void **state)
{
    struct run r;
    RUN(&r, "--dry-run", "--json");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_dry_run);
    assert_true(r.v.is_global_json);
    assert_false(r.v.is_verbose);
    run_free(&r);
}

/* A flag given a value is refused, naming the flag. */
static void test_flag_with_value_is_refused(void **state)
{
    struct run r;
    RUN(&r, "--dry-run=yes");
    assert_usage_error(&r, "--dry-run takes no value");
    assert_false(r.v.is_dry_run);
    run_free(&r);
}

/* --to DIR and --to=DIR mean the same; given twice, the last wins. */
static void test_string_both_forms(void **state)
{
    struct run r;
    RUN(&r, "--to", "/a");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.v.to, "/a");
    run_free(&r);
    RUN(&r, "--to=/b");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.v.to, "/b");
    run_free(&r);
    RUN(&r, "--to=/b", "--to", "/c");
    assert_string_equal(r.v.to, "/c");
    run_free(&r);
    /* a hidden row (an old spelling) is read like any other */
    RUN(&r, "--target", "/old");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.v.to, "/old");
    run_free(&r);
    /* "=" inside the value is the value's */
    RUN(&r, "--to=a=b");
    assert_string_equal(r.v.to, "a=b");
    run_free(&r);
}

/* A repeated --source adds up, in order, each name once. */
static void test_list_is_additive(void **state)
{
    struct run r;
    RUN(&r, "--source", "db", "--source=files", "x", "--source", "redis", "--source", "db");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.sources.count, 3);
    assert_string_equal(r.v.sources.items[0], "db");
    assert_string_equal(r.v.sources.items[1], "files");
    assert_string_equal(r.v.sources.items[2], "redis");
    assert_int_equal(r.args.count, 1);
    run_free(&r);
}

static void test_uint_both_forms(void **state)
{
    struct run r;
    RUN(&r, "--jobs", "8");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.jobs, 8);
    run_free(&r);
    RUN(&r, "--jobs=64");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.jobs, 64);
    run_free(&r);
    RUN(&r, "--keep", "0");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.has_keep);
    assert_int_equal(r.v.keep, 0);
    run_free(&r);
}

/* Outside 1..64, not a number, or a number with something after it: the
 * message names the option and its range. */
static void test_uint_range_is_checked(void **state)
{
    const char *bad[] = {"0", "65", "-1", "abc", "8x", "", " 8", "99999999999999999999999", "4%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct run r;
        RUN(&r, "--jobs", bad[i]);
        if (r.rc == 0)
            print_error("--jobs \"%s\" was accepted\n", bad[i]);
        assert_usage_error(&r, "--jobs: must be 1..64");
        assert_int_equal(r.v.jobs, 0);
        run_free(&r);
    }
    struct run r;
    RUN(&r, "--jobs=0");
    assert_usage_error(&r, "--jobs: must be 1..64 (got \"0\")");
    run_free(&r);
}

static void test_int_takes_negatives(void **state)
{
    struct run r;
    RUN(&r, "--level", "-3");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.level, -3);
    run_free(&r);
    RUN(&r, "--level=19");
    assert_int_equal(r.v.level, 19);
    run_free(&r);
    RUN(&r, "--level", "-8");
    assert_usage_error(&r, "--level: must be -7..19");
    run_free(&r);
    RUN(&r, "--level=20");
    assert_usage_error(&r, "--level: must be -7..19");
    run_free(&r);
}

/* "5%", "5" and "2.5%" are percentages; the value is the fraction. */
static void test_percent(void **state)
{
    struct run r;
    RUN(&r, "--max-unused", "10%");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.max_unused > 0.0999 && r.v.max_unused < 0.1001);
    run_free(&r);
    RUN(&r, "--max-unused=2.5");
    assert_true(r.v.max_unused > 0.0249 && r.v.max_unused < 0.0251);
    run_free(&r);
    RUN(&r, "--max-unused=0");
    assert_true(r.v.max_unused == 0);
    run_free(&r);
    const char *bad[] = {"101%", "-1", "lots", "5%%", "nan", "inf", "5 %"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RUN(&r, "--max-unused", bad[i]);
        if (r.rc == 0)
            print_error("--max-unused \"%s\" was accepted\n", bad[i]);
        assert_usage_error(&r, "--max-unused: must be 0..100%");
        assert_true(r.v.max_unused == 0.05);
        run_free(&r);
    }
}

/* Sizes take K, M, G; the range is shown in the same units. */
static void test_size(void **state)
{
    struct run r;
    RUN(&r, "--chunks", "128K");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.chunks, 128 << 10);
    run_free(&r);
    RUN(&r, "--chunks=1MiB");
    assert_int_equal(r.v.chunks, 1 << 20);
    run_free(&r);
    RUN(&r, "--chunks", "8M");
    assert_usage_error(&r, "--chunks: must be a size 4K..4M");
    run_free(&r);
    RUN(&r, "--chunks", "1000");
    assert_usage_error(&r, "--chunks: must be a size 4K..4M");
    run_free(&r);
    RUN(&r, "--chunks", "big");
    assert_usage_error(&r, "--chunks");
    assert_int_equal(r.v.chunks, 0);
    run_free(&r);
}

/* --read-data alone, --read-data 10% and --read-data=10% all work; the
 * separate form takes only a word that starts like a number. */
static void test_optional_value(void **state)
{
    struct run r;
    RUN(&r, "--read-data");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_read_data);
    assert_int_equal(r.v.percent, 100);
    run_free(&r);
    RUN(&r, "--read-data=10%");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_read_data);
    assert_int_equal(r.v.percent, 10);
    run_free(&r);
    RUN(&r, "--read-data", "10%");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_read_data);
    assert_int_equal(r.v.percent, 10);
    assert_int_equal(r.args.count, 0);
    run_free(&r);
    RUN(&r, "--read-data", "25");
    assert_int_equal(r.v.percent, 25);
    run_free(&r);
    /* the next option, or a word that is no number, is left alone */
    RUN(&r, "--read-data", "--json");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_read_data);
    assert_true(r.v.is_global_json);
    run_free(&r);
    RUN(&r, "--read-data", "latest");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.percent, 100);
    assert_int_equal(r.args.count, 1);
    assert_string_equal(r.args.items[0], "latest");
    run_free(&r);
    /* a value out of range is refused in either form */
    RUN(&r, "--read-data", "0%");
    assert_usage_error(&r, "--read-data: must be 1..100%");
    run_free(&r);
    RUN(&r, "--read-data=lots");
    assert_usage_error(&r, "--read-data: must be 1..100%");
    run_free(&r);
}

/* A custom reader's refusal is a usage error with the option in front. */
static void test_custom_parse(void **state)
{
    struct run r;
    RUN(&r, "--even", "42");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.v.custom, 42);
    run_free(&r);
    RUN(&r, "--even=3");
    assert_usage_error(&r, "--even: \"3\" is not an even number");
    run_free(&r);
}

/* Unknown options name themselves, without what followed '=' (it may be
 * a secret typed into the wrong option); a prefix of one option gets a
 * suggestion, but is not taken for it. */
static void test_unknown_option(void **state)
{
    struct run r;
    RUN(&r, "--no-such-option");
    assert_usage_error(&r, "unknown option --no-such-option");
    run_free(&r);
    RUN(&r, "--pasword=hunter2");
    assert_usage_error(&r, "unknown option --pasword");
    assert_null(strstr(r.err.msg, "hunter2"));
    run_free(&r);
    RUN(&r, "--dry", "x");
    assert_usage_error(&r, "unknown option --dry (did you mean --dry-run?)");
    assert_false(r.v.is_dry_run);
    run_free(&r);
    RUN(&r, "-z");
    assert_usage_error(&r, "unknown option -z");
    run_free(&r);
}

/* A value-taking option at the end, or before another option, has none. */
static void test_missing_value(void **state)
{
    struct run r;
    RUN(&r, "x", "--source");
    assert_usage_error(&r, "--source needs a value: --source NAME");
    run_free(&r);
    RUN(&r, "--jobs", "--json");
    assert_usage_error(&r, "--jobs needs a value: --jobs N");
    assert_false(r.v.is_global_json);
    run_free(&r);
}

/* Options go anywhere among the other words; "--" ends them; "-" is a word. */
static void test_words_and_double_dash(void **state)
{
    struct run r;
    RUN(&r, "a", "--dry-run", "b", "-", "--", "--jobs", "-v");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_dry_run);
    assert_int_equal(r.v.jobs, 0);
    assert_false(r.v.is_verbose);
    assert_int_equal(r.args.count, 5);
    const char *want[] = {"a", "b", "-", "--jobs", "-v"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(r.args.items[i], want[i]);
    run_free(&r);
}

/* -n, -nv, -j4 and -j 4. */
static void test_short_letters(void **state)
{
    struct run r;
    RUN(&r, "-nv", "-j4");
    assert_int_equal(r.rc, 0);
    assert_true(r.v.is_dry_run);
    assert_true(r.v.is_verbose);
    assert_int_equal(r.v.jobs, 4);
    run_free(&r);
    RUN(&r, "-j", "0");
    assert_usage_error(&r, "-j: must be 1..64");
    run_free(&r);
}

/* --help stops the parse: what follows is not judged. */
static void test_help_stops(void **state)
{
    struct run r;
    RUN(&r, "--dry-run", "--help", "--no-such-option");
    assert_int_equal(r.rc, 0);
    assert_true(r.args.is_help);
    run_free(&r);
}

/* The help has the usage, the description, the epilog and a line for
 * every option with its placeholder and help text, none over 80 columns. */
static void test_help_lists_every_option(void **state)
{
    unsigned n = 0, pct = 0;
    bool flag = false, seen = false;
    const char *s = NULL;
    struct string_list list = {0};
    const struct opt options[] = {
        {OPT_FLAG("dry-run", &flag), .letter = 'n', .help = "say what would be done, change nothing"},
        {OPT_LIST("source", &list), .arg = "NAME", .help = "only this source (repeat for more)"},
        {OPT_UINT("workers", &n, 1, 256), .arg = "N",
         .help = "reader threads (default: one per core); a long help text that the printer has to wrap at "
                 "the eightieth column at least once, maybe twice"},
        {OPT_UINT("read-data", &pct, 1, 100), .unit = "%", .is_value_optional = true, .seen = &seen,
         .arg = "N%", .help = "read N percent"},
        {OPT_STRING("old-spelling", &s), .arg = "X", .is_hidden = true, .help = "not listed"},
        {0},
    };
    const struct opt common[] = {
        {OPT_STRING("repo", &s), .arg = "REPO", .help = "the repository"},
        {OPT_HELP("help"), .help = "this help"},
        {0},
    };
    const struct opt_command cmd = {.name = "demo", .usage = "[--source NAME]... [OPTIONS]\nother FORM",
                                    .description = "Demonstrates the help.", .options = options,
                                    .common = common, .epilog = "With --json: nothing."};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    opt_print_help(&cmd, out);
    fclose(out);
    const char *want[] = {
        "usage: coffer demo [--source NAME]... [OPTIONS]\n",
        "       coffer demo other FORM\n",
        "\nDemonstrates the help.\n",
        "\noptions:\n",
        "  -n, --dry-run          say what would be done, change nothing\n",
        "  --source NAME          only this source (repeat for more)\n",
        "  --workers N            reader threads",
        "  --read-data[=N%]       read N percent\n",
        "  --repo REPO            the repository\n",
        "  --help                 this help\n",
        "\nWith --json: nothing.\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(text, want[i]))
            print_error("help lacks \"%s\":\n%s", want[i], text);
        assert_non_null(strstr(text, want[i]));
    }
    assert_non_null(strstr(text, "eightieth"));
    assert_null(strstr(text, "old-spelling"));
    for (const char *line = text; *line;) {
        size_t l = strcspn(line, "\n");
        if (l > 80)
            print_error("line over 80 columns: %.*s\n", (int)l, line);
        assert_true(l <= 80);
        line += l + (line[l] == '\n');
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_options_leaves_defaults),
        cmocka_unit_test(test_flag_is_set),
        cmocka_unit_test(test_flag_with_value_is_refused),
        cmocka_unit_test(test_string_both_forms),
        cmocka_unit_test(test_list_is_additive),
        cmocka_unit_test(test_uint_both_forms),
        cmocka_unit_test(test_uint_range_is_checked),
        cmocka_unit_test(test_int_takes_negatives),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_optional_value),
        cmocka_unit_test(test_custom_parse),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_words_and_double_dash),
        cmocka_unit_test(test_short_letters),
        cmocka_unit_test(test_help_stops),
        cmocka_unit_test(test_help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
