/*
 * lock.h — who is using a repository: locks/<id> objects.
 *
 * Backups, restores and checks take shared locks; operations that delete
 * data (prune) take an exclusive one. A lock is refreshed every 5 minutes
 * by a background thread while held; a lock not refreshed for 30 minutes
 * is expired (others go on beside it, but an exclusive locker is not
 * alone); one whose process is certainly gone (another boot of this
 * machine, or no such process in this kernel and pid namespace: lock.c's
 * is_orphaned) is removed by any locker. A lock object that cannot be
 * opened or parsed refuses every locker; one the store fails to return
 * makes an exclusive locker not alone.
 *
 * Where the store creates objects atomically (store_has_atomic_create: a
 * local directory, or an S3 server with conditional writes), an exclusive
 * lock is one well-known object, locks/eeee…, created only if absent: of
 * two prunes starting at once exactly one gets it, whatever the listing
 * shows; a stale one is removed by one process only (lock.c). Elsewhere it
 * is a lock object like the others, and two exclusive lockers are kept
 * apart by writing first and listing after (see lock.c), which needs a
 * store whose listings show what was just written.
 */
#ifndef COFFER_REPO_LOCK_H
#define COFFER_REPO_LOCK_H

#include <jansson.h>
#include <stdbool.h>

#include "repo/repo.h"

#define LOCK_REFRESH_SECONDS 300
#define LOCK_STALE_SECONDS 1800

struct repo_lock;

/* How repo_lock waits for a conflicting lock to go (restic's
 * --retry-lock): up to seconds, trying again after 1 s, then 2, 4, ... at
 * most 30 s apart, each pause a little random so that waiters do not move
 * in step. waiting (may be NULL) is told once, when the first try is
 * refused, why and for how long it waits. Ctrl-C ends the wait
 * (ERR_INTERRUPTED). */
struct repo_lock_wait {
    unsigned seconds; /* 0: fail at once */
    void (*waiting)(void *ctx, const char *why, unsigned seconds);
    void *ctx;
};

/* Sets how the repository's lockers wait (default: they do not). */
void repo_set_lock_wait(struct repo *repo, const struct repo_lock_wait *wait);

/* Takes a lock, waiting as repo_set_lock_wait said; ERR_LOCKED names the
 * holder when it conflicts (or the lock object that cannot be parsed, with
 * what to do). */
int repo_lock(struct repo *repo, bool is_exclusive, struct repo_lock **out, struct error *err);

/* Stops refreshing and removes the lock; NULL is fine. */
void repo_unlock(struct repo_lock *lock);

/* For an exclusive lock: whether, when it was taken, every other lock was
 * of a process certainly gone. False if an expired lock of a process that
 * may still run was there (or was taken over), or one the store failed to
 * return: that process may still use what it read, so nothing may be
 * deleted. *other (may be NULL) describes it. */
bool repo_lock_is_alone(const struct repo_lock *lock, const char **other);

/* Whether this process still holds its lock: its object is there and its
 * own, and was refreshed recently enough (on a clock that counts a stop or
 * a suspend) that no other process can have judged it stale. ERR_LOCKED if
 * not. Prune calls it before deleting. */
int repo_lock_check(struct repo_lock *lock, struct error *err);

/* Refreshes the lock now, as its thread does every LOCK_REFRESH_SECONDS:
 * rewrites its object if it is still this process's, or, if the exclusive
 * object is gone or another holder's, marks the lock lost for good (and
 * writes nothing: it must not overwrite the new holder's); if the store
 * does not answer, does nothing. */
void repo_lock_refresh(struct repo_lock *lock);

/* A lock as its object says, and whether it is stale. */
struct lock_info {
    uint8_t id[CRYPTO_ID_SIZE];
    char host[64];
    int pid;
    char nonce[33];   /* random per lock taken: tells apart holders of the exclusive object */
    int64_t time;     /* last written (taken or refreshed) */
    char boot[40];    /* the holder's boot id ("" from older coffer, or too long) */
    char machine[33]; /* the holder's machine id ("": unknown, older coffer, or too long) */
    uint64_t pidns;   /* the inode of the holder's pid namespace (0: unknown) */
    uint64_t started; /* the holder's start time in ticks since boot (0: unknown) */
    bool is_exclusive;
    bool is_orphaned; /* its process is certainly gone (lock.c's is_orphaned) */
    bool is_expired;  /* not refreshed for LOCK_STALE_SECONDS */
    bool is_unreadable; /* the object is there but cannot be opened (only id is set) */
};

/* Calls fn for every lock (for `coffer unlock` and `check`). */
typedef void (*lock_fn)(void *ctx, const struct lock_info *info);
int repo_locks_list(struct repo *repo, lock_fn fn, void *ctx, struct error *err);

int repo_lock_remove(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], struct error *err);

/* Reads a lock object's JSON into info (all but is_orphaned, is_expired). */
int lock_info_parse(const json_t *doc, struct lock_info *info);

#endif
