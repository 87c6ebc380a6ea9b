/*
 * test_exclude.c — the exclude patterns of a files source: each rule of
 * exclude.h leaves out what it says and nothing more (a near miss is kept,
 * because an over-eager exclude silently loses data), and every pattern
 * that could not do what its writer meant is refused with a message that
 * names it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "source/exclude.h"

/* Compiles one pattern that must be accepted. */
static struct exclude *one(const char *pattern)
{
    struct error err = {0};
    struct exclude *ex = exclude_new(&pattern, 1, &err);
    if (!ex)
        fail_msg("pattern \"%s\" refused: %s", pattern, err.msg);
    return ex;
}

static bool file_out(const struct exclude *ex, const char *path)
{
    return exclude_matches(ex, path, false);
}

static bool dir_out(const struct exclude *ex, const char *path)
{
    return exclude_matches(ex, path, true);
}

/* Compiles one pattern that must be refused; returns the message. */
static void refused(const char *pattern, struct error *err)
{
    error_clear(err);
    struct exclude *ex = exclude_new(&pattern, 1, err);
    if (ex) {
        exclude_free(ex);
        fail_msg("pattern \"%s\" accepted", pattern);
    }
    assert_int_equal(err->kind, ERR_USAGE);
}

/* A pattern without a slash matches the entry's name at any depth,
 * dotfiles included (as in .gitignore, * is not shy of a leading dot). */
static void test_exclude_name_pattern_matches_at_any_depth(void **state)
{
    struct exclude *ex = one("*.tmp");
    assert_true(file_out(ex, "/a.tmp"));
    assert_true(file_out(ex, "/srv/app/uploads/a/b.tmp"));
    assert_true(dir_out(ex, "/srv/x.tmp"));
    assert_true(file_out(ex, "/srv/.tmp"));
    assert_false(file_out(ex, "/srv/a.tmp.bak"));
    assert_false(file_out(ex, "/srv/atmp"));
    assert_false(file_out(ex, "/srv/tmp"));
    exclude_free(ex);

    ex = one("cache");
    assert_true(dir_out(ex, "/cache"));
    assert_true(dir_out(ex, "/srv/app/cache"));
    assert_true(file_out(ex, "/srv/app/cache"));
    assert_false(dir_out(ex, "/srv/app/cache2"));
    assert_false(dir_out(ex, "/srv/app/mycache"));
    assert_false(dir_out(ex, "/srv/app/Cache"));
    exclude_free(ex);

    ex = one(".DS_Store");
    assert_true(file_out(ex, "/Users/a/.DS_Store"));
    assert_false(file_out(ex, "/Users/a/DS_Store"));
    assert_false(file_out(ex, "/Users/a/x.DS_Store"));
    exclude_free(ex);

    ex = one("*rc");
    assert_true(file_out(ex, "/home/a/.bashrc"));
    exclude_free(ex);
}

/* A name pattern judges the entry itself, not its parents: what lies below
 * an excluded directory is left out because the walk does not go there. */
static void test_exclude_name_pattern_ignores_parent_directories(void **state)
{
    struct exclude *ex = one("cache");
    assert_false(file_out(ex, "/srv/cache/data"));
    exclude_free(ex);
    ex = one("*.tmp");
    assert_false(file_out(ex, "/srv/x.tmp/keep"));
    exclude_free(ex);
}

/* A trailing slash restricts a pattern to directories, for name patterns
 * and whole-path patterns alike. */
static void test_exclude_trailing_slash_means_directories_only(void **state)
{
    struct exclude *ex = one("cache/");
    assert_true(dir_out(ex, "/srv/cache"));
    assert_true(dir_out(ex, "/cache"));
    assert_false(file_out(ex, "/srv/cache"));
    assert_false(dir_out(ex, "/srv/cache2"));
    exclude_free(ex);

    ex = one("/srv/app/data/");
    assert_true(dir_out(ex, "/srv/app/data"));
    assert_false(file_out(ex, "/srv/app/data"));
    exclude_free(ex);

    ex = one("*.d/");
    assert_true(dir_out(ex, "/etc/conf.d"));
    assert_false(file_out(ex, "/etc/conf.d"));
    exclude_free(ex);
}

/* Without a trailing slash a pattern matches files and directories both. */
static void test_exclude_plain_pattern_matches_files_and_directories(void **state)
{
    struct exclude *ex = one("/srv/app/uploads/private");
    assert_true(file_out(ex, "/srv/app/uploads/private"));
    assert_true(dir_out(ex, "/srv/app/uploads/private"));
    exclude_free(ex);
}

