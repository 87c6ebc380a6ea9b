/*
 * parallel.c — a shared counter and a few threads (see parallel.h).
 */
#include "util/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/buf.h"

struct parallel_run {
    size_t count;
    parallel_fn fn;
    void *ctx;
    atomic_size_t next;
    atomic_bool has_failed;
    pthread_mutex_t mutex; /* guards error, the first failure's */
    struct error error;
};

static void *worker_main(void *arg)
{
    struct parallel_run *run = arg;
    struct error err;
    while (!atomic_load(&run->has_failed)) {
        size_t item = atomic_fetch_add(&run->next, 1);
        if (item >= run->count)
            break;
        if (run->fn(run->ctx, item, &err) < 0) {
            pthread_mutex_lock(&run->mutex);
            if (!atomic_load(&run->has_failed))
                run->error = err;
            atomic_store(&run->has_failed, true);
            pthread_mutex_unlock(&run->mutex);
        }
    }
    return NULL;
}

int parallel_for(size_t count, unsigned threads, parallel_fn fn, void *ctx, struct error *err)
{
    struct parallel_run run = {.count = count, .fn = fn, .ctx = ctx};
    atomic_init(&run.next, 0);
    atomic_init(&run.has_failed, false);
    pthread_mutex_init(&run.mutex, NULL);
    if (threads > count)
        threads = (unsigned)count;
    size_t extra = threads > 1 ? threads - 1 : 0;
    pthread_t *helpers = extra ? xcalloc(extra, sizeof *helpers) : NULL;
    size_t started = 0;
    while (started < extra && pthread_create(&helpers[started], NULL, worker_main, &run) == 0)
        started++; /* a thread that cannot start leaves its share to the others */
    worker_main(&run);
    for (size_t i = 0; i < started; i++)
        pthread_join(helpers[i], NULL);
    free(helpers);
    pthread_mutex_destroy(&run.mutex);
    if (atomic_load(&run.has_failed)) {
        *err = run.error;
        return -1;
    }
    return 0;
}
