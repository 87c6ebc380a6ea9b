/*
 * test_cron.c — cron lines (sched/cron.c): the five fields and their
 * forms are read or refused with the field named; the next instant is
 * right in UTC, for weekdays, steps, the either-day rule and a 29
 * February, and across Europe/Berlin's clock changes of 2026 a time the
 * clock skips fires once at the jump and a time it shows twice fires once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sched/cron.h"
#include "util/text.h"

static int64_t at(const char *rfc3339)
{
    int64_t t;
    assert_int_equal(time_parse_rfc3339(rfc3339, &t, NULL), 0);
    return t;
}

/* The next instant of line after `after`, in zone, as RFC 3339 UTC. */
static const char *next_of(const char *line, const char *zone, const char *after)
{
    static char out[32];
    struct cron c;
    struct error err;
    int64_t next;
    if (cron_parse(line, &c, &err) < 0)
        fail_msg("cron_parse(\"%s\"): %s", line, err.msg);
    if (cron_next(&c, zone, at(after), &next, &err) < 0)
        fail_msg("cron_next(\"%s\"): %s", line, err.msg);
    time_format_rfc3339(next, out);
    return out;
}

static void refused(const char *line, const char *says)
{
    struct cron c;
    struct error err;
    if (cron_parse(line, &c, &err) == 0)
        fail_msg("\"%s\" was accepted", line);
    assert_int_equal(err.kind, ERR_USAGE);
    if (!strstr(err.msg, says))
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", line, err.msg, says);
}

static void test_cron_refuses_bad_lines_naming_the_field(void **state)
{
    refused("0 2 * *", "has 4 fields, not 5");
    refused("0 2 * * * *", "has 6 fields");
    refused("60 * * * *", "the minute field \"60\"");
    refused("0 24 * * *", "the hour field");
    refused("0 0 0 * *", "the day of month field");
    refused("0 0 * 13 *", "the month field");
    refused("0 0 * * 8", "the day of week field");
    refused("*/0 * * * *", "the minute field");
    refused("5-1 * * * *", "the minute field");
    refused("1,,2 * * * *", "the minute field");
    refused("0 0 * * mo", "the day of week field");
    refused("@reboot", "unknown @ name");
    refused("", "has 0 fields");
}

