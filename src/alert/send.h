/*
 * send.h — telling a receiver of `alerts:` (config.h's config_alert).
 *
 * Each type is a row of a table (send.c), as storage drivers are: what it
 * does with an incident's notice (PagerDuty Events API v2 with the
 * incident's dedup_key, a Slack message, a signed JSON webhook, a command
 * with the JSON on stdin) and with a job run (healthchecks.io's start,
 * success and fail pings). Secrets are read from their files for each
 * message and wiped; no message, error or log line holds one — errors
 * name the receiver by its place and type ("alerts[2] (slack)").
 */
#ifndef COFFER_ALERT_SEND_H
#define COFFER_ALERT_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/incident.h"
#include "config/config.h"
#include "util/error.h"

/* Who is telling: the names every message carries. */
struct alert_origin {
    const char *host;
    const char *repository;   /* the location, without credentials */
    int64_t now;
};

/* A job run, for receivers that follow runs (healthchecks). */
struct alert_run {
    const char *job;
    const char *rid;          /* the run's id: pings of overlapping runs stay apart */
    bool is_start;
    bool is_ok;               /* at the end: it did not fail */
    const char *log;          /* at the end: what it did, as text (the last 100 kB are sent) */
};

#define ALERT_RUN_LOG_MAX (100 * 1024)

bool alert_takes_notices(const struct config_alert *to);
bool alert_takes_runs(const struct config_alert *to);

/* Sends notice n to receiver to (alerts[index]). */
int alert_send_notice(const struct config_alert *to, size_t index, const struct alert_notice *n,
                      const struct alert_origin *origin, struct error *err);

/* Pings receiver to (alerts[index]) for a run's start or end. */
int alert_send_run(const struct config_alert *to, size_t index, const struct alert_run *run, struct error *err);

/* The notice as JSON — the webhook's body and the command's stdin
 * (docs/config.md lists its keys). The caller frees it. */
char *alert_notice_json(const struct alert_notice *n, const struct alert_origin *origin);

#endif
