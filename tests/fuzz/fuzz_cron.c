/*
 * fuzz_cron.c — cron lines from coffer.yaml's schedule (sched/cron.c).
 *
 * The input's first byte picks a zone (UTC, or one with clock changes:
 * Europe/Berlin, America/New_York, Australia/Lord_Howe's half hour), the
 * next eight an instant within a few centuries of now, the rest is the
 * line. Beyond "no crash": a next instant is after the one asked about,
 * its wall time in the zone is one the line names (unless the clock
 * jumped there, where the line's time did not exist), and asking again
 * from it gives a later one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzing.h"
#include "sched/cron.h"
#include "util/tz.h"

static const char *const zones[] = {NULL, "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    const char *zone = zones[data[0] % 4];
    uint64_t raw;
    memcpy(&raw, data + 1, sizeof raw);
    int64_t after = 1700000000 + (int64_t)(raw % (300ULL * 366 * 86400)) - 150LL * 366 * 86400;
    char *line = fuzz_cstr(data + 9, size - 9);
    struct cron c;
    struct error err;
    int64_t next, again;
    if (cron_parse(line, &c, &err) == 0 && cron_next(&c, zone, after, &next, &err) == 0) {
        FUZZ_CHECK(next > after);
        struct tm tm, before;
        FUZZ_CHECK(tz_local(zone, next, &tm, &err) == 0 && tz_local(zone, next - 1, &before, &err) == 0);
        if (tm.tm_gmtoff == before.tm_gmtoff) {
            FUZZ_CHECK(c.minutes >> tm.tm_min & 1);
            FUZZ_CHECK(c.hours >> tm.tm_hour & 1);
            FUZZ_CHECK(c.months >> (tm.tm_mon + 1) & 1);
        }
        if (cron_next(&c, zone, next, &again, &err) == 0)
            FUZZ_CHECK(again > next);
    }
    free(line);
    return 0;
}
