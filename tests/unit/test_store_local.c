/*
 * test_store_local.c — the local-directory store: objects go in whole and
 * come out whole or by range, listings find nested objects and skip
 * unfinished writes, and missing objects say so (ERR_NOT_FOUND). A
 * create-only put (store_put_new) makes an object only if its name is free:
 * a second one fails with ERR_EXISTS and changes nothing, and of several
 * threads creating one name at once exactly one wins, its bytes stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "testing.h"

/* A temp dir holding an open store at <dir>/repo. */
struct fixture {
    char dir[64];
    char root[96];
    struct store *store;
};

static int setup(void **state)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (test_make_tmpdir(f->dir) < 0)
        return -1;
    snprintf(f->root, sizeof f->root, "%s/repo", f->dir);
    if (store_open(f->root, NULL, true, &f->store, &err) < 0) {
        fprintf(stderr, "store_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_free(f->store);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Writes a file below the store root behind the store's back. */
static void write_raw(const struct fixture *f, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", f->root, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void put_text(struct fixture *f, const char *name, const char *text)
{
    struct error err = {0};
    assert_int_equal(store_put(f->store, name, text, strlen(text), &err), 0);
}

/* What a listing saw: names and sizes. */
struct seen {
    char names[16][128];
    uint64_t sizes[16];
    size_t count;
};

static int remember(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct seen *seen = ctx;
    if (seen->count == 16)
        return error_set(err, "too many objects");
    snprintf(seen->names[seen->count], sizeof seen->names[0], "%s", name);
    seen->sizes[seen->count++] = size;
    return 0;
}

/* The size the listing gave name, or -1 if it was not listed. */
static int64_t seen_size(const struct seen *seen, const char *name)
{
    for (size_t i = 0; i < seen->count; i++)
        if (strcmp(seen->names[i], name) == 0)
            return (int64_t)seen->sizes[i];
    return -1;
}

static int stop_at_first(void *ctx, const char *name, uint64_t size, struct error *err)
{
    (*(size_t *)ctx)++;
    return error_set(err, "stopped at %s", name);
}

/* Creating a store in an empty directory works, as in a missing one. */
static void test_store_create_in_empty_or_missing_dir(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    char empty[128], missing[128];
    struct store *s = NULL;
    snprintf(empty, sizeof empty, "%s/empty", f->dir);
    snprintf(missing, sizeof missing, "%s/missing", f->dir);
    assert_int_equal(mkdir(empty, 0700), 0);

    assert_int_equal(store_open(empty, NULL, true, &s, &err), 0);
    assert_string_equal(store_location(s), empty);
    store_free(s);
    assert_int_equal(store_open(missing, NULL, true, &s, &err), 0);
    store_free(s);

    struct stat st;
    assert_int_equal(stat(missing, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

/* Creating a store where files already are fails and touches nothing. */
static void test_store_create_in_non_empty_dir_fails(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct store *s = NULL;
    write_raw(f, "someone-elses-file", "keep me");

    assert_int_equal(store_open(f->root, NULL, true, &s, &err), -1);

    assert_null(s);
    assert_non_null(strstr(err.msg, "not empty"));
    char path[128];
    snprintf(path, sizeof path, "%s/someone-elses-file", f->root);
    assert_int_equal(access(path, F_OK), 0);
}

/* Opening (not creating) a store that does not exist is ERR_NOT_FOUND. */
static void test_store_open_missing_dir_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct store *s = NULL;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nowhere", f->dir);

    assert_int_equal(store_open(missing, NULL, false, &s, &err), -1);

    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_int_equal(access(missing, F_OK), -1);
}

/* An object put is got back whole, byte for byte, binary included. */
static void test_store_put_then_get_whole(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint8_t data[100000];
    struct buf out = BUF_INIT;
    test_fill_random(data, sizeof data, 1);

    assert_int_equal(store_put(f->store, "data/ab/abcdef", data, sizeof data, &err), 0);
    assert_int_equal(store_get(f->store, "data/ab/abcdef", 0, STORE_TO_END, &out, &err), 0);

    assert_int_equal(out.len, sizeof data);
    assert_memory_equal(out.data, data, sizeof data);
    buf_free(&out);
}

/* An empty object is a valid object. */
static void test_store_empty_object_round_trips(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    uint64_t size = 99;

    assert_int_equal(store_put(f->store, "locks/empty", "", 0, &err), 0);
    assert_int_equal(store_get(f->store, "locks/empty", 0, STORE_TO_END, &out, &err), 0);
    assert_int_equal(store_size(f->store, "locks/empty", &size, &err), 0);

    assert_int_equal(out.len, 0);
    assert_int_equal(size, 0);
    buf_free(&out);
}

/* A byte range is got exactly, and appended after what out held. */
static void test_store_get_byte_range(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    put_text(f, "config", "0123456789abcdef");
    buf_append(&out, ">", 1);

    assert_int_equal(store_get(f->store, "config", 3, 5, &out, &err), 0);
    assert_int_equal(out.len, 6);
    assert_memory_equal(out.data, ">34567", 6);
    assert_int_equal(store_get(f->store, "config", 12, STORE_TO_END, &out, &err), 0);

    assert_int_equal(out.len, 10);
    assert_memory_equal(out.data, ">34567cdef", 10);
    buf_free(&out);
}

/* A range past the end of an object fails instead of returning less. */
static void test_store_get_past_end_fails(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    put_text(f, "config", "0123456789");

    assert_int_equal(store_get(f->store, "config", 8, 5, &out, &err), -1);

    assert_int_equal(out.len, 0);
    assert_non_null(strstr(err.msg, "config"));
    buf_free(&out);
}

/* Getting an object that does not exist is ERR_NOT_FOUND, naming it. */
static void test_store_get_missing_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;

    assert_int_equal(store_get(f->store, "snapshots/0000", 0, STORE_TO_END, &out, &err), -1);

    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "snapshots/0000"));
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

/* A put replaces an object of the same name as a whole. */
static void test_store_put_replaces_whole_object(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    put_text(f, "locks/1", "a much longer first version");
    put_text(f, "locks/1", "short");

    assert_int_equal(store_get(f->store, "locks/1", 0, STORE_TO_END, &out, &err), 0);

    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "short", 5);
    buf_free(&out);
}

/* A put leaves nothing behind but the object itself (no temporary files). */
static void test_store_put_leaves_no_temporary_files(void **state)
{
    struct fixture *f = *state;
    put_text(f, "index/0001", "one");
    put_text(f, "index/0002", "two");
    char path[128];
    snprintf(path, sizeof path, "%s/index", f->root);
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        assert_null(strstr(e->d_name, ".tmp-"));
    }
    closedir(d);

    assert_int_equal(files, 2);
}

/* A listing finds every object below the folder, nested ones included,
 * with names relative to the store and their sizes; nothing else. */
static void test_store_list_finds_nested_objects(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct seen seen = {0};
    put_text(f, "data/00/pack-a", "a");
    put_text(f, "data/00/pack-b", "bb");
    put_text(f, "data/ff/pack-c", "ccc");
    put_text(f, "index/not-data", "x");
    put_text(f, "config", "x");

    assert_int_equal(store_list(f->store, "data", remember, &seen, &err), 0);

    assert_int_equal(seen.count, 3);
    assert_int_equal(seen_size(&seen, "data/00/pack-a"), 1);
    assert_int_equal(seen_size(&seen, "data/00/pack-b"), 2);
    assert_int_equal(seen_size(&seen, "data/ff/pack-c"), 3);
}

/* Unfinished writes ("*.tmp-*") are not objects and are not listed. */
static void test_store_list_skips_temporary_files(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct seen seen = {0};
    put_text(f, "data/00/pack-a", "a");
    write_raw(f, "data/00/pack-b.tmp-0123456789abcdef", "partial");
    put_text(f, "snapshots/s1", "s");
    write_raw(f, "snapshots/s2.tmp-00", "partial");

    assert_int_equal(store_list(f->store, "data", remember, &seen, &err), 0);
    assert_int_equal(store_list(f->store, "snapshots", remember, &seen, &err), 0);

    assert_int_equal(seen.count, 2);
    assert_true(seen_size(&seen, "data/00/pack-a") == 1);
    assert_true(seen_size(&seen, "snapshots/s1") == 1);
}

/* Listing a folder that was never written is an empty listing. */
static void test_store_list_of_missing_folder_is_empty(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct seen seen = {0};

    assert_int_equal(store_list(f->store, "locks", remember, &seen, &err), 0);

    assert_int_equal(seen.count, 0);
}

/* A callback that fails stops the listing, and its error comes back. */
static void test_store_list_stops_when_callback_fails(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    size_t calls = 0;
    put_text(f, "keys/1", "a");
    put_text(f, "keys/2", "b");
    put_text(f, "keys/3", "c");

    assert_int_equal(store_list(f->store, "keys", stop_at_first, &calls, &err), -1);

    assert_int_equal(calls, 1);
    assert_non_null(strstr(err.msg, "stopped at keys/"));
}

/* A deleted object is gone; deleting a missing one is not an error. */
static void test_store_delete_removes_object(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    struct seen seen = {0};
    put_text(f, "locks/mine", "lock");

    assert_int_equal(store_delete(f->store, "locks/mine", &err), 0);

    assert_int_equal(store_get(f->store, "locks/mine", 0, STORE_TO_END, &out, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_int_equal(store_list(f->store, "locks", remember, &seen, &err), 0);
    assert_int_equal(seen.count, 0);
    assert_int_equal(store_delete(f->store, "locks/mine", &err), 0);
    assert_int_equal(store_delete(f->store, "never/was", &err), 0);
    buf_free(&out);
}

/* size gives an object's byte count, and ERR_NOT_FOUND for a missing one. */
static void test_store_size_of_object(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint64_t size = 0;
    put_text(f, "data/12/obj", "twelve bytes");

    assert_int_equal(store_size(f->store, "data/12/obj", &size, &err), 0);
    assert_int_equal(size, 12);
    assert_int_equal(store_size(f->store, "data/12/none", &size, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
}

/* A store reopened (not created) sees what was put before. */
static void test_store_reopen_sees_objects(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    struct store *again = NULL;
    put_text(f, "config", "settings");

    assert_int_equal(store_open(f->root, NULL, false, &again, &err), 0);
    assert_int_equal(store_get(again, "config", 0, STORE_TO_END, &out, &err), 0);

    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data, "settings", 8);
    store_free(again);
    buf_free(&out);
}

/* How many files below dir, at any depth, carry the temporary mark
 * (".tmp-"); adds the number of all files (folders aside) to *files. */
static size_t count_temp_files(const char *dir, size_t *files)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t temps = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            temps += count_temp_files(path, files);
            continue;
        }
        (*files)++;
        if (strstr(e->d_name, ".tmp-"))
            temps++;
    }
    closedir(d);
    return temps;
}

/* A create-only put makes an object that a get reads back whole. */
static void test_store_put_new_then_get(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint8_t data[5000];
    struct buf out = BUF_INIT;
    test_fill_random(data, sizeof data, 7);

    assert_int_equal(store_put_new(f->store, "locks/first", data, sizeof data, &err), 0);
    assert_int_equal(store_get(f->store, "locks/first", 0, STORE_TO_END, &out, &err), 0);

    assert_int_equal(out.len, sizeof data);
    assert_memory_equal(out.data, data, sizeof data);
    buf_free(&out);
}

/* A second create-only put of a name fails with ERR_EXISTS naming it, and
 * the first object's bytes stay as they were; nothing temporary is left. */
static void test_store_put_new_refuses_existing_name(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    const char first[] = "the first holder";
    const char second[] = "a second, longer would-be holder of the name";

    assert_int_equal(store_put_new(f->store, "locks/taken", first, strlen(first), &err), 0);
    assert_int_equal(store_put_new(f->store, "locks/taken", second, strlen(second), &err), -1);

    assert_int_equal(err.kind, ERR_EXISTS);
    assert_non_null(strstr(err.msg, "locks/taken"));
    assert_int_equal(store_get(f->store, "locks/taken", 0, STORE_TO_END, &out, &err), 0);
    assert_int_equal(out.len, strlen(first));
    assert_memory_equal(out.data, first, strlen(first));
    size_t files = 0;
    assert_int_equal(count_temp_files(f->root, &files), 0);
    assert_int_equal(files, 1);
    buf_free(&out);
}

/* An object written by a plain put also blocks a create-only put. */
static void test_store_put_new_refuses_name_of_plain_put(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf out = BUF_INIT;
    put_text(f, "config", "plain");

    assert_int_equal(store_put_new(f->store, "config", "new", 3, &err), -1);

    assert_int_equal(err.kind, ERR_EXISTS);
    assert_int_equal(store_get(f->store, "config", 0, STORE_TO_END, &out, &err), 0);
    assert_int_equal(out.len, 5);
    assert_memory_equal(out.data, "plain", 5);
    buf_free(&out);
}

/* A create-only put makes the folders its name needs, several deep, and
 * a listing then finds the object (and nothing temporary). */
static void test_store_put_new_creates_parent_folders(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct seen seen = {0};
    char path[256];
    struct stat st;

    assert_int_equal(store_put_new(f->store, "locks/ab/cd/obj", "x", 1, &err), 0);

    snprintf(path, sizeof path, "%s/locks/ab/cd", f->root);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(store_list(f->store, "locks", remember, &seen, &err), 0);
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen_size(&seen, "locks/ab/cd/obj"), 1);
    size_t files = 0;
    assert_int_equal(count_temp_files(f->root, &files), 0);
    assert_int_equal(files, 1);
}

