/*
 * test_chunker.c — content-defined chunking: boundaries depend on content
 * and the secret only, stay within the configured sizes, and survive an
 * insertion (the property deduplication of database dumps relies on).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chunk/chunker.h"
#include "testing.h"

#define MIB (1u << 20)

static const struct chunker_params stream_params = {16 << 10, 64 << 10, 256 << 10};

static const uint8_t secret_a[32] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t secret_b[32] = {8, 7, 6, 5, 4, 3, 2, 1};

/* Chunk end offsets (absolute) of a whole buffer. */
struct cuts {
    size_t *ends;
    size_t count;
};

static struct cuts cut_all(const struct chunker *c, const uint8_t *data, size_t len)
{
    struct cuts cuts = {calloc(len / c->params.min_size + 2, sizeof(size_t)), 0};
    assert_non_null(cuts.ends);
    size_t pos = 0;
    while (pos < len) {
        size_t n = chunker_cut(c, data + pos, len - pos, true);
        assert_true(n > 0);
        pos += n;
        cuts.ends[cuts.count++] = pos;
    }
    assert_int_equal(pos, len);
    return cuts;
}

static bool cuts_have(const struct cuts *cuts, size_t end)
{
    size_t lo = 0, hi = cuts->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cuts->ends[mid] == end)
            return true;
        if (cuts->ends[mid] < end)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static uint8_t *random_buffer(size_t len, uint64_t seed)
{
    uint8_t *data = malloc(len);
    assert_non_null(data);
    test_fill_random(data, len, seed);
    return data;
}

/* The same bytes and secret give the same cut points, every time. */
static void test_chunker_cuts_are_deterministic(void **state)
{
    size_t len = 4 * MIB;
    uint8_t *data = random_buffer(len, 11);
    struct chunker c1, c2;
    chunker_init(&c1, &stream_params, secret_a);
    chunker_init(&c2, &stream_params, secret_a);

    struct cuts a = cut_all(&c1, data, len);
    struct cuts b = cut_all(&c2, data, len);

    assert_true(a.count > 10);
    assert_int_equal(a.count, b.count);
    assert_memory_equal(a.ends, b.ends, a.count * sizeof(size_t));
    free(a.ends);
    free(b.ends);
    free(data);
}

/* Every chunk but the last is at least min and at most max bytes, on
 * random data and on data (zeros) where the hash never matches. */
static void test_chunker_chunks_stay_within_min_and_max(void **state)
{
    size_t len = 8 * MIB;
    uint8_t *random = random_buffer(len, 12);
    uint8_t *zeros = calloc(1, len);
    assert_non_null(zeros);
    struct chunker c;
    chunker_init(&c, &stream_params, secret_a);

    const uint8_t *inputs[] = {random, zeros};
    for (size_t k = 0; k < 2; k++) {
        struct cuts cuts = cut_all(&c, inputs[k], len);
        size_t start = 0;
        for (size_t i = 0; i < cuts.count; i++) {
            size_t size = cuts.ends[i] - start;
            assert_true(size <= stream_params.max_size);
            if (i + 1 < cuts.count)
                assert_true(size >= stream_params.min_size);
            start = cuts.ends[i];
        }
        free(cuts.ends);
    }
    free(random);
    free(zeros);
}

/* Another secret gives other boundaries, so they do not fingerprint content. */
static void test_chunker_other_secret_gives_other_boundaries(void **state)
{
    size_t len = 8 * MIB;
    uint8_t *data = random_buffer(len, 13);
    struct chunker ca, cb;
    chunker_init(&ca, &stream_params, secret_a);
    chunker_init(&cb, &stream_params, secret_b);

    struct cuts a = cut_all(&ca, data, len);
    struct cuts b = cut_all(&cb, data, len);

    size_t shared = 0;
    for (size_t i = 0; i + 1 < a.count; i++) /* the last end is len for both */
        shared += cuts_have(&b, a.ends[i]);
    assert_true(a.count > 20);
    assert_true(shared * 4 < a.count);
    free(a.ends);
    free(b.ends);
    free(data);
}

/* Inserting a few bytes near the start of an 8 MiB buffer shifts the later
 * boundaries by exactly the inserted length instead of moving them. */
static void test_chunker_boundaries_survive_an_insertion(void **state)
{
    const size_t len = 8 * MIB, at = 1000, extra = 7;
    uint8_t *data = random_buffer(len, 14);
    uint8_t *edited = malloc(len + extra);
    assert_non_null(edited);
    memcpy(edited, data, at);
    memcpy(edited + at, "INSERTED", extra);
    memcpy(edited + at + extra, data + at, len - at);
    struct chunker c;
    chunker_init(&c, &stream_params, secret_a);

    struct cuts before = cut_all(&c, data, len);
    struct cuts after = cut_all(&c, edited, len + extra);

    size_t later = 0, kept = 0;
    for (size_t i = 0; i < before.count; i++) {
        if (before.ends[i] <= at)
            continue;
        later++;
        kept += cuts_have(&after, before.ends[i] + extra);
    }
    assert_true(later > 50);
    assert_true(kept * 10 >= later * 9);
    free(before.ends);
    free(after.ends);
    free(edited);
    free(data);
}

