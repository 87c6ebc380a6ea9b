/*
 * test_content.c — the write and read paths together, through a real
 * repository in a temp dir: bytes read from an fd are chunked, stored,
 * listed and read back identically, long contents grow list blobs, and
 * storing the same bytes again stores nothing new.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/blob_writer.h"
#include "pipeline/content.h"
#include "repo/blob.h"
#include "repo/repo.h"
#include "testing.h"

#define MIB ((size_t)1 << 20)
#define PASSPHRASE "correct horse battery staple"
#define WORKERS 2

struct fixture {
    char dir[64];
    char location[96];
    struct repo *repo;
};

static int setup_with_chunks(void **state, const struct chunker_params *stream_chunks)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    struct repo_init_options opts = {.kdf_level = KDF_LEVEL_TESTONLY};
    repo_config_defaults(&opts.config);
    if (stream_chunks)
        opts.config.stream_chunks = *stream_chunks;
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    snprintf(f->location, sizeof f->location, "%s/repo", f->dir);
    if (repo_init(f->location, PASSPHRASE, &opts, &err) < 0 ||
        repo_open(f->location, NULL, PASSPHRASE, &f->repo, &err) < 0 || repo_load_index(f->repo, &err) < 0) {
        fprintf(stderr, "cannot make a repository: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

/* Default stream chunks: {16K, 64K, 256K}. */
static int setup(void **state)
{
    return setup_with_chunks(state, NULL);
}

/* The largest chunks chunker_params_check accepts, {2M, 4M, 16M}: a chunk
 * may be twice CONTENT_WINDOW (`coffer init --stream-chunks 4M` makes these). */
static int setup_huge_chunks(void **state)
{
    const struct chunker_params huge = {2 << 20, 4 << 20, 16 << 20}; /* the largest allowed */
    return setup_with_chunks(state, &huge);
}

/* Small chunks {1K, 4K, 16K}, so that ~24 MiB is more than CONTENT_FANOUT chunks. */
static int setup_small_chunks(void **state)
{
    const struct chunker_params small = {1 << 10, 4 << 10, 16 << 10};
    return setup_with_chunks(state, &small);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_free(f->repo);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Text-like test data: compressible, never repeating at chunk scale. */
static uint8_t *make_data(size_t len, uint64_t seed)
{
    uint8_t *data = malloc(len ? len : 1);
    assert_non_null(data);
    test_fill_text(data, len, seed);
    return data;
}

/* Puts data in a file in the fixture's dir and opens it for reading. */
static int open_as_file(const struct fixture *f, const uint8_t *data, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/input", f->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    close(fd);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

/* Stores what fd holds as one content, the way a stream backup does. */
static void store_fd(struct fixture *f, int fd, struct content_ref *ref, uint64_t *size,
                     struct blob_writer_stats *stats)
{
    struct error err = {0};
    struct content_writer cw;
    struct blob_writer *w = blob_writer_new(f->repo, WORKERS);
    content_writer_init(&cw, w, repo_stream_chunker(f->repo));

    int rc = content_writer_read_fd(&cw, fd, NULL, NULL, &err);
    if (rc == 0)
        rc = content_writer_finish(&cw, ref, size, &err);
    if (rc == 0)
        rc = blob_writer_finish(w, &err);
    if (stats)
        blob_writer_get_stats(w, stats);

    content_writer_free(&cw);
    blob_writer_free(w);
    if (rc != 0)
        fail_msg("storing content failed: %s", err.msg);
}

/* Stores data (through a temp file) as one content. */
static void store_content(struct fixture *f, const uint8_t *data, size_t len, struct content_ref *ref,
                          uint64_t *size, struct blob_writer_stats *stats)
{
    int fd = open_as_file(f, data, len);
    store_fd(f, fd, ref, size, stats);
    close(fd);
}

static int append_to_buf(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    buf_append(ctx, data, len);
    return 0;
}

/* Reads a content back into out; returns what content_reader_copy says. */
static int read_content(struct repo *repo, const struct content_ref *ref, uint64_t size, struct buf *out,
                        struct error *err)
{
    struct content_reader *cr = content_reader_new(repo, WORKERS);
    int rc = content_reader_copy(cr, ref, size, append_to_buf, out, err);
    content_reader_free(cr);
    return rc;
}

struct id_counts {
    size_t data;
    size_t list;
};

static int count_ids(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct id_counts *counts = ctx;
    if (type == BLOB_LIST)
        counts->list++;
    else
        counts->data++;
    return 0;
}

/* 20 MiB read from an fd comes back byte for byte. */
static void test_content_round_trip_of_20_mib(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 20 * MIB;
    uint8_t *data = make_data(len, 1);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    store_content(f, data, len, &ref, &size, NULL);

    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), 0);

    assert_int_equal(size, len);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, data, len);
    assert_int_equal(ref.depth, 0);
    assert_true(ref.count > 20 * MIB / (256 << 10));
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

