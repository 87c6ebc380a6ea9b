/*
 * fuzzing.h — helpers shared by the fuzz harnesses (header-only, so that
 * each fuzz_<name>.c stays one harness the CMake glob picks up).
 *
 * A harness must not need a server, a repository on disk or a passphrase:
 * fuzz_repo() is a repository held in memory with a fixed test key, enough
 * to seal and open objects. A broken invariant is reported with
 * FUZZ_CHECK, which aborts: libFuzzer records the input as a crash, and
 * replay.c fails the ctest run.
 */
#ifndef COFFER_TESTS_FUZZING_H
#define COFFER_TESTS_FUZZING_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo.h"
#include "repo/repo_int.h" /* fuzz_repo builds one by hand */

#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* A NUL-terminated copy of the input; the caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits a copy of the input at '\n' into *count strings (each its own
 * allocation, exactly sized, so ASan sees a read past one); free with
 * fuzz_lines_free. */
static inline char **fuzz_lines(const uint8_t *data, size_t size, size_t *count)
{
    char **lines = NULL;
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            lines = realloc(lines, (n + 1) * sizeof *lines);
            lines[n++] = fuzz_cstr(data + start, i - start);
            start = i + 1;
        }
    }
    *count = n;
    return lines;
}

static inline void fuzz_lines_free(char **lines, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(lines[i]);
    free(lines);
}

/* A repository that exists only in memory: a fixed id and master key
 * (bytes 1, 2, 3, ...), no store, an empty index. Enough for sealing and
 * opening objects and for the decoders; made once per process. */
static inline struct repo *fuzz_repo(void)
{
    static struct repo repo;
    static int is_made;
    if (!is_made) {
        uint8_t key[MASTER_KEY_SIZE];
        for (size_t i = 0; i < sizeof key; i++)
            key[i] = (uint8_t)(i + 1);
        master_key_from_bytes(&repo.key, key);
        repo_config_defaults(&repo.config);
        for (size_t i = 0; i < REPO_ID_SIZE; i++)
            repo.config.id[i] = (uint8_t)(0xa0 + i);
        repo.index = index_new();
        is_made = 1;
    }
    return &repo;
}

#endif
