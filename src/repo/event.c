/*
 * event.c — check and drill results kept in the repository (see event.h).
 */
#include "repo/event.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/host.h"

int event_save(struct repo *repo, const char *kind, json_t *doc, struct error *err)
{
    char host[64];
    host_name(host, sizeof host);
    json_object_set_new(doc, "kind", json_string(kind));
    if (!json_is_number(json_object_get(doc, "time"))) { /* the caller's clock (daemon --now), else the host's */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        json_object_set_new(doc, "time", json_real((double)now.tv_sec + (double)(now.tv_nsec / 1000) / 1e6));
    }
    json_object_set_new(doc, "host", json_string(host));
    json_object_set_new(doc, "coffer_version", json_string(COFFER_VERSION));
    char *text = json_dumps(doc, JSON_COMPACT);
    uint8_t id[CRYPTO_ID_SIZE];
    crypto_random(id, sizeof id);
    int rc = repo_put_object(repo, OBJ_EVENT, id, text, strlen(text), err);
    free(text);
    return rc < 0 ? error_wrap(err, "cannot record the %s", kind) : 0;
}

int event_parse(const uint8_t *data, size_t len, struct event *e)
{
    memset(e, 0, sizeof *e);
    json_t *doc = json_loadb((const char *)data, len, 0, NULL);
    const char *k = json_string_value(json_object_get(doc, "kind"));
    json_t *t = json_object_get(doc, "time");
    if (!json_is_object(doc) || !k || !json_is_number(t)) {
        json_decref(doc);
        return -1;
    }
    e->kind = k;
    e->time = json_number_value(t);
    e->doc = doc;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return memcmp(x->id, y->id, CRYPTO_ID_SIZE);
}

int event_list_load(struct repo *repo, const char *kind, struct event_list *list, struct error *err)
{
    struct repo_object *objects;
    size_t count;
    memset(list, 0, sizeof *list);
    if (repo_load_all(repo, OBJ_EVENT, &objects, &count, err) < 0)
        return -1;
    list->items = xcalloc(count ? count : 1, sizeof *list->items);
    for (size_t i = 0; i < count; i++) {
        struct event *e = &list->items[list->count];
        if (objects[i].why || event_parse(objects[i].plain.data, objects[i].plain.len, e) < 0) {
            list->unreadable++;
            continue;
        }
        if (kind && strcmp(kind, e->kind)) {
            json_decref(e->doc);
            memset(e, 0, sizeof *e);
            continue;
        }
        memcpy(e->id, objects[i].id, CRYPTO_ID_SIZE);
        list->count++;
    }
    repo_objects_free(objects, count);
    if (list->count > 1)
        qsort(list->items, list->count, sizeof *list->items, by_time);
    return 0;
}

void event_list_free(struct event_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        json_decref(list->items[i].doc);
    free(list->items);
    memset(list, 0, sizeof *list);
}

const struct event *event_latest(const struct event_list *list, const char *kind, const char *source)
{
    for (size_t i = list->count; i-- > 0;) {
        const struct event *e = &list->items[i];
        const char *s = json_string_value(json_object_get(e->doc, "source"));
        if (!strcmp(e->kind, kind) && (!source || (s && !strcmp(s, source))))
            return e;
    }
    return NULL;
}
