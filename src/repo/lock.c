/*
 * lock.c — shared and exclusive repository locks (see lock.h).
 *
 * Taking a lock: write our lock object, then list the others; if one
 * conflicts and is not stale, delete ours and fail. Two processes racing
 * both see each other and both back off, which is safe.
 *
 * Only a lock whose process is certainly gone is ever removed by a
 * locker (is_orphaned: written in another boot of this machine, or its pid
 * runs no such process in our kernel and pid namespace). An expired lock
 * of a process that may still run (stopped, paused, on another machine,
 * in another pid namespace, or whose clock disagrees with ours) lets
 * others proceed beside it, but the exclusive locker that sees one is told
 * it is not alone, and prune then deletes nothing (docs/retention.md,
 * "Locks and deletion"). So is one that sees a lock the store failed to
 * return. A lock object that is there but cannot be opened or parsed is
 * a conflict for every locker (scan_lock says why).
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

#include "repo/repo_int.h"
#include "util/interrupt.h"
#include "util/text.h"
#include "util/host.h"

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
    bool is_lost;       /* a refresh found the exclusive object gone or another holder's */
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

/* Who wrote a lock, as far as telling whether its process is gone needs:
 * the machine (host name and machine id: cloned VMs or two
 * "raspberrypi"s share a host name, not a machine id), the kernel run
 * (boot id: the same boot id is the same kernel) and the pid namespace
 * (a pid names a process only within its namespace). Empty or 0: unknown. */
struct lock_identity {
    char host[64];
    char machine[33];
    char boot[40];
    uint64_t pidns;
};

/* The first line of a small file, "" if it cannot be read or does not fit:
 * a value cut short could equal another's. */
static void read_first_line(const char *path, char *out, size_t size)
{
    char line[128];
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line) < size)
            memcpy(out, line, strlen(line) + 1);
    }
    fclose(f);
}

/* 32 lowercase hex digits (machine-id(5)); anything else, such as
 * "uninitialized" early in a first boot, is no machine id. */
