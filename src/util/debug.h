/*
 * debug.h — lines for whoever is chasing a problem: with COFFER_DEBUG=1 in
 * the environment, "coffer: debug: ..." on stderr (each S3 retry, say).
 * Off by default, so normal output stays what the commands print. Never
 * give it a secret.
 */
#ifndef COFFER_UTIL_DEBUG_H
#define COFFER_UTIL_DEBUG_H

#include <stdbool.h>

bool debug_is_on(void);
void debug_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
