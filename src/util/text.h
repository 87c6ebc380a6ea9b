/*
 * text.h — small text helpers: hex, RFC 3339 times, byte sizes.
 */
#ifndef COFFER_UTIL_TEXT_H
#define COFFER_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Writes 2*len hex digits and a NUL to out. */
void hex_encode(const uint8_t *bin, size_t len, char *out);
/* Parses exactly 2*len hex digits; returns 0 or -1. */
int hex_decode(const char *hex, uint8_t *bin, size_t len);
bool is_hex(const char *s);

/* "2025-01-05T02:00:00Z" (UTC) into out[32]. */
void time_format_rfc3339(int64_t unix_seconds, char out[32]);
/* The same with microseconds when nanos is not 0: "...T02:00:00.250000Z". */
void time_format_rfc3339_precise(int64_t unix_seconds, int32_t nanos, char out[40]);
/* Accepts RFC 3339's date-time exactly: YYYY-MM-DDTHH:MM:SS[.fraction]
 * with Z or ±HH:MM, every field its full number of digits and in range;
 * returns 0, or -1 on anything else. nanos (may be NULL) gets the
 * fraction (its first nine digits). */
int time_parse_rfc3339(const char *s, int64_t *unix_seconds, int32_t *nanos);

/* "1.5 GiB" style, into out[32]. */
void size_format(uint64_t bytes, char out[32]);
/* Accepts "65536", "64K", "64KiB", "1M", "1MiB", "2G"; returns 0, or -1 on
 * anything else, a value over 64 bits included. */
int size_parse(const char *s, uint64_t *bytes);

/* Accepts a sum of whole numbers with units, such as "90s", "15m" (minutes),
 * "1h30m", "25h", "2d", "1w" ("0s" is 0); returns 0, or -1 on anything
 * else, overflow included. */
int duration_parse(const char *s, uint64_t *seconds);
/* The edits (insert, delete, replace a byte) that make a into b, for
 * "did you mean" lists; names longer than 63 bytes count as far apart. */
unsigned text_distance(const char *a, const char *b);

/* "2d 3h", "1h 30m", "45s": the two largest units, into out[32]. */
void duration_format(uint64_t seconds, char out[32]);

#endif
