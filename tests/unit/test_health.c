/*
 * test_health.c — the health rules of `coffer check` and `coffer status`
 * (ops/health.c) against snapshot lists built in memory and configs loaded
 * from real coffer.yaml text: the defaults (25 h max_age, 50% shrink
 * alert, with their boundaries), no_snapshot for a configured source
 * without snapshots, a source's own health block replacing the top-level
 * one, shrink_alert 0% turning the size and row rules off, min_size, the
 * rows rule for exported tables, which sources are judged and in what
 * order, and how the newest two snapshots of a source are found. Every
 * problem must say what is wrong and what to do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ops/health.h"
#include "repo/snapshot.h"
#include "util/buf.h"
#include "testing.h"

#define NOW 1750000000LL /* 2025-06-15T15:06:40Z */
#define HOUR 3600LL
#define DAY (24 * HOUR)

struct fixture {
    char dir[64];
    char path[128];            /* dir/coffer.yaml */
    struct config cfg;         /* loaded by load_config, freed by teardown */
    struct snapshot_list list; /* built by add_snap, freed by teardown */
    struct health_report report;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || test_make_tmpdir(f->dir) != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/coffer.yaml", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    health_report_free(&f->report);
    snapshot_list_free(&f->list);
    config_free(&f->cfg);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Writes text as dir/coffer.yaml and loads it into f->cfg; must succeed. */
static struct config *load_config(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    struct error err;
    error_clear(&err);
    int rc = config_load(f->path, &f->cfg, &err);
    if (rc != 0)
        print_error("config_load: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return &f->cfg;
}

/* Appends a snapshot (callers add them oldest first, as the list is kept);
 * meta_json may be NULL. */
static void add_snap(struct fixture *f, const char *source, const char *type, int64_t time, uint64_t size,
                     const char *meta_json)
{
    struct snapshot_list *l = &f->list;
    l->items = xrealloc(l->items, (l->count + 1) * sizeof *l->items);
    struct snapshot *s = &l->items[l->count++];
    memset(s, 0, sizeof *s);
    s->id[0] = (uint8_t)l->count; /* distinct, not that health looks */
    s->source = xstrdup(source);
    s->type = xstrdup(type);
    s->host = xstrdup("host1");
    s->time = time;
    s->stats.size = size;
    s->meta_json = meta_json ? xstrdup(meta_json) : NULL;
}

/* Judges with health_evaluate into f->report (freeing an earlier report),
 * and checks that every problem is complete: a source, a known rule, and a
 * non-empty what and todo. */
static struct health_report *judge(struct fixture *f, const struct config *cfg, const char *source, int64_t now)
{
    static const char *const rules[] = {"no_snapshot", "max_age", "min_size", "shrink_alert", "rows"};
    health_report_free(&f->report);
    health_evaluate(&f->list, cfg, source, now, &f->report);
    for (size_t i = 0; i < f->report.count; i++) {
        const struct health_problem *p = &f->report.items[i];
        assert_non_null(p->source);
        assert_non_null(p->rule);
        bool is_known = false;
        for (size_t r = 0; r < sizeof rules / sizeof *rules; r++)
            is_known |= !strcmp(p->rule, rules[r]);
        if (!is_known)
            print_error("unknown rule %s\n", p->rule);
        assert_true(is_known);
        assert_non_null(p->what);
        assert_true(strlen(p->what) > 0);
        assert_non_null(p->todo);
        assert_true(strlen(p->todo) > 0);
    }
    return &f->report;
}

/* The problem of source under rule, or NULL; fails if there are two. */
static const struct health_problem *find(const struct health_report *r, const char *source, const char *rule)
{
    const struct health_problem *found = NULL;
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->items[i].source, source) && !strcmp(r->items[i].rule, rule)) {
            assert_null(found);
            found = &r->items[i];
        }
    return found;
}

/* Prints the report, for a failing assertion's context. */
static void dump(const struct health_report *r)
{
    for (size_t i = 0; i < r->count; i++)
        print_message("  %s %s: %s (%s)\n", r->items[i].source, r->items[i].rule, r->items[i].what,
                      r->items[i].todo);
}

static void assert_no_problems(const struct health_report *r)
{
    if (r->count)
        dump(r);
    assert_int_equal(r->count, 0);
}

/* ---- defaults (no config) ---- */

/* Without a config, a source backed up an hour ago at the same size as
 * before has no problem; each source in the repository is judged once. */
