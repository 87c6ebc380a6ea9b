/*
 * s3.c — the S3 store driver: a repository under s3://BUCKET/PREFIX on AWS
 * S3 or any S3-compatible server (MinIO, Ceph RGW, Garage, ...).
 *
 * Each object is one S3 object, PREFIX/<name>. Requests are signed with
 * Signature Version 4 (s3sign.h) and sent with libcurl; TLS is verified
 * (no fallback to plain HTTP: an http:// endpoint is only what the user
 * wrote). A put sends the body's SHA-256, signed (x-amz-content-sha256)
 * and as a checksum S3 keeps with the object (x-amz-checksum-sha256), so
 * the server refuses a body damaged on the way; one digest serves both
 * (MD5 as well would cost 1.4 s of CPU per GiB stored). Lists follow
 * continuation tokens, 1,000 keys a page; each page is parsed strictly
 * (s3xml.h), because a key a listing leaves out is one prune deletes: an
 * answer that is not a whole ListBucketResult fails the listing. Packs
 * (data/) and everything else (metadata) may go to different storage
 * classes.
 *
 * Failures that waiting can cure — connection errors and timeouts, 5xx,
 * SlowDown — are retried with exponential backoff and jitter, for at most
 * retry_seconds in all; a 4xx fails at once with the server's code and
 * message. Calls come from several threads: each takes a curl handle from
 * a small pool, so connections are reused.
 *
 * Create-only puts (locks) use conditional writes, If-None-Match: *, when
 * the server honours them: the first write to a store opened with
 * is_create tries one and records the answer in the object
 * "conditional-writes" under the prefix; without them a create-only put
 * is a HEAD and then a put.
 *
 * Settings come from s3_settings (see s3.h) and nowhere else: the driver
 * reads no environment (the command layer does, s3_settings_from_env).
 * Credentials are the settings' key pair or a shared credentials file,
 * never coffer.yaml's text.
 */
#include "store/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "store/s3sign.h"
#include "store/s3xml.h"
#include "store/store_int.h"
#include "util/debug.h"
#include "util/secret.h"
#include "util/text.h"

#define S3_POOL_MIN 16 /* curl handles kept for reuse, at least */
#define FEATURES_OBJECT "conditional-writes"

struct s3_store {
    char *bucket;
    char *prefix;       /* "" or "dir/sub/" */
    char *endpoint;     /* "https://host[:port]" without a trailing slash */
    char *host;         /* what the Host header says */
    char *region;
    bool is_path_style;
    char *access_key;
    char *secret_key;
    char *session_token; /* or NULL */
    char *ca_file;       /* or NULL */
    unsigned retry_seconds;
    unsigned connections;
    char *data_class;     /* or NULL */
    char *metadata_class; /* or NULL */
    bool has_conditional_writes;
    bool is_probe_due; /* created, conditional writes not tried yet */
    pthread_mutex_t probe_mutex; /* held while they are */
    pthread_mutex_t mutex;
    CURL **idle;
    size_t idle_count, idle_max;
};

/* ---- settings ------------------------------------------------------------ */

const char *s3_check_storage_class(const char *name)
{
    static const char *const readable[] = {"STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                                           "GLACIER_IR", "REDUCED_REDUNDANCY", "EXPRESS_ONEZONE", NULL};
    if (!strcmp(name, "GLACIER") || !strcmp(name, "DEEP_ARCHIVE"))
        return "objects in GLACIER and DEEP_ARCHIVE cannot be read without a restore request first, so "
               "checks, drills and restores would fail; use GLACIER_IR (instant retrieval) or STANDARD_IA";
    for (size_t i = 0; readable[i]; i++)
        if (!strcmp(name, readable[i]))
            return NULL;
    return "not an S3 storage class (STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, "
           "REDUCED_REDUNDANCY, EXPRESS_ONEZONE)";
}

/* ---- the shared credentials file ---------------------------------------- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        s[--len] = '\0';
    return s;
}

int s3_read_credentials(const char *path, const char *profile, char **access_key, char **secret_key,
                        char **session_token, struct error *err)
{
    *access_key = *secret_key = *session_token = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return error_errno(err, errno, "cannot read S3 credentials file %s", path);
    bool is_ours = false, has_profile = false;
    char *text = NULL;
    size_t cap = 0;
    while (getline(&text, &cap, f) >= 0) {
        char *line = trim(text);
        if (*line == '[') {
            char *end = strchr(line, ']');
            if (end)
                *end = '\0';
            is_ours = !strcmp(trim(line + 1), profile);
            has_profile |= is_ours;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!is_ours || !eq || *line == '#' || *line == ';')
            continue;
        *eq = '\0';
        const char *name = trim(line);
        char *value = trim(eq + 1);
        char **slot = !strcasecmp(name, "aws_access_key_id") ? access_key
                    : !strcasecmp(name, "aws_secret_access_key") ? secret_key
                    : !strcasecmp(name, "aws_session_token") ? session_token : NULL;
        if (slot == access_key) { /* not a secret: plain memory */
            free(*slot);
            *slot = xstrdup(value);
        } else if (slot) {
            secret_free(*slot);
            *slot = secret_dup(value);
        }
    }
    fclose(f);
    if (text) {
        crypto_wipe(text, cap);
        free(text);
    }
    const char *missing = !has_profile ? "has no profile"
                        : !*access_key || !**access_key ? "gives no aws_access_key_id for profile"
                        : !*secret_key || !**secret_key ? "gives no aws_secret_access_key for profile" : NULL;
    if (missing) {
        free(*access_key);
        secret_free(*secret_key);
        secret_free(*session_token);
        *access_key = *secret_key = *session_token = NULL;
        return error_setk(err, ERR_USAGE, "S3 credentials file %s %s [%s]", path, missing, profile);
    }
    return 0;
}

