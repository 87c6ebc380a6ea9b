/*
 * pgconn.h — connecting to PostgreSQL without exposing the password.
 *
 * A libpq URL may carry a password, and a source may name a password file.
 * Either way the password is taken out: the connection string handed to
 * pg_dump and pg_restore (whose command lines anyone on the host can read)
 * has none, and the password reaches them through a private .pgpass file
 * (mode 0600, in a private temporary directory, removed afterwards) named
 * by PGPASSFILE in the child's environment only. Without either, libpq's
 * own ~/.pgpass and PGPASSFILE apply as usual.
 */
#ifndef COFFER_SOURCE_PGCONN_H
#define COFFER_SOURCE_PGCONN_H

#include <libpq-fe.h>

#include "util/error.h"

struct pg_target {
    char *conninfo;     /* "host='…' port='…' dbname='…' …", no password */
    char *dbname;       /* the database the URL names (default: the user name) */
    char *password;     /* NULL when libpq finds it on its own */
    char *pgpass_dir;   /* private directory holding the .pgpass file */
    char *pgpass_env;   /* "PGPASSFILE=…" for children, or NULL */
    const char *child_env[2]; /* { pgpass_env or NULL, NULL } */
};

/* Parses a libpq URL or key=value string; password_file (may be NULL)
 * overrides a password in the URL. Errors never quote the password. */
int pg_target_open(const char *url, const char *password_file, struct pg_target *t, struct error *err);
void pg_target_close(struct pg_target *t);

/* Connects, to dbname instead of the target's database when not NULL. */
PGconn *pg_target_connect(const struct pg_target *t, const char *dbname, struct error *err);

/* Sets err to "<what>: <libpq's message, first line>"; returns -1. */
int pg_conn_error(PGconn *conn, const char *what, struct error *err);

/* The conninfo for another database on the same server; caller frees. */
char *pg_target_conninfo_for(const struct pg_target *t, const char *dbname);

/* The environment additions for a child (NULL-terminated, owned by t). */
const char *const *pg_target_child_env(const struct pg_target *t);

#endif
