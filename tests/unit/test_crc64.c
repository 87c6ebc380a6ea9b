/*
 * test_crc64.c — the CRC-64 of RDB files: Redis's check value, and the same
 * result however the input is split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/crc64.h"

/* Redis's own test vector (crc64.c in its sources): "123456789". */
static void test_crc64_check_value(void **state)
{
    assert_true(crc64_update(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
}

/* Nothing in, nothing changed. */
static void test_crc64_empty_input_keeps_crc(void **state)
{
    assert_true(crc64_update(0, "", 0) == 0);
    assert_true(crc64_update(0x1234, "", 0) == 0x1234);
}

/* Continuing over pieces of every size gives the CRC of the whole (the
 * 8-byte steps and the byte steps agree). */
static void test_crc64_split_anywhere_same_result(void **state)
{
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 151 + 7);
    uint64_t whole = crc64_update(0, data, sizeof data);
    for (size_t piece = 1; piece <= 17; piece++) {
        uint64_t crc = 0;
        for (size_t off = 0; off < sizeof data; off += piece)
            crc = crc64_update(crc, data + off, off + piece <= sizeof data ? piece : sizeof data - off);
        assert_true(crc == whole);
    }
}

/* A single flipped bit changes the CRC. */
static void test_crc64_detects_a_flipped_bit(void **state)
{
    uint8_t data[64] = {0};
    uint64_t before = crc64_update(0, data, sizeof data);
    data[40] ^= 0x10;
    assert_true(crc64_update(0, data, sizeof data) != before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_check_value),
        cmocka_unit_test(test_crc64_empty_input_keeps_crc),
        cmocka_unit_test(test_crc64_split_anywhere_same_result),
        cmocka_unit_test(test_crc64_detects_a_flipped_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
