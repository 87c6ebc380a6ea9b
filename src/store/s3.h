/*
 * s3.h — the S3 store driver's settings and opening (the driver itself is
 * reached through store.h like the local one).
 */
#ifndef COFFER_STORE_S3_H
#define COFFER_STORE_S3_H

#include <stdbool.h>

#include "util/error.h"

struct s3_settings {
    const char *endpoint;      /* "https://host[:port]"; NULL: AWS for the region */
    const char *region;        /* NULL: us-east-1 */
    int path_style;            /* 1 path style, 0 virtual-hosted, -1 default (path style with an endpoint) */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* or NULL */
    unsigned retry_seconds;    /* 0: 120 */
    const char *ca_file;       /* CAs to trust for https (private CAs), or NULL: the system's */
};

/* From COFFER_S3_ENDPOINT, COFFER_S3_REGION, COFFER_S3_PATH_STYLE
 * (true/false), COFFER_S3_RETRY_SECONDS, COFFER_S3_CA_FILE and AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. The strings stay the
 * environment's. */
void s3_settings_from_env(struct s3_settings *s);

/* Opens s3://BUCKET[/PREFIX]: the bucket must answer; with is_create the
 * prefix must hold no repository, without it one must be there. */
int s3_store_open(const char *location, const struct s3_settings *settings, bool is_create, void **impl,
                  struct error *err);

#endif
