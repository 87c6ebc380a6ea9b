/*
 * restore_db.c — restoring a PostgreSQL snapshot into a database.
 *
 * The target database is created when missing; one that already holds
 * tables is only overwritten with --force. The dump streams from the
 * repository into pg_restore's stdin (no temporary file), except for a
 * parallel restore (--jobs), which pg_restore can only do from a file.
 */
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source/pgconn.h"
#include "source/postgres.h"
#include "util/spawn.h"

static int query_failed(PGconn *conn, PGresult *res, const char *what, struct error *err)
{
    char message[512];
    snprintf(message, sizeof message, "%s", PQerrorMessage(conn));
    message[strcspn(message, "\n")] = '\0';
    PQclear(res);
    return error_set(err, "%s: %s", what, message);
}

/* Creates the database if it does not exist; *is_new says whether it did. */
static int ensure_database(const struct pg_target *t, bool *is_new, struct error *err)
{
    PGconn *conn = pg_target_connect(t, "postgres", err);
    if (!conn)
        return error_wrap(err, "cannot reach the server to create database %s", t->dbname);
    const char *params[] = {t->dbname};
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = query_failed(conn, res, "cannot look up the target database", err);
        PQfinish(conn);
        return rc;
    }
    *is_new = PQntuples(res) == 0;
    PQclear(res);
    int rc = 0;
    if (*is_new) {
        char *name = PQescapeIdentifier(conn, t->dbname, strlen(t->dbname));
        size_t len = strlen(name) + 32;
        char *sql = xmalloc(len);
        snprintf(sql, len, "CREATE DATABASE %s", name);
        PQfreemem(name);
        res = PQexec(conn, sql);
        free(sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = query_failed(conn, res, "cannot create the target database", err);
        else
            PQclear(res);
    }
    PQfinish(conn);
    return rc;
}

static int count_tables(const struct pg_target *t, long *count, struct error *err)
{
    PGconn *conn = pg_target_connect(t, NULL, err);
    if (!conn)
        return -1;
    PGresult *res = PQexec(conn, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                 "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                                 "AND n.nspname NOT LIKE 'pg_toast%'");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = query_failed(conn, res, "cannot inspect the target database", err);
    else {
        *count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    PQfinish(conn);
    return rc;
}

/* Writes the snapshot's dump to a private temporary file (for --jobs). */
static int dump_to_file(struct repo *repo, const struct snapshot *snap, unsigned workers, char *path_out,
                        size_t path_size, struct error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path_out, path_size, "%s/coffer-restore-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path_out);
    if (fd < 0)
        return error_errno(err, errno, "cannot create a temporary file for a parallel restore");
    int rc = ops_dump(repo, snap, POSTGRES_DUMP_NAME, fd, workers, err);
    if (close(fd) < 0 && rc == 0)
        rc = error_errno(err, errno, "cannot write %s", path_out);
    if (rc < 0)
        unlink(path_out);
    return rc;
}

static int run_pg_restore(struct repo *repo, const struct snapshot *snap, const struct pg_target *t,
                          const struct db_restore_options *opts, struct error *err)
{
    char dbname_arg[4096], table_arg[512], jobs_arg[32], file[512] = "";
    snprintf(dbname_arg, sizeof dbname_arg, "--dbname=%s", t->conninfo);
    snprintf(table_arg, sizeof table_arg, "--table=%s", opts->table ? opts->table : "");
    snprintf(jobs_arg, sizeof jobs_arg, "--jobs=%u", opts->jobs);
    bool is_parallel = opts->jobs > 1;
    if (is_parallel && dump_to_file(repo, snap, opts->workers, file, sizeof file, err) < 0)
        return -1;
    const char *argv[10];
    size_t argc = 0;
    argv[argc++] = "pg_restore";
    argv[argc++] = "--clean";
    argv[argc++] = "--if-exists";
    argv[argc++] = "--no-owner";
    argv[argc++] = dbname_arg;
    if (opts->table)
        argv[argc++] = table_arg;
    if (is_parallel) {
        argv[argc++] = jobs_arg;
        argv[argc++] = file;
    }
    argv[argc] = NULL;

    struct child child;
    int rc = spawn_start(argv, pg_target_child_env(t), is_parallel ? SPAWN_NO_PIPE : SPAWN_WRITE_STDIN, &child, err);
    if (rc < 0) {
        if (err->kind == ERR_NOT_FOUND)
            error_wrap(err, "cannot restore (install postgresql-client)");
    } else {
        struct error feed_err;
        int fed = is_parallel ? 0 : ops_dump(repo, snap, POSTGRES_DUMP_NAME, child.fd, opts->workers, &feed_err);
        /* pg_restore's own verdict first: if it stopped reading, its message
         * says why; if it succeeded, it stopped because it had what it
         * needed (one table), and the closed pipe is no error. */
        rc = spawn_finish(&child, err);
        if (rc == 0 && fed < 0 && feed_err.kind != ERR_CLOSED) {
            *err = feed_err;
            rc = -1;
        }
    }
    if (file[0])
        unlink(file);
    return rc;
}

int ops_restore_postgres(struct repo *repo, const struct snapshot *snap, const struct db_restore_options *opts,
                         struct error *err)
{
    struct pg_target t;
    if (strcmp(snap->type, "postgres") != 0)
        return error_setk(err, ERR_USAGE, "snapshot of source %s holds %s, not a PostgreSQL database: restore it to a directory",
                          snap->source, snap->type);
    if (pg_target_open(opts->target_url, opts->password_file, &t, err) < 0)
        return -1;
    bool is_new = false;
    long tables = 0;
    int rc = ensure_database(&t, &is_new, err);
    if (rc == 0 && !is_new && !opts->is_force) {
        rc = count_tables(&t, &tables, err);
        if (rc == 0 && tables > 0 && !opts->table)
            rc = error_set(err, "database %s already has %ld table%s: restoring replaces them; "
                            "add --force to restore into it anyway", t.dbname, tables, tables == 1 ? "" : "s");
    }
    if (rc == 0)
        rc = run_pg_restore(repo, snap, &t, opts, err);
    if (rc < 0)
        error_wrap(err, "restore into database %s failed", t.dbname);
    pg_target_close(&t);
    return rc;
}
