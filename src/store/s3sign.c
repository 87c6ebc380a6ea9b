/*
 * s3sign.c — AWS Signature Version 4 (see s3sign.h).
 */
#include "store/s3sign.h"

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

void s3_sha256_hex(const void *data, size_t len, char out[S3_SHA256_HEX])
{
    unsigned char digest[32];
    unsigned int n = 0;
    EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL);
    hex_encode(digest, sizeof digest, out);
}

static void hmac(const void *key, size_t key_len, const char *data, unsigned char out[32])
{
    size_t n = 0;
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, (const unsigned char *)data, strlen(data), out, 32,
              &n);
}

void s3_uri_encode(const char *s, bool keep_slash, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool is_plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash);
        if (is_plain) {
            buf_append(out, &c, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(out, esc, 3);
        }
    }
}

static void append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void s3_sign(const char *access_key, const char *secret_key, const struct s3_request *r, struct buf *out)
{
    /* The canonical request, and the list of signed header names. */
    struct buf canonical = BUF_INIT, names = BUF_INIT;
    append_str(&canonical, r->method);
    append_str(&canonical, "\n");
    append_str(&canonical, r->path);
    append_str(&canonical, "\n");
    append_str(&canonical, r->query);
    append_str(&canonical, "\n");
    for (size_t i = 0; i < r->header_count; i++) {
        append_str(&canonical, r->headers[i].name);
        append_str(&canonical, ":");
        append_str(&canonical, r->headers[i].value);
        append_str(&canonical, "\n");
        if (i)
            append_str(&names, ";");
        append_str(&names, r->headers[i].name);
    }
    buf_append(&names, "", 1);
    append_str(&canonical, "\n");
    append_str(&canonical, (const char *)names.data);
    append_str(&canonical, "\n");
    append_str(&canonical, r->payload_sha256);

    /* The string to sign: algorithm, time, scope, the canonical request's hash. */
    char date[9], scope[256], canonical_hash[S3_SHA256_HEX];
    snprintf(date, sizeof date, "%.8s", r->amz_date);
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, r->region, r->service);
    s3_sha256_hex(canonical.data, canonical.len, canonical_hash);
    char to_sign[512];
    snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", r->amz_date, scope, canonical_hash);

    /* The signing key: the secret, narrowed by date, region, service. */
    size_t first_len = strlen(secret_key) + 5;
    char *first = xmalloc(first_len);
    unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], signature[32];
    snprintf(first, first_len, "AWS4%s", secret_key);
    hmac(first, strlen(first), date, k_date);
    hmac(k_date, 32, r->region, k_region);
    hmac(k_region, 32, r->service, k_service);
    hmac(k_service, 32, "aws4_request", k_signing);
    hmac(k_signing, 32, to_sign, signature);
    char signature_hex[65];
    hex_encode(signature, 32, signature_hex);

    buf_reset(out);
    char head[512];
    snprintf(head, sizeof head, "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=", access_key, scope);
    append_str(out, head);
    append_str(out, (const char *)names.data);
    append_str(out, ",Signature=");
    append_str(out, signature_hex);
    buf_append(out, "", 1);
    out->len--; /* NUL-terminated, not counted */

    /* Keys derived from the secret do not outlive the call. */
    OPENSSL_cleanse(first, first_len);
    free(first);
    OPENSSL_cleanse(k_date, sizeof k_date);
    OPENSSL_cleanse(k_region, sizeof k_region);
    OPENSSL_cleanse(k_service, sizeof k_service);
    OPENSSL_cleanse(k_signing, sizeof k_signing);
    buf_free(&canonical);
    buf_free(&names);
}
