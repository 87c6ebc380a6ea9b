/*
 * test_dict.c — zstd dictionaries for small blobs: training, sealing with a
 * dictionary, opening through the repository's dictionary cache, and the
 * failures (a blob whose dictionary is missing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pipeline/blob_writer.h"
#include "repo/blob.h"
#include "repo/dict.h"
#include "repo/repo.h"
#include "testing.h"
#include "util/text.h"

#define MIB (1024 * 1024)

struct fixture {
    char dir[256];
    struct repo *repo;
    uint8_t *text;
    size_t len;
};

/* Dump-like rows: small records that share a shape, as a dictionary likes. */
static void fill_rows(uint8_t *p, size_t len, uint64_t seed)
{
    static const char *names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
    uint64_t state = seed;
    size_t pos = 0;
    char row[160];
    for (uint64_t id = 1; pos < len; id++) {
        uint64_t r = test_rand_next(&state);
        int n = snprintf(row, sizeof row, "%llu\t%s\t%s@example.org\t{\"plan\": \"pro\", \"seats\": %u}\t2025-01-%02u\n",
                         (unsigned long long)id, names[r % 8], names[(r >> 8) % 8], (unsigned)(r >> 16) % 50,
                         (unsigned)(r >> 24) % 28 + 1);
        size_t k = (size_t)n < len - pos ? (size_t)n : len - pos;
        memcpy(p + pos, row, k);
        pos += k;
    }
}

static int setup(void **state)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    char repo_dir[300];
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", f->dir);
    struct repo_init_options opts = {.kdf_level = "interactive"};
    repo_config_defaults(&opts.config);
    if (repo_init(repo_dir, "pw", &opts, &err) < 0 || repo_open(repo_dir, NULL, "pw", &f->repo, &err) < 0)
        return -1;
    f->len = 2 * MIB;
    f->text = malloc(f->len);
    fill_rows(f->text, f->len, 7);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_free(f->repo);
    test_remove_tree(f->dir);
    free(f->text);
    free(f);
    return 0;
}

/* Cuts text into 8 KiB samples and trains on them. */
static int train(const struct fixture *f, struct buf *dict)
{
    size_t count = f->len / 8192;
    size_t *sizes = malloc(count * sizeof *sizes);
    for (size_t i = 0; i < count; i++)
        sizes[i] = 8192;
    int rc = blob_dict_train(f->text, sizes, count, dict);
    free(sizes);
    return rc;
}

/* Too little data to learn from is refused, not turned into a bad dictionary. */
static void test_dict_training_refuses_too_little_data(void **state)
{
    struct fixture *f = *state;
    struct buf dict = BUF_INIT;
    size_t sizes[4] = {1000, 1000, 1000, 1000};

    assert_int_equal(blob_dict_train(f->text, sizes, 4, &dict), -1);

    buf_free(&dict);
}

/* 8 KiB blobs sealed with a trained dictionary are smaller than without,
 * and open back to the same bytes through the repository's cache. */
static void test_dict_blobs_are_smaller_and_round_trip(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf dict_content = BUF_INIT, sealed = BUF_INIT, plain_sealed = BUF_INIT, out = BUF_INIT;
    assert_int_equal(train(f, &dict_content), 0);
    struct blob_writer *w = blob_writer_new(f->repo, 2);
    uint8_t dict_id[CRYPTO_ID_SIZE];
    assert_int_equal(blob_writer_add(w, BLOB_DICT, dict_content.data, dict_content.len, dict_id, &err), 0);
    assert_int_equal(blob_writer_finish(w, &err), 0);
    blob_writer_free(w);
    struct blob_dict *dict = blob_dict_new(dict_id, dict_content.data, dict_content.len, 3);
    assert_non_null(dict);
    struct blob_codec *codec = blob_codec_new(3);
    size_t with = 0, without = 0;

    for (size_t off = 0; off + 8192 <= f->len; off += 8192 * 16) {
        uint8_t id[CRYPTO_ID_SIZE];
        repo_blob_id(f->repo, f->text + off, 8192, id);
        blob_seal(f->repo, codec, dict, id, f->text + off, 8192, &sealed);
        blob_seal(f->repo, codec, NULL, id, f->text + off, 8192, &plain_sealed);
        with += sealed.len;
        without += plain_sealed.len;
        buf_reset(&out);
        assert_int_equal(blob_open(f->repo, codec, id, sealed.data, sealed.len, &out, &err), 0);
        assert_int_equal(out.len, 8192);
        assert_memory_equal(out.data, f->text + off, 8192);
    }

    assert_true(with < without);
    blob_dict_free(dict);
    blob_codec_free(codec);
    buf_free(&dict_content);
    buf_free(&sealed);
    buf_free(&plain_sealed);
    buf_free(&out);
}

/* A blob that names a dictionary the repository does not have fails to
 * open with an error that says so, instead of decoding garbage. */
