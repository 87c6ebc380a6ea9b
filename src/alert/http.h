/*
 * http.h — one HTTP POST for an alert (libcurl), short and bounded: an
 * alert is a few hundred bytes, and a receiver that does not answer must
 * not hold up the next backup for long.
 */
#ifndef COFFER_ALERT_HTTP_H
#define COFFER_ALERT_HTTP_H

#include <stddef.h>

#include "util/error.h"

#define ALERT_HTTP_TIMEOUT 10 /* seconds for the whole request; 5 to connect */

/* POSTs len bytes of body to url with content_type and the extra header
 * lines (NULL-terminated, may be NULL). 0 when the receiver answered 2xx,
 * else -1: err names `who` and says what happened — never the URL, which
 * may hold a token. */
int alert_http_post(const char *who, const char *url, const char *content_type, const char *const *headers,
                    const char *body, size_t len, struct error *err);

#endif
