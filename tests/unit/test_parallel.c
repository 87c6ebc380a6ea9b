/*
 * test_parallel.c — parallel_for runs each item once, on several threads,
 * and stops at a failure with that failure's message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "util/parallel.h"

#define ITEMS 10000

struct tally {
    atomic_int runs[ITEMS];
    atomic_int running, most_running;
    size_t fail_at; /* ITEMS: never */
    bool is_waiting_for_company; /* item 0 waits until another thread runs */
};

static int count_item(void *ctx, size_t item, struct error *err)
{
    struct tally *t = ctx;
    int now = atomic_fetch_add(&t->running, 1) + 1;
    int most = atomic_load(&t->most_running);
    while (now > most && !atomic_compare_exchange_weak(&t->most_running, &most, now))
        ;
    if (item % 1000 == 0)
        usleep(2000); /* long enough for the other threads to be seen at work */
    /* On a loaded machine the other threads may not have been scheduled
     * yet: the first item waits (up to 5 s) until one of them runs too. */
    for (int i = 0; item == 0 && t->is_waiting_for_company && i < 5000 && atomic_load(&t->most_running) < 2; i++)
        usleep(1000);
    atomic_fetch_add(&t->runs[item], 1);
    atomic_fetch_sub(&t->running, 1);
    if (item == t->fail_at)
        return error_set(err, "item %zu failed", item);
    return 0;
}

/* Every item runs exactly once, and more than one thread worked. */
static void test_parallel_every_item_once(void **state)
{
    static struct tally t;
    memset(&t, 0, sizeof t);
    t.fail_at = ITEMS;
    t.is_waiting_for_company = true;
    struct error err;
    assert_int_equal(parallel_for(ITEMS, 4, count_item, &t, &err), 0);
    for (size_t i = 0; i < ITEMS; i++)
        assert_int_equal(atomic_load(&t.runs[i]), 1);
    assert_true(atomic_load(&t.most_running) > 1);
}

/* One thread, or more threads than items: the same result. */
static void test_parallel_thread_counts(void **state)
{
    static struct tally t;
    unsigned counts[] = {0, 1, 64};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        memset(&t, 0, sizeof t);
        t.fail_at = ITEMS;
        struct error err;
        assert_int_equal(parallel_for(3, counts[c], count_item, &t, &err), 0);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(atomic_load(&t.runs[i]), 1);
        assert_int_equal(atomic_load(&t.runs[3]), 0);
    }
    struct error err;
    assert_int_equal(parallel_for(0, 8, count_item, &t, &err), 0);
}

/* A failure is returned with its message, and later items stop being
 * handed out (at most one in flight per thread runs after it). */
static void test_parallel_failure_stops(void **state)
{
    static struct tally t;
    memset(&t, 0, sizeof t);
    t.fail_at = 100;
    struct error err = {0};
    assert_int_equal(parallel_for(ITEMS, 4, count_item, &t, &err), -1);
    assert_string_equal(err.msg, "item 100 failed");
    size_t ran = 0;
    for (size_t i = 0; i < ITEMS; i++)
        ran += (size_t)atomic_load(&t.runs[i]);
    assert_true(ran < ITEMS / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_every_item_once),
        cmocka_unit_test(test_parallel_thread_counts),
        cmocka_unit_test(test_parallel_failure_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
