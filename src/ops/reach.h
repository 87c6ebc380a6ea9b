/*
 * reach.h — every blob a snapshot needs (for stats and prune).
 *
 * A snapshot needs its trees, the content lists and data blobs of its
 * files, and the dictionaries its blobs were compressed with. Any tree that
 * cannot be read fails the walk: prune must never guess what is in use.
 */
#ifndef COFFER_OPS_REACH_H
#define COFFER_OPS_REACH_H

#include "pipeline/content.h"
#include "repo/index.h"
#include "repo/snapshot.h"

/* Calls fn for the id of every blob snap needs. Trees found in visited (an
 * index used as a set) are skipped with everything below them; every tree
 * walked is added to it, so sharing visited between snapshots walks a
 * common tree once. */
int reach_snapshot(struct repo *repo, struct blob_codec *codec, const struct snapshot *snap, struct index *visited,
                   content_id_fn fn, void *ctx, struct error *err);

#endif
