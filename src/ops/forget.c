/*
 * forget.c — removing snapshots a retention policy does not keep.
 *
 * Only snapshot objects are deleted; the data they alone referenced stays
 * until a prune. Each source's snapshots are judged on their own, with the
 * policy policy_for gives for that source. Every source is judged before
 * anything is deleted, so a refusal (a policy that would remove all of a
 * source's snapshots, an unknown time zone) changes nothing. Runs under the
 * exclusive lock: no backup or prune sees a half-forgotten repository.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "store/store.h"

struct source_group {
    const char *source;
    const struct snapshot **snaps;
    struct retention_verdict *verdicts;
    size_t count;
    const struct retention_policy *policy;
};

static int by_source(const void *a, const void *b)
{
    return strcmp((*(const struct snapshot *const *)a)->source, (*(const struct snapshot *const *)b)->source);
}

/* Groups the list by source (sorted by name). */
static struct source_group *group_by_source(const struct snapshot_list *list, size_t *count)
{
    const struct snapshot **all = xcalloc(list->count ? list->count : 1, sizeof *all);
    for (size_t i = 0; i < list->count; i++)
        all[i] = &list->items[i];
    qsort(all, list->count, sizeof *all, by_source);
    struct source_group *groups = xcalloc(list->count ? list->count : 1, sizeof *groups);
    size_t n = 0;
    for (size_t i = 0; i < list->count;) {
        size_t j = i;
        while (j < list->count && !strcmp(all[j]->source, all[i]->source))
            j++;
        groups[n].source = all[i]->source;
        groups[n].count = j - i;
        groups[n].snaps = xcalloc(j - i, sizeof *groups[n].snaps);
        memcpy(groups[n].snaps, all + i, (j - i) * sizeof *all);
        groups[n].verdicts = xcalloc(j - i, sizeof *groups[n].verdicts);
        n++;
        i = j;
    }
    free(all);
    *count = n;
    return groups;
}

static bool is_wanted(const struct forget_options *opts, const char *source)
{
    if (!opts->source_count)
        return true;
    for (size_t i = 0; i < opts->source_count; i++)
        if (!strcmp(opts->sources[i], source))
            return true;
    return false;
}

int ops_forget(struct repo *repo, const struct forget_options *opts, forget_report_fn report, void *ctx,
               struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct source_group *groups = NULL;
    size_t group_count = 0;
    int rc = -1;
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    if (snapshot_list_load(repo, &list, err) < 0)
        goto out;
    groups = group_by_source(&list, &group_count);
    for (size_t g = 0; g < group_count; g++) {
        struct source_group *grp = &groups[g];
        if (!is_wanted(opts, grp->source))
            continue;
        grp->policy = opts->policy_for(opts->ctx, grp->source);
        if (!grp->policy || retention_is_empty(grp->policy))
            continue;
        if (retention_apply(grp->policy, grp->snaps, grp->count, grp->verdicts, err) < 0) {
            error_wrap(err, "source %s", grp->source);
            goto out;
        }
        size_t kept = 0;
        for (size_t i = 0; i < grp->count; i++)
            kept += grp->verdicts[i].is_kept;
        if (kept == 0 && !opts->is_force) {
            error_setk(err, ERR_USAGE, "the policy would remove all %zu snapshots of source %s; add --force to do that",
                       grp->count, grp->source);
            goto out;
        }
    }
    /* Report every verdict, then delete the forgotten snapshots together. */
    char **doomed = xcalloc(list.count + 1, sizeof *doomed);
    size_t doomed_count = 0;
    for (size_t g = 0; g < group_count; g++) {
        struct source_group *grp = &groups[g];
        if (!grp->policy || retention_is_empty(grp->policy))
            continue;
        for (size_t i = 0; i < grp->count; i++) {
            report(ctx, grp->snaps[i], &grp->verdicts[i]);
            if (grp->verdicts[i].is_kept || opts->is_dry_run)
                continue;
            char *name = doomed[doomed_count++] = xcalloc(1, 96);
            repo_object_name(OBJ_SNAPSHOT, grp->snaps[i]->id, name);
        }
    }
    rc = store_delete_many(repo_store(repo), doomed, doomed_count, err);
    if (rc == 0 && !opts->is_dry_run) { /* what the next prune's snapshot count is measured against */
        struct error ignored;
        /* The ids too: check reports a removed snapshot that comes back. */
        json_t *ids = json_array();
        for (size_t i = 0; i < doomed_count; i++)
            json_array_append_new(ids, json_string(strrchr(doomed[i], '/') + 1));
        json_t *doc = json_pack("{s:I, s:I, s:o}", "snapshots", (json_int_t)(list.count - doomed_count), "removed",
                                (json_int_t)doomed_count, "removed_ids", ids);
        event_save(repo, "forget", doc, &ignored);
        json_decref(doc);
    }
    for (size_t i = 0; i < doomed_count; i++)
        free(doomed[i]);
    free(doomed);
out:
    for (size_t g = 0; g < group_count; g++) {
        free(groups[g].snaps);
        free(groups[g].verdicts);
    }
    free(groups);
    snapshot_list_free(&list);
    repo_unlock(lock);
    return rc;
}

