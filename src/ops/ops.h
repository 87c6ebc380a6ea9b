/*
 * ops.h — the operations behind the commands: backup, restore, dump, ls,
 * check. Each takes an open repository and options, does the work under
 * the right lock, and reports through a struct error; none prints except
 * through the callbacks and progress it is given, and none exits.
 */
#ifndef COFFER_OPS_OPS_H
#define COFFER_OPS_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline/content.h"
#include "repo/retention.h"
#include "repo/snapshot.h"
#include "repo/tree.h"
#include "util/progress.h"

struct config_source;

struct backup_options {
    const struct config_source *source; /* what to back up: its name, type and settings */
    int stdin_fd;            /* what a stream source reads */
    const char *run;         /* run id shared by a configuration's snapshots, or NULL */
    const char *revision;    /* the application's git HEAD, or NULL */
    struct string_list tags;
    int64_t time;            /* 0: now */
    bool is_force;
    unsigned workers;
    struct progress *progress;
};

/* Backs up and saves a snapshot; result (owned by the caller, free with
 * snapshot_free) describes it. A backup that skipped unreadable files
 * succeeds with warnings in result->warnings. opts->tags are the run's;
 * the source's own tags are added. */
int ops_backup(struct repo *repo, const struct backup_options *opts, struct snapshot *result, struct error *err);

/*
 * A run over configured sources (`coffer backup` with coffer.yaml, and the
 * daemon's scheduled runs): every source of cfg, or the count named ones,
 * one snapshot each, all with the same run id and the application's git
 * revision (cfg's git_revision_of, else the first source whose type
 * records one). A failed source does not stop the others; an interruption
 * (ERR_INTERRUPTED, after done was called for its source) does. For each
 * source, start (may be NULL) returns the progress to use (NULL: none),
 * and done is called with its snapshot, or with NULL and the error.
 */
struct backup_run {
    const struct backup_options *base;     /* tags, time, force, workers for every source */
    struct progress *(*start)(void *ctx, const struct config_source *src);
    void (*done)(void *ctx, const struct config_source *src, const struct snapshot *snap, const struct error *err);
    void *ctx;
    char run[17];                          /* out: the run id */
    size_t saved, partial, failed;         /* out: partial: saved with warnings */
    char revision_problem[ERROR_MSG_MAX];  /* out: why the revision is not recorded, or "" */
};

struct config;
struct config_source;
int ops_backup_sources(struct repo *repo, const struct config *cfg, char *const *names, size_t count,
                       struct backup_run *run, struct error *err);

/* `coffer config check`: reaches each source of cfg (or the count named;
 * an unknown name is ERR_USAGE) as a backup would, backing up nothing
 * (ops/probe.c). report gets each source with what answered, or why it
 * could not be reached. Returns how many could not, or -1. */
typedef void (*probe_report_fn)(void *ctx, const struct config_source *src, const char *what, const char *why);
int ops_probe_sources(const struct config *cfg, char *const *names, size_t count, probe_report_fn report, void *ctx,
                      struct error *err);

struct copy_options {
    const char *source;       /* only this source's snapshots, or NULL: all */
    const char *const *tags;  /* only snapshots with every one of these tags */
    size_t tag_count;
    unsigned workers;         /* 0: one per CPU */
    bool is_dry_run;          /* count and report, copy nothing */
    struct progress *progress; /* bytes read from the source; may be NULL */
};

struct copy_result {
    size_t copied;            /* (dry run: would be copied) */
    size_t already;           /* the destination had them */
    uint64_t bytes_read;      /* content read from the source */
    uint64_t bytes_stored;    /* new bytes stored in the destination */
    size_t packs_missing;     /* indexed in the destination but not there: their blobs were stored again */
    /* Called after each snapshot is copied (copy is NULL in a dry run). */
    void (*on_copied)(void *ctx, const struct snapshot *original, const struct snapshot *copy);
    void *ctx;
};

