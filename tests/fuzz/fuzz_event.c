/*
 * fuzz_event.c — event documents (repo/event.c's event_parse): the JSON
 * plaintext of events/<id> once opened, which `status` and partial
 * `check --read-data=N%` read. An event that parses has its kind and time,
 * and event_latest finds it by its kind.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct event e;
    if (event_parse(data, size, &e) < 0)
        return 0;
    FUZZ_CHECK(e.kind && e.doc);
    struct event_list list = {&e, 1, 0};
    FUZZ_CHECK(event_latest(&list, e.kind, NULL) == &e);
    const char *source = json_string_value(json_object_get(e.doc, "source"));
    if (source)
        FUZZ_CHECK(event_latest(&list, e.kind, source) == &e);
    json_decref(e.doc);
    return 0;
}
