/*
 * fuzz_snapshot.c — snapshot documents (repo/snapshot.c's snapshot_decode):
 * the JSON plaintext of snapshots/<id> once opened. A snapshot that decodes
 * must encode again and decode to the same time, source and root. Its
 * metadata's table list (postgres_snapshot_tables, for restore --table and
 * diff) is read from whatever the document holds: -1 or that many named
 * tables, never a crash.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/snapshot.h"
#include "source/postgres.h"
#include "source/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snapshot snap;
    memset(&snap, 0, sizeof snap); /* a decode that fails early leaves it untouched */
    struct error err;
    if (snapshot_decode(data, size, &snap, &err) == 0) {
        struct buf again = BUF_INIT;
        snapshot_encode(&snap, &again);
        struct snapshot back;
        FUZZ_CHECK(snapshot_decode(again.data, again.len, &back, &err) == 0);
        FUZZ_CHECK(back.time == snap.time);
        FUZZ_CHECK(strcmp(back.source, snap.source) == 0);
        FUZZ_CHECK(memcmp(back.root, snap.root, CRYPTO_ID_SIZE) == 0);
        FUZZ_CHECK(back.tags.count == snap.tags.count);
        snapshot_free(&back);
        buf_free(&again);
        struct table_rows *tables;
        long count = postgres_snapshot_tables(&snap, &tables);
        FUZZ_CHECK(count >= -1);
        FUZZ_CHECK(count != -1 || tables == NULL);
        for (long i = 0; i < count; i++)
            FUZZ_CHECK(tables[i].name && tables[i].name[0]);
        table_rows_free(tables, count > 0 ? (size_t)count : 0);
    }
    snapshot_free(&snap);
    return 0;
}
