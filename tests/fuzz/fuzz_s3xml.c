/*
 * fuzz_s3xml.c — libFuzzer harness for the reader of S3's XML answers
 * (src/store/s3xml.c): the bytes of an untrusted server's body go to the
 * listing parser and the error-body parser, as the S3 driver hands them.
 *
 * The whole input is the body (so the seeds are real bodies); its length
 * picks the content type quoted in messages, so that quoting is fuzzed
 * too. Beyond "no crash, no
 * leak, no undefined behaviour", it checks what a caller relies on: a
 * listing that parses has its counts consistent, non-empty keys and, when
 * truncated, a non-empty token; a refusal leaves nothing allocated and a
 * message that names the request.
 *
 *   clang -g -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_s3xml.c src/store/s3xml.c \
 *       src/util/buf.c src/util/error.c $(pkg-config --cflags --libs expat)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3xml.h"

#define WHAT "S3 listing of repo/data/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {NULL, "application/xml", "text/html", "text/plain; charset=\x01\x7f"};
    const char *type = types[size % 4];
    const uint8_t *body = data;
    size_t len = size;

    struct s3xml_listing l;
    struct error err;
    if (s3xml_listing_parse(WHAT, type, body, len, &l, &err) == 0) {
        if (l.count + l.prefix_count < l.count)
            abort();
        for (size_t i = 0; i < l.count; i++)
            if (!l.objects[i].key[0])
                abort();
        if (l.is_truncated != (l.next_token != NULL) || (l.next_token && !l.next_token[0]))
            abort();
        struct s3xml_tokens seen = {0};
        if (l.next_token && (s3xml_tokens_add(&seen, WHAT, l.next_token, &err) < 0 ||
                             s3xml_tokens_add(&seen, WHAT, l.next_token, &err) == 0))
            abort(); /* the first is new, the second a repeat */
        s3xml_tokens_free(&seen);
        s3xml_listing_free(&l);
    } else {
        if (l.objects || l.count || l.next_token || strncmp(err.msg, WHAT, strlen(WHAT)))
            abort();
    }

    struct s3xml_error e;
    if (s3xml_error_parse(type, body, len, &e, &err) == 0) {
        if (!e.code || !e.code[0])
            abort();
        s3xml_error_free(&e);
    } else if (e.code || e.message || !err.msg[0]) {
        abort();
    }

    char shown[256];
    s3xml_describe_body(type, body, len, shown, sizeof shown);
    if (strlen(shown) >= sizeof shown)
        abort();
    return 0;
}
