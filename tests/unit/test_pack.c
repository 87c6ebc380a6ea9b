/*
 * test_pack.c — sealed blobs and packs: what goes into a pack comes back
 * byte for byte, and any damage, or a blob or header presented under
 * another id, is refused as an authentication failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "repo/repo_int.h" /* builds a repository by hand */
#include "testing.h"

#define BLOBS 5

/* A repository that lives only in memory: enough for sealing and packs. */
struct fixture {
    struct repo repo;
    struct blob_codec *codec;
    uint8_t *data[BLOBS];
    size_t len[BLOBS];
    uint8_t id[BLOBS][CRYPTO_ID_SIZE];
    struct pack_builder pb;
};

static void repo_make(struct repo *repo)
{
    memset(repo, 0, sizeof *repo);
    repo_config_defaults(&repo->config);
    crypto_random(repo->config.id, REPO_ID_SIZE);
    master_key_generate(&repo->key);
    repo->hasher = id_hasher_new(repo->key.mac);
}

static int setup(void **state)
{
    struct error err = {0};
    if (crypto_init(&err) < 0)
        return -1;
    struct fixture *f = calloc(1, sizeof *f);
    repo_make(&f->repo);
    f->codec = blob_codec_new(f->repo.config.zstd_level);
    /* Mixed blobs: text, random, tiny, empty, larger text. */
    const size_t lens[BLOBS] = {40000, 30000, 3, 0, 200000};
    for (size_t i = 0; i < BLOBS; i++) {
        f->len[i] = lens[i];
        f->data[i] = malloc(lens[i] ? lens[i] : 1);
        if (i == 1)
            test_fill_random(f->data[i], lens[i], 100 + i);
        else
            test_fill_text(f->data[i], lens[i], 100 + i);
        id_hash(f->repo.hasher, f->data[i], f->len[i], f->id[i]);
    }
    /* One pack of all of them. */
    struct buf sealed = BUF_INIT;
    pack_builder_start(&f->pb);
    for (size_t i = 0; i < BLOBS; i++) {
        blob_seal(&f->repo, f->codec, NULL, f->id[i], f->data[i], f->len[i], &sealed);
        pack_builder_add(&f->pb, f->id[i], (uint8_t)(i % 3), sealed.data, sealed.len, (uint32_t)f->len[i]);
    }
    pack_builder_finish(&f->repo, &f->pb);
    buf_free(&sealed);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pack_builder_free(&f->pb);
    for (size_t i = 0; i < BLOBS; i++)
        free(f->data[i]);
    blob_codec_free(f->codec);
    id_hasher_free(f->repo.hasher);
    free(f);
    return 0;
}

/* A pack record whose id is the fixture pack's, ready for pack_header_read. */
static struct pack_record record_for(const struct fixture *f)
{
    struct pack_record rec;
    memset(&rec, 0, sizeof rec);
    memcpy(rec.id, f->pb.record.id, CRYPTO_ID_SIZE);
    return rec;
}

/* A copy of the built pack that the test may damage. */
static uint8_t *pack_copy(const struct fixture *f)
{
    uint8_t *copy = malloc(f->pb.data.len);
    memcpy(copy, f->pb.data.data, f->pb.data.len);
    return copy;
}

/* The header lists every blob with the id, type, offset and lengths the
 * builder was given. */
static void test_pack_header_read_returns_the_entries(void **state)
{
    struct fixture *f = *state;
    struct pack_record rec = record_for(f);
    struct error err = {0};

    assert_int_equal(pack_header_read(&f->repo, f->pb.data.data, f->pb.data.len, &rec, &err), 0);

    assert_int_equal(rec.count, BLOBS);
    for (size_t i = 0; i < BLOBS; i++) {
        const struct pack_blob *want = &f->pb.record.blobs[i];
        assert_memory_equal(rec.blobs[i].id, f->id[i], CRYPTO_ID_SIZE);
        assert_int_equal(rec.blobs[i].type, i % 3);
        assert_int_equal(rec.blobs[i].offset, want->offset);
        assert_int_equal(rec.blobs[i].length, want->length);
        assert_int_equal(rec.blobs[i].raw_length, f->len[i]);
    }
    assert_int_equal(rec.blobs[0].offset, 0);
    pack_record_free(&rec);
}

