/*
 * fuzz_pack.c — pack headers (repo/pack.c's pack_header_read).
 *
 * A header is sealed, so random bytes never get past authentication; the
 * parsing that matters happens after it. The harness therefore builds a
 * pack around the input: the first two bytes give the length of the blob
 * area (filled with zeros), the rest is the header's plaintext, sealed
 * with the fixed test key under the pack's id, followed by its length, as
 * pack_builder_finish writes it. Every 16th input (by its first byte) is
 * also read as a raw pack, for the length checks before authentication.
 * A header that reads must describe blobs that tile the blob area.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzzing.h"
#include "repo/pack.h"
#include "repo/repo_int.h" /* seals with the master key by hand */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct repo *repo = fuzz_repo();
    struct error err;
    struct pack_record rec = {0};
    memset(rec.id, 0x5a, sizeof rec.id);
    if (size > 0 && data[0] % 16 == 0) {
        pack_header_read(repo, data, size, &rec, &err);
        pack_record_free(&rec);
    }
    if (size < 2)
        return 0;
    size_t area = (size_t)data[0] | (size_t)data[1] << 8;
    const uint8_t *plain = data + 2;
    size_t plain_len = size - 2;
    size_t sealed_len = plain_len + CRYPTO_SEAL_OVERHEAD;
    size_t len = area + sealed_len + 4;
    uint8_t *pack = calloc(1, len);
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_PACK_HEADER, rec.id, ad);
    crypto_seal(repo->key.enc, ad, ad_len, plain, plain_len, pack + area);
    for (int i = 0; i < 4; i++)
        pack[len - 4 + i] = (uint8_t)(sealed_len >> (8 * i));
    memset(&rec, 0, sizeof rec);
    memset(rec.id, 0x5a, sizeof rec.id);
    if (pack_header_read(repo, pack, len, &rec, &err) == 0) {
        uint64_t end = 0;
        for (size_t i = 0; i < rec.count; i++) {
            FUZZ_CHECK(rec.blobs[i].offset == end);
            end += rec.blobs[i].length;
        }
        FUZZ_CHECK(end == area);
    }
    pack_record_free(&rec);
    free(pack);
    return 0;
}
