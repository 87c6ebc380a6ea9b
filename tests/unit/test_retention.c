/*
 * test_retention.c — retention rules against an independent reference:
 * hundreds of snapshots at irregular times over nine years, several
 * policies (the runbook's among them), and the kept set must equal what a
 * second, deliberately different implementation (bucket names as strings,
 * a set of names seen) computes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repo/retention.h"

#define SNAPS 900
#define NINE_YEARS (9 * 365 * 86400LL)
#define START 1483228800LL /* 2017-01-01T00:00:00Z */

struct fixture {
    struct snapshot snaps[SNAPS];
    const struct snapshot *ptrs[SNAPS];
};

/* Irregular times: bursts of hourly backups, gaps of days, some
 * snapshots in the same second; every 37th tagged "manual". */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint64_t x = 88172645463325252ULL;
    int64_t t = START;
    for (int i = 0; i < SNAPS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t step = (int64_t)(x % 7 == 0 ? x % (20 * 86400) : x % 7 == 1 ? 0 : x % 14000);
        t += step;
        if (t > START + NINE_YEARS)
            t = START + NINE_YEARS;
        f->snaps[i].time = t;
        f->snaps[i].time_ns = (int32_t)(i % 3);
        f->snaps[i].id[0] = (uint8_t)i;
        f->snaps[i].id[1] = (uint8_t)(i >> 8);
        if (i % 37 == 0)
            string_list_add(&f->snaps[i].tags, "manual");
    }
    /* Judged in a shuffled order: the result must not depend on it. */
    for (int i = 0; i < SNAPS; i++)
        f->ptrs[i] = &f->snaps[(i * 7919) % SNAPS];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < SNAPS; i++)
        string_list_free(&f->snaps[i].tags);
    free(f);
    return 0;
}

/* ---- the reference ---------------------------------------------------- */

static int ref_newest_first(const void *a, const void *b)
{
    const struct snapshot *x = *(const struct snapshot *const *)a, *y = *(const struct snapshot *const *)b;
    if (x->time != y->time)
        return x->time < y->time ? 1 : -1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? 1 : -1;
    return memcmp(y->id, x->id, CRYPTO_ID_SIZE);
}

/* Marks in kept[] (indexed like snaps[]) what the policy keeps. */
static void reference(const struct fixture *f, const struct retention_policy *p, bool *kept)
{
    const struct snapshot *sorted[SNAPS];
    for (int i = 0; i < SNAPS; i++)
        sorted[i] = &f->snaps[i];
    qsort(sorted, SNAPS, sizeof *sorted, ref_newest_first);
    memset(kept, 0, SNAPS * sizeof *kept);
    for (int rule = 0; rule < 6; rule++) {
        char seen[SNAPS][32];
        unsigned n = 0;
        for (int i = 0; i < SNAPS && n < p->counts[rule]; i++) {
            char name[32];
            if (rule == 0) {
                snprintf(name, sizeof name, "#%d", i);
            } else {
                time_t t = (time_t)sorted[i]->time;
                struct tm tm;
                gmtime_r(&t, &tm);
                switch (rule) {
                case 1: strftime(name, sizeof name, "%Y-%m-%d %H", &tm); break;
                case 2: strftime(name, sizeof name, "%Y-%m-%d", &tm); break;
                case 3: strftime(name, sizeof name, "%G-W%V", &tm); break;
                case 4: strftime(name, sizeof name, "%Y-%m", &tm); break;
                default: strftime(name, sizeof name, "%Y", &tm); break;
                }
            }
            bool is_seen = false;
            for (unsigned k = 0; k < n; k++)
                is_seen |= strcmp(seen[k], name) == 0;
            if (is_seen)
                continue;
            strcpy(seen[n++], name);
            kept[sorted[i] - f->snaps] = true;
        }
    }
    for (int i = 0; i < SNAPS; i++) {
        if (p->within_seconds && sorted[0]->time - f->snaps[i].time <= p->within_seconds)
            kept[i] = true;
        for (size_t k = 0; k < p->tag_count; k++)
            if (string_list_has(&f->snaps[i].tags, p->tags[k]))
                kept[i] = true;
    }
}