/* Each blob, cut out of the pack at its offset, opens to its original bytes. */
static void test_pack_blobs_open_to_original_data(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    for (size_t i = 0; i < BLOBS; i++) {
        const struct pack_blob *b = &f->pb.record.blobs[i];
        struct buf out = BUF_INIT;
        assert_int_equal(blob_open(&f->repo, f->codec, f->id[i], f->pb.data.data + b->offset, b->length, &out, &err),
                         0);
        assert_int_equal(out.len, f->len[i]);
        if (f->len[i])
            assert_memory_equal(out.data, f->data[i], f->len[i]);
        buf_free(&out);
    }
}

/* blob_open appends: what the buffer held before stays in front. */
static void test_pack_blob_open_appends_to_output(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    const struct pack_blob *b = &f->pb.record.blobs[0];
    struct buf out = BUF_INIT;
    buf_append(&out, "head", 4);

    assert_int_equal(blob_open(&f->repo, f->codec, f->id[0], f->pb.data.data + b->offset, b->length, &out, &err), 0);

    assert_int_equal(out.len, 4 + f->len[0]);
    assert_memory_equal(out.data, "head", 4);
    assert_memory_equal(out.data + 4, f->data[0], f->len[0]);
    buf_free(&out);
}

/* A flipped byte anywhere in a sealed blob fails with ERR_AUTH. */
static void test_pack_damaged_blob_fails_auth(void **state)
{
    struct fixture *f = *state;
    const struct pack_blob *b = &f->pb.record.blobs[0];
    const size_t positions[] = {0, CRYPTO_NONCE_SIZE, b->length / 2, b->length - 1};
    for (size_t k = 0; k < sizeof positions / sizeof *positions; k++) {
        struct error err = {0};
        struct buf out = BUF_INIT;
        uint8_t *copy = pack_copy(f);
        copy[b->offset + positions[k]] ^= 0x01;
        int rc = blob_open(&f->repo, f->codec, f->id[0], copy + b->offset, b->length, &out, &err);
        free(copy);
        assert_int_equal(rc, -1);
        assert_int_equal(err.kind, ERR_AUTH);
        assert_int_equal(out.len, 0);
        buf_free(&out);
    }
}

/* A sealed blob cut short fails with ERR_AUTH rather than reading past it. */
static void test_pack_truncated_blob_fails_auth(void **state)
{
    struct fixture *f = *state;
    const struct pack_blob *b = &f->pb.record.blobs[2];
    const size_t lengths[] = {0, 1, CRYPTO_SEAL_OVERHEAD, b->length - 1};
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        struct error err = {0};
        struct buf out = BUF_INIT;
        uint8_t *copy = malloc(lengths[k] ? lengths[k] : 1);
        memcpy(copy, f->pb.data.data + b->offset, lengths[k]);
        int rc = blob_open(&f->repo, f->codec, f->id[2], copy, lengths[k], &out, &err);
        free(copy);
        buf_free(&out);
        assert_int_equal(rc, -1);
        assert_int_equal(err.kind, ERR_AUTH);
    }
}

