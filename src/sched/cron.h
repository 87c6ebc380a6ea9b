/*
 * cron.h — a cron line ("0 2 * * *") and the instants it names in a time
 * zone.
 *
 * The five fields are minute, hour, day of month, month and day of week,
 * each `*`, a number, a range `a-b`, a step `*\/n` or `a-b/n`, or a list of
 * those; months and weekdays also by name (jan, mon; weekday 7 is Sunday
 * like 0). As in every cron, when both day fields are restricted a day
 * matching either one counts. @hourly, @daily (@midnight), @weekly,
 * @monthly and @yearly (@annually) stand for their usual lines.
 *
 * The times are wall-clock times in the zone, made instants by these rules
 * (what a person means by "at 02:30"): a time the clock skips (spring
 * forward) fires once, when the clock reaches the first time after the
 * gap; a time the clock shows twice (fall back) fires once, the first
 * time. So no job runs twice or not at all because of a clock change.
 */
#ifndef COFFER_SCHED_CRON_H
#define COFFER_SCHED_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

struct cron {
    uint64_t minutes;  /* bit m: minute m (0-59) */
    uint32_t hours;    /* bit h (0-23) */
    uint32_t days;     /* bit d (1-31) */
    uint16_t months;   /* bit m (1-12) */
    uint8_t weekdays;  /* bit w (0-6, 0 Sunday) */
    bool is_days_any, is_weekdays_any; /* the field was `*` (or `*\/n`): for the either-day rule */
};

/* Parses line; err (ERR_USAGE) names the field and what is wrong. */
int cron_parse(const char *line, struct cron *out, struct error *err);

/* The first instant strictly after `after` that the line names in zone
 * (NULL: UTC); 0 with *next set, or -1 when there is none within nine
 * years (a line such as "0 0 31 2 *", or an unknown zone: err says). */
int cron_next(const struct cron *c, const char *zone, int64_t after, int64_t *next, struct error *err);

#endif