/* Copies the snapshots of from that to lacks into to (see copy.c), oldest
 * first, each one whole or not at all. */
int ops_copy(struct repo *from, struct repo *to, const struct copy_options *opts, struct copy_result *result,
             struct error *err);

struct restore_options {
    const char *target;      /* directory to restore into */
    const char *path;        /* only this path of the snapshot, or NULL */
    unsigned workers;
    struct progress *progress;
    bool is_overwrite;       /* restore into a directory that is not empty, replacing its files of the same names */
};

/* Restores a snapshot's tree under target. A target that exists and is
 * not empty is refused (ERR_USAGE) unless is_overwrite: a restore to the
 * wrong place (--to /) must not silently replace a live tree. Files that
 * cannot be restored are listed in failures and restoring goes on; the
 * call then fails. */
int ops_restore(struct repo *repo, const struct snapshot *snap, const struct restore_options *opts,
                struct string_list *failures, struct error *err);

struct db_restore_options {
    const char *target_url;    /* postgresql://… of the target database */
    const char *password_file; /* its password, or NULL for libpq's own lookup */
    const char *table;         /* only this table, or NULL */
    unsigned jobs;             /* > 1: over this many connections (see restore_db.c) */
    bool is_force;             /* restore into a database that has tables */
    unsigned workers;
};

/* How a database restore went. */
enum db_restore_method {
    DB_RESTORE_STREAMED, /* the dump streamed into pg_restore */
    DB_RESTORE_STAGED,   /* pg_restore --jobs from a copy of the dump in $TMPDIR */
    DB_RESTORE_LOADED,   /* coffer loaded the rows itself over opts->jobs connections */
};

/* Restores a PostgreSQL snapshot into a database, creating it if needed;
 * *method (may be NULL) says how. */
int ops_restore_postgres(struct repo *repo, const struct snapshot *snap, const struct db_restore_options *opts,
                         enum db_restore_method *method, struct error *err);

/* The restore targets of the types (source/types.h): a database, one
 * file of the snapshot written atomically. */
struct restore_request;
int ops_restore_database(struct repo *repo, const struct snapshot *snap, const struct restore_request *req, char *note,
                         size_t note_size, struct error *err);

/* Writes the file name of a snapshot to path: to a temporary name beside
 * it, synced, then renamed over it, so that a failed restore leaves no
 * half-written file. */
int ops_restore_file(struct repo *repo, const struct snapshot *snap, const char *name, const char *path,
                     unsigned workers, struct error *err);

/* The target of snap's type that target names (*out; NULL: a directory).
 * A URL (scheme://) that the type does not restore to is an error, not a
 * directory of that name. */
struct source_target;
int ops_find_restore_target(const struct snapshot *snap, const char *target, const struct source_target **out,
                            struct error *err);

/* Hands one file of a snapshot (the stream, for a type that dumps whole,
 * when path is NULL) to sink, in order. */
int ops_read(struct repo *repo, const struct snapshot *snap, const char *path, unsigned workers,
             content_sink_fn sink, void *ctx, struct error *err);

/* Writes one file of a snapshot (as ops_read) to fd. */
int ops_dump(struct repo *repo, const struct snapshot *snap, const char *path, int fd, unsigned workers,
             struct error *err);

/* ---- ls, find, diff (browse.c): trees only, under a shared lock ---- */

/* Calls fn for every entry of a snapshot, with its path ("/srv/a.txt"),
 * each directory before what is in it, in name order. */
typedef void (*entry_fn)(void *ctx, const struct snapshot *snap, const char *path, const struct node *node);
int ops_ls(struct repo *repo, const struct snapshot *snap, entry_fn fn, void *ctx, struct error *err);

/* Calls fn for every entry whose path matches pattern (the language of a
 * source's `exclude:`, source/exclude.h; a bad one is ERR_USAGE naming
 * what is wrong) in each of the count snapshots, in the order given. */
int ops_find(struct repo *repo, const struct snapshot *const *snaps, size_t count, const char *pattern, entry_fn fn,
             void *ctx, struct error *err);

