/*
 * metrics.c — the registry and its text rendering (metrics.h).
 */
#include "metrics/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fdio.h"

struct metric_def {
    const char *name, *type, *help;
};

/* Every metric coffer exports (docs/metrics.md). */
static const struct metric_def defs[] = {
    {"coffer_last_success_timestamp_seconds", "gauge", "When the source's newest snapshot was made (Unix time)."},
    {"coffer_last_run_status", "gauge", "How the source's last scheduled backup ended: 1 ok, 0 failed."},
    {"coffer_run_duration_seconds", "gauge", "How long the source's last backup took."},
    {"coffer_snapshot_size_bytes", "gauge", "The logical size of the source's newest snapshot."},
    {"coffer_snapshot_added_bytes", "gauge", "What the source's newest snapshot added to the repository."},
    {"coffer_rpo_objective_seconds", "gauge", "The source's RPO objective (objectives: rpo)."},
    {"coffer_drill_last_success_timestamp_seconds", "gauge", "When a drill of the source last passed (Unix time)."},
    {"coffer_drill_rto_seconds", "gauge", "How long the source's last drill took to restore and validate."},
    {"coffer_rto_objective_seconds", "gauge", "The source's RTO objective (objectives: rto)."},
    {"coffer_repository_stored_bytes", "gauge", "The bytes of packs the repository's store held at the last check."},
    {"coffer_check_last_success_timestamp_seconds", "gauge", "When a check of the repository last found no damage."},
    {"coffer_check_read_coverage_ratio", "gauge", "The share of packs the last check read (1: every pack)."},
    {"coffer_job_runs_total", "counter", "Runs of scheduled jobs, by job and outcome."},
    {"coffer_alerts_sent_total", "counter", "Alert notices delivered, by receiver type."},
    {"coffer_alert_delivery_failures_total", "counter", "Attempts to deliver an alert notice that failed."},
};
#define DEF_COUNT (sizeof defs / sizeof defs[0])

struct series {
    size_t def;
    char *labels;   /* {source="db"} rendered, or "" */
    double value;
};

struct metrics {
    pthread_mutex_t mutex;
    struct series *items;
    size_t count;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mutex, NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->items[i].labels);
    free(m->items);
    pthread_mutex_destroy(&m->mutex);
    free(m);
}

/* {a="x",b="y"} from the pairs, values escaped (\\, \", \n). */
static char *labels_of(va_list ap)
{
    struct buf out = BUF_INIT;
    const char *key;
    while ((key = va_arg(ap, const char *))) {
        const char *value = va_arg(ap, const char *);
        buf_printf(&out, "%s%s=\"", out.len ? "," : "{", key);
        for (const char *p = value ? value : ""; *p; p++)
            if (*p == '\\' || *p == '"')
                buf_printf(&out, "\\%c", *p);
            else if (*p == '\n')
                buf_printf(&out, "\\n");
            else
                buf_append(&out, p, 1);
        buf_printf(&out, "\"");
    }
    if (out.len)
        buf_printf(&out, "}");
    buf_append(&out, "", 1);
    return (char *)out.data;
}

static void update(struct metrics *m, double value, bool is_add, const char *name, va_list ap)
{
    size_t def = 0;
    while (def < DEF_COUNT && strcmp(defs[def].name, name))
        def++;
    if (def == DEF_COUNT)
        return;
    char *labels = labels_of(ap);
    pthread_mutex_lock(&m->mutex);
    size_t i = 0;
    while (i < m->count && !(m->items[i].def == def && !strcmp(m->items[i].labels, labels)))
        i++;
    if (i == m->count) {
        m->items = xrealloc(m->items, (m->count + 1) * sizeof *m->items);
        m->items[m->count++] = (struct series){def, labels, 0};
        labels = NULL;
    }
    m->items[i].value = is_add ? m->items[i].value + value : value;
    pthread_mutex_unlock(&m->mutex);
    free(labels);
}

void metrics_set(struct metrics *m, double value, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    update(m, value, false, name, ap);
    va_end(ap);
}

void metrics_add(struct metrics *m, double delta, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    update(m, delta, true, name, ap);
    va_end(ap);
}

void metrics_render(struct metrics *m, struct buf *out)
{
    pthread_mutex_lock(&m->mutex);
    for (size_t d = 0; d < DEF_COUNT; d++) {
        bool has_series = false;
        for (size_t i = 0; i < m->count; i++) {
            if (m->items[i].def != d)
                continue;
            if (!has_series)
                buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", defs[d].name, defs[d].help, defs[d].name,
                           defs[d].type);
            has_series = true;
            double v = m->items[i].value;
            if (v == floor(v) && fabs(v) < 1e15)
                buf_printf(out, "%s%s %.0f\n", defs[d].name, m->items[i].labels, v);
            else
                buf_printf(out, "%s%s %.15g\n", defs[d].name, m->items[i].labels, v); /* timestamps need their 10 digits */
        }
    }
    pthread_mutex_unlock(&m->mutex);
}

int metrics_write_textfile(struct metrics *m, const char *path, struct error *err)
{
    struct buf text = BUF_INIT;
    metrics_render(m, &text);
    int rc = write_file_atomic(path, text.data ? (const char *)text.data : "", text.len, 0644);
    int saved = errno;
    buf_free(&text);
    return rc < 0 ? error_set(err, "cannot write the metrics file %s: %s", path, strerror(saved)) : 0;
}
