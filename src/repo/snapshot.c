/*
 * snapshot.c — snapshot documents as JSON, and finding them.
 */
#include "repo/snapshot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/text.h"

void string_list_add(struct string_list *list, const char *s)
{
    list->items = xrealloc(list->items, (list->count + 1) * sizeof *list->items);
    list->items[list->count++] = xstrdup(s);
}

bool string_list_has(const struct string_list *list, const char *s)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i], s) == 0)
            return true;
    return false;
}

static int compare_items(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void string_list_sort(struct string_list *list)
{
    if (list->count > 1)
        qsort(list->items, list->count, sizeof *list->items, compare_items);
}

void string_list_join(const struct string_list *list, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < list->count; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", list->items[i]);
        if (n < 0 || (size_t)n >= size - used) {
            if (size > 4)
                strcpy(out + size - 4, "...");
            return;
        }
        used += (size_t)n;
    }
}

void string_list_free(struct string_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

static json_t *strings_to_json(const struct string_list *list)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < list->count; i++)
        json_array_append_new(arr, json_string(list->items[i]));
    return arr;
}

static void strings_from_json(json_t *arr, struct string_list *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            string_list_add(list, json_string_value(v));
    }
}

void snapshot_encode(const struct snapshot *snap, struct buf *out)
{
    char time_text[40], root_hex[65];
    time_format_rfc3339_precise(snap->time, snap->time_ns, time_text);
    hex_encode(snap->root, CRYPTO_ID_SIZE, root_hex);
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f}, s:o}",
                            "version", 1, "time", time_text, "host", snap->host, "source", snap->source,
                            "type", snap->type, "tags", strings_to_json(&snap->tags), "paths",
                            strings_to_json(&snap->paths), "root", root_hex, "stats", "size",
                            (json_int_t)snap->stats.size, "added", (json_int_t)snap->stats.added, "files",
                            (json_int_t)snap->stats.files, "dirs", (json_int_t)snap->stats.dirs,
                            "blobs_new", (json_int_t)snap->stats.blobs_new, "files_unchanged",
                            (json_int_t)snap->stats.files_unchanged, "seconds", snap->stats.seconds,
                            "warnings", strings_to_json(&snap->warnings));
    if (snap->meta_json) {
        json_t *meta = json_loads(snap->meta_json, 0, NULL);
        if (json_is_object(meta))
            json_object_set_new(doc, "meta", meta);
        else
            json_decref(meta);
    }
    if (snap->run)
        json_object_set_new(doc, "run", json_string(snap->run));
    if (snap->revision)
        json_object_set_new(doc, "revision", json_string(snap->revision));
    if (snap->origin)
        json_object_set_new(doc, "origin", json_string(snap->origin));
    if (snap->repaired_from)
        json_object_set_new(doc, "repaired_from", json_string(snap->repaired_from));
    if (snap->has_parent) {
        char parent_hex[65];
        hex_encode(snap->parent, CRYPTO_ID_SIZE, parent_hex);
        json_object_set_new(doc, "parent", json_string(parent_hex));
    }
    if (snap->dictionary_count) {
        json_t *dicts = json_array();
        for (size_t i = 0; i < snap->dictionary_count; i++) {
            char dict_hex[65];
            hex_encode(snap->dictionaries[i], CRYPTO_ID_SIZE, dict_hex);
            json_array_append_new(dicts, json_string(dict_hex));
        }
        json_object_set_new(doc, "dictionaries", dicts);
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    buf_append(out, text, strlen(text));
    free(text);
    json_decref(doc);
}

