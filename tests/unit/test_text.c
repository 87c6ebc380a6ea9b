/*
 * test_text.c — durations as coffer.yaml writes them and messages show
 * them (util/text.c): duration_parse accepts sums of whole numbers with
 * s, m (minutes), h, d and w and refuses everything else, overflow
 * included; duration_format shows the two largest units.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
