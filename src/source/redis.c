/*
 * redis.c — the RDB over the replication protocol (see redis.h).
 *
 * The conversation: AUTH (when there is a password), INFO (for the
 * metadata), REPLCONF rdb-only 1 (Redis 7: no command stream after the
 * RDB; older servers refuse it, which is fine), then SYNC. The server
 * answers with newlines while it writes the RDB, then "$<length>\r\n" and
 * that many bytes. (coffer does not announce the "eof" capability, so the
 * server never streams a diskless transfer of unknown length, and never
 * waits repl-diskless-sync-delay for other replicas.) An RDB ends with the
 * EOF opcode (0xff) and the CRC-64 of everything before the CRC (zero when
 * the server has rdbchecksum off).
 *
 * The bytes pass through the chunker as they arrive; only the last 8 (the
 * CRC) are held back until the end.
 */
#include "source/redis.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "source/bundle.h"
#include "util/crc64.h"
#include "util/fdio.h"
#include "util/secret.h"

#define DEFAULT_PORT "6379"
#define READ_TIMEOUT_S 120  /* silence from the server longer than this fails the backup */
#define HANDSHAKE_TIMEOUT_S 10 /* a TLS handshake with a plain port never ends: give up sooner */
#define IN_SIZE (1u << 20)
#define CRC_LEN 8

/* ---- the URL -------------------------------------------------------- */

struct redis_url {
    bool is_tls;    /* rediss:// */
    char *host;
    char *port;
    char *user;     /* NULL: the default user */
    char *password; /* NULL: none */
};

static void redis_url_free(struct redis_url *u)
{
    free(u->host);
    free(u->port);
    free(u->user);
    secret_free(u->password);
    memset(u, 0, sizeof *u);
}

/* A copy of s[0..len) with %XX decoded. */
static char *decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2]) &&
            sscanf(s + i + 1, "%2x", &v) == 1) {
            out[n++] = (char)v;
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}

/* Parses redis://[user[:password]@]host[:port][/db]. Errors never quote
 * the URL (it may hold a password). */
static int redis_url_parse(const char *url, struct redis_url *u, struct error *err)
{
    memset(u, 0, sizeof *u);
    u->is_tls = strncmp(url, "rediss://", 9) == 0;
    if (!u->is_tls && strncmp(url, "redis://", 8) != 0)
        return error_setk(err, ERR_USAGE, "a Redis URL starts with redis:// or rediss:// (redis://[user@]host[:port])");
    const char *authority = url + (u->is_tls ? 9 : 8);
    size_t len = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < len; i++)
        if (authority[i] == '@')
            at = authority + i;
    const char *hostport = authority;
    if (at) {
        const char *colon = memchr(authority, ':', (size_t)(at - authority));
        size_t user_len = colon ? (size_t)(colon - authority) : (size_t)(at - authority);
        if (user_len)
            u->user = decode(authority, user_len);
        if (colon) {
            char *decoded = decode(colon + 1, (size_t)(at - colon - 1));
            u->password = secret_dup(decoded);
            crypto_wipe(decoded, strlen(decoded));
            free(decoded);
        }
        hostport = at + 1;
    }
    size_t hp_len = len - (size_t)(hostport - authority);
    const char *port = NULL;
    if (hp_len && hostport[0] == '[') { /* [ipv6]:port */
        const char *close = memchr(hostport, ']', hp_len);
        if (!close)
            return redis_url_free(u), error_setk(err, ERR_USAGE, "the Redis URL has an unclosed [ in its host");
        u->host = decode(hostport + 1, (size_t)(close - hostport - 1));
        if (close + 1 < hostport + hp_len && close[1] == ':')
            port = close + 2;
    } else {
        const char *colon = memchr(hostport, ':', hp_len);
        u->host = decode(hostport, colon ? (size_t)(colon - hostport) : hp_len);
        if (colon)
            port = colon + 1;
    }
    u->port = port ? decode(port, hp_len - (size_t)(port - hostport)) : xstrdup(DEFAULT_PORT);
    if (!u->host[0] || !u->port[0] || strspn(u->port, "0123456789") != strlen(u->port)) {
        redis_url_free(u);
        return error_setk(err, ERR_USAGE, "the Redis URL needs a host and a numeric port (redis://host:6379)");
    }
    return 0;
}

