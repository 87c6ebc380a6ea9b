/*
 * damage.c — damage records: damage/<id> objects (see damage.h).
 *
 * Plaintext: {"blobs": [{"id": hex, "pack": hex, "cause": text}, ...],
 * "missing_packs": [hex, ...]}, sealed like every object (kind 'x').
 */
#include "repo/damage.h"

#include <stdlib.h>
#include <string.h>

#include "repo/repo_int.h"
#include "store/store.h"
#include "util/parallel.h"
#include "util/text.h"

void damage_add_blob(struct damage_list *list, const uint8_t id[CRYPTO_ID_SIZE], const uint8_t pack[CRYPTO_ID_SIZE],
                     const char *cause)
{
    if (list->count == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 16;
        list->blobs = xrealloc(list->blobs, list->cap * sizeof *list->blobs);
    }
    struct damaged_blob *b = &list->blobs[list->count++];
    memcpy(b->id, id, CRYPTO_ID_SIZE);
    memcpy(b->pack, pack, CRYPTO_ID_SIZE);
    b->cause = xstrdup(cause ? cause : "");
}

void damage_add_missing(struct damage_list *list, const uint8_t pack[CRYPTO_ID_SIZE])
{
    for (size_t i = 0; i < list->missing_count; i++)
        if (!memcmp(list->missing[i], pack, CRYPTO_ID_SIZE))
            return;
    if (list->missing_count == list->missing_cap) {
        list->missing_cap = list->missing_cap ? 2 * list->missing_cap : 8;
        list->missing = xrealloc(list->missing, list->missing_cap * sizeof *list->missing);
    }
    memcpy(list->missing[list->missing_count++], pack, CRYPTO_ID_SIZE);
}

void damage_free(struct damage_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->blobs[i].cause);
    free(list->blobs);
    free(list->missing);
    for (size_t i = 0; i < list->name_count; i++)
        free(list->names[i]);
    free(list->names);
    memset(list, 0, sizeof *list);
}

json_t *damage_encode(const struct damage_list *list)
{
    json_t *blobs = json_array(), *missing = json_array();
    char id[2 * CRYPTO_ID_SIZE + 1], pack[2 * CRYPTO_ID_SIZE + 1];
    for (size_t i = 0; i < list->count; i++) {
        hex_encode(list->blobs[i].id, CRYPTO_ID_SIZE, id);
        hex_encode(list->blobs[i].pack, CRYPTO_ID_SIZE, pack);
        json_array_append_new(blobs, json_pack("{s:s, s:s, s:s}", "id", id, "pack", pack, "cause",
                                               list->blobs[i].cause));
    }
    for (size_t i = 0; i < list->missing_count; i++) {
        hex_encode(list->missing[i], CRYPTO_ID_SIZE, pack);
        json_array_append_new(missing, json_string(pack));
    }
    return json_pack("{s:o, s:o}", "blobs", blobs, "missing_packs", missing);
}

static bool read_hex_id(const json_t *value, uint8_t out[CRYPTO_ID_SIZE])
{
    const char *text = json_string_value(value);
    return text && strlen(text) == 2 * CRYPTO_ID_SIZE && hex_decode(text, out, CRYPTO_ID_SIZE) == 0;
}

int damage_decode(const json_t *doc, struct damage_list *out, struct error *err)
{
    const json_t *blobs = json_object_get(doc, "blobs"), *missing = json_object_get(doc, "missing_packs");
    if (!json_is_array(blobs) || !json_is_array(missing))
        return error_set(err, "not a damage record (no blobs or missing_packs list)");
    for (size_t i = 0; i < json_array_size(blobs); i++) {
        const json_t *b = json_array_get(blobs, i);
        uint8_t id[CRYPTO_ID_SIZE], pack[CRYPTO_ID_SIZE];
        const char *cause = json_string_value(json_object_get(b, "cause"));
        if (!read_hex_id(json_object_get(b, "id"), id) || !read_hex_id(json_object_get(b, "pack"), pack) || !cause)
            return error_set(err, "damage record entry %zu is malformed", i);
        damage_add_blob(out, id, pack, cause);
    }
    for (size_t i = 0; i < json_array_size(missing); i++) {
        uint8_t pack[CRYPTO_ID_SIZE];
        if (!read_hex_id(json_array_get(missing, i), pack))
            return error_set(err, "damage record missing pack %zu is malformed", i);
        damage_add_missing(out, pack);
    }
    return 0;
}

