/*
 * pgconn.c — connection strings without passwords (see pgconn.h).
 */
#include "source/pgconn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/secret.h"

static void append_quoted(struct buf *out, const char *key, const char *value)
{
    if (out->len)
        buf_append(out, " ", 1);
    buf_append(out, key, strlen(key));
    buf_append(out, "='", 2);
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            buf_append(out, "\\", 1);
        buf_append(out, p, 1);
    }
    buf_append(out, "'", 1);
}

/* Writes "*:*:*:*:password" with ':' and '\' escaped, as .pgpass wants. */
static int write_pgpass(struct pg_target *t, struct error *err)
{
    char dir_template[] = "/tmp/coffer-pg-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char *dir_path;
    if (tmp && *tmp) {
        size_t len = strlen(tmp) + 20;
        dir_path = xmalloc(len);
        snprintf(dir_path, len, "%s/coffer-pg-XXXXXX", tmp);
    } else {
        dir_path = xstrdup(dir_template);
    }
    if (!mkdtemp(dir_path)) {
        int saved = errno;
        free(dir_path);
        return error_errno(err, saved, "cannot create a private temporary directory");
    }
    t->pgpass_dir = dir_path;
    size_t len = strlen(dir_path) + 16;
    char *file = xmalloc(len);
    snprintf(file, len, "%s/pgpass", dir_path);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int saved = errno;
        free(file);
        return error_errno(err, saved, "cannot create a private password file");
    }
    struct buf line = BUF_INIT;
    buf_append(&line, "*:*:*:*:", 8);
    for (const char *p = t->password; *p; p++) {
        if (*p == ':' || *p == '\\')
            buf_append(&line, "\\", 1);
        buf_append(&line, p, 1);
    }
    buf_append(&line, "\n", 1);
    ssize_t written = write(fd, line.data, line.len);
    crypto_wipe(line.data, line.len);
    buf_free(&line);
    close(fd);
    if (written < 0) {
        free(file);
        return error_set(err, "cannot write a private password file");
    }
    size_t env_len = strlen(file) + 16;
    t->pgpass_env = xmalloc(env_len);
    snprintf(t->pgpass_env, env_len, "PGPASSFILE=%s", file);
    free(file);
    return 0;
}

int pg_target_open(const char *url, const char *password_file, struct pg_target *t, struct error *err)
{
    char *parse_error = NULL;
    memset(t, 0, sizeof *t);
    PQconninfoOption *options = PQconninfoParse(url, &parse_error);
    if (!options) {
        /* libpq's message may quote the string; the password must not leak. */
        PQfreemem(parse_error);
        return error_setk(err, ERR_USAGE, "the database URL is not a valid libpq connection string "
                          "(postgresql://user@host:port/dbname)");
    }
    struct buf conninfo = BUF_INIT;
    const char *user = NULL;
    for (PQconninfoOption *o = options; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (strcmp(o->keyword, "password") == 0) {
            t->password = xstrdup(o->val);
            continue;
        }
        if (strcmp(o->keyword, "dbname") == 0)
            t->dbname = xstrdup(o->val);
        if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        append_quoted(&conninfo, o->keyword, o->val);
    }
    if (!t->dbname)
        t->dbname = xstrdup(user ? user : (getenv("PGDATABASE") ? getenv("PGDATABASE") : "postgres"));
    PQconninfoFree(options);
    buf_append(&conninfo, "", 1);
    t->conninfo = (char *)conninfo.data;
    if (password_file) {
        secret_free(t->password);
        t->password = NULL;
        if (secret_read_file(password_file, "database password file", &t->password, err) < 0) {
            pg_target_close(t);
            return -1;
        }
    }
    if (t->password && write_pgpass(t, err) < 0) {
        pg_target_close(t);
        return -1;
    }
    t->child_env[0] = t->pgpass_env;
    t->child_env[1] = NULL;
    return 0;
}

void pg_target_close(struct pg_target *t)
{
    if (t->pgpass_dir) {
        size_t len = strlen(t->pgpass_dir) + 16;
        char *file = xmalloc(len);
        snprintf(file, len, "%s/pgpass", t->pgpass_dir);
        unlink(file);
        free(file);
        rmdir(t->pgpass_dir);
    }
    secret_free(t->password);
    free(t->conninfo);
    free(t->dbname);
    free(t->pgpass_dir);
    free(t->pgpass_env);
    memset(t, 0, sizeof *t);
}

char *pg_target_conninfo_for(const struct pg_target *t, const char *dbname)
{
    struct buf out = BUF_INIT;
    buf_append(&out, t->conninfo, strlen(t->conninfo));
    append_quoted(&out, "dbname", dbname); /* the last dbname wins in libpq */
    buf_append(&out, "", 1);
    return (char *)out.data;
}

PGconn *pg_target_connect(const struct pg_target *t, const char *dbname, struct error *err)
{
    char *conninfo = pg_target_conninfo_for(t, dbname ? dbname : t->dbname);
    const char *keys[] = {"dbname", "password", "application_name", NULL};
    const char *values[] = {conninfo, t->password, "coffer", NULL};
    if (!t->password)
        keys[1] = NULL; /* let libpq find it in ~/.pgpass or PGPASSFILE */
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    free(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        char what[300];
        snprintf(what, sizeof what, "cannot connect to database %s", dbname ? dbname : t->dbname);
        pg_conn_error(conn, what, err);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int pg_conn_error(PGconn *conn, const char *what, struct error *err)
{
    char message[512];
    snprintf(message, sizeof message, "%s", PQerrorMessage(conn));
    message[strcspn(message, "\n")] = '\0';
    return error_set(err, "%s: %s", what, message);
}

const char *const *pg_target_child_env(const struct pg_target *t)
{
    return t->child_env;
}