/* ---- one request ---------------------------------------------------------- */

struct response {
    long status;
    struct buf body;
    uint64_t content_length; /* HEAD */
    bool has_length;
    char content_type[128]; /* "" if none came */
    unsigned attempts; /* how many requests it took */
};

static size_t on_body(char *data, size_t size, size_t count, void *ctx)
{
    struct response *r = ctx;
    buf_append(&r->body, data, size * count);
    return size * count;
}

static size_t on_header(char *line, size_t size, size_t count, void *ctx)
{
    struct response *r = ctx;
    size_t len = size * count;
    if (len > 15 && !strncasecmp(line, "content-length:", 15)) {
        r->content_length = strtoull(line + 15, NULL, 10);
        r->has_length = true;
    } else if (len > 13 && !strncasecmp(line, "content-type:", 13)) {
        size_t start = 13, end = len;
        while (start < end && (line[start] == ' ' || line[start] == '\t'))
            start++;
        while (end > start && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' '))
            end--;
        size_t n = end - start < sizeof r->content_type - 1 ? end - start : sizeof r->content_type - 1;
        memcpy(r->content_type, line + start, n);
        r->content_type[n] = '\0';
    }
    return len;
}

static CURL *take_handle(struct s3_store *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->mutex);
    if (s->idle_count)
        h = s->idle[--s->idle_count];
    pthread_mutex_unlock(&s->mutex);
    return h ? h : curl_easy_init();
}