static void test_health_defaults_healthy(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 25 * HOUR, 1000, NULL);
    add_snap(f, "home", "files", NOW - 24 * HOUR, 5000, NULL);
    add_snap(f, "db", "postgres", NOW - HOUR, 1000, NULL);
    add_snap(f, "home", "files", NOW - HOUR, 5000, NULL);

    struct health_report *r = judge(f, NULL, NULL, NOW);

    assert_no_problems(r);
    assert_int_equal(r->sources_judged, 2);
}

/* The default max_age is 25 hours: a snapshot exactly 25 h old passes,
 * one a second older is a max_age problem that names both durations. */
static void test_health_default_max_age_is_25_hours(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 25 * HOUR, 1000, NULL);

    assert_no_problems(judge(f, NULL, NULL, NOW));

    struct health_report *r = judge(f, NULL, NULL, NOW + 3601);
    assert_int_equal(r->count, 1);
    const struct health_problem *p = find(r, "db", "max_age");
    assert_non_null(p);
    /* 26 h 1 s old, 25 h allowed, each as its two largest units. */
    if (!strstr(p->what, "1d 2h") || !strstr(p->what, "1d 1h"))
        dump(r);
    assert_non_null(strstr(p->what, "1d 2h"));
    assert_non_null(strstr(p->what, "1d 1h"));

    /* Three days without a backup is of course a problem too. */
    r = judge(f, NULL, NULL, NOW + 3 * DAY);
    assert_non_null(find(r, "db", "max_age"));
}

/* The default shrink alert is 50% of the snapshot before: exactly half is
 * no problem, 49% is, and the message gives the share. */
static void test_health_default_shrink_boundary(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "home", "files", NOW - 2 * HOUR, 1000, NULL);
    add_snap(f, "home", "files", NOW - HOUR, 500, NULL);

    assert_no_problems(judge(f, NULL, NULL, NOW));

    f->list.items[1].stats.size = 490;
    struct health_report *r = judge(f, NULL, NULL, NOW);
    assert_int_equal(r->count, 1);
    const struct health_problem *p = find(r, "home", "shrink_alert");
    assert_non_null(p);
    if (!strstr(p->what, "49%") || !strstr(p->what, "50%"))
        dump(r);
    assert_non_null(strstr(p->what, "49%"));
    assert_non_null(strstr(p->what, "50%"));

    /* Growing is never a problem. */
    f->list.items[1].stats.size = 100000;
    assert_no_problems(judge(f, NULL, NULL, NOW));
}

/* A source's first snapshot has nothing to shrink from, however small;
 * neither has one after an empty snapshot (no share of 0 bytes). */
static void test_health_shrink_needs_a_nonempty_previous(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "home", "files", NOW - HOUR, 1, NULL);
    assert_no_problems(judge(f, NULL, NULL, NOW));

    add_snap(f, "web", "files", NOW - 2 * HOUR, 0, NULL);
    add_snap(f, "web", "files", NOW - HOUR, 0, NULL);
    assert_no_problems(judge(f, NULL, NULL, NOW));
    assert_int_equal(f->report.sources_judged, 2);
}

/* ---- configured rules ---- */

/* A source the config names but the repository has no snapshot of is a
 * no_snapshot problem (and nothing else); a named source with snapshots is
 * fine. */
static void test_health_configured_source_without_snapshot(void **state)
{
    struct fixture *f = *state;
    const struct config *cfg = load_config(f,
                                           "sources:\n"
                                           "  db: { type: postgres, url: \"postgresql://app@db.internal/app\" }\n"
                                           "  home: { type: files, paths: [/home] }\n");
    add_snap(f, "db", "postgres", NOW - HOUR, 1000, NULL);

    struct health_report *r = judge(f, cfg, NULL, NOW);

    if (r->count != 1)
        dump(r);
    assert_int_equal(r->count, 1);
    assert_int_equal(r->sources_judged, 2);
    const struct health_problem *p = find(r, "home", "no_snapshot");
    assert_non_null(p);
    assert_non_null(strstr(p->what, "home"));
    assert_null(find(r, "db", "no_snapshot"));
}

/* A source's own health block replaces the top-level one as a whole: db's
 * max_age of 2 days lets a 3-hour-old snapshot pass, and the top-level
 * min_size does not carry over to it; home, without a block, gets both
 * top-level rules. */