/* A content of more than CONTENT_FANOUT chunks is listed through list
 * blobs (depth >= 1) and still reads back identically. */
static void test_content_long_content_uses_list_blobs(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 24 * MIB;
    uint8_t *data = make_data(len, 2);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    store_content(f, data, len, &ref, &size, NULL);

    assert_true(ref.depth >= 1);
    assert_true(ref.count >= 2);
    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), 0);

    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, data, len);
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

/* A stream read from a pipe (short reads, no size known) comes back whole. */
static void test_content_round_trip_from_a_pipe(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 12 * MIB + 777;
    uint8_t *data = make_data(len, 9);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    int fds[2];
    pthread_t feeder;
    assert_int_equal(pipe(fds), 0);
    struct test_pipe_feed feed = {fds[1], data, len};
    assert_int_equal(pthread_create(&feeder, NULL, test_feed_pipe, &feed), 0);

    store_fd(f, fds[0], &ref, &size, NULL);
    pthread_join(feeder, NULL);
    close(fds[0]);

    assert_int_equal(size, len);
    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, data, len);
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

/* A content that repeats itself stores each repeated chunk once and still
 * reads back in order. */
static void test_content_repeated_data_is_stored_once(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    const size_t block = 2 * MIB, copies = 6, len = block * copies;
    uint8_t *data = malloc(len);
    assert_non_null(data);
    test_fill_random(data, block, 10);
    for (size_t i = 1; i < copies; i++)
        memcpy(data + i * block, data, block);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    struct blob_writer_stats stats;
    store_content(f, data, len, &ref, &size, &stats);

    assert_true(stats.bytes_new < 2 * block);
    assert_true(stats.blobs_new < ref.count);
    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), 0);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, data, len);
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

/* Chunk sizes the config allows but that exceed the input window must
 * not cut the stream short: all of it is stored and read back. */
static void test_content_chunks_larger_than_window_keep_all_bytes(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 20 * MIB;
    uint8_t *data = make_data(len, 11);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    store_content(f, data, len, &ref, &size, NULL);

    int rc = read_content(f->repo, &ref, size, &out, &err);
    bool is_whole = rc == 0 && out.len == len && memcmp(out.data, data, len) == 0;
    size_t got = out.len;
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
    if (size != len || !is_whole)
        fail_msg("stored %llu of %zu bytes; read back %zu (rc %d)", (unsigned long long)size, len, got, rc);
}

struct progress_log {
    uint64_t calls;
    uint64_t last;
    bool is_increasing;
};

static void log_progress(void *ctx, uint64_t bytes)
{
    struct progress_log *log = ctx;
    if (bytes <= log->last)
        log->is_increasing = false;
    log->last = bytes;
    log->calls++;
}

/* One writer serves several contents in turn: after finish it starts
 * afresh, and each content reads back as itself. */
