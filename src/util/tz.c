/*
 * tz.c — local time in a named zone (tz.h): TZ set for the length of one
 * call, under a mutex, and put back.
 */
#include "util/tz.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static pthread_mutex_t tz_mutex = PTHREAD_MUTEX_INITIALIZER;

static bool is_utc(const char *zone)
{
    return !zone || !strcmp(zone, "UTC") || !strcmp(zone, "Etc/UTC");
}

int tz_check(const char *zone, struct error *err)
{
    if (is_utc(zone))
        return 0;
    char path[512];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", zone);
    FILE *f = zone[0] == '/' || strstr(zone, "..") ? NULL : fopen(path, "rb");
    if (!f)
        return error_setk(err, ERR_USAGE, "unknown time zone \"%s\" (a name such as Europe/Berlin, as in "
                          "/usr/share/zoneinfo)", zone);
    fclose(f);
    return 0;
}

/* What tz_enter put aside: the TZ to restore, whether the zone is UTC. */
static char *saved_tz;
static bool has_saved_tz, is_entered_utc;

int tz_enter(const char *zone, struct error *err)
{
    if (tz_check(zone, err) < 0)
        return -1;
    pthread_mutex_lock(&tz_mutex);
    is_entered_utc = is_utc(zone);
    if (is_entered_utc)
        return 0;
    has_saved_tz = getenv("TZ") != NULL;
    saved_tz = has_saved_tz ? xstrdup(getenv("TZ")) : NULL;
    setenv("TZ", zone, 1);
    tzset();
    return 0;
}

long tz_offset(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (is_entered_utc)
        return 0;
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

void tz_leave(void)
{
    if (!is_entered_utc) {
        if (has_saved_tz)
            setenv("TZ", saved_tz, 1);
        else
            unsetenv("TZ");
        tzset();
        free(saved_tz);
        saved_tz = NULL;
    }
    pthread_mutex_unlock(&tz_mutex);
}

int tz_local_many(const char *zone, const int64_t *times, size_t count, struct tm *out, struct error *err)
{
    if (tz_enter(zone, err) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        time_t t = (time_t)times[i];
        if (is_entered_utc) {
            gmtime_r(&t, &out[i]);
            out[i].tm_zone = "UTC"; /* as the schedule's timezone: says it, not glibc's "GMT" */
        } else
            localtime_r(&t, &out[i]);
    }
    tz_leave();
    return 0;
}

int tz_local(const char *zone, int64_t t, struct tm *out, struct error *err)
{
    return tz_local_many(zone, &t, 1, out, err);
}