static void give_handle(struct s3_store *s, CURL *h)
{
    pthread_mutex_lock(&s->mutex);
    if (s->idle_count < s->idle_max) {
        s->idle[s->idle_count++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->mutex);
    if (h)
        curl_easy_cleanup(h);
}

/* A request to make: method, key (or NULL for the bucket), canonical query,
 * extra headers to sign, body. */
struct s3_call {
    const char *method;
    const char *key;   /* not encoded yet */
    const char *query; /* canonical, "" for none */
    const char *range; /* "bytes=a-b" or NULL */
    const char *checksum; /* base64 SHA-256 of the body (x-amz-checksum-sha256), or NULL */
    const char *payload_hash; /* hex SHA-256 of the body, or NULL: computed */
    const char *storage_class; /* or NULL */
    bool is_create_only; /* If-None-Match: * */
    const char *if_match; /* If-Match: this ETag (a read of one version), or NULL */
    const void *body;
    size_t body_len;
};

static int header_cmp(const void *a, const void *b)
{
    return strcmp(((const struct s3_header *)a)->name, ((const struct s3_header *)b)->name);
}

/* Sends once; fills resp. Returns 0 when an HTTP answer came, -1 with err
 * set for transport errors (which may be retried), -2 for a certificate
 * that is not trusted (which will not get better). */
static int send_once(struct s3_store *s, const struct s3_call *c, struct response *resp, struct error *err)
{
    struct buf path = BUF_INIT, url = BUF_INIT, auth = BUF_INIT;
    buf_append(&path, "/", 1);
    if (s->is_path_style) {
        s3_uri_encode(s->bucket, false, &path);
        if (c->key)
            buf_append(&path, "/", 1);
    }
    if (c->key)
        s3_uri_encode(c->key, true, &path);
    buf_append(&path, "", 1);

    char payload_hash[S3_SHA256_HEX], amz_date[20];
    if (c->payload_hash)
        memcpy(payload_hash, c->payload_hash, S3_SHA256_HEX);
    else
        s3_sha256_hex(c->body ? c->body : "", c->body_len, payload_hash);
    time_t now = time(NULL);
    struct tm utc;
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &utc));

    struct s3_header headers[10];
    size_t n = 0;
    headers[n++] = (struct s3_header){"host", s->host};
    headers[n++] = (struct s3_header){"x-amz-content-sha256", payload_hash};
    headers[n++] = (struct s3_header){"x-amz-date", amz_date};
    if (c->range)
        headers[n++] = (struct s3_header){"range", c->range};
    if (c->checksum)
        headers[n++] = (struct s3_header){"x-amz-checksum-sha256", c->checksum};
    if (c->storage_class)
        headers[n++] = (struct s3_header){"x-amz-storage-class", c->storage_class};
    if (c->is_create_only)
        headers[n++] = (struct s3_header){"if-none-match", "*"};
    if (c->if_match)
        headers[n++] = (struct s3_header){"if-match", c->if_match};
    if (s->session_token)
        headers[n++] = (struct s3_header){"x-amz-security-token", s->session_token};
    qsort(headers, n, sizeof *headers, header_cmp);
    struct s3_request req = {c->method, (const char *)path.data, c->query, headers, n, payload_hash, amz_date,
                             s->region, "s3"};
    s3_sign(s->access_key, s->secret_key, &req, &auth);

    buf_append(&url, s->endpoint, strlen(s->endpoint));
    buf_append(&url, path.data, path.len - 1);
    if (*c->query) {
        buf_append(&url, "?", 1);
        buf_append(&url, c->query, strlen(c->query));
    }
    buf_append(&url, "", 1);

    struct curl_slist *list = NULL;
    char line[2048];
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(headers[i].name, "host"))
            continue; /* curl sends it from the URL */
        snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        list = curl_slist_append(list, line);
    }
    snprintf(line, sizeof line, "Authorization: %s", (const char *)auth.data);
    list = curl_slist_append(list, line);
    list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */

    CURL *h = take_handle(s);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, (const char *)url.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (s->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file); /* peer and host checks stay on */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* a stalled transfer is a failed one */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    if (!strcmp(c->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(c->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? (const char *)c->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    } else if (strcmp(c->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    buf_append(&resp->body, "", 1); /* a C string, the NUL not counted */
    resp->body.len--;
    give_handle(s, h);
    curl_slist_free_all(list);
    buf_free(&path);
    buf_free(&url);
    buf_free(&auth);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM) {
        error_set(err, "%s: %s: its certificate is not signed by a CA coffer trusts, or does not name this "
                  "host (for a private CA, give its certificates as s3: ca_file or COFFER_S3_CA_FILE)",
                  s->endpoint, curl_easy_strerror(rc));
        return -2;
    }
    if (rc != CURLE_OK)
        return error_set(err, "%s %s: %s", c->method, c->key ? c->key : "(bucket)", curl_easy_strerror(rc));
    return 0;
}

static bool is_retryable(long status, const struct response *r)
{
    if (status >= 500 || status == 429)
        return true;
    /* ConditionalRequestConflict (409): another conditional write to the
     * key was in flight; the retry gets the real answer. */
    struct s3xml_error e;
    struct error ignored;
    if (status < 300 || s3xml_error_parse(r->content_type, r->body.data, r->body.len, &e, &ignored) < 0)
        return false;
    bool again = !strcmp(e.code, "SlowDown") || !strcmp(e.code, "ConditionalRequestConflict");
    s3xml_error_free(&e);
    return again;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Sends with retries. On return 0, resp holds a final answer (any status
 * the caller judges). */
static int send_with_retries(struct s3_store *s, const struct s3_call *c, struct response *resp, struct error *err)
{
    double deadline = now_seconds() + s->retry_seconds;
    double wait = 0.1;
    for (unsigned attempt = 1;; attempt++) {
        buf_free(&resp->body);
        memset(resp, 0, sizeof *resp);
        resp->attempts = attempt;
        int rc = send_once(s, c, resp, err);
        if (rc == -2)
            return -1;
        bool again = rc < 0 || is_retryable(resp->status, resp);
        if (!again)
            return 0;
        if (rc == 0)
            error_set(err, "%s %s: HTTP %ld", c->method, c->key ? c->key : "(bucket)", resp->status);
        uint32_t r;
        crypto_random(&r, sizeof r);
        double jitter = wait * (0.5 + (double)(r % 1000) / 1000.0);
        if (now_seconds() + jitter > deadline)
            return error_wrap(err, "giving up after %u attempts in %u s (s3: retry_time)", attempt,
                              s->retry_seconds);
        debug_log("S3 attempt %u failed (%s); retrying in %.2f s", attempt, err->msg, jitter);
        struct timespec pause = {(time_t)jitter, (long)((jitter - (double)(time_t)jitter) * 1e9)};
        nanosleep(&pause, NULL);
        if (wait < 8)
            wait *= 2;
    }
}

/* An answer that is not a success, as one line with the server's words. */
static int fail_status(const struct s3_call *c, const struct response *r, struct error *err)
{
    enum error_kind kind = r->status == 404 ? ERR_NOT_FOUND : r->status == 403 ? ERR_AUTH : ERR_GENERIC;
    const char *key = c->key ? c->key : "(bucket)";
    struct s3xml_error e;
    struct error why;
    if (r->body.len == 0) /* HEAD, or a server that says nothing */
        return error_setk(err, kind, "S3 %s %s: HTTP %ld", c->method, key, r->status);
    if (s3xml_error_parse(r->content_type, r->body.data, r->body.len, &e, &why) < 0)
        return error_setk(err, kind, "S3 %s %s: HTTP %ld, %s", c->method, key, r->status, why.msg);
    error_setk(err, kind, "S3 %s %s: HTTP %ld %s%s%s", c->method, key, r->status, e.code, e.message ? ": " : "",
               e.message ? e.message : "");
    s3xml_error_free(&e);
    return -1;
}

static char *object_key(const struct s3_store *s, const char *name)
{
    size_t len = strlen(s->prefix) + strlen(name) + 1;
    char *key = xmalloc(len);
    snprintf(key, len, "%s%s", s->prefix, name);
    return key;
}

/* ---- the driver ---------------------------------------------------------- */

/* A put's request: its digests, and the storage class its kind of object
 * goes to. The call borrows key and the digest strings. */
struct put_digests {
    char hex[S3_SHA256_HEX];
    char base64[48];
};

static struct s3_call put_call(const struct s3_store *s, const char *name, const char *key, const void *data,
                               size_t len, struct put_digests *d)
{
    unsigned char digest[32];
    unsigned int digest_len = 0;
    EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL);
    hex_encode(digest, sizeof digest, d->hex);
    EVP_EncodeBlock((unsigned char *)d->base64, digest, sizeof digest);
    bool is_data = !strncmp(name, "data/", 5);
    return (struct s3_call){.method = "PUT", .key = key, .query = "", .checksum = d->base64,
                            .payload_hash = d->hex, .storage_class = is_data ? s->data_class : s->metadata_class,
                            .body = data, .body_len = len};
}

static int put_plain(struct s3_store *s, const char *name, const void *data, size_t len, struct error *err)
{
    struct put_digests d;
    char *key = object_key(s, name);
    struct s3_call c = put_call(s, name, key, data, len, &d);
    struct response r = {0};
    int rc = send_with_retries(s, &c, &r, err);
    if (rc == 0 && r.status != 200)
        rc = fail_status(&c, &r, err);
    buf_free(&r.body);
    free(key);
    return rc;
}

static int s3_size(void *impl, const char *name, uint64_t *size, struct error *err);

/* Whether the object holds exactly data: a conditional put that failed
 * after a retry may have been our own first attempt, answered but lost. */
static bool holds(struct s3_store *s, const char *key, const void *data, size_t len)
{
    struct s3_call c = {.method = "GET", .key = key, .query = ""};
    struct response r = {0};
    struct error ignored;
    bool is_same = send_with_retries(s, &c, &r, &ignored) == 0 && r.status == 200 && r.body.len == len &&
                   !memcmp(r.body.data, data, len);
    buf_free(&r.body);
    return is_same;
}

/* A put with If-None-Match: *; ERR_EXISTS when the server refuses it. */
static int put_conditional(struct s3_store *s, const char *name, const void *data, size_t len, struct error *err)
{
    struct put_digests d;
    char *key = object_key(s, name);
    struct s3_call c = put_call(s, name, key, data, len, &d);
    c.is_create_only = true;
    struct response r = {0};
    int rc = send_with_retries(s, &c, &r, err);
    if (rc == 0 && r.status == 412 && !(r.attempts > 1 && holds(s, key, data, len)))
        rc = error_setk(err, ERR_EXISTS, "S3 object %s exists already", name);
    else if (rc == 0 && r.status != 200 && r.status != 412)
        rc = fail_status(&c, &r, err);
    buf_free(&r.body);
    free(key);
    return rc;
}

static int s3_del(void *impl, const char *name, struct error *err);

/* Whether the server refuses a second If-None-Match: * put of one key, as
 * S3 has since 2024; older S3-compatible servers ignore the header. */
static int probe_conditional_writes(struct s3_store *s, bool *out, struct error *err)
{
    char name[64], hex[33];
    uint8_t rnd[16];
    crypto_random(rnd, sizeof rnd);
    hex_encode(rnd, sizeof rnd, hex);
    snprintf(name, sizeof name, "conditional-write-probe-%s", hex);
    struct error first, second;
    bool was_refused = false;
    int rc = put_conditional(s, name, "1", 1, &first);
    if (rc == 0)
        was_refused = put_conditional(s, name, "2", 1, &second) < 0 && second.kind == ERR_EXISTS;
    else /* a server that rejects the header (501, 400) may still take plain puts */
        rc = put_plain(s, name, "1", 1, err);
    struct error ignored;
    s3_del(s, name, &ignored);
    *out = was_refused;
    return rc;
}

/* The first write to a store just created tries a conditional write and
 * records the answer beside the objects. Not at open: a refused init must
 * leave what it found untouched. */
static int probe_once(struct s3_store *s, struct error *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->probe_mutex);
    if (s->is_probe_due) {
        bool has_conditional = false;
        rc = probe_conditional_writes(s, &has_conditional, err);
        if (rc == 0 && has_conditional)
            rc = put_plain(s, FEATURES_OBJECT, "If-None-Match\n", 14, err);
        if (rc == 0) {
            s->has_conditional_writes = has_conditional;
            s->is_probe_due = false;
        } else {
            error_wrap(err, "cannot create s3://%s/%s", s->bucket, s->prefix);
        }
    }
    pthread_mutex_unlock(&s->probe_mutex);
    return rc;
}

static int s3_put(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    struct s3_store *s = impl;
    if (probe_once(s, err) < 0)
        return -1;
    return put_plain(s, name, data, len, err);
}

static int s3_put_new(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    struct s3_store *s = impl;
    if (probe_once(s, err) < 0)
        return -1;
    if (!s->has_conditional_writes) { /* a check, then a put: racy, and said so in store.h */
        uint64_t size;
        struct error probe;
        if (s3_size(s, name, &size, &probe) == 0)
            return error_setk(err, ERR_EXISTS, "S3 object %s exists already", name);
        if (probe.kind != ERR_NOT_FOUND) {
            *err = probe;
            return -1;
        }
        return put_plain(s, name, data, len, err);
    }
    return put_conditional(s, name, data, len, err);
}

/* A new store asked before its first write finds out now; if the server
 * cannot be asked, the answer is no (a check and a put), which is safe. */
static bool s3_has_atomic_create(void *impl)
{
    struct s3_store *s = impl;
    struct error ignored;
    if (probe_once(s, &ignored) < 0)
        return false;
    return s->has_conditional_writes;
}

static unsigned s3_parallel_uploads(const void *impl)
{
    return ((const struct s3_store *)impl)->connections;
}

/* A GET of one version (If-Match: version) answered 412: the object was
 * written again since it was listed. */
static int s3_get_version(void *impl, const char *name, const char *version, uint64_t offset, uint64_t len,
                          struct buf *out, struct error *err)
{
    struct s3_store *s = impl;
    char range[64];
    if (len == STORE_TO_END)
        snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)offset);
    else if (len == 0)
        return 0;
    else
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + len - 1));
    char *key = object_key(s, name);
    struct s3_call c = {.method = "GET", .key = key, .query = "", .range = offset || len != STORE_TO_END ? range : NULL,
                        .if_match = version};
    struct response r = {0};
    int rc = send_with_retries(s, &c, &r, err);
    if (rc == 0 && r.status == 412 && version)
        rc = error_setk(err, ERR_CHANGED, "S3 GET %s: the object changed since it was listed", key);
    else if (rc == 0 && r.status != 200 && r.status != 206)
        rc = fail_status(&c, &r, err);
    if (rc == 0 && len != STORE_TO_END && r.body.len != len)
        rc = error_set(err, "S3 GET %s: %zu bytes came, %llu were asked for", key, r.body.len, (unsigned long long)len);
    if (rc == 0)
        buf_append(out, r.body.data, r.body.len);
    buf_free(&r.body);
    free(key);
    return rc;
}

