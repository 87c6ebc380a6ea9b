/*
 * chunker.c — FastCDC cut-point search (see chunker.h).
 *
 * The gear hash is h = (h << 1) + gear[byte]; its top bits depend on the
 * last 64 bytes only, which makes it a rolling hash without a window. We
 * test the top bits: before avg_size with a mask two bits wider than
 * log2(avg) (cuts are rarer), after it with one two bits narrower (cuts are
 * likelier). This "normalised chunking" keeps sizes close to avg_size. The
 * first min_size bytes are skipped without hashing: no cut can fall there.
 */
#include "chunk/chunker.h"

#include <sodium.h>
#include <string.h>

static unsigned log2_of(uint32_t v)
{
    unsigned bits = 0;
    while (v > 1) {
        v >>= 1;
        bits++;
    }
    return bits;
}

int chunker_params_check(const struct chunker_params *p, struct error *err)
{
    if (p->min_size < 1024 || p->max_size > (16u << 20) || p->min_size > p->avg_size ||
        p->avg_size > p->max_size || (p->avg_size & (p->avg_size - 1)) != 0 || p->avg_size < 4096)
        return error_setk(err, ERR_USAGE,
                          "bad chunk sizes min %u avg %u max %u (need 1 KiB <= min <= avg <= max <= 16 MiB, "
                          "avg a power of two of at least 4 KiB)",
                          p->min_size, p->avg_size, p->max_size);
    return 0;
}

static uint64_t top_bits_mask(unsigned bits)
{
    return bits == 0 ? 0 : ~0ull << (64 - bits);
}

void chunker_init(struct chunker *c, const struct chunker_params *params, const uint8_t secret[32])
{
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {'g', 'e', 'a', 'r'};
    uint8_t table[256 * 8];
    crypto_stream_chacha20(table, sizeof table, nonce, secret);
    for (int i = 0; i < 256; i++) {
        uint64_t v = 0;
        for (int b = 0; b < 8; b++)
            v = v << 8 | table[8 * i + b];
        c->gear[i] = v;
    }
    sodium_memzero(table, sizeof table);
    unsigned bits = log2_of(params->avg_size);
    c->mask_small = top_bits_mask(bits + 2);
    c->mask_large = top_bits_mask(bits - 2);
    c->params = *params;
}

size_t chunker_cut(const struct chunker *c, const uint8_t *data, size_t len, bool is_eof)
{
    size_t max = c->params.max_size;
    if (len <= c->params.min_size)
        return is_eof || len >= max ? len : 0;
    size_t end = len < max ? len : max;
    size_t normal = c->params.avg_size < end ? c->params.avg_size : end;
    uint64_t h = 0;
    size_t i = c->params.min_size;
    const uint64_t *gear = c->gear;
    for (; i < normal; i++) {
        h = (h << 1) + gear[data[i]];
        if (!(h & c->mask_small))
            return i + 1;
    }
    for (; i < end; i++) {
        h = (h << 1) + gear[data[i]];
        if (!(h & c->mask_large))
            return i + 1;
    }
    if (end == max || is_eof)
        return end;
    return 0;
}
