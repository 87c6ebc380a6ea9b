/*
 * index.c — the blob index in memory and in index files (see index.h).
 */
#include "repo/index.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_EMPTY UINT32_MAX
#define INDEX_MAGIC "CIX1"

struct index {
    pthread_mutex_t mutex;
    struct index_entry *entries;
    size_t count;
    size_t cap;
    uint32_t *slots; /* entry numbers, SLOT_EMPTY where free */
    size_t slot_mask;
    uint8_t (*packs)[CRYPTO_ID_SIZE];
    uint8_t *pack_flags; /* INDEX_PACK_* per pack number */
    uint8_t (*damage)[2 * CRYPTO_ID_SIZE]; /* damaged copies: blob id || pack id, sorted */
    size_t damage_count;
    struct index_entry *others; /* second and later copies of a blob (rare: kept for readers to fall back on) */
    size_t other_count, other_cap;
    size_t pack_count;
    size_t pack_cap;
};

static uint64_t id_hash64(const uint8_t id[CRYPTO_ID_SIZE])
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return h;
}

struct index *index_new(void)
{
    struct index *idx = xcalloc(1, sizeof *idx);
    pthread_mutex_init(&idx->mutex, NULL);
    idx->slot_mask = 1023;
    idx->slots = xmalloc((idx->slot_mask + 1) * sizeof *idx->slots);
    memset(idx->slots, 0xff, (idx->slot_mask + 1) * sizeof *idx->slots);
    return idx;
}

void index_free(struct index *idx)
{
    if (!idx)
        return;
    pthread_mutex_destroy(&idx->mutex);
    free(idx->entries);
    free(idx->slots);
    free(idx->packs);
    free(idx->pack_flags);
    free(idx->damage);
    free(idx->others);
    free(idx);
}

/* Returns the slot holding id, or the empty slot where it would go. */
static size_t slot_of(const struct index *idx, const uint8_t id[CRYPTO_ID_SIZE])
{
    size_t s = id_hash64(id) & idx->slot_mask;
    while (idx->slots[s] != SLOT_EMPTY &&
           memcmp(idx->entries[idx->slots[s]].id, id, CRYPTO_ID_SIZE) != 0)
        s = (s + 1) & idx->slot_mask;
    return s;
}

static void grow_slots(struct index *idx)
{
    size_t n = (idx->slot_mask + 1) * 2;
    free(idx->slots);
    idx->slots = xmalloc(n * sizeof *idx->slots);
    memset(idx->slots, 0xff, n * sizeof *idx->slots);
    idx->slot_mask = n - 1;
    for (size_t i = 0; i < idx->count; i++)
        idx->slots[slot_of(idx, idx->entries[i].id)] = (uint32_t)i;
}

/* A pack listed by both an index file and a condemned/ file gets a number
 * for each, so that its condemned number never marks the live one. */
static uint32_t add_pack(struct index *idx, const uint8_t pack_id[CRYPTO_ID_SIZE], uint8_t flags)
{
    pthread_mutex_lock(&idx->mutex);
    /* Packs arrive in runs from one index file; checking the last few
     * catches repeats without a second hash table. */
    for (size_t i = idx->pack_count; i > 0 && i + 8 > idx->pack_count; i--) {
        if (memcmp(idx->packs[i - 1], pack_id, CRYPTO_ID_SIZE) == 0 && idx->pack_flags[i - 1] == flags) {
            pthread_mutex_unlock(&idx->mutex);
            return (uint32_t)(i - 1);
        }
    }
    if (idx->pack_count == idx->pack_cap) {
        idx->pack_cap = idx->pack_cap ? idx->pack_cap * 2 : 64;
        idx->packs = xrealloc(idx->packs, idx->pack_cap * sizeof *idx->packs);
        idx->pack_flags = xrealloc(idx->pack_flags, idx->pack_cap);
    }
    memcpy(idx->packs[idx->pack_count], pack_id, CRYPTO_ID_SIZE);
    idx->pack_flags[idx->pack_count] = flags;
    uint32_t n = (uint32_t)idx->pack_count++;
    pthread_mutex_unlock(&idx->mutex);
    return n;
}

uint32_t index_add_pack(struct index *idx, const uint8_t pack_id[CRYPTO_ID_SIZE])
{
    return add_pack(idx, pack_id, 0);
}

void index_pack_id(const struct index *idx, uint32_t pack, uint8_t out[CRYPTO_ID_SIZE])
{
    pthread_mutex_lock((pthread_mutex_t *)&idx->mutex);
    memcpy(out, idx->packs[pack], CRYPTO_ID_SIZE);
    pthread_mutex_unlock((pthread_mutex_t *)&idx->mutex);
}