static int s3_get(void *impl, const char *name, uint64_t offset, uint64_t len, struct buf *out, struct error *err)
{
    return s3_get_version(impl, name, NULL, offset, len, out, err);
}

/* One page of a listing: 0 with *out parsed, or -1 with err naming the
 * request and what was wrong with the answer. */
static int list_page(struct s3_store *s, const char *prefix, const char *token, const char *what,
                     struct s3xml_listing *out, struct error *err)
{
    struct buf query = BUF_INIT;
    if (token) {
        buf_append(&query, "continuation-token=", 19);
        s3_uri_encode(token, false, &query);
        buf_append(&query, "&", 1);
    }
    buf_append(&query, "list-type=2&prefix=", 19);
    s3_uri_encode(prefix, false, &query);
    buf_append(&query, "", 1);
    struct s3_call c = {.method = "GET", .key = NULL, .query = (const char *)query.data};
    struct response r = {0};
    int rc = send_with_retries(s, &c, &r, err);
    if (rc == 0 && r.status != 200)
        rc = fail_status(&c, &r, err);
    if (rc == 0)
        rc = s3xml_listing_parse(what, r.content_type, r.body.data, r.body.len, out, err);
    buf_free(&r.body);
    buf_free(&query);
    return rc;
}

/* Every page, each one parsed strictly (s3xml.h): an answer that is not a
 * complete ListBucketResult fails the listing, so a proxy's error page
 * can never read as "no objects" and make prune delete what it holds.
 * folder "" lists the whole prefix. */
