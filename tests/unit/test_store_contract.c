/*
 * test_store_contract.c — what store.h promises, asserted the same way on
 * every driver: the local directory, memory, and S3 when
 * COFFER_TEST_S3_STORE names a location on a running server (for example
 * s3://coffer-test/contract, with tests/s3/server.sh's `env` exports for
 * the endpoint and keys; without it the S3 cases are skipped). The layers
 * above store/ are written against this contract, not against a driver,
 * so a driver that passes here may stand in for any other — which is what
 * lets the fault sweeps (test_faults_ops.c) run on the memory store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "util/text.h"
#include "testing.h"

enum backend { BACKEND_LOCAL, BACKEND_MEMORY, BACKEND_S3 };

struct fixture {
    enum backend backend;
    char dir[64];
    char location[512];
    struct store *store;
};

static const enum backend backends[] = {BACKEND_LOCAL, BACKEND_MEMORY, BACKEND_S3};

static int open_fixture(void **state)
{
    const enum backend *backend = *state;
    struct fixture *f = calloc(1, sizeof *f);
    struct error err = {0};
    if (!f)
        return -1;
    f->backend = *backend;
    *state = f;
    switch (f->backend) {
    case BACKEND_LOCAL:
        if (test_make_tmpdir(f->dir) < 0)
            return -1;
        snprintf(f->location, sizeof f->location, "%s/store", f->dir);
        if (store_open(f->location, NULL, true, &f->store, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        return 0;
    case BACKEND_MEMORY:
        f->store = store_open_memory();
        return 0;
    case BACKEND_S3: {
        const char *root = getenv("COFFER_TEST_S3_STORE");
        if (!root || !*root)
            return 0; /* each test skips */
        uint8_t rnd[8];
        char hex[17];
        crypto_random(rnd, sizeof rnd);
        hex_encode(rnd, sizeof rnd, hex);
        snprintf(f->location, sizeof f->location, "%s/%s", root, hex);
        struct s3_settings s3 = {.path_style = -1};
        if (s3_settings_from_env(&s3, &err) < 0 || store_open(f->location, &s3, true, &f->store, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        return 0;
    }
    }
    return -1;
}

