/*
 * readahead.c — a reader thread and a ring of blocks (see readahead.h).
 */
#include "pipeline/readahead.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/interrupt.h"

#define BLOCKS 4
#define BLOCK_SIZE (1u << 20)

struct block {
    uint8_t *data;
    size_t len;
    bool is_full;
};

struct readahead {
    int fd;
    int wake_fd; /* eventfd: readahead_stop tells the thread to leave */
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    struct block blocks[BLOCKS];
    size_t next_fill;    /* reader thread */
    size_t next_take;    /* caller */
    bool has_taken;      /* the caller holds blocks[next_take - 1] */
    bool is_eof;         /* the reader saw end of input (or an error) */
    bool is_stopping;
    int read_errno;
};

/* Waits until fd has data (or its end) or readahead_stop wakes us; then
 * reads. Returns -2 when stopped. Waiting in poll() rather than read()
 * lets the thread leave while the writer keeps the pipe open. */
static ssize_t read_unless_stopped(struct readahead *ra, void *buf, size_t len)
{
    struct pollfd fds[2] = {{ra->fd, POLLIN, 0}, {ra->wake_fd, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (fds[1].revents)
            return -2;
        if (fds[0].revents)
            return read(ra->fd, buf, len);
    }
}

static void *reader_main(void *arg)
{
    struct readahead *ra = arg;
    for (;;) {
        struct block *b = &ra->blocks[ra->next_fill % BLOCKS];
        pthread_mutex_lock(&ra->mutex);
        while (b->is_full && !ra->is_stopping)
            pthread_cond_wait(&ra->changed, &ra->mutex);
        bool is_stopping = ra->is_stopping;
        pthread_mutex_unlock(&ra->mutex);
        if (is_stopping)
            return NULL;

        size_t len = 0;
        int failure = 0;
        bool is_eof = false;
        while (len < BLOCK_SIZE) {
            ssize_t n = read_unless_stopped(ra, b->data + len, BLOCK_SIZE - len);
            if (n == -2)
                return NULL;
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                failure = n < 0 ? errno : 0;
                is_eof = true;
                break;
            }
            len += (size_t)n;
        }

        pthread_mutex_lock(&ra->mutex);
        b->len = len;
        b->is_full = true;
        ra->next_fill++;
        ra->is_eof = is_eof;
        ra->read_errno = failure;
        pthread_cond_broadcast(&ra->changed);
        pthread_mutex_unlock(&ra->mutex);
        if (is_eof)
            return NULL;
    }
}

struct readahead *readahead_start(int fd)
{
    struct readahead *ra = xcalloc(1, sizeof *ra);
    ra->fd = fd;
    ra->wake_fd = eventfd(0, EFD_CLOEXEC);
    pthread_mutex_init(&ra->mutex, NULL);
    pthread_cond_init(&ra->changed, NULL);
    for (int i = 0; i < BLOCKS; i++)
        ra->blocks[i].data = xmalloc(BLOCK_SIZE);
    pthread_create(&ra->thread, NULL, reader_main, ra);
    return ra;
}

int readahead_next(struct readahead *ra, const uint8_t **data, size_t *len, struct error *err)
{
    pthread_mutex_lock(&ra->mutex);
    if (ra->has_taken) { /* hand the previous block back */
        ra->blocks[(ra->next_take - 1) % BLOCKS].is_full = false;
        ra->has_taken = false;
        pthread_cond_broadcast(&ra->changed);
    }
    struct block *b = &ra->blocks[ra->next_take % BLOCKS];
    while (!b->is_full && !(ra->is_eof && ra->next_take == ra->next_fill)) {
        if (interrupt_signal()) { /* the writer may be silent for hours: look at the flag each 100 ms */
            pthread_mutex_unlock(&ra->mutex);
            return interrupt_check(err);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&ra->changed, &ra->mutex, &until);
    }
    int rc = 0;
    if (!b->is_full) {
        *len = 0; /* end of input, everything consumed */
        if (ra->read_errno)
            rc = error_errno(err, ra->read_errno, "read failed");
    } else {
        *data = b->data;
        *len = b->len;
        ra->next_take++;
        ra->has_taken = true;
        /* An error after some bytes: deliver them first, fail next time. */
    }
    pthread_mutex_unlock(&ra->mutex);
    return rc;
}

void readahead_stop(struct readahead *ra)
{
    if (!ra)
        return;
    pthread_mutex_lock(&ra->mutex);
    ra->is_stopping = true;
    pthread_cond_broadcast(&ra->changed);
    pthread_mutex_unlock(&ra->mutex);
    uint64_t one = 1;
    if (write(ra->wake_fd, &one, sizeof one) < 0) {
        /* cannot happen for an eventfd below its maximum */
    }
    pthread_join(ra->thread, NULL);
    close(ra->wake_fd);
    pthread_mutex_destroy(&ra->mutex);
    pthread_cond_destroy(&ra->changed);
    for (int i = 0; i < BLOCKS; i++)
        free(ra->blocks[i].data);
    free(ra);
}