/* ---- the connection ------------------------------------------------- */

struct rconn {
    int fd;
    SSL_CTX *tls_ctx; /* with rediss:// */
    SSL *tls;
    const char *where; /* host:port, for messages */
    uint8_t *in;       /* received, not yet consumed: in[pos..len) */
    size_t pos, len;
};

/* OpenSSL's reason for the last failure, for a message. */
static const char *tls_reason(const struct rconn *c)
{
    static __thread char text[256];
    long verify = c->tls ? SSL_get_verify_result(c->tls) : X509_V_OK;
    if (verify != X509_V_OK)
        return X509_verify_cert_error_string(verify);
    unsigned long code = ERR_get_error();
    if (!code)
        return "the connection failed";
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

/* TLS over the connected socket: the server's certificate must chain to
 * ca_file (or the system's CAs) and name the host. */
static int tls_start(struct rconn *c, const char *host, const char *ca_file, struct error *err)
{
    ERR_clear_error();
    c->tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->tls_ctx)
        return error_set(err, "cannot set up TLS: %s", tls_reason(c));
    SSL_CTX_set_verify(c->tls_ctx, SSL_VERIFY_PEER, NULL);
    int loaded = ca_file ? SSL_CTX_load_verify_locations(c->tls_ctx, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(c->tls_ctx);
    if (loaded != 1)
        return error_set(err, "cannot load the CA certificates%s%s: %s", ca_file ? " from " : "", ca_file ? ca_file : "",
                         tls_reason(c));
    c->tls = SSL_new(c->tls_ctx);
    if (!c->tls || SSL_set_fd(c->tls, c->fd) != 1)
        return error_set(err, "cannot set up TLS: %s", tls_reason(c));
    SSL_set_tlsext_host_name(c->tls, host);
    X509_VERIFY_PARAM *param = SSL_get0_param(c->tls);
    /* An IP address is checked against the certificate's IP entries, a name
     * against its DNS names. */
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1)
        SSL_set1_host(c->tls, host);
    errno = 0;
    if (SSL_connect(c->tls) != 1) {
        bool is_silent = errno == EAGAIN || errno == EWOULDBLOCK;
        return error_set(err, "TLS handshake with Redis at %s failed: %s", c->where,
                         is_silent ? "no answer (is it a TLS port? use redis:// for a plain one)" : tls_reason(c));
    }
    return 0;
}

static ssize_t conn_read_some(struct rconn *c, void *data, size_t len)
{
    if (!c->tls)
        return read(c->fd, data, len);
    int n = SSL_read(c->tls, data, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    int why = SSL_get_error(c->tls, n);
    if (why == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (why != SSL_ERROR_SYSCALL || errno == 0)
        errno = EPROTO;
    return -1;
}

static int conn_write_all(struct rconn *c, const void *data, size_t len)
{
    if (!c->tls)
        return write_all(c->fd, data, len);
    size_t written = 0;
    while (written < len) {
        size_t n = 0;
        if (SSL_write_ex(c->tls, (const uint8_t *)data + written, len - written, &n) != 1) {
            errno = errno ? errno : EPROTO;
            return -1;
        }
        written += n;
    }
    return 0;
}

static int conn_open(struct rconn *c, const struct redis_url *u, const char *where, struct error *err)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->where = where;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    int gai = getaddrinfo(u->host, u->port, &hints, &list);
    if (gai != 0)
        return error_set(err, "cannot resolve %s: %s", where, gai_strerror(gai));
    int saved = 0;
    for (struct addrinfo *a = list; a && c->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            c->fd = fd;
        } else {
            saved = errno;
            close(fd);
        }
    }
    freeaddrinfo(list);
    if (c->fd < 0)
        return error_errno(err, saved ? saved : ECONNREFUSED, "cannot connect to Redis at %s", where);
    c->in = xmalloc(IN_SIZE);
    return 0;
}

