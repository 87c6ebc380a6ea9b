/*
 * fuzz_text.c — the text parsers of util/text.c that read stored and typed
 * values: RFC 3339 times (snapshots, locks, --time), sizes (coffer.yaml,
 * init --chunk-size), durations (coffer.yaml) and hex ids.
 *
 * The input is one string. Beyond "no crash, no read past the end", a time
 * that parses must print and parse back to the same instant, and a size or
 * duration that parses must print back (size_format / duration_format)
 * without trouble.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzzing.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    int64_t t;
    int32_t ns;
    if (time_parse_rfc3339(s, &t, &ns) == 0) {
        FUZZ_CHECK(ns >= 0 && ns < 1000000000);
        /* Years 0001..9999 print as four digits and must read back. */
        if (t >= -62135596800 && t <= 253402300799) {
            char out[40];
            int64_t back;
            int32_t back_ns;
            time_format_rfc3339_precise(t, ns, out);
            FUZZ_CHECK(time_parse_rfc3339(out, &back, &back_ns) == 0);
            FUZZ_CHECK(back == t);
            FUZZ_CHECK(back_ns == ns / 1000 * 1000);
        }
    }
    uint64_t v;
    char out[32];
    if (size_parse(s, &v) == 0)
        size_format(v, out);
    if (duration_parse(s, &v) == 0)
        duration_format(v, out);
    uint8_t bin[32];
    hex_decode(s, bin, sizeof bin);
    is_hex(s);
    free(s);
    return 0;
}
