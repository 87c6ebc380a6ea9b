/*
 * error.h — the one error convention used everywhere in coffer.
 *
 * A fallible function returns int: 0 on success, -1 on failure, and fills
 * the caller's struct error with one sentence for the user. Each layer may
 * put context in front as the error travels up (error_wrap), so the final
 * message reads "cannot open repository /x: cannot read keys/ab: ...".
 * Nothing below the command layer prints or exits. Secrets never go into
 * an error message.
 */
#ifndef COFFER_UTIL_ERROR_H
#define COFFER_UTIL_ERROR_H

#include <stddef.h>

#define ERROR_MSG_MAX 1024

/* Broad classes that the command layer maps to exit codes and hints. */
enum error_kind {
    ERR_GENERIC = 0,
    ERR_NOT_FOUND,   /* an object or file does not exist */
    ERR_AUTH,        /* authentication failed: wrong key or damaged data */
    ERR_LOCKED,      /* the repository is locked by someone else */
    ERR_USAGE,       /* bad arguments from the user */
    ERR_CLOSED,      /* the reader of our output went away (EPIPE) */
    ERR_EXISTS,      /* a create-only put found the object there already */
    ERR_CHANGED,     /* an object is no longer the version a read asked for */
    ERR_INTERRUPTED, /* SIGINT or SIGTERM asked the process to stop (util/interrupt.h) */
    ERR_NO_REPO,     /* no repository at the location: it does not exist, or holds no config */
    ERR_PASSPHRASE,  /* the passphrase opens none of the repository's keys */
};

struct error {
    enum error_kind kind;
    char msg[ERROR_MSG_MAX];
};

/* Sets the message; always returns -1 so callers can `return error_set(...)`. */
int error_set(struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like error_set, with a kind. */
int error_setk(struct error *err, enum error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets "<message>: <strerror(errnum)>", kind ERR_NOT_FOUND for ENOENT. */
int error_errno(struct error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "<context>: " in front of the current message; returns -1. */
int error_wrap(struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void error_clear(struct error *err);

#endif
