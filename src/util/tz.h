/*
 * tz.h — local time in a named zone (IANA, such as Europe/Berlin).
 *
 * The C library converts in one zone per process, the one TZ names; these
 * calls switch TZ for their own duration only, under a mutex, so callers
 * (retention's buckets, the schedule's cron times) each name the zone they
 * mean and never see another's. glibc takes a zone it does not know for
 * UTC without a word, so every call checks that the zone's file exists.
 */
#ifndef COFFER_UTIL_TZ_H
#define COFFER_UTIL_TZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/error.h"

/* 0 when zone (NULL or "UTC": UTC) is known, else -1 with ERR_USAGE. */
int tz_check(const char *zone, struct error *err);

/* The local times of count instants in zone (NULL: UTC) into out, each
 * with tm_gmtoff (seconds east of UTC) and tm_isdst. Fails only for an
 * unknown zone. */
int tz_local_many(const char *zone, const int64_t *times, size_t count, struct tm *out, struct error *err);

/* The same for one instant. */
int tz_local(const char *zone, int64_t t, struct tm *out, struct error *err);

/* For many conversions in a row (the schedule's search): tz_enter makes
 * zone the process's until tz_leave, holding the mutex, and tz_offset
 * converts in it without reading the zone's file again. Do nothing else
 * between the two. */
int tz_enter(const char *zone, struct error *err);
long tz_offset(int64_t t); /* seconds east of UTC at t, in the entered zone */
void tz_leave(void);

#endif
