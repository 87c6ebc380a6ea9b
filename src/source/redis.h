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

#include "source/source.h"

#define REDIS_RDB_NAME "dump.rdb"

struct redis_source {
    const char *url;           /* redis[s]://[user[:password]@]host[:port][/db] */
    const char *password_file; /* overrides a password in the URL; NULL: none */
    const char *tls_ca_file;   /* rediss://: the CAs to trust; NULL: the system's */
};

int redis_backup(struct backup_ctx *ctx, const struct redis_source *src, uint8_t root_out[CRYPTO_ID_SIZE],
                 struct error *err);

#endif
