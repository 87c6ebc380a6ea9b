/*
 * reach.c — walking the blobs of a snapshot (see reach.h).
 */
#include "ops/reach.h"

#include <string.h>

#include "repo/repo.h"
#include "repo/tree.h"

static int walk_tree(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                     struct index *visited, content_id_fn fn, void *ctx, struct error *err)
{
    if (!index_add_id(visited, id))
        return 0;
    if (fn(ctx, id, BLOB_TREE, err) < 0)
        return -1;
    struct buf raw = BUF_INIT;
    struct tree tree = {0};
    int rc = repo_read_blob(repo, codec, id, &raw, err);
    if (rc == 0)
        rc = tree_decode(raw.data, raw.len, &tree, err);
    for (size_t i = 0; i < tree.count && rc == 0; i++) {
        const struct node *n = &tree.nodes[i];
        if (n->type == NODE_DIR)
            rc = walk_tree(repo, codec, n->subtree, visited, fn, ctx, err);
        else if (n->type == NODE_FILE)
            rc = content_walk_ids(repo, codec, &n->content, fn, ctx, err);
    }
    tree_free(&tree);
    buf_free(&raw);
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
