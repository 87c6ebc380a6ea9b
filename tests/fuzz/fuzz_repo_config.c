/*
 * fuzz_repo_config.c — the repository's config object (repo/repo.c's
 * repo_config_decode): its JSON plaintext once opened, which every command
 * reads first. A config that decodes has chunk sizes the chunker accepts
 * (all three kinds) and a pack size in range, and encodes to a config that decodes the same.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct repo_config c, back;
    struct error err;
    memset(&c, 0, sizeof c);
    if (repo_config_decode(data, size, &c, &err) < 0)
        return 0;
    FUZZ_CHECK(chunker_params_check(&c.stream_chunks, &err) == 0);
    FUZZ_CHECK(chunker_params_check(&c.file_chunks, &err) == 0);
    FUZZ_CHECK(c.pack_size >= (1u << 20) && c.pack_size <= (1u << 30));
    /* (A config without chunks.database once decoded with database chunk
     * sizes 0/0/0, found here: it now gets the defaults.) */
    FUZZ_CHECK(chunker_params_check(&c.database_chunks, &err) == 0);
    struct buf again = BUF_INIT;
    repo_config_encode(&c, &again);
    memset(&back, 0, sizeof back);
    FUZZ_CHECK(repo_config_decode(again.data, again.len, &back, &err) == 0);
    FUZZ_CHECK(back.pack_size == c.pack_size && back.zstd_level == c.zstd_level);
    FUZZ_CHECK(memcmp(&back.stream_chunks, &c.stream_chunks, sizeof c.stream_chunks) == 0);
    buf_free(&again);
    return 0;
}