static int s3_list_entries(void *impl, const char *folder, store_entry_fn fn, void *ctx, struct error *err)
{
    struct s3_store *s = impl;
    char *prefix = object_key(s, folder);
    size_t plen = strlen(prefix);
    if (*folder) { /* with the '/' */
        prefix = xrealloc(prefix, plen + 2);
        prefix[plen++] = '/';
        prefix[plen] = '\0';
    }
    struct s3xml_tokens seen = {0};
    int rc = 0;
    bool is_more = true;
    for (unsigned page = 1; rc == 0 && is_more; page++) {
        char what[640];
        if (page == 1)
            snprintf(what, sizeof what, "S3 listing of %.600s", prefix);
        else
            snprintf(what, sizeof what, "S3 listing of %.600s (page %u)", prefix, page);
        struct s3xml_listing l = {0};
        rc = list_page(s, prefix, seen.count ? seen.tokens[seen.count - 1] : NULL, what, &l, err);
        for (size_t i = 0; rc == 0 && i < l.count; i++) {
            const struct s3xml_object *o = &l.objects[i];
            if (strncmp(o->key, prefix, plen)) {
                rc = error_set(err, "%s holds key %.200s, which is not under the prefix asked for", what, o->key);
            } else {
                struct store_entry e = {o->key + strlen(s->prefix), o->size, o->modified, o->etag};
                rc = fn(ctx, &e, err);
            }
        }
        is_more = rc == 0 && l.is_truncated;
        if (is_more)
            rc = s3xml_tokens_add(&seen, what, l.next_token, err);
        s3xml_listing_free(&l);
    }
    s3xml_tokens_free(&seen);
    free(prefix);
    return rc;
}

