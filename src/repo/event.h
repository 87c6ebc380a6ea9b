/*
 * event.h — the repository's history besides its snapshots: every check and
 * drill leaves an event, a sealed JSON document under events/<id>, so that
 * `coffer status` on any machine with a key sees the same results, and a
 * partial `check --read-data=N%` knows which share of the packs the
 * previous one read.
 *
 * A document is a JSON object; event_save adds "kind", "time" (unix
 * seconds, a fraction to the microsecond; unless the caller set it, as
 * `coffer daemon --now` does), "host" and "coffer_version" to what the
 * caller put in it.
 * Events are small and few (one per check or drill run); nothing deletes
 * them yet.
 */
#ifndef COFFER_REPO_EVENT_H
#define COFFER_REPO_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

struct event {
    uint8_t id[CRYPTO_ID_SIZE];
    const char *kind; /* "check" or "drill" (inside doc) */
    double time;      /* unix seconds, to the microsecond: events of one second keep their order */
    json_t *doc;      /* the whole document, owned by the list */
};

struct event_list {
    struct event *items; /* oldest first */
    size_t count;
    size_t unreadable;   /* events that could not be read or parsed, left out */
};

/* Reads one event document (the plaintext of events/<id>): a JSON object
 * with a string "kind" and a number "time"; e->id is left zero, e->doc is
 * the caller's to json_decref. Returns 0, or -1 for anything else. */
int event_parse(const uint8_t *data, size_t len, struct event *e);
/* Adds kind, time, host and coffer_version to doc and stores it. */
int event_save(struct repo *repo, const char *kind, json_t *doc, struct error *err);

/* Loads every event (of one kind, or all when kind is NULL). */
int event_list_load(struct repo *repo, const char *kind, struct event_list *list, struct error *err);
void event_list_free(struct event_list *list);

/* The newest event of a kind whose "source" is source (NULL: any), or NULL. */
const struct event *event_latest(const struct event_list *list, const char *kind, const char *source);

#endif
