/*
 * test_store_fault.c — the fault store does what fault.h says, since the
 * fault sweeps (test_faults_ops.c) are only as good as the faults they
 * inject: the Nth call of a kind fails with the errno asked for, and
 * neither an earlier nor a later one (unless sticky); a failed put stores
 * nothing and a failed delete deletes nothing; a short read drops the
 * bytes asked; a delay delays; the counters count every call by kind and
 * a reset forgets them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/fault.h"
#include "store/store.h"

struct fixture {
    struct store *inner;
    struct store *fault;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->inner = store_open_memory();
    f->fault = store_open_fault(f->inner);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_free(f->fault);
    store_free(f->inner);
    free(f);
    return 0;
}

static bool inner_has(struct fixture *f, const char *name)
{
    uint64_t size;
    struct error err;
    return store_size(f->inner, name, &size, &err) == 0;
}

/* The third put fails with EIO, stores nothing; the second and fourth
 * store theirs. */
static void test_nth_put_fails_once(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    fault_store_fail(f->fault, STORE_CALL_PUT, 3, EIO, false);

    assert_int_equal(store_put(f->fault, "a", "1", 1, &err), 0);
    assert_int_equal(store_put_new(f->fault, "b", "2", 1, &err), 0); /* put_new is a put */
    assert_int_equal(store_put(f->fault, "c", "3", 1, &err), -1);
    assert_non_null(strstr(err.msg, strerror(EIO)));
    assert_non_null(strstr(err.msg, "fault injected at put 3"));
    assert_int_equal(store_put(f->fault, "d", "4", 1, &err), 0);

    assert_true(inner_has(f, "b"));
    assert_false(inner_has(f, "c"));
    assert_true(inner_has(f, "d"));
    assert_int_equal(fault_store_calls(f->fault, STORE_CALL_PUT), 4);
    assert_int_equal(fault_store_injected(f->fault), 1);
}

/* Sticky ENOSPC: every put from the second on fails, as on a full disk. */
static void test_sticky_enospc(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    fault_store_fail(f->fault, STORE_CALL_PUT, 2, ENOSPC, true);

    assert_int_equal(store_put(f->fault, "a", "1", 1, &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_put(f->fault, "b", "2", 1, &err), -1);
        assert_non_null(strstr(err.msg, strerror(ENOSPC)));
    }
    assert_false(inner_has(f, "b"));
    assert_int_equal(fault_store_injected(f->fault), 3);
}

/* A plan for gets leaves puts, lists and deletes alone: N counts per kind. */
static void test_counts_are_per_kind(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf b = BUF_INIT;
    fault_store_fail(f->fault, STORE_CALL_GET, 2, EIO, false);

    assert_int_equal(store_put(f->fault, "x/a", "1", 1, &err), 0);
    assert_int_equal(store_put(f->fault, "x/b", "2", 1, &err), 0);
    assert_int_equal(store_get(f->fault, "x/a", 0, STORE_TO_END, &b, &err), 0);
    assert_int_equal(store_get(f->fault, "x/b", 0, STORE_TO_END, &b, &err), -1);
    assert_int_equal(store_get(f->fault, "x/b", 0, STORE_TO_END, &b, &err), 0);

    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "12", 2);
    assert_int_equal(fault_store_calls(f->fault, STORE_CALL_PUT), 2);
    assert_int_equal(fault_store_calls(f->fault, STORE_CALL_GET), 3);
    assert_int_equal(fault_store_calls(f->fault, STORE_CALL_LIST), 0);
    buf_free(&b);
}

static int count_one(void *ctx, const char *name, uint64_t size, struct error *err)
{
    (*(int *)ctx)++;
    return 0;
}

/* The first list fails before it names anything; the next one lists. */
static void test_list_fails(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    int seen = 0;
    assert_int_equal(store_put(f->inner, "keys/a", "1", 1, &err), 0);
    fault_store_fail(f->fault, STORE_CALL_LIST, 1, EIO, false);

    assert_int_equal(store_list(f->fault, "keys", count_one, &seen, &err), -1);
    assert_int_equal(seen, 0);
    assert_non_null(strstr(err.msg, "keys"));
    assert_int_equal(store_list(f->fault, "keys", count_one, &seen, &err), 0);
    assert_int_equal(seen, 1);
}