struct name_listing {
    store_list_fn fn;
    void *ctx;
};

static int name_of_entry(void *arg, const struct store_entry *e, struct error *err)
{
    struct name_listing *l = arg;
    return l->fn(l->ctx, e->name, e->size, err);
}

static int s3_list(void *impl, const char *folder, store_list_fn fn, void *ctx, struct error *err)
{
    struct name_listing l = {fn, ctx};
    return s3_list_entries(impl, folder, name_of_entry, &l, err);
}

static int s3_del(void *impl, const char *name, struct error *err)
{
    struct s3_store *s = impl;
    char *key = object_key(s, name);
    struct s3_call c = {.method = "DELETE", .key = key, .query = ""};
    struct response r = {0};
    int rc = send_with_retries(s, &c, &r, err);
    if (rc == 0 && r.status != 204 && r.status != 200 && r.status != 404)
        rc = fail_status(&c, &r, err);
    buf_free(&r.body);
    free(key);
    return rc;
}

static int s3_size(void *impl, const char *name, uint64_t *size, struct error *err)
{
    struct s3_store *s = impl;
    char *key = object_key(s, name);
    struct s3_call c = {.method = "HEAD", .key = key, .query = ""};
    struct response r = {0};
    int rc = send_with_retries(s, &c, &r, err);
    if (rc == 0 && r.status != 200)
        rc = fail_status(&c, &r, err);
    else if (rc == 0)
        *size = r.content_length;
    buf_free(&r.body);
    free(key);
    return rc;
}