/* What changed at a path from one snapshot to another. A directory whose
 * entries changed is not itself reported; what changed in it is. */
enum diff_change {
    DIFF_ADDED,    /* only after: a new entry (and everything in a new directory) */
    DIFF_REMOVED,  /* only before */
    DIFF_CONTENT,  /* a file's bytes, a symlink's target, a device's number */
    DIFF_TYPE,     /* a file became a directory, a symlink, ... */
    DIFF_METADATA, /* the same content; mode, owner or mtime changed */
};
/* before and after: the entry on each side, NULL where it is absent. */
typedef void (*diff_fn)(void *ctx, enum diff_change change, const char *path, const struct node *before,
                        const struct node *after);
/* Calls fn for every path that differs, in name order, each directory's
 * own change before what is in it; directories with the same tree on
 * both sides are not read. */
int ops_diff(struct repo *repo, const struct snapshot *before, const struct snapshot *after, diff_fn fn, void *ctx,
             struct error *err);

/* Calls fn for every regular file of a snapshot's tree, in path order
 * ("/a/b"), under one shared lock, with a reader for its content
 * (content_reader_copy); fn returning -1 (err set) stops the walk. For a
 * target that takes files one at a time (restoring a bucket to S3). */
struct content_reader;
typedef int (*ops_file_fn)(void *ctx, const char *path, const struct node *node, struct content_reader *reader,
                           struct error *err);
int ops_each_file(struct repo *repo, const struct snapshot *snap, unsigned workers, ops_file_fn fn, void *ctx,
                  struct error *err);

/* ---- forget ---- */

struct forget_options {
    /* The policy for a source, or NULL to leave the source alone. */
    const struct retention_policy *(*policy_for)(void *ctx, const char *source);
    void *ctx;
    const char *const *ids;     /* remove these snapshots ("latest" or id prefixes) instead of applying policies */
    size_t id_count;
    const struct config *cfg;   /* the sources' health rules, or NULL: the defaults */
    const char *const *sources; /* only these sources; none: all */
    size_t source_count;
    bool is_dry_run;            /* judge and report, delete nothing */
    bool is_force;              /* remove a source's newest healthy snapshot, or all of them, if so judged */
};

/*
 * Which policy applies to each source: the flags' for every source when
 * flags is given (a copy is kept), else coffer.yaml's — a source's own
 * `retention:`, else the top-level one, else none (the source is left
 * alone). Init fails (ERR_USAGE) when neither gives a policy, or a
 * `within:` does not parse. ops_retention_policy_for has policy_for's
 * shape: give it the plan as ctx.
 */
struct retention_plan {
    struct retention_policy flags;
    bool has_flags;
    const struct config *cfg;
    struct retention_policy *from_file; /* one per source of cfg, then the top level */
};
struct config;
int ops_retention_plan_init(struct retention_plan *plan, const struct config *cfg,
                            const struct retention_policy *flags, struct error *err);
const struct retention_policy *ops_retention_policy_for(void *plan, const char *source);
void ops_retention_plan_free(struct retention_plan *plan);

/* Called for each judged snapshot, sources in name order; unhealthy is why
 * the snapshot fails a health rule, or NULL. */
typedef void (*forget_report_fn)(void *ctx, const struct snapshot *snap, const struct retention_verdict *verdict,
                                 const char *unhealthy);

/* Removes the snapshots the policies do not keep (data stays until prune). */
int ops_forget(struct repo *repo, const struct forget_options *opts, forget_report_fn report, void *ctx,
               struct error *err);

/* ---- tag ---- */

struct tag_change {
    struct string_list set; /* the tags become these (with is_set) ... */
    bool is_set;
    struct string_list add;    /* ... then these are added ... */
    struct string_list remove; /* ... and these removed */
};

struct tag_request {
    const char *const *specs; /* the snapshots: "latest" or unique id prefixes */
    size_t count;
    const char *source;       /* what "latest" is of, or NULL */
    struct tag_change change;
};

