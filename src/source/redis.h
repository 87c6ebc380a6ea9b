/*
 * redis.h — the Redis source: the server's RDB snapshot, taken as a replica.
 *
 * coffer connects the way a replica (or `redis-cli --rdb`) does and asks
 * for a full synchronisation: the server forks, writes its dataset in RDB
 * format, and sends it. Nothing needs access to the server's disk (no
 * docker cp, no path to dump.rdb), and a remote or managed server works the
 * same. The RDB streams into the snapshot as dump.rdb; its length, its end
 * marker and its CRC-64 are checked before the snapshot is recorded, so a
 * transfer cut short or damaged never looks like a backup.
 *
 * Metadata: redis_version, used_memory, keys per database, RDB version.
 * The password (URL or password_file) goes to the server only, in AUTH.
 * rediss:// connects over TLS: the server's certificate must chain to the
 * system's CAs (or tls_ca_file) and name the host.
 */
#ifndef COFFER_SOURCE_REDIS_H
#define COFFER_SOURCE_REDIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "source/source.h"

#define REDIS_RDB_NAME "dump.rdb"

/* A redis source's coffer.yaml keys (its row in types.c reads them). */
struct redis_settings {
    char *url;           /* redis[s]://[user@]host[:port][/db], without a password */
    char *password_file; /* the AUTH password; NULL: none */
    char *tls_ca_file;   /* rediss://: the CAs to trust; NULL: the system's */
};

/* Backs up a server's RDB (settings: struct redis_settings) into ctx->snapshot. */
int redis_backup(struct backup_ctx *ctx, const void *settings, struct error *err);
/* Its probe: connects and authenticates as a backup would, and asks INFO. */
int redis_probe(const void *settings, char *what, size_t size, struct error *err);

/* ---- the wire formats, for the fuzz harness (tests/fuzz/fuzz_redis.c) -- */

#define REDIS_REPLY_MAX (1u << 19) /* a longer simple reply (INFO, AUTH, REPLCONF) is refused */
/* One reply at the start of in[0, len): a status or error line (with its
 * '+' or '-'), an integer line, or a bulk string (its bytes). Returns 1 with
 * *reply (NUL-terminated, the caller frees it) and *used bytes consumed,
 * 0 when more bytes are needed, -1 when it is malformed. */
int redis_reply_parse(const uint8_t *in, size_t len, char **reply, size_t *used, struct error *err);
/* The length of the RDB in the server's "$<length>" answer to SYNC, or -1. */
long long redis_sync_length(const char *line, struct error *err);
/* {"redis_version", "used_memory", "keys": {"db0": n, ...}, "expires": ...}
 * from an INFO text. */
json_t *redis_info_meta(const char *info);

/* The RDB as it streams by: every byte but the last 8 (its CRC-64) is
 * passed to write as it arrives; finish checks the "REDIS" magic, the end
 * marker 0xff and the CRC, then writes the CRC bytes too. A checksum of
 * zero (rdbchecksum off) is reported in *is_unchecked. */
struct rdb_stream {
    int (*write)(void *ctx, const uint8_t *data, size_t len, struct error *err);
    void *ctx;
    uint64_t crc;        /* of the bytes passed on, CRC field excluded */
    uint64_t bytes;      /* passed on */
    uint8_t head[9];     /* "REDIS" and four digits */
    size_t head_len;
    uint8_t last;        /* the last byte passed on */
    uint8_t tail[16];    /* held back: the last 8 bytes so far */
    size_t tail_len;
};
int rdb_stream_push(struct rdb_stream *s, const uint8_t *data, size_t len, struct error *err);
int rdb_stream_finish(struct rdb_stream *s, bool *is_unchecked, struct error *err);

#endif
