/*
 * host.h — this machine's name as coffer records it (snapshots, keys,
 * locks, events, alerts, the schedule's jitter): gethostname, or "unknown".
 */
#ifndef COFFER_UTIL_HOST_H
#define COFFER_UTIL_HOST_H

#include <stddef.h>

/* The host name into out (size bytes, NUL-terminated, cut if longer). */
void host_name(char *out, size_t size);

#endif
