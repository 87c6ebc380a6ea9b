/*
 * test_text.c — durations as coffer.yaml writes them and messages show
 * them (util/text.c): duration_parse accepts sums of whole numbers with
 * s, m (minutes), h, d and w and refuses everything else, overflow
 * included; duration_format shows the two largest units. RFC 3339 times
 * (snapshots, locks, --time) are read by the strict grammar only (D13:
 * the old reader ran past the end of "4-2-1T2:0:9-0:3" and took offsets
 * such as "+01:0x"), and every time coffer prints reads back. Sizes that
 * do not fit in 64 bits are refused, not wrapped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

/* Parses s, which must be accepted, and returns the seconds. */
static uint64_t parse_ok(const char *s)
{
    uint64_t seconds = 12345;
    int rc = duration_parse(s, &seconds);
    if (rc != 0)
        print_error("duration_parse(\"%s\") refused\n", s);
    assert_int_equal(rc, 0);
    return seconds;
}

/* s must be refused, and the output left alone. */
static void assert_refused(const char *s)
{
    uint64_t seconds = 12345;
    int rc = duration_parse(s, &seconds);
    if (rc != -1)
        print_error("duration_parse(\"%s\") accepted: %llu\n", s, (unsigned long long)seconds);
    assert_int_equal(rc, -1);
    assert_int_equal(seconds, 12345);
}

/* Each unit, and sums of them, as the docs write them. */
static void test_duration_parse_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("90s"), 90);
    assert_int_equal(parse_ok("15m"), 900);
    assert_int_equal(parse_ok("1h30m"), 5400);
    assert_int_equal(parse_ok("25h"), 90000);
    assert_int_equal(parse_ok("2d"), 172800);
    assert_int_equal(parse_ok("1w"), 604800);
    assert_int_equal(parse_ok("1w2d3h4m5s"), 604800 + 172800 + 10800 + 240 + 5);
    assert_int_equal(parse_ok("30m1h"), 5400); /* any order: it is a sum */
}

/* Whatever is not a sum of number-unit pairs is refused: nothing, a bare
 * number, a bare unit, an unknown unit, a sign, a trailing character,
 * spaces, an upper-case unit, a fraction. */
static void test_duration_parse_refuses_malformed(void **state)
{
    (void)state;
    assert_refused("");
    assert_refused("25");
    assert_refused("h");
    assert_refused("1x");
    assert_refused("-1h");
    assert_refused("+1h");
    assert_refused("1h-");
    assert_refused("1h30");
    assert_refused(" 1h");
    assert_refused("1h ");
    assert_refused("1 h");
    assert_refused("1H");
    assert_refused("1.5h");
}

/* A total beyond 64 bits is refused, not wrapped around: in the number
 * times its unit, and in the sum. */
static void test_duration_parse_refuses_overflow(void **state)
{
    (void)state;
    assert_refused("99999999999999999999w");
    assert_refused("30500568904944w"); /* fits in 64 bits, times 604800 does not */
    assert_int_equal(parse_ok("30500568904943w"), 30500568904943ull * 604800); /* the largest that fits */
    assert_refused("18446744073709551615s1s");
    assert_refused("10000000000000000000s10000000000000000000s");
    assert_int_equal(parse_ok("18446744073709551615s"), UINT64_MAX);
}

/* The number alone overflowing 64 bits is refused too, whatever the unit
 * (strtoull saturates to UINT64_MAX there). */
static void test_duration_parse_refuses_overflowing_number(void **state)
{
    (void)state;
    assert_refused("99999999999999999999s");
    assert_refused("18446744073709551616s");
}

