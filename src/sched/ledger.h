/*
 * ledger.h — the daemon's run ledger: for each scheduled job, the last
 * slot (cron time) it has dealt with and how its last run went, in
 * <state_dir>/ledger.json.
 *
 * The ledger is what makes "after downtime each job whose time passed
 * runs once, and a restart never runs a job twice for one slot" true: a
 * slot is written as taken before its run starts, so a crash or a stop
 * mid-run leaves it taken. Several processes may share a state directory
 * (a daemon and a `daemon --once` from cron): each read-modify-write of
 * the ledger holds an exclusive flock on <state_dir>/ledger.lock, and each
 * run holds <state_dir>/run-<job>.lock for as long as it runs, so a job
 * whose previous run is still going is seen as such. The file is written
 * whole, fsynced and renamed into place. One that cannot be parsed is put
 * aside (ledger.json.bad) and the ledger starts again from now, which runs
 * no missed slot twice — at worst it skips them, and says so.
 */
#ifndef COFFER_SCHED_LEDGER_H
#define COFFER_SCHED_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* What the ledger knows of one job. Times are Unix seconds; 0: never. */
struct ledger_job {
    char *name;
    int64_t since;          /* first seen: no slot before it is due */
    int64_t slot;           /* the last slot dealt with (run, skipped or missed) */
    int64_t started, ended; /* the last run */
    char outcome[16];       /* the last run's: ok, partial, failed, stopped, skipped, missed; "" */
    char *error;            /* the last run's first error, or NULL */
    int64_t last_ok;        /* when a run last ended ok */
    unsigned skipped_in_a_row; /* slots skipped because the previous run still ran */
    unsigned failed_in_a_row;
};

struct ledger {
    char *dir;              /* the state directory */
    int lock_fd;            /* ledger.lock, held (flock) between ledger_open and ledger_close */
    struct ledger_job *jobs;
    size_t count;
    char warning[ERROR_MSG_MAX]; /* a ledger put aside, or "" */
};

/* Creates dir (0700) if need be, takes ledger.lock (waiting for another
 * process's read-modify-write) and reads ledger.json. */
int ledger_open(const char *dir, struct ledger *l, struct error *err);

/* Reads a ledger document (the text of ledger.json): 0, or -1 when it is
 * not one (err says why). For ledger_open and the fuzz harness. */
int ledger_parse(const char *text, size_t len, struct ledger *l, struct error *err);

/* The job called name, added (since = now) if the ledger has none. */
struct ledger_job *ledger_job(struct ledger *l, const char *name, int64_t now);

/* Writes the ledger back (atomically); the lock stays held. */
int ledger_save(struct ledger *l, struct error *err);

/* Releases the lock and frees everything. */
void ledger_close(struct ledger *l);

/* Takes <dir>/run-<job>.lock without waiting: a descriptor to close when
 * the run ends, or -1 (errno EWOULDBLOCK: the previous run still runs). */
int ledger_run_lock(const char *dir, const char *job);

#endif
