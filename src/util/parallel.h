/*
 * parallel.h — running one small job per item on a few threads.
 *
 * For work that waits on storage rather than on the CPU: reading thousands
 * of snapshot objects, deleting thousands of objects. One request at a time
 * leaves a disk (or, later, S3) idle between round trips; a handful in
 * flight keeps it busy. Items are handed out in order from a shared
 * counter; the first failure stops the handing out, and its error is the
 * one returned. The job must be safe to run on several threads at once.
 */
#ifndef COFFER_UTIL_PARALLEL_H
#define COFFER_UTIL_PARALLEL_H

#include <stddef.h>

#include "util/error.h"

/* One item's work: 0 on success, -1 with err set on failure. */
typedef int (*parallel_fn)(void *ctx, size_t item, struct error *err);

/* Runs fn for every item in [0, count) on up to `threads` threads (the
 * caller's among them). Returns 0 when every item succeeded. */
int parallel_for(size_t count, unsigned threads, parallel_fn fn, void *ctx, struct error *err);

#endif
