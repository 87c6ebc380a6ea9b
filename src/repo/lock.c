/*
 * lock.c — shared and exclusive repository locks (see lock.h).
 *
 * Taking a lock: write our lock object, then list the others; if one
 * conflicts and is not stale, delete ours and fail. Two processes racing
 * both see each other and both back off, which is safe.
 *
 * Only a lock whose process is certainly gone (this host, and another boot
 * or no such process) is ever removed by a locker. An expired lock of a
 * process that may still run (stopped, paused, on another host, or whose
 * clock disagrees with ours) lets others proceed beside it, but the
 * exclusive locker that sees one is told it is not alone, and prune then
 * deletes nothing (docs/retention.md, "Locks and deletion").
 *
 * With atomic creates, an exclusive locker first creates the exclusive
 * object, which fails if another holds it (a stale holder's is removed
 * and the create tried again), then lists as above for shared locks. A
 * shared locker lists after writing, so it sees the exclusive object.
 */
#include "repo/lock.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/text.h"

/* The one exclusive lock object's id where creates are atomic. */
#define EXCLUSIVE_ID_BYTE 0xee

struct repo_lock {
    struct repo *repo;
    uint8_t id[CRYPTO_ID_SIZE];
    char nonce[33];
    bool is_exclusive;
    bool is_sole; /* the exclusive object, created only if absent */
    bool is_alone; /* exclusive: no other lock but those of processes certainly gone */
    char other[256]; /* when not alone: the first other lock seen */
    pthread_t refresher;
    pthread_mutex_t mutex; /* guards written_at, is_lost and is_stopping */
    pthread_cond_t wake;
    bool is_stopping;
    bool is_lost;       /* a refresh found another holder's object under our name */
    int64_t written_at; /* CLOCK_BOOTTIME seconds of the last successful write */
};

/* Seconds on a clock that also runs while the machine sleeps and while this
 * process is stopped, unlike CLOCK_MONOTONIC across a suspend. */
static int64_t boot_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now);
    return (int64_t)now.tv_sec;
}

/* This boot's id: a pid from before a reboot names another process. */
static void read_boot_id(char out[40])
{
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    if (!fgets(out, 40, f))
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* A process's start time in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), 0 if unknown: tells a reused pid from the holder. */
static uint64_t process_start(int pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold spaces and parentheses */
    if (!p)
        return 0;
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Writes the lock object; is_create_only fails (ERR_EXISTS) if it exists. */
static int write_lock(struct repo_lock *lock, bool is_create_only, struct error *err)
{
    char host[64], when[32];
    if (gethostname(host, sizeof host) < 0)
        strcpy(host, "unknown");
    host[63] = '\0';
    time_format_rfc3339((int64_t)time(NULL), when);
    char boot[40];
    read_boot_id(boot);
    int64_t written = boot_seconds();
    json_t *doc = json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:I}", "time", when, "host", host, "pid", (int)getpid(),
                            "exclusive", lock->is_exclusive, "nonce", lock->nonce, "boot", boot, "started",
                            (json_int_t)process_start(getpid()));
    char *text = json_dumps(doc, JSON_COMPACT);
    int rc = is_create_only ? repo_put_new_object(lock->repo, OBJ_LOCK, lock->id, text, strlen(text), err)
                            : repo_put_object(lock->repo, OBJ_LOCK, lock->id, text, strlen(text), err);
    free(text);
    json_decref(doc);
    if (rc == 0)
        lock->written_at = written; /* the time before the write: never later than the truth */
    return rc;
}

struct lock_scan {
    struct repo_lock *self;
    bool has_conflict;
    char holder[256];
};

/* A lock left on this host by a process that is certainly gone: written
 * in another boot, or its pid runs no process, or runs one that started
 * at another time (the pid was reused). */
static bool is_orphaned(const struct lock_info *info)
{
    char me[64], boot[40];
    if (gethostname(me, sizeof me) < 0 || strcmp(me, info->host) != 0 || info->pid <= 0)
        return false;
    read_boot_id(boot);
    if (info->boot[0] && boot[0] && strcmp(info->boot, boot) != 0)
        return true;
    if (info->pid == getpid())
        return false;
    if (kill(info->pid, 0) < 0 && errno == ESRCH)
        return true;
    uint64_t started = info->started ? process_start(info->pid) : 0;
    return started && started != info->started;
}

