/*
 * memory.c — a store that keeps its objects in this process's memory.
 *
 * For tests: a repository on it is made, used and thrown away without a
 * disk or a server, and a test can copy it (store_memory_clone) to run one
 * operation many times from the same starting point, as the fault sweeps
 * do. It keeps the local driver's promises: a put replaces the whole
 * object at once, a create-only put fails with ERR_EXISTS when the name is
 * taken (atomically: one lock guards the table), a get of a missing object
 * is ERR_NOT_FOUND and one past its end fails, a listing names the objects
 * below a folder, deleting a missing object succeeds. The objects die with
 * the store.
 */
#include "store/store_int.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

struct memory_object {
    char *name;
    uint8_t *data;
    size_t len;
};

/* Objects sorted by name, so lookups are a binary search. */
struct memory_store {
    pthread_mutex_t mutex;
    struct memory_object *objects;
    size_t count, cap;
};

/* The slot of name, or where it would go; *is_found says which. */
static size_t find_slot(const struct memory_store *ms, const char *name, bool *is_found)
{
    size_t lo = 0, hi = ms->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(ms->objects[mid].name, name);
        if (cmp == 0) {
            *is_found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *is_found = false;
    return lo;
}

static uint8_t *copy_bytes(const void *data, size_t len)
{
    uint8_t *p = xmalloc(len ? len : 1);
    if (len)
        memcpy(p, data, len);
    return p;
}

/* Puts under the lock; with is_create_only, refuses a taken name. */
static int memory_store_put(struct memory_store *ms, const char *name, const void *data, size_t len,
                            bool is_create_only, struct error *err)
{
    uint8_t *copy = copy_bytes(data, len);
    bool is_found;
    pthread_mutex_lock(&ms->mutex);
    size_t slot = find_slot(ms, name, &is_found);
    if (is_found && is_create_only) {
        pthread_mutex_unlock(&ms->mutex);
        free(copy);
        return error_setk(err, ERR_EXISTS, "memory:%s exists already", name);
    }
    if (is_found) {
        free(ms->objects[slot].data);
    } else {
        if (ms->count == ms->cap) {
            ms->cap = ms->cap ? 2 * ms->cap : 64;
            ms->objects = xrealloc(ms->objects, ms->cap * sizeof *ms->objects);
        }
        memmove(ms->objects + slot + 1, ms->objects + slot, (ms->count - slot) * sizeof *ms->objects);
        ms->objects[slot].name = xstrdup(name);
        ms->count++;
    }
    ms->objects[slot].data = copy;
    ms->objects[slot].len = len;
    pthread_mutex_unlock(&ms->mutex);
    return 0;
}

static int memory_put(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    return memory_store_put(impl, name, data, len, false, err);
}

static int memory_put_new(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    return memory_store_put(impl, name, data, len, true, err);
}

static bool memory_has_atomic_create(void *impl)
{
    (void)impl;
    return true;
}

static unsigned memory_parallel_uploads(const void *impl)
{
    (void)impl;
    return 1;
}

static int memory_get(void *impl, const char *name, uint64_t offset, uint64_t len, struct buf *out,
                      struct error *err)
{
    struct memory_store *ms = impl;
    bool is_found;
    int rc = 0;
    pthread_mutex_lock(&ms->mutex);
    size_t slot = find_slot(ms, name, &is_found);
    if (!is_found) {
        rc = error_setk(err, ERR_NOT_FOUND, "cannot open memory:%s: no such object", name);
    } else {
        const struct memory_object *o = &ms->objects[slot];
        uint64_t size = o->len;
        if (len == STORE_TO_END)
            len = size > offset ? size - offset : 0;
        if (offset > size || len > size - offset)
            rc = error_set(err, "memory:%s is shorter than expected (wanted %llu bytes at offset %llu)", name,
                           (unsigned long long)len, (unsigned long long)offset);
        else
            buf_append(out, o->data + offset, (size_t)len);
    }
    pthread_mutex_unlock(&ms->mutex);
    return rc;
}

/* Names and sizes are copied out under the lock, and fn called without it:
 * a caller may read or write the store from fn (the index loader does). */
static int memory_list(void *impl, const char *folder, store_list_fn fn, void *ctx, struct error *err)
{
    struct memory_store *ms = impl;
    size_t flen = strlen(folder);
    char **names = NULL;
    uint64_t *sizes = NULL;
    size_t count = 0;
    pthread_mutex_lock(&ms->mutex);
    bool is_found;
    size_t slot = find_slot(ms, folder, &is_found); /* names below folder sort after it */
    for (size_t i = slot; i < ms->count; i++) {
        const char *name = ms->objects[i].name;
        if (strncmp(name, folder, flen) != 0)
            break;
        if (flen && name[flen] != '/')
            continue; /* "folder-x" sorts among them; folder "" is the whole store */
        names = xrealloc(names, (count + 1) * sizeof *names);
        sizes = xrealloc(sizes, (count + 1) * sizeof *sizes);
        names[count] = xstrdup(name);
        sizes[count++] = ms->objects[i].len;
    }
    pthread_mutex_unlock(&ms->mutex);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (rc == 0)
            rc = fn(ctx, names[i], sizes[i], err);
        free(names[i]);
    }
    free(names);
    free(sizes);
    return rc;
}

