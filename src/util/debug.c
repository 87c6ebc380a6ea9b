/*
 * debug.c — debug lines on stderr (see debug.h).
 */
#include "util/debug.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool debug_is_on(void)
{
    const char *v = getenv("COFFER_DEBUG");
    return v && *v && strcmp(v, "0") != 0;
}

void debug_log(const char *fmt, ...)
{
    if (!debug_is_on())
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "coffer: debug: %s\n", line); /* one call: lines of threads do not interleave */
}