/* With {16K, 64K, 256K} the mean chunk is within a factor 2 of 64 KiB. */
static void test_chunker_mean_size_is_near_avg_size(void **state)
{
    size_t len = 32 * MIB;
    uint8_t *data = random_buffer(len, 15);
    struct chunker c;
    chunker_init(&c, &stream_params, secret_a);

    struct cuts cuts = cut_all(&c, data, len);
    size_t mean = len / cuts.count;

    assert_true(mean >= stream_params.avg_size / 2);
    assert_true(mean <= stream_params.avg_size * 2);
    free(cuts.ends);
    free(data);
}

/* Sensible parameter sets, including the repository defaults, pass. */
static void test_chunker_params_check_accepts_valid_params(void **state)
{
    const struct chunker_params good[] = {
        {16 << 10, 64 << 10, 256 << 10},
        {256 << 10, 1 << 20, 4 << 20},
        {1 << 10, 4 << 10, 16 << 10},
        {4 << 10, 4 << 10, 4 << 10},
        {1 << 20, 4 << 20, 16 << 20},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct error err = {0};
        assert_int_equal(chunker_params_check(&good[i], &err), 0);
    }
}

/* Out-of-order, out-of-range and non-power-of-two sizes are usage errors. */
static void test_chunker_params_check_rejects_bad_params(void **state)
{
    const struct chunker_params bad[] = {
        {512, 4 << 10, 16 << 10},          /* min below 1 KiB */
        {16 << 10, 48 << 10, 256 << 10},   /* avg not a power of two */
        {128 << 10, 64 << 10, 256 << 10},  /* min > avg */
        {16 << 10, 64 << 10, 32 << 10},    /* avg > max */
        {1 << 20, 16 << 20, 128 << 20},    /* max above 64 MiB */
        {1 << 10, 2 << 10, 16 << 10},      /* avg below 4 KiB */
        {0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct error err = {0};
        assert_int_equal(chunker_params_check(&bad[i], &err), -1);
        assert_int_equal(err.kind, ERR_USAGE);
        assert_true(strlen(err.msg) > 0);
    }
}

/* Without EOF, a window that holds no boundary yet (and is shorter than
 * max) yields 0, "give me more"; at EOF the same bytes are one chunk. */
static void test_chunker_cut_asks_for_more_data_before_eof(void **state)
{
    size_t len = 2 * MIB;
    uint8_t *data = random_buffer(len, 16);
    struct chunker c;
    chunker_init(&c, &stream_params, secret_a);
    size_t first = chunker_cut(&c, data, len, true);
    assert_true(first >= stream_params.min_size && first <= stream_params.max_size);

    /* Shorter than min: no boundary possible yet. */
    assert_int_equal(chunker_cut(&c, data, stream_params.min_size - 1, false), 0);
    assert_int_equal(chunker_cut(&c, data, stream_params.min_size - 1, true), stream_params.min_size - 1);
    /* Just before the first boundary: still nothing to cut. */
    if (first < stream_params.max_size) {
        assert_int_equal(chunker_cut(&c, data, first - 1, false), 0);
        assert_int_equal(chunker_cut(&c, data, first - 1, true), first - 1);
    }
    /* Once the boundary is in the window, the answer does not depend on EOF. */
    assert_int_equal(chunker_cut(&c, data, first, false), first);
    assert_int_equal(chunker_cut(&c, data, len, false), first);
    free(data);
}

/* A window of max bytes or more always gives a chunk, even without EOF. */
static void test_chunker_cut_never_waits_beyond_max(void **state)
{
    size_t len = 1 * MIB;
    uint8_t *zeros = calloc(1, len);
    assert_non_null(zeros);
    struct chunker c;
    chunker_init(&c, &stream_params, secret_a);

    size_t n = chunker_cut(&c, zeros, len, false);

    assert_true(n > 0);
    assert_true(n <= stream_params.max_size);
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunker_cuts_are_deterministic),
        cmocka_unit_test(test_chunker_chunks_stay_within_min_and_max),
        cmocka_unit_test(test_chunker_other_secret_gives_other_boundaries),
        cmocka_unit_test(test_chunker_boundaries_survive_an_insertion),
        cmocka_unit_test(test_chunker_mean_size_is_near_avg_size),
        cmocka_unit_test(test_chunker_params_check_accepts_valid_params),
        cmocka_unit_test(test_chunker_params_check_rejects_bad_params),
        cmocka_unit_test(test_chunker_cut_asks_for_more_data_before_eof),
        cmocka_unit_test(test_chunker_cut_never_waits_beyond_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
