/*
 * send.c — the receivers of alerts, one row each (send.h).
 */
#include "alert/send.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/http.h"
#include "util/buf.h"
#include "util/fdio.h"
#include "util/secret.h"
#include "util/spawn.h"
#include "util/text.h"

#define PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

struct alert_driver {
    const char *type;
    int (*notice)(const struct config_alert *to, const char *who, const struct alert_notice *n,
                  const struct alert_origin *origin, struct error *err);
    int (*run)(const struct config_alert *to, const char *who, const struct alert_run *run, struct error *err);
};

/* The receiver's URL: url, or the first line of url_file (a secret). */
static int receiver_url(const struct config_alert *to, const char *who, char **out, struct error *err)
{
    char what[96];
    if (to->url) {
        *out = secret_dup(to->url);
        return 0;
    }
    snprintf(what, sizeof what, "%s url_file", who);
    return secret_read_file(to->url_file, what, out, err);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* "db: rpo: the newest snapshot is 26h old", the line every message opens with. */
static void summary_of(const struct alert_notice *n, const struct alert_origin *origin, char *out, size_t size)
{
    const struct incident *i = &n->incident;
    snprintf(out, size, "coffer on %s: %s: %s: %s", origin->host, i->source, i->rule, or_empty(i->what));
}

char *alert_notice_json(const struct alert_notice *n, const struct alert_origin *origin)
{
    const struct incident *i = &n->incident;
    char opened[32], now[32];
    time_format_rfc3339(i->opened, opened);
    time_format_rfc3339(origin->now, now);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s}", "event",
                            alert_action_name(n->action), "key", i->dedup_key, "host", origin->host, "repository",
                            origin->repository, "source", i->source, "rule", i->rule, "what", i->what, "todo",
                            i->todo, "opened", opened, "time", now);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    return text;
}

/* ---- PagerDuty: Events API v2 ----------------------------------------- */

static int pagerduty_notice(const struct config_alert *to, const char *who, const struct alert_notice *n,
                            const struct alert_origin *origin, struct error *err)
{
    char *key = NULL, what[96], summary[1024], opened[32];
    snprintf(what, sizeof what, "%s routing_key_file", who);
    if (secret_read_file(to->routing_key_file, what, &key, err) < 0)
        return -1;
    const struct incident *i = &n->incident;
    summary_of(n, origin, summary, sizeof summary);
    time_format_rfc3339(i->opened, opened);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "routing_key", key, "event_action",
                            n->action == ALERT_RESOLVE ? "resolve" : "trigger", "dedup_key", i->dedup_key, "client",
                            "coffer");
    if (n->action != ALERT_RESOLVE)
        json_object_set_new(doc, "payload",
                            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s?, s:s, s:s}}", "summary", summary,
                                      "source", origin->host, "severity", to->severity ? to->severity : "error",
                                      "component", i->source, "group", origin->repository, "class", i->rule,
                                      "custom_details", "todo", i->todo, "repository", origin->repository, "opened",
                                      opened));
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    secret_free(key);
    int rc = alert_http_post(who, to->url ? to->url : PAGERDUTY_URL, "application/json", NULL, body, strlen(body),
                             err);
    sodium_memzero(body, strlen(body)); /* it held the routing key */
    free(body);
    return rc;
}

/* ---- Slack: an incoming webhook --------------------------------------- */

static int slack_notice(const struct config_alert *to, const char *who, const struct alert_notice *n,
                        const struct alert_origin *origin, struct error *err)
{
    char *url = NULL, summary[1024], text[2048];
    if (receiver_url(to, who, &url, err) < 0)
        return -1;
    summary_of(n, origin, summary, sizeof summary);
    const char *todo = n->incident.todo;
    if (n->action == ALERT_RESOLVE)
        snprintf(text, sizeof text, "Resolved: %s", summary);
    else
        snprintf(text, sizeof text, "%s%s%s%s", n->action == ALERT_REMIND ? "Still failing: " : "", summary,
                 todo ? "\nTo do: " : "", or_empty(todo));
    json_t *doc = json_pack("{s:s}", "text", text);
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int rc = alert_http_post(who, url, "application/json", NULL, body, strlen(body), err);
    free(body);
    secret_free(url);
    return rc;
}

/* ---- a webhook: the notice as JSON, signed ---------------------------- */