void index_mark_pack(struct index *idx, uint32_t pack, uint8_t flags)
{
    pthread_mutex_lock(&idx->mutex);
    uint8_t id[CRYPTO_ID_SIZE];
    memcpy(id, idx->packs[pack], CRYPTO_ID_SIZE);
    for (size_t i = 0; i < idx->pack_count; i++)
        if (memcmp(idx->packs[i], id, CRYPTO_ID_SIZE) == 0)
            idx->pack_flags[i] |= flags;
    pthread_mutex_unlock(&idx->mutex);
}

uint8_t index_pack_flags(const struct index *idx, uint32_t pack)
{
    pthread_mutex_lock((pthread_mutex_t *)&idx->mutex);
    uint8_t flags = idx->pack_flags[pack];
    pthread_mutex_unlock((pthread_mutex_t *)&idx->mutex);
    return flags;
}

static bool is_usable_locked(const struct index *idx, const struct index_entry *e)
{
    if (e->pack == INDEX_PACK_PENDING)
        return true;
    /* A number no index_add_pack gave (an index used as a set of ids) has no flags. */
    uint8_t pack_flags = e->pack < idx->pack_count ? idx->pack_flags[e->pack] : 0;
    return !(e->flags & INDEX_BLOB_DAMAGED) && pack_flags == 0;
}

/* Whether a reader may try this copy: not known damaged, its pack not
 * known missing. A condemned pack's copy is readable: the pack stays until
 * a prune deletes it, and readers are meant to use it meanwhile. */
static bool is_readable_locked(const struct index *idx, const struct index_entry *e)
{
    uint8_t pack_flags = e->pack < idx->pack_count ? idx->pack_flags[e->pack] : 0;
    return e->pack != INDEX_PACK_PENDING && !(e->flags & INDEX_BLOB_DAMAGED) && !(pack_flags & INDEX_PACK_MISSING);
}

bool index_is_usable(const struct index *idx, const struct index_entry *e)
{
    pthread_mutex_lock((pthread_mutex_t *)&idx->mutex);
    bool is_usable = is_usable_locked(idx, e);
    pthread_mutex_unlock((pthread_mutex_t *)&idx->mutex);
    return is_usable;
}

size_t index_pack_count(const struct index *idx)
{
    return idx->pack_count;
}

size_t index_blob_count(const struct index *idx)
{
    return idx->count;
}

bool index_find(const struct index *idx, const uint8_t id[CRYPTO_ID_SIZE], struct index_entry *out)
{
    pthread_mutex_lock((pthread_mutex_t *)&idx->mutex);
    size_t s = slot_of(idx, id);
    bool is_found = idx->slots[s] != SLOT_EMPTY;
    if (is_found && out)
        *out = idx->entries[idx->slots[s]];
    pthread_mutex_unlock((pthread_mutex_t *)&idx->mutex);
    return is_found;
}

bool index_find_pack(const struct index *idx, const uint8_t id[CRYPTO_ID_SIZE], uint8_t pack[CRYPTO_ID_SIZE])
{
    struct index_entry e;
    if (!index_find(idx, id, &e) || e.pack == INDEX_PACK_PENDING)
        return false;
    index_pack_id(idx, e.pack, pack);
    return true;
}

static int compare_pairs(const void *a, const void *b)
{
    return memcmp(a, b, 2 * CRYPTO_ID_SIZE);
}

static bool is_damaged_copy_locked(const struct index *idx, const struct index_entry *e)
{
    if (idx->damage_count == 0 || e->pack == INDEX_PACK_PENDING || e->pack >= idx->pack_count)
        return false;
    uint8_t pair[2 * CRYPTO_ID_SIZE];
    memcpy(pair, e->id, CRYPTO_ID_SIZE);
    memcpy(pair + CRYPTO_ID_SIZE, idx->packs[e->pack], CRYPTO_ID_SIZE);
    return bsearch(pair, idx->damage, idx->damage_count, sizeof *idx->damage, compare_pairs) != NULL;
}

void index_add_damage(struct index *idx, const uint8_t *pairs, size_t count)
{
    if (count == 0)
        return;
    pthread_mutex_lock(&idx->mutex);
    idx->damage = xrealloc(idx->damage, (idx->damage_count + count) * sizeof *idx->damage);
    memcpy(idx->damage[idx->damage_count], pairs, count * sizeof *idx->damage);
    idx->damage_count += count;
    qsort(idx->damage, idx->damage_count, sizeof *idx->damage, compare_pairs);
    for (size_t i = 0; i < count; i++) {
        size_t s = slot_of(idx, pairs + i * 2 * CRYPTO_ID_SIZE);
        if (idx->slots[s] == SLOT_EMPTY)
            continue;
        struct index_entry *e = &idx->entries[idx->slots[s]];
        if (is_damaged_copy_locked(idx, e))
            e->flags |= INDEX_BLOB_DAMAGED;
    }
    pthread_mutex_unlock(&idx->mutex);
}

