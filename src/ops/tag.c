/*
 * tag.c — changing the tags of snapshots (`coffer tag`).
 *
 * A snapshot's tags decide what `forget --keep-tag` keeps, so tagging the
 * complete snapshot before a shrink is how a user holds on to it. A
 * snapshot's id is random, not a hash of its document (snapshot.c), so the
 * document is sealed again under the same id and replaces the old one in
 * one put: every reference to the id (events, copies' origins, the user's
 * notes) stays true, and a crash leaves the old tags or the new ones.
 * Runs under a shared lock, beside backups; forget and prune, which delete
 * snapshots, hold the exclusive one, so a tagged snapshot cannot be
 * written back after it was removed.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "repo/lock.h"

static void remove_tag(struct string_list *tags, const char *tag)
{
    size_t kept = 0;
    for (size_t i = 0; i < tags->count; i++) {
        if (!strcmp(tags->items[i], tag))
            free(tags->items[i]);
        else
            tags->items[kept++] = tags->items[i];
    }
    tags->count = kept;
}

/* Applies change to tags; whether they are different after. */
static bool change_tags(struct string_list *tags, const struct tag_change *change)
{
    struct string_list before = {0};
    for (size_t i = 0; i < tags->count; i++)
        string_list_add(&before, tags->items[i]);
    if (change->is_set) {
        string_list_free(tags);
        for (size_t i = 0; i < change->set.count; i++)
            if (!string_list_has(tags, change->set.items[i]))
                string_list_add(tags, change->set.items[i]);
    }
    for (size_t i = 0; i < change->add.count; i++)
        if (!string_list_has(tags, change->add.items[i]))
            string_list_add(tags, change->add.items[i]);
    for (size_t i = 0; i < change->remove.count; i++)
        remove_tag(tags, change->remove.items[i]);
    bool is_changed = before.count != tags->count;
    for (size_t i = 0; !is_changed && i < tags->count; i++)
        is_changed = strcmp(before.items[i], tags->items[i]) != 0;
    string_list_free(&before);
    return is_changed;
}

int ops_tag(struct repo *repo, const struct tag_request *req, tag_report_fn report, void *ctx, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    int rc = snapshot_list_load(repo, &list, err);
    /* Every name is found before anything is written: a typo changes nothing. */
    const struct snapshot **named = xcalloc(req->count + 1, sizeof *named);
    for (size_t i = 0; rc == 0 && i < req->count; i++)
        rc = snapshot_find(&list, req->specs[i], req->source, &named[i], err);
    for (size_t i = 0; rc == 0 && i < req->count; i++) {
        bool is_twice = false;
        for (size_t k = 0; k < i; k++)
            is_twice |= named[k] == named[i];
        if (is_twice)
            continue;
        struct snapshot *snap = (struct snapshot *)named[i]; /* found in list, which is ours */
        bool is_changed = change_tags(&snap->tags, &req->change);
        if (is_changed && (rc = snapshot_rewrite(repo, snap, err)) < 0)
            break;
        report(ctx, snap, is_changed);
    }
    free(named);
    snapshot_list_free(&list);
    repo_unlock(lock);
    return rc;
}
