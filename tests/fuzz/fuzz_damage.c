/*
 * fuzz_damage.c — damage records (repo/damage.c's damage_decode): the JSON
 * plaintext of damage/<id> once opened, which every backup applies to its
 * index. A record that decodes encodes to one that decodes to the same
 * blobs and missing packs.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/damage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc)
        return 0;
    struct damage_list list = {0}, back = {0};
    struct error err;
    if (damage_decode(doc, &list, &err) == 0) {
        json_t *again = damage_encode(&list);
        FUZZ_CHECK(damage_decode(again, &back, &err) == 0);
        FUZZ_CHECK(back.count == list.count && back.missing_count == list.missing_count);
        for (size_t i = 0; i < list.count; i++) {
            FUZZ_CHECK(!memcmp(back.blobs[i].id, list.blobs[i].id, CRYPTO_ID_SIZE));
            FUZZ_CHECK(!strcmp(back.blobs[i].cause, list.blobs[i].cause));
        }
        json_decref(again);
    }
    damage_free(&list);
    damage_free(&back);
    json_decref(doc);
    return 0;
}