int damage_load(struct repo *repo, struct damage_list *out, struct error *err)
{
    struct repo_object *objects = NULL;
    size_t count = 0;
    memset(out, 0, sizeof *out);
    if (repo_load_all(repo, OBJ_DAMAGE, &objects, &count, err) < 0)
        return error_wrap(err, "cannot list the damage records");
    out->names = xcalloc(count + 1, sizeof *out->names);
    for (size_t i = 0; i < count; i++) {
        char name[96];
        repo_object_name(OBJ_DAMAGE, objects[i].id, name);
        out->names[out->name_count++] = xstrdup(name);
        if (objects[i].why)
            continue;
        json_t *doc = json_loadb((const char *)objects[i].plain.data, objects[i].plain.len, 0, NULL);
        struct error ignored;
        struct damage_list one = {0};
        if (doc && damage_decode(doc, &one, &ignored) == 0) {
            for (size_t b = 0; b < one.count; b++)
                damage_add_blob(out, one.blobs[b].id, one.blobs[b].pack, one.blobs[b].cause);
            for (size_t m = 0; m < one.missing_count; m++)
                damage_add_missing(out, one.missing[m]);
        }
        damage_free(&one);
        json_decref(doc);
    }
    repo_objects_free(objects, count);
    return 0;
}

void damage_apply_blobs(const struct damage_list *list, struct index *index)
{
    uint8_t *pairs = xmalloc(list->count * 2 * CRYPTO_ID_SIZE + 1);
    for (size_t i = 0; i < list->count; i++) {
        memcpy(pairs + i * 2 * CRYPTO_ID_SIZE, list->blobs[i].id, CRYPTO_ID_SIZE);
        memcpy(pairs + i * 2 * CRYPTO_ID_SIZE + CRYPTO_ID_SIZE, list->blobs[i].pack, CRYPTO_ID_SIZE);
    }
    index_add_damage(index, pairs, list->count);
    free(pairs);
}

void damage_apply_missing(const struct damage_list *list, struct index *index)
{
    for (size_t m = 0; m < list->missing_count; m++)
        for (uint32_t p = 0; p < index_pack_count(index); p++) {
            uint8_t id[CRYPTO_ID_SIZE];
            index_pack_id(index, p, id);
            if (!memcmp(id, list->missing[m], CRYPTO_ID_SIZE))
                index_mark_pack(index, p, INDEX_PACK_MISSING);
        }
}

int damage_replace(struct repo *repo, const struct damage_list *old, const struct damage_list *found,
                   damage_pack_fn is_read_pack, void *ctx, struct error *err)
{
    struct damage_list next = {0};
    for (size_t i = 0; i < found->count; i++)
        damage_add_blob(&next, found->blobs[i].id, found->blobs[i].pack, found->blobs[i].cause);
    for (size_t i = 0; i < found->missing_count; i++)
        damage_add_missing(&next, found->missing[i]);
    for (size_t i = 0; i < old->count; i++)
        if (!is_read_pack(ctx, old->blobs[i].pack))
            damage_add_blob(&next, old->blobs[i].id, old->blobs[i].pack, old->blobs[i].cause);
    int rc = 0;
    if (next.count || next.missing_count) {
        json_t *doc = damage_encode(&next);
        char *text = json_dumps(doc, JSON_COMPACT);
        uint8_t id[CRYPTO_ID_SIZE];
        crypto_random(id, sizeof id);
        rc = repo_put_object(repo, OBJ_DAMAGE, id, text, strlen(text), err);
        free(text);
        json_decref(doc);
    }
    /* Missing packs are listed afresh by every check, so old ones go. */
    if (rc == 0)
        rc = store_delete_many(repo->store, old->names, old->name_count, err);
    damage_free(&next);
    return rc < 0 ? error_wrap(err, "cannot record the damage found") : 0;
}