static void test_health_source_block_overrides_top_level(void **state)
{
    struct fixture *f = *state;
    const struct config *cfg = load_config(f,
                                           "health: { max_age: 1h, min_size: 1M }\n"
                                           "sources:\n"
                                           "  db:\n"
                                           "    type: postgres\n"
                                           "    url: postgresql://app@db.internal/app\n"
                                           "    health: { max_age: 2d }\n"
                                           "  home: { type: files, paths: [/home] }\n");
    add_snap(f, "db", "postgres", NOW - 3 * HOUR, 1000, NULL);
    add_snap(f, "home", "files", NOW - 3 * HOUR, 1000, NULL);

    struct health_report *r = judge(f, cfg, NULL, NOW);

    if (r->count != 2)
        dump(r);
    assert_int_equal(r->count, 2);
    assert_non_null(find(r, "home", "max_age"));
    assert_non_null(find(r, "home", "min_size"));
    assert_null(find(r, "db", "max_age"));
    assert_null(find(r, "db", "min_size"));

    /* The rules as config_health_for hands them to health. */
    struct config_health db = config_health_for(cfg, config_find_source(cfg, "db"));
    assert_int_equal(db.max_age, 2 * DAY);
    assert_int_equal(db.min_size, 0);
    assert_int_equal(db.shrink_alert, CONFIG_DEFAULT_SHRINK_ALERT);
    struct config_health home = config_health_for(cfg, config_find_source(cfg, "home"));
    assert_int_equal(home.max_age, HOUR);
    assert_int_equal(home.min_size, 1024 * 1024);

    /* db past its own two days is a max_age problem after all. */
    r = judge(f, cfg, "db", NOW + 2 * DAY);
    assert_non_null(find(r, "db", "max_age"));
}

/* shrink_alert: 0% turns the rule off: neither a size that fell to 1% nor
 * exported tables that fell to nothing is a problem. */
static void test_health_shrink_alert_zero_is_off(void **state)
{
    struct fixture *f = *state;
    const struct config *cfg = load_config(f,
                                           "health: { shrink_alert: 0% }\n"
                                           "sources:\n"
                                           "  db: { type: postgres, url: \"postgresql://app@db.internal/app\" }\n");
    add_snap(f, "db", "postgres", NOW - 2 * HOUR, 100000, "{\"export_rows\": {\"users\": 1000}}");
    add_snap(f, "db", "postgres", NOW - HOUR, 1000, "{\"export_rows\": {\"users\": 0}}");

    assert_no_problems(judge(f, cfg, NULL, NOW));

    /* The same list with the default 50% has both problems: the test
     * would notice if the rules did not fire at all. */
    struct health_report *r = judge(f, NULL, NULL, NOW);
    assert_non_null(find(r, "db", "shrink_alert"));
    assert_non_null(find(r, "db", "rows"));
}

/* min_size: a newest snapshot one byte short is a problem naming both
 * sizes; one exactly that large is not. Only the newest counts. */
static void test_health_min_size(void **state)
{
    struct fixture *f = *state;
    const struct config *cfg = load_config(f,
                                           "health: { min_size: 1K }\n"
                                           "sources:\n"
                                           "  home: { type: files, paths: [/home] }\n");
    add_snap(f, "home", "files", NOW - 2 * HOUR, 10, NULL); /* small once, but not the newest */
    add_snap(f, "home", "files", NOW - HOUR, 1023, NULL);

    struct health_report *r = judge(f, cfg, NULL, NOW);
    if (r->count != 1)
        dump(r);
    assert_int_equal(r->count, 1);
    const struct health_problem *p = find(r, "home", "min_size");
    assert_non_null(p);
    assert_non_null(strstr(p->what, "1023 B"));
    assert_non_null(strstr(p->what, "1.0 KiB"));

    f->list.items[1].stats.size = 1024;
    assert_no_problems(judge(f, cfg, NULL, NOW));

    /* Without min_size (the defaults) no size is too small. */
    f->list.items[1].stats.size = 20; /* 200% of the one before */
    assert_no_problems(judge(f, NULL, NULL, NOW));
}

/* ---- the rows rule ---- */

/* An exported table that fell to 40% of the snapshot before is a rows
 * problem naming the table and the numbers; one that grew, one at exactly
 * 50%, one new and one no longer exported are not. */
