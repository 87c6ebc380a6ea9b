/*
 * fuzz_retention.c — the retention time rules (repo/retention.c): the
 * durations of "keep within" (retention_parse_duration, as coffer.yaml and
 * `forget --keep-within` give them) and the rules applied to a set of
 * snapshots.
 *
 * Input: a first line, parsed as a duration; then one byte for each of the
 * counts last, hourly, daily, weekly, monthly, yearly (0..15), one byte
 * choosing a time zone, and 9-byte records of snapshots: a time (8 bytes,
 * folded into the years 0000..9999 that RFC 3339 can write) and a byte
 * of flags (a tag; bit 2: it fails a health rule). Whatever the rules,
 * "keep last N" keeps the N newest healthy snapshots, every
 * snapshot within the duration of the newest is kept, and the verdicts
 * count no more kept snapshots than there are.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/retention.h"

#define TIME_MIN (-62167219200LL) /* 0000-01-01T00:00:00Z */
#define TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const zones[] = {NULL, "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu",
                                        "Pacific/Chatham", "Australia/Lord_Howe", "UTC", "No/Such_Zone"};
    static const char *const tags[] = {"manual", "daily"};
    const uint8_t *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - data) : size;
    char *text = fuzz_cstr(data, first);
    struct error err;
    int64_t within = 0;
    if (retention_parse_duration(text, &within, &err) < 0)
        within = 0;
    FUZZ_CHECK(within >= 0);
    free(text);
    if (!nl)
        return 0;
    const uint8_t *p = nl + 1, *end = data + size;
    if (end - p < 7)
        return 0;
    struct retention_policy policy = {0};
    for (int r = 0; r < KEEP_WITHIN; r++)
        policy.counts[r] = p[r] % 16;
    policy.within_seconds = within;
    policy.timezone = zones[p[6] % 8];
    policy.tags = tags;
    policy.tag_count = p[6] & 0x80 ? 1 : 2;
    p += 7;
    size_t count = (size_t)(end - p) / 9;
    struct snapshot *snaps = calloc(count ? count : 1, sizeof *snaps);
    const struct snapshot **ptrs = calloc(count ? count : 1, sizeof *ptrs);
    bool *unhealthy = calloc(count ? count : 1, sizeof *unhealthy);
    size_t healthy = 0;
    for (size_t i = 0; i < count; i++, p += 9) {
        uint64_t raw = 0;
        for (int k = 0; k < 8; k++)
            raw |= (uint64_t)p[k] << (8 * k);
        snaps[i].time = TIME_MIN + (int64_t)(raw % (uint64_t)(TIME_MAX - TIME_MIN + 1));
        snaps[i].id[0] = (uint8_t)i;
        snaps[i].id[1] = (uint8_t)(i >> 8);
        if (p[8] & 1)
            string_list_add(&snaps[i].tags, tags[p[8] >> 1 & 1]);
        unhealthy[i] = p[8] & 4;
        healthy += !unhealthy[i];
        ptrs[i] = &snaps[i];
    }
    struct retention_verdict *verdicts = calloc(count ? count : 1, sizeof *verdicts);
    if (retention_apply(&policy, ptrs, unhealthy, count, verdicts, &err) == 0) {
        size_t kept_by_last = 0;
        int64_t newest = TIME_MIN;
        for (size_t i = 0; i < count; i++)
            if (snaps[i].time > newest)
                newest = snaps[i].time;
        for (size_t i = 0; i < count; i++) {
            kept_by_last += !unhealthy[i] && (verdicts[i].reasons >> KEEP_LAST & 1);
            FUZZ_CHECK(verdicts[i].is_kept == (verdicts[i].reasons != 0));
            if (within && newest - snaps[i].time <= within)
                FUZZ_CHECK(verdicts[i].is_kept);
        }
        /* Unhealthy snapshots never fill one of the N slots. */
        FUZZ_CHECK(kept_by_last == (healthy < policy.counts[KEEP_LAST] ? healthy : policy.counts[KEEP_LAST]));
    }
    for (size_t i = 0; i < count; i++)
        string_list_free(&snaps[i].tags);
    free(verdicts);
    free(unhealthy);
    free(ptrs);
    free(snaps);
    return 0;
}
