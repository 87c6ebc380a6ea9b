/*
 * fault.c — the fault-injecting store (fault.h).
 *
 * Every call is counted by kind and then, unless a plan says this one
 * fails, forwarded to the inner store. A failure is made here, before the
 * inner store sees the call, so a failed put stores nothing and a failed
 * delete deletes nothing — what a store that answers with an error does.
 * (The LD_PRELOAD shim of tests/fault covers the other half: a write that
 * did happen but whose answer was lost, a crash, a power cut.) The plans
 * and counters sit behind one mutex, since calls come from many threads;
 * with calls in flight on several threads at once, which object gets the
 * Nth call may vary from run to run, but that the Nth one fails does not.
 */
#include "store/fault.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

struct fault_plan {
    uint64_t nth;      /* 0: none */
    int errnum;
    bool is_sticky;
    unsigned delay_us;
};

struct fault_store {
    struct store *inner;
    pthread_mutex_t mutex;
    struct fault_plan plans[STORE_CALL_KINDS];
    uint64_t calls[STORE_CALL_KINDS];
    uint64_t short_read_nth, short_read_dropped;
    uint64_t injected;
};

const char *store_call_name(enum store_call kind)
{
    static const char *const names[STORE_CALL_KINDS] = {"put", "get", "list", "delete", "size"};
    return kind < STORE_CALL_KINDS ? names[kind] : "?";
}

/* Counts the call; returns the errnum it must fail with, or 0. *number
 * gets its number among its kind, *is_short whether it is the short read. */
static int count_call(struct fault_store *fs, enum store_call kind, uint64_t *number, bool *is_short)
{
    pthread_mutex_lock(&fs->mutex);
    uint64_t n = ++fs->calls[kind];
    const struct fault_plan *p = &fs->plans[kind];
    unsigned delay_us = p->delay_us;
    int errnum = p->nth && (n == p->nth || (p->is_sticky && n > p->nth)) ? p->errnum : 0;
    bool is_short_read = kind == STORE_CALL_GET && !errnum && fs->short_read_nth == n;
    if (errnum || is_short_read)
        fs->injected++;
    pthread_mutex_unlock(&fs->mutex);
    if (delay_us) {
        struct timespec pause = {(time_t)(delay_us / 1000000), (long)(delay_us % 1000000) * 1000};
        nanosleep(&pause, NULL);
    }
    *number = n;
    if (is_short)
        *is_short = is_short_read;
    return errnum;
}

static int fail(struct fault_store *fs, enum store_call kind, uint64_t number, const char *name, int errnum,
                struct error *err)
{
    return error_errno(err, errnum, "cannot %s %s/%s (fault injected at %s %llu)", store_call_name(kind),
                       store_location(fs->inner), name, store_call_name(kind), (unsigned long long)number);
}

static int fault_put(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    struct fault_store *fs = impl;
    uint64_t n;
    int errnum = count_call(fs, STORE_CALL_PUT, &n, NULL);
    if (errnum)
        return fail(fs, STORE_CALL_PUT, n, name, errnum, err);
    return store_put(fs->inner, name, data, len, err);
}

static int fault_put_new(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    struct fault_store *fs = impl;
    uint64_t n;
    int errnum = count_call(fs, STORE_CALL_PUT, &n, NULL);
    if (errnum)
        return fail(fs, STORE_CALL_PUT, n, name, errnum, err);
    return store_put_new(fs->inner, name, data, len, err);
}

static bool fault_has_atomic_create(void *impl)
{
    return store_has_atomic_create(((struct fault_store *)impl)->inner);
}

static unsigned fault_parallel_uploads(const void *impl)
{
    return store_parallel_uploads(((const struct fault_store *)impl)->inner);
}

static int fault_get(void *impl, const char *name, uint64_t offset, uint64_t len, struct buf *out,
                     struct error *err)
{
    struct fault_store *fs = impl;
    uint64_t n;
    bool is_short;
    int errnum = count_call(fs, STORE_CALL_GET, &n, &is_short);
    if (errnum)
        return fail(fs, STORE_CALL_GET, n, name, errnum, err);
    size_t start = out->len;
    if (store_get(fs->inner, name, offset, len, out, err) < 0)
        return -1;
    if (is_short) {
        pthread_mutex_lock(&fs->mutex);
        uint64_t dropped = fs->short_read_dropped;
        pthread_mutex_unlock(&fs->mutex);
        size_t came = out->len - start;
        out->len -= dropped < came ? (size_t)dropped : came;
    }
    return 0;
}

static int fault_list(void *impl, const char *folder, store_list_fn fn, void *ctx, struct error *err)
{
    struct fault_store *fs = impl;
    uint64_t n;
    int errnum = count_call(fs, STORE_CALL_LIST, &n, NULL);
    if (errnum)
        return fail(fs, STORE_CALL_LIST, n, folder, errnum, err);
    return store_list(fs->inner, folder, fn, ctx, err);
}