/* A pattern with a slash inside matches the whole absolute path, not a
 * path that merely ends or starts the same way. */
static void test_exclude_anchored_pattern_matches_whole_path(void **state)
{
    struct exclude *ex = one("/srv/app/uploads/private");
    assert_true(dir_out(ex, "/srv/app/uploads/private"));
    assert_false(dir_out(ex, "/backup/srv/app/uploads/private"));
    assert_false(dir_out(ex, "/srv/app/uploads"));
    assert_false(dir_out(ex, "/srv/app/uploads/x/private"));
    assert_false(dir_out(ex, "/home/private"));
    assert_false(dir_out(ex, "/private"));
    exclude_free(ex);
}

/* A path that shares the pattern's prefix is not excluded: private2 is
 * someone's data, and so is what lies below private (the walk never gets
 * there, but a listed path might). */
static void test_exclude_anchored_pattern_is_not_a_prefix(void **state)
{
    struct exclude *ex = one("/srv/app/uploads/private");
    assert_false(dir_out(ex, "/srv/app/uploads/private2"));
    assert_false(file_out(ex, "/srv/app/uploads/private.bak"));
    assert_false(file_out(ex, "/srv/app/uploads/private/x"));
    exclude_free(ex);
}

/* In a whole-path pattern, * and ? stay inside one component. */
static void test_exclude_star_does_not_cross_slash(void **state)
{
    struct exclude *ex = one("/var/log/app/*.gz");
    assert_true(file_out(ex, "/var/log/app/a.gz"));
    assert_true(file_out(ex, "/var/log/app/.gz"));
    assert_false(file_out(ex, "/var/log/app/old/a.gz"));
    assert_false(file_out(ex, "/var/log/app.gz"));
    assert_false(file_out(ex, "/var/log/app/a.gz.1"));
    exclude_free(ex);

    ex = one("/srv/*");
    assert_true(dir_out(ex, "/srv/a"));
    assert_false(file_out(ex, "/srv/a/b"));
    assert_false(dir_out(ex, "/srv"));
    exclude_free(ex);

    ex = one("/srv/a?b");
    assert_true(file_out(ex, "/srv/axb"));
    assert_false(file_out(ex, "/srv/a/b"));
    exclude_free(ex);
}

/* A leading ** component matches at any depth, the top included (so
 * "** /node_modules" is node_modules), and a longer tail must match whole. */
static void test_exclude_double_star_at_start(void **state)
{
    struct exclude *ex = one("**/node_modules");
    assert_true(dir_out(ex, "/node_modules"));
    assert_true(dir_out(ex, "/srv/app/web/node_modules"));
    assert_false(dir_out(ex, "/srv/app/node_modules2"));
    assert_false(file_out(ex, "/srv/app/node_modules/x"));
    exclude_free(ex);

    ex = one("**/logs/*.gz");
    assert_true(file_out(ex, "/logs/a.gz"));
    assert_true(file_out(ex, "/var/app/logs/a.gz"));
    assert_false(file_out(ex, "/var/app/logs/old/a.gz"));
    assert_false(file_out(ex, "/var/app/a.gz"));
    exclude_free(ex);
}

/* A ** in the middle matches zero or more whole components. */
static void test_exclude_double_star_in_middle(void **state)
{
    struct exclude *ex = one("/srv/**/cache");
    assert_true(dir_out(ex, "/srv/cache"));
    assert_true(dir_out(ex, "/srv/a/cache"));
    assert_true(dir_out(ex, "/srv/a/b/c/cache"));
    assert_false(dir_out(ex, "/srv"));
    assert_false(dir_out(ex, "/srv/a/cachex"));
    assert_false(dir_out(ex, "/srv/a/xcache"));
    assert_false(dir_out(ex, "/other/cache"));
    assert_false(file_out(ex, "/srv/a/cache/b"));
    exclude_free(ex);
}

/* A final ** is everything below a directory, not the directory itself
 * and not a sibling whose name starts the same. */
static void test_exclude_double_star_at_end(void **state)
{
    struct exclude *ex = one("/srv/app/**");
    assert_true(file_out(ex, "/srv/app/x"));
    assert_true(dir_out(ex, "/srv/app/x/y"));
    assert_false(dir_out(ex, "/srv/app"));
    assert_false(dir_out(ex, "/srv/application"));
    assert_false(dir_out(ex, "/srv"));
    exclude_free(ex);

    ex = one("/srv/app/**/");
    assert_true(dir_out(ex, "/srv/app/x"));
    assert_false(file_out(ex, "/srv/app/x"));
    exclude_free(ex);
}

