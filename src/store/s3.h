/*
 * s3.h — the S3 store driver's settings and opening (the driver itself is
 * reached through store.h like the local one).
 *
 * Settings come from coffer.yaml's s3: block and the environment (the
 * command layer merges them); credentials come from the environment or an
 * AWS shared credentials file, never from coffer.yaml.
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
    const char *credentials_file; /* AWS shared credentials file; NULL: $AWS_SHARED_CREDENTIALS_FILE,
                                     then ~/.aws/credentials */
    const char *profile;       /* its section; NULL: $AWS_PROFILE, then "default" */
    unsigned retry_seconds;    /* how long a request is retried in all; 0: S3_DEFAULT_RETRY_SECONDS */
    const char *ca_file;       /* CAs to trust for https (private CAs), or NULL: the system's */
    unsigned connections;      /* pack uploads in flight; 0: S3_DEFAULT_CONNECTIONS */
    const char *data_class;    /* storage class of packs (data/), or NULL: the bucket's default */
    const char *metadata_class; /* of everything else, or NULL */
};

/* Sets what the environment says over what s holds: COFFER_S3_ENDPOINT,
 * COFFER_S3_REGION (else AWS_REGION), COFFER_S3_PATH_STYLE (true/false),
 * COFFER_S3_RETRY_SECONDS, COFFER_S3_CA_FILE, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. The strings stay the
 * environment's. A malformed value fails (ERR_USAGE) naming the variable. */
int s3_settings_from_env(struct s3_settings *s, struct error *err);

/* Whether a storage class can be read at once (not GLACIER or DEEP_ARCHIVE,
 * which need a restore request first), and is one S3 knows. NULL: fine;
 * else why not. */
const char *s3_check_storage_class(const char *name);

/* The access key, secret and session token of profile in an AWS shared
 * credentials file (INI: "[profile]" then "key = value" lines). The
 * results are the caller's to free (the secret with secret_free). */
int s3_read_credentials(const char *path, const char *profile, char **access_key, char **secret_key,
                        char **session_token, struct error *err);

/* Opens s3://BUCKET[/PREFIX]: the bucket must answer; with is_create the
 * prefix must hold no repository, without it one must be there. At
 * create, finds out whether the server honours conditional writes
 * (If-None-Match: *) and records it for store_put_new. */
int s3_store_open(const char *location, const struct s3_settings *settings, bool is_create, void **impl,
                  struct error *err);

#endif
