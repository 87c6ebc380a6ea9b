/*
 * fuzz_index.c — index files (repo/index.c's index_file_decode): the
 * plaintext of index/<id> once opened, read into an in-memory index. Every
 * blob it reports must be found again by id, in a pack it registered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/index.h"

struct ids {
    uint8_t (*id)[CRYPTO_ID_SIZE];
    size_t count;
};

static void collect(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags)
{
    struct ids *ids = ctx;
    FUZZ_CHECK(pack_id != NULL);
    ids->id = realloc(ids->id, (ids->count + 1) * sizeof *ids->id);
    memcpy(ids->id[ids->count++], e->id, CRYPTO_ID_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct index *idx = index_new();
    struct error err;
    /* Both kinds of file: an index file, and a condemned/ list. */
    uint8_t flags = size && (data[size - 1] & 1) ? INDEX_PACK_CONDEMNED : 0;
    int rc = index_file_decode(idx, data, size, flags, &err);
    /* A file that fails adds nothing (repo_load_index skips it whole). */
    FUZZ_CHECK(rc == 0 || (index_blob_count(idx) == 0 && index_pack_count(idx) == 0));
    struct ids ids = {0};
    index_each(idx, collect, &ids);
    FUZZ_CHECK(ids.count == index_blob_count(idx));
    for (size_t i = 0; i < ids.count; i++) {
        struct index_entry found;
        FUZZ_CHECK(index_find(idx, ids.id[i], &found));
        FUZZ_CHECK(found.pack < index_pack_count(idx));
    }
    free(ids.id);
    index_free(idx);
    return 0;
}