static int close_fixture(void **state)
{
    struct fixture *f = *state;
    store_free(f->store);
    if (f->backend == BACKEND_LOCAL && f->dir[0])
        test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* The store under test, or a skip when its server was not named. */
static struct store *store_of(void **state)
{
    struct fixture *f = *state;
    if (!f->store)
        skip();
    return f->store;
}

static void put_text(struct store *s, const char *name, const char *text)
{
    struct error err = {0};
    assert_int_equal(store_put(s, name, text, strlen(text), &err), 0);
}

static void assert_holds(struct store *s, const char *name, const char *text)
{
    struct buf b = BUF_INIT;
    struct error err = {0};
    assert_int_equal(store_get(s, name, 0, STORE_TO_END, &b, &err), 0);
    assert_int_equal(b.len, strlen(text));
    assert_memory_equal(b.data, text, b.len);
    buf_free(&b);
}

/* A put reads back byte for byte, and its size is its length. */
static void test_put_reads_back(void **state)
{
    struct store *s = store_of(state);
    uint8_t data[70000];
    test_fill_random(data, sizeof data, 1);
    struct error err = {0};
    assert_int_equal(store_put(s, "data/3f/pack", data, sizeof data, &err), 0);

    struct buf b = BUF_INIT;
    uint64_t size = 0;
    assert_int_equal(store_get(s, "data/3f/pack", 0, STORE_TO_END, &b, &err), 0);
    assert_int_equal(store_size(s, "data/3f/pack", &size, &err), 0);

    assert_int_equal(b.len, sizeof data);
    assert_memory_equal(b.data, data, sizeof data);
    assert_int_equal(size, sizeof data);
    buf_free(&b);
}

/* An empty object is an object: it reads back empty, size 0. */
static void test_empty_object(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    uint64_t size = 99;
    assert_int_equal(store_put(s, "events/empty", "", 0, &err), 0);
    assert_holds(s, "events/empty", "");
    assert_int_equal(store_size(s, "events/empty", &size, &err), 0);
    assert_int_equal(size, 0);
}

/* A second put of a name replaces the whole object. */
static void test_put_replaces(void **state)
{
    struct store *s = store_of(state);
    put_text(s, "index/a", "the first, longer version");
    put_text(s, "index/a", "second");
    assert_holds(s, "index/a", "second");
}

/* put_new creates; on a taken name it fails ERR_EXISTS and leaves the
 * object as it was. */
static void test_put_new_refuses_taken_name(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    assert_int_equal(store_put_new(s, "locks/x", "mine", 4, &err), 0);

    assert_int_equal(store_put_new(s, "locks/x", "theirs", 6, &err), -1);

    assert_int_equal(err.kind, ERR_EXISTS);
    assert_holds(s, "locks/x", "mine");
}

struct race {
    struct store *store;
    int wins, exists, others;
    pthread_mutex_t mutex;
};

static void *race_one(void *arg)
{
    struct race *r = arg;
    struct error err = {0};
    int rc = store_put_new(r->store, "locks/eeee", "x", 1, &err);
    pthread_mutex_lock(&r->mutex);
    if (rc == 0)
        r->wins++;
    else if (err.kind == ERR_EXISTS)
        r->exists++;
    else
        r->others++;
    pthread_mutex_unlock(&r->mutex);
    return NULL;
}

/* Where creation is atomic, of eight threads creating one name at once
 * exactly one succeeds and the rest are told it exists. */
static void test_put_new_race_has_one_winner(void **state)
{
    struct store *s = store_of(state);
    if (!store_has_atomic_create(s))
        skip();
    struct race r = {.store = s, .mutex = PTHREAD_MUTEX_INITIALIZER};
    pthread_t threads[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, race_one, &r), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(r.wins, 1);
    assert_int_equal(r.exists, 7);
    assert_int_equal(r.others, 0);
}

/* A range reads exactly those bytes; STORE_TO_END reads from the offset
 * to the end; a zero-length range at the end reads nothing. */
static void test_ranged_get(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    put_text(s, "data/00/p", "0123456789abcdef");
    struct buf b = BUF_INIT;
    buf_append(&b, "<", 1); /* gets append */

    assert_int_equal(store_get(s, "data/00/p", 3, 4, &b, &err), 0);
    assert_int_equal(store_get(s, "data/00/p", 12, STORE_TO_END, &b, &err), 0);
    assert_int_equal(store_get(s, "data/00/p", 16, 0, &b, &err), 0);

    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "<3456cdef", 9);
    buf_free(&b);
}

