/*
 * s3sign.h — AWS Signature Version 4 for S3 requests.
 *
 * A request is signed by hashing its canonical form (method, path, query,
 * the headers chosen for signing, and the payload's SHA-256) into a
 * "string to sign", which an HMAC-SHA-256 key derived from the secret key,
 * the date, the region and the service signs. The server recomputes the
 * same and compares. This module does only that arithmetic, so the S3
 * driver's HTTP code and the tests against AWS's published examples share
 * it. The secret key never leaves it: what it returns is the Authorization
 * header value.
 */
#ifndef COFFER_STORE_S3SIGN_H
#define COFFER_STORE_S3SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define S3_SHA256_HEX 65 /* 64 hex digits and NUL */

struct s3_header {
    const char *name;  /* lower case */
    const char *value; /* without leading or trailing blanks */
};

struct s3_request {
    const char *method;          /* "GET", "PUT", "DELETE", "HEAD", "POST" */
    const char *path;            /* absolute, already URI-encoded (s3_uri_encode with keep_slash) */
    const char *query;           /* canonical: keys sorted, names and values encoded; "" for none */
    const struct s3_header *headers; /* those to sign, sorted by name; host and x-amz-date among them */
    size_t header_count;
    const char *payload_sha256;  /* hex digest of the body (the empty body's for none) */
    const char *amz_date;        /* "YYYYMMDDTHHMMSSZ", as in x-amz-date */
    const char *region;          /* "us-east-1" */
    const char *service;         /* "s3" */
};

/* The Authorization header value for the request, into out. */
void s3_sign(const char *access_key, const char *secret_key, const struct s3_request *r, struct buf *out);

/* Appends s URI-encoded as SigV4 wants: unreserved characters (A-Z a-z 0-9
 * - . _ ~) as they are, '/' too when keep_slash, everything else %XX. */
void s3_uri_encode(const char *s, bool keep_slash, struct buf *out);

/* Hex SHA-256 of data, into out[S3_SHA256_HEX]. */
void s3_sha256_hex(const void *data, size_t len, char out[S3_SHA256_HEX]);

#endif