/* Called for each snapshot named, after its tags changed (is_changed) or
 * were already as asked. */
typedef void (*tag_report_fn)(void *ctx, const struct snapshot *snap, bool is_changed);

/* Changes the tags of the snapshots named; each keeps its id. A name that
 * finds no snapshot fails before any is changed. */
int ops_tag(struct repo *repo, const struct tag_request *req, tag_report_fn report, void *ctx, struct error *err);

/* ---- prune ---- */

struct prune_options {
    double max_unused; /* repack a pack when more than this share of it is unused (0.05) */
    bool is_dry_run;   /* judge and report, change nothing */
    bool is_force;     /* prune although the snapshot list is empty or fell by more than half */
};

struct prune_result {
    uint64_t snapshots;                 /* listed */
    uint64_t packs, bytes_stored;       /* before */
    uint64_t packs_deleted;             /* condemned by an earlier prune, still unneeded: gone */
    uint64_t packs_condemned;           /* unneeded now, or repacked: the next prune deletes them */
    uint64_t packs_kept_again;          /* condemned earlier, needed by a newer snapshot */
    uint64_t packs_repacked;            /* their needed blobs copied into new packs (the old ones condemned) */
    uint64_t packs_written;
    uint64_t bytes_freed;               /* what the store holds less afterwards (about) */
    uint64_t bytes_condemned;           /* what the next prune frees (about) */
    uint64_t bytes_rewritten;
    char not_alone_because[256];        /* why nothing was deleted, when a lock of a live process may be there */
};

/* Condemns what no snapshot needs and deletes what an earlier prune
 * condemned (see prune.c for why it takes two, and the order that keeps a
 * crash harmless). Records the snapshot count in a "prune" event. */
int ops_prune(struct repo *repo, const struct prune_options *opts, struct prune_result *result, struct error *err);

/* ---- repair (repair.c) ---- */

struct repair_options {
    bool is_dry_run;
    bool is_forget;          /* snapshots: remove each original once its repaired copy is stored */
    /* What each step found or did, as one line; may be NULL. */
    void (*report)(void *ctx, const char *line);
    void *ctx;
};

struct repair_result {
    uint64_t packs, blobs;       /* index: packs whose headers were read, and their blobs */
    uint64_t packs_unreadable;   /* index: packs whose header cannot be read; packs: packs left as they are */
    uint64_t packs_condemned;    /* index: packs that stay condemned */
    uint64_t files_replaced;     /* index: old index and condemned files */
    uint64_t packs_damaged;      /* packs: damaged packs salvaged */
    uint64_t packs_missing;      /* packs: indexed packs the store does not have */
    uint64_t packs_written;
    uint64_t blobs_saved, blobs_lost;
    uint64_t snapshots_written;  /* snapshots: repaired copies */
    uint64_t snapshots_lost;     /* snapshots: that still need something lost */
};

/* Rebuilds the index from the packs' headers and replaces every index and
 * condemned file with it: a pack only condemned files listed stays
 * condemned, a pack whose header cannot be read keeps its old records.
 * When an old file or a pack cannot be read for another reason than
 * damage, the old files are kept and it fails (run it again). */
int ops_repair_index(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                     struct error *err);

/* Saves the intact blobs of the packs check recorded as damaged (and of
 * those it recorded missing that are there after all) into new packs, and
 * drops those packs and the missing ones from the index. A pack that
 * cannot be read is left as it is, and it fails (run it again). */
int ops_repair_packs(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                     struct error *err);

/* For each snapshot needing what is lost: reports what cannot be restored
 * (files of a tree, or the stream), and for a tree stores a snapshot
 * without those files, tagged "repaired", naming the original. */
int ops_repair_snapshots(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                         struct error *err);

/* ---- stats ---- */

struct stats_source {
    char *name;
    uint64_t snapshots;
    uint64_t logical_bytes; /* the sum of its snapshots' sizes */
    uint64_t unique_bytes;  /* stored bytes of blobs no other source references */
};