/* A range past the end fails: a short object is never a short answer. */
static void test_get_past_end_fails(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    put_text(s, "data/00/short", "0123456789");
    struct buf b = BUF_INIT;

    assert_int_equal(store_get(s, "data/00/short", 8, 4, &b, &err), -1);

    assert_int_not_equal(err.kind, ERR_NOT_FOUND);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* A missing object is ERR_NOT_FOUND for get and size. */
static void test_missing_is_not_found(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    struct buf b = BUF_INIT;
    uint64_t size;

    assert_int_equal(store_get(s, "snapshots/none", 0, STORE_TO_END, &b, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    err.kind = ERR_GENERIC;
    assert_int_equal(store_size(s, "snapshots/none", &size, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    buf_free(&b);
}

struct listed {
    char names[16][64];
    uint64_t sizes[16];
    size_t count;
    size_t stop_after; /* 0: never */
};

static int note_one(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct listed *l = ctx;
    if (l->stop_after && l->count == l->stop_after)
        return error_set(err, "stopped by the callback");
    assert_true(l->count < 16);
    snprintf(l->names[l->count], sizeof l->names[0], "%s", name);
    l->sizes[l->count++] = size;
    return 0;
}

static uint64_t listed_size(const struct listed *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->names[i], name))
            return l->sizes[i];
    return UINT64_MAX;
}

/* A listing names every object below the folder, nested ones too, by
 * their full names and with their sizes, and nothing else: not a folder
 * whose name starts the same, not a top-level object. */
static void test_list_folder(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    put_text(s, "config", "c");
    put_text(s, "data/3f/aa", "12345");
    put_text(s, "data/40/bb", "12");
    put_text(s, "data-old/cc", "x");
    put_text(s, "datax", "x");
    put_text(s, "index/dd", "x");
    struct listed l = {0};

    assert_int_equal(store_list(s, "data", note_one, &l, &err), 0);

    assert_int_equal(l.count, 2);
    assert_int_equal(listed_size(&l, "data/3f/aa"), 5);
    assert_int_equal(listed_size(&l, "data/40/bb"), 2);
}

/* A folder with nothing in it lists nothing, without an error. */
static void test_list_empty_folder(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    struct listed l = {0};
    assert_int_equal(store_list(s, "damage", note_one, &l, &err), 0);
    assert_int_equal(l.count, 0);
}

/* A callback's failure stops the listing and is its result. */
static void test_list_stops_on_callback_failure(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    put_text(s, "keys/a", "1");
    put_text(s, "keys/b", "2");
    put_text(s, "keys/c", "3");
    struct listed l = {.stop_after = 1};

    assert_int_equal(store_list(s, "keys", note_one, &l, &err), -1);

    assert_int_equal(l.count, 1);
    assert_string_equal(err.msg, "stopped by the callback");
}

/* A listing callback may read and write the store (the index loader reads
 * each file it is handed). */
static int read_in_callback(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct store *s = ctx;
    struct buf b = BUF_INIT;
    int rc = store_get(s, name, 0, STORE_TO_END, &b, err);
    if (rc == 0 && b.len != size)
        rc = error_set(err, "%s read %zu bytes, listed %llu", name, b.len, (unsigned long long)size);
    buf_free(&b);
    if (rc == 0)
        rc = store_put(s, "events/seen", "1", 1, err);
    return rc;
}

static void test_list_callback_may_use_store(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    put_text(s, "index/a", "aaa");
    put_text(s, "index/b", "bbbbbb");
    assert_int_equal(store_list(s, "index", read_in_callback, s, &err), 0);
    assert_holds(s, "events/seen", "1");
}

/* Delete removes the object; deleting a missing one is no error. */
static void test_delete(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    uint64_t size;
    put_text(s, "snapshots/a", "x");

    assert_int_equal(store_delete(s, "snapshots/a", &err), 0);
    assert_int_equal(store_delete(s, "snapshots/a", &err), 0);
    assert_int_equal(store_delete(s, "snapshots/never", &err), 0);

    assert_int_equal(store_size(s, "snapshots/a", &size, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    struct listed l = {0};
    assert_int_equal(store_list(s, "snapshots", note_one, &l, &err), 0);
    assert_int_equal(l.count, 0);
}

/* delete_many removes every name it is given, and only those. */
static void test_delete_many(void **state)
{
    struct store *s = store_of(state);
    struct error err = {0};
    char names[12][32];
    char *ptrs[11];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "condemned/%02d", i);
        put_text(s, names[i], "x");
        if (i < 11)
            ptrs[i] = names[i];
    }

    assert_int_equal(store_delete_many(s, ptrs, 11, &err), 0);

    struct listed l = {0};
    assert_int_equal(store_list(s, "condemned", note_one, &l, &err), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.names[0], "condemned/11");
}

/* At least one request and one upload at a time. */
static void test_parallelism_is_positive(void **state)
{
    struct store *s = store_of(state);
    assert_true(store_parallel_requests(s) >= 1);
    assert_true(store_parallel_uploads(s) >= 1);
}

#define ON(backend, fn) {#backend "/" #fn, fn, open_fixture, close_fixture, (void *)&backends[BACKEND_##backend]}
#define CONTRACT(fn) ON(LOCAL, fn), ON(MEMORY, fn), ON(S3, fn)

int main(void)
{
    const struct CMUnitTest tests[] = {
        CONTRACT(test_put_reads_back),
        CONTRACT(test_empty_object),
        CONTRACT(test_put_replaces),
        CONTRACT(test_put_new_refuses_taken_name),
        CONTRACT(test_put_new_race_has_one_winner),
        CONTRACT(test_ranged_get),
        CONTRACT(test_get_past_end_fails),
        CONTRACT(test_missing_is_not_found),
        CONTRACT(test_list_folder),
        CONTRACT(test_list_empty_folder),
        CONTRACT(test_list_stops_on_callback_failure),
        CONTRACT(test_list_callback_may_use_store),
        CONTRACT(test_delete),
        CONTRACT(test_delete_many),
        CONTRACT(test_parallelism_is_positive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