int snapshot_decode(const uint8_t *data, size_t len, struct snapshot *snap, struct error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, len, 0, &jerr);
    if (!doc)
        return error_set(err, "snapshot is not valid JSON (%s)", jerr.text);
    const char *time_text, *host, *source, *type, *root_hex, *parent_hex = NULL, *run = NULL, *revision = NULL,
               *origin = NULL, *repaired_from = NULL;
    json_t *dicts = NULL;
    json_t *tags = NULL, *paths = NULL, *warnings = NULL, *stats = NULL, *meta = NULL;
    int rc = -1;
    memset(snap, 0, sizeof *snap);
    if (json_unpack(doc, "{s:s, s:s, s:s, s:s, s:s, s?o, s?o, s?o, s?o, s?s, s?o, s?o, s?s, s?s, s?s, s?s}", "time",
                    &time_text, "host", &host, "source", &source, "type", &type, "root", &root_hex, "tags", &tags,
                    "paths", &paths, "warnings", &warnings, "stats", &stats, "parent", &parent_hex, "meta", &meta,
                    "dictionaries", &dicts, "run", &run, "revision", &revision, "origin", &origin, "repaired_from",
                    &repaired_from) < 0) {
        error_set(err, "snapshot is missing fields (%s)", "time, host, source, type, root");
        goto out;
    }
    if (time_parse_rfc3339(time_text, &snap->time, &snap->time_ns) < 0 || hex_decode(root_hex, snap->root, CRYPTO_ID_SIZE) < 0) {
        error_set(err, "snapshot has a malformed time or root");
        goto out;
    }
    if (parent_hex && hex_decode(parent_hex, snap->parent, CRYPTO_ID_SIZE) == 0)
        snap->has_parent = true;
    size_t i;
    json_t *v;
    json_array_foreach(dicts, i, v)
    {
        uint8_t id[CRYPTO_ID_SIZE];
        if (json_is_string(v) && hex_decode(json_string_value(v), id, CRYPTO_ID_SIZE) == 0)
            snapshot_add_dictionary(snap, id);
    }
    snap->host = xstrdup(host);
    snap->source = xstrdup(source);
    snap->type = xstrdup(type);
    snap->run = run ? xstrdup(run) : NULL;
    snap->revision = revision ? xstrdup(revision) : NULL;
    snap->origin = origin ? xstrdup(origin) : NULL;
    snap->repaired_from = repaired_from ? xstrdup(repaired_from) : NULL;
    strings_from_json(tags, &snap->tags);
    strings_from_json(paths, &snap->paths);
    strings_from_json(warnings, &snap->warnings);
    if (json_is_object(meta))
        snap->meta_json = json_dumps(meta, JSON_COMPACT);
    if (stats) {
        json_int_t size = 0, added = 0, files = 0, dirs = 0, blobs_new = 0, unchanged = 0;
        double seconds = 0;
        json_unpack(stats, "{s?I, s?I, s?I, s?I, s?I, s?I, s?F}", "size", &size, "added", &added, "files",
                    &files, "dirs", &dirs, "blobs_new", &blobs_new, "files_unchanged", &unchanged,
                    "seconds", &seconds);
        snap->stats = (struct snapshot_stats){(uint64_t)size, (uint64_t)added, (uint64_t)files,
                                              (uint64_t)dirs, (uint64_t)blobs_new, (uint64_t)unchanged, seconds};
    }
    rc = 0;
out:
    json_decref(doc);
    return rc;
}

void snapshot_free(struct snapshot *snap)
{
    free(snap->host);
    free(snap->source);
    free(snap->type);
    free(snap->run);
    free(snap->revision);
    free(snap->origin);
    free(snap->repaired_from);
    string_list_free(&snap->tags);
    string_list_free(&snap->paths);
    string_list_free(&snap->warnings);
    free(snap->meta_json);
    free(snap->dictionaries);
    memset(snap, 0, sizeof *snap);
}

void snapshot_add_dictionary(struct snapshot *snap, const uint8_t id[CRYPTO_ID_SIZE])
{
    for (size_t i = 0; i < snap->dictionary_count; i++)
        if (memcmp(snap->dictionaries[i], id, CRYPTO_ID_SIZE) == 0)
            return;
    snap->dictionaries = xrealloc(snap->dictionaries, (snap->dictionary_count + 1) * sizeof *snap->dictionaries);
    memcpy(snap->dictionaries[snap->dictionary_count++], id, CRYPTO_ID_SIZE);
}

void snapshot_id_hex(const struct snapshot *snap, char out[65])
{
    hex_encode(snap->id, CRYPTO_ID_SIZE, out);
}

int snapshot_rewrite(struct repo *repo, const struct snapshot *snap, struct error *err)
{
    struct buf text = BUF_INIT;
    snapshot_encode(snap, &text);
    int rc = repo_put_object(repo, OBJ_SNAPSHOT, snap->id, text.data, text.len, err);
    buf_free(&text);
    return rc;
}

