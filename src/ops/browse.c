/*
 * browse.c — looking into snapshots without restoring them: ls (every
 * entry of one), find (entries matching a pattern across many) and diff
 * (what changed between two).
 *
 * All three read trees only, never file contents, under a shared lock so
 * that a prune cannot delete a pack halfway through a listing. They lean
 * on deduplication: snapshots of one source share most of their trees,
 * so diff skips every directory whose tree id is the same on both sides,
 * and find does not read again a directory (the same tree at the same
 * path) in which an earlier snapshot had no match.
 */
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/walk.h"
#include "source/exclude.h"

/* ---- ls and find -------------------------------------------------------- */

/* A directory the walk is inside, and whether anything below it matched. */
struct open_dir {
    uint8_t key[CRYPTO_ID_SIZE]; /* hash of its tree id and path */
    char *path;
    size_t path_len;
    bool has_match;
};

struct finder {
    struct exclude *match; /* NULL: every entry */
    entry_fn fn;
    void *ctx;
    const struct snapshot *snap;
    struct id_hasher *hasher;
    struct index *barren; /* keys of directories below which nothing matched */
    struct open_dir *dirs;
    size_t depth, cap;
};

static bool is_below(const char *path, const struct open_dir *dir)
{
    return !strncmp(path, dir->path, dir->path_len) && path[dir->path_len] == '/';
}

/* Closes the open directories path is not below (all, for NULL): those
 * the walk has left. One with no match is remembered as barren. */
static void leave_dirs(struct finder *f, const char *path)
{
    while (f->depth > 0 && !(path && is_below(path, &f->dirs[f->depth - 1]))) {
        struct open_dir *d = &f->dirs[--f->depth];
        if (!d->has_match)
            index_add_id(f->barren, d->key);
        free(d->path);
    }
}

static void dir_key(const struct finder *f, const char *path, const uint8_t tree[CRYPTO_ID_SIZE],
                    uint8_t key[CRYPTO_ID_SIZE])
{
    struct buf both = BUF_INIT;
    buf_append(&both, tree, CRYPTO_ID_SIZE);
    buf_append(&both, path, strlen(path));
    id_hash(f->hasher, both.data, both.len, key);
    buf_free(&both);
}

static int find_entry(void *arg, const char *path, const struct node *n, struct error *err)
{
    (void)err;
    struct finder *f = arg;
    bool is_dir = n->type == NODE_DIR;
    leave_dirs(f, path);
    if (!f->match || exclude_matches(f->match, path, is_dir)) {
        f->fn(f->ctx, f->snap, path, n);
        for (size_t i = 0; i < f->depth; i++)
            f->dirs[i].has_match = true;
    }
    if (!is_dir || !f->match)
        return 0;
    uint8_t key[CRYPTO_ID_SIZE];
    dir_key(f, path, n->subtree, key);
    if (index_find(f->barren, key, NULL))
        return 1; /* nothing below matched last time */
    if (f->depth == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->dirs = xrealloc(f->dirs, f->cap * sizeof *f->dirs);
    }
    struct open_dir *d = &f->dirs[f->depth++];
    memcpy(d->key, key, CRYPTO_ID_SIZE);
    d->path = xstrdup(path);
    d->path_len = strlen(path);
    d->has_match = false;
    return 0;
}

int ops_find(struct repo *repo, const struct snapshot *const *snaps, size_t count, const char *pattern, entry_fn fn,
             void *ctx, struct error *err)
{
    struct finder f = {.fn = fn, .ctx = ctx};
    if (pattern) {
        const char *problem = exclude_check(pattern);
        if (problem)
            return error_setk(err, ERR_USAGE, "the pattern \"%s\": %s", pattern, problem);
        if (!(f.match = exclude_new(&pattern, 1, err)))
            return -1;
    }
    struct repo_lock *lock = NULL;
    int rc = repo_lock(repo, false, &lock, err);
    if (rc == 0)
        rc = repo_load_index(repo, err);
    struct blob_codec *codec = repo_blob_codec_new(repo);
    uint8_t hash_key[CRYPTO_KEY_SIZE];
    crypto_random(hash_key, sizeof hash_key);
    f.hasher = id_hasher_new(hash_key);
    f.barren = index_new();
    for (size_t i = 0; i < count && rc == 0; i++) {
        f.snap = snaps[i];
        rc = repo_walk_tree(repo, codec, snaps[i]->root, find_entry, &f, err);
        leave_dirs(&f, NULL);
    }
    leave_dirs(&f, NULL);
    free(f.dirs);
    index_free(f.barren);
    id_hasher_free(f.hasher);
    blob_codec_free(codec);
    exclude_free(f.match);
    repo_unlock(lock);
    return rc;
}

int ops_ls(struct repo *repo, const struct snapshot *snap, entry_fn fn, void *ctx, struct error *err)
{
    return ops_find(repo, &snap, 1, NULL, fn, ctx, err);
}

/* ---- diff --------------------------------------------------------------- */

/* A pair of directories compared: either may be empty (a directory added
 * or removed, or one side of a type change). */
struct diff_frame {
    struct tree before, after;
    size_t i, j;     /* the next node of each */
    size_t path_len; /* the length of this directory's path */
};