static void test_health_rows_rule(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 2 * HOUR, 1000,
             "{\"export_rows\": {\"users\": 1000, \"messages\": 500, \"orders\": 100, \"old\": 7}}");
    add_snap(f, "db", "postgres", NOW - HOUR, 1000,
             "{\"export_rows\": {\"users\": 400, \"messages\": 800, \"orders\": 50, \"new\": 3}}");

    struct health_report *r = judge(f, NULL, NULL, NOW);

    if (r->count != 1)
        dump(r);
    assert_int_equal(r->count, 1);
    const struct health_problem *p = find(r, "db", "rows");
    assert_non_null(p);
    assert_non_null(strstr(p->what, "users"));
    assert_non_null(strstr(p->what, "400"));
    assert_non_null(strstr(p->what, "1000"));
    assert_non_null(strstr(p->what, "40%"));
    assert_null(strstr(p->what, "messages"));
    assert_null(strstr(p->what, "orders"));
}

/* Every table that fell is its own problem. */
static void test_health_rows_one_problem_per_table(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 2 * HOUR, 1000, "{\"export_rows\": {\"users\": 1000, \"messages\": 500}}");
    add_snap(f, "db", "postgres", NOW - HOUR, 1000, "{\"export_rows\": {\"users\": 10, \"messages\": 1}}");

    struct health_report *r = judge(f, NULL, NULL, NOW);

    assert_int_equal(r->count, 2);
    int users = 0, messages = 0;
    for (size_t i = 0; i < r->count; i++) {
        assert_string_equal(r->items[i].rule, "rows");
        users += strstr(r->items[i].what, "users") != NULL;
        messages += strstr(r->items[i].what, "messages") != NULL;
    }
    assert_int_equal(users, 1);
    assert_int_equal(messages, 1);
}

/* When the snapshot before recorded no row counts (no meta at all, meta
 * without export_rows, or not JSON), there is nothing to compare with and
 * the rule is skipped; so is a newest snapshot without counts. */
static void test_health_rows_skipped_without_previous_counts(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 2 * HOUR, 1000, "{\"server_version\": \"16.4\"}");
    add_snap(f, "db", "postgres", NOW - HOUR, 1000, "{\"export_rows\": {\"users\": 1}}");

    assert_no_problems(judge(f, NULL, NULL, NOW));

    free(f->list.items[0].meta_json);
    f->list.items[0].meta_json = NULL;
    assert_no_problems(judge(f, NULL, NULL, NOW));

    f->list.items[0].meta_json = xstrdup("not json");
    assert_no_problems(judge(f, NULL, NULL, NOW));

    /* Counts before, none now. */
    free(f->list.items[0].meta_json);
    f->list.items[0].meta_json = xstrdup("{\"export_rows\": {\"users\": 1000}}");
    free(f->list.items[1].meta_json);
    f->list.items[1].meta_json = NULL;
    assert_no_problems(judge(f, NULL, NULL, NOW));

    /* And with counts on both sides the same list does fire (the checks
     * above are not vacuous). */
    f->list.items[1].meta_json = xstrdup("{\"export_rows\": {\"users\": 1}}");
    assert_non_null(find(judge(f, NULL, NULL, NOW), "db", "rows"));
}

/* ---- which sources ---- */

/* With source given only that source is judged, even when another one is
 * stale too; a source without snapshots given by name is no_snapshot. */
static void test_health_only_named_source(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 3 * DAY, 1000, NULL);
    add_snap(f, "home", "files", NOW - 3 * DAY, 1000, NULL);

    struct health_report *r = judge(f, NULL, "home", NOW);
    assert_int_equal(r->sources_judged, 1);
    assert_int_equal(r->count, 1);
    assert_non_null(find(r, "home", "max_age"));

    r = judge(f, NULL, NULL, NOW);
    assert_int_equal(r->sources_judged, 2);
    assert_int_equal(r->count, 2);

    r = judge(f, NULL, "nope", NOW);
    assert_int_equal(r->sources_judged, 1);
    assert_int_equal(r->count, 1);
    assert_non_null(find(r, "nope", "no_snapshot"));
}

/* When the config names sources, snapshots of other sources (say one
 * removed from the file) are not judged however stale; when it names none,
 * every source in the repository is judged by the top-level rules. */