static void test_cron_next_in_utc(void **state)
{
    assert_string_equal(next_of("0 2 * * *", NULL, "2026-01-01T00:00:00Z"), "2026-01-01T02:00:00Z");
    assert_string_equal(next_of("0 2 * * *", NULL, "2026-01-01T02:00:00Z"), "2026-01-02T02:00:00Z");
    assert_string_equal(next_of("0 * * * *", "UTC", "2026-01-01T02:00:00Z"), "2026-01-01T03:00:00Z");
    /* 2026-01-01 is a Thursday: the next Sunday is the 4th; 7 is Sunday too. */
    assert_string_equal(next_of("0 3 * * 0", NULL, "2026-01-01T00:00:00Z"), "2026-01-04T03:00:00Z");
    assert_string_equal(next_of("0 3 * * 7", NULL, "2026-01-01T00:00:00Z"), "2026-01-04T03:00:00Z");
    assert_string_equal(next_of("0 3 * * sun", NULL, "2026-01-01T00:00:00Z"), "2026-01-04T03:00:00Z");
    assert_string_equal(next_of("0 4 1 * *", NULL, "2026-01-01T04:00:00Z"), "2026-02-01T04:00:00Z");
    assert_string_equal(next_of("*/15 * * * *", NULL, "2026-01-01T00:14:59Z"), "2026-01-01T00:15:00Z");
    assert_string_equal(next_of("5/15 * * * *", NULL, "2026-01-01T00:36:00Z"), "2026-01-01T00:50:00Z");
    assert_string_equal(next_of("30 5 * * mon-fri", NULL, "2026-01-02T06:00:00Z"), "2026-01-05T05:30:00Z");
    assert_string_equal(next_of("0 0 1 jan,jul *", NULL, "2026-01-02T00:00:00Z"), "2026-07-01T00:00:00Z");
    assert_string_equal(next_of("@daily", NULL, "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
    assert_string_equal(next_of("@weekly", NULL, "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
    /* Both day fields restricted: either one (the 13th, or a Friday: the 2nd). */
    assert_string_equal(next_of("0 0 13 * 5", NULL, "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
    assert_string_equal(next_of("0 0 13 * 5", NULL, "2026-01-09T00:00:00Z"), "2026-01-13T00:00:00Z");
    /* One field restricted: only it ("*\/2" in the weekday still means any day). */
    assert_string_equal(next_of("0 0 13 * *", NULL, "2026-01-01T00:00:00Z"), "2026-01-13T00:00:00Z");
    assert_string_equal(next_of("0 0 29 2 *", NULL, "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
}

static void test_cron_a_date_that_never_comes_is_refused(void **state)
{
    struct cron c;
    struct error err;
    int64_t next;
    assert_int_equal(cron_parse("0 0 31 2 *", &c, &err), 0);
    assert_int_equal(cron_next(&c, NULL, at("2026-01-01T00:00:00Z"), &next, &err), -1);
    assert_non_null(strstr(err.msg, "no time in the next nine years"));
    assert_int_equal(cron_parse("0 2 * * *", &c, &err), 0);
    assert_int_equal(cron_next(&c, "Mars/Olympus", 0, &next, &err), -1);
    assert_non_null(strstr(err.msg, "unknown time zone \"Mars/Olympus\""));
}

/* Europe/Berlin 2026: 29 March 02:00 CET jumps to 03:00 CEST (01:00Z);
 * 25 October 03:00 CEST goes back to 02:00 CET (01:00Z). */
static void test_cron_clock_changes_fire_once(void **state)
{
    const char *berlin = "Europe/Berlin";
    assert_string_equal(next_of("0 2 * * *", berlin, "2026-01-10T12:00:00Z"), "2026-01-11T01:00:00Z");
    /* 02:30 does not exist on 29 March: once, at the jump; then as usual. */
    assert_string_equal(next_of("30 2 * * *", berlin, "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
    assert_string_equal(next_of("30 2 * * *", berlin, "2026-03-29T01:00:00Z"), "2026-03-30T00:30:00Z");
    /* Hourly across the gap: 01:00 CET, then one run at the jump, then 04:00 CEST. */
    assert_string_equal(next_of("0 * * * *", berlin, "2026-03-28T23:30:00Z"), "2026-03-29T00:00:00Z");
    assert_string_equal(next_of("0 * * * *", berlin, "2026-03-29T00:00:00Z"), "2026-03-29T01:00:00Z");
    assert_string_equal(next_of("0 * * * *", berlin, "2026-03-29T01:00:00Z"), "2026-03-29T02:00:00Z");
    /* 02:30 happens twice on 25 October: only the first (CEST, 00:30Z). */
    assert_string_equal(next_of("30 2 * * *", berlin, "2026-10-24T12:00:00Z"), "2026-10-25T00:30:00Z");
    assert_string_equal(next_of("30 2 * * *", berlin, "2026-10-25T00:30:00Z"), "2026-10-26T01:30:00Z");
    /* Hourly across the repeat: 02:00 CEST (00:00Z), not 02:00 CET again, then 03:00 CET (02:00Z). */
    assert_string_equal(next_of("0 * * * *", berlin, "2026-10-24T23:30:00Z"), "2026-10-25T00:00:00Z");
    assert_string_equal(next_of("0 * * * *", berlin, "2026-10-25T00:00:00Z"), "2026-10-25T02:00:00Z");
    /* In the second pass itself, the next is still 03:00 CET. */
    assert_string_equal(next_of("0 * * * *", berlin, "2026-10-25T01:10:00Z"), "2026-10-25T02:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_refuses_bad_lines_naming_the_field),
        cmocka_unit_test(test_cron_next_in_utc),
        cmocka_unit_test(test_cron_a_date_that_never_comes_is_refused),
        cmocka_unit_test(test_cron_clock_changes_fire_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
