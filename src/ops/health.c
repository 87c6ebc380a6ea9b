/*
 * health.c — the health rules (see health.h).
 */
#include "ops/health.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/text.h"

__attribute__((format(printf, 4, 5)))
static void add(struct health_report *r, const char *source, const char *rule, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    r->items = xrealloc(r->items, (r->count + 1) * sizeof *r->items);
    struct health_problem *p = &r->items[r->count++];
    p->source = xstrdup(source);
    p->rule = rule;
    p->what = xstrdup(what);
    p->todo = NULL;
}

static void todo(struct health_report *r, const char *text)
{
    r->items[r->count - 1].todo = xstrdup(text);
}

/* The advice after a shrink: keep the snapshot before it, named. */
static void todo_keep(struct health_report *r, const struct snapshot *before, const char *first)
{
    char hex[65], text[512];
    snapshot_id_hex(before, hex);
    snprintf(text, sizeof text, "%s; until then keep the snapshot before (%.8s), which still has it: "
             "`coffer tag %.8s --add keep`, and forget with --keep-tag keep (or keep_tags: [keep] in "
             "retention:); forget keeps it while it is the newest healthy snapshot", first, hex, hex);
    todo(r, text);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **health_sources(const struct snapshot_list *list, const struct config *cfg, const char *source,
                            size_t *count)
{
    const char **names = xcalloc(list->count + (cfg ? cfg->source_count : 0) + 1, sizeof *names);
    size_t n = 0;
    if (source) {
        names[n++] = source;
    } else if (cfg && cfg->source_count) {
        for (size_t i = 0; i < cfg->source_count; i++)
            names[n++] = cfg->sources[i].name;
    } else {
        for (size_t i = 0; i < list->count; i++)
            names[n++] = list->items[i].source;
        qsort(names, n, sizeof *names, by_name);
        size_t unique = 0;
        for (size_t i = 0; i < n; i++)
            if (!unique || strcmp(names[unique - 1], names[i]))
                names[unique++] = names[i];
        n = unique;
    }
    *count = n;
    return names;
}

void health_newest_two(const struct snapshot_list *list, const char *source, const struct snapshot **newest,
                       const struct snapshot **previous)
{
    *newest = *previous = NULL;
    for (size_t i = list->count; i-- > 0 && !*previous;) { /* oldest first: walk back */
        if (strcmp(list->items[i].source, source))
            continue;
        if (!*newest)
            *newest = &list->items[i];
        else
            *previous = &list->items[i];
    }
}

/* A database's exported tables whose row count fell below the share. */
static void judge_rows(struct health_report *r, const char *source, const struct snapshot *newest,
                       const struct snapshot *previous, unsigned share)
{
    json_t *now = newest->meta_json ? json_loads(newest->meta_json, 0, NULL) : NULL;
    json_t *before = previous->meta_json ? json_loads(previous->meta_json, 0, NULL) : NULL;
    json_t *now_rows = json_object_get(now, "export_rows"), *before_rows = json_object_get(before, "export_rows");
    const char *table;
    json_t *value;
    json_object_foreach(now_rows, table, value) {
        json_t *old = json_object_get(before_rows, table);
        if (!json_is_integer(old) || !json_is_integer(value))
            continue;
        json_int_t was = json_integer_value(old), is = json_integer_value(value);
        if (was > 0 && is * 100 < was * (json_int_t)share) {
            add(r, source, "rows", "table %s has %lld rows, %lld%% of the %lld in the snapshot before (alert below %u%%)",
                table, (long long)is, (long long)(is * 100 / was), (long long)was, share);
            todo_keep(r, previous, "find out what deleted the rows");
        }
    }
    json_decref(now);
    json_decref(before);
}

/* The rules on what a snapshot holds: min_size, and shrink_alert on its
 * size and a database's row counts against the snapshot before (NULL:
 * none). what names the snapshot in the sentences. */
static void judge_content(struct health_report *r, const char *source, const struct config_health *rules,
                          const struct snapshot *snap, const struct snapshot *before, const char *what)
{
    char a[32], b[32];
    if (rules->min_size && snap->stats.size < rules->min_size) {
        size_format(snap->stats.size, a);
        size_format(rules->min_size, b);
        add(r, source, "min_size", "%s holds %s, less than health.min_size %s", what, a, b);
        todo(r, "look at what the source produced: a short dump or an empty directory is a failed backup");
    }
    if (before && rules->shrink_alert && before->stats.size > 0 &&
        (double)snap->stats.size * 100 < (double)before->stats.size * rules->shrink_alert) {
        size_format(snap->stats.size, a);
        size_format(before->stats.size, b);
        add(r, source, "shrink_alert", "%s holds %s, %u%% of the %s before it (alert below %u%%)", what, a,
            (unsigned)(100.0 * (double)snap->stats.size / (double)before->stats.size), b, rules->shrink_alert);
        todo_keep(r, before, "find out what removed the data");
    }
    if (before && rules->shrink_alert) /* a database's exported row counts, where the snapshots record them */
        judge_rows(r, source, snap, before, rules->shrink_alert);
}

static void judge_source(struct health_report *r, const struct snapshot_list *list, const struct config *cfg,
                         const char *source, int64_t now)
{
    const struct config_source *src = cfg ? config_find_source(cfg, source) : NULL;
    struct config_health rules = config_health_for(cfg, src);
    const struct snapshot *newest, *previous;
    char a[32], b[32];
    health_newest_two(list, source, &newest, &previous);
    if (!newest) {
        add(r, source, "no_snapshot", "source %s has no snapshot", source);
        todo(r, "run `coffer backup` for it, and check that scheduled backups run");
        return;
    }
    int64_t age = now - newest->time;
    if (rules.max_age && age > (int64_t)rules.max_age) {
        duration_format((uint64_t)age, a);
        duration_format(rules.max_age, b);
        add(r, source, "max_age", "the newest snapshot is %s old (health.max_age allows %s)", a, b);
        todo(r, "check that scheduled backups run and succeed (their log, or `coffer backup` by hand)");
    }
    judge_content(r, source, &rules, newest, previous, "the newest snapshot");
}

void health_evaluate(const struct snapshot_list *list, const struct config *cfg, const char *source, int64_t now,
                     struct health_report *out)
{
    memset(out, 0, sizeof *out);
    size_t count;
    const char **names = health_sources(list, cfg, source, &count);
    for (size_t i = 0; i < count; i++)
        judge_source(out, list, cfg, names[i], now);
    out->sources_judged = count;
    free(names);
}

struct placed {
    const struct snapshot *snap;
    size_t at; /* its index in the caller's array */
};

static int oldest_first(const void *a, const void *b)
{
    const struct snapshot *x = ((const struct placed *)a)->snap, *y = ((const struct placed *)b)->snap;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    return memcmp(x->id, y->id, CRYPTO_ID_SIZE);
}

void health_judge_each(const struct config_health *rules, const struct snapshot *const *snaps, size_t count,
                       bool *unhealthy, char **why)
{
    struct placed *order = xcalloc(count ? count : 1, sizeof *order);
    for (size_t i = 0; i < count; i++)
        order[i] = (struct placed){snaps[i], i};
    qsort(order, count, sizeof *order, oldest_first);
    for (size_t i = 0; i < count; i++) {
        struct health_report r = {0};
        judge_content(&r, order[i].snap->source, rules, order[i].snap, i ? order[i - 1].snap : NULL, "it");
        unhealthy[order[i].at] = r.count > 0;
        if (why)
            why[order[i].at] = r.count ? xstrdup(r.items[0].what) : NULL;
        health_report_free(&r);
    }
    free(order);
}

void health_report_free(struct health_report *report)
{
    for (size_t i = 0; i < report->count; i++) {
        free(report->items[i].source);
        free(report->items[i].what);
        free(report->items[i].todo);
    }
    free(report->items);
    memset(report, 0, sizeof *report);
}
