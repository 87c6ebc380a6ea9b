/*
 * incident.c — the book of open incidents and undelivered notices
 * (incident.h), as one JSON document written whole.
 */
#include "alert/incident.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fdio.h"
#include "util/text.h"

#define BOOK_VERSION 1
#define BOOK_SIZE_MAX (16u << 20)

static const char *const action_names[] = {"trigger", "reminder", "resolved"};

const char *alert_action_name(enum alert_action action)
{
    return action <= ALERT_RESOLVE ? action_names[action] : "?";
}

static void incident_free(struct incident *i)
{
    free(i->key);
    free(i->dedup_key);
    free(i->domain);
    free(i->source);
    free(i->rule);
    free(i->what);
    free(i->todo);
    memset(i, 0, sizeof *i);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static struct incident incident_copy(const struct incident *i)
{
    return (struct incident){dup_or_null(i->key), dup_or_null(i->dedup_key), dup_or_null(i->domain),
                             dup_or_null(i->source), dup_or_null(i->rule), dup_or_null(i->what),
                             dup_or_null(i->todo), i->opened, i->last_seen, i->last_sent};
}

struct alert_notice alert_notice_copy(const struct alert_notice *notice)
{
    return (struct alert_notice){notice->action, incident_copy(&notice->incident)};
}

void alert_notice_free(struct alert_notice *notice)
{
    incident_free(&notice->incident);
}

void incident_book_free(struct incident_book *book)
{
    for (size_t i = 0; i < book->open_count; i++)
        incident_free(&book->open[i]);
    for (size_t i = 0; i < book->outbox_count; i++)
        alert_notice_free(&book->outbox[i].notice);
    free(book->open);
    free(book->outbox);
    free(book->host);
    free(book->repository);
    json_decref(book->sent);
    memset(book, 0, sizeof *book);
}

/* ---- the document ----------------------------------------------------- */

static json_t *incident_json(const struct incident *i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:I}", "key", i->key, "dedup_key",
                     i->dedup_key, "domain", i->domain, "source", i->source, "rule", i->rule, "what", i->what,
                     "todo", i->todo, "opened", (json_int_t)i->opened, "last_seen", (json_int_t)i->last_seen,
                     "last_sent", (json_int_t)i->last_sent);
}

static const char *text_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A time or count from the document, kept within what arithmetic on it
 * can take (a damaged file must not make "now - last_seen" overflow). */
static int64_t int_of(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v < 0 ? 0 : v > ((json_int_t)1 << 40) ? (int64_t)1 << 40 : (int64_t)v;
}

/* An incident from the document; false when a field it needs is missing. */
static bool incident_from_json(json_t *o, struct incident *i)
{
    const char *need[] = {text_of(o, "key"), text_of(o, "dedup_key"), text_of(o, "domain"), text_of(o, "source"),
                          text_of(o, "rule")};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        if (!need[k])
            return false;
    *i = (struct incident){xstrdup(need[0]), xstrdup(need[1]), xstrdup(need[2]), xstrdup(need[3]),
                           xstrdup(need[4]), dup_or_null(text_of(o, "what")), dup_or_null(text_of(o, "todo")),
                           int_of(o, "opened"), int_of(o, "last_seen"), int_of(o, "last_sent")};
    return true;
}

int incident_book_parse(const char *text, size_t len, struct incident_book *book, struct error *err)
{
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc) || int_of(doc, "version") != BOOK_VERSION) {
        json_decref(doc);
        return error_set(err, "not a coffer incident book (version %d)", BOOK_VERSION);
    }
    size_t n;
    json_t *o;
    json_array_foreach(json_object_get(doc, "open"), n, o) {
        struct incident i;
        if (!json_is_object(o) || !incident_from_json(o, &i))
            continue;
        book->open = xrealloc(book->open, (book->open_count + 1) * sizeof *book->open);
        book->open[book->open_count++] = i;
    }
    json_array_foreach(json_object_get(doc, "outbox"), n, o) {
        struct alert_pending p = {.receiver = (size_t)int_of(o, "receiver"), .attempts = (unsigned)int_of(o, "attempts"),
                                  .next_try = int_of(o, "next_try"), .first_try = int_of(o, "first_try")};
        const char *action = text_of(o, "action");
        json_t *inc = json_object_get(o, "incident");
        if (!action || !json_is_object(inc) || !incident_from_json(inc, &p.notice.incident))
            continue;
        p.notice.action = !strcmp(action, "resolved") ? ALERT_RESOLVE : !strcmp(action, "reminder") ? ALERT_REMIND
                                                                                                      : ALERT_TRIGGER;
        book->outbox = xrealloc(book->outbox, (book->outbox_count + 1) * sizeof *book->outbox);
        book->outbox[book->outbox_count++] = p;
    }
    json_t *sent = json_object_get(doc, "sent");
    json_decref(book->sent);
    book->sent = json_is_object(sent) ? json_deep_copy(sent) : json_object();
    book->failures = (uint64_t)int_of(doc, "failures");
    json_decref(doc);
    return 0;
}