static bool insert_locked(struct index *idx, const struct index_entry *given)
{
    struct index_entry copy = *given;
    const struct index_entry *entry = &copy;
    if (is_damaged_copy_locked(idx, &copy))
        copy.flags |= INDEX_BLOB_DAMAGED;
    size_t s = slot_of(idx, entry->id);
    if (idx->slots[s] != SLOT_EMPTY) {
        struct index_entry *old = &idx->entries[idx->slots[s]];
        bool is_replacing = !is_usable_locked(idx, old) && is_usable_locked(idx, entry);
        const struct index_entry *other = is_replacing ? old : entry;
        if (other->pack != INDEX_PACK_PENDING && old->pack != entry->pack) {
            if (idx->other_count == idx->other_cap) {
                idx->other_cap = idx->other_cap ? 2 * idx->other_cap : 16;
                idx->others = xrealloc(idx->others, idx->other_cap * sizeof *idx->others);
            }
            idx->others[idx->other_count++] = *other;
        }
        if (is_replacing)
            *old = *entry;
        return is_replacing;
    }
    if (idx->count == idx->cap) {
        idx->cap = idx->cap ? idx->cap * 2 : 1024;
        idx->entries = xrealloc(idx->entries, idx->cap * sizeof *idx->entries);
    }
    idx->entries[idx->count] = *entry;
    idx->slots[s] = (uint32_t)idx->count++;
    if (idx->count * 2 > idx->slot_mask + 1)
        grow_slots(idx);
    return true;
}

bool index_insert(struct index *idx, const struct index_entry *entry)
{
    pthread_mutex_lock(&idx->mutex);
    bool is_added = insert_locked(idx, entry);
    pthread_mutex_unlock(&idx->mutex);
    return is_added;
}

bool index_add_id(struct index *idx, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct index_entry e = {.pack = INDEX_PACK_PENDING};
    memcpy(e.id, id, CRYPTO_ID_SIZE);
    return index_insert(idx, &e);
}

bool index_find_other(struct index *idx, const struct index_entry *bad, struct index_entry *out)
{
    pthread_mutex_lock(&idx->mutex);
    bool is_found = false;
    for (size_t i = 0; i < idx->other_count && !is_found; i++) {
        struct index_entry *o = &idx->others[i];
        if (memcmp(o->id, bad->id, CRYPTO_ID_SIZE) != 0 || o->pack == bad->pack)
            continue;
        if (is_damaged_copy_locked(idx, o))
            o->flags |= INDEX_BLOB_DAMAGED;
        if (!is_readable_locked(idx, o))
            continue;
        *out = *o;
        is_found = true;
        /* The good copy becomes the one everybody finds. */
        size_t s = slot_of(idx, bad->id);
        if (idx->slots[s] != SLOT_EMPTY)
            idx->entries[idx->slots[s]] = *o;
        *o = *bad;
    }
    pthread_mutex_unlock(&idx->mutex);
    return is_found;
}

void index_set_location(struct index *idx, const struct index_entry *entry)
{
    pthread_mutex_lock(&idx->mutex);
    size_t s = slot_of(idx, entry->id);
    if (idx->slots[s] != SLOT_EMPTY)
        idx->entries[idx->slots[s]] = *entry;
    else
        insert_locked(idx, entry);
    pthread_mutex_unlock(&idx->mutex);
}

void index_each_other(const struct index *idx, index_each_fn fn, void *ctx)
{
    pthread_mutex_lock((pthread_mutex_t *)&idx->mutex);
    for (size_t i = 0; i < idx->other_count; i++) {
        struct index_entry e = idx->others[i];
        bool is_known = e.pack < idx->pack_count;
        if (is_damaged_copy_locked(idx, &e)) /* damage recorded after the copy was filed */
            e.flags |= INDEX_BLOB_DAMAGED;
        fn(ctx, &e, is_known ? idx->packs[e.pack] : NULL, is_known ? idx->pack_flags[e.pack] : 0);
    }
    pthread_mutex_unlock((pthread_mutex_t *)&idx->mutex);
}

void index_each(const struct index *idx, index_each_fn fn, void *ctx)
{
    pthread_mutex_lock((pthread_mutex_t *)&idx->mutex);
    for (size_t i = 0; i < idx->count; i++) {
        const struct index_entry *e = &idx->entries[i];
        bool is_pending = e->pack == INDEX_PACK_PENDING || e->pack >= idx->pack_count;
        fn(ctx, e, is_pending ? NULL : idx->packs[e->pack], is_pending ? 0 : idx->pack_flags[e->pack]);
    }
    pthread_mutex_unlock((pthread_mutex_t *)&idx->mutex);
}