/* A valid blob presented under another blob's id does not open. */
static void test_pack_blob_under_another_id_fails_auth(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    const struct pack_blob *b = &f->pb.record.blobs[0];

    int rc = blob_open(&f->repo, f->codec, f->id[1], f->pb.data.data + b->offset, b->length, &out, &err);

    assert_int_equal(rc, -1);
    assert_int_equal(err.kind, ERR_AUTH);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

/* A blob of one repository does not open in another with the same keys
 * but another repository id (the id is bound into every object). */
static void test_pack_blob_of_another_repository_fails_auth(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    struct repo other = f->repo;
    other.config.id[0] ^= 1;
    const struct pack_blob *b = &f->pb.record.blobs[0];

    int rc = blob_open(&other, f->codec, f->id[0], f->pb.data.data + b->offset, b->length, &out, &err);

    assert_int_equal(rc, -1);
    assert_int_equal(err.kind, ERR_AUTH);
    buf_free(&out);
}

/* A flipped byte in the sealed header, or in its length, fails the read. */
static void test_pack_damaged_header_fails(void **state)
{
    struct fixture *f = *state;
    size_t len = f->pb.data.len;
    uint32_t header_len = get_u32le(f->pb.data.data + len - 4);
    const size_t positions[] = {len - 4 - header_len, len - 4 - header_len / 2, len - 5, len - 4, len - 1};
    for (size_t k = 0; k < sizeof positions / sizeof *positions; k++) {
        struct pack_record rec = record_for(f);
        struct error err = {0};
        uint8_t *copy = pack_copy(f);
        copy[positions[k]] ^= 0x01;
        int rc = pack_header_read(&f->repo, copy, len, &rec, &err);
        free(copy);
        pack_record_free(&rec);
        assert_int_equal(rc, -1);
        assert_int_equal(err.kind, ERR_AUTH);
    }
}

/* A header read under another pack id fails: a pack cannot stand in for another. */
static void test_pack_header_under_another_pack_id_fails(void **state)
{
    struct fixture *f = *state;
    struct pack_record rec = record_for(f);
    struct error err = {0};
    rec.id[5] ^= 1;

    assert_int_equal(pack_header_read(&f->repo, f->pb.data.data, f->pb.data.len, &rec, &err), -1);

    assert_int_equal(err.kind, ERR_AUTH);
    pack_record_free(&rec);
}

/* Bytes spliced in before the header break the tiling check. */
static void test_pack_with_extra_bytes_fails(void **state)
{
    struct fixture *f = *state;
    struct pack_record rec = record_for(f);
    struct error err = {0};
    struct buf spliced = BUF_INIT;
    buf_append(&spliced, "junk", 4);
    buf_append(&spliced, f->pb.data.data, f->pb.data.len);

    assert_int_equal(pack_header_read(&f->repo, spliced.data, spliced.len, &rec, &err), -1);

    assert_int_equal(err.kind, ERR_AUTH);
    pack_record_free(&rec);
    buf_free(&spliced);
}

/* Packs too short to hold a header are refused, not read out of bounds. */
static void test_pack_too_short_fails(void **state)
{
    struct fixture *f = *state;
    const size_t lengths[] = {0, 3, 4, 50};
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; k++) {
        struct pack_record rec = record_for(f);
        struct error err = {0};
        size_t len = lengths[k];
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, f->pb.data.data + f->pb.data.len - len, len);
        int rc = pack_header_read(&f->repo, copy, len, &rec, &err);
        free(copy);
        pack_record_free(&rec);
        assert_int_equal(rc, -1);
    }
}

/* An empty pack (no blobs) is still a valid, self-describing pack. */
static void test_pack_with_no_blobs_reads_back(void **state)
{
    struct fixture *f = *state;
    struct pack_builder pb;
    memset(&pb, 0, sizeof pb);
    pack_builder_start(&pb);
    pack_builder_finish(&f->repo, &pb);
    struct pack_record rec;
    memset(&rec, 0, sizeof rec);
    memcpy(rec.id, pb.record.id, CRYPTO_ID_SIZE);
    struct error err = {0};

    assert_int_equal(pack_header_read(&f->repo, pb.data.data, pb.data.len, &rec, &err), 0);

    assert_int_equal(rec.count, 0);
    pack_record_free(&rec);
    pack_builder_free(&pb);
}

/* Compressible data is stored smaller than it is. */
static void test_pack_compressible_blob_is_stored_smaller(void **state)
{
    struct fixture *f = *state;
    const struct pack_blob *text = &f->pb.record.blobs[4];

    assert_true(text->length < f->len[4] / 2);
}

/* Incompressible data is stored raw (one marker byte more) and round-trips. */
static void test_pack_incompressible_blob_round_trips(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    const struct pack_blob *random = &f->pb.record.blobs[1];

    assert_int_equal(random->length, f->len[1] + 1 + CRYPTO_SEAL_OVERHEAD);
    assert_int_equal(blob_open(&f->repo, f->codec, f->id[1], f->pb.data.data + random->offset, random->length,
                               &out, &err),
                     0);
    assert_int_equal(out.len, f->len[1]);
    assert_memory_equal(out.data, f->data[1], f->len[1]);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pack_header_read_returns_the_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_blobs_open_to_original_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_blob_open_appends_to_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_damaged_blob_fails_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_truncated_blob_fails_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_blob_under_another_id_fails_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_blob_of_another_repository_fails_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_damaged_header_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_header_under_another_pack_id_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_with_extra_bytes_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_too_short_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_with_no_blobs_reads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_compressible_blob_is_stored_smaller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pack_incompressible_blob_round_trips, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