static int memory_del(void *impl, const char *name, struct error *err)
{
    (void)err;
    struct memory_store *ms = impl;
    bool is_found;
    pthread_mutex_lock(&ms->mutex);
    size_t slot = find_slot(ms, name, &is_found);
    if (is_found) {
        free(ms->objects[slot].name);
        free(ms->objects[slot].data);
        memmove(ms->objects + slot, ms->objects + slot + 1, (ms->count - slot - 1) * sizeof *ms->objects);
        ms->count--;
    }
    pthread_mutex_unlock(&ms->mutex);
    return 0;
}

static int memory_size(void *impl, const char *name, uint64_t *size, struct error *err)
{
    struct memory_store *ms = impl;
    bool is_found;
    int rc = 0;
    pthread_mutex_lock(&ms->mutex);
    size_t slot = find_slot(ms, name, &is_found);
    if (is_found)
        *size = ms->objects[slot].len;
    else
        rc = error_setk(err, ERR_NOT_FOUND, "cannot stat memory:%s: no such object", name);
    pthread_mutex_unlock(&ms->mutex);
    return rc;
}

static void memory_free(void *impl)
{
    struct memory_store *ms = impl;
    if (!ms)
        return;
    for (size_t i = 0; i < ms->count; i++) {
        free(ms->objects[i].name);
        free(ms->objects[i].data);
    }
    free(ms->objects);
    pthread_mutex_destroy(&ms->mutex);
    free(ms);
}

static const struct store_driver memory_store_driver = {
    .name = "memory",
    .parallel_requests = 4, /* threads, so that tests on it meet the concurrency real stores see */
    .put = memory_put,
    .put_new = memory_put_new,
    .has_atomic_create = memory_has_atomic_create,
    .parallel_uploads = memory_parallel_uploads,
    .get = memory_get,
    .list = memory_list,
    .del = memory_del,
    .size = memory_size,
    .free = memory_free,
};

static struct memory_store *memory_store_new(void)
{
    struct memory_store *ms = xcalloc(1, sizeof *ms);
    pthread_mutex_init(&ms->mutex, NULL);
    return ms;
}

struct store *store_open_memory(void)
{
    return store_new(&memory_store_driver, memory_store_new(), "memory:");
}

struct store *store_memory_clone(struct store *s)
{
    assert(s->driver == &memory_store_driver);
    struct memory_store *from = s->impl, *to = memory_store_new();
    pthread_mutex_lock(&from->mutex);
    to->cap = to->count = from->count;
    to->objects = xcalloc(to->cap ? to->cap : 1, sizeof *to->objects);
    for (size_t i = 0; i < from->count; i++) {
        to->objects[i].name = xstrdup(from->objects[i].name);
        to->objects[i].data = copy_bytes(from->objects[i].data, from->objects[i].len);
        to->objects[i].len = from->objects[i].len;
    }
    pthread_mutex_unlock(&from->mutex);
    return store_new(&memory_store_driver, to, "memory:");
}