static int webhook_notice(const struct config_alert *to, const char *who, const struct alert_notice *n,
                          const struct alert_origin *origin, struct error *err)
{
    char *url = NULL, *secret = NULL, what[96], signature[128], event[64];
    if (receiver_url(to, who, &url, err) < 0)
        return -1;
    snprintf(what, sizeof what, "%s secret_file", who);
    if (to->secret_file && secret_read_file(to->secret_file, what, &secret, err) < 0) {
        secret_free(url);
        return -1;
    }
    char *body = alert_notice_json(n, origin);
    const char *headers[3] = {event, NULL, NULL};
    snprintf(event, sizeof event, "X-Coffer-Event: %s", alert_action_name(n->action));
    if (secret) {
        uint8_t mac[crypto_auth_hmacsha256_BYTES];
        char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const uint8_t *)secret, strlen(secret));
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, strlen(body));
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_memzero(&st, sizeof st);
        hex_encode(mac, sizeof mac, hex);
        snprintf(signature, sizeof signature, "X-Coffer-Signature: sha256=%s", hex);
        headers[1] = signature;
    }
    int rc = alert_http_post(who, url, "application/json", headers, body, strlen(body), err);
    free(body);
    secret_free(secret);
    secret_free(url);
    return rc;
}

/* ---- a command: the notice as JSON on its stdin ----------------------- */

static int command_notice(const struct config_alert *to, const char *who, const struct alert_notice *n,
                          const struct alert_origin *origin, struct error *err)
{
    const char **argv = xcalloc(to->command.count + 1, sizeof *argv);
    for (size_t i = 0; i < to->command.count; i++)
        argv[i] = to->command.items[i];
    struct child child;
    char *body = alert_notice_json(n, origin);
    int rc = spawn_start(argv, NULL, SPAWN_WRITE_STDIN, &child, err);
    if (rc == 0) {
        /* A command that does not read its stdin is judged by its exit status alone. */
        if (write_all(child.fd, body, strlen(body)) == 0)
            (void)write_all(child.fd, "\n", 1);
        rc = spawn_finish(&child, err);
    }
    if (rc < 0)
        error_wrap(err, "%s", who);
    free(body);
    free(argv);
    return rc;
}

/* ---- healthchecks.io: start, success and fail pings per run ----------- */

static int healthchecks_run(const struct config_alert *to, const char *who, const struct alert_run *run,
                            struct error *err)
{
    char *base = NULL;
    if (receiver_url(to, who, &base, err) < 0)
        return -1;
    size_t len = strlen(base);
    while (len && base[len - 1] == '/')
        base[--len] = '\0';
    const char *kind = run->is_start ? "/start" : run->is_ok ? "" : "/fail";
    char *url = xmalloc(len + 128);
    snprintf(url, len + 128, "%s%s?rid=%s", base, kind, run->rid);
    secret_free(base);
    const char *log = run->is_start || !run->log ? "" : run->log;
    size_t log_len = strlen(log);
    if (log_len > ALERT_RUN_LOG_MAX) { /* the end says how it ended */
        log += log_len - ALERT_RUN_LOG_MAX;
        log_len = ALERT_RUN_LOG_MAX;
    }
    int rc = alert_http_post(who, url, "text/plain; charset=utf-8", NULL, log, log_len, err);
    sodium_memzero(url, strlen(url));
    free(url);
    return rc;
}

static const struct alert_driver drivers[] = {
    {"pagerduty", pagerduty_notice, NULL},
    {"slack", slack_notice, NULL},
    {"webhook", webhook_notice, NULL},
    {"command", command_notice, NULL},
    {"healthchecks", NULL, healthchecks_run},
};

static const struct alert_driver *driver_of(const struct config_alert *to)
{
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (!strcmp(drivers[i].type, to->type))
            return &drivers[i];
    return NULL;
}

bool alert_takes_notices(const struct config_alert *to)
{
    const struct alert_driver *d = driver_of(to);
    return d && d->notice;
}

bool alert_takes_runs(const struct config_alert *to)
{
    const struct alert_driver *d = driver_of(to);
    return d && d->run;
}

int alert_send_notice(const struct config_alert *to, size_t index, const struct alert_notice *n,
                      const struct alert_origin *origin, struct error *err)
{
    char who[64];
    snprintf(who, sizeof who, "alerts[%zu] (%s)", index, to->type);
    const struct alert_driver *d = driver_of(to);
    return d && d->notice ? d->notice(to, who, n, origin, err) : error_set(err, "%s takes no incidents", who);
}

int alert_send_run(const struct config_alert *to, size_t index, const struct alert_run *run, struct error *err)
{
    char who[64];
    snprintf(who, sizeof who, "alerts[%zu] (%s)", index, to->type);
    const struct alert_driver *d = driver_of(to);
    return d && d->run ? d->run(to, who, run, err) : error_set(err, "%s takes no runs", who);
}