static void check_policy(struct fixture *f, const struct retention_policy *p)
{
    struct retention_verdict verdicts[SNAPS];
    struct error err;
    assert_int_equal(retention_apply(p, f->ptrs, NULL, SNAPS, verdicts, &err), 0);
    bool want[SNAPS];
    reference(f, p, want);
    size_t kept = 0;
    for (int i = 0; i < SNAPS; i++) {
        size_t s = (size_t)(f->ptrs[i] - f->snaps);
        if (verdicts[i].is_kept != want[s])
            fail_msg("snapshot %zu (time %lld): kept %d, reference %d", s, (long long)f->snaps[s].time,
                     verdicts[i].is_kept, want[s]);
        assert_int_equal(verdicts[i].is_kept, verdicts[i].reasons != 0);
        kept += verdicts[i].is_kept;
    }
    assert_true(kept > 0 && kept < SNAPS);
}

/* The runbook's policy: 24 hourly, 30 daily, 12 weekly, 12 monthly, 7 yearly. */
static void test_retention_runbook_policy_matches_reference(void **state)
{
    struct retention_policy p = {.counts = {[KEEP_HOURLY] = 24, [KEEP_DAILY] = 30, [KEEP_WEEKLY] = 12,
                                            [KEEP_MONTHLY] = 12, [KEEP_YEARLY] = 7}};
    check_policy(*state, &p);
}

/* Each rule alone, and mixtures with last, within and tags. */
static void test_retention_other_policies_match_reference(void **state)
{
    static const char *const manual[] = {"manual"};
    struct retention_policy policies[] = {
        {.counts = {[KEEP_LAST] = 5}},
        {.counts = {[KEEP_HOURLY] = 100}},
        {.counts = {[KEEP_DAILY] = 400}},
        {.counts = {[KEEP_WEEKLY] = 60}},
        {.counts = {[KEEP_MONTHLY] = 50}},
        {.counts = {[KEEP_YEARLY] = 3}},
        {.counts = {[KEEP_LAST] = 3, [KEEP_DAILY] = 7, [KEEP_YEARLY] = 100}},
        {.within_seconds = 40 * 86400LL},
        {.tags = manual, .tag_count = 1, .counts = {[KEEP_MONTHLY] = 2}},
        {.within_seconds = 86400, .counts = {[KEEP_WEEKLY] = 4}, .tags = manual, .tag_count = 1},
    };
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
        check_policy(*state, &policies[i]);
}

/* Every rule that keeps a snapshot is recorded: the newest is kept by all. */
static void test_retention_reasons_name_every_rule(void **state)
{
    struct fixture *f = *state;
    struct retention_policy p = {.counts = {[KEEP_LAST] = 1, [KEEP_DAILY] = 1, [KEEP_YEARLY] = 1},
                                 .within_seconds = 60};
    struct retention_verdict verdicts[SNAPS];
    struct error err;
    assert_int_equal(retention_apply(&p, f->ptrs, NULL, SNAPS, verdicts, &err), 0);
    unsigned all = 1u << KEEP_LAST | 1u << KEEP_DAILY | 1u << KEEP_YEARLY | 1u << KEEP_WITHIN;
    size_t with_all = 0;
    for (int i = 0; i < SNAPS; i++)
        with_all += verdicts[i].reasons == all;
    assert_int_equal(with_all, 1);
}

/* Days are counted in the policy's time zone: 23:30 and 00:30 UTC fall on
 * two UTC days but on one day in New York. */
static void test_retention_timezone_moves_day_boundaries(void **state)
{
    struct snapshot a = {.time = 1700004600}, b = {.time = 1700008200}; /* 2023-11-14 23:30 and 2023-11-15 00:30 UTC */
    a.id[0] = 1;
    b.id[0] = 2;
    const struct snapshot *two[] = {&a, &b};
    struct retention_verdict v[2];
    struct error err;
    struct retention_policy utc = {.counts = {[KEEP_DAILY] = 5}};
    assert_int_equal(retention_apply(&utc, two, NULL, 2, v, &err), 0);
    assert_true(v[0].is_kept && v[1].is_kept);
    struct retention_policy ny = {.counts = {[KEEP_DAILY] = 5}, .timezone = "America/New_York"};
    assert_int_equal(retention_apply(&ny, two, NULL, 2, v, &err), 0);
    assert_true(!v[0].is_kept && v[1].is_kept);
    struct retention_policy bad = {.counts = {[KEEP_DAILY] = 5}, .timezone = "Mars/Olympus"};
    assert_int_equal(retention_apply(&bad, two, NULL, 2, v, &err), -1);
    assert_non_null(strstr(err.msg, "Mars/Olympus"));
}

