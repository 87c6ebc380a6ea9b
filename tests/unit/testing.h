/*
 * testing.h — small helpers shared by the unit tests: reproducible
 * pseudo-random data (so a failure can be replayed) and throw-away
 * directories. Header-only so that every test_*.c stays one executable.
 */
#ifndef COFFER_TESTS_TESTING_H
#define COFFER_TESTS_TESTING_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* xorshift64*: fast, seedable, good enough to look random to a chunker. */
static inline uint64_t test_rand_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Incompressible bytes, the same for the same seed. */
static inline void test_fill_random(uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t state = seed;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = test_rand_next(&state);
        memcpy(p + i, &v, 8);
    }
    if (i < len) {
        uint64_t v = test_rand_next(&state);
        memcpy(p + i, &v, len - i);
    }
}

/* Text-like bytes: random words from a small vocabulary. They compress
 * several times over but never repeat at the scale of a chunk. */
static inline void test_fill_text(uint8_t *p, size_t len, uint64_t seed)
{
    static const char *const words[] = {
        "backup ", "coffer ", "chunk ", "pack ", "index ", "tree ", "snapshot ", "restore ",
        "dump ", "stream ", "blob ", "key ", "seal ", "store ", "list ", "data\n",
    };
    uint64_t state = seed;
    size_t i = 0;
    while (i < len) {
        const char *w = words[test_rand_next(&state) >> 60];
        size_t n = strlen(w);
        if (n > len - i)
            n = len - i;
        memcpy(p + i, w, n);
        i += n;
    }
}

/* Makes a fresh empty directory; path must hold 64 bytes. Returns 0 or -1. */
static inline int test_make_tmpdir(char *path)
{
    const char *base = getenv("TMPDIR");
    snprintf(path, 64, "%.40s/coffer-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(path) ? 0 : -1;
}

static inline int test_rmtree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes a directory and everything below it. */
static inline int test_remove_tree(const char *path)
{
    return nftw(path, test_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to path, replacing it; 0 or -1. */
static inline int test_write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    int rc = fputs(text, fp) >= 0 ? 0 : -1;
    return fclose(fp) == 0 ? rc : -1;
}

/* Data for a feeder thread that writes into a pipe. */
struct test_pipe_feed {
    int fd; /* the write end, closed when done */
    const uint8_t *data;
    size_t len;
};

/* Thread body: writes the data in odd-sized pieces (so reads never line up
 * with writes), then closes the pipe. */
static inline void *test_feed_pipe(void *arg)
{
    struct test_pipe_feed *feed = arg;
    size_t done = 0;
    while (done < feed->len) {
        size_t piece = feed->len - done < 7777 ? feed->len - done : 7777;
        ssize_t n = write(feed->fd, feed->data + done, piece);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(feed->fd);
    return NULL;
}

#endif
