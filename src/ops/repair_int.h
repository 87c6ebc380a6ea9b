/*
 * repair_int.h — what repair.c and repair_snapshots.c share: one way to
 * hand a line of what a repair found or did to the caller's report.
 */
#ifndef COFFER_OPS_REPAIR_INT_H
#define COFFER_OPS_REPAIR_INT_H

#include "ops/ops.h"

/* Formats a line and passes it to opts->report (if any). */
void repair_say(const struct repair_options *opts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