/* Several ** in one pattern find a match that needs the first to give back
 * components, and reject a path that has no match however they split. */
static void test_exclude_several_double_stars_backtrack(void **state)
{
    struct exclude *ex = one("/a/**/b/**/c");
    assert_true(file_out(ex, "/a/b/c"));
    assert_true(file_out(ex, "/a/x/b/y/c"));
    assert_true(file_out(ex, "/a/b/b/c"));
    assert_true(file_out(ex, "/a/b/x/b/y/z/c"));
    assert_false(file_out(ex, "/a/b/x"));
    assert_false(file_out(ex, "/a/c/b"));
    assert_false(file_out(ex, "/a/b/c/d"));
    exclude_free(ex);
}

/* A deep path against a pattern with many ** is answered without
 * exponential backtracking (the test would time out otherwise). */
static void test_exclude_many_double_stars_stay_fast(void **state)
{
    struct exclude *ex = one("/**/b/**/b/**/b/**/b/**/b/**/b/**/c");
    char path[4096] = "";
    for (int i = 0; i < 600; i++)
        strcat(path, "/b");
    for (int i = 0; i < 1000; i++)
        assert_false(file_out(ex, path));
    strcat(path, "/c");
    assert_true(file_out(ex, path));
    exclude_free(ex);
}

/* ** inside a component is an ordinary *: it does not cross a slash. */
static void test_exclude_double_star_inside_component_is_single_star(void **state)
{
    struct exclude *ex = one("/srv/a**b");
    assert_true(file_out(ex, "/srv/axyb"));
    assert_true(file_out(ex, "/srv/ab"));
    assert_false(file_out(ex, "/srv/ax/yb"));
    exclude_free(ex);

    ex = one("a**b");
    assert_true(file_out(ex, "/srv/axyb"));
    assert_false(file_out(ex, "/srv/ax/yb"));
    exclude_free(ex);
}

/* ? is one byte; [abc], [a-c], [!abc] and [^abc] are sets as in fnmatch,
 * with a ] first in the set being a member. */
static void test_exclude_question_mark_and_brackets(void **state)
{
    struct exclude *ex = one("file?.log");
    assert_true(file_out(ex, "/x/file1.log"));
    assert_false(file_out(ex, "/x/file.log"));
    assert_false(file_out(ex, "/x/file10.log"));
    exclude_free(ex);

    ex = one("[abc].txt");
    assert_true(file_out(ex, "/x/b.txt"));
    assert_false(file_out(ex, "/x/d.txt"));
    assert_false(file_out(ex, "/x/ab.txt"));
    exclude_free(ex);

    ex = one("[a-c]x");
    assert_true(file_out(ex, "/x/bx"));
    assert_false(file_out(ex, "/x/dx"));
    exclude_free(ex);

    ex = one("[!abc].txt");
    assert_true(file_out(ex, "/x/d.txt"));
    assert_false(file_out(ex, "/x/a.txt"));
    exclude_free(ex);

    ex = one("[^abc].txt");
    assert_true(file_out(ex, "/x/d.txt"));
    assert_false(file_out(ex, "/x/c.txt"));
    exclude_free(ex);

    ex = one("[]x]y");
    assert_true(file_out(ex, "/x/]y"));
    assert_true(file_out(ex, "/x/xy"));
    assert_false(file_out(ex, "/x/zy"));
    exclude_free(ex);

    ex = one("*-[0-9][0-9].log");
    assert_true(file_out(ex, "/var/log/app-2024-01.log"));
    assert_false(file_out(ex, "/var/log/app-2024-1.log"));
    exclude_free(ex);
}

/* A backslash makes the next character literal: \* is a star, not "any". */
static void test_exclude_backslash_escapes(void **state)
{
    struct exclude *ex = one("\\*.txt");
    assert_true(file_out(ex, "/x/*.txt"));
    assert_false(file_out(ex, "/x/a.txt"));
    exclude_free(ex);

    ex = one("\\[x]");
    assert_true(file_out(ex, "/x/[x]"));
    assert_false(file_out(ex, "/x/x"));
    exclude_free(ex);

    ex = one("\\?");
    assert_true(file_out(ex, "/x/?"));
    assert_false(file_out(ex, "/x/a"));
    exclude_free(ex);

    ex = one("\\!important");
    assert_true(file_out(ex, "/x/!important"));
    exclude_free(ex);

    ex = one("back\\\\slash");
    assert_true(file_out(ex, "/x/back\\slash"));
    assert_false(file_out(ex, "/x/backslash"));
    exclude_free(ex);

    ex = one("[\\]]*");
    assert_true(file_out(ex, "/x/]a"));
    assert_false(file_out(ex, "/x/a"));
    exclude_free(ex);

    ex = one("/srv/\\*/x?");
    assert_true(file_out(ex, "/srv/*/x1"));
    assert_false(file_out(ex, "/srv/a/x1"));
    exclude_free(ex);
}

