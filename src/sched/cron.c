/*
 * cron.c — cron lines and their next instant in a zone (cron.h).
 *
 * cron_next walks wall-clock days from the day of `after`, and in a day
 * that matches, its hours and minutes in order; each wall time becomes an
 * instant by the zone's offsets a day before and a day after it (real
 * zones change offset at most once in two days): one that fits is the
 * instant, two that fit (fall back) the earlier, none (spring forward) the
 * moment the clock jumps, found by bisection. Instants so made never go
 * backwards as wall times go forwards, so the first one after `after` is
 * the next.
 */
#include "sched/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/tz.h"

#define SEARCH_DAYS (9 * 366) /* a 29 February can be eight years away */
/* A wall time before after's can be an instant after it only across a
 * fall back, which turns clocks back an hour (two, historically): wall
 * times from three hours before after's are tried. */
#define FALL_BACK_MAX (3 * 3600)

struct field_spec {
    const char *name;
    unsigned min, max;
    const char *const *names; /* names[i] stands for min + i, or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field_spec fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day of week", 0, 7, weekday_names},
};

static const struct {
    const char *alias, *line;
} aliases[] = {
    {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
};

/* A number or (for months and weekdays) a name, at *p; advances *p. */
static int read_value(const struct field_spec *f, const char **p, unsigned *out)
{
    if (isdigit((unsigned char)**p)) {
        unsigned long v = 0;
        while (isdigit((unsigned char)**p) && v <= 1000)
            v = v * 10 + (unsigned)(*(*p)++ - '0');
        if (v < f->min || v > f->max)
            return -1;
        *out = (unsigned)v;
        return 0;
    }
    for (size_t i = 0; f->names && f->names[i]; i++)
        if (!strncasecmp(*p, f->names[i], 3)) {
            *p += 3;
            *out = f->min + (unsigned)i;
            return 0;
        }
    return -1;
}

/* One field's text (no spaces) into a bit set; *is_any for `*` forms. */
static int read_field(const struct field_spec *f, const char *text, uint64_t *bits, bool *is_any)
{
    const char *p = text;
    *bits = 0;
    *is_any = false;
    for (;;) {
        unsigned lo = f->min, hi = f->max, step = 1;
        if (*p == '*') {
            p++;
            *is_any = true;
            if (!strcmp(f->name, "day of week"))
                hi = 6; /* 7 is Sunday again */
        } else {
            if (read_value(f, &p, &lo) < 0)
                return -1;
            hi = lo;
            if (*p == '-') {
                p++;
                if (read_value(f, &p, &hi) < 0 || hi < lo)
                    return -1;
            }
        }
        if (*p == '/') {
            unsigned long s = 0;
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p) && s <= 1000)
                s = s * 10 + (unsigned)(*p++ - '0');
            if (s == 0 || s > f->max)
                return -1;
            step = (unsigned)s;
            if (lo == hi && !*is_any)
                hi = f->max; /* "5/15": from 5 on */
        }
        for (unsigned v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
        if (*p == '\0')
            return 0;
        if (*p++ != ',')
            return -1;
        *is_any = false; /* "*,5" is a list, no longer "any" */
    }
}

int cron_parse(const char *line, struct cron *out, struct error *err)
{
    char text[256];
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(line, aliases[i].alias))
            line = aliases[i].line;
    if (line[0] == '@')
        return error_setk(err, ERR_USAGE, "cron line \"%.64s\": unknown @ name (@hourly, @daily, @weekly, @monthly, "
                          "@yearly)", line);
    if (strlen(line) >= sizeof text)
        return error_setk(err, ERR_USAGE, "cron line too long");
    snprintf(text, sizeof text, "%s", line);
    char *words[6] = {0}, *save = NULL;
    size_t n = 0;
    for (char *w = strtok_r(text, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
        if (n < 6)
            words[n++] = w;
        else
            n++;
    if (n != 5)
        return error_setk(err, ERR_USAGE, "cron line \"%.64s\" has %zu field%s, not 5 (minute hour day-of-month "
                          "month day-of-week, e.g. \"0 2 * * *\")", line, n, n == 1 ? "" : "s");
    uint64_t bits[5];
    bool any[5];
    for (size_t i = 0; i < 5; i++)
        if (read_field(&fields[i], words[i], &bits[i], &any[i]) < 0)
            return error_setk(err, ERR_USAGE, "cron line \"%.64s\": the %s field \"%.32s\" is not valid (numbers "
                              "%u-%u%s, *, a-b, */n, lists with commas)", line, fields[i].name, words[i],
                              fields[i].min, fields[i].max, fields[i].names ? " or names" : "");
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->days = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->weekdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday */
    out->is_days_any = any[2];
    out->is_weekdays_any = any[4];
    return 0;
}

/* ---- wall times into instants ----------------------------------------- */

/* The instant of wall time `wall` (seconds as if the wall clock were
 * UTC), in the zone tz_enter made current. */
static int64_t wall_to_instant(int64_t wall)
{
    long before = tz_offset(wall - 86400), after = tz_offset(wall + 86400);
    int64_t a = wall - before, b = wall - after;
    bool is_a = tz_offset(a) == before, is_b = tz_offset(b) == after;
    if (is_a || is_b)
        return is_a && is_b ? (a < b ? a : b) : is_a ? a : b;
    /* In a gap: the first instant whose offset is the one after it. */
    int64_t lo = a < b ? a : b, hi = a < b ? b : a;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (tz_offset(mid) == before)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

static bool day_matches(const struct cron *c, const struct tm *day)
{
    if (!(c->months >> (day->tm_mon + 1) & 1))
        return false;
    bool is_mday = c->days >> day->tm_mday & 1, is_wday = c->weekdays >> day->tm_wday & 1;
    if (c->is_days_any || c->is_weekdays_any)
        return (c->is_days_any || is_mday) && (c->is_weekdays_any || is_wday);
    return is_mday || is_wday;
}

/* The first instant after `after` on wall day d (days since 1970-01-01
 * as if the wall clock were UTC), or 0 when none is. */
static int64_t next_on_day(const struct cron *c, int64_t d, int64_t after, int64_t wall_after)
{
    struct tm day;
    time_t t = (time_t)(d * 86400);
    gmtime_r(&t, &day);
    if (!day_matches(c, &day))
        return 0;
    for (int h = 0; h < 24; h++) {
        if (!(c->hours >> h & 1))
            continue;
        for (int m = 0; m < 60; m++) {
            int64_t wall = d * 86400 + h * 3600 + m * 60;
            if (!(c->minutes >> m & 1) || wall < wall_after - FALL_BACK_MAX)
                continue;
            int64_t instant = wall_to_instant(wall);
            if (instant > after)
                return instant;
        }
    }
    return 0;
}

int cron_next(const struct cron *c, const char *zone, int64_t after, int64_t *next, struct error *err)
{
    if (tz_enter(zone, err) < 0)
        return -1;
    int64_t wall_after = after + tz_offset(after), from = wall_after - FALL_BACK_MAX;
    int64_t day0 = from >= 0 ? from / 86400 : (from - 86399) / 86400;
    *next = 0;
    for (int64_t d = day0; d <= day0 + SEARCH_DAYS && !*next; d++)
        *next = next_on_day(c, d, after, wall_after);
    tz_leave();
    return *next ? 0 : error_setk(err, ERR_USAGE, "the cron line names no time in the next nine years");
}
