/*
 * drill.h — a restore drill of one snapshot: restore it into a scratch
 * place, validate what came back, and time both. The wall time from the
 * start of the restore to the last validation is the measured RTO.
 *
 *  postgres: a new database on the scratch server. Steps: the restore
 *            itself; every table the snapshot recorded is present with the
 *            row count recorded at backup (meta "rows"); no foreign key is
 *            left unvalidated; then each configured SQL check.
 *  redis:    the RDB loaded by a throwaway redis-server on a free loopback
 *            port; each database's key count as recorded at backup, less
 *            at most the keys that had an expiry (they may have expired).
 *  others:   restored into the scratch directory; every file, read back
 *            from disk, hashes blob by blob to the snapshot's blob ids; a
 *            git bundle also passes `git bundle verify`.
 *
 * Each step is appended to a JSON array as {name, ok, seconds, detail}.
 * Removing the scratch database and directory is the caller's business
 * (cmd_drill.c does it also after an interrupt): ops_drill_drop_database.
 */
#ifndef COFFER_OPS_DRILL_H
#define COFFER_OPS_DRILL_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#include "config/config.h"
#include "repo/snapshot.h"

struct drill_options {
    const char *scratch_dir;   /* a private, empty directory */
    const char *scratch_url;   /* postgres: the server for the scratch database */
    const char *password_file; /* its password, or NULL for libpq's own lookup */
    const char *scratch_db;    /* postgres: the scratch database's name */
    const struct config_check *checks;
    size_t check_count;
    unsigned jobs;             /* postgres restore connections */
};

/* One drill in progress: where its steps go, and its first failure. A
 * type's drill (its row's drill in source/types.h) adds its steps with
 * drill_step. */
struct drill {
    struct repo *repo;
    const struct snapshot *snap;
    const struct drill_options *opts;
    json_t *steps;
    json_t *meta;       /* the snapshot's metadata, or NULL */
    bool has_failed;
    struct error first; /* the first failed step, as "step: detail" */
};

/* Appends step name, begun at started (progress_now), to d's steps. */
__attribute__((format(printf, 5, 6)))
void drill_step(struct drill *d, const char *name, double started, bool is_ok, const char *fmt, ...);

/* The drills of the types (see the top of this file); a type without its
 * own gets ops_drill_files. ops_drill_git is ops_drill_files and `git
 * bundle verify`. */
void ops_drill_postgres(struct drill *d);
void ops_drill_redis(struct drill *d);
void ops_drill_files(struct drill *d);
void ops_drill_git(struct drill *d);

/* Runs the drill; returns 0 when every step passed, -1 when one failed
 * (err: the first failure) or the drill could not run. *seconds is the
 * wall time from the restore's start to the end of the validation. */
int ops_drill(struct repo *repo, const struct snapshot *snap, const struct drill_options *opts, json_t *steps,
              double *seconds, struct error *err);

/*
 * One source's drill as a command runs it (drill_job.c): scratch places
 * made, ops_drill in a watched child process, the scratch places removed
 * (or kept, with keep_on_failure, and named in the event), the result
 * saved as a "drill" event. ops_drill_job returns -1 only when the drill
 * could not start; a drill that fails is 0 with is_ok false. The caller
 * fills the first block and frees the job with ops_drill_job_free.
 */
struct drill_job {
    const struct snapshot *snap;
    const struct config_source *src;     /* the configured source, or NULL */
    const struct config_drill *settings; /* config_drill_for */
    struct config_objectives objectives;
    unsigned jobs;                       /* database connections; 0: the source's jobs, else 1 */
    volatile sig_atomic_t *stop;         /* set (to a signal number) to stop the drill */
    int64_t now;                         /* the event's time; 0: the host's clock */

    json_t *doc;                 /* the event as saved; NULL when stopped */
    bool is_ok, is_rto_met;
    int stopped_by;              /* the *stop value that stopped it, or 0 */
    struct string_list warnings; /* scratch places not removed, the event not saved */

    char scratch_dir[4096];
    char scratch_db[96];
    struct drill_options opts;
};

/* Points job at the newest snapshot of source in list, with the drill
 * settings and objectives coffer.yaml (cfg, may be NULL) has for it — none
 * when the file's source of that name is another type now. False when
 * the source has no snapshot. */
bool ops_drill_job_for(struct drill_job *job, const struct snapshot_list *list, const struct config *cfg,
                       const char *source);

int ops_drill_job(struct repo *repo, struct drill_job *job, struct error *err);
void ops_drill_job_free(struct drill_job *job);

/* Drops a scratch database (and ends the sessions still in it). */
int ops_drill_drop_database(const char *scratch_url, const char *password_file, const char *name,
                            struct error *err);

#endif