static void set_read_timeout(struct rconn *c, int seconds)
{
    struct timeval timeout = {.tv_sec = seconds};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

/* Connects (over TLS for rediss://). */
static int conn_connect(struct rconn *c, const struct redis_url *u, const char *ca_file, const char *where,
                        struct error *err)
{
    if (conn_open(c, u, where, err) < 0)
        return -1;
    set_read_timeout(c, HANDSHAKE_TIMEOUT_S);
    if (u->is_tls && tls_start(c, u->host, ca_file, err) < 0)
        return -1;
    set_read_timeout(c, READ_TIMEOUT_S);
    return 0;
}

static void conn_close(struct rconn *c)
{
    if (c->tls) {
        SSL_shutdown(c->tls);
        SSL_free(c->tls);
    }
    SSL_CTX_free(c->tls_ctx);
    c->tls = NULL;
    c->tls_ctx = NULL;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    c->fd = -1;
    c->in = NULL;
}

/* Reads more into c->in (at least one byte), keeping what is unconsumed. */
static int conn_fill(struct rconn *c, struct error *err)
{
    if (c->pos > 0) {
        memmove(c->in, c->in + c->pos, c->len - c->pos);
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len == IN_SIZE)
        return error_set(err, "Redis at %s sent a line longer than %u bytes", c->where, IN_SIZE);
    for (;;) {
        ssize_t n = conn_read_some(c, c->in + c->len, IN_SIZE - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return error_set(err, "Redis at %s closed the connection", c->where);
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return error_set(err, "Redis at %s sent nothing for %d s", c->where, READ_TIMEOUT_S);
        return error_errno(err, errno, "cannot read from Redis at %s", c->where);
    }
}

/* One line without its CRLF, in a NUL-terminated copy the caller frees. */
static int conn_line(struct rconn *c, char **line, struct error *err)
{
    for (;;) {
        uint8_t *start = c->in + c->pos;
        uint8_t *lf = memchr(start, '\n', c->len - c->pos);
        if (lf) {
            size_t n = (size_t)(lf - start);
            if (n && start[n - 1] == '\r')
                n--;
            *line = xmalloc(n + 1);
            memcpy(*line, start, n);
            (*line)[n] = '\0';
            c->pos += (size_t)(lf - start) + 1;
            return 0;
        }
        if (conn_fill(c, err) < 0)
            return -1;
    }
}

/* Sends a command as a RESP array of bulk strings. */
static int conn_command(struct rconn *c, const char *const *args, size_t count, struct error *err)
{
    struct buf out = BUF_INIT;
    char head[32];
    buf_append(&out, head, (size_t)snprintf(head, sizeof head, "*%zu\r\n", count));
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(args[i]);
        buf_append(&out, head, (size_t)snprintf(head, sizeof head, "$%zu\r\n", len));
        buf_append(&out, args[i], len);
        buf_append(&out, "\r\n", 2);
    }
    int rc = conn_write_all(c, out.data, out.len) < 0 ? error_errno(err, errno, "cannot write to Redis at %s", c->where)
                                                      : 0;
    crypto_wipe(out.data, out.len); /* may hold a password */
    buf_free(&out);
    return rc;
}

int redis_reply_parse(const uint8_t *in, size_t len, char **reply, size_t *used, struct error *err)
{
    const uint8_t *lf = memchr(in, '\n', len);
    if (!lf)
        return 0;
    size_t n = (size_t)(lf - in), line_len = n && in[n - 1] == '\r' ? n - 1 : n;
    if (line_len == 0)
        return error_set(err, "Redis sent an empty reply line");
    if (in[0] != '$') {
        *reply = xmalloc(line_len + 1);
        memcpy(*reply, in, line_len);
        (*reply)[line_len] = '\0';
        *used = n + 1;
        return 1;
    }
    /* A bulk string: "$<length>\r\n", that many bytes, "\r\n"; "$-1" is
     * the null reply, taken as empty. */
    uint64_t bulk = 0;
    size_t i = 1;
    if (line_len == 3 && in[1] == '-' && in[2] == '1') {
        *reply = xstrdup("");
        *used = n + 1;
        return 1;
    }
    for (; i < line_len && in[i] >= '0' && in[i] <= '9'; i++)
        if (bulk <= REDIS_REPLY_MAX) /* past it, the value no longer matters */
            bulk = bulk * 10 + (uint64_t)(in[i] - '0');
    if (i == 1 || i != line_len)
        return error_set(err, "Redis sent a malformed bulk length");
    if (bulk > REDIS_REPLY_MAX)
        return error_set(err, "Redis sent a reply of more than %u bytes", REDIS_REPLY_MAX);
    size_t need = n + 1 + (size_t)bulk + 2;
    if (len < need)
        return 0;
    if (in[need - 2] != '\r' || in[need - 1] != '\n')
        return error_set(err, "Redis sent a bulk reply without its CRLF");
    *reply = xmalloc((size_t)bulk + 1);
    memcpy(*reply, in + n + 1, (size_t)bulk);
    (*reply)[bulk] = '\0';
    *used = need;
    return 1;
}

/* Reads a simple reply (see redis_reply_parse). */
static int conn_reply(struct rconn *c, char **line, struct error *err)
{
    for (;;) {
        size_t used = 0;
        int rc = redis_reply_parse(c->in + c->pos, c->len - c->pos, line, &used, err);
        if (rc < 0)
            return error_wrap(err, "Redis at %s", c->where);
        if (rc == 1) {
            c->pos += used;
            return 0;
        }
        if (conn_fill(c, err) < 0)
            return -1;
    }
}

/* Sends a command and expects anything but an error. */
static int conn_call(struct rconn *c, const char *const *args, size_t count, char **reply, const char *what,
                     struct error *err)
{
    if (conn_command(c, args, count, err) < 0 || conn_reply(c, reply, err) < 0)
        return error_wrap(err, "%s", what);
    if ((*reply)[0] == '-') {
        error_set(err, "%s: %s", what, *reply + 1);
        free(*reply);
        *reply = NULL;
        return -1;
    }
    return 0;
}

/* ---- metadata ------------------------------------------------------- */

/* The value of "name:value" in an INFO text, or NULL; caller frees. */
static char *info_value(const char *info, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            size_t len = strcspn(p + n + 1, "\r\n");
            char *v = xmalloc(len + 1);
            memcpy(v, p + n + 1, len);
            v[len] = '\0';
            return v;
        }
    }
    return NULL;
}

