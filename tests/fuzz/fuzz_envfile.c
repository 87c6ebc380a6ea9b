/*
 * fuzz_envfile.c — .env files (source/envfile.c's envfile_redact), whose
 * bytes are whatever the application's file holds. With no words and no
 * URL the output must equal the input; with the default words and a value
 * pattern the output is produced for any bytes, redacting that output
 * again changes nothing that was already redacted (it never grows a secret
 * back), and no URL in either output keeps a password: between "://" and
 * the URL's last @ there is nothing but a user, ":" and [REDACTED].
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "source/envfile.h"

static bool ends_url(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '`';
}

/* Whether every URL's password (its whole user part, without a :) is empty or [REDACTED]. */
static bool hides_every_url_password(const uint8_t *t, size_t len)
{
    static const char hidden[] = ENVFILE_REDACTED;
    size_t hidden_len = sizeof hidden - 1;
    for (size_t s = 0; s + 3 <= len; s++) {
        if (memcmp(t + s, "://", 3) != 0)
            continue;
        size_t start = s + 3, end = start, at = 0;
        for (; end < len && !ends_url(t[end]); end++)
            if (t[end] == '@')
                at = end;
        if (!at)
            continue;
        const uint8_t *colon = memchr(t + start, ':', at - start);
        size_t from = colon ? (size_t)(colon - t) + 1 : start;
        size_t n = at - from;
        if (n != 0 && !(n == hidden_len && !memcmp(t + from, hidden, hidden_len)))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const words[] = {"KEY", "SECRET", "PASSWORD", "TOKEN", "value:sk_*_?x*"};
    struct buf same = BUF_INIT, redacted = BUF_INIT, twice = BUF_INIT;
    envfile_redact((const char *)data, size, NULL, 0, &same);
    bool has_url = size >= 3 && memmem(data, size, "://", 3);
    FUZZ_CHECK(has_url || (same.len == size && (size == 0 || memcmp(same.data, data, size) == 0)));
    FUZZ_CHECK(hides_every_url_password(same.data, same.len));
    envfile_redact((const char *)data, size, words, 5, &redacted);
    FUZZ_CHECK(hides_every_url_password(redacted.data, redacted.len));
    envfile_redact((const char *)redacted.data, redacted.len, words, 5, &twice);
    FUZZ_CHECK(hides_every_url_password(twice.data, twice.len));
    buf_free(&same);
    buf_free(&redacted);
    buf_free(&twice);
    return 0;
}
