/*
 * error.c — building error messages (see error.h for the convention).
 */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void error_vset(struct error *err, const char *fmt, va_list ap)
{
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int error_set(struct error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->kind = ERR_GENERIC;
    error_vset(err, fmt, ap);
    va_end(ap);
    return -1;
}

int error_setk(struct error *err, enum error_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->kind = kind;
    error_vset(err, fmt, ap);
    va_end(ap);
    return -1;
}

int error_errno(struct error *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, fmt, ap);
    va_end(ap);
    size_t used = strlen(err->msg);
    snprintf(err->msg + used, sizeof err->msg - used, ": %s", strerror(errnum));
    err->kind = errnum == ENOENT ? ERR_NOT_FOUND : errnum == EPIPE ? ERR_CLOSED : ERR_GENERIC;
    return -1;
}

int error_wrap(struct error *err, const char *fmt, ...)
{
    char context[ERROR_MSG_MAX];
    char old[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", context, old);
    return -1;
}

void error_clear(struct error *err)
{
    err->kind = ERR_GENERIC;
    err->msg[0] = '\0';
}