json_t *redis_info_meta(const char *info)
{
    json_t *meta = json_object();
    char *version = info_value(info, "redis_version");
    char *memory = info_value(info, "used_memory");
    json_object_set_new(meta, "redis_version", json_string(version ? version : "unknown"));
    if (memory)
        json_object_set_new(meta, "used_memory", json_integer(strtoll(memory, NULL, 10)));
    free(version);
    free(memory);
    json_t *keys = json_object(), *expires = json_object();
    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        unsigned db;
        long long k, e;
        if (sscanf(p, "db%u:keys=%lld,expires=%lld", &db, &k, &e) == 3) {
            char name[16];
            snprintf(name, sizeof name, "db%u", db);
            json_object_set_new(keys, name, json_integer(k));
            json_object_set_new(expires, name, json_integer(e));
        }
    }
    json_object_set_new(meta, "keys", keys);
    json_object_set_new(meta, "expires", expires);
    return meta;
}

/* ---- the RDB stream ------------------------------------------------- */

static int pass_on(struct rdb_stream *s, const uint8_t *data, size_t len, struct error *err)
{
    if (len == 0)
        return 0;
    s->crc = crc64_update(s->crc, data, len);
    size_t take = len < sizeof s->head - s->head_len ? len : sizeof s->head - s->head_len;
    memcpy(s->head + s->head_len, data, take);
    s->head_len += take;
    s->last = data[len - 1];
    s->bytes += len;
    return s->write(s->ctx, data, len, err);
}

