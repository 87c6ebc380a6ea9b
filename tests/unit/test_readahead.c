/*
 * test_readahead.c — the pipe read-ahead delivers every byte in order,
 * reports end of input, and can be stopped while the writer still writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/readahead.h"
#include "util/buf.h"
#include "testing.h"

/* 5 MiB written in odd pieces come out as the same 5 MiB, then end of input. */
static void test_readahead_delivers_every_byte_in_order(void **state)
{
    size_t len = 5 * 1024 * 1024 + 123;
    uint8_t *data = xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 2654435761u >> 13);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct test_pipe_feed w = {fds[1], data, len};
    pthread_t thread;
    pthread_create(&thread, NULL, test_feed_pipe, &w);

    struct readahead *ra = readahead_start(fds[0]);
    struct buf got = BUF_INIT;
    struct error err;
    for (;;) {
        const uint8_t *block;
        size_t n;
        assert_int_equal(readahead_next(ra, &block, &n, &err), 0);
        if (n == 0)
            break;
        buf_append(&got, block, n);
    }
    readahead_stop(ra);
    pthread_join(thread, NULL);
    close(fds[0]);

    assert_int_equal(got.len, len);
    assert_memory_equal(got.data, data, len);
    buf_free(&got);
    free(data);
}

struct holding_writer {
    int fd;      /* data pipe, write end */
    int release; /* read end of a pipe that stays empty until the test is done */
};

/* Writes 3 MiB, then keeps the data pipe open until released. */
static void *write_then_hold(void *arg)
{
    struct holding_writer *w = arg;
    uint8_t chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 48; i++)
        if (write(w->fd, chunk, sizeof chunk) < 0)
            break;
    char c;
    if (read(w->release, &c, 1) < 0) { /* returns 0 when the test closes it */
    }
    close(w->fd);
    return NULL;
}

/* Stopping after one block, while the writer keeps the pipe open and the
 * reader thread waits in read(), returns instead of hanging. */
static void test_readahead_stops_while_writer_is_alive(void **state)
{
    int data[2], release[2];
    assert_int_equal(pipe(data), 0);
    assert_int_equal(pipe(release), 0);
    struct holding_writer w = {data[1], release[0]};
    pthread_t thread;
    pthread_create(&thread, NULL, write_then_hold, &w);
    struct readahead *ra = readahead_start(data[0]);
    const uint8_t *block;
    size_t n;
    struct error err;
    assert_int_equal(readahead_next(ra, &block, &n, &err), 0);
    assert_int_equal(n, 1 << 20);

    readahead_stop(ra); /* must not wait for end of input */

    close(data[0]); /* the writer's remaining writes now fail (EPIPE) */
    close(release[1]);
    pthread_join(thread, NULL);
    close(release[0]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readahead_delivers_every_byte_in_order),
        cmocka_unit_test(test_readahead_stops_while_writer_is_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
