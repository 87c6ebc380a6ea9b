/*
 * store_int.h — what a storage driver implements. Only store.c and the
 * drivers include this; everyone else uses store.h.
 */
#ifndef COFFER_STORE_STORE_INT_H
#define COFFER_STORE_STORE_INT_H

#include "store/store.h"

struct store_driver {
    const char *name;
    unsigned parallel_requests; /* see store_parallel_requests */
    int (*put)(void *impl, const char *name, const void *data, size_t len, struct error *err);
    int (*put_new)(void *impl, const char *name, const void *data, size_t len, struct error *err);
    bool (*has_atomic_create)(void *impl); /* may ask the store (S3 finds out on first use) */
    unsigned (*parallel_uploads)(const void *impl);
    int (*get)(void *impl, const char *name, uint64_t offset, uint64_t len, struct buf *out,
               struct error *err);
    /* Reads only from the version tagged version (NULL: store.c reads with
     * get, as a store without tags has one version). */
    int (*get_version)(void *impl, const char *name, const char *version, uint64_t offset, uint64_t len,
                       struct buf *out, struct error *err);
    int (*list)(void *impl, const char *folder, store_list_fn fn, void *ctx, struct error *err);
    /* With dates and tags (NULL: store.c lists with list, and gives none). */
    int (*list_entries)(void *impl, const char *folder, store_entry_fn fn, void *ctx, struct error *err);
    int (*del)(void *impl, const char *name, struct error *err);
    /* Makes the deletion of names durable (NULL: deletes are durable when
     * del returns, as on S3). */
    int (*sync_deletes)(void *impl, char *const *names, size_t count, struct error *err);
    int (*size)(void *impl, const char *name, uint64_t *size, struct error *err);
    /* The free and total bytes where objects go (NULL: the store has no
     * such notion, as S3). */
    int (*space)(void *impl, uint64_t *free_bytes, uint64_t *total_bytes, struct error *err);
    void (*free)(void *impl);
};

struct store {
    const struct store_driver *driver;
    void *impl;
    char *location;
    unsigned parallel_requests; /* the driver's, unless a wrapper set its inner store's */
};

/* A store for a driver's impl (which it then owns), named location. */
struct store *store_new(const struct store_driver *driver, void *impl, const char *location);

/* The local-directory driver. */
int local_store_open(const char *path, bool is_create, void **impl, struct error *err);
extern const struct store_driver local_store_driver;

/* The S3 driver (s3.h opens it). */
extern const struct store_driver s3_store_driver;

#endif