/* A local directory creates atomically (link(2)) and takes one pack
 * upload at a time. */
static void test_store_local_capabilities(void **state)
{
    struct fixture *f = *state;

    assert_true(store_has_atomic_create(f->store));
    assert_int_equal(store_parallel_uploads(f->store), 1);
}

#define RACE_THREADS 8
#define RACE_NAMES 50

struct racer {
    struct store *store;
    pthread_barrier_t *start;
    const char *name;
    char content[64];
    int rc;
    struct error err;
};

static void *race_put_new(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = store_put_new(r->store, r->name, r->content, strlen(r->content), &r->err);
    return NULL;
}

/* Several threads creating one name at once: exactly one succeeds, the
 * others get ERR_EXISTS, and the object holds the winner's bytes. Names
 * share new parent folders, which the racers also create at once. */
static void test_store_put_new_race_has_one_winner(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    assert_int_equal(crypto_init(&err), 0);
    for (int n = 0; n < RACE_NAMES; n++) {
        char name[64];
        snprintf(name, sizeof name, "locks/%02x/race-%d", n % 7, n);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, RACE_THREADS);
        struct racer racers[RACE_THREADS];
        pthread_t threads[RACE_THREADS];
        for (int t = 0; t < RACE_THREADS; t++) {
            racers[t] = (struct racer){.store = f->store, .start = &start, .name = name};
            snprintf(racers[t].content, sizeof racers[t].content, "name %d written by thread %d", n, t);
            assert_int_equal(pthread_create(&threads[t], NULL, race_put_new, &racers[t]), 0);
        }
        for (int t = 0; t < RACE_THREADS; t++)
            pthread_join(threads[t], NULL);
        pthread_barrier_destroy(&start);

        int winner = -1, winners = 0;
        for (int t = 0; t < RACE_THREADS; t++) {
            if (racers[t].rc == 0) {
                winner = t;
                winners++;
            } else {
                assert_int_equal(racers[t].rc, -1);
                assert_int_equal(racers[t].err.kind, ERR_EXISTS);
            }
        }
        assert_int_equal(winners, 1);
        struct buf out = BUF_INIT;
        assert_int_equal(store_get(f->store, name, 0, STORE_TO_END, &out, &err), 0);
        assert_int_equal(out.len, strlen(racers[winner].content));
        assert_memory_equal(out.data, racers[winner].content, out.len);
        buf_free(&out);
    }
    size_t files = 0;
    assert_int_equal(count_temp_files(f->root, &files), 0);
    assert_int_equal(files, RACE_NAMES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_create_in_empty_or_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_create_in_non_empty_dir_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_open_missing_dir_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_then_get_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_empty_object_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_get_byte_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_get_past_end_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_get_missing_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_replaces_whole_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_leaves_no_temporary_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_list_finds_nested_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_list_skips_temporary_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_list_of_missing_folder_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_list_stops_when_callback_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_delete_removes_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_size_of_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_reopen_sees_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_new_then_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_new_refuses_existing_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_new_refuses_name_of_plain_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_new_creates_parent_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_local_capabilities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_put_new_race_has_one_winner, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