int snapshot_save(struct repo *repo, struct snapshot *snap, struct error *err)
{
    crypto_random(snap->id, CRYPTO_ID_SIZE);
    return snapshot_rewrite(repo, snap, err);
}

static int compare_time(const void *a, const void *b)
{
    const struct snapshot *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->time_ns != y->time_ns)
        return x->time_ns < y->time_ns ? -1 : 1;
    return memcmp(x->id, y->id, CRYPTO_ID_SIZE);
}

int snapshot_list_load(struct repo *repo, struct snapshot_list *list, struct error *err)
{
    struct repo_object *objects;
    size_t count;
    memset(list, 0, sizeof *list);
    if (repo_load_all(repo, OBJ_SNAPSHOT, &objects, &count, err) < 0)
        return -1;
    list->items = xcalloc(count ? count : 1, sizeof *list->items);
    for (size_t i = 0; i < count; i++) {
        struct repo_object *o = &objects[i];
        struct snapshot *snap = &list->items[list->count];
        struct error why;
        if (o->why) {
            string_list_add(&list->unreadable, o->why);
        } else if (snapshot_decode(o->plain.data, o->plain.len, snap, &why) < 0) {
            char name[96], line[ERROR_MSG_MAX + 128];
            repo_object_name(OBJ_SNAPSHOT, o->id, name);
            snprintf(line, sizeof line, "%s: %s", name, why.msg);
            string_list_add(&list->unreadable, line);
        } else {
            memcpy(snap->id, o->id, CRYPTO_ID_SIZE);
            list->count++;
        }
    }
    repo_objects_free(objects, count);
    if (list->count > 1)
        qsort(list->items, list->count, sizeof *list->items, compare_time);
    return 0;
}

void snapshot_list_free(struct snapshot_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        snapshot_free(&list->items[i]);
    free(list->items);
    string_list_free(&list->unreadable);
    memset(list, 0, sizeof *list);
}

/* "latest" without a source, in a repository of several: which one is
 * meant cannot be guessed (the newest is often the smallest, a .env). */
static int refuse_ambiguous_latest(const struct snapshot_list *list, struct error *err)
{
    struct string_list names = {0};
    for (size_t i = 0; i < list->count; i++)
        if (!string_list_has(&names, list->items[i].source))
            string_list_add(&names, list->items[i].source);
    if (names.count < 2) {
        string_list_free(&names);
        return 0;
    }
    string_list_sort(&names);
    char shown[ERROR_MSG_MAX / 2];
    string_list_join(&names, shown, sizeof shown);
    string_list_free(&names);
    return error_setk(err, ERR_USAGE, "\"latest\" of which source? The repository holds %s: add --source NAME",
                      shown);
}

int snapshot_find(const struct snapshot_list *list, const char *spec, const char *source,
                  const struct snapshot **out, struct error *err)
{
    const struct snapshot *found = NULL;
    bool is_latest = strcmp(spec, "latest") == 0;
    if (!is_latest && !is_hex(spec))
        return error_setk(err, ERR_USAGE, "\"%s\" is not a snapshot id (give a hex id prefix or \"latest\")", spec);
    if (is_latest && !source && refuse_ambiguous_latest(list, err) < 0)
        return -1;
    size_t prefix_len = strlen(spec);
    for (size_t i = list->count; i-- > 0;) {
        const struct snapshot *s = &list->items[i];
        if (source && strcmp(s->source, source) != 0)
            continue;
        if (is_latest) {
            found = s;
            break;
        }
        char hex[65];
        snapshot_id_hex(s, hex);
        if (prefix_len <= 64 && strncasecmp(hex, spec, prefix_len) == 0) {
            if (found)
                return error_setk(err, ERR_USAGE, "snapshot id prefix \"%s\" is ambiguous: give more digits", spec);
            found = s;
        }
    }
    if (!found) {
        if (source)
            return error_setk(err, ERR_NOT_FOUND, "no snapshot \"%s\" of source \"%s\" (see `coffer snapshots`)", spec, source);
        return error_setk(err, ERR_NOT_FOUND, "no snapshot \"%s\" (see `coffer snapshots`)", spec);
    }
    *out = found;
    return 0;
}