static void test_content_writer_is_reusable_after_finish(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    const size_t lens[2] = {3 * MIB + 5, 1 * MIB + 3};
    uint8_t *data[2] = {make_data(lens[0], 12), make_data(lens[1], 13)};
    struct content_ref refs[2] = {{0}, {0}};
    uint64_t sizes[2] = {0, 0};
    struct content_writer cw;
    struct blob_writer *w = blob_writer_new(f->repo, WORKERS);
    content_writer_init(&cw, w, repo_stream_chunker(f->repo));
    for (size_t i = 0; i < 2; i++) {
        int fd = open_as_file(f, data[i], lens[i]);
        assert_int_equal(content_writer_read_fd(&cw, fd, NULL, NULL, &err), 0);
        assert_int_equal(content_writer_finish(&cw, &refs[i], &sizes[i], &err), 0);
        close(fd);
    }
    assert_int_equal(blob_writer_finish(w, &err), 0);
    content_writer_free(&cw);
    blob_writer_free(w);

    for (size_t i = 0; i < 2; i++) {
        struct buf out = BUF_INIT;
        assert_int_equal(sizes[i], lens[i]);
        assert_int_equal(read_content(f->repo, &refs[i], sizes[i], &out, &err), 0);
        assert_int_equal(out.len, lens[i]);
        assert_memory_equal(out.data, data[i], lens[i]);
        buf_free(&out);
        content_ref_free(&refs[i]);
        free(data[i]);
    }
}

/* While a stream longer than the input window is read, progress reports
 * growing byte counts that never run ahead of the bytes read. (Chunks cut
 * by finish are not reported: callers account for them themselves.) */
static void test_content_progress_grows_while_reading(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = CONTENT_WINDOW + 4 * MIB + 99;
    uint8_t *data = make_data(len, 14);
    struct progress_log log = {0, 0, true};
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct content_writer cw;
    struct blob_writer *w = blob_writer_new(f->repo, WORKERS);
    content_writer_init(&cw, w, repo_stream_chunker(f->repo));
    int fd = open_as_file(f, data, len);

    assert_int_equal(content_writer_read_fd(&cw, fd, log_progress, &log, &err), 0);
    uint64_t reported = log.last;
    assert_int_equal(content_writer_finish(&cw, &ref, &size, &err), 0);
    assert_int_equal(blob_writer_finish(w, &err), 0);

    assert_true(log.calls > 10);
    assert_true(log.is_increasing);
    assert_true(reported <= len);
    assert_true(reported >= len - CONTENT_WINDOW);
    assert_int_equal(size, len);
    close(fd);
    content_writer_free(&cw);
    blob_writer_free(w);
    content_ref_free(&ref);
    free(data);
}

/* Walking a long content names its list blobs and every chunk in it. */
static void test_content_walk_names_list_and_data_blobs(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 24 * MIB;
    uint8_t *data = make_data(len, 3);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct blob_writer_stats stats;
    store_content(f, data, len, &ref, &size, &stats);
    struct id_counts counts = {0, 0};
    struct blob_codec *codec = repo_blob_codec_new(f->repo);

    assert_int_equal(content_walk_ids(f->repo, codec, &ref, count_ids, &counts, &err), 0);

    assert_true(counts.data > CONTENT_FANOUT);
    assert_true(counts.list >= 2);
    /* Text this varied never repeats a chunk: every id is a new blob. */
    assert_int_equal(counts.data + counts.list, stats.blobs_new);
    blob_codec_free(codec);
    content_ref_free(&ref);
    free(data);
}

/* The same bytes stored again add no blob and give the same content list. */
static void test_content_same_data_twice_adds_no_blobs(void **state)
{
    struct fixture *f = *state;
    size_t len = 6 * MIB;
    uint8_t *data = make_data(len, 4);
    struct content_ref first = {0}, second = {0};
    uint64_t size1 = 0, size2 = 0;
    struct blob_writer_stats stats1, stats2;

    store_content(f, data, len, &first, &size1, &stats1);
    store_content(f, data, len, &second, &size2, &stats2);

    assert_true(stats1.blobs_new > 0);
    assert_true(stats1.packs >= 1);
    assert_int_equal(stats2.blobs_new, 0);
    assert_int_equal(stats2.bytes_new, 0);
    assert_int_equal(stats2.packs, 0);
    assert_int_equal(size2, size1);
    assert_int_equal(second.depth, first.depth);
    assert_int_equal(second.count, first.count);
    assert_memory_equal(second.ids, first.ids, (size_t)first.count * CRYPTO_ID_SIZE);
    content_ref_free(&first);
    content_ref_free(&second);
    free(data);
}

