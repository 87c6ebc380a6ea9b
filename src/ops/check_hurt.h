/*
 * check_hurt.h — naming, in each problem a check found about a blob or a
 * pack, the snapshots it keeps from being fully restored (ops_check's
 * last step; check_problem.snapshots).
 */
#ifndef COFFER_OPS_CHECK_HURT_H
#define COFFER_OPS_CHECK_HURT_H

#include <stdbool.h>
#include <stddef.h>

#include "ops/ops.h"
#include "repo/index.h"

struct blob_codec;

/* For every snapshot snaps[i] with is_hurt[i], adds its id to the
 * snapshots of each problem in result about a bad blob (bad, used as a
 * set) it needs, or about the pack that blob is read from. walked holds
 * the trees the check's trace pass walked, type 1 for those needing a bad
 * blob; the others are not read again. Dictionary problems (which name
 * the snapshots that list them) and damaged copies that another copy
 * serves are left as they are. Memory: the hurt trees of one snapshot. */
void check_name_hurt(struct repo *repo, struct blob_codec *codec, const struct index *bad, const struct index *walked,
                     struct check_result *result, const struct snapshot *const *snaps, size_t count,
                     const bool *is_hurt);

#endif
