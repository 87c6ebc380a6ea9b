/*
 * fuzz_lock.c — lock objects (repo/lock.c's lock_info_parse): the JSON
 * plaintext of locks/<id> once opened, which every locker reads to decide
 * whether it may go on, and whether a holder is certainly gone. A lock
 * that parses has a host, a nonce and a boot id that fit their fields,
 * whatever length the document gave them.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/lock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc)
        return 0;
    struct lock_info info;
    memset(&info, 0, sizeof info);
    if (lock_info_parse(doc, &info) == 0) {
        FUZZ_CHECK(memchr(info.host, '\0', sizeof info.host) != NULL);
        FUZZ_CHECK(memchr(info.nonce, '\0', sizeof info.nonce) != NULL);
        FUZZ_CHECK(memchr(info.boot, '\0', sizeof info.boot) != NULL);
    }
    json_decref(doc);
    return 0;
}