static int fault_del(void *impl, const char *name, struct error *err)
{
    struct fault_store *fs = impl;
    uint64_t n;
    int errnum = count_call(fs, STORE_CALL_DELETE, &n, NULL);
    if (errnum)
        return fail(fs, STORE_CALL_DELETE, n, name, errnum, err);
    return store_delete(fs->inner, name, err);
}

/* The inner store's own durability step, not a call of its own. */
static int fault_sync_deletes(void *impl, char *const *names, size_t count, struct error *err)
{
    struct fault_store *fs = impl;
    const struct store *inner = fs->inner;
    if (!inner->driver->sync_deletes)
        return 0;
    return inner->driver->sync_deletes(inner->impl, names, count, err);
}

static int fault_size(void *impl, const char *name, uint64_t *size, struct error *err)
{
    struct fault_store *fs = impl;
    uint64_t n;
    int errnum = count_call(fs, STORE_CALL_SIZE, &n, NULL);
    if (errnum)
        return fail(fs, STORE_CALL_SIZE, n, name, errnum, err);
    return store_size(fs->inner, name, size, err);
}

static void fault_free(void *impl)
{
    struct fault_store *fs = impl;
    if (!fs)
        return;
    pthread_mutex_destroy(&fs->mutex);
    free(fs);
}

static const struct store_driver fault_store_driver = {
    .name = "fault",
    .parallel_requests = 1, /* replaced by the inner store's (store_open_fault) */
    .put = fault_put,
    .put_new = fault_put_new,
    .has_atomic_create = fault_has_atomic_create,
    .parallel_uploads = fault_parallel_uploads,
    .get = fault_get,
    .list = fault_list,
    .del = fault_del,
    .sync_deletes = fault_sync_deletes,
    .size = fault_size,
    .free = fault_free,
};

struct store *store_open_fault(struct store *inner)
{
    struct fault_store *fs = xcalloc(1, sizeof *fs);
    fs->inner = inner;
    pthread_mutex_init(&fs->mutex, NULL);
    char location[1024];
    snprintf(location, sizeof location, "fault:%s", store_location(inner));
    struct store *s = store_new(&fault_store_driver, fs, location);
    s->parallel_requests = store_parallel_requests(inner);
    return s;
}

static struct fault_store *fault_of(struct store *s)
{
    assert(s->driver == &fault_store_driver);
    return s->impl;
}

void fault_store_fail(struct store *s, enum store_call kind, uint64_t nth, int errnum, bool is_sticky)
{
    struct fault_store *fs = fault_of(s);
    assert(kind < STORE_CALL_KINDS && errnum != 0);
    pthread_mutex_lock(&fs->mutex);
    fs->plans[kind].nth = nth;
    fs->plans[kind].errnum = errnum;
    fs->plans[kind].is_sticky = is_sticky;
    pthread_mutex_unlock(&fs->mutex);
}

void fault_store_short_read(struct store *s, uint64_t nth, uint64_t dropped)
{
    struct fault_store *fs = fault_of(s);
    pthread_mutex_lock(&fs->mutex);
    fs->short_read_nth = nth;
    fs->short_read_dropped = dropped;
    pthread_mutex_unlock(&fs->mutex);
}

void fault_store_delay(struct store *s, enum store_call kind, unsigned microseconds)
{
    struct fault_store *fs = fault_of(s);
    assert(kind < STORE_CALL_KINDS);
    pthread_mutex_lock(&fs->mutex);
    fs->plans[kind].delay_us = microseconds;
    pthread_mutex_unlock(&fs->mutex);
}

uint64_t fault_store_calls(struct store *s, enum store_call kind)
{
    struct fault_store *fs = fault_of(s);
    assert(kind < STORE_CALL_KINDS);
    pthread_mutex_lock(&fs->mutex);
    uint64_t n = fs->calls[kind];
    pthread_mutex_unlock(&fs->mutex);
    return n;
}

uint64_t fault_store_injected(struct store *s)
{
    struct fault_store *fs = fault_of(s);
    pthread_mutex_lock(&fs->mutex);
    uint64_t n = fs->injected;
    pthread_mutex_unlock(&fs->mutex);
    return n;
}

void fault_store_reset(struct store *s)
{
    struct fault_store *fs = fault_of(s);
    pthread_mutex_lock(&fs->mutex);
    memset(fs->plans, 0, sizeof fs->plans);
    memset(fs->calls, 0, sizeof fs->calls);
    fs->short_read_nth = fs->short_read_dropped = fs->injected = 0;
    pthread_mutex_unlock(&fs->mutex);
}