int rdb_stream_push(struct rdb_stream *s, const uint8_t *data, size_t len, struct error *err)
{
    if (len >= CRC_LEN) {
        if (pass_on(s, s->tail, s->tail_len, err) < 0 || pass_on(s, data, len - CRC_LEN, err) < 0)
            return -1;
        memcpy(s->tail, data + len - CRC_LEN, CRC_LEN);
        s->tail_len = CRC_LEN;
        return 0;
    }
    memcpy(s->tail + s->tail_len, data, len);
    s->tail_len += len;
    if (s->tail_len > CRC_LEN) {
        size_t extra = s->tail_len - CRC_LEN;
        if (pass_on(s, s->tail, extra, err) < 0)
            return -1;
        memmove(s->tail, s->tail + extra, CRC_LEN);
        s->tail_len = CRC_LEN;
    }
    return 0;
}

int rdb_stream_finish(struct rdb_stream *s, bool *is_unchecked, struct error *err)
{
    if (s->tail_len < CRC_LEN || s->head_len < sizeof s->head || memcmp(s->head, "REDIS", 5) != 0)
        return error_set(err, "the server did not send an RDB file");
    uint64_t stored = 0;
    for (int i = 0; i < CRC_LEN; i++)
        stored |= (uint64_t)s->tail[i] << (8 * i);
    if (s->last != 0xff)
        return error_set(err, "the RDB ends without its end marker: the transfer was cut short");
    *is_unchecked = stored == 0;
    if (stored != 0 && stored != s->crc)
        return error_set(err, "the RDB's checksum does not match its contents: the transfer was damaged");
    return s->write(s->ctx, s->tail, CRC_LEN, err);
}

long long redis_sync_length(const char *line, struct error *err)
{
    if (line[0] == '-')
        return error_set(err, "the server refused to send its RDB: %s", line + 1);
    long long length = 0;
    const char *p = line + 1;
    for (; line[0] == '$' && *p >= '0' && *p <= '9' && length <= LLONG_MAX / 10 - 1; p++)
        length = length * 10 + (*p - '0');
    if (line[0] != '$' || p == line + 1 || *p || length <= 0)
        return error_set(err, "the server answered SYNC with something other than an RDB");
    return length;
}

static int write_to_bundle(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    return bundle_write(ctx, data, len, err);
}

/* Receives the RDB after SYNC into the bundle. */
static int receive_rdb(struct rconn *c, struct rdb_stream *s, bool *is_unchecked, struct error *err)
{
    /* Newlines keep the connection alive while the server writes the RDB. */
    for (;;) {
        while (c->pos < c->len && c->in[c->pos] == '\n')
            c->pos++;
        if (c->pos < c->len)
            break;
        if (conn_fill(c, err) < 0)
            return error_wrap(err, "waiting for the RDB");
    }
    char *line;
    if (conn_line(c, &line, err) < 0)
        return -1;
    long long length = redis_sync_length(line, err);
    free(line);
    if (length < 0)
        return -1;
    uint64_t received = 0;
    for (;;) {
        size_t avail = c->len - c->pos;
        if (avail > (uint64_t)length - received)
            avail = (size_t)((uint64_t)length - received);
        if (rdb_stream_push(s, c->in + c->pos, avail, err) < 0)
            return -1;
        c->pos += avail;
        received += avail;
        if (received == (uint64_t)length)
            break;
        c->pos = c->len = 0;
        if (conn_fill(c, err) < 0)
            return error_wrap(err, "the RDB transfer stopped after %llu of %lld bytes", (unsigned long long)received,
                              length);
    }
    return rdb_stream_finish(s, is_unchecked, err);
}

/* ---- the backup ----------------------------------------------------- */

static int authenticate(struct rconn *c, const struct redis_url *u, struct error *err)
{
    if (!u->password)
        return 0;
    const char *args[] = {"AUTH", u->user ? u->user : u->password, u->password};
    char *reply = NULL;
    int rc = conn_call(c, args, u->user ? 3 : 2, &reply, "authentication failed", err);
    free(reply);
    return rc;
}