/* Shown as the largest unit and the next when that is not zero. */
static void test_duration_format(void **state)
{
    (void)state;
    static const struct {
        uint64_t seconds;
        const char *want;
    } cases[] = {
        {45, "45s"},        {60, "1m"},       {90, "1m 30s"},   {3600, "1h"},      {5400, "1h 30m"},
        {90000, "1d 1h"},   {86400, "1d"},    {172800, "2d"},   {3599, "59m 59s"}, {86399, "23h 59m"},
        {93601, "1d 2h"},   {1, "1s"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[32];
        memset(out, 'x', sizeof out);
        duration_format(cases[i].seconds, out);
        if (strcmp(out, cases[i].want))
            print_error("duration_format(%llu): want \"%s\", got \"%s\"\n", (unsigned long long)cases[i].seconds,
                        cases[i].want, out);
        assert_string_equal(out, cases[i].want);
    }
}

/* Zero is "0s" (what `coffer status` shows for a snapshot taken this
 * second), not an empty or unwritten string. */
static void test_duration_format_zero(void **state)
{
    (void)state;
    char out[32];
    memset(out, 'x', sizeof out);
    duration_format(0, out);
    assert_string_equal(out, "0s");
}

/* The largest value fits the 32 bytes and reads back to within its
 * second unit. */
static void test_duration_format_max(void **state)
{
    (void)state;
    char out[32];
    memset(out, 'x', sizeof out);
    duration_format(UINT64_MAX, out);
    assert_non_null(memchr(out, '\0', sizeof out));
    assert_string_equal(out, "213503982334601d 7h");
}

/* What duration_format writes, duration_parse reads (once the space is
 * taken out), to the precision shown. */
static void test_duration_format_parses_back(void **state)
{
    (void)state;
    static const uint64_t values[] = {1, 59, 61, 3600, 3660, 86400, 90000, 604800, 1209600};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        char out[32], compact[32];
        duration_format(values[i], out);
        size_t n = 0;
        for (const char *p = out; *p; p++)
            if (*p != ' ')
                compact[n++] = *p;
        compact[n] = '\0';
        assert_int_equal(parse_ok(compact), values[i]);
    }
}

/* ---- RFC 3339 times ------------------------------------------------- */

/* s (copied to a heap block of its exact size, so that ASan sees a read
 * past its end) must parse to want seconds and want_ns nanoseconds. */
static void assert_time(const char *s, int64_t want, int32_t want_ns)
{
    char *copy = strdup(s);
    int64_t t = 12345;
    int32_t ns = 12345;
    int rc = time_parse_rfc3339(copy, &t, &ns);
    if (rc != 0 || t != want || ns != want_ns)
        print_error("time_parse_rfc3339(\"%s\"): rc %d, %lld s %d ns\n", s, rc, (long long)t, ns);
    assert_int_equal(rc, 0);
    assert_int_equal(t, want);
    assert_int_equal(ns, want_ns);
    free(copy);
}

static void assert_time_refused(const char *s)
{
    char *copy = strdup(s);
    int64_t t = 12345;
    int32_t ns = 12345;
    int rc = time_parse_rfc3339(copy, &t, &ns);
    if (rc != -1)
        print_error("time_parse_rfc3339(\"%s\") accepted: %lld s\n", s, (long long)t);
    assert_int_equal(rc, -1);
    assert_int_equal(t, 12345);
    assert_int_equal(ns, 12345);
    free(copy);
}

/* What coffer writes, offsets either way, a fraction of any length, lower
 * case t and z, a leap day, the first and last instants of four digits. */
static void test_time_parse_accepts_rfc3339(void **state)
{
    assert_time("2025-01-05T02:00:00Z", 1736042400, 0);
    assert_time("2025-01-05T02:00:00.250000Z", 1736042400, 250000000);
    assert_time("2025-01-05T02:00:00.5Z", 1736042400, 500000000);
    assert_time("2025-01-05T02:00:00.123456789123Z", 1736042400, 123456789);
    assert_time("2025-01-05T03:30:00+01:30", 1736042400, 0);
    assert_time("2025-01-04T18:00:00-08:00", 1736042400, 0);
    assert_time("2025-01-05T02:00:00+00:00", 1736042400, 0);
    assert_time("2025-01-05t02:00:00z", 1736042400, 0);
    assert_time("1970-01-01T00:00:00Z", 0, 0);
    assert_time("2024-02-29T12:00:00Z", 1709208000, 0);
    assert_time("2000-02-29T00:00:00Z", 951782400, 0);
    assert_time("0001-01-01T00:00:00Z", -62135596800, 0);
    assert_time("9999-12-31T23:59:59Z", 253402300799, 0);
    assert_time("1969-12-31T23:59:59+23:59", -1 - 86340, 0);
}

/* The inputs the fuzzer found (a read past the end; offsets with a
 * letter or signs inside), and every other departure from the grammar:
 * short fields, out-of-range fields, a day its month does not have, a
 * leap second, a space for T, a missing or bare offset, a fraction
 * without digits, anything after the end. */
