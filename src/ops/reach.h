/*
 * reach.h — every blob a snapshot needs (for stats and prune).
 *
 * A snapshot needs its trees, the content lists and data blobs of its
 * files, and the dictionaries its blobs were compressed with. Any tree that
 * cannot be read fails the walk: prune must never guess what is in use.
 */
#ifndef COFFER_OPS_REACH_H
#define COFFER_OPS_REACH_H

#include <stdbool.h>

#include "pipeline/content.h"
#include "repo/index.h"
#include "repo/snapshot.h"

/* Calls fn for the id of every blob snap needs. Trees found in visited (an
 * index used as a set) are skipped with everything below them; every tree
 * walked is added to it, so sharing visited between snapshots walks a
 * common tree once. */
int reach_snapshot(struct repo *repo, struct blob_codec *codec, const struct snapshot *snap, struct index *visited,
                   content_id_fn fn, void *ctx, struct error *err);

/* Blobs needed whatever the snapshots say: dictionaries. A blob names the
 * dictionary it was compressed with, but a snapshot that reuses an older
 * blob does not list that blob's dictionary, and finding out would mean
 * reading every blob. Dictionaries are small (~50 KiB per 64 MiB of dump),
 * so prune keeps them all and stats never counts one as unreferenced. */
bool reach_is_always_needed(const struct index_entry *e);

#endif
