/*
 * lock.h — who is using a repository: locks/<id> objects.
 *
 * Backups, restores and checks take shared locks; operations that delete
 * data (prune) take an exclusive one. A lock is refreshed every 5 minutes
 * by a background thread while held; a lock not refreshed for 30 minutes,
 * or one left on this host by a process that no longer runs, is stale and
 * ignored (and removed when an exclusive lock is taken).
 */
#ifndef COFFER_REPO_LOCK_H
#define COFFER_REPO_LOCK_H

#include <stdbool.h>

#include "repo/repo.h"

#define LOCK_REFRESH_SECONDS 300
#define LOCK_STALE_SECONDS 1800

struct repo_lock;

/* Takes a lock; ERR_LOCKED names the holder when it conflicts. */
int repo_lock(struct repo *repo, bool is_exclusive, struct repo_lock **out, struct error *err);

/* Stops refreshing and removes the lock; NULL is fine. */
void repo_unlock(struct repo_lock *lock);

#endif
