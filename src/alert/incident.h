/*
 * incident.h — problems as incidents, not messages.
 *
 * Each problem has a stable key: the host, the repository, the source (or
 * "job NAME", "daemon") and the rule. The book, kept in
 * <state_dir>/incidents.json, remembers the incidents open. A problem seen
 * for the first time opens one: a trigger is sent. While it lasts nothing
 * more is sent but a reminder every `repeat`. When it has been gone for
 * `settle` (seen absent by a run at least that long after it was last
 * seen), a resolve is sent; one that comes back before then was never
 * gone, so a flapping problem pages once. Problems are given per domain —
 * the monitor's (the status rules of every source), one job's (its
 * failures, skips, missed runs), the daemon's (its configuration) — and a
 * domain's update resolves only that domain's incidents.
 *
 * Notices that could not be delivered wait in the book's outbox, tried
 * again by later runs with a growing delay (1 minute, doubling, at most an
 * hour) for a day; counts of what was sent and what failed are kept for
 * the metrics.
 * The book is read and written under the run ledger's lock.
 */
#ifndef COFFER_ALERT_INCIDENT_H
#define COFFER_ALERT_INCIDENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum alert_action { ALERT_TRIGGER, ALERT_REMIND, ALERT_RESOLVE };

const char *alert_action_name(enum alert_action action); /* trigger, reminder, resolved */

/* A problem as a domain reports it. */
struct alert_problem {
    const char *source;   /* a source's name, "job NAME" or "daemon" */
    const char *rule;     /* rpo, max_age, failed, skipped, missed, config, ... */
    const char *what;
    const char *todo;     /* may be NULL */
};

struct incident {
    char *key;            /* host|repository|source|rule */
    char *dedup_key;      /* the key as receivers see it: "coffer-" and 32 hex digits */
    char *domain;
    char *source, *rule, *what, *todo;
    int64_t opened, last_seen, last_sent;
};

/* What to tell every receiver: an incident's trigger, reminder or resolve. */
struct alert_notice {
    enum alert_action action;
    struct incident incident; /* a copy */
};

/* A notice that a receiver has not taken yet. */
struct alert_pending {
    size_t receiver;          /* its index in alerts: */
    struct alert_notice notice;
    unsigned attempts;
    int64_t next_try, first_try;
};

struct incident_book {
    char *host, *repository;
    struct incident *open;
    size_t open_count;
    struct alert_pending *outbox;
    size_t outbox_count;
    json_t *sent;             /* {type: count} delivered */
    uint64_t failures;        /* deliveries that failed (each attempt) */
    char warning[ERROR_MSG_MAX]; /* a book that could not be read and was put aside, or "" */
};

/* Reads <dir>/incidents.json (none yet: an empty book); host and
 * repository make the keys of the problems given to it. */
int incident_book_load(const char *dir, const char *host, const char *repository, struct incident_book *book,
                       struct error *err);
int incident_book_save(const char *dir, const struct incident_book *book, struct error *err);
void incident_book_free(struct incident_book *book);

/* The domain's problems now: the notices to send, appended to *notices
 * (free each with alert_notice_free, then the array). */
void incident_book_update(struct incident_book *book, const char *domain, const struct alert_problem *problems,
                          size_t count, int64_t now, unsigned repeat, unsigned settle, struct alert_notice **notices,
                          size_t *notice_count);

struct alert_notice alert_notice_copy(const struct alert_notice *notice);
void alert_notice_free(struct alert_notice *notice);

/* Reads an incidents document (for incident_book_load and its fuzz harness). */
int incident_book_parse(const char *text, size_t len, struct incident_book *book, struct error *err);

#endif