int incident_book_load(const char *dir, const char *host, const char *repository, struct incident_book *book,
                       struct error *err)
{
    char path[4096];
    memset(book, 0, sizeof *book);
    book->host = xstrdup(host);
    book->repository = xstrdup(repository);
    book->sent = json_object();
    snprintf(path, sizeof path, "%s/incidents.json", dir);
    struct buf text = BUF_INIT;
    if (read_file_max(path, BOOK_SIZE_MAX, &text) < 0) {
        int failure = errno;
        buf_free(&text);
        return failure == ENOENT ? 0 : error_set(err, "cannot read %s: %s", path, strerror(failure));
    }
    struct error why;
    if (text.len > BOOK_SIZE_MAX || incident_book_parse((const char *)text.data, text.len, book, &why) < 0) {
        /* A damaged book: start a new one. Open incidents may page once more, never be lost silently. */
        char aside[4096 + 8];
        snprintf(aside, sizeof aside, "%s.bad", path);
        rename(path, aside);
        snprintf(book->warning, sizeof book->warning, "the incident book %s could not be read (%s); it is kept as "
                 "%s and a new one started: open incidents trigger again when seen", path,
                 text.len > BOOK_SIZE_MAX ? "too large" : why.msg, aside);
    }
    buf_free(&text);
    return 0;
}

int incident_book_save(const char *dir, const struct incident_book *book, struct error *err)
{
    json_t *open_list = json_array(), *outbox = json_array();
    for (size_t i = 0; i < book->open_count; i++)
        json_array_append_new(open_list, incident_json(&book->open[i]));
    for (size_t i = 0; i < book->outbox_count; i++) {
        const struct alert_pending *p = &book->outbox[i];
        json_array_append_new(outbox, json_pack("{s:I, s:s, s:o, s:I, s:I, s:I}", "receiver", (json_int_t)p->receiver,
                                                "action", alert_action_name(p->notice.action), "incident",
                                                incident_json(&p->notice.incident), "attempts",
                                                (json_int_t)p->attempts, "next_try", (json_int_t)p->next_try,
                                                "first_try", (json_int_t)p->first_try));
    }
    json_t *doc = json_pack("{s:i, s:o, s:o, s:O, s:I}", "version", BOOK_VERSION, "open", open_list, "outbox", outbox,
                            "sent", book->sent, "failures", (json_int_t)book->failures);
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(doc);
    char path[4096];
    snprintf(path, sizeof path, "%s/incidents.json", dir);
    int rc = write_file_atomic(path, text, strlen(text), 0600);
    int saved = errno;
    free(text);
    return rc < 0 ? error_set(err, "cannot write %s: %s", path, strerror(saved)) : 0;
}

/* ---- incidents -------------------------------------------------------- */

static void add_notice(struct alert_notice **notices, size_t *count, enum alert_action action,
                       const struct incident *i)
{
    *notices = xrealloc(*notices, (*count + 1) * sizeof **notices);
    (*notices)[(*count)++] = (struct alert_notice){action, incident_copy(i)};
}

static void set_text(char **slot, const char *value)
{
    free(*slot);
    *slot = dup_or_null(value);
}

void incident_book_update(struct incident_book *book, const char *domain, const struct alert_problem *problems,
                          size_t count, int64_t now, unsigned repeat, unsigned settle, struct alert_notice **notices,
                          size_t *notice_count)
{
    bool *is_seen = xcalloc(book->open_count + count + 1, sizeof *is_seen);
    for (size_t p = 0; p < count; p++) {
        char key[1024];
        snprintf(key, sizeof key, "%s|%s|%s|%s", book->host, book->repository, problems[p].source, problems[p].rule);
        size_t i = 0;
        while (i < book->open_count && strcmp(book->open[i].key, key))
            i++;
        if (i == book->open_count) {
            uint8_t hash[crypto_hash_sha256_BYTES];
            char hex[2 * crypto_hash_sha256_BYTES + 1], dedup[48];
            crypto_hash_sha256(hash, (const uint8_t *)key, strlen(key));
            hex_encode(hash, 16, hex);
            snprintf(dedup, sizeof dedup, "coffer-%s", hex);
            book->open = xrealloc(book->open, (book->open_count + 1) * sizeof *book->open);
            book->open[book->open_count++] = (struct incident){
                xstrdup(key), xstrdup(dedup), xstrdup(domain), xstrdup(problems[p].source), xstrdup(problems[p].rule),
                dup_or_null(problems[p].what), dup_or_null(problems[p].todo), now, now, now};
            is_seen[i] = true;
            add_notice(notices, notice_count, ALERT_TRIGGER, &book->open[i]);
            continue;
        }
        struct incident *inc = &book->open[i];
        if (is_seen[i])
            continue; /* the same key twice in one report */
        is_seen[i] = true;
        set_text(&inc->what, problems[p].what);
        set_text(&inc->todo, problems[p].todo);
        inc->last_seen = now;
        if (now - inc->last_sent >= (int64_t)repeat) {
            inc->last_sent = now;
            add_notice(notices, notice_count, ALERT_REMIND, inc);
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < book->open_count; i++) {
        struct incident *inc = &book->open[i];
        if (!is_seen[i] && !strcmp(inc->domain, domain) && now - inc->last_seen >= (int64_t)settle) {
            add_notice(notices, notice_count, ALERT_RESOLVE, inc);
            incident_free(inc);
            continue;
        }
        book->open[kept++] = *inc;
    }
    book->open_count = kept;
    free(is_seen);
}
