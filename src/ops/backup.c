/*
 * backup.c — one backup run: lock, load the index, pick the parent
 * snapshot, run the source through the blob writer, then write the index
 * and, last, the snapshot. Anything that fails before the snapshot is
 * written leaves no snapshot, so a failed backup never looks like one.
 */
#include "ops/ops.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "repo/blob.h"
#include "repo/lock.h"
#include "source/program.h"
#include "source/source.h"
#include "source/types.h"
#include "util/interrupt.h"
#include "util/text.h"
#include "util/host.h"

unsigned ops_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
}

/* The newest earlier snapshot of the same source and type on this host. */
static const struct snapshot *find_parent(const struct snapshot_list *list, const char *source, const char *type,
                                          const char *host)
{
    for (size_t i = list->count; i-- > 0;) {
        const struct snapshot *s = &list->items[i];
        if (!strcmp(s->source, source) && !strcmp(s->host, host) && !strcmp(s->type, type))
            return s;
    }
    return NULL;
}

/* A damaged index file or a missing pack does not stop a backup: what they
 * covered is stored again, and the snapshot says so. */
static void warn_index_problem(struct snapshot *result, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    string_list_add(&result->warnings, line);
}

int ops_backup(struct repo *repo, const struct backup_options *opts, struct snapshot *result, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct blob_writer *blobs = NULL;
    struct blob_codec *codec = NULL;
    char host[64];
    int rc = -1;
    double started = progress_now();

    memset(result, 0, sizeof *result);
    const struct config_source *src = opts->source;
    const struct source_type *kind = src->kind;
    const char *why = kind->validate ? kind->validate(src->settings) : NULL;
    if (why)
        return error_setk(err, ERR_USAGE, "source %s: %s", src->name, why);
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    /* Packs are listed after the index is read: a pack a prune deleted in
     * between is then missing, never the other way round. */
    size_t missing = 0;
    if (repo_load_index(repo, err) < 0 || repo_mark_missing_packs(repo, &missing, err) < 0 ||
        snapshot_list_load(repo, &list, err) < 0)
        goto out;
    for (size_t i = 0; repo_index_problem(repo, i); i++)
        warn_index_problem(result, "%s: skipped; what it indexed is stored again (rebuild it with `coffer repair index`)",
                           repo_index_problem(repo, i));
    if (missing)
        warn_index_problem(result, "%zu indexed pack%s not in the repository: what %s held is stored again (run "
                           "`coffer check` to see which snapshots it affects)", missing, missing == 1 ? " is" : "s are",
                           missing == 1 ? "it" : "they");

    host_name(host, sizeof host);
    if (opts->time) {
        result->time = opts->time;
    } else {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        result->time = (int64_t)now.tv_sec;
        result->time_ns = (int32_t)now.tv_nsec;
    }
    result->host = xstrdup(host);
    result->source = xstrdup(src->name);
    result->type = xstrdup(kind->name);
    result->run = opts->run ? xstrdup(opts->run) : NULL;
    result->revision = opts->revision ? xstrdup(opts->revision) : NULL;
    for (size_t i = 0; i < opts->tags.count; i++)
        string_list_add(&result->tags, opts->tags.items[i]);
    for (size_t i = 0; i < src->tags.count; i++)
        if (!string_list_has(&result->tags, src->tags.items[i]))
            string_list_add(&result->tags, src->tags.items[i]);

    const struct snapshot *parent = kind->is_incremental ? find_parent(&list, src->name, kind->name, host) : NULL;
    if (parent) {
        result->has_parent = true;
        memcpy(result->parent, parent->id, CRYPTO_ID_SIZE);
        opts->progress->total_bytes = parent->stats.size;
    }

    blobs = blob_writer_new(repo, opts->workers ? opts->workers : ops_default_workers());
    codec = repo_blob_codec_new(repo);
    struct backup_ctx ctx = {result, repo, blobs, codec, &result->stats, &result->warnings, opts->progress,
                             opts->is_force, parent ? parent->root : NULL, opts->stdin_fd};
    rc = kind->backup(&ctx, src->settings, err);
    if (rc < 0 && interrupt_signal()) { /* whatever failed first: a dump program gets Ctrl-C too */
        char lost[300];
        snprintf(lost, sizeof lost, "no snapshot of %s saved", src->name);
        interrupt_check(err);
        blob_writer_keep(blobs, lost, "the next backup", err);
    }
    if (rc == 0)
        rc = blob_writer_finish(blobs, err);
    if (rc == 0) {
        struct blob_writer_stats stats;
        blob_writer_get_stats(blobs, &stats);
        result->stats.added = stats.bytes_stored;
        result->stats.blobs_new = stats.blobs_new;
        result->stats.seconds = progress_now() - started;
        rc = snapshot_save(repo, result, err);
    }
out:
    blob_writer_free(blobs);
    blob_codec_free(codec);
    snapshot_list_free(&list);
    /* What a failed run left in the index (reservations of blobs never
     * stored, packs no index file names) must not serve the next source of
     * the same process: it reads the index again (repo_drop_index). */
    if (rc < 0)
        repo_drop_index(repo);
    repo_unlock(lock);
    if (rc < 0)
        snapshot_free(result);
    return rc;
}

