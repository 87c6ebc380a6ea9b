/*
 * pgconn.h — connecting to PostgreSQL without exposing the password.
 *
 * A libpq URL may carry a password, a source may name a password file, and
 * PGPASSWORD may be set. Either way the password is taken out: the
 * connection string handed to pg_dump and pg_restore (whose command lines
 * anyone on the host can read) has none, and the password reaches them as
 * a .pgpass line in an anonymous memory file (memfd, mode 0600) that the
 * child inherits as descriptor N and finds through PGPASSFILE=/dev/fd/N in
 * its environment. The memory file has no name on any disk: it vanishes
 * with the last process holding it, even after SIGKILL or a crash, so no
 * password file can be left behind. Libpq inside coffer gets the password
 * as a connection parameter. Without a password, libpq's own ~/.pgpass and
 * PGPASSFILE apply as usual.
 *
 * sslpassword (the passphrase of an encrypted client key) is refused in a
 * URL, like password: it would reach pg_dump's command line.
 */
#ifndef COFFER_SOURCE_PGCONN_H
#define COFFER_SOURCE_PGCONN_H

#include <libpq-fe.h>

#include "util/error.h"
#include "util/spawn.h"

struct pg_target {
    char *conninfo;     /* "host='…' port='…' dbname='…' …", no password */
    char *dbname;       /* the database the URL names (default: the user name) */
    char *password;     /* NULL when libpq finds it on its own; locked memory (secret.h) */
    int pgpass_fd;      /* memfd holding the .pgpass line, or -1 */
    char pgpass_env[40]; /* "PGPASSFILE=/dev/fd/N" for children, or "" */
    const char *child_set[2]; /* { pgpass_env or NULL, NULL } */
    struct spawn_env child_env;
};

/* Parses a libpq URL or key=value string; password_file (may be NULL)
 * overrides a password in the URL, which overrides PGPASSWORD. A URL with
 * sslpassword fails (ERR_USAGE). Errors never quote the password. */
int pg_target_open(const char *url, const char *password_file, struct pg_target *t, struct error *err);
void pg_target_close(struct pg_target *t);

/* Connects, to dbname instead of the target's database when not NULL. */
PGconn *pg_target_connect(const struct pg_target *t, const char *dbname, struct error *err);

/* Sets err to "<what>: <libpq's message, first line>"; returns -1. */
int pg_conn_error(PGconn *conn, const char *what, struct error *err);

/* The conninfo for another database on the same server; caller frees. */
char *pg_target_conninfo_for(const struct pg_target *t, const char *dbname);

/* The environment of a PostgreSQL tool: PG* passed through (PGPASSWORD
 * never), PGPASSFILE and its descriptor when there is a password; owned
 * by t. */
const struct spawn_env *pg_target_child_env(const struct pg_target *t);

#endif
