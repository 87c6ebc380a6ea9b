/*
 * store.c — picks a driver for a location and forwards calls to it.
 *
 * The store layer knows objects, not repositories: which objects make a
 * repository, and what to tell a user who has none, is repo/'s business;
 * where settings come from (coffer.yaml, the environment) is cli/'s.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/s3.h"
#include "util/parallel.h"

int store_open(const char *location, const struct s3_settings *s3, bool is_create, struct store **out,
               struct error *err)
{
    void *impl;
    const struct store_driver *driver = &local_store_driver;
    if (strncmp(location, "s3://", 5) == 0) {
        static const struct s3_settings defaults = {.path_style = -1};
        if (s3_store_open(location, s3 ? s3 : &defaults, is_create, &impl, err) < 0)
            return -1;
        driver = &s3_store_driver;
    } else if (local_store_open(location, is_create, &impl, err) < 0) {
        return -1;
    }
    *out = store_new(driver, impl, location);
    return 0;
}

struct store *store_new(const struct store_driver *driver, void *impl, const char *location)
{
    struct store *s = xcalloc(1, sizeof *s);
    s->driver = driver;
    s->impl = impl;
    s->location = xstrdup(location);
    s->parallel_requests = driver->parallel_requests;
    return s;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    s->driver->free(s->impl);
    free(s->location);
    free(s);
}

const char *store_location(const struct store *s)
{
    return s->location;
}

int store_put(struct store *s, const char *name, const void *data, size_t len, struct error *err)
{
    return s->driver->put(s->impl, name, data, len, err);
}

int store_put_new(struct store *s, const char *name, const void *data, size_t len, struct error *err)
{
    return s->driver->put_new(s->impl, name, data, len, err);
}

bool store_has_atomic_create(const struct store *s)
{
    return s->driver->has_atomic_create(s->impl);
}

unsigned store_parallel_uploads(const struct store *s)
{
    return s->driver->parallel_uploads(s->impl);
}

int store_get(struct store *s, const char *name, uint64_t offset, uint64_t len, struct buf *out,
              struct error *err)
{
    return s->driver->get(s->impl, name, offset, len, out, err);
}

int store_get_version(struct store *s, const char *name, const char *version, uint64_t offset, uint64_t len,
                      struct buf *out, struct error *err)
{
    if (version && s->driver->get_version)
        return s->driver->get_version(s->impl, name, version, offset, len, out, err);
    return s->driver->get(s->impl, name, offset, len, out, err);
}

int store_list(struct store *s, const char *folder, store_list_fn fn, void *ctx, struct error *err)
{
    return s->driver->list(s->impl, folder, fn, ctx, err);
}

struct plain_listing {
    store_entry_fn fn;
    void *ctx;
};

static int entry_of_name(void *arg, const char *name, uint64_t size, struct error *err)
{
    struct plain_listing *l = arg;
    struct store_entry e = {.name = name, .size = size};
    return l->fn(l->ctx, &e, err);
}

int store_list_entries(struct store *s, const char *folder, store_entry_fn fn, void *ctx, struct error *err)
{
    if (s->driver->list_entries)
        return s->driver->list_entries(s->impl, folder, fn, ctx, err);
    struct plain_listing l = {fn, ctx};
    return s->driver->list(s->impl, folder, entry_of_name, &l, err);
}

int store_delete(struct store *s, const char *name, struct error *err)
{
    return s->driver->del(s->impl, name, err);
}

struct delete_many {
    struct store *store;
    char *const *names;
};

static int delete_one(void *ctx, size_t item, struct error *err)
{
    struct delete_many *dm = ctx;
    return store_delete(dm->store, dm->names[item], err);
}

int store_delete_many(struct store *s, char *const *names, size_t count, struct error *err)
{
    struct delete_many dm = {s, names};
    int rc = parallel_for(count, store_parallel_requests(s), delete_one, &dm, err);
    if (rc == 0 && count && s->driver->sync_deletes)
        rc = s->driver->sync_deletes(s->impl, names, count, err);
    return rc;
}

int store_size(struct store *s, const char *name, uint64_t *size, struct error *err)
{
    return s->driver->size(s->impl, name, size, err);
}

int store_space(struct store *s, uint64_t *free_bytes, uint64_t *total_bytes, struct error *err)
{
    if (!s->driver->space)
        return error_setk(err, ERR_NOT_FOUND, "%s has no free space to tell (%s)", s->location, s->driver->name);
    return s->driver->space(s->impl, free_bytes, total_bytes, err);
}

unsigned store_parallel_requests(const struct store *s)
{
    return s->parallel_requests;
}
