/*
 * interrupt.h — Ctrl-C and SIGTERM as a request to stop cleanly.
 *
 * A command that writes or reads a repository for long (backup, restore,
 * check, prune, copy, repair) installs the handler. The first SIGINT or
 * SIGTERM only sets a flag: the loops that move data poll it (the blob
 * writer for each blob, blob reads, each directory of a backup) and fail
 * with ERR_INTERRUPTED, so each operation unwinds through its ordinary
 * failure path: what it stored is indexed or left for prune, its lock is
 * removed, no snapshot is written. A second signal exits at once, which is
 * as safe as a kill -9 (tests/integration/killnine.sh): the repository is
 * crash-safe by design, only the lock stays until judged stale.
 *
 * The handler is installed without SA_RESTART, so a blocking read or wait
 * returns EINTR and its loop comes to a poll soon. The state is one flag of
 * the process, as signals are.
 */
#ifndef COFFER_UTIL_INTERRUPT_H
#define COFFER_UTIL_INTERRUPT_H

#include <signal.h>

#include "util/error.h"

/* Installs the SIGINT and SIGTERM handlers. */
void interrupt_install(void);

/* The signal received (SIGINT, SIGTERM), or 0. */
int interrupt_signal(void);

/* The flag itself, for code that takes a stop flag (ops/drill.h). */
volatile sig_atomic_t *interrupt_flag(void);

/* 0, or -1 with ERR_INTERRUPTED ("interrupted by SIGINT") once a signal came. */
int interrupt_check(struct error *err);

/* The exit code for an interruption: 128 + the signal (130, 143). */
int interrupt_exit_code(void);

#endif