/* Compressible data takes less room in the store than it has bytes. */
static void test_content_compressible_data_is_stored_smaller(void **state)
{
    struct fixture *f = *state;
    size_t len = 8 * MIB;
    uint8_t *data = make_data(len, 5);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct blob_writer_stats stats;

    store_content(f, data, len, &ref, &size, &stats);

    assert_int_equal(stats.bytes_new, len);
    assert_true(stats.bytes_stored > 0);
    assert_true(stats.bytes_stored < len / 2);
    content_ref_free(&ref);
    free(data);
}

/* What one session stored, a new session reads back through the index
 * files it wrote. */
static void test_content_reads_back_after_reopening(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 3 * MIB + 12345;
    uint8_t *data = make_data(len, 6);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    store_content(f, data, len, &ref, &size, NULL);
    repo_free(f->repo);
    f->repo = NULL;
    assert_int_equal(repo_open(f->location, NULL, PASSPHRASE, &f->repo, &err), 0);
    assert_int_equal(repo_load_index(f->repo, &err), 0);

    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), 0);

    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, data, len);
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

/* Empty input is an empty content list that reads back as zero bytes. */
static void test_content_empty_input_round_trips(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct content_ref ref = {0};
    uint64_t size = 99;
    struct buf out = BUF_INIT;
    struct blob_writer_stats stats;
    store_content(f, (const uint8_t *)"", 0, &ref, &size, &stats);

    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), 0);

    assert_int_equal(size, 0);
    assert_int_equal(ref.count, 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(stats.blobs_new, 0);
    content_ref_free(&ref);
    buf_free(&out);
}

/* A content whose bytes do not add up to the recorded size is an error. */
static void test_content_size_mismatch_fails_read(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 1 * MIB;
    uint8_t *data = make_data(len, 7);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    store_content(f, data, len, &ref, &size, NULL);

    assert_int_equal(read_content(f->repo, &ref, size + 1, &out, &err), -1);

    assert_int_equal(err.kind, ERR_AUTH);
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

/* A damaged pack makes the read fail with ERR_AUTH, naming the pack. */
static void test_content_damaged_pack_fails_read(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t len = 2 * MIB;
    uint8_t *data = make_data(len, 8);
    struct content_ref ref = {0};
    uint64_t size = 0;
    struct buf out = BUF_INIT;
    store_content(f, data, len, &ref, &size, NULL);
    /* Damage the first data blob inside its pack. */
    struct index_entry e;
    uint8_t pack_id[CRYPTO_ID_SIZE];
    char name[96], path[256], pack_short[17];
    assert_true(index_find(repo_index(f->repo), ref.ids, &e));
    index_pack_id(repo_index(f->repo), e.pack, pack_id);
    repo_object_name(OBJ_BLOB, pack_id, name);
    id_short(pack_id, pack_short);
    snprintf(path, sizeof path, "%s/%s", f->location, name);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    off_t at = (off_t)e.offset + e.length / 2;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x04;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);

    assert_int_equal(read_content(f->repo, &ref, size, &out, &err), -1);

    assert_int_equal(err.kind, ERR_AUTH);
    assert_non_null(strstr(err.msg, pack_short));
    content_ref_free(&ref);
    buf_free(&out);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_content_round_trip_of_20_mib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_round_trip_from_a_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_repeated_data_is_stored_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_chunks_larger_than_window_keep_all_bytes, setup_huge_chunks, teardown),
        cmocka_unit_test_setup_teardown(test_content_long_content_uses_list_blobs, setup_small_chunks, teardown),
        cmocka_unit_test_setup_teardown(test_content_walk_names_list_and_data_blobs, setup_small_chunks, teardown),
        cmocka_unit_test_setup_teardown(test_content_same_data_twice_adds_no_blobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_writer_is_reusable_after_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_progress_grows_while_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_compressible_data_is_stored_smaller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_reads_back_after_reopening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_size_mismatch_fails_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_damaged_pack_fails_read, setup, teardown),
        /* Last: under UBSan a failure here aborts the process. */
        cmocka_unit_test_setup_teardown(test_content_empty_input_round_trips, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