/* A failed delete deletes nothing; delete_many counts each name and
 * fails when one of its deletes does. */
static void test_delete_fails(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    assert_int_equal(store_put(f->inner, "s/a", "1", 1, &err), 0);
    assert_int_equal(store_put(f->inner, "s/b", "1", 1, &err), 0);
    assert_int_equal(store_put(f->inner, "s/c", "1", 1, &err), 0);
    fault_store_fail(f->fault, STORE_CALL_DELETE, 1, EIO, false);

    assert_int_equal(store_delete(f->fault, "s/a", &err), -1);
    assert_true(inner_has(f, "s/a"));

    fault_store_fail(f->fault, STORE_CALL_DELETE, 3, ENOSPC, false);
    char *names[] = {"s/a", "s/b"};
    assert_int_equal(store_delete_many(f->fault, names, 2, &err), -1);
    assert_int_equal(fault_store_calls(f->fault, STORE_CALL_DELETE), 3);
    assert_int_equal(inner_has(f, "s/a") + inner_has(f, "s/b"), 1); /* one of the two went */
    assert_true(inner_has(f, "s/c"));
}

/* A failed size says nothing about the object: the error is not
 * ERR_NOT_FOUND, so a caller cannot take it for a missing one. */
static void test_size_fails_not_as_missing(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    uint64_t size;
    assert_int_equal(store_put(f->inner, "config", "c", 1, &err), 0);
    fault_store_fail(f->fault, STORE_CALL_SIZE, 1, EIO, false);

    assert_int_equal(store_size(f->fault, "config", &size, &err), -1);
    assert_int_not_equal(err.kind, ERR_NOT_FOUND);
    assert_int_equal(store_size(f->fault, "config", &size, &err), 0);
    assert_int_equal(size, 1);
}

/* The short read succeeds with its last bytes missing; other gets are
 * whole; dropping more than came leaves nothing of that get. */
static void test_short_read(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct buf b = BUF_INIT;
    assert_int_equal(store_put(f->inner, "data/p", "0123456789", 10, &err), 0);
    fault_store_short_read(f->fault, 2, 3);

    assert_int_equal(store_get(f->fault, "data/p", 0, STORE_TO_END, &b, &err), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(store_get(f->fault, "data/p", 2, 5, &b, &err), 0);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data + 10, "23", 2);
    assert_int_equal(store_get(f->fault, "data/p", 0, STORE_TO_END, &b, &err), 0);
    assert_int_equal(b.len, 22);
    assert_int_equal(fault_store_injected(f->fault), 1);

    fault_store_short_read(f->fault, 4, 100);
    buf_reset(&b);
    buf_append(&b, "<", 1);
    assert_int_equal(store_get(f->fault, "data/p", 0, 4, &b, &err), 0);
    assert_int_equal(b.len, 1); /* what was there before stays */
    buf_free(&b);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A delay on lists slows lists, not puts. */
static void test_delay(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    int seen = 0;
    fault_store_delay(f->fault, STORE_CALL_LIST, 50000);

    double start = now();
    assert_int_equal(store_list(f->fault, "x", count_one, &seen, &err), 0);
    double listed = now();
    assert_int_equal(store_put(f->fault, "x/a", "1", 1, &err), 0);
    double put = now();

    assert_true(listed - start >= 0.05);
    assert_true(put - listed < 0.04);
}

/* A reset forgets counts and plans. */
static void test_reset(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    fault_store_fail(f->fault, STORE_CALL_PUT, 2, EIO, true);
    assert_int_equal(store_put(f->fault, "a", "1", 1, &err), 0);

    fault_store_reset(f->fault);

    assert_int_equal(fault_store_calls(f->fault, STORE_CALL_PUT), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_put(f->fault, "a", "1", 1, &err), 0);
    assert_int_equal(fault_store_injected(f->fault), 0);
}

/* The wrapper keeps its inner store's character. */
static void test_forwards_properties(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(store_parallel_requests(f->fault), store_parallel_requests(f->inner));
    assert_int_equal(store_parallel_uploads(f->fault), store_parallel_uploads(f->inner));
    assert_int_equal(store_has_atomic_create(f->fault), store_has_atomic_create(f->inner));
    assert_string_equal(store_location(f->fault), "fault:memory:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nth_put_fails_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sticky_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_are_per_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_fails_not_as_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwards_properties, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