/* The server's address, with the password of the URL or password_file. */
static int source_url(const struct redis_settings *src, struct redis_url *u, struct error *err)
{
    if (redis_url_parse(src->url, u, err) < 0)
        return -1;
    if (src->password_file) {
        char *password = NULL;
        if (secret_read_file(src->password_file, "the Redis password", &password, err) < 0) {
            redis_url_free(u);
            return -1;
        }
        secret_free(u->password);
        u->password = password;
    }
    return 0;
}

int redis_probe(const void *settings, char *what, size_t size, struct error *err)
{
    const struct redis_settings *src = settings;
    struct redis_url u;
    if (source_url(src, &u, err) < 0)
        return -1;
    char where[300], *info = NULL;
    snprintf(where, sizeof where, "%s:%s", u.host, u.port);
    struct rconn c;
    int rc = conn_connect(&c, &u, src->tls_ca_file, where, err);
    if (rc == 0) {
        rc = authenticate(&c, &u, err);
        const char *args[] = {"INFO", "server"};
        if (rc == 0)
            rc = conn_call(&c, args, 2, &info, "INFO failed", err);
        conn_close(&c);
    }
    if (rc == 0) {
        const char *v = strstr(info, "redis_version:");
        snprintf(what, size, "Redis %.*s at %s", v ? (int)strcspn(v + 14, "\r\n") : 1, v ? v + 14 : "?", where);
    } else {
        error_wrap(err, "cannot reach Redis at %s", where);
    }
    free(info);
    redis_url_free(&u);
    return rc;
}

int redis_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const struct redis_settings *src = settings;
    struct redis_url u;
    if (source_url(src, &u, err) < 0)
        return -1;
    char where[300];
    snprintf(where, sizeof where, "%s:%s", u.host, u.port);
    struct rconn c;
    struct bundle bundle;
    bundle_init(&bundle, ctx);
    json_t *meta = NULL;
    char *info = NULL, *reply = NULL;
    int rc = conn_connect(&c, &u, src->tls_ca_file, where, err);
    if (rc == 0)
        rc = authenticate(&c, &u, err);
    if (rc == 0) {
        const char *args[] = {"INFO"};
        rc = conn_call(&c, args, 1, &info, "INFO failed", err);
    }
    if (rc == 0) {
        meta = redis_info_meta(info);
        /* Redis 7: only the RDB, no command stream after it; older servers
         * answer with an error, and then the connection is just closed. */
        const char *args[] = {"REPLCONF", "rdb-only", "1"};
        rc = conn_command(&c, args, 3, err) < 0 || conn_reply(&c, &reply, err) < 0 ? -1 : 0;
    }
    bool is_unchecked = false;
    struct rdb_stream stream = {.write = write_to_bundle, .ctx = &bundle};
    if (rc == 0) {
        const char *args[] = {"SYNC"};
        rc = conn_command(&c, args, 1, err);
    }
    if (rc == 0)
        rc = receive_rdb(&c, &stream, &is_unchecked, err);
    conn_close(&c);
    if (rc == 0)
        rc = bundle_end(&bundle, REDIS_RDB_NAME, err);
    if (rc == 0)
        rc = bundle_finish(&bundle, ctx->snapshot->root, err);
    if (rc == 0) {
        char version[5] = {0};
        memcpy(version, stream.head + 5, 4);
        json_object_set_new(meta, "rdb_version", json_integer(strtol(version, NULL, 10)));
        json_object_set_new(meta, "rdb_bytes", json_integer((json_int_t)stream.bytes + CRC_LEN));
        json_object_set_new(meta, "checksum", json_string(is_unchecked ? "none" : "crc64"));
        ctx->snapshot->meta_json = json_dumps(meta, JSON_COMPACT);
        if (is_unchecked)
            string_list_add(ctx->warnings, "the server writes RDB files without a checksum (rdbchecksum no): "
                                           "the transfer could not be verified");
    }
    if (rc < 0)
        error_wrap(err, "cannot back up Redis at %s", where);
    json_decref(meta);
    free(info);
    free(reply);
    bundle_free(&bundle);
    redis_url_free(&u);
    return rc;
}
