/*
 * fuzz_exclude.c — exclude patterns (source/exclude.c), as coffer.yaml
 * gives them. Input: lines; those before the first empty line are
 * patterns, the rest are paths matched against them, as a file and as a
 * directory. exclude_new must accept exactly the patterns exclude_check
 * finds no fault with, and matching any path (absolute or not) is safe.
 */
#include <stdint.h>

#include "fuzzing.h"
#include "source/exclude.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t count;
    char **lines = fuzz_lines(data, size, &count);
    size_t patterns = 0;
    while (patterns < count && lines[patterns][0])
        patterns++;
    bool is_fine = true;
    for (size_t i = 0; i < patterns; i++)
        if (exclude_check(lines[i]))
            is_fine = false;
    struct error err;
    struct exclude *ex = exclude_new((const char *const *)lines, patterns, &err);
    FUZZ_CHECK((ex != NULL) == is_fine);
    for (size_t i = patterns + 1; ex && i < count; i++) {
        exclude_matches(ex, lines[i], false);
        exclude_matches(ex, lines[i], true);
    }
    exclude_free(ex);
    fuzz_lines_free(lines, count);
    return 0;
}