void pack_record_add(struct pack_record *rec, const struct pack_blob *blob)
{
    if (rec->count == rec->cap) {
        rec->cap = rec->cap ? rec->cap * 2 : 256;
        rec->blobs = xrealloc(rec->blobs, rec->cap * sizeof *rec->blobs);
    }
    rec->blobs[rec->count++] = *blob;
}

void pack_record_free(struct pack_record *rec)
{
    free(rec->blobs);
    rec->blobs = NULL;
    rec->count = rec->cap = 0;
}

/* Layout: "CIX1", u32 pack count, then per pack: id[32], u32 blob count,
 * then per blob: id[32], u8 type, u32 offset, u32 length, u32 raw length. */
void index_file_encode(const struct pack_record *packs, size_t count, struct buf *out)
{
    buf_append(out, INDEX_MAGIC, 4);
    buf_append_u32(out, (uint32_t)count);
    for (size_t p = 0; p < count; p++) {
        buf_append(out, packs[p].id, CRYPTO_ID_SIZE);
        buf_append_u32(out, (uint32_t)packs[p].count);
        for (size_t b = 0; b < packs[p].count; b++) {
            const struct pack_blob *blob = &packs[p].blobs[b];
            buf_append(out, blob->id, CRYPTO_ID_SIZE);
            buf_append_u8(out, blob->type);
            buf_append_u32(out, blob->offset);
            buf_append_u32(out, blob->length);
            buf_append_u32(out, blob->raw_length);
        }
    }
}

/* Whether the bytes after the magic are a well-formed list of packs. */
static bool is_well_formed(struct cursor c)
{
    uint32_t npacks = cursor_u32(&c);
    for (uint32_t p = 0; p < npacks && !c.is_bad; p++) {
        cursor_bytes(&c, CRYPTO_ID_SIZE);
        uint32_t nblobs = cursor_u32(&c);
        if (c.is_bad || (uint64_t)nblobs * 45 > c.left)
            return false;
        cursor_bytes(&c, (size_t)nblobs * 45);
    }
    return !c.is_bad && c.left == 0;
}

int index_file_records(const uint8_t *data, size_t len, struct pack_record **out, size_t *count, struct error *err)
{
    struct cursor c = cursor_of(data, len);
    const uint8_t *magic = cursor_bytes(&c, 4);
    *out = NULL;
    *count = 0;
    if (!magic || memcmp(magic, INDEX_MAGIC, 4) != 0)
        return error_set(err, "not an index file (bad magic)");
    if (!is_well_formed(c))
        return error_set(err, "index file is truncated or malformed");
    uint32_t npacks = cursor_u32(&c);
    *out = xcalloc(npacks ? npacks : 1, sizeof **out);
    for (uint32_t p = 0; p < npacks; p++) {
        struct pack_record *rec = &(*out)[p];
        memcpy(rec->id, cursor_bytes(&c, CRYPTO_ID_SIZE), CRYPTO_ID_SIZE);
        uint32_t nblobs = cursor_u32(&c);
        for (uint32_t b = 0; b < nblobs; b++) {
            struct pack_blob blob;
            memcpy(blob.id, cursor_bytes(&c, CRYPTO_ID_SIZE), CRYPTO_ID_SIZE);
            blob.type = cursor_u8(&c);
            blob.offset = cursor_u32(&c);
            blob.length = cursor_u32(&c);
            blob.raw_length = cursor_u32(&c);
            pack_record_add(rec, &blob);
        }
    }
    *count = npacks;
    return 0;
}

/* Reads the file as records first: a malformed file adds no entry, so
 * skipping it (repo_load_index) leaves no half of it behind. */
int index_file_decode(struct index *idx, const uint8_t *data, size_t len, uint8_t pack_flags, struct error *err)
{
    struct pack_record *recs;
    size_t count;
    if (index_file_records(data, len, &recs, &count, err) < 0)
        return -1;
    for (size_t p = 0; p < count; p++) {
        uint32_t pack = add_pack(idx, recs[p].id, pack_flags);
        for (size_t b = 0; b < recs[p].count; b++) {
            const struct pack_blob *blob = &recs[p].blobs[b];
            struct index_entry e = {.pack = pack, .type = blob->type, .offset = blob->offset,
                                    .length = blob->length, .raw_length = blob->raw_length};
            memcpy(e.id, blob->id, CRYPTO_ID_SIZE);
            index_insert(idx, &e);
        }
        pack_record_free(&recs[p]);
    }
    free(recs);
    return 0;
}
