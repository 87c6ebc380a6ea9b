/*
 * check_job.c — a check with what a command does around it (check_job.h):
 * the next slice of a partial read, ops_check, the health rules on the
 * snapshots the check read, and the "check" event. `coffer check` prints
 * what the job found; the daemon will run the same job on a schedule.
 */
#include "ops/check_job.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "util/text.h"

static void pass_damage_on(void *ctx, const char *line)
{
    struct check_job *job = ctx;
    if (job->report)
        job->report(job->report_ctx, line);
}

static json_t *id_json(bool has_id, const uint8_t id[CRYPTO_ID_SIZE])
{
    char hex[2 * CRYPTO_ID_SIZE + 1];
    if (!has_id)
        return json_null();
    hex_encode(id, CRYPTO_ID_SIZE, hex);
    return json_string(hex);
}

/* The problems as the event and --json give them: {kind, pack, blob,
 * snapshots, what}, ids in full or null (docs/json-output.md). */
static json_t *damage_json(const struct check_result *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < r->problem_count; i++) {
        const struct check_problem *p = &r->problems[i];
        json_t *snapshots = json_array();
        for (size_t k = 0; k < p->snapshots.count; k++)
            json_array_append_new(snapshots, json_string(p->snapshots.items[k]));
        json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:o, s:s}", "kind", p->kind, "pack",
                                              id_json(p->has_pack, p->pack), "blob", id_json(p->has_blob, p->blob),
                                              "snapshots", snapshots, "what", p->what));
    }
    return list;
}

static void collect_detail(void *ctx, const char *line)
{
    struct check_job *job = ctx;
    json_array_append_new(job->damage_detail, json_string(line));
}

static json_t *health_json(const struct health_report *h)
{
    json_t *list = json_array();
    for (size_t i = 0; i < h->count; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "source", h->items[i].source, "rule",
                                              h->items[i].rule, "what", h->items[i].what, "todo",
                                              h->items[i].todo ? h->items[i].todo : ""));
    return list;
}

/* Health rules apply to the sources coffer.yaml names, or to the one
 * given; without a snapshot list the damage lines have said why. */
static void judge_health(struct check_job *job)
{
    bool has_sources = job->source || (job->cfg && job->cfg->source_count);
    job->is_judged = job->result.is_snapshot_list_read && has_sources;
    if (job->is_judged)
        health_evaluate(&job->snapshots, job->cfg, job->source, job->now ? job->now : (int64_t)time(NULL),
                        &job->health);
}

static json_t *event_doc(const struct check_job *job)
{
    const struct check_options *o = &job->opts;
    const struct check_result *r = &job->result;
    json_t *locks = job->stale_locks ? json_incref(job->stale_locks) : json_array();
    json_t *doc = json_pack("{s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:o, s:o, s:b, s:b}", "source",
                            job->source, "read", !o->is_read_data ? "none" : o->read_slices > 1 ? "slice" : "all",
                            "read_slice", (json_int_t)o->read_slice, "read_slices", (json_int_t)o->read_slices,
                            "snapshots", (json_int_t)r->snapshots, "packs", (json_int_t)r->packs, "packs_read",
                            (json_int_t)r->packs_read, "blobs_read", (json_int_t)r->blobs, "unindexed_packs",
                            (json_int_t)r->unindexed_packs, "damage", job->damage, "stale_locks", locks, "health",
                            health_json(&job->health), "health_judged", job->is_judged, "ok",
                            !job->is_damaged && job->health.count == 0);
    if (job->is_damaged && r->todo)
        json_object_set_new(doc, "todo", json_string(r->todo));
    if (job->now) /* the daemon's clock (--now) */
        json_object_set_new(doc, "time", json_integer((json_int_t)job->now));
    json_object_set_new(doc, "pack_bytes", json_integer((json_int_t)r->pack_bytes)); /* for health: max_stored */
    return doc;
}

int ops_check_job(struct repo *repo, struct check_job *job, struct error *err)
{
    struct progress quiet; /* the check reports progress somewhere */
    progress_init(&quiet, "check", true, false);
    job->damage_detail = json_array();
    job->opts = (struct check_options){.is_read_data = job->is_read_data, .source = job->source,
                                       .workers = job->workers, .progress = job->progress ? job->progress : &quiet,
                                       .report = pass_damage_on, .detail = collect_detail, .report_ctx = job,
                                       .snapshots = &job->snapshots};
    if (job->is_read_data && ops_check_next_slice(repo, job->source, job->percent ? job->percent : 100,
                                                  &job->opts.read_slice, &job->opts.read_slices, err) < 0)
        return -1;
    int rc = ops_check(repo, &job->opts, &job->result, &job->damage_err);
    job->opts.progress = job->progress; /* not the quiet one, gone after this call */
    job->damage = damage_json(&job->result);
    if (rc < 0) {
        if (job->result.errors == 0 || job->damage_err.kind == ERR_INTERRUPTED) { /* nothing to record */
            *err = job->damage_err;
            return -1;
        }
        job->is_damaged = true;
    }
    judge_health(job);
    job->doc = event_doc(job);
    struct error record_err;
    if (event_save(repo, "check", job->doc, &record_err) < 0)
        string_list_add(&job->warnings, record_err.msg);
    return 0;
}

void ops_check_job_free(struct check_job *job)
{
    json_decref(job->doc);
    json_decref(job->damage);
    json_decref(job->damage_detail);
    health_report_free(&job->health);
    check_result_free(&job->result);
    snapshot_list_free(&job->snapshots);
    string_list_free(&job->warnings);
    job->doc = job->damage = job->damage_detail = NULL;
}

struct stale_locks {
    struct repo *repo;
    json_t *lines;
};

static void add_stale_lock(void *ctx, const struct lock_info *info)
{
    struct stale_locks *stale = ctx;
    if (!info->is_orphaned && !info->is_expired)
        return;
    char when[32], line[ERROR_MSG_MAX + 256];
    struct error why;
    time_format_rfc3339(info->time, when);
    int n = snprintf(line, sizeof line, "%s lock of pid %d on %s, last refreshed %s ",
                     info->is_exclusive ? "an exclusive" : "a shared", info->pid, info->host, when);
    if (!info->is_orphaned)
        snprintf(line + n, sizeof line - n, "(not refreshed for 30 minutes); prune deletes nothing while it is "
                 "there: if that process is gone, `coffer unlock` removes it");
    else if (repo_lock_remove(stale->repo, info->id, &why) == 0)
        snprintf(line + n, sizeof line - n, "(its process is gone): removed");
    else
        snprintf(line + n, sizeof line - n, "(its process is gone): could not be removed (%s); the next coffer that "
                 "locks tries again", why.msg);
    json_array_append_new(stale->lines, json_string(line));
}

json_t *ops_check_stale_locks(struct repo *repo)
{
    struct stale_locks stale = {repo, json_array()};
    struct error ignored;
    repo_locks_list(repo, add_stale_lock, &stale, &ignored);
    return stale.lines;
}