/* A snapshot that fails a health rule never fills a slot: three complete
 * backups of one hour, then a shrunken one. The hour keeps the shrunken
 * one (the newest) and its newest complete one; keep-last 2 keeps the
 * shrunken one and the two newest complete ones. */
static void test_retention_unhealthy_fills_no_slot(void **state)
{
    (void)state;
    struct snapshot s[4] = {{.time = 1762074000}, {.time = 1762075200}, {.time = 1762076400}, {.time = 1762077000}};
    const struct snapshot *ptrs[4];
    for (int i = 0; i < 4; i++) {
        s[i].id[0] = (uint8_t)(i + 1);
        ptrs[i] = &s[3 - i]; /* any order */
    }
    bool unhealthy[4] = {true, false, false, false}; /* ptrs[0] is s[3], the newest */
    struct retention_verdict v[4];
    struct error err;
    struct retention_policy hourly = {.counts = {[KEEP_HOURLY] = 24, [KEEP_DAILY] = 30}};
    assert_int_equal(retention_apply(&hourly, ptrs, unhealthy, 4, v, &err), 0);
    assert_true(v[0].is_kept && v[1].is_kept && !v[2].is_kept && !v[3].is_kept);
    assert_true(v[1].reasons & (1u << KEEP_HOURLY) && v[1].reasons & (1u << KEEP_DAILY));
    /* Without the health verdicts: restic's rule, the hour keeps only the newest. */
    assert_int_equal(retention_apply(&hourly, ptrs, NULL, 4, v, &err), 0);
    assert_true(v[0].is_kept && !v[1].is_kept && !v[2].is_kept && !v[3].is_kept);
    struct retention_policy last = {.counts = {[KEEP_LAST] = 2}};
    assert_int_equal(retention_apply(&last, ptrs, unhealthy, 4, v, &err), 0);
    assert_true(v[0].is_kept && v[1].is_kept && v[2].is_kept && !v[3].is_kept);
}

/* Durations: units add up; junk is refused. */
static void test_retention_durations(void **state)
{
    int64_t s;
    struct error err;
    assert_int_equal(retention_parse_duration("90d", &s, &err), 0);
    assert_int_equal(s, 90 * 86400);
    assert_int_equal(retention_parse_duration("1y6m2w3d4h5s", &s, &err), 0);
    assert_int_equal(s, 365 * 86400 + 180 * 86400 + 14 * 86400 + 3 * 86400 + 4 * 3600 + 5);
    assert_int_equal(retention_parse_duration("5", &s, &err), -1);
    assert_int_equal(retention_parse_duration("d", &s, &err), -1);
    assert_int_equal(retention_parse_duration("", &s, &err), -1);
    assert_int_equal(retention_parse_duration("3x", &s, &err), -1);
}

/* Each term is capped, but a sum of three million of the largest
 * (100000y) passes 2^63 seconds: it is refused, not wrapped negative. */
static void test_retention_duration_sum_does_not_wrap(void **state)
{
    static const char term[] = "100000y";
    size_t terms = 3000000, len = terms * (sizeof term - 1);
    char *text = malloc(len + 1);
    for (size_t i = 0; i < terms; i++)
        memcpy(text + i * (sizeof term - 1), term, sizeof term - 1);
    text[len] = '\0';
    int64_t s = 12345;
    struct error err;
    assert_int_equal(retention_parse_duration(text, &s, &err), -1);
    assert_int_equal(s, 12345);
    assert_non_null(strstr(err.msg, "too long"));
    /* Just under the limit it still adds up. */
    text[29000 * (sizeof term - 1)] = '\0';
    assert_int_equal(retention_parse_duration(text, &s, &err), 0);
    assert_int_equal(s, 29000LL * 100000 * 365 * 86400);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_duration_sum_does_not_wrap),
        cmocka_unit_test_setup_teardown(test_retention_runbook_policy_matches_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_other_policies_match_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_reasons_name_every_rule, setup, teardown),
        cmocka_unit_test(test_retention_timezone_moves_day_boundaries),
        cmocka_unit_test(test_retention_durations),
        cmocka_unit_test(test_retention_unhealthy_fills_no_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
