/*
 * retention.c — bucket rules over snapshot times (see retention.h).
 */
#include "repo/retention.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/tz.h"

static const char *const rule_names[RETENTION_RULES] = {"last", "hourly", "daily", "weekly", "monthly", "yearly",
                                                       "within", "tag", "newest healthy"};

const char *retention_rule_name(enum retention_rule rule)
{
    return rule < RETENTION_RULES ? rule_names[rule] : "?";
}

bool retention_is_empty(const struct retention_policy *policy)
{
    for (int r = 0; r < KEEP_WITHIN; r++)
        if (policy->counts[r])
            return false;
    return policy->within_seconds == 0 && policy->tag_count == 0;
}

/* The period a time falls in, as a number that differs between periods. */
static int64_t bucket(enum retention_rule rule, const struct tm *tm)
{
    int64_t year = tm->tm_year + 1900;
    switch (rule) {
    case KEEP_HOURLY: return ((year * 12 + tm->tm_mon) * 31 + tm->tm_mday) * 24 + tm->tm_hour;
    case KEEP_DAILY: return (year * 12 + tm->tm_mon) * 31 + tm->tm_mday;
    case KEEP_WEEKLY: {
        char text[16];
        strftime(text, sizeof text, "%G%V", tm); /* ISO year and week */
        return strtoll(text, NULL, 10);
    }
    case KEEP_MONTHLY: return year * 12 + tm->tm_mon;
    case KEEP_YEARLY: return year;
    default: return 0;
    }
}

static bool has_tag(const struct snapshot *s, const struct retention_policy *policy)
{
    for (size_t i = 0; i < policy->tag_count; i++)
        if (string_list_has(&s->tags, policy->tags[i]))
            return true;
    return false;
}

struct dated {
    const struct snapshot *snap;
    size_t index;
    struct tm tm;
};

/* Newest first; equal times by nanoseconds, then by id, so the order is
 * the same on every run. */
static int newest_first(const void *a, const void *b)
{
    const struct snapshot *x = ((const struct dated *)a)->snap, *y = ((const struct dated *)b)->snap;
    if (x->time != y->time)
        return x->time < y->time ? 1 : -1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? 1 : -1;
    return memcmp(y->id, x->id, CRYPTO_ID_SIZE);
}

int retention_apply(const struct retention_policy *policy, const struct snapshot *const *snaps,
                    const bool *unhealthy, size_t count, struct retention_verdict *verdicts, struct error *err)
{
    struct dated *order = xcalloc(count ? count : 1, sizeof *order);
    int64_t *times = xcalloc(count ? count : 1, sizeof *times);
    struct tm *local = xcalloc(count ? count : 1, sizeof *local);
    for (size_t i = 0; i < count; i++)
        times[i] = snaps[i]->time;
    int rc = tz_local_many(policy->timezone, times, count, local, err);
    for (size_t i = 0; i < count && rc == 0; i++)
        order[i] = (struct dated){.snap = snaps[i], .index = i, .tm = local[i]};
    free(times);
    free(local);
    if (rc < 0) {
        free(order);
        return -1;
    }
    qsort(order, count, sizeof *order, newest_first);
    memset(verdicts, 0, count * sizeof *verdicts);
    for (int r = KEEP_LAST; r < KEEP_WITHIN; r++) {
        unsigned left = policy->counts[r];
        bool has_last = false;
        int64_t last = 0;
        for (size_t i = 0; i < count && left > 0; i++) {
            int64_t b = r == KEEP_LAST ? (int64_t)i : bucket((enum retention_rule)r, &order[i].tm);
            if (has_last && b == last)
                continue; /* an older snapshot of a period already kept */
            verdicts[order[i].index].reasons |= 1u << r;
            if (unhealthy && unhealthy[order[i].index])
                continue; /* kept, and the period waits for a healthy snapshot */
            has_last = true;
            last = b;
            left--;
        }
    }
    int64_t newest = count ? order[0].snap->time : 0;
    for (size_t i = 0; i < count; i++) {
        if (policy->within_seconds && newest - order[i].snap->time <= policy->within_seconds)
            verdicts[order[i].index].reasons |= 1u << KEEP_WITHIN;
        if (policy->tag_count && has_tag(order[i].snap, policy))
            verdicts[order[i].index].reasons |= 1u << KEEP_TAG;
    }
    for (size_t i = 0; i < count; i++)
        verdicts[i].is_kept = verdicts[i].reasons != 0;
    free(order);
    return 0;
}

int retention_parse_duration(const char *text, int64_t *seconds, struct error *err)
{
    int64_t total = 0;
    const char *p = text;
    if (!*p)
        return error_setk(err, ERR_USAGE, "empty duration (use e.g. 90d, 2y6m, 36h)");
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return error_setk(err, ERR_USAGE, "bad duration \"%.64s%s\" (use e.g. 90d, 2y6m, 36h)", text,
                              strlen(text) > 64 ? "..." : "");
        char *end;
        long long n = strtoll(p, &end, 10);
        int64_t unit;
        switch (*end) {
        case 'y': unit = 365 * 86400LL; break;
        case 'm': unit = 30 * 86400LL; break;
        case 'w': unit = 7 * 86400LL; break;
        case 'd': unit = 86400; break;
        case 'h': unit = 3600; break;
        case 's': unit = 1; break;
        default: return error_setk(err, ERR_USAGE, "bad duration \"%.64s%s\": a number needs a unit (y, m, w, d, h, s)", text,
                                   strlen(text) > 64 ? "..." : "");
        }
        /* Each term is below 2^42 s; a sum of many must not wrap either. */
        if (n > 100000 || total > INT64_MAX - n * unit)
            return error_setk(err, ERR_USAGE, "duration \"%.64s%s\" is too long", text, strlen(text) > 64 ? "..." : "");
        total += n * unit;
        p = end + 1;
    }
    *seconds = total;
    return 0;
}