static bool is_expired(int64_t when)
{
    return (int64_t)time(NULL) - when > LOCK_STALE_SECONDS;
}

/* Reads the lock object name; false if it vanished or is not a lock. */
static bool read_lock(struct repo *repo, const char *name, struct lock_info *info)
{
    uint8_t id[CRYPTO_ID_SIZE];
    struct buf plain = BUF_INIT;
    struct error ignored;
    memset(info, 0, sizeof *info);
    if (repo_object_id_from_name(name, id) < 0)
        return false;
    memcpy(info->id, id, CRYPTO_ID_SIZE);
    /* A lock that vanished or cannot be read is one being removed. */
    if (repo_get_object(repo, OBJ_LOCK, id, &plain, &ignored) < 0) {
        buf_free(&plain);
        return false;
    }
    json_t *doc = json_loadb((const char *)plain.data, plain.len, 0, NULL);
    buf_free(&plain);
    bool is_parsed = doc && lock_info_parse(doc, info) == 0;
    json_decref(doc);
    if (!is_parsed)
        return false;
    info->is_orphaned = is_orphaned(info);
    info->is_expired = is_expired(info->time);
    return true;
}

int lock_info_parse(const json_t *doc, struct lock_info *info)
{
    const char *host = "?", *when_text = "", *nonce = "", *boot = "";
    int is_exclusive = 0;
    json_int_t started = 0;
    if (json_unpack((json_t *)doc, "{s:s, s:s, s:i, s:b, s?s, s?s, s?I}", "host", &host, "time", &when_text, "pid",
                    &info->pid, "exclusive", &is_exclusive, "nonce", &nonce, "boot", &boot, "started", &started) < 0 ||
        time_parse_rfc3339(when_text, &info->time, NULL) < 0 || started < 0)
        return -1;
    snprintf(info->host, sizeof info->host, "%s", host);
    snprintf(info->nonce, sizeof info->nonce, "%s", nonce);
    snprintf(info->boot, sizeof info->boot, "%s", boot);
    info->started = (uint64_t)started;
    info->is_exclusive = is_exclusive;
    return 0;
}

static bool is_own(const struct repo_lock *lock, const struct lock_info *info)
{
    return memcmp(info->id, lock->id, CRYPTO_ID_SIZE) == 0 && strcmp(info->nonce, lock->nonce) == 0;
}

static void describe_holder(const struct lock_info *info, char *out, size_t size)
{
    char when[32];
    time_format_rfc3339(info->time, when);
    snprintf(out, size, "%s lock held by pid %d on %s since %s", info->is_exclusive ? "an exclusive" : "a shared",
             info->pid, info->host, when);
}

static int scan_lock(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct lock_scan *scan = ctx;
    struct lock_info info;
    struct error ignored;
    if (!read_lock(scan->self->repo, name, &info) || is_own(scan->self, &info))
        return 0;
    if (info.is_orphaned) {
        store_delete(scan->self->repo->store, name, &ignored); /* certainly dead: anyone may clear it */
    } else if (info.is_expired) {
        /* Maybe a stopped process, or one whose clock is behind ours: we
         * go on beside it, but it may still hold the old index in memory
         * and write a snapshot that needs it, so an exclusive locker is
         * not alone and prune deletes nothing. */
        if (scan->self->is_exclusive && scan->self->is_alone) {
            scan->self->is_alone = false;
            describe_holder(&info, scan->self->other, sizeof scan->self->other);
        }
    } else if (info.is_exclusive || scan->self->is_exclusive) {
        scan->has_conflict = true;
        describe_holder(&info, scan->holder, sizeof scan->holder);
    }
    return 0;
}

struct lock_walk {
    struct repo *repo;
    lock_fn fn;
    void *ctx;
};

static int walk_lock(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct lock_walk *w = ctx;
    struct lock_info info;
    uint64_t still;
    struct error ignored;
    if (read_lock(w->repo, name, &info)) {
        w->fn(w->ctx, &info);
    } else if (repo_object_id_from_name(name, info.id) == 0 && store_size(w->repo->store, name, &still, &ignored) == 0) {
        snprintf(info.host, sizeof info.host, "?");
        info.is_unreadable = true; /* there, but damaged or not a lock: only --remove-all removes it */
        w->fn(w->ctx, &info);
    }
    return 0;
}

