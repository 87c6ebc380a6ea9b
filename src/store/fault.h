/*
 * fault.h — a store that wraps another and fails on purpose (fault.c).
 *
 * For tests: an operation run on it can be made to meet, at its Nth call
 * of a kind, the failures real stores produce — an I/O error, a full
 * disk, a short read, a slow answer — so that a test can prove the
 * repository survives each one. Counters per kind of call let a test
 * learn how many calls an operation makes, then sweep N over all of them.
 */
#ifndef COFFER_STORE_FAULT_H
#define COFFER_STORE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* What is counted: put and put_new are puts; a delete_many counts each
 * name it deletes. */
enum store_call {
    STORE_CALL_PUT,
    STORE_CALL_GET,
    STORE_CALL_LIST,
    STORE_CALL_DELETE,
    STORE_CALL_SIZE,
    STORE_CALL_KINDS
};

/* "put", "get", "list", "delete", "size". */
const char *store_call_name(enum store_call kind);

/* A store that forwards every call to inner, which stays the caller's (free
 * it after this one). Its location is "fault:" and inner's. */
struct store *store_open_fault(struct store *inner);

/* Makes the nth call of kind (1: the first since the store was opened or
 * reset) fail without reaching the inner store, with errnum (EIO,
 * ENOSPC, ...) in its message; with is_sticky, every later call of that
 * kind too. One plan per kind: a new one replaces the old. */
void fault_store_fail(struct store *s, enum store_call kind, uint64_t nth, int errnum, bool is_sticky);

/* Makes the nth get succeed with its last `dropped` bytes left off (all
 * of them if fewer came), as a store that lost the end of an object
 * would answer. */
void fault_store_short_read(struct store *s, uint64_t nth, uint64_t dropped);

/* Makes every call of kind wait this long before it goes on (0: none). */
void fault_store_delay(struct store *s, enum store_call kind, unsigned microseconds);

/* Calls of kind made since open or reset, failed ones included. */
uint64_t fault_store_calls(struct store *s, enum store_call kind);
/* Faults injected since open or reset (failures and short reads). */
uint64_t fault_store_injected(struct store *s);

/* Forgets every plan, delay and count. */
void fault_store_reset(struct store *s);

#endif
