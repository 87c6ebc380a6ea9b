/*
 * test_plan.c — when a scheduled job is due (sched/plan.c) and the run
 * ledger that remembers it (sched/ledger.c): a slot is due once its time
 * and jitter have come and not before the job was first seen; slots missed
 * collapse into one; a late one whose next slot is near is too late; the
 * jitter is stable and in range; the ledger reads back what it wrote, and
 * one that does not parse is put aside and the schedule restarts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched/ledger.h"
#include "sched/plan.h"
#include "util/fdio.h"
#include "util/text.h"

static int64_t at(const char *rfc3339)
{
    int64_t t;
    assert_int_equal(time_parse_rfc3339(rfc3339, &t, NULL), 0);
    return t;
}

static struct sched_due due_at(const char *line, unsigned jitter, const char *since, const char *last,
                               const char *now)
{
    struct cron c;
    struct error err;
    struct sched_due due;
    assert_int_equal(cron_parse(line, &c, &err), 0);
    assert_int_equal(sched_due(&c, NULL, jitter, at(since), last ? at(last) : 0, at(now), &due, &err), 0);
    return due;
}

static void test_plan_due_slots(void **state)
{
    /* Seen at 02:00 exactly: the 02:00 slot is due; seen at 02:00:30, it is not. */
    struct sched_due d = due_at("0 2 * * *", 0, "2026-01-05T02:00:00Z", NULL, "2026-01-05T02:00:00Z");
    assert_int_equal(d.slot, at("2026-01-05T02:00:00Z"));
    assert_int_equal(d.passed, 1);
    assert_false(d.is_too_late);
    d = due_at("0 2 * * *", 0, "2026-01-05T02:00:30Z", NULL, "2026-01-05T02:10:00Z");
    assert_int_equal(d.slot, 0);
    /* Taken already: not due again. */
    d = due_at("0 2 * * *", 0, "2026-01-01T00:00:00Z", "2026-01-05T02:00:00Z", "2026-01-05T03:00:00Z");
    assert_int_equal(d.slot, 0);
    assert_int_equal(d.next_slot, at("2026-01-06T02:00:00Z"));
    /* With jitter 5m and 02:00 taken at 01:59: due at 02:05, not 02:04. */
    d = due_at("0 2 * * *", 300, "2026-01-05T01:59:00Z", NULL, "2026-01-05T02:04:59Z");
    assert_int_equal(d.slot, 0);
    d = due_at("0 2 * * *", 300, "2026-01-05T01:59:00Z", NULL, "2026-01-05T02:05:00Z");
    assert_int_equal(d.slot, at("2026-01-05T02:00:00Z"));
}

static void test_plan_missed_slots_collapse(void **state)
{
    /* 30 hours down: one hourly run for 30 slots, for the latest. */
    struct sched_due d = due_at("0 * * * *", 0, "2026-01-01T00:00:00Z", "2026-01-07T23:00:00Z",
                                "2026-01-09T05:00:00Z");
    assert_int_equal(d.slot, at("2026-01-09T05:00:00Z"));
    assert_int_equal(d.passed, 30);
    assert_false(d.is_too_late);
    /* Daily at 05:30, late by 23.5 h: the next is 30 min away, under a quarter day. */
    d = due_at("30 5 * * *", 0, "2026-01-01T00:00:00Z", "2026-01-07T05:30:00Z", "2026-01-09T05:00:00Z");
    assert_int_equal(d.slot, at("2026-01-08T05:30:00Z"));
    assert_true(d.is_too_late);
    /* Late by 2 h with 22 h to go: run. */
    d = due_at("30 5 * * *", 0, "2026-01-01T00:00:00Z", "2026-01-07T05:30:00Z", "2026-01-08T07:30:00Z");
    assert_false(d.is_too_late);
}

static void test_plan_jitter_is_stable_and_in_range(void **state)
{
    unsigned a = sched_jitter("db1", "daily", 300);
    assert_int_equal(a, sched_jitter("db1", "daily", 300));
    assert_true(a < 300);
    assert_int_equal(sched_jitter("db1", "daily", 0), 0);
    unsigned differ = 0;
    char host[16];
    for (int i = 0; i < 20; i++) {
        snprintf(host, sizeof host, "host%d", i);
        differ += sched_jitter(host, "daily", 300) != a;
        assert_true(sched_jitter(host, "daily", 300) < 300);
    }
    assert_true(differ >= 18);
}

static void test_ledger_round_trip_and_damage(void **state)
{
    char dir[] = "/tmp/coffer-ledger-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    struct ledger l;
    struct error err;
    assert_int_equal(ledger_open(dir, &l, &err), 0);
    struct ledger_job *j = ledger_job(&l, "daily", 1000);
    assert_int_equal(j->since, 1000);
    j->slot = 7200;
    snprintf(j->outcome, sizeof j->outcome, "failed");
    j->error = strdup("backup: cannot connect");
    j->failed_in_a_row = 2;
    assert_ptr_equal(ledger_job(&l, "daily", 5), j);
    assert_int_equal(ledger_save(&l, &err), 0);
    ledger_close(&l);

    assert_int_equal(ledger_open(dir, &l, &err), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.jobs[0].name, "daily");
    assert_int_equal(l.jobs[0].since, 1000);
    assert_int_equal(l.jobs[0].slot, 7200);
    assert_string_equal(l.jobs[0].outcome, "failed");
    assert_string_equal(l.jobs[0].error, "backup: cannot connect");
    assert_int_equal(l.jobs[0].failed_in_a_row, 2);
    assert_string_equal(l.warning, "");
    /* A run lock is exclusive between descriptors. */
    int fd = ledger_run_lock(dir, "daily");
    assert_true(fd >= 0);
    assert_int_equal(ledger_run_lock(dir, "daily"), -1);
    close(fd);
    fd = ledger_run_lock(dir, "daily");
    assert_true(fd >= 0);
    close(fd);
    ledger_close(&l);

    snprintf(path, sizeof path, "%s/ledger.json", dir);
    assert_int_equal(write_file_atomic(path, "{\"version\": 1, \"jobs\": ", 23, 0600), 0);
    assert_int_equal(ledger_open(dir, &l, &err), 0);
    assert_int_equal(l.count, 0);
    assert_non_null(strstr(l.warning, "could not be read"));
    assert_non_null(strstr(l.warning, "ledger.json.bad"));
    ledger_close(&l);
    snprintf(path, sizeof path, "%s/ledger.json.bad", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    /* A ledger that cannot be read (a directory: EISDIR) is an error, not
     * damage: not put aside, no slot forgotten. */
    snprintf(path, sizeof path, "%s/ledger.json", dir);
    remove(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(ledger_open(dir, &l, &err), -1);
    assert_non_null(strstr(err.msg, "cannot read"));
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(remove_tree(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_due_slots),
        cmocka_unit_test(test_plan_missed_slots_collapse),
        cmocka_unit_test(test_plan_jitter_is_stable_and_in_range),
        cmocka_unit_test(test_ledger_round_trip_and_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