static void test_time_parse_refuses_malformed(void **state)
{
    static const char *const bad[] = {
        "4-2-1T2:0:9-0:3", "2025-01-05T02:00:00+01:0x", "2025-01-05T02:00:00+-1:-1", "2025-01-05T02:00:00-0:3",
        "2025-01-05T02:00:00+1:00", "2025-01-05T02:00:00+0100", "2025-01-05T02:00:00+01", "2025-01-05T02:00:00+",
        "2025-01-05T02:00:00+24:00", "2025-01-05T02:00:00+01:60", "2025-01-05T02:00:00", "2025-01-05T02:00:00ZZ",
        "2025-01-05T02:00:00Z ", " 2025-01-05T02:00:00Z", "2025-01-05 02:00:00Z", "2025-01-05T02:00:00.Z",
        "2025-01-05T02:00:00,5Z", "25-01-05T02:00:00Z", "20250-01-05T02:00:00Z", "2025-1-05T02:00:00Z",
        "2025-01-5T02:00:00Z", "2025-01-05T2:00:00Z", "2025-01-05T02:0:00Z", "2025-01-05T02:00:0Z",
        "2025-00-05T02:00:00Z", "2025-13-05T02:00:00Z", "2025-01-00T02:00:00Z", "2025-01-32T02:00:00Z",
        "2025-02-29T02:00:00Z", "1900-02-29T02:00:00Z", "2025-04-31T02:00:00Z", "2025-01-05T24:00:00Z",
        "2025-01-05T02:60:00Z", "2025-01-05T02:00:60Z", "+025-01-05T02:00:00Z", "2025-+1-05T02:00:00Z",
        "2025-01-05T02:00:00-00:-1", "2025-01-05", "", "Z", "2025-01-05T02:00:00.5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_time_refused(bad[i]);
}

/* Whatever instant coffer prints in four-digit years, with or without a
 * fraction, reads back as the same instant (the year 25 used to print as
 * "25-01-05...", which no reader takes). */
static void test_time_format_parses_back(void **state)
{
    static const int64_t times[] = {-62135596800, -61346678400, -30610224000, -1, 0, 951782400,
                                    1736042400, 4102444800, 253402300799};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char text[40];
        int64_t t;
        int32_t ns;
        time_format_rfc3339(times[i], text);
        assert_int_equal(strlen(text), 20);
        assert_int_equal(time_parse_rfc3339(text, &t, &ns), 0);
        assert_int_equal(t, times[i]);
        assert_int_equal(ns, 0);
        time_format_rfc3339_precise(times[i], 250000000, text);
        assert_int_equal(time_parse_rfc3339(text, &t, &ns), 0);
        assert_int_equal(t, times[i]);
        assert_int_equal(ns, 250000000);
    }
}

/* ---- sizes ---------------------------------------------------------- */

static void test_size_parse_units(void **state)
{
    static const struct { const char *text; uint64_t bytes; } good[] = {
        {"0", 0}, {"65536", 65536}, {"64K", 65536}, {"64k", 65536}, {"64KiB", 65536}, {"64KB", 65536},
        {"1M", 1 << 20}, {"1MiB", 1 << 20}, {"2G", 2ull << 30}, {"18446744073709551615", UINT64_MAX},
        {"17179869183G", UINT64_MAX - ((1ull << 30) - 1)}, {"17592186044415M", UINT64_MAX - ((1ull << 20) - 1)},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t bytes = 1;
        assert_int_equal(size_parse(good[i].text, &bytes), 0);
        assert_int_equal(bytes, good[i].bytes);
    }
}

/* A size over 64 bits, as a number (strtoull's range error) or once its
 * unit multiplies it, is refused; so is anything that is not a size. */
static void test_size_parse_refuses_overflow_and_malformed(void **state)
{
    static const char *const bad[] = {
        "84888888888g", "17179869184G", "17592186044416M", "18014398509481984K", "18446744073709551616",
        "99999999999999999999999", "", "K", "-1", "+1", " 1", "1 ", "1KiBB", "1Ki", "1T", "1.5G", "0x10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t bytes = 12345;
        int rc = size_parse(bad[i], &bytes);
        if (rc != -1)
            print_error("size_parse(\"%s\") accepted: %llu\n", bad[i], (unsigned long long)bytes);
        assert_int_equal(rc, -1);
        assert_int_equal(bytes, 12345);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse_units),
        cmocka_unit_test(test_duration_parse_refuses_malformed),
        cmocka_unit_test(test_duration_parse_refuses_overflow),
        cmocka_unit_test(test_duration_parse_refuses_overflowing_number),
        cmocka_unit_test(test_duration_format),
        cmocka_unit_test(test_duration_format_zero),
        cmocka_unit_test(test_duration_format_max),
        cmocka_unit_test(test_duration_format_parses_back),
        cmocka_unit_test(test_time_parse_accepts_rfc3339),
        cmocka_unit_test(test_time_parse_refuses_malformed),
        cmocka_unit_test(test_time_format_parses_back),
        cmocka_unit_test(test_size_parse_units),
        cmocka_unit_test(test_size_parse_refuses_overflow_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
