/*
 * env.c — the env source (see env.h).
 */
#include "source/env.h"

#include <jansson.h>
#include <stdlib.h>

static char *const default_words[] = {"KEY", "SECRET", "PASSWORD", "TOKEN"};

int env_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const struct env_settings *src = settings;
    const struct files_settings files = {.paths = src->paths};
    if (files_source_backup(ctx, &files, err) < 0)
        return -1;
    char *const *words = src->redact.count ? src->redact.items : default_words;
    size_t count = src->redact.count ? src->redact.count : sizeof default_words / sizeof default_words[0];
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, json_string(words[i]));
    json_t *meta = json_pack("{s:o}", "redact", list);
    ctx->snapshot->meta_json = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    return 0;
}

void env_redact_words(const struct snapshot *snap, struct string_list *words)
{
    json_t *meta = snap->meta_json ? json_loads(snap->meta_json, 0, NULL) : NULL;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(meta, "redact"), i, w)
        if (json_is_string(w))
            string_list_add(words, json_string_value(w));
    json_decref(meta);
}

int env_probe(const void *settings, char *what, size_t size, struct error *err)
{
    return source_probe_paths(&((const struct env_settings *)settings)->paths, what, size, err);
}
