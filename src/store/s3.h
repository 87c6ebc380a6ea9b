/*
 * s3.h — the S3 store driver's settings and opening (the driver itself is
 * reached through store.h like the local one).
 *
 * Settings come from coffer.yaml's s3: block and the environment; the
 * command layer merges them (s3_settings_from_env, cli.h) and the driver
 * reads nothing else. Credentials come from the environment or an AWS
 * shared credentials file, never from coffer.yaml.
 */
#ifndef COFFER_STORE_S3_H
#define COFFER_STORE_S3_H

#include <stdbool.h>

#include "util/error.h"

#define S3_DEFAULT_CONNECTIONS 4
#define S3_DEFAULT_RETRY_SECONDS 120

/* Every string is borrowed: the caller keeps it alive while the store is
 * opened (the store copies what it keeps). NULL or 0: the default. */
struct s3_settings {
    const char *endpoint;      /* "https://host[:port]"; NULL: AWS for the region */
    const char *region;        /* NULL: us-east-1 */
    int path_style;            /* 1 path style, 0 virtual-hosted, -1 default (path style with an endpoint) */
    const char *access_key;    /* NULL: from credentials_file */
    const char *secret_key;
    const char *session_token; /* or NULL */
    const char *credentials_file; /* AWS shared credentials file; NULL: home's .aws/credentials */
    const char *home;          /* whose .aws/credentials to read without credentials_file, or NULL */
    const char *profile;       /* its section; NULL: "default" */
    unsigned retry_seconds;    /* how long a request is retried in all; 0: S3_DEFAULT_RETRY_SECONDS */
    const char *ca_file;       /* CAs to trust for https (private CAs), or NULL: the system's */
    unsigned connections;      /* pack uploads in flight; 0: S3_DEFAULT_CONNECTIONS */
    const char *data_class;    /* storage class of packs (data/), or NULL: the bucket's default */
    const char *metadata_class; /* of everything else, or NULL */
    /* A user's bucket, not a repository (the bucket source, and where it
     * restores to): opening it needs no objects, and nothing is ever
     * written to find out what the server can do (no probe objects). */
    bool is_plain_bucket;
};

/* Whether a storage class can be read at once (not GLACIER or DEEP_ARCHIVE,
 * which need a restore request first), and is one S3 knows. NULL: fine;
 * else why not. */
const char *s3_check_storage_class(const char *name);

/* The access key, secret and session token of profile in an AWS shared
 * credentials file (INI: "[profile]" then "key = value" lines). The
 * results are the caller's to free (the secret with secret_free). */
int s3_read_credentials(const char *path, const char *profile, char **access_key, char **secret_key,
                        char **session_token, struct error *err);

/* Opens s3://BUCKET[/PREFIX]: the bucket must answer; without is_create
 * the prefix must hold objects (ERR_NOT_FOUND if none: S3 has no empty
 * folders), unless it is a plain bucket. With is_create, the first put (or store_has_atomic_create)
 * finds out whether the server honours conditional writes
 * (If-None-Match: *) and records it for store_put_new. */
int s3_store_open(const char *location, const struct s3_settings *settings, bool is_create, void **impl,
                  struct error *err);

#endif
