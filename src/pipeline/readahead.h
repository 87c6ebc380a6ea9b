/*
 * readahead.h — reads a pipe on a thread of its own.
 *
 * A dump program writing into a pipe stalls whenever the pipe is full; if
 * the same thread that reads the pipe also chunks and hashes, the two take
 * turns instead of running at once. The read-ahead thread keeps the pipe
 * drained into a small ring of blocks (4 x 1 MiB) that the caller consumes
 * in order.
 */
#ifndef COFFER_PIPELINE_READAHEAD_H
#define COFFER_PIPELINE_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct readahead;

/* Starts reading fd; the caller keeps ownership of fd. */
struct readahead *readahead_start(int fd);

/* Waits for the next block: *len is 0 at end of input. The block stays
 * valid until the next call. Fails with the read error, once it happens,
 * and with ERR_INTERRUPTED once SIGINT or SIGTERM came (util/interrupt.h). */
int readahead_next(struct readahead *ra, const uint8_t **data, size_t *len, struct error *err);

/* Stops the thread (even if input remains) and frees everything. */
void readahead_stop(struct readahead *ra);

#endif
