/*
 * reach.c — walking the blobs of a snapshot (see reach.h).
 *
 * The walk keeps its own stack of directories on the heap, one small frame
 * per level, rather than recursing: a crafted or merely deep tree (30,000
 * levels) must not overflow the C stack of check or prune. Trees are still
 * visited depth-first in name order, each reported before what lies below
 * it, as a recursive walk would.
 */
#include "ops/reach.h"

#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/repo.h"
#include "repo/tree.h"
#include "repo/walk.h"

struct reach_frame {
    struct tree tree;
    size_t next; /* the next node of tree to look at */
};

/* Reports tree id and, unless visited already, reads it into a new frame
 * on top of *frames; *depth grows by one only then. */
static int enter_tree(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                      struct index *visited, content_id_fn fn, void *ctx, struct reach_frame **frames,
                      size_t *depth, size_t *cap, struct error *err)
{
    if (!index_add_id(visited, id))
        return 0;
    if (fn(ctx, id, BLOB_TREE, err) < 0)
        return -1;
    if (*depth == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *frames = xrealloc(*frames, *cap * sizeof **frames);
    }
    struct reach_frame *f = &(*frames)[*depth];
    memset(f, 0, sizeof *f);
    if (repo_read_tree(repo, codec, id, &f->tree, err) < 0)
        return -1;
    (*depth)++;
    return 0;
}

static int walk_tree(struct repo *repo, struct blob_codec *codec, const uint8_t root[CRYPTO_ID_SIZE],
                     struct index *visited, content_id_fn fn, void *ctx, struct error *err)
{
    struct reach_frame *frames = NULL;
    size_t depth = 0, cap = 0;
    int rc = enter_tree(repo, codec, root, visited, fn, ctx, &frames, &depth, &cap, err);
    while (rc == 0 && depth > 0) {
        struct reach_frame *top = &frames[depth - 1];
        if (top->next == top->tree.count) {
            tree_free(&top->tree);
            depth--;
            continue;
        }
        const struct node *n = &top->tree.nodes[top->next++];
        if (n->type == NODE_DIR)
            rc = enter_tree(repo, codec, n->subtree, visited, fn, ctx, &frames, &depth, &cap, err);
        else if (n->type == NODE_FILE)
            rc = content_walk_ids(repo, codec, &n->content, fn, ctx, err);
    }
    while (depth > 0)
        tree_free(&frames[--depth].tree);
    free(frames);
    return rc;
}

int reach_snapshot(struct repo *repo, struct blob_codec *codec, const struct snapshot *snap, struct index *visited,
                   content_id_fn fn, void *ctx, struct error *err)
{
    for (size_t d = 0; d < snap->dictionary_count; d++)
        if (fn(ctx, snap->dictionaries[d], BLOB_DICT, err) < 0)
            return -1;
    return walk_tree(repo, codec, snap->root, visited, fn, ctx, err);
}

bool reach_is_always_needed(const struct index_entry *e)
{
    return e->type == BLOB_DICT;
}
