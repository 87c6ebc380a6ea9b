/*
 * test_index.c — the blob index: lookups stay right as it grows, the first
 * copy of a blob wins, and index files round-trip and refuse damage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/index.h"
#include "testing.h"

static void make_id(uint8_t id[CRYPTO_ID_SIZE], uint64_t seed)
{
    test_fill_random(id, CRYPTO_ID_SIZE, seed + 1);
}

static struct index_entry make_entry(uint64_t seed, uint32_t pack)
{
    struct index_entry e;
    memset(&e, 0, sizeof e);
    make_id(e.id, seed);
    e.pack = pack;
    e.offset = (uint32_t)(seed * 100);
    e.length = (uint32_t)(seed + 41);
    e.raw_length = (uint32_t)(seed * 3 + 1);
    e.type = (uint8_t)(seed % 3);
    return e;
}

static void assert_entry_equal(const struct index_entry *got, const struct index_entry *want)
{
    assert_memory_equal(got->id, want->id, CRYPTO_ID_SIZE);
    assert_int_equal(got->pack, want->pack);
    assert_int_equal(got->offset, want->offset);
    assert_int_equal(got->length, want->length);
    assert_int_equal(got->raw_length, want->raw_length);
    assert_int_equal(got->type, want->type);
}

/* Three packs of a few blobs each, as a backup would record them. */
static void make_records(struct pack_record recs[3])
{
    memset(recs, 0, 3 * sizeof *recs);
    uint64_t seed = 1000;
    for (size_t p = 0; p < 3; p++) {
        make_id(recs[p].id, 500 + p);
        uint32_t offset = 0;
        for (size_t b = 0; b < 2 + p * 3; b++) {
            struct pack_blob blob;
            make_id(blob.id, seed++);
            blob.type = (uint8_t)(b % 3);
            blob.offset = offset;
            blob.length = (uint32_t)(100 + b);
            blob.raw_length = (uint32_t)(1000 + b);
            offset += blob.length;
            pack_record_add(&recs[p], &blob);
        }
    }
}

static void free_records(struct pack_record recs[3])
{
    for (size_t p = 0; p < 3; p++)
        pack_record_free(&recs[p]);
}

/* An inserted entry is found with every field; an unknown id is not. */
static void test_index_insert_then_find(void **state)
{
    struct index *idx = index_new();
    struct index_entry e = make_entry(1, 0), got, unknown = make_entry(2, 0);

    assert_true(index_insert(idx, &e));

    assert_true(index_find(idx, e.id, &got));
    assert_entry_equal(&got, &e);
    assert_true(index_find(idx, e.id, NULL));
    assert_false(index_find(idx, unknown.id, &got));
    assert_int_equal(index_blob_count(idx), 1);
    index_free(idx);
}

/* Inserting an id again is refused and the first entry stays. */
static void test_index_duplicate_insert_keeps_first(void **state)
{
    struct index *idx = index_new();
    struct index_entry first = make_entry(3, 0), second = first, got;
    second.pack = 7;
    second.offset = 12345;

    assert_true(index_insert(idx, &first));
    assert_false(index_insert(idx, &second));

    assert_true(index_find(idx, first.id, &got));
    assert_entry_equal(&got, &first);
    assert_int_equal(index_blob_count(idx), 1);
    index_free(idx);
}

/* 50,000 entries (the table grows many times) are all still found. */
static void test_index_entries_survive_growth(void **state)
{
    enum { N = 50000 };
    struct index *idx = index_new();
    for (uint64_t i = 0; i < N; i++) {
        struct index_entry e = make_entry(i, (uint32_t)(i % 17));
        assert_true(index_insert(idx, &e));
    }

    assert_int_equal(index_blob_count(idx), N);
    for (uint64_t i = 0; i < N; i++) {
        struct index_entry want = make_entry(i, (uint32_t)(i % 17)), got;
        assert_true(index_find(idx, want.id, &got));
        assert_entry_equal(&got, &want);
    }
    struct index_entry absent = make_entry(N + 1, 0);
    assert_false(index_find(idx, absent.id, NULL));
    index_free(idx);
}

