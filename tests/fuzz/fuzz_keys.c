/*
 * fuzz_keys.c — key files (repo/keys.c's key_file_parse): keys/<id> is
 * plain JSON, unauthenticated, read before any passphrase is asked for
 * (`key list`, and every open). The harness parses only: it never runs the
 * KDF, so a planted file with huge Argon2 limits costs nothing here. A key
 * that parses has positive limits, and its public part fits key_info.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct key_info info;
    struct key_wrapped wrapped;
    struct error err;
    if (key_file_parse("keys/fuzz", data, size, &info, &wrapped, &err) == 0) {
        FUZZ_CHECK(wrapped.params.opslimit > 0 && wrapped.params.memlimit > 0);
        FUZZ_CHECK(memchr(info.created, '\0', sizeof info.created) && memchr(info.host, '\0', sizeof info.host));
    }
    key_file_parse("keys/fuzz", data, size, &info, NULL, &err);
    return 0;
}
