/*
 * plan.c — which slot of a job is due (plan.h).
 */
#include "sched/plan.h"

#include <string.h>

/* A daemon down for years should not spend minutes counting the slots it
 * missed: after this many it stops counting (it still finds the latest). */
#define PASSED_COUNT_MAX 100000

int sched_due(const struct cron *c, const char *zone, unsigned jitter, int64_t since, int64_t last_slot, int64_t now,
              struct sched_due *out, struct error *err)
{
    memset(out, 0, sizeof *out);
    int64_t from = last_slot > since - 1 ? last_slot : since - 1, s;
    if (cron_next(c, zone, from, &s, err) < 0)
        return -1;
    while (s + (int64_t)jitter <= now) {
        out->slot = s;
        if (out->passed < PASSED_COUNT_MAX)
            out->passed++;
        /* Past the counting limit, jump to a day before now and go on. */
        int64_t after = out->passed == PASSED_COUNT_MAX && s < now - 86400 - (int64_t)jitter
                            ? now - 86400 - (int64_t)jitter
                            : s;
        if (cron_next(c, zone, after, &s, err) < 0)
            return -1;
    }
    out->next_slot = s;
    if (out->slot) {
        int64_t period = s - out->slot;
        out->is_too_late = s + (int64_t)jitter - now < period / 4;
    }
    return 0;
}

int sched_next_due(const struct cron *c, const char *zone, unsigned jitter, int64_t last_slot, int64_t now,
                   int64_t *out, struct error *err)
{
    int64_t from = now - (int64_t)jitter, s;
    if (from < last_slot)
        from = last_slot;
    if (cron_next(c, zone, from, &s, err) < 0)
        return -1;
    *out = s + (int64_t)jitter;
    return 0;
}

unsigned sched_jitter(const char *host, const char *job, unsigned jitter)
{
    if (jitter == 0)
        return 0;
    uint64_t h = 1469598103934665603ULL;
    for (const char *parts[] = {host, "\n", job, NULL}, **p = parts; *p; p++)
        for (const char *q = *p; *q; q++)
            h = (h ^ (uint8_t)*q) * 1099511628211ULL;
    return (unsigned)(h % jitter);
}
