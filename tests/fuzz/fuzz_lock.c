/*
 * fuzz_lock.c — lock objects (repo/lock.c's lock_info_parse): the JSON
 * plaintext of locks/<id> once opened, which every locker reads to decide
 * whether it may go on, and whether a holder is certainly gone. A lock
 * that parses has a host, a nonce, a boot id and a machine id that fit
 * their fields, whatever length the document gave them (a boot or machine
 * id too long for its field is unknown, never cut short), and a pid
 * namespace that is an inode or 0.
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
        FUZZ_CHECK(memchr(info.machine, '\0', sizeof info.machine) != NULL);
        FUZZ_CHECK(info.pidns <= (uint64_t)INT64_MAX);
        const char *boot = NULL, *machine = NULL;
        json_unpack(doc, "{s?s, s?s}", "boot", &boot, "machine", &machine);
        FUZZ_CHECK(!boot || !info.boot[0] || strcmp(boot, info.boot) == 0);
        FUZZ_CHECK(!machine || !info.machine[0] || strcmp(machine, info.machine) == 0);
    }
    json_decref(doc);
    return 0;
}
