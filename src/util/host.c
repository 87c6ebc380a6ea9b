/*
 * host.c — the host name (host.h).
 */
#include "util/host.h"

#include <stdio.h>
#include <unistd.h>

void host_name(char *out, size_t size)
{
    if (gethostname(out, size) < 0)
        snprintf(out, size, "unknown");
    out[size - 1] = '\0';
}