/* Ids whose first 8 bytes (the hash) collide are still told apart. */
static void test_index_colliding_hashes_stay_distinct(void **state)
{
    struct index *idx = index_new();
    struct index_entry a = make_entry(4, 1), b = make_entry(5, 2), got;
    memcpy(b.id, a.id, 8);

    assert_true(index_insert(idx, &a));
    assert_true(index_insert(idx, &b));

    assert_true(index_find(idx, a.id, &got));
    assert_entry_equal(&got, &a);
    assert_true(index_find(idx, b.id, &got));
    assert_entry_equal(&got, &b);
    index_free(idx);
}

/* A pack id is registered once: the same id gives the same number back. */
static void test_index_add_pack_numbers_each_pack_once(void **state)
{
    struct index *idx = index_new();
    uint8_t p1[CRYPTO_ID_SIZE], p2[CRYPTO_ID_SIZE], out[CRYPTO_ID_SIZE];
    make_id(p1, 6);
    make_id(p2, 7);

    uint32_t n1 = index_add_pack(idx, p1);
    uint32_t n2 = index_add_pack(idx, p2);
    uint32_t again = index_add_pack(idx, p1);

    assert_int_not_equal(n1, n2);
    assert_int_equal(again, n1);
    assert_int_equal(index_pack_count(idx), 2);
    index_pack_id(idx, n2, out);
    assert_memory_equal(out, p2, CRYPTO_ID_SIZE);
    index_free(idx);
}

/* A reserved (pending) entry gets its pack and offset filled in, in place. */
static void test_index_set_location_updates_pending_entry(void **state)
{
    struct index *idx = index_new();
    struct index_entry pending = make_entry(8, INDEX_PACK_PENDING), placed, got;
    pending.offset = pending.length = pending.raw_length = 0;
    assert_true(index_insert(idx, &pending));
    placed = make_entry(8, 3);

    index_set_location(idx, &placed);

    assert_true(index_find(idx, pending.id, &got));
    assert_entry_equal(&got, &placed);
    assert_int_equal(index_blob_count(idx), 1);
    index_free(idx);
}

struct each_count {
    size_t pending;
    size_t placed;
    bool is_pack_right;
    uint8_t pack_id[CRYPTO_ID_SIZE];
};

static void count_entry(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct each_count *c = ctx;
    if (!pack_id) {
        c->pending += e->pack == INDEX_PACK_PENDING;
        return;
    }
    c->placed++;
    if (memcmp(pack_id, c->pack_id, CRYPTO_ID_SIZE) != 0)
        c->is_pack_right = false;
}

/* index_each visits every entry once, with its pack id, or NULL if pending. */
static void test_index_each_visits_every_entry(void **state)
{
    struct index *idx = index_new();
    struct each_count count = {0, 0, true, {0}};
    make_id(count.pack_id, 9);
    uint32_t pack = index_add_pack(idx, count.pack_id);
    for (uint64_t i = 0; i < 30; i++) {
        struct index_entry e = make_entry(100 + i, i % 3 ? pack : INDEX_PACK_PENDING);
        index_insert(idx, &e);
    }

    index_each(idx, count_entry, &count);

    assert_int_equal(count.pending, 10);
    assert_int_equal(count.placed, 20);
    assert_true(count.is_pack_right);
    index_free(idx);
}

/* An index file of several packs decodes to every blob, in its pack. */
static void test_index_file_round_trip(void **state)
{
    struct pack_record recs[3];
    struct buf file = BUF_INIT;
    struct error err = {0};
    make_records(recs);
    index_file_encode(recs, 3, &file);
    struct index *idx = index_new();

    assert_int_equal(index_file_decode(idx, file.data, file.len, 0, &err), 0);

    assert_int_equal(index_pack_count(idx), 3);
    assert_int_equal(index_blob_count(idx), recs[0].count + recs[1].count + recs[2].count);
    for (size_t p = 0; p < 3; p++) {
        for (size_t b = 0; b < recs[p].count; b++) {
            const struct pack_blob *want = &recs[p].blobs[b];
            struct index_entry got;
            uint8_t pack_id[CRYPTO_ID_SIZE];
            assert_true(index_find(idx, want->id, &got));
            index_pack_id(idx, got.pack, pack_id);
            assert_memory_equal(pack_id, recs[p].id, CRYPTO_ID_SIZE);
            assert_int_equal(got.type, want->type);
            assert_int_equal(got.offset, want->offset);
            assert_int_equal(got.length, want->length);
            assert_int_equal(got.raw_length, want->raw_length);
        }
    }
    index_free(idx);
    buf_free(&file);
    free_records(recs);
}