/* Case counts, and names are bytes: a name that is not valid UTF-8 still
 * matches, and ranges compare bytes, whatever the locale. */
static void test_exclude_case_sensitive_and_bytewise(void **state)
{
    struct exclude *ex = one("*.TMP");
    assert_false(file_out(ex, "/x/a.tmp"));
    assert_true(file_out(ex, "/x/a.TMP"));
    exclude_free(ex);

    ex = one("*.tmp");
    assert_true(file_out(ex, "/x/\xff\xfe.tmp"));
    exclude_free(ex);

    ex = one("?.tmp");
    assert_true(file_out(ex, "/x/\xff.tmp"));
    assert_false(file_out(ex, "/x/\xc3\xa9.tmp")); /* é is two bytes */
    exclude_free(ex);

    ex = one("[\x80-\xff]*");
    assert_true(file_out(ex, "/x/\xc3\xa9t\xc3\xa9"));
    assert_false(file_out(ex, "/x/ete"));
    exclude_free(ex);
}

/* The list from the documentation, together: each entry is left out by
 * the pattern meant for it, and its neighbours are kept. */
static void test_exclude_documented_list(void **state)
{
    const char *patterns[] = {"*.tmp", "cache/", "/srv/app/uploads/private", "**/node_modules"};
    struct error err = {0};
    struct exclude *ex = exclude_new(patterns, 4, &err);
    assert_non_null(ex);
    assert_true(file_out(ex, "/srv/app/uploads/a/b.tmp"));
    assert_true(dir_out(ex, "/srv/app/cache"));
    assert_true(dir_out(ex, "/srv/app/uploads/private"));
    assert_true(dir_out(ex, "/srv/app/web/node_modules"));
    assert_false(file_out(ex, "/srv/app/cache"));
    assert_false(file_out(ex, "/srv/app/uploads/a/b.txt"));
    assert_false(dir_out(ex, "/srv/app/uploads/private2"));
    assert_false(dir_out(ex, "/srv/app/uploads"));
    assert_false(dir_out(ex, "/srv/app"));
    exclude_free(ex);
}

/* The root has no name: no pattern leaves out the whole tree. */
static void test_exclude_root_matches_nothing(void **state)
{
    const char *patterns[] = {"*", "**", "*/", "/**", "?*"};
    struct error err = {0};
    struct exclude *ex = exclude_new(patterns, 5, &err);
    assert_non_null(ex);
    assert_false(dir_out(ex, "/"));
    assert_true(dir_out(ex, "/x"));
    exclude_free(ex);
}

/* A bad pattern is refused with a message that names it and says what is
 * wrong, for every way a pattern can be unusable. */
static void test_exclude_invalid_pattern_is_named(void **state)
{
    static const struct {
        const char *pattern, *shown, *why;
    } cases[] = {
        {"cache\\", "\"cache\\\"", "lone backslash"},
        {"[abc", "\"[abc\"", "closing ]"},
        {"*.[ch", "\"*.[ch\"", "closing ]"},
        {"srv/app", "\"srv/app\"", "whole absolute path"},
        {"*/x", "\"*/x\"", "whole absolute path"},
        {"/srv//app", "\"/srv//app\"", "empty path component"},
        {"cache//", "\"cache//\"", "empty path component"},
        {"/srv/../etc", "\"/srv/../etc\"", ". or .."},
        {"/srv/./etc", "\"/srv/./etc\"", ". or .."},
        {"[z-a]", "\"[z-a]\"", "backwards"},
        {"[[:digit:]]", "\"[[:digit:]]\"", "not supported"},
        {"a\\/b", "\"a\\/b\"", "backslash before a /"},
        {"/", "\"/\"", "root"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct error err;
        refused(cases[i].pattern, &err);
        if (!strstr(err.msg, cases[i].shown) || !strstr(err.msg, cases[i].why))
            fail_msg("pattern %s: message \"%s\" lacks %s or \"%s\"", cases[i].shown, err.msg, cases[i].shown,
                     cases[i].why);
    }
}

/* An empty pattern is refused, named by its place in the list. */
static void test_exclude_empty_pattern_refused(void **state)
{
    const char *patterns[] = {"*.tmp", "", "cache"};
    struct error err = {0};
    assert_null(exclude_new(patterns, 3, &err));
    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "empty"));
    assert_non_null(strstr(err.msg, "2 of 3"));
}

