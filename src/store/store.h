/*
 * store.h — where repository objects live: a flat namespace of immutable
 * objects, such as "config", "keys/<id>" or "data/3f/<id>".
 *
 * The interface is what object stores offer: put a whole object, get a byte
 * range, list a folder, delete. There is no rename and no append, so S3 and
 * a local directory serve the same code above them. A put is atomic and
 * durable when it returns: readers see the whole object or none of it.
 * Every call may come from several threads at once.
 */
#ifndef COFFER_STORE_STORE_H
#define COFFER_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

struct store;
struct s3_settings;

/* Reads to the end of the object. */
#define STORE_TO_END UINT64_MAX

/* Called once per object found by store_list; return -1 to stop with err set. */
typedef int (*store_list_fn)(void *ctx, const char *name, uint64_t size, struct error *err);

/* Opens the store at a location: a directory path, or s3://BUCKET/PREFIX
 * reached with s3 (NULL: the defaults, without credentials; the store
 * reads no environment). Without is_create, a location that is not there
 * (a missing directory, a prefix with no objects) is ERR_NOT_FOUND. With
 * is_create, creates the directory if needed and fails unless it is empty
 * (S3: any prefix will do). */
int store_open(const char *location, const struct s3_settings *s3, bool is_create, struct store **out,
               struct error *err);
void store_free(struct store *s);

/* A store in this process's memory (memory.c), empty, for tests: the
 * local driver's semantics, gone when freed. */
struct store *store_open_memory(void);
/* A new memory store holding a copy of every object of s, which must be
 * a memory store. */
struct store *store_memory_clone(struct store *s);
const char *store_location(const struct store *s);

int store_put(struct store *s, const char *name, const void *data, size_t len, struct error *err);

/* Puts an object only if none has its name yet; ERR_EXISTS if one has.
 * When store_has_atomic_create is true, of two processes creating the
 * same name at once exactly one succeeds (local: link(2); S3: a
 * conditional write, If-None-Match: *); otherwise it is a check and then a
 * put, which two writers can race. */
int store_put_new(struct store *s, const char *name, const void *data, size_t len, struct error *err);
bool store_has_atomic_create(const struct store *s);

/* Appends len bytes from offset (or up to the end with STORE_TO_END) to out.
 * Missing objects fail with ERR_NOT_FOUND; a short object fails. */
int store_get(struct store *s, const char *name, uint64_t offset, uint64_t len, struct buf *out,
              struct error *err);

/* Like store_get, from the version of the object whose tag (a listing's
 * etag) is version: ERR_CHANGED if the object has been written again since,
 * so that the parts of a large object read one by one are of one version.
 * A store without tags (version NULL, local, memory) reads as store_get. */
int store_get_version(struct store *s, const char *name, const char *version, uint64_t offset, uint64_t len,
                      struct buf *out, struct error *err);

/* Lists every object below folder ("keys", "data", ...), in no set order. */
int store_list(struct store *s, const char *folder, store_list_fn fn, void *ctx, struct error *err);

/* What a listing knows of one object. */
struct store_entry {
    const char *name;     /* below the folder listed, as store_list names it */
    uint64_t size;
    const char *modified; /* when it was last written, as the store says it (S3: "2026-12-04T10:00:00.000Z"), or NULL */
    const char *etag;     /* the store's tag for this version of its bytes (S3's ETag), or NULL */
};
typedef int (*store_entry_fn)(void *ctx, const struct store_entry *entry, struct error *err);

/* Lists like store_list, with what the store knows of each object; folder
 * "" lists every object of the store. A driver that keeps no dates or tags
 * (local, memory) gives NULL for them. */
int store_list_entries(struct store *s, const char *folder, store_entry_fn fn, void *ctx, struct error *err);

/* Deleting a missing object is not an error. */
int store_delete(struct store *s, const char *name, struct error *err);

/* Deletes every named object, store_parallel_requests at a time, in no set
 * order; at the first failure it stops starting new deletes (those already
 * started finish) and fails. */
int store_delete_many(struct store *s, char *const *names, size_t count, struct error *err);

/* How many requests on small objects to keep in flight (parallel.h) to
 * keep this store busy: a local disk, for one, deletes 9,900 files 3.5x
 * faster from 8 threads than from one. */
unsigned store_parallel_requests(const struct store *s);

/* How many large objects (packs) to upload at once: 1 for a local disk,
 * whose writes are best sequential; S3's connections setting. */
unsigned store_parallel_uploads(const struct store *s);

/* Size of an object; ERR_NOT_FOUND if it does not exist. */
int store_size(struct store *s, const char *name, uint64_t *size, struct error *err);

/* The free and total bytes of the file system a local store is on (for
 * the daemon's health: min_free); ERR_NOT_FOUND for a store with no such
 * notion (S3: see health: max_stored). */
int store_space(struct store *s, uint64_t *free_bytes, uint64_t *total_bytes, struct error *err);

#endif