/* The revision a run records, or NULL with why in problem. */
static char *run_revision(const struct config *cfg, char *problem, size_t size)
{
    const char *path = cfg->git_revision_of;
    for (size_t i = 0; !path && i < cfg->source_count; i++)
        if (cfg->sources[i].kind->revision_key)
            path = config_source_string(&cfg->sources[i], cfg->sources[i].kind->revision_key);
    if (!path)
        return NULL;
    char head[128];
    struct error err;
    if (git_head(path, head, sizeof head, &err) < 0) {
        snprintf(problem, size, "%s", err.msg);
        return NULL;
    }
    return xstrdup(head);
}

int ops_backup_sources(struct repo *repo, const struct config *cfg, char *const *names, size_t count,
                       struct backup_run *run, struct error *err)
{
    for (size_t i = 0; i < count; i++)
        if (!config_find_source(cfg, names[i]))
            return error_setk(err, ERR_USAGE, "%s names no source %s", cfg->path, names[i]);
    /* One run id for all the snapshots of this run, so that a restore can
     * pick the database, the cache and the files of the same moment. */
    uint8_t run_bytes[8];
    crypto_random(run_bytes, sizeof run_bytes);
    hex_encode(run_bytes, sizeof run_bytes, run->run);
    run->revision_problem[0] = '\0';
    char *revision = run_revision(cfg, run->revision_problem, sizeof run->revision_problem);
    struct backup_options opts = *run->base;
    opts.run = run->run;
    opts.revision = revision;
    run->saved = run->partial = run->failed = 0;
    size_t total = count ? count : cfg->source_count;
    for (size_t i = 0; i < total; i++) {
        opts.source = count ? config_find_source(cfg, names[i]) : &cfg->sources[i];
        opts.progress = run->start ? run->start(run->ctx, opts.source) : NULL;
        struct progress quiet;
        if (!opts.progress) {
            progress_init(&quiet, "backup", true, false);
            opts.progress = &quiet;
        }
        struct snapshot snap;
        struct error one;
        if (ops_backup(repo, &opts, &snap, &one) < 0) {
            run->failed++;
            if (run->done)
                run->done(run->ctx, opts.source, NULL, &one);
            if (one.kind == ERR_INTERRUPTED) { /* the sources after it are not started */
                *err = one;
                free(revision);
                return -1;
            }
            continue;
        }
        if (snap.warnings.count)
            run->partial++;
        else
            run->saved++;
        if (run->done)
            run->done(run->ctx, opts.source, &snap, NULL);
        snapshot_free(&snap);
    }
    free(revision);
    return 0;
}