static void s3_free(void *impl)
{
    struct s3_store *s = impl;
    for (size_t i = 0; i < s->idle_count; i++)
        curl_easy_cleanup(s->idle[i]);
    free(s->idle);
    pthread_mutex_destroy(&s->mutex);
    pthread_mutex_destroy(&s->probe_mutex);
    free(s->bucket);
    free(s->prefix);
    free(s->endpoint);
    free(s->host);
    free(s->region);
    free(s->access_key);
    secret_free(s->secret_key);
    secret_free(s->session_token);
    free(s->ca_file);
    free(s->data_class);
    free(s->metadata_class);
    free(s);
}

const struct store_driver s3_store_driver = {
    .name = "s3",
    .parallel_requests = 16,
    .put = s3_put,
    .put_new = s3_put_new,
    .has_atomic_create = s3_has_atomic_create,
    .parallel_uploads = s3_parallel_uploads,
    .get = s3_get,
    .get_version = s3_get_version,
    .list = s3_list,
    .list_entries = s3_list_entries,
    .del = s3_del,
    .size = s3_size,
    .free = s3_free,
};

/* ---- opening ----------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

/* The key pair: from the settings (the environment), else the shared
 * credentials file. */
static int take_credentials(struct s3_store *s, const struct s3_settings *settings, struct error *err)
{
    if (settings->access_key && *settings->access_key) {
        if (!settings->secret_key || !*settings->secret_key)
            return error_setk(err, ERR_USAGE, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
        s->access_key = xstrdup(settings->access_key);
        s->secret_key = secret_dup(settings->secret_key);
        s->session_token = settings->session_token && *settings->session_token ? secret_dup(settings->session_token)
                                                                                : NULL;
        return 0;
    }
    const char *path = settings->credentials_file;
    char home_file[4096];
    if ((!path || !*path) && settings->home && *settings->home) {
        snprintf(home_file, sizeof home_file, "%s/.aws/credentials", settings->home);
        if (access(home_file, F_OK) == 0)
            path = home_file;
    }
    if (!path || !*path)
        return error_setk(err, ERR_USAGE, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                          "or name a credentials_file in coffer.yaml's s3: block");
    const char *profile = settings->profile && *settings->profile ? settings->profile : "default";
    if (s3_read_credentials(path, profile, &s->access_key, &s->secret_key,
                            &s->session_token, err) < 0)
        return -1;
    if (s->session_token && !*s->session_token) {
        secret_free(s->session_token);
        s->session_token = NULL;
    }
    return 0;
}

int s3_store_open(const char *location, const struct s3_settings *settings, bool is_create, void **impl,
                  struct error *err)
{
    const char *rest = location + strlen("s3://");
    const char *slash = strchr(rest, '/');
    size_t bucket_len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (bucket_len == 0)
        return error_setk(err, ERR_USAGE, "%s names no bucket (use s3://BUCKET/PREFIX)", location);
    const char *bad_class = NULL, *why;
    if (settings->data_class && (why = s3_check_storage_class(settings->data_class)))
        bad_class = settings->data_class;
    else if (settings->metadata_class && (why = s3_check_storage_class(settings->metadata_class)))
        bad_class = settings->metadata_class;
    if (bad_class)
        return error_setk(err, ERR_USAGE, "S3 storage class %s: %s", bad_class, why);
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: it is not thread-safe */
    struct s3_store *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mutex, NULL);
    pthread_mutex_init(&s->probe_mutex, NULL);
    if (take_credentials(s, settings, err) < 0) {
        s3_free(s);
        return -1;
    }
    s->bucket = xmalloc(bucket_len + 1);
    memcpy(s->bucket, rest, bucket_len);
    s->bucket[bucket_len] = '\0';
    const char *prefix = slash ? slash + 1 : "";
    size_t plen = strlen(prefix);
    while (plen && prefix[plen - 1] == '/')
        plen--;
    s->prefix = xmalloc(plen + 2);
    memcpy(s->prefix, prefix, plen);
    strcpy(s->prefix + plen, plen ? "/" : "");
    s->region = xstrdup(settings->region && *settings->region ? settings->region : "us-east-1");
    if (settings->endpoint && *settings->endpoint) {
        s->endpoint = xstrdup(settings->endpoint);
        s->is_path_style = settings->path_style != 0; /* other servers: path style unless told */
    } else {
        size_t len = strlen(s->region) + 64;
        s->endpoint = xmalloc(len);
        snprintf(s->endpoint, len, "https://s3.%s.amazonaws.com", s->region);
        s->is_path_style = settings->path_style == 1;
    }
    size_t elen = strlen(s->endpoint);
    while (elen && s->endpoint[elen - 1] == '/')
        s->endpoint[--elen] = '\0';
    if (strncmp(s->endpoint, "https://", 8) && strncmp(s->endpoint, "http://", 7)) {
        s3_free(s);
        return error_setk(err, ERR_USAGE, "S3 endpoint %s: use https://HOST[:PORT] (or http:// on a trusted network)",
                          settings->endpoint);
    }
    const char *host = strstr(s->endpoint, "://") + 3;
    if (s->is_path_style) {
        s->host = xstrdup(host);
    } else { /* virtual-hosted: the bucket in the host name */
        size_t len = strlen(s->bucket) + strlen(host) + 2;
        s->host = xmalloc(len);
        snprintf(s->host, len, "%s.%s", s->bucket, host);
        size_t scheme = (size_t)(host - s->endpoint);
        char *url = xmalloc(scheme + len);
        snprintf(url, scheme + len, "%.*s%s", (int)scheme, s->endpoint, s->host);
        free(s->endpoint);
        s->endpoint = url;
    }
    s->ca_file = dup_or_null(settings->ca_file);
    s->retry_seconds = settings->retry_seconds ? settings->retry_seconds : S3_DEFAULT_RETRY_SECONDS;
    s->connections = settings->connections ? settings->connections : S3_DEFAULT_CONNECTIONS;
    s->data_class = dup_or_null(settings->data_class);
    s->metadata_class = dup_or_null(settings->metadata_class);
    s->idle_max = s->connections > S3_POOL_MIN ? s->connections : S3_POOL_MIN;
    s->idle = xcalloc(s->idle_max, sizeof *s->idle);

    /* The bucket must answer; and a prefix is there only while it holds
     * objects (S3 has no folders), so opening one that holds none is
     * ERR_NOT_FOUND, as opening a missing directory is. */
    struct buf query = BUF_INIT;
    buf_append(&query, "list-type=2&max-keys=1&prefix=", 30);
    s3_uri_encode(s->prefix, false, &query);
    buf_append(&query, "", 1);
    struct s3_call bucket = {.method = "GET", .key = NULL, .query = (const char *)query.data};
    struct response answer = {0};
    int rc = send_with_retries(s, &bucket, &answer, err);
    if (rc == 0 && answer.status != 200) {
        rc = fail_status(&bucket, &answer, err);
        if (answer.status == 404)
            error_wrap(err, "bucket %s does not exist on %s (create it first)", s->bucket, s->endpoint);
    }
    bool is_empty = false;
    if (rc == 0) { /* a website or proxy answering 200 is found out here, before anything reads its "list" */
        char what[320];
        snprintf(what, sizeof what, "S3 listing of bucket %.200s on %.80s", s->bucket, s->endpoint);
        struct s3xml_listing first;
        rc = s3xml_listing_parse(what, answer.content_type, answer.body.data, answer.body.len, &first, err);
        if (rc == 0) {
            is_empty = first.count == 0;
            s3xml_listing_free(&first);
        }
    }
    buf_free(&answer.body);
    buf_free(&query);
    if (rc == 0 && !is_create && is_empty && !settings->is_plain_bucket)
        rc = error_setk(err, ERR_NOT_FOUND, "%s holds no objects", location);
    if (rc < 0) {
        s3_free(s);
        return -1;
    }
    /* Conditional writes: found out at the first write to a new store
     * (s3_probe_once), afterwards taken from the record. */
    if (settings->is_plain_bucket) {
        s->has_conditional_writes = false; /* put_new is then a check and a put; nothing calls it */
    } else if (is_create) {
        s->is_probe_due = true;
    } else {
        uint64_t size;
        struct error probe;
        s->has_conditional_writes = s3_size(s, FEATURES_OBJECT, &size, &probe) == 0;
        if (!s->has_conditional_writes && probe.kind != ERR_NOT_FOUND) {
            s3_free(s);
            *err = probe;
            return error_wrap(err, "cannot open %s", location);
        }
    }
    *impl = s;
    return 0;
}