static bool is_machine_id(const char *s)
{
    return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* The inode of our pid namespace: /proc/self/ns/pid links to "pid:[N]". */
static uint64_t read_pidns(void)
{
    char link[64];
    ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
    if (n <= 0)
        return 0;
    link[n] = '\0';
    char *end;
    if (strncmp(link, "pid:[", 5) != 0)
        return 0;
    unsigned long long inode = strtoull(link + 5, &end, 10);
    return strcmp(end, "]") == 0 && inode <= (unsigned long long)INT64_MAX ? (uint64_t)inode : 0;
}

static void lock_identity_read(struct lock_identity *me)
{
    host_name(me->host, sizeof me->host);
    read_first_line("/etc/machine-id", me->machine, sizeof me->machine);
    if (!is_machine_id(me->machine))
        read_first_line("/var/lib/dbus/machine-id", me->machine, sizeof me->machine);
    if (!is_machine_id(me->machine))
        me->machine[0] = '\0';
    read_first_line("/proc/sys/kernel/random/boot_id", me->boot, sizeof me->boot);
    me->pidns = read_pidns();
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
    char when[32];
    struct lock_identity me;
    lock_identity_read(&me);
    time_format_rfc3339((int64_t)time(NULL), when);
    int64_t written = boot_seconds();
    json_t *doc = json_pack("{s:s, s:s, s:i, s:b, s:s, s:s, s:I, s:s, s:I}", "time", when, "host", me.host, "pid",
                            (int)getpid(), "exclusive", lock->is_exclusive, "nonce", lock->nonce, "boot", me.boot,
                            "started", (json_int_t)process_start(getpid()), "machine", me.machine, "pidns",
                            (json_int_t)me.pidns);
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
    const char *advice; /* what the refusal tells the user to do */
};

/* A lock whose process is certainly gone. Its pid and start time say so
 * only in our kernel (the same boot id) and our pid namespace: its pid
 * runs no process, or one that started at another time (the pid was
 * reused). Another boot says so only of this machine (our host name and
 * our machine id): written before it last booted. Anything else, and
 * anything unknown (fields an older coffer did not write, values we
 * cannot read), may still run. */
static bool is_orphaned(const struct lock_info *info)
{
    struct lock_identity me;
    lock_identity_read(&me);
    if (!me.boot[0] || !info->boot[0])
        return false;
    if (strcmp(info->boot, me.boot) != 0)
        return me.machine[0] && strcmp(info->machine, me.machine) == 0 && strcmp(info->host, me.host) == 0;
    if (!me.pidns || info->pidns != me.pidns || info->pid <= 0 || info->pid == getpid())
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

/* What reading a lock object found. */
enum lock_read {
    LOCK_READ,        /* info is filled */
    LOCK_ABSENT,      /* not found (it vanished since the listing), or the name is no lock's (a takeover marker) */
    LOCK_UNREADABLE,  /* there, but it does not open or parse: damaged, or another version's (only id is set) */
    LOCK_READ_FAILED, /* the store did not return it (err says why): it may be any lock */
};

/* Reads the lock object name. Not found is the only failure that says
 * there is no lock: a timeout, a refusal or a server error says nothing
 * about the lock, and is told apart from an object that does not open
 * (ERR_AUTH from the store is a refusal, not damage). */
static enum lock_read read_lock(struct repo *repo, const char *name, struct lock_info *info, struct error *err)
{
    uint8_t id[CRYPTO_ID_SIZE], ad[REPO_AD_MAX];
    struct buf raw = BUF_INIT, plain = BUF_INIT;
    memset(info, 0, sizeof *info);
    if (repo_object_id_from_name(name, id) < 0)
        return LOCK_ABSENT;
    memcpy(info->id, id, CRYPTO_ID_SIZE);
    if (store_get(repo->store, name, 0, STORE_TO_END, &raw, err) < 0) {
        buf_free(&raw);
        return err->kind == ERR_NOT_FOUND ? LOCK_ABSENT : LOCK_READ_FAILED;
    }
    size_t ad_len = repo_object_ad(repo, OBJ_LOCK, id, ad);
    bool is_open = raw.len >= CRYPTO_SEAL_OVERHEAD;
    if (is_open) {
        buf_reserve(&plain, raw.len);
        is_open = crypto_open(repo->key.enc, ad, ad_len, raw.data, raw.len, plain.data) == 0;
        plain.len = is_open ? raw.len - CRYPTO_SEAL_OVERHEAD : 0;
    }
    buf_free(&raw);
    json_t *doc = is_open ? json_loadb((const char *)plain.data, plain.len, 0, NULL) : NULL;
    buf_free(&plain);
    bool is_parsed = doc && lock_info_parse(doc, info) == 0;
    json_decref(doc);
    if (!is_parsed) {
        memset(info, 0, sizeof *info);
        memcpy(info->id, id, CRYPTO_ID_SIZE);
        return LOCK_UNREADABLE;
    }
    info->is_orphaned = is_orphaned(info);
    info->is_expired = is_expired(info->time);
    return LOCK_READ;
}

/* Copies a string field into out, or "" if it does not fit: a value cut
 * short could equal ours and make a live lock look gone. */
static void copy_field(char *out, size_t size, const char *value)
{
    size_t len = strlen(value);
    if (len < size)
        memcpy(out, value, len + 1);
    else
        out[0] = '\0';
}

int lock_info_parse(const json_t *doc, struct lock_info *info)
{
    const char *host = "?", *when_text = "", *nonce = "", *boot = "", *machine = "";
    int is_exclusive = 0;
    json_int_t started = 0, pidns = 0;
    if (json_unpack((json_t *)doc, "{s:s, s:s, s:i, s:b, s?s, s?s, s?I, s?s, s?I}", "host", &host, "time", &when_text,
                    "pid", &info->pid, "exclusive", &is_exclusive, "nonce", &nonce, "boot", &boot, "started",
                    &started, "machine", &machine, "pidns", &pidns) < 0 ||
        time_parse_rfc3339(when_text, &info->time, NULL) < 0 || started < 0)
        return -1;
    snprintf(info->host, sizeof info->host, "%s", host);
    snprintf(info->nonce, sizeof info->nonce, "%s", nonce);
    copy_field(info->boot, sizeof info->boot, boot);
    copy_field(info->machine, sizeof info->machine, machine);
    info->pidns = pidns > 0 ? (uint64_t)pidns : 0; /* not a namespace's inode: unknown */
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

/* Tells the exclusive locker it is not alone, because of what. */
static void set_not_alone(struct repo_lock *self, const char *what)
{
    if (self->is_exclusive && self->is_alone) {
        self->is_alone = false;
        snprintf(self->other, sizeof self->other, "%s", what);
    }
}

static int scan_lock(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct lock_scan *scan = ctx;
    struct lock_info info;
    struct error one = {0}, ignored;
    char what[256];
    switch (read_lock(scan->self->repo, name, &info, &one)) {
    case LOCK_ABSENT:
        return 0;
    case LOCK_READ_FAILED:
        /* It may be the lock of a process that has the old index in
         * memory: we go on (a store that fails a read may fail the next),
         * but prune deletes nothing. */
        snprintf(what, sizeof what, "%s could not be read (%s)", name, one.msg);
        set_not_alone(scan->self, what);
        return 0;
    case LOCK_UNREADABLE:
        /* There, but we cannot tell whose, how old or whether exclusive:
         * it may be the live lock of a prune of another coffer version
         * (where creates are not atomic an exclusive lock has a random id
         * like this one). Even an exclusive locker does not go on beside
         * it: two prunes at once each repack and rewrite the index under
         * the other, which deferring deletion does not make safe. It never
         * expires, so the message says how to remove it. */
        if (!scan->has_conflict) {
            scan->has_conflict = true;
            snprintf(scan->holder, sizeof scan->holder, "%s cannot be read (damaged, or written by another version "
                     "of coffer) and may be a live lock", name);
            scan->advice = "if no coffer runs against this repository on any host, remove it with `coffer unlock "
                           "--remove-all`";
        }
        set_not_alone(scan->self, scan->holder);
        return 0;
    case LOCK_READ:
        break;
    }
    if (is_own(scan->self, &info))
        return 0;
    if (info.is_orphaned) {
        store_delete(scan->self->repo->store, name, &ignored); /* certainly dead: anyone may clear it */
    } else if (info.is_expired) {
        /* Maybe a stopped process, or one whose clock is behind ours: we
         * go on beside it, but it may still hold the old index in memory
         * and write a snapshot that needs it, so an exclusive locker is
         * not alone and prune deletes nothing. */
        describe_holder(&info, what, sizeof what);
        set_not_alone(scan->self, what);
    } else if ((info.is_exclusive || scan->self->is_exclusive) && !scan->has_conflict) {
        scan->has_conflict = true;
        describe_holder(&info, scan->holder, sizeof scan->holder);
        scan->advice = "wait for it to finish, or remove the lock if that process is gone";
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
    switch (read_lock(w->repo, name, &info, err)) {
    case LOCK_ABSENT:
        return 0;
    case LOCK_READ_FAILED:
        return error_wrap(err, "cannot read lock %s", name);
    case LOCK_UNREADABLE:
        snprintf(info.host, sizeof info.host, "?");
        info.is_unreadable = true; /* there, but damaged or not a lock: only --remove-all removes it */
        break;
    case LOCK_READ:
        break;
    }
    w->fn(w->ctx, &info);
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
enum holding { HOLDING, HOLDING_LOST, HOLDING_UNKNOWN /* the store did not say */ };

static enum holding check_holding(struct repo_lock *lock)
{
    char name[96];
    struct lock_info info;
    struct error ignored;
    if (!lock->is_sole)
        return HOLDING;
    repo_object_name(OBJ_LOCK, lock->id, name);
    switch (read_lock(lock->repo, name, &info, &ignored)) {
    case LOCK_READ_FAILED:
        return HOLDING_UNKNOWN;
    case LOCK_READ:
        return is_own(lock, &info) ? HOLDING : HOLDING_LOST;
    default:
        return HOLDING_LOST;
    }
}

/* One refresh, with lock->mutex held. */
static void refresh_locked(struct repo_lock *lock)
{
    struct error ignored;
    enum holding holding = check_holding(lock);
    if (holding == HOLDING_LOST)
        lock->is_lost = true;
    else if (holding == HOLDING)
        write_lock(lock, false, &ignored); /* a failed refresh is retried next time */
    /* HOLDING_UNKNOWN: asked again next time; repo_lock_check sees the age meanwhile */
}

void repo_lock_refresh(struct repo_lock *lock)
{
    pthread_mutex_lock(&lock->mutex);
    if (!lock->is_lost)
        refresh_locked(lock);
    pthread_mutex_unlock(&lock->mutex);
}

static void *refresh_loop(void *arg)
{
    struct repo_lock *lock = arg;
    pthread_mutex_lock(&lock->mutex);
    while (!lock->is_stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline); /* the clock lock->wake waits on (repo_lock) */
        deadline.tv_sec += LOCK_REFRESH_SECONDS;
        if (pthread_cond_timedwait(&lock->wake, &lock->mutex, &deadline) == ETIMEDOUT && !lock->is_stopping &&
            !lock->is_lost)
            refresh_locked(lock);
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
    struct error ignored;
    int rc = 0;
    if (read_lock(lock->repo, name, &now, &ignored) == LOCK_READ && !strcmp(now.nonce, stale->nonce))
        rc = store_delete(lock->repo->store, name, err);
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
        switch (read_lock(lock->repo, name, &info, err)) {
        case LOCK_ABSENT:
            if (attempt == 1)
                return error_setk(err, ERR_LOCKED, "the repository is locked: %s comes and goes (another "
                                  "process takes and releases it; try again in a moment)", name);
            continue; /* removed meanwhile: try again */
        case LOCK_READ_FAILED:
            return error_wrap(err, "cannot read the exclusive lock %s", name);
        case LOCK_UNREADABLE:
            return error_setk(err, ERR_LOCKED, "the repository is locked: %s cannot be read (damaged, or written "
                              "by another version of coffer; if no prune or forget runs, remove it with `coffer "
                              "unlock --remove-all`)", name);
        case LOCK_READ:
            break;
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
    /* Under the exclusive name, delete only what we can tell is ours: an
     * object we cannot read may be another holder's (it is ours if this
     * process is gone, and any locker here clears it then). */
    if (lock->is_sole && (read_lock(lock->repo, name, &info, &ignored) != LOCK_READ || !is_own(lock, &info)))
        return;
    store_delete(lock->repo->store, name, &ignored);
}

static int lock_once(struct repo *repo, bool is_exclusive, struct repo_lock **out, struct error *err)
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
    /* The refresher waits on the monotonic clock: a step of the wall clock
     * (NTP, a user) must neither skip refreshes nor run them in a burst. */
    pthread_condattr_t wake_attr;
    pthread_mutex_init(&lock->mutex, NULL);
    pthread_condattr_init(&wake_attr);
    pthread_condattr_setclock(&wake_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&lock->wake, &wake_attr);
    pthread_condattr_destroy(&wake_attr);
    if ((lock->is_sole ? take_sole(lock, err) : write_lock(lock, false, err)) < 0) {
        pthread_mutex_destroy(&lock->mutex);
        pthread_cond_destroy(&lock->wake);
        free(lock);
        return err->kind == ERR_LOCKED ? -1 : error_wrap(err, "cannot lock the repository");
    }
    struct lock_scan scan = {lock, false, "", NULL};
    int rc = store_list(repo->store, "locks", scan_lock, &scan, err);
    if (rc == 0 && scan.has_conflict)
        rc = error_setk(err, ERR_LOCKED, "the repository is locked: %s (%s)", scan.holder, scan.advice);
    else if (rc < 0)
        error_wrap(err, "cannot list locks");
    int thread_rc = rc == 0 ? pthread_create(&lock->refresher, NULL, refresh_loop, lock) : 0;
    if (thread_rc != 0)
        rc = error_set(err, "cannot lock the repository: cannot start the thread that refreshes the lock: %s "
                       "(too many threads or too little memory?)", strerror(thread_rc));
    if (rc < 0) {
        remove_own(lock);
        pthread_mutex_destroy(&lock->mutex);
        pthread_cond_destroy(&lock->wake);
        free(lock);
        return -1;
    }
    *out = lock;
    return 0;
}

void repo_set_lock_wait(struct repo *repo, const struct repo_lock_wait *wait)
{
    repo->lock_wait = *wait;
}

static uint64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Sleeps ms in steps of 100 ms, so that Ctrl-C is seen at once. */
static int pause_ms(uint64_t ms, struct error *err)
{
    for (uint64_t slept = 0; slept < ms; slept += 100) {
        if (interrupt_check(err) < 0)
            return -1;
        struct timespec step = {0, (long)((ms - slept < 100 ? ms - slept : 100) * 1000000)};
        nanosleep(&step, NULL);
    }
    return interrupt_check(err);
}

int repo_lock(struct repo *repo, bool is_exclusive, struct repo_lock **out, struct error *err)
{
    const struct repo_lock_wait *wait = &repo->lock_wait;
    uint64_t start = monotonic_ms(), deadline = start + (uint64_t)wait->seconds * 1000, backoff = 1000;
    for (unsigned tries = 1;; tries++) {
        if (lock_once(repo, is_exclusive, out, err) == 0)
            return 0;
        if (err->kind != ERR_LOCKED)
            return -1;
        char why[ERROR_MSG_MAX];
        memcpy(why, err->msg, sizeof why);
        if (wait->seconds == 0)
            return error_setk(err, ERR_LOCKED, "%s; to wait for it instead, add --retry-lock DURATION (or lock_wait: "
                              "in coffer.yaml)", why);
        uint64_t now = monotonic_ms();
        if (now >= deadline) {
            char waited[32];
            duration_format(wait->seconds, waited);
            return error_setk(err, ERR_LOCKED, "%s (still, after waiting %s and %u tries)", why, waited, tries);
        }
        if (tries == 1 && wait->waiting)
            wait->waiting(wait->ctx, why, wait->seconds);
        uint8_t r;
        crypto_random(&r, 1);
        uint64_t pause = backoff * (192 + r / 2) / 256; /* 75% to 125% of the backoff */
        if (pause > deadline - now)
            pause = deadline - now;
        if (pause_ms(pause, err) < 0)
            return -1;
        backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
    }
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
    enum lock_read read = is_lost ? LOCK_READ : read_lock(lock->repo, name, &info, err);
    if (read == LOCK_READ_FAILED)
        return error_wrap(err, "cannot tell whether this process still holds its lock %s", name);
    if (is_lost || read != LOCK_READ || !is_own(lock, &info))
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