/* A coffer.yaml retention mapping as a policy (strings borrowed from it). */
static int policy_from_config(const struct config_retention *r, struct retention_policy *p, struct error *err)
{
    memset(p, 0, sizeof *p);
    p->counts[KEEP_LAST] = r->last;
    p->counts[KEEP_HOURLY] = r->hourly;
    p->counts[KEEP_DAILY] = r->daily;
    p->counts[KEEP_WEEKLY] = r->weekly;
    p->counts[KEEP_MONTHLY] = r->monthly;
    p->counts[KEEP_YEARLY] = r->yearly;
    p->tags = (const char *const *)r->tags.items;
    p->tag_count = r->tags.count;
    p->timezone = r->timezone;
    return r->within ? retention_parse_duration(r->within, &p->within_seconds, err) : 0;
}

int ops_retention_plan_init(struct retention_plan *plan, const struct config *cfg,
                            const struct retention_policy *flags, struct error *err)
{
    memset(plan, 0, sizeof *plan);
    plan->cfg = cfg;
    if (flags) {
        plan->flags = *flags;
        plan->has_flags = true;
        return 0;
    }
    size_t n = cfg ? cfg->source_count : 0;
    plan->from_file = xcalloc(n + 1, sizeof *plan->from_file);
    bool has_any = cfg && cfg->retention.is_set;
    for (size_t i = 0; i < n; i++) {
        has_any |= cfg->sources[i].retention.is_set;
        if (policy_from_config(&cfg->sources[i].retention, &plan->from_file[i], err) < 0)
            goto fail;
    }
    if (cfg && policy_from_config(&cfg->retention, &plan->from_file[n], err) < 0)
        goto fail;
    if (!has_any) {
        error_setk(err, ERR_USAGE, "no policy: give --keep-* flags, or retention: in coffer.yaml");
        goto fail;
    }
    return 0;
fail:
    ops_retention_plan_free(plan);
    return -1;
}

const struct retention_policy *ops_retention_policy_for(void *ctx, const char *source)
{
    const struct retention_plan *plan = ctx;
    if (plan->has_flags)
        return &plan->flags;
    const struct config *cfg = plan->cfg;
    if (!cfg)
        return NULL;
    for (size_t i = 0; i < cfg->source_count; i++)
        if (!strcmp(cfg->sources[i].name, source) && cfg->sources[i].retention.is_set)
            return &plan->from_file[i];
    return cfg->retention.is_set ? &plan->from_file[cfg->source_count] : NULL;
}

void ops_retention_plan_free(struct retention_plan *plan)
{
    free(plan->from_file);
    plan->from_file = NULL;
}
