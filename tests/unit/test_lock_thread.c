/*
 * test_lock_thread.c — a lock whose refresh thread cannot be started is
 * not taken: repo_lock fails with a message saying why and leaves no lock
 * object (before, it returned a lock whose thread repo_unlock then joined
 * though it had never been created). Its own executable because it puts a
 * pthread_create of its own in front of the C library's, failing on
 * request.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/lock.h"
#include "repo/repo.h"
#include "testing.h"

static bool is_failing_threads;

/* Every thread this executable (and cofferlib, linked into it) starts goes
 * through here; the next pthread_create is the C library's (or the
 * sanitizer's in front of it). */
int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    if (is_failing_threads)
        return EAGAIN;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
    return real(thread, attr, fn, arg);
}

struct fixture {
    char dir[64];
    struct repo *repo;
};

static int setup(void **state)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    char repo_dir[128];
    snprintf(repo_dir, sizeof repo_dir, "%s/repo", f->dir);
    struct repo_init_options opts = {.kdf_level = "interactive"};
    repo_config_defaults(&opts.config);
    if (repo_init(repo_dir, "pw", &opts, &err) < 0 || repo_open(repo_dir, NULL, "pw", &f->repo, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    is_failing_threads = false;
    repo_free(f->repo);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static int count_locks(void *ctx, const char *name, uint64_t size, struct error *err)
{
    (*(int *)ctx)++;
    return 0;
}

static int lock_count(struct repo *repo)
{
    int n = 0;
    struct error err;
    store_list(repo_store(repo), "locks", count_locks, &n, &err);
    return n;
}

/* No refresh thread, no lock: an error naming the cause, no object left,
 * and the lock can be taken once threads start again. */
static void test_lock_fails_without_refresh_thread(void **state)
{
    struct fixture *f = *state;
    for (int is_exclusive = 0; is_exclusive < 2; is_exclusive++) {
        struct error err = {0};
        struct repo_lock *lock = NULL;
        is_failing_threads = true;

        int rc = repo_lock(f->repo, is_exclusive, &lock, &err);

        is_failing_threads = false;
        assert_int_equal(rc, -1);
        assert_null(lock);
        assert_non_null(strstr(err.msg, "thread"));
        assert_int_equal(lock_count(f->repo), 0);
        assert_int_equal(repo_lock(f->repo, is_exclusive, &lock, &err), 0);
        repo_unlock(lock);
        assert_int_equal(lock_count(f->repo), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_fails_without_refresh_thread, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
