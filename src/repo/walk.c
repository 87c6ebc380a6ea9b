/*
 * walk.c — reading trees by id, and walking every entry below a root.
 *
 * The walk keeps a stack of decoded trees on the heap, one per directory
 * level it is inside, so a deep tree neither recurses on the C stack nor
 * holds more than the path it is on.
 */
#include "repo/walk.h"

#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "util/buf.h"

int repo_read_tree(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE], struct tree *tree,
                   struct error *err)
{
    struct buf raw = BUF_INIT;
    int rc = repo_read_blob(repo, codec, id, &raw, err);
    if (rc == 0)
        rc = tree_decode(raw.data, raw.len, tree, err);
    buf_free(&raw);
    return rc;
}

struct walk_frame {
    struct tree tree;
    size_t next;     /* the next node of tree to visit */
    size_t path_len; /* the length of this directory's path */
};

int repo_walk_tree(struct repo *repo, struct blob_codec *codec, const uint8_t root[CRYPTO_ID_SIZE], tree_walk_fn fn,
                   void *ctx, struct error *err)
{
    size_t depth = 1, cap = 16;
    struct walk_frame *frames = xcalloc(cap, sizeof *frames);
    struct buf path = BUF_INIT;
    buf_append(&path, "", 1);
    int rc = repo_read_tree(repo, codec, root, &frames[0].tree, err);
    if (rc < 0)
        depth = 0;
    while (depth > 0) {
        struct walk_frame *top = &frames[depth - 1];
        if (top->next == top->tree.count) {
            tree_free(&top->tree);
            depth--;
            continue;
        }
        const struct node *n = &top->tree.nodes[top->next++];
        path.len = top->path_len + 1;
        path.data[top->path_len] = '/';
        buf_append(&path, n->name, strlen(n->name) + 1);
        if ((rc = fn(ctx, (const char *)path.data, n, err)) < 0)
            break;
        if (n->type != NODE_DIR || rc > 0) {
            rc = 0;
            continue;
        }
        if (depth == cap) {
            cap *= 2;
            frames = xrealloc(frames, cap * sizeof *frames);
        }
        struct walk_frame *f = &frames[depth];
        memset(f, 0, sizeof *f);
        f->path_len = path.len - 1;
        if ((rc = repo_read_tree(repo, codec, n->subtree, &f->tree, err)) < 0)
            break;
        depth++;
    }
    while (depth > 0)
        tree_free(&frames[--depth].tree);
    free(frames);
    buf_free(&path);
    return rc;
}
