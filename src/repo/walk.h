/*
 * walk.h — reading a snapshot's directories: one tree blob by id, or
 * every entry below a root, depth-first in name order, with its path.
 *
 * restore's dump and ls, find and diff all read trees the same way; this
 * is that one way. Every tree read is authenticated (repo_read_blob), so
 * a damaged tree is an error naming its pack, never a wrong listing.
 */
#ifndef COFFER_REPO_WALK_H
#define COFFER_REPO_WALK_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "repo/tree.h"
#include "util/error.h"

struct repo;
struct blob_codec;

/* Reads and decodes the tree blob id into *tree (free with tree_free). */
int repo_read_tree(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE], struct tree *tree,
                   struct error *err);

/* Calls fn for each entry below root with its path ("/srv/a.txt"), each
 * directory before its entries; fn returning -1 (err set) stops the walk
 * and is returned, 1 for a directory skips what is in it. Memory: one decoded tree per level of the deepest path
 * being listed. */
typedef int (*tree_walk_fn)(void *ctx, const char *path, const struct node *node, struct error *err);
int repo_walk_tree(struct repo *repo, struct blob_codec *codec, const uint8_t root[CRYPTO_ID_SIZE], tree_walk_fn fn,
                   void *ctx, struct error *err);

#endif
