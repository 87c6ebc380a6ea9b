/*
 * repair_int.h — what repair.c and repair_snapshots.c share: one way to
 * hand a line of what a repair found or did to the caller's report, and
 * one way to load the index with what the store has decided afresh.
 */
#ifndef COFFER_OPS_REPAIR_INT_H
#define COFFER_OPS_REPAIR_INT_H

#include "ops/ops.h"
#include "repo/damage.h"

/* Formats a line and passes it to opts->report (if any). */
void repair_say(const struct repair_options *opts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads the damage records (into *damage, freed by the caller) and the
 * index, on a repository whose index is not loaded yet: damaged copies are
 * marked, but a pack is marked missing only when the store's listing
 * leaves it out and store_size says it does not exist — never because an
 * old check recorded it missing. A pack the listing leaves out whose size
 * cannot be read either is taken as there, said, and counted in
 * *undecided. Fails only when the damage records or the folders cannot be
 * listed. */
int repair_load_index(struct repo *repo, const struct repair_options *opts, struct damage_list *damage,
                      size_t *undecided, struct error *err);

#endif