/* !pattern would mean "keep after all" in .gitignore; coffer says it does
 * not do that rather than excluding files whose names start with !. */
static void test_exclude_negation_refused(void **state)
{
    struct error err;
    refused("!keep.tmp", &err);
    assert_non_null(strstr(err.msg, "\"!keep.tmp\""));
    assert_non_null(strstr(err.msg, "negation"));
    assert_non_null(strstr(err.msg, "not supported"));
}

/* One bad pattern refuses the whole list (and nothing leaks: the
 * sanitizer build checks that). */
static void test_exclude_one_bad_pattern_refuses_the_list(void **state)
{
    const char *patterns[] = {"*.tmp", "/srv/**/cache", "[oops"};
    struct error err = {0};
    assert_null(exclude_new(patterns, 3, &err));
    assert_non_null(strstr(err.msg, "\"[oops\""));
}

/* A very long bad pattern is cut short in the message, not the reason. */
static void test_exclude_long_invalid_pattern_keeps_reason(void **state)
{
    char pattern[2000];
    memset(pattern, 'a', sizeof pattern - 2);
    pattern[sizeof pattern - 2] = '\\';
    pattern[sizeof pattern - 1] = '\0';
    struct error err;
    refused(pattern, &err);
    assert_non_null(strstr(err.msg, "lone backslash"));
    assert_non_null(strstr(err.msg, "aaa..."));
}

/* exclude_check says why a pattern is bad without repeating it (config
 * checks must not echo values), and nothing for a good one. */
static void test_exclude_check_gives_reason_only(void **state)
{
    assert_null(exclude_check("*.tmp"));
    assert_null(exclude_check("/srv/**/cache/"));
    const char *why = exclude_check("secret[");
    assert_non_null(why);
    assert_null(strstr(why, "secret"));
}

/* No patterns, no exclusions; a NULL set excludes nothing either. */
static void test_exclude_empty_list_matches_nothing(void **state)
{
    struct error err = {0};
    struct exclude *ex = exclude_new(NULL, 0, &err);
    assert_non_null(ex);
    assert_false(file_out(ex, "/srv/a.tmp"));
    assert_false(dir_out(ex, "/srv/cache"));
    assert_false(dir_out(ex, "/"));
    exclude_free(ex);
    assert_false(file_out(NULL, "/srv/a.tmp"));
}

/* exclude_free(NULL) does nothing, like free(NULL). */
static void test_exclude_free_null_is_fine(void **state)
{
    exclude_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exclude_name_pattern_matches_at_any_depth),
        cmocka_unit_test(test_exclude_name_pattern_ignores_parent_directories),
        cmocka_unit_test(test_exclude_trailing_slash_means_directories_only),
        cmocka_unit_test(test_exclude_plain_pattern_matches_files_and_directories),
        cmocka_unit_test(test_exclude_anchored_pattern_matches_whole_path),
        cmocka_unit_test(test_exclude_anchored_pattern_is_not_a_prefix),
        cmocka_unit_test(test_exclude_star_does_not_cross_slash),
        cmocka_unit_test(test_exclude_double_star_at_start),
        cmocka_unit_test(test_exclude_double_star_in_middle),
        cmocka_unit_test(test_exclude_double_star_at_end),
        cmocka_unit_test(test_exclude_several_double_stars_backtrack),
        cmocka_unit_test(test_exclude_many_double_stars_stay_fast),
        cmocka_unit_test(test_exclude_double_star_inside_component_is_single_star),
        cmocka_unit_test(test_exclude_question_mark_and_brackets),
        cmocka_unit_test(test_exclude_backslash_escapes),
        cmocka_unit_test(test_exclude_case_sensitive_and_bytewise),
        cmocka_unit_test(test_exclude_documented_list),
        cmocka_unit_test(test_exclude_root_matches_nothing),
        cmocka_unit_test(test_exclude_invalid_pattern_is_named),
        cmocka_unit_test(test_exclude_empty_pattern_refused),
        cmocka_unit_test(test_exclude_negation_refused),
        cmocka_unit_test(test_exclude_one_bad_pattern_refuses_the_list),
        cmocka_unit_test(test_exclude_long_invalid_pattern_keeps_reason),
        cmocka_unit_test(test_exclude_check_gives_reason_only),
        cmocka_unit_test(test_exclude_empty_list_matches_nothing),
        cmocka_unit_test(test_exclude_free_null_is_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