static void test_health_config_names_which_sources(void **state)
{
    struct fixture *f = *state;
    const struct config *cfg = load_config(f,
                                           "health: { max_age: 2h }\n"
                                           "sources:\n"
                                           "  db: { type: postgres, url: \"postgresql://app@db.internal/app\" }\n");
    add_snap(f, "retired", "files", NOW - 300 * DAY, 1000, NULL);
    add_snap(f, "home", "files", NOW - 3 * HOUR, 1000, NULL); /* fresh by the default 25 h, not by 2 h */
    add_snap(f, "db", "postgres", NOW - HOUR, 1000, NULL);

    struct health_report *r = judge(f, cfg, NULL, NOW);
    assert_no_problems(r);
    assert_int_equal(r->sources_judged, 1);

    config_free(&f->cfg);
    cfg = load_config(f, "health: { max_age: 2h }\n");
    r = judge(f, cfg, NULL, NOW);
    assert_int_equal(r->sources_judged, 3);
    if (r->count != 2)
        dump(r);
    assert_int_equal(r->count, 2);
    assert_non_null(find(r, "retired", "max_age"));
    assert_non_null(find(r, "home", "max_age"));
}

/* health_sources: the config's order when it names sources (not sorted,
 * and including sources without snapshots), else the repository's source
 * names sorted and each once; source alone when given. */
static void test_health_sources_order(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "web", "files", NOW - 5 * HOUR, 1, NULL);
    add_snap(f, "db", "postgres", NOW - 4 * HOUR, 1, NULL);
    add_snap(f, "web", "files", NOW - 3 * HOUR, 1, NULL);
    add_snap(f, "cache", "redis", NOW - 2 * HOUR, 1, NULL);
    add_snap(f, "db", "postgres", NOW - HOUR, 1, NULL);

    size_t count = 99;
    const char **names = health_sources(&f->list, NULL, NULL, &count);
    assert_int_equal(count, 3);
    assert_string_equal(names[0], "cache");
    assert_string_equal(names[1], "db");
    assert_string_equal(names[2], "web");
    free(names);

    const struct config *cfg = load_config(f,
                                           "sources:\n"
                                           "  zeta: { type: files, paths: [/z] }\n"
                                           "  web: { type: files, paths: [/srv/www] }\n"
                                           "  alpha: { type: files, paths: [/a] }\n");
    names = health_sources(&f->list, cfg, NULL, &count);
    assert_int_equal(count, 3);
    assert_string_equal(names[0], "zeta");
    assert_string_equal(names[1], "web");
    assert_string_equal(names[2], "alpha");
    free(names);

    names = health_sources(&f->list, cfg, "db", &count);
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "db");
    free(names);

    struct snapshot_list empty = {0};
    names = health_sources(&empty, NULL, NULL, &count);
    assert_int_equal(count, 0);
    free(names);
}

/* health_newest_two: in a list of interleaved sources (oldest first), the
 * newest snapshot of the source and the newest one before it of the same
 * source; NULL where there is none. */
static void test_health_newest_two(void **state)
{
    struct fixture *f = *state;
    add_snap(f, "db", "postgres", NOW - 5 * HOUR, 1, NULL);   /* 0 */
    add_snap(f, "home", "files", NOW - 4 * HOUR, 2, NULL);    /* 1 */
    add_snap(f, "db", "postgres", NOW - 3 * HOUR, 3, NULL);   /* 2 */
    add_snap(f, "home", "files", NOW - 2 * HOUR, 4, NULL);    /* 3 */
    add_snap(f, "db", "postgres", NOW - HOUR, 5, NULL);       /* 4 */
    add_snap(f, "single", "files", NOW - HOUR, 6, NULL);      /* 5 */
    const struct snapshot *items = f->list.items, *newest, *previous;

    health_newest_two(&f->list, "db", &newest, &previous);
    assert_ptr_equal(newest, &items[4]);
    assert_ptr_equal(previous, &items[2]);

    health_newest_two(&f->list, "home", &newest, &previous);
    assert_ptr_equal(newest, &items[3]);
    assert_ptr_equal(previous, &items[1]);

    health_newest_two(&f->list, "single", &newest, &previous);
    assert_ptr_equal(newest, &items[5]);
    assert_null(previous);

    newest = previous = &items[0];
    health_newest_two(&f->list, "nope", &newest, &previous);
    assert_null(newest);
    assert_null(previous);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_health_defaults_healthy),
        T(test_health_default_max_age_is_25_hours),
        T(test_health_default_shrink_boundary),
        T(test_health_shrink_needs_a_nonempty_previous),
        T(test_health_configured_source_without_snapshot),
        T(test_health_source_block_overrides_top_level),
        T(test_health_shrink_alert_zero_is_off),
        T(test_health_min_size),
        T(test_health_rows_rule),
        T(test_health_rows_one_problem_per_table),
        T(test_health_rows_skipped_without_previous_counts),
        T(test_health_only_named_source),
        T(test_health_config_names_which_sources),
        T(test_health_sources_order),
        T(test_health_newest_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
