/*
 * alerts.c — incidents and pings of the daemon's runs (alerts.h).
 */
#include "ops/alerts.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/send.h"
#include "crypto/crypto.h"
#include "ops/schedule.h"
#include "util/buf.h"
#include "util/text.h"
#include "util/host.h"

#define RETRY_FIRST 60            /* seconds before a failed notice is tried again, doubling */
#define RETRY_MAX 3600
#define RETRY_GIVE_UP (24 * 3600) /* a notice not delivered in a day is dropped (and counted) */

static const struct config_alert *receiver(const struct config *cfg, size_t i)
{
    return &((const struct config_alert *)cfg->alerts.to.items)[i];
}

static void count_sent(struct incident_book *book, const char *type)
{
    json_t *n = json_object_get(book->sent, type);
    json_object_set_new(book->sent, type, json_integer(json_integer_value(n) + 1));
}

__attribute__((format(printf, 2, 3)))
static void warn(struct string_list *warnings, const char *fmt, ...)
{
    char line[ERROR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    string_list_add(warnings, line);
}

/* Delivers each notice to every receiver that takes notices; one that
 * fails waits in the outbox. Then tries what waits there and is due. */
static void deliver(const struct config *cfg, struct incident_book *book, struct alert_notice *notices, size_t count,
                    const struct alert_origin *origin, struct string_list *warnings)
{
    struct error err;
    for (size_t n = 0; n < count; n++)
        for (size_t r = 0; r < cfg->alerts.to.count; r++) {
            const struct config_alert *to = receiver(cfg, r);
            if (!alert_takes_notices(to))
                continue;
            if (alert_send_notice(to, r, &notices[n], origin, &err) == 0) {
                count_sent(book, to->type);
                continue;
            }
            book->failures++;
            warn(warnings, "alert not delivered, tried again in a minute: %s", err.msg);
            book->outbox = xrealloc(book->outbox, (book->outbox_count + 1) * sizeof *book->outbox);
            book->outbox[book->outbox_count++] = (struct alert_pending){
                .receiver = r, .attempts = 1, .next_try = origin->now + RETRY_FIRST, .first_try = origin->now,
                .notice = alert_notice_copy(&notices[n])};
        }
    size_t kept = 0;
    for (size_t i = 0; i < book->outbox_count; i++) {
        struct alert_pending *p = &book->outbox[i];
        bool is_known = p->receiver < cfg->alerts.to.count && alert_takes_notices(receiver(cfg, p->receiver));
        if (is_known && p->next_try <= origin->now) {
            const struct config_alert *to = receiver(cfg, p->receiver);
            if (alert_send_notice(to, p->receiver, &p->notice, origin, &err) == 0) {
                count_sent(book, to->type);
                alert_notice_free(&p->notice);
                continue;
            }
            book->failures++;
            p->attempts++;
            int64_t wait = RETRY_FIRST << (p->attempts < 7 ? p->attempts - 1 : 6);
            p->next_try = origin->now + (wait < RETRY_MAX ? wait : RETRY_MAX);
        }
        if (!is_known || origin->now - p->first_try >= RETRY_GIVE_UP) {
            warn(warnings, "alert dropped after a day of failed deliveries (or its receiver is gone): %s %s",
                 alert_action_name(p->notice.action), p->notice.incident.dedup_key);
            alert_notice_free(&p->notice);
            continue;
        }
        book->outbox[kept++] = *p;
    }
    book->outbox_count = kept;
}

/* One domain's problems now, for report_domains. */
struct domain_report {
    const char *domain;
    const struct alert_problem *problems;
    size_t count;
    unsigned settle;
};

/* Updates the domains with their problems and delivers what that says:
 * the incident book read and written once. */
static void report_domains(const struct config *cfg, const char *repository, const struct domain_report *reports,
                           size_t report_count, int64_t now, struct string_list *warnings)
{
    if (!cfg->alerts.is_set || !cfg->alerts.to.count || !report_count)
        return;
    char host[256];
    struct incident_book book;
    struct error err;
    struct alert_notice *notices = NULL;
    size_t notice_count = 0;
    host_name(host, sizeof host);
    const char *dir = ops_state_dir(cfg);
    if (incident_book_load(dir, host, repository, &book, &err) < 0) {
        warn(warnings, "%s", err.msg);
        return;
    }
    if (book.warning[0])
        warn(warnings, "%s", book.warning);
    for (size_t i = 0; i < report_count; i++)
        incident_book_update(&book, reports[i].domain, reports[i].problems, reports[i].count, now, cfg->alerts.repeat,
                             reports[i].settle, &notices, &notice_count);
    struct alert_origin origin = {host, repository, now};
    deliver(cfg, &book, notices, notice_count, &origin, warnings);
    for (size_t i = 0; i < notice_count; i++)
        alert_notice_free(&notices[i]);
    free(notices);
    if (incident_book_save(dir, &book, &err) < 0)
        warn(warnings, "%s", err.msg);
    incident_book_free(&book);
}

/* A run id as healthchecks wants it: a UUID (version 4). */
static void new_rid(char rid[37])
{
    uint8_t b[16];
    char hex[33];
    crypto_random(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    hex_encode(b, sizeof b, hex);
    snprintf(rid, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void ping_runs(const struct config *cfg, const struct alert_run *ping, struct string_list *warnings)
{
    struct error err;
    for (size_t r = 0; cfg->alerts.is_set && r < cfg->alerts.to.count; r++)
        if (alert_takes_runs(receiver(cfg, r)) && alert_send_run(receiver(cfg, r), r, ping, &err) < 0 && warnings)
            warn(warnings, "run ping not delivered: %s", err.msg);
}

void ops_alerts_run_started(const struct config *cfg, const struct job_run *run, char rid[37])
{
    new_rid(rid);
    struct alert_run ping = {.job = run->job->head.name, .rid = rid, .is_start = true};
    ping_runs(cfg, &ping, NULL);
}

void ops_alerts_after_run(const struct config *cfg, const char *repository, const struct job_run *run,
                          const struct ledger_job *lj, const char *rid, struct string_list *warnings)
{
    if (!cfg->alerts.is_set)
        return;
    if (rid && rid[0]) {
        struct buf log = BUF_INIT;
        ops_job_run_describe(run, &log);
        buf_append(&log, "", 1);
        struct alert_run ping = {.job = run->job->head.name, .rid = rid, .is_ok = run->outcome <= JOB_PARTIAL,
                                 .log = (const char *)log.data};
        ping_runs(cfg, &ping, warnings);
        buf_free(&log);
    }
    /* The job's own problems, from the ledger's memory of it. */
    char source[300], domain[300], what_skipped[128], what_missed[ERROR_MSG_MAX], todo_failed[400];
    const char *name = run->job->head.name;
    snprintf(source, sizeof source, "job %s", name);
    snprintf(domain, sizeof domain, "job:%s", name);
    snprintf(todo_failed, sizeof todo_failed, "see `coffer log --job %s --failed`; its next run tries again", name);
    struct alert_problem problems[3];
    size_t count = 0;
    if (lj->failed_in_a_row)
        problems[count++] = (struct alert_problem){source, "failed", lj->error ? lj->error : "its last run failed",
                                                   todo_failed};
    if (lj->skipped_in_a_row >= 2) {
        snprintf(what_skipped, sizeof what_skipped, "skipped %u times in a row: its previous run still runs",
                 lj->skipped_in_a_row);
        problems[count++] = (struct alert_problem){source, "skipped", what_skipped,
                                                   "find why it runs so long (coffer log), or set overlap: queue"};
    }
    if (!strcmp(lj->outcome, "missed")) {
        snprintf(what_missed, sizeof what_missed, "%s", run->first.msg);
        problems[count++] = (struct alert_problem){source, "missed", what_missed,
                                                   "keep coffer daemon running (systemctl enable --now coffer)"};
    }
    struct domain_report reports[2];
    size_t report_count = 0;
    bool is_judged = run->outcome != JOB_STOPPED && !(run->outcome == JOB_SKIPPED && lj->skipped_in_a_row < 2);
    if (is_judged)
        reports[report_count++] = (struct domain_report){domain, problems, count, cfg->alerts.settle};

    /* A monitor that ran: the status rules' problems are the monitor domain's. */
    bool has_monitor = false;
    size_t i;
    json_t *a;
    json_array_foreach(run->actions, i, a)
        if (!strcmp(json_string_value(json_object_get(a, "action")), "monitor") &&
            strcmp(json_string_value(json_object_get(a, "outcome")), "failed"))
            has_monitor = true;
    size_t n = json_array_size(run->problems);
    struct alert_problem *found = xcalloc(n + 1, sizeof *found);
    json_t *p;
    json_array_foreach(run->problems, i, p)
        found[i] = (struct alert_problem){json_string_value(json_object_get(p, "source")),
                                          json_string_value(json_object_get(p, "rule")),
                                          json_string_value(json_object_get(p, "what")),
                                          json_string_value(json_object_get(p, "todo"))};
    if (has_monitor)
        reports[report_count++] = (struct domain_report){"monitor", found, n, cfg->alerts.settle};
    report_domains(cfg, repository, reports, report_count, run->now, warnings);
    free(found);
}

json_t *ops_alerts_open(const struct config *cfg, const char *repository)
{
    json_t *list = json_array();
    struct incident_book book;
    struct ledger l;
    struct error err;
    if (!cfg->alerts.is_set || ledger_open(ops_state_dir(cfg), &l, &err) < 0)
        return list;
    if (incident_book_load(ops_state_dir(cfg), "", repository, &book, &err) == 0) {
        for (size_t i = 0; i < book.open_count; i++) {
            const struct incident *inc = &book.open[i];
            char opened[32];
            time_format_rfc3339(inc->opened, opened);
            json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s}", "source", inc->source, "rule",
                                                  inc->rule, "what", inc->what, "todo", inc->todo, "opened", opened,
                                                  "key", inc->dedup_key));
        }
        incident_book_free(&book);
    }
    ledger_close(&l);
    return list;
}

void ops_alerts_daemon(const struct config *cfg, const char *repository, const struct alert_problem *problem,
                       int64_t now, struct string_list *warnings)
{
    struct ledger l; /* the book is kept under the ledger's lock */
    struct error err;
    if (!cfg->alerts.is_set)
        return;
    if (ledger_open(ops_state_dir(cfg), &l, &err) < 0) {
        warn(warnings, "%s", err.msg);
        return;
    }
    /* A configuration that loads again is fixed at once: nothing flaps here. */
    struct domain_report report = {"daemon", problem, problem ? 1 : 0, 0};
    report_domains(cfg, repository, &report, 1, now, warnings);
    ledger_close(&l);
}
