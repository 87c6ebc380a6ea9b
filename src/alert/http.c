/*
 * http.c — an alert's POST (http.h).
 */
#include "alert/http.h"

#include <curl/curl.h>
#include <string.h>

/* The answer is not needed; reading it keeps libcurl from printing it. */
static size_t ignore_body(char *data, size_t size, size_t count, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * count;
}

int alert_http_post(const char *who, const char *url, const char *content_type, const char *const *headers,
                    const char *body, size_t len, struct error *err)
{
    static int is_initialized;
    if (!is_initialized) { /* the daemon is one thread when alerts go out */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        is_initialized = 1;
    }
    CURL *h = curl_easy_init();
    if (!h)
        return error_set(err, "%s: cannot start an HTTP client", who);
    struct curl_slist *list = NULL;
    char type[128];
    snprintf(type, sizeof type, "Content-Type: %s", content_type);
    list = curl_slist_append(list, type);
    list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)ALERT_HTTP_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ignore_body);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "coffer/" COFFER_VERSION);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return error_set(err, "%s: %s", who, curl_easy_strerror(rc));
    if (status < 200 || status > 299)
        return error_set(err, "%s: the receiver answered HTTP %ld", who, status);
    return 0;
}
