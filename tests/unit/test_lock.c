/*
 * test_lock.c — repository locks: shared locks coexist, an exclusive lock
 * is refused while another lock lives and names its holder, a lock left by
 * a process that is gone is cleared, and unlocking removes the lock object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "repo/lock.h"
#include "repo/repo.h"
#include "util/text.h"
#include "testing.h"

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
    store_list(repo->store, "locks", count_locks, &n, &err);
    return n;
}

/* Writes a lock object as another process would have. */
static void plant_lock(struct repo *repo, int pid, bool is_exclusive)
{
    char host[64], when[32];
    gethostname(host, sizeof host);
    time_format_rfc3339((int64_t)time(NULL), when);
    json_t *doc = json_pack("{s:s, s:s, s:i, s:b}", "time", when, "host", host, "pid", pid, "exclusive", is_exclusive);
    char *text = json_dumps(doc, JSON_COMPACT);
    uint8_t id[CRYPTO_ID_SIZE];
    struct error err;
    crypto_random(id, sizeof id);
    assert_int_equal(repo_put_object(repo, OBJ_LOCK, id, text, strlen(text), &err), 0);
    free(text);
    json_decref(doc);
}

/* Two shared locks coexist; unlocking removes both objects. */
static void test_lock_shared_locks_coexist(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *a = NULL, *b = NULL;

    assert_int_equal(repo_lock(f->repo, false, &a, &err), 0);
    assert_int_equal(repo_lock(f->repo, false, &b, &err), 0);
    assert_int_equal(lock_count(f->repo), 2);

    repo_unlock(a);
    repo_unlock(b);
    assert_int_equal(lock_count(f->repo), 0);
}

/* An exclusive lock is refused while a live process holds a shared one,
 * with ERR_LOCKED and a message naming the holder's pid. */
static void test_lock_exclusive_refused_while_shared_held(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    plant_lock(f->repo, getppid(), false); /* a live process, not us */

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), -1);

    assert_int_equal(err.kind, ERR_LOCKED);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getppid());
    assert_non_null(strstr(err.msg, pid));
    assert_int_equal(lock_count(f->repo), 1); /* ours was taken back */
}

/* A lock left by a process that no longer runs does not block an
 * exclusive lock, and is removed. */
static void test_lock_orphan_is_cleared(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct repo_lock *excl = NULL;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0); /* its pid is now free: nobody runs under it */
    plant_lock(f->repo, (int)child, true);

    assert_int_equal(repo_lock(f->repo, true, &excl, &err), 0);

    assert_int_equal(lock_count(f->repo), 1); /* only ours */
    repo_unlock(excl);
    assert_int_equal(lock_count(f->repo), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_shared_locks_coexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_exclusive_refused_while_shared_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_orphan_is_cleared, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