/* An index file naming no packs is valid and adds nothing. */
static void test_index_file_of_no_packs_decodes_empty(void **state)
{
    struct buf file = BUF_INIT;
    struct error err = {0};
    index_file_encode(NULL, 0, &file);
    struct index *idx = index_new();

    assert_int_equal(index_file_decode(idx, file.data, file.len, 0, &err), 0);

    assert_int_equal(index_pack_count(idx), 0);
    assert_int_equal(index_blob_count(idx), 0);
    index_free(idx);
    buf_free(&file);
}

/* Every proper prefix of an index file is rejected with an error. */
static void test_index_file_decode_rejects_truncation(void **state)
{
    struct pack_record recs[3];
    struct buf file = BUF_INIT;
    make_records(recs);
    index_file_encode(recs, 3, &file);

    size_t accepted = SIZE_MAX, accepted_count = 0, full = file.len;
    for (size_t len = 0; len < file.len; len++) {
        struct index *idx = index_new();
        struct error err = {0};
        uint8_t *copy = malloc(len ? len : 1); /* exact size: overruns show under ASan */
        memcpy(copy, file.data, len);
        if (index_file_decode(idx, copy, len, 0, &err) != -1 || err.msg[0] == '\0') {
            if (accepted == SIZE_MAX)
                accepted = len;
            accepted_count++;
        }
        free(copy);
        index_free(idx);
    }
    buf_free(&file);
    free_records(recs);
    if (accepted != SIZE_MAX)
        fail_msg("index file cut to %zu of %zu bytes was accepted (%zu prefixes accepted in all)", accepted,
                 full, accepted_count);
}

/* Bytes after the last pack are rejected. */
static void test_index_file_decode_rejects_trailing_bytes(void **state)
{
    struct pack_record recs[3];
    struct buf file = BUF_INIT;
    struct error err = {0};
    make_records(recs);
    index_file_encode(recs, 3, &file);
    buf_append_u8(&file, 0);
    struct index *idx = index_new();

    assert_int_equal(index_file_decode(idx, file.data, file.len, 0, &err), -1);

    index_free(idx);
    buf_free(&file);
    free_records(recs);
}

/* Something that is not an index file is rejected by its magic. */
static void test_index_file_decode_rejects_bad_magic(void **state)
{
    struct pack_record recs[3];
    struct buf file = BUF_INIT;
    struct error err = {0};
    make_records(recs);
    index_file_encode(recs, 3, &file);
    file.data[0] ^= 0xff;
    struct index *idx = index_new();

    assert_int_equal(index_file_decode(idx, file.data, file.len, 0, &err), -1);

    assert_non_null(strstr(err.msg, "magic"));
    assert_int_equal(index_blob_count(idx), 0);
    index_free(idx);
    buf_free(&file);
    free_records(recs);
}

/* A blob count far larger than the file is rejected without a huge loop
 * or allocation. */
static void test_index_file_decode_rejects_impossible_counts(void **state)
{
    struct pack_record recs[3];
    struct buf file = BUF_INIT;
    struct error err = {0};
    make_records(recs);
    index_file_encode(recs, 3, &file);
    struct index *idx = index_new();
    put_u32le(file.data + 4 + 4 + CRYPTO_ID_SIZE, UINT32_MAX); /* first pack's blob count */

    assert_int_equal(index_file_decode(idx, file.data, file.len, 0, &err), -1);

    put_u32le(file.data + 4, UINT32_MAX); /* pack count */
    assert_int_equal(index_file_decode(idx, file.data, file.len, 0, &err), -1);
    index_free(idx);
    buf_free(&file);
    free_records(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_insert_then_find),
        cmocka_unit_test(test_index_duplicate_insert_keeps_first),
        cmocka_unit_test(test_index_entries_survive_growth),
        cmocka_unit_test(test_index_colliding_hashes_stay_distinct),
        cmocka_unit_test(test_index_add_pack_numbers_each_pack_once),
        cmocka_unit_test(test_index_set_location_updates_pending_entry),
        cmocka_unit_test(test_index_each_visits_every_entry),
        cmocka_unit_test(test_index_file_round_trip),
        cmocka_unit_test(test_index_file_of_no_packs_decodes_empty),
        cmocka_unit_test(test_index_file_decode_rejects_truncation),
        cmocka_unit_test(test_index_file_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_index_file_decode_rejects_bad_magic),
        cmocka_unit_test(test_index_file_decode_rejects_impossible_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
