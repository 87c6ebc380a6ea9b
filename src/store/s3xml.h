/*
 * s3xml.h — reading the XML that S3 answers with: ListObjectsV2 pages
 * and <Error> bodies.
 *
 * A listing decides what a repository holds, and prune deletes what it
 * does not see, so a page is taken only when it is exactly what S3 sends:
 * a ListBucketResult root (no namespace, or S3's), a KeyCount equal to the
 * entries that came, an IsTruncated, a non-empty NextContinuationToken when
 * truncated, each <Contents> with one <Key> and one <Size> of plain decimal
 * digits, and at most one non-empty <LastModified> and <ETag> (kept as
 * sent: the bucket source compares them to know what changed). A body
 * that is anything else — an HTML page from a proxy, XML cut short, a
 * page without its counts — is an error naming what was wrong,
 * never an empty listing. Text is entity-decoded and may be of any length.
 *
 * Pure functions over bytes (expat underneath, no network), so the unit
 * tests and the fuzzer call exactly what the S3 driver calls.
 */
#ifndef COFFER_STORE_S3XML_H
#define COFFER_STORE_S3XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct s3xml_object {
    char *key; /* decoded, non-empty, NUL-terminated (XML cannot carry a NUL) */
    uint64_t size;
    char *modified; /* <LastModified> as sent ("2026-12-04T10:00:00.000Z"), or NULL if absent */
    char *etag;     /* <ETag> as sent, quotes included, or NULL if absent */
};

/* One page of a ListObjectsV2 answer. Owns its strings. */
struct s3xml_listing {
    struct s3xml_object *objects;
    size_t count;
    size_t prefix_count; /* <CommonPrefixes> (coffer asks for no delimiter, so 0) */
    bool is_truncated;
    char *next_token; /* non-empty when is_truncated, else NULL */
};

/* Parses one page. `what` names the request for messages ("S3 listing of
 * repo/data/"); `content_type` is the answer's Content-Type header or NULL,
 * only quoted in messages. On success fills *out (free it with
 * s3xml_listing_free); on failure *out is empty and err says, after
 * `what`, what was wrong. */
int s3xml_listing_parse(const char *what, const char *content_type, const void *body, size_t len,
                        struct s3xml_listing *out, struct error *err);
void s3xml_listing_free(struct s3xml_listing *listing);

/* The continuation tokens one listing has followed: a server that hands
 * back a token it gave before would make the listing go round forever or
 * repeat keys, so that is an error. */
struct s3xml_tokens {
    char **tokens;
    size_t count;
};

/* Records token; -1 with err ("<what>: the server sent continuation token
 * … again, after page N") if it was recorded before. */
int s3xml_tokens_add(struct s3xml_tokens *seen, const char *what, const char *token, struct error *err);
void s3xml_tokens_free(struct s3xml_tokens *seen);

/* An S3 error body: <Error><Code>…</Code><Message>…</Message>…</Error>. */
struct s3xml_error {
    char *code;    /* non-empty */
    char *message; /* or NULL; line breaks made spaces */
};

/* 0 and *out filled (free with s3xml_error_free) when body is an S3 error
 * document with a Code; -1 otherwise, err saying what the body was instead
 * (for a message such as "HTTP 502, not an S3 error: text/html body
 * starting '<html>'"). */
int s3xml_error_parse(const char *content_type, const void *body, size_t len, struct s3xml_error *out,
                      struct error *err);
void s3xml_error_free(struct s3xml_error *e);

/* "text/html body starting '<html><head>'…" (or "an empty body"): what a
 * body that was not the XML asked for looked like, printable, at most
 * about 80 bytes. */
void s3xml_describe_body(const char *content_type, const void *body, size_t len, char *out, size_t size);

#endif
