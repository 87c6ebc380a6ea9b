/*
 * fuzz_redis.c — what a Redis server (or anything on its port) sends
 * (source/redis.c): the replies to AUTH, INFO and REPLCONF, the INFO text
 * turned into metadata, the "$<length>" answer to SYNC and the RDB stream's
 * checks (magic, end marker, CRC-64).
 *
 * The first byte chooses the piece size (1..256) the rest arrives in. The
 * rest is read as replies, as the connection reads them, until one is
 * malformed or incomplete; each complete reply is also read as INFO text
 * and as a SYNC answer. Then the whole rest streams through an rdb_stream:
 * it must pass on every byte but the last 8 before finish, and finish must
 * accept it exactly when it is a well-formed RDB ending.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzing.h"
#include "source/redis.h"
#include "util/crc64.h"

struct sink {
    uint64_t bytes;
};

static int count_bytes(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    ((struct sink *)ctx)->bytes += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    data++;
    size--;
    struct error err;

    /* Replies, as conn_reply takes them off a buffer that fills piecewise. */
    size_t at = 0, have = 0;
    for (;;) {
        char *reply = NULL;
        size_t used = 0;
        int rc = redis_reply_parse(data + at, have - at, &reply, &used, &err);
        if (rc < 0)
            break;
        if (rc == 0) {
            if (have == size)
                break;
            have = size - have < piece ? size : have + piece;
            continue;
        }
        FUZZ_CHECK(used > 0 && used <= have - at);
        at += used;
        json_t *meta = redis_info_meta(reply);
        FUZZ_CHECK(meta != NULL);
        json_decref(meta);
        long long length = redis_sync_length(reply, &err);
        FUZZ_CHECK(length == -1 || length > 0);
        free(reply);
    }

    /* The RDB stream. */
    struct sink sink = {0};
    struct rdb_stream s = {.write = count_bytes, .ctx = &sink};
    int rc = 0;
    for (at = 0; at < size && rc == 0; at += piece)
        rc = rdb_stream_push(&s, data + at, size - at < piece ? size - at : piece, &err);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(sink.bytes == (size < 8 ? 0 : size - 8));
    bool is_unchecked = false;
    rc = rdb_stream_finish(&s, &is_unchecked, &err);
    bool is_rdb = size >= 9 + 8 && memcmp(data, "REDIS", 5) == 0 && data[size - 9] == 0xff;
    if (rc == 0) {
        FUZZ_CHECK(is_rdb);
        FUZZ_CHECK(sink.bytes == size);
        uint64_t stored = 0;
        for (int i = 0; i < 8; i++)
            stored |= (uint64_t)data[size - 8 + i] << (8 * i);
        FUZZ_CHECK(stored == 0 || stored == crc64_update(0, data, size - 8));
    }
    return 0;
}
