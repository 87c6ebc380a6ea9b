/*
 * forget.c — removing snapshots a retention policy does not keep.
 *
 * Only snapshot objects are deleted; the data they alone referenced stays
 * until a prune. Each source's snapshots are judged on their own, with the
 * policy policy_for gives for that source, or by the ids named. Each
 * snapshot is also judged by the source's health rules (health.h): one
 * that fails them never fills a retention slot by itself, and the newest
 * healthy snapshot of a source, the last good copy after a shrink, is kept
 * whatever the policy unless forced. Every source is judged before
 * anything is deleted, so a refusal (a policy that would remove all of a
 * source's snapshots, an unknown time zone or id) changes nothing. Runs
 * under the exclusive lock: no backup or prune sees a half-forgotten
 * repository.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "ops/health.h"
#include "repo/event.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "store/store.h"

struct source_group {
    const char *source;
    const struct snapshot **snaps;
    struct retention_verdict *verdicts;
    bool *unhealthy;
    char **why; /* of each unhealthy one */
    size_t count;
    bool is_judged;
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
        groups[n].unhealthy = xcalloc(j - i, sizeof *groups[n].unhealthy);
        groups[n].why = xcalloc(j - i, sizeof *groups[n].why);
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

/* The snapshots opts->ids name (each "latest" or a unique id prefix, of
 * opts->sources when given), or NULL when one names none. */
static const struct snapshot **find_named(const struct forget_options *opts, const struct snapshot_list *list,
                                          struct error *err)
{
    const struct snapshot **named = xcalloc(opts->id_count + 1, sizeof *named);
    for (size_t k = 0; k < opts->id_count; k++) {
        const char *source = opts->source_count == 1 ? opts->sources[0] : NULL;
        int rc = snapshot_find(list, opts->ids[k], source, &named[k], err);
        if (rc == 0 && !is_wanted(opts, named[k]->source))
            rc = error_setk(err, ERR_USAGE, "snapshot %s is of source %s, which no --source names", opts->ids[k],
                            named[k]->source);
        if (rc < 0) {
            free(named);
            return NULL;
        }
    }
    return named;
}

/* Removes the group's snapshots that are named, keeps the rest. */
static void judge_by_name(const struct snapshot **named, size_t named_count, struct source_group *grp)
{
    for (size_t i = 0; i < grp->count; i++) {
        bool is_named = false;
        for (size_t k = 0; k < named_count; k++)
            is_named |= grp->snaps[i] == named[k];
        grp->verdicts[i].is_kept = !is_named;
        grp->is_judged |= is_named;
    }
}

/* Keeps the newest healthy snapshot of the group, whatever removed it:
 * after a shrink it is the last complete copy. A named id that is it is
 * refused instead, so that the user knows. */
static int keep_newest_healthy(const struct forget_options *opts, struct source_group *grp, struct error *err)
{
    const struct snapshot *newest = NULL;
    size_t at = 0;
    for (size_t i = 0; i < grp->count; i++) {
        const struct snapshot *s = grp->snaps[i];
        if (!grp->unhealthy[i] && (!newest || s->time > newest->time ||
                                   (s->time == newest->time && s->time_ns > newest->time_ns))) {
            newest = s;
            at = i;
        }
    }
    if (!newest || grp->verdicts[at].is_kept)
        return 0;
    if (opts->id_count) {
        char hex[65];
        snapshot_id_hex(newest, hex);
        return error_setk(err, ERR_USAGE, "snapshot %.8s is the newest healthy snapshot of source %s (those after it "
                                          "fail its health rules): add --force to remove it", hex, grp->source);
    }
    grp->verdicts[at].is_kept = true;
    grp->verdicts[at].reasons |= 1u << KEEP_NEWEST_HEALTHY;
    return 0;
}

/* Judges one source's snapshots: by the snapshots named (NULL: none are),
 * or by its policy; grp->is_judged stays false when neither applies. */
static int judge_group(const struct forget_options *opts, const struct snapshot **named, struct source_group *grp,
                       struct error *err)
{
    const struct config_source *src = opts->cfg ? config_find_source(opts->cfg, grp->source) : NULL;
    struct config_health rules = config_health_for(opts->cfg, src);
    health_judge_each(&rules, grp->snaps, grp->count, grp->unhealthy, grp->why);
    if (named) {
        judge_by_name(named, opts->id_count, grp);
    } else {
        const struct retention_policy *policy = opts->policy_for(opts->ctx, grp->source);
        if (!policy || retention_is_empty(policy))
            return 0;
        grp->is_judged = true;
        if (retention_apply(policy, grp->snaps, grp->unhealthy, grp->count, grp->verdicts, err) < 0)
            return error_wrap(err, "source %s", grp->source);
    }
    if (!grp->is_judged || opts->is_force)
        return 0;
    size_t kept = 0;
    for (size_t i = 0; i < grp->count; i++)
        kept += grp->verdicts[i].is_kept;
    if (kept == 0)
        return error_setk(err, ERR_USAGE, "the %s would remove all %zu snapshots of source %s; add --force to do "
                                          "that", named ? "snapshots named" : "policy", grp->count, grp->source);
    return keep_newest_healthy(opts, grp, err);
}

int ops_forget(struct repo *repo, const struct forget_options *opts, forget_report_fn report, void *ctx,
               struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct source_group *groups = NULL;
    const struct snapshot **named = NULL;
    size_t group_count = 0;
    int rc = -1;
    if (repo_lock(repo, true, &lock, err) < 0)
        return -1;
    if (snapshot_list_load(repo, &list, err) < 0)
        goto out;
    if (opts->id_count && !(named = find_named(opts, &list, err)))
        goto out;
    groups = group_by_source(&list, &group_count);
    for (size_t g = 0; g < group_count; g++)
        if (is_wanted(opts, groups[g].source) && judge_group(opts, named, &groups[g], err) < 0)
            goto out;
    /* Report every verdict, then delete the forgotten snapshots together. */
    char **doomed = xcalloc(list.count + 1, sizeof *doomed);
    size_t doomed_count = 0;
    for (size_t g = 0; g < group_count; g++) {
        struct source_group *grp = &groups[g];
        if (!grp->is_judged)
            continue;
        for (size_t i = 0; i < grp->count; i++) {
            report(ctx, grp->snaps[i], &grp->verdicts[i], grp->why[i]);
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
        for (size_t i = 0; i < groups[g].count; i++)
            free(groups[g].why[i]);
        free(groups[g].why);
        free(groups[g].unhealthy);
        free(groups[g].snaps);
        free(groups[g].verdicts);
    }
    free(groups);
    free(named);
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
