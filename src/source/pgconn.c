/*
 * pgconn.c — connection strings without passwords (see pgconn.h).
 */
#include "source/pgconn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/fdio.h"
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

/* Puts "*:*:*:*:password" (':' and '\\' escaped, as .pgpass wants) in a
 * memory file. It is close-on-exec: only the children spawn_start hands
 * it to (keep_fds) inherit it. libpq stats PGPASSFILE and wants a regular
 * file without group or other access: a memfd is a regular file, and
 * fchmod makes it 0600. */
static int write_pgpass(struct pg_target *t, struct error *err)
{
    int fd = memfd_create("coffer-pgpass", MFD_CLOEXEC);
    if (fd < 0)
        return error_errno(err, errno, "cannot create a memory file for the database password");
    if (fchmod(fd, 0600) < 0) {
        int saved = errno;
        close(fd);
        return error_errno(err, saved, "cannot make the database password's memory file private");
    }
    struct buf line = BUF_INIT;
    buf_append(&line, "*:*:*:*:", 8);
    for (const char *p = t->password; *p; p++) {
        if (*p == ':' || *p == '\\')
            buf_append(&line, "\\", 1);
        buf_append(&line, p, 1);
    }
    buf_append(&line, "\n", 1);
    int rc = write_all(fd, line.data, line.len);
    int saved = errno;
    crypto_wipe(line.data, line.len);
    buf_free(&line);
    if (rc < 0) {
        close(fd);
        return error_errno(err, saved, "cannot write the database password's memory file");
    }
    t->pgpass_fd = fd;
    snprintf(t->pgpass_env, sizeof t->pgpass_env, "PGPASSFILE=/dev/fd/%d", fd);
    return 0;
}

int pg_target_open(const char *url, const char *password_file, struct pg_target *t, struct error *err)
{
    char *parse_error = NULL;
    memset(t, 0, sizeof *t);
    t->pgpass_fd = -1;
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
            t->password = secret_dup(o->val);
            continue;
        }
        if (strcmp(o->keyword, "sslpassword") == 0) {
            PQconninfoFree(options);
            buf_free(&conninfo);
            pg_target_close(t);
            return error_setk(err, ERR_USAGE, "the database URL contains sslpassword= (the client key's passphrase), "
                              "which would be on pg_dump's command line: decrypt the key (openssl pkey), keep it "
                              "mode 0600 and name it with sslkey=");
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
    /* pg_dump never sees PGPASSWORD (children get no secrets from the
     * environment): it goes the same way as a password from a file. */
    const char *env_password = getenv("PGPASSWORD");
    if (!t->password && env_password && *env_password)
        t->password = secret_dup(env_password);
    if (t->password && write_pgpass(t, err) < 0) {
        pg_target_close(t);
        return -1;
    }
    t->child_set[0] = t->pgpass_env[0] ? t->pgpass_env : NULL;
    t->child_set[1] = NULL;
    t->child_env.pass = spawn_pass_postgres;
    t->child_env.set = t->child_set;
    t->child_env.keep_fds[0] = t->pgpass_fd >= 0 ? t->pgpass_fd : 0;
    return 0;
}

void pg_target_close(struct pg_target *t)
{
    if (t->pgpass_fd >= 0)
        close(t->pgpass_fd);
    secret_free(t->password);
    free(t->conninfo);
    free(t->dbname);
    memset(t, 0, sizeof *t);
    t->pgpass_fd = -1;
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
        if (strstr(err->msg, "password")) { /* say where coffer looks for it */
            char said[ERROR_MSG_MAX];
            memcpy(said, err->msg, sizeof said);
            error_set(err, "%s (the password comes from --db-password-file, else the source's password_file: in "
                      "coffer.yaml, else ~/.pgpass or PGPASSFILE)", said);
        }
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

const struct spawn_env *pg_target_child_env(const struct pg_target *t)
{
    return &t->child_env;
}