int repo_locks_list(struct repo *repo, lock_fn fn, void *ctx, struct error *err)
{
    struct lock_walk w = {repo, fn, ctx};
    return store_list(repo->store, "locks", walk_lock, &w, err);
}

int repo_lock_remove(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], struct error *err)
{
    char name[96];
    repo_object_name(OBJ_LOCK, id, name);
    return store_delete(repo->store, name, err);
}

/* Whether the lock object is still ours: a process stopped for longer than
 * LOCK_STALE_SECONDS may find its exclusive object taken over, and must not
 * write over the new holder's. */
static bool is_still_held(struct repo_lock *lock)
{
    char name[96];
    struct lock_info info;
    if (!lock->is_sole)
        return true;
    repo_object_name(OBJ_LOCK, lock->id, name);
    return read_lock(lock->repo, name, &info) && is_own(lock, &info);
}

static void *refresh_loop(void *arg)
{
    struct repo_lock *lock = arg;
    pthread_mutex_lock(&lock->mutex);
    while (!lock->is_stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += LOCK_REFRESH_SECONDS;
        if (pthread_cond_timedwait(&lock->wake, &lock->mutex, &deadline) == ETIMEDOUT && !lock->is_stopping) {
            struct error ignored;
            if (!is_still_held(lock))
                lock->is_lost = true;
            else
                write_lock(lock, false, &ignored); /* a failed refresh is retried next time */
        }
    }
    pthread_mutex_unlock(&lock->mutex);
    return NULL;
}

/* Removes a stale holder's exclusive object. Only the process that creates
 * the takeover marker for that holder's nonce may delete it, so two
 * processes that both found it stale cannot both delete — the slower one
 * would delete the faster one's fresh object. The winner reads the object
 * again before deleting: a later holder's object carries another nonce and
 * is left alone. The marker goes once the takeover is over; a process that
 * creates it again afterwards finds the new object and leaves it. */
static int remove_stale(struct repo_lock *lock, const char *name, const struct lock_info *stale, struct error *err)
{
    char marker[128], stamp[32];
    snprintf(marker, sizeof marker, "locks/takeover-%s", stale->nonce);
    snprintf(stamp, sizeof stamp, "%lld", (long long)time(NULL));
    if (store_put_new(lock->repo->store, marker, stamp, strlen(stamp), err) < 0) {
        if (err->kind != ERR_EXISTS)
            return -1;
        /* A marker its taker left behind when it died expires like a lock. */
        struct buf text = BUF_INIT;
        struct error ignored;
        if (store_get(lock->repo->store, marker, 0, STORE_TO_END, &text, &ignored) == 0) {
            buf_append(&text, "", 1);
            if (is_expired(strtoll((const char *)text.data, NULL, 10)))
                store_delete(lock->repo->store, marker, &ignored);
        }
        buf_free(&text);
        return error_setk(err, ERR_LOCKED, "the repository is locked: another process is taking over a stale "
                          "exclusive lock (try again in a moment)");
    }
    struct lock_info now;
    int rc = 0;
    if (read_lock(lock->repo, name, &now) && !strcmp(now.nonce, stale->nonce))
        rc = store_delete(lock->repo->store, name, err);
    struct error ignored;
    store_delete(lock->repo->store, marker, &ignored);
    return rc;
}

/* Creates the exclusive object. One that a stale holder left is removed
 * (remove_stale) and the create tried again, once: if another process
 * took it over meanwhile, that process holds the lock and this one says
 * so. An object that cannot be read is reported, with what to do. */
static int take_sole(struct repo_lock *lock, struct error *err)
{
    for (int attempt = 0;; attempt++) {
        if (write_lock(lock, true, err) == 0)
            return 0;
        if (err->kind != ERR_EXISTS)
            return -1;
        char name[96], holder[256];
        struct lock_info info;
        repo_object_name(OBJ_LOCK, lock->id, name);
        if (!read_lock(lock->repo, name, &info)) {
            if (attempt == 1)
                return error_setk(err, ERR_LOCKED, "the repository is locked: %s cannot be read (if no prune or "
                                  "forget runs, remove it with `coffer unlock --remove-all`)", name);
            continue; /* being removed: try again */
        }
        describe_holder(&info, holder, sizeof holder);
        if (attempt == 1 || (!info.is_orphaned && !info.is_expired))
            return error_setk(err, ERR_LOCKED, "the repository is locked: %s (wait for it to finish, or remove "
                              "the lock if that process is gone)", holder);
        if (remove_stale(lock, name, &info, err) < 0)
            return -1;
        if (!info.is_orphaned && lock->is_alone) { /* expired, but maybe still running */
            lock->is_alone = false;
            snprintf(lock->other, sizeof lock->other, "%s", holder);
        }
    }
}