static void test_dict_missing_dictionary_fails_open(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf dict_content = BUF_INIT, sealed = BUF_INIT, out = BUF_INIT;
    assert_int_equal(train(f, &dict_content), 0);
    uint8_t never_stored[CRYPTO_ID_SIZE];
    memset(never_stored, 0x5a, sizeof never_stored);
    struct blob_dict *dict = blob_dict_new(never_stored, dict_content.data, dict_content.len, 3);
    struct blob_codec *codec = blob_codec_new(3);
    uint8_t id[CRYPTO_ID_SIZE];
    repo_blob_id(f->repo, f->text, 8192, id);
    blob_seal(f->repo, codec, dict, id, f->text, 8192, &sealed);

    assert_int_equal(blob_open(f->repo, codec, id, sealed.data, sealed.len, &out, &err), -1);

    assert_non_null(strstr(err.msg, "dictionary"));
    blob_dict_free(dict);
    blob_codec_free(codec);
    buf_free(&dict_content);
    buf_free(&sealed);
    buf_free(&out);
}

/* A dictionary is stored in two packs: with one byte of its first copy
 * flipped, a blob compressed with it still opens, through the second copy,
 * in a process that reads the index afresh. */
static void test_dict_survives_a_damaged_copy(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf dict_content = BUF_INIT, sealed = BUF_INIT, out = BUF_INIT;
    assert_int_equal(train(f, &dict_content), 0);
    struct blob_writer *w = blob_writer_new(f->repo, 2);
    uint8_t dict_id[CRYPTO_ID_SIZE];
    assert_int_equal(blob_writer_add(w, BLOB_DICT, dict_content.data, dict_content.len, dict_id, &err), 0);
    assert_int_equal(blob_writer_finish(w, &err), 0);
    blob_writer_free(w);
    struct index_entry first;
    assert_true(index_find(repo_index(f->repo), dict_id, &first));
    uint8_t pack_id[CRYPTO_ID_SIZE];
    index_pack_id(repo_index(f->repo), first.pack, pack_id);
    struct blob_dict *dict = blob_dict_new(dict_id, dict_content.data, dict_content.len, 3);
    struct blob_codec *codec = blob_codec_new(3);
    uint8_t id[CRYPTO_ID_SIZE];
    repo_blob_id(f->repo, f->text, 8192, id);
    blob_seal(f->repo, codec, dict, id, f->text, 8192, &sealed);

    char hex[65], path[400];
    hex_encode(pack_id, CRYPTO_ID_SIZE, hex);
    snprintf(path, sizeof path, "%s/repo/data/%.2s/%s", f->dir, hex, hex);
    FILE *pack = fopen(path, "r+b");
    assert_non_null(pack);
    fseek(pack, (long)first.offset + (long)first.length / 2, SEEK_SET);
    int c = fgetc(pack);
    fseek(pack, (long)first.offset + (long)first.length / 2, SEEK_SET);
    fputc(c ^ 0x40, pack);
    fclose(pack);
    char repo_dir[300];
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", f->dir);
    struct repo *fresh = NULL;
    assert_int_equal(repo_open(repo_dir, NULL, "pw", &fresh, &err), 0);
    assert_int_equal(repo_load_index(fresh, &err), 0);

    assert_int_equal(blob_open(fresh, codec, id, sealed.data, sealed.len, &out, &err), 0);

    assert_int_equal(out.len, 8192);
    assert_memory_equal(out.data, f->text, 8192);
    repo_free(fresh);
    blob_dict_free(dict);
    blob_codec_free(codec);
    buf_free(&dict_content);
    buf_free(&sealed);
    buf_free(&out);
}

/* A dictionary is stored without one, so a "dictionary" blob that names
 * a dictionary is damage: loading it is refused with an error that says
 * so, and never follows the name (a dictionary naming itself would recurse
 * without end). Here the blob asked for as a dictionary is a data blob
 * compressed with a real one. */
static void test_dict_naming_a_dictionary_is_refused(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf dict_content = BUF_INIT;
    assert_int_equal(train(f, &dict_content), 0);
    struct blob_writer *w = blob_writer_new(f->repo, 2);
    uint8_t dict_id[CRYPTO_ID_SIZE], data_id[CRYPTO_ID_SIZE];
    assert_int_equal(blob_writer_add(w, BLOB_DICT, dict_content.data, dict_content.len, dict_id, &err), 0);
    const struct blob_dict *dict =
        repo_dictionary_adopt(f->repo, blob_dict_new(dict_id, dict_content.data, dict_content.len, 3));
    blob_writer_use_dictionary(w, dict);
    assert_int_equal(blob_writer_add(w, BLOB_DATA, f->text, 8192, data_id, &err), 0);
    assert_int_equal(blob_writer_finish(w, &err), 0);
    blob_writer_free(w);

    assert_null(repo_dictionary(f->repo, data_id, &err));
    assert_non_null(strstr(err.msg, "names a dictionary itself"));

    /* the data blob itself still reads, through the real dictionary */
    struct buf out = BUF_INIT;
    struct blob_codec *codec = blob_codec_new(3);
    assert_int_equal(repo_read_blob(f->repo, codec, data_id, &out, &err), 0);
    assert_int_equal(out.len, 8192);
    assert_memory_equal(out.data, f->text, 8192);
    blob_codec_free(codec);
    buf_free(&out);
    buf_free(&dict_content);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dict_training_refuses_too_little_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dict_blobs_are_smaller_and_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dict_missing_dictionary_fails_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dict_survives_a_damaged_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dict_naming_a_dictionary_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