struct stats_result {
    uint64_t snapshots;
    uint64_t logical_bytes;      /* the sum of all snapshots' sizes */
    uint64_t stored_bytes;       /* packs, index files and snapshots on the store */
    uint64_t referenced_bytes;   /* stored bytes of blobs some snapshot references */
    uint64_t shared_bytes;       /* ... that several sources reference */
    uint64_t indexed_bytes;      /* stored bytes of all indexed blobs */
    uint64_t unreferenced_bytes; /* indexed but referenced by no snapshot: what prune frees */
    struct stats_source *sources;
    size_t source_count;
};

int ops_stats(struct repo *repo, struct stats_result *out, struct error *err);
void stats_result_free(struct stats_result *r);

struct check_options {
    bool is_read_data;
    /* A partial read: only the packs of slice read_slice of read_slices
     * (by pack id; ops_check_next_slice picks it). 0 slices: all packs. */
    unsigned read_slice, read_slices;
    const char *source;    /* only this source's snapshots and packs; NULL: all */
    unsigned workers;
    struct progress *progress;
    /* Each problem found, as one line; may be NULL. */
    void (*report)(void *ctx, const char *line);
    /* Each of many problems one reported line sums up (the blobs of one
     * damaged dictionary), for --json; may be NULL. */
    void (*detail)(void *ctx, const char *line);
    void *report_ctx;
    /* When not NULL, receives the snapshots the check read (the caller
     * frees them), so the health rules need not read them again; see
     * check_result.is_snapshot_list_read. */
    struct snapshot_list *snapshots;
};

/* One problem a check found, as --json and the "check" event give it. The
 * kinds (docs/json-output.md): snapshot_list, index, snapshot_unreadable,
 * snapshot_resurrected, pack_missing, pack_unreadable, blob_unindexed,
 * tree, blob_damaged, copy_damaged (another copy serves restores),
 * dictionary, snapshot (it needs missing or damaged data), record (the
 * damage record could not be written). */
struct check_problem {
    const char *kind;
    bool has_pack, has_blob;
    uint8_t pack[CRYPTO_ID_SIZE]; /* the pack it is in or about */
    uint8_t blob[CRYPTO_ID_SIZE]; /* the blob (tree, dictionary) it is about */
    /* Ids (hex) of the snapshots it keeps from being fully restored; for a
     * dictionary, those that name it; for a snapshot problem, that one. */
    struct string_list snapshots;
    char *what;                   /* the line `report` received */
};

struct check_result {
    uint64_t snapshots;     /* walked (of the source, with one) */
    uint64_t packs;
    uint64_t pack_bytes;    /* the packs' sizes in the store, summed */
    uint64_t packs_read;
    uint64_t blobs;
    uint64_t errors;
    uint64_t unindexed_packs;  /* leftovers of interrupted backups */
    bool is_snapshot_list_read; /* the snapshots folder could be listed */
    const char *todo;          /* when damage was found: the commands that heal it, in order */
    struct check_problem *problems; /* each one reported, in order (errors of them) */
    size_t problem_count;
};

void check_result_free(struct check_result *result);

/* Checks the repository; fails when it found errors (each reported, and
 * in result->problems: free it with check_result_free, whatever this
 * returns). */
int ops_check(struct repo *repo, const struct check_options *opts, struct check_result *result,
              struct error *err);

/* For --read-data=N%: the packs fall into slices = 100 / N slices by their
 * id (ids are hashes, so the slices are even), and each partial check
 * reads the slice after the one the previous check of the same source
 * and slice count read (its event says which), so `slices` runs read
 * every pack that stayed. */
int ops_check_next_slice(struct repo *repo, const char *source, unsigned percent, unsigned *slice,
                         unsigned *slices, struct error *err);

/* Number of worker threads that keep this machine's cores busy. */
unsigned ops_default_workers(void);

#endif
