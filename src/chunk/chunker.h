/*
 * chunker.h — content-defined chunking (FastCDC with normalised chunking).
 *
 * Cuts a byte stream where a rolling gear hash matches a mask, so that an
 * insertion or deletion in a dump moves only the boundaries around it and
 * the rest of the stream deduplicates. The gear table is derived from a
 * repository secret, so chunk boundaries do not fingerprint known files.
 *
 * The chunker is stateless between chunks: give it the bytes starting at
 * the current chunk's first byte and it says where that chunk ends.
 */
#ifndef COFFER_CHUNK_CHUNKER_H
#define COFFER_CHUNK_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct chunker_params {
    uint32_t min_size;
    uint32_t avg_size; /* a power of two */
    uint32_t max_size;
};

struct chunker {
    uint64_t gear[256];
    uint64_t mask_small; /* harder to hit: used before avg_size */
    uint64_t mask_large; /* easier to hit: used after avg_size */
    struct chunker_params params;
};

/* Checks that min <= avg <= max, avg is a power of two, and the sizes are
 * between 1 KiB and 16 MiB. */
int chunker_params_check(const struct chunker_params *params, struct error *err);

/* Sets up a chunker; params must have passed chunker_params_check. */
void chunker_init(struct chunker *c, const struct chunker_params *params, const uint8_t secret[32]);

/* Returns the length of the chunk that starts at data[0], given len bytes
 * are available. Returns 0 when no boundary lies within the len bytes and
 * more data could still move it (len < max_size and !is_eof): the caller
 * then supplies more bytes and asks again. At EOF the rest is one chunk. */
size_t chunker_cut(const struct chunker *c, const uint8_t *data, size_t len, bool is_eof);

#endif