struct differ {
    struct repo *repo;
    struct blob_codec *codec;
    diff_fn fn;
    void *ctx;
    struct diff_frame *frames;
    size_t depth, cap;
    struct buf path;
};

static bool is_same_content(const struct node *a, const struct node *b)
{
    if (a->size != b->size)
        return false;
    switch (a->type) {
    case NODE_FILE:
        return a->content.depth == b->content.depth && a->content.count == b->content.count &&
               (a->content.count == 0 ||
                !memcmp(a->content.ids, b->content.ids, (size_t)a->content.count * CRYPTO_ID_SIZE));
    case NODE_DIR:
        return !memcmp(a->subtree, b->subtree, CRYPTO_ID_SIZE);
    case NODE_SYMLINK:
        return !strcmp(a->target ? a->target : "", b->target ? b->target : "");
    case NODE_CHARDEV:
    case NODE_BLOCKDEV:
        return a->rdev == b->rdev;
    default:
        return true;
    }
}

static bool is_same_metadata(const struct node *a, const struct node *b)
{
    return a->mode == b->mode && a->uid == b->uid && a->gid == b->gid && a->mtime_ns == b->mtime_ns;
}

/* Opens the directories below path on each side (NULL: none there). */
static int push_dirs(struct differ *d, const struct node *before, const struct node *after, struct error *err)
{
    if (d->depth == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->frames = xrealloc(d->frames, d->cap * sizeof *d->frames);
    }
    struct diff_frame *f = &d->frames[d->depth];
    memset(f, 0, sizeof *f);
    f->path_len = d->path.len - 1;
    if (before && repo_read_tree(d->repo, d->codec, before->subtree, &f->before, err) < 0)
        return -1;
    if (after && repo_read_tree(d->repo, d->codec, after->subtree, &f->after, err) < 0) {
        tree_free(&f->before);
        return -1;
    }
    d->depth++;
    return 0;
}

/* Reports one name present on either side or both, and opens what below
 * it differs. */
static int compare_entry(struct differ *d, const struct node *before, const struct node *after, struct error *err)
{
    const char *path = (const char *)d->path.data;
    const struct node *old_dir = before && before->type == NODE_DIR ? before : NULL;
    const struct node *new_dir = after && after->type == NODE_DIR ? after : NULL;
    if (!before) {
        d->fn(d->ctx, DIFF_ADDED, path, NULL, after);
    } else if (!after) {
        d->fn(d->ctx, DIFF_REMOVED, path, before, NULL);
    } else if (before->type != after->type) {
        d->fn(d->ctx, DIFF_TYPE, path, before, after);
    } else if (!is_same_content(before, after)) {
        if (!new_dir) /* a directory's own change is what changed in it */
            d->fn(d->ctx, DIFF_CONTENT, path, before, after);
    } else {
        if (!is_same_metadata(before, after))
            d->fn(d->ctx, DIFF_METADATA, path, before, after);
        return 0; /* the same tree below */
    }
    return old_dir || new_dir ? push_dirs(d, old_dir, new_dir, err) : 0;
}

static void set_path(struct differ *d, size_t dir_len, const char *name)
{
    d->path.len = dir_len + 1;
    d->path.data[dir_len] = '/';
    buf_append(&d->path, name, strlen(name) + 1);
}

int ops_diff(struct repo *repo, const struct snapshot *before, const struct snapshot *after, diff_fn fn, void *ctx,
             struct error *err)
{
    struct differ d = {.repo = repo, .fn = fn, .ctx = ctx, .path = BUF_INIT};
    struct repo_lock *lock = NULL;
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    int rc = repo_load_index(repo, err);
    d.codec = repo_blob_codec_new(repo);
    buf_append(&d.path, "", 1);
    if (rc == 0 && memcmp(before->root, after->root, CRYPTO_ID_SIZE)) {
        struct node root_before = {.type = NODE_DIR}, root_after = {.type = NODE_DIR};
        memcpy(root_before.subtree, before->root, CRYPTO_ID_SIZE);
        memcpy(root_after.subtree, after->root, CRYPTO_ID_SIZE);
        rc = push_dirs(&d, &root_before, &root_after, err);
    }
    while (rc == 0 && d.depth > 0) {
        struct diff_frame *f = &d.frames[d.depth - 1];
        const struct node *a = f->i < f->before.count ? &f->before.nodes[f->i] : NULL;
        const struct node *b = f->j < f->after.count ? &f->after.nodes[f->j] : NULL;
        if (!a && !b) {
            tree_free(&f->before);
            tree_free(&f->after);
            d.depth--;
            continue;
        }
        int order = !a ? 1 : !b ? -1 : strcmp(a->name, b->name);
        if (order < 0)
            b = NULL, f->i++;
        else if (order > 0)
            a = NULL, f->j++;
        else
            f->i++, f->j++;
        set_path(&d, f->path_len, a ? a->name : b->name);
        rc = compare_entry(&d, a, b, err);
    }
    while (d.depth > 0) {
        tree_free(&d.frames[--d.depth].before);
        tree_free(&d.frames[d.depth].after);
    }
    free(d.frames);
    buf_free(&d.path);
    blob_codec_free(d.codec);
    repo_unlock(lock);
    return rc;
}