/* Removes our lock object, unless another holder's has taken its name. */
static void remove_own(struct repo_lock *lock)
{
    char name[96];
    struct error ignored;
    struct lock_info info;
    repo_object_name(OBJ_LOCK, lock->id, name);
    if (lock->is_sole && read_lock(lock->repo, name, &info) && !is_own(lock, &info))
        return;
    store_delete(lock->repo->store, name, &ignored);
}

int repo_lock(struct repo *repo, bool is_exclusive, struct repo_lock **out, struct error *err)
{
    struct repo_lock *lock = xcalloc(1, sizeof *lock);
    uint8_t nonce[16];
    lock->repo = repo;
    lock->is_exclusive = is_exclusive;
    lock->is_alone = is_exclusive;
    lock->is_sole = is_exclusive && store_has_atomic_create(repo->store);
    crypto_random(nonce, sizeof nonce);
    hex_encode(nonce, sizeof nonce, lock->nonce);
    if (lock->is_sole)
        memset(lock->id, EXCLUSIVE_ID_BYTE, CRYPTO_ID_SIZE);
    else
        crypto_random(lock->id, CRYPTO_ID_SIZE);
    pthread_mutex_init(&lock->mutex, NULL);
    pthread_cond_init(&lock->wake, NULL);
    if ((lock->is_sole ? take_sole(lock, err) : write_lock(lock, false, err)) < 0) {
        pthread_mutex_destroy(&lock->mutex);
        pthread_cond_destroy(&lock->wake);
        free(lock);
        return err->kind == ERR_LOCKED ? -1 : error_wrap(err, "cannot lock the repository");
    }
    struct lock_scan scan = {lock, false, ""};
    if (store_list(repo->store, "locks", scan_lock, &scan, err) < 0 || scan.has_conflict) {
        remove_own(lock);
        pthread_mutex_destroy(&lock->mutex);
        pthread_cond_destroy(&lock->wake);
        free(lock);
        if (scan.has_conflict)
            return error_setk(err, ERR_LOCKED, "the repository is locked: %s (wait for it to finish, or remove "
                              "the lock if that process is gone)", scan.holder);
        return error_wrap(err, "cannot list locks");
    }
    pthread_create(&lock->refresher, NULL, refresh_loop, lock);
    *out = lock;
    return 0;
}

bool repo_lock_is_alone(const struct repo_lock *lock, const char **other)
{
    if (other)
        *other = lock->is_alone ? NULL : lock->other;
    return lock->is_alone;
}

int repo_lock_check(struct repo_lock *lock, struct error *err)
{
    char name[96];
    struct lock_info info;
    pthread_mutex_lock(&lock->mutex);
    int64_t age = boot_seconds() - lock->written_at;
    bool is_lost = lock->is_lost;
    pthread_mutex_unlock(&lock->mutex);
    repo_object_name(OBJ_LOCK, lock->id, name);
    if (is_lost || !read_lock(lock->repo, name, &info) || !is_own(lock, &info))
        return error_setk(err, ERR_LOCKED, "this process no longer holds its lock (%s was removed or taken over "
                          "while it was stopped)", name);
    if (age > LOCK_STALE_SECONDS - LOCK_REFRESH_SECONDS)
        return error_setk(err, ERR_LOCKED, "this process's lock was last refreshed %lld s ago (it was stopped or "
                          "suspended): others may have judged it stale", (long long)age);
    return 0;
}

void repo_unlock(struct repo_lock *lock)
{
    if (!lock)
        return;
    pthread_mutex_lock(&lock->mutex);
    lock->is_stopping = true;
    pthread_cond_signal(&lock->wake);
    pthread_mutex_unlock(&lock->mutex);
    pthread_join(lock->refresher, NULL);
    pthread_mutex_destroy(&lock->mutex);
    pthread_cond_destroy(&lock->wake);
    remove_own(lock);
    free(lock);
}
