/*
 * restore_db.c — restoring a PostgreSQL snapshot into a database.
 *
 * The target database is created when missing; one that already holds
 * tables is only overwritten with --force. The dump streams from the
 * repository into pg_restore's stdin (no temporary file).
 *
 * A parallel restore (--jobs N) into an empty database is driven by coffer
 * itself, because pg_restore --jobs loads each table over one connection
 * and the largest table then sets the pace:
 *  1. pg_restore creates the schema (pre-data entries, sequence values)
 *     from a small file holding only the archive's table of contents;
 *  2. coffer loads the rows of every table over N connections at once
 *     (pgload.h), straight from the repository;
 *  3. pg_restore --jobs N builds the indexes, constraints and triggers
 *     (post-data) from the same small file.
 * Archives coffer cannot take apart (compressed, with large objects), a
 * database with tables (--force) and --table go to pg_restore alone, which
 * needs the whole dump in a temporary file for --jobs.
 *
 * No file here has a name while it holds anything: the table of contents
 * and the entry lists are memory files, the whole dump for pg_restore
 * --jobs an unnamed file in $TMPDIR (O_TMPFILE, or, where the file system
 * lacks it, a file unlinked the moment it is created). pg_restore gets
 * them as inherited descriptors, /dev/fd/N. A SIGTERM, SIGKILL or crash
 * therefore leaves no plaintext dump behind: the kernel frees the file
 * with its last descriptor. The fallback's name (coffer-restore-PID-…)
 * exists only for the instant between create and unlink; such a file of a
 * process that is gone is removed at the next restore.
 */
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "source/pgarchive.h"
#include "source/pgconn.h"
#include "source/pgload.h"
#include "source/postgres.h"
#include "source/types.h"
#include "util/buf.h"
#include "util/fdio.h"
#include "util/spawn.h"
#include "util/text.h"

static int query_failed(PGconn *conn, PGresult *res, const char *what, struct error *err)
{
    PQclear(res);
    return pg_conn_error(conn, what, err);
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

#define TEMP_PREFIX "coffer-restore-"

static const char *temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* Removes TEMP_PREFIX "PID-…" files in dir whose process is gone: what a
 * restore killed between creating and unlinking its file left. */
static void sweep_stale_temp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + strlen(TEMP_PREFIX), &end, 10);
        if (pid <= 0 || *end != '-' || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* A read-write file in $TMPDIR that has no name, so it cannot outlive
 * the processes holding it. */
static int open_unnamed_temp(struct error *err)
{
    const char *dir = temp_dir();
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return error_errno(err, errno, "cannot create a temporary file in %s for a parallel restore", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/" TEMP_PREFIX "%ld-XXXXXX", dir, (long)getpid());
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return error_errno(err, errno, "cannot create a temporary file in %s for a parallel restore", dir);
    unlink(path);
    return fd;
}

/* A memory file holding data, for pg_restore to read as /dev/fd/N. */
static int memory_file(const char *what, const void *data, size_t len, struct error *err)
{
    int fd = memfd_create(what, MFD_CLOEXEC);
    if (fd < 0)
        return error_errno(err, errno, "cannot create a memory file for the %s", what);
    if (write_all(fd, data, len) < 0) {
        int saved = errno;
        close(fd);
        return error_errno(err, saved, "cannot write the %s to a memory file", what);
    }
    return fd;
}

/* Writes the snapshot's dump to an unnamed temporary file (for --jobs);
 * returns its descriptor or -1. */
static int dump_to_file(struct repo *repo, const struct snapshot *snap, unsigned workers, struct error *err)
{
    int fd = open_unnamed_temp(err);
    if (fd < 0)
        return -1;
    if (ops_dump(repo, snap, POSTGRES_DUMP_NAME, fd, workers, err) < 0) {
        close(fd);
        return error_wrap(err, "cannot copy the dump to a temporary file in %s", temp_dir());
    }
    return fd;
}

/* The tool's environment (pgconn.h) with fds inherited as well. */
static struct spawn_env tool_env(const struct pg_target *t, int fd_a, int fd_b)
{
    struct spawn_env env = *pg_target_child_env(t);
    env.keep_fds[1] = fd_a > 0 ? fd_a : 0;
    env.keep_fds[2] = fd_b > 0 ? fd_b : 0;
    return env;
}

static int run_pg_restore(struct repo *repo, const struct snapshot *snap, const struct pg_target *t,
                          const struct db_restore_options *opts, enum db_restore_method *method, struct error *err)
{
    char dbname_arg[4096], table_arg[512], jobs_arg[32], file[32] = "";
    snprintf(dbname_arg, sizeof dbname_arg, "--dbname=%s", t->conninfo);
    snprintf(table_arg, sizeof table_arg, "--table=%s", opts->table ? opts->table : "");
    snprintf(jobs_arg, sizeof jobs_arg, "--jobs=%u", opts->jobs);
    bool is_parallel = opts->jobs > 1;
    *method = is_parallel ? DB_RESTORE_STAGED : DB_RESTORE_STREAMED;
    int file_fd = is_parallel ? dump_to_file(repo, snap, opts->workers, err) : 0;
    if (file_fd < 0)
        return -1;
    if (is_parallel)
        snprintf(file, sizeof file, "/dev/fd/%d", file_fd);
    struct spawn_env env = tool_env(t, file_fd, 0);
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
    int rc = spawn_start(argv, &env, is_parallel ? SPAWN_NO_PIPE : SPAWN_WRITE_STDIN, &child, err);
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
    if (file_fd > 0)
        close(file_fd);
    return rc;
}

/* ---- parallel restore ------------------------------------------------ */

struct parallel_restore {
    struct repo *repo;
    const struct snapshot *snap;
    const struct pg_target *t;
    const struct db_restore_options *opts;
    int toc_fd;         /* memory file: the archive's head, up to its data */
    char toc_file[32];  /* /dev/fd/N */
    struct pga_stream archive;
    bool is_unloadable; /* the archive goes to pg_restore alone */
    struct pg_loader *loader;
};

/* Runs pg_restore with these arguments after the common ones; it
 * inherits the descriptors fd_a and fd_b (0: none). */
static int run_tool(const struct pg_target *t, const char *const *args, int fd_a, int fd_b, struct error *err)
{
    struct spawn_env env = tool_env(t, fd_a, fd_b);
    char dbname_arg[4096];
    snprintf(dbname_arg, sizeof dbname_arg, "--dbname=%s", t->conninfo);
    const char *argv[16] = {"pg_restore", "--no-owner", dbname_arg};
    size_t argc = 3;
    for (; *args && argc < 15; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    struct child child;
    if (spawn_start(argv, &env, SPAWN_NO_PIPE, &child, err) < 0) {
        if (err->kind == ERR_NOT_FOUND)
            error_wrap(err, "cannot restore (install postgresql-client)");
        return -1;
    }
    return spawn_finish(&child, err);
}

static bool is_schema_entry(const struct pga_entry *e)
{
    return e->section == PGA_SECTION_PRE_DATA || (e->section == PGA_SECTION_DATA && !e->has_data);
}

static bool is_post_data_entry(const struct pga_entry *e)
{
    return e->section == PGA_SECTION_POST_DATA;
}

/* A pg_restore --use-list memory file naming the entries `wanted` picks;
 * returns its descriptor, its path (/dev/fd/N) in path, or -1. */
static int write_list(const struct parallel_restore *pr, const char *name, bool (*wanted)(const struct pga_entry *),
                      char *path, size_t path_size, struct error *err)
{
    struct buf list = BUF_INIT;
    char line[32];
    for (size_t i = 0; i < pr->archive.toc.count; i++) {
        if (!wanted(&pr->archive.toc.entries[i]))
            continue;
        int n = snprintf(line, sizeof line, "%d\n", pr->archive.toc.entries[i].dump_id);
        buf_append(&list, line, (size_t)n);
    }
    int fd = memory_file(name, list.data ? list.data : (const uint8_t *)"", list.len, err);
    buf_free(&list);
    if (fd >= 0)
        snprintf(path, path_size, "/dev/fd/%d", fd);
    return fd;
}

/* Whether coffer can load this archive's data itself; if not, why. */
static bool is_loadable(const struct pga_toc *toc, struct error *why)
{
    if (toc->is_compressed) {
        error_set(why, "the dump is compressed");
        return false;
    }
    for (size_t i = 0; i < toc->count; i++) {
        const struct pga_entry *e = &toc->entries[i];
        if (e->has_data && (strcmp(e->desc, "TABLE DATA") != 0 || !e->copy_stmt || !e->copy_stmt[0])) {
            error_set(why, "the dump holds %s", e->desc);
            return false;
        }
    }
    return true;
}

/* The session settings pg_dump recorded (encoding, string syntax, search
 * path), and ours, for the loading connections. */
static char *session_setup(const struct pga_toc *toc)
{
    struct buf sql = BUF_INIT;
    for (size_t i = 0; i < toc->count; i++) {
        const struct pga_entry *e = &toc->entries[i];
        if (e->defn && (strcmp(e->desc, "ENCODING") == 0 || strcmp(e->desc, "STDSTRINGS") == 0 ||
                        strcmp(e->desc, "SEARCHPATH") == 0))
            buf_append(&sql, e->defn, strlen(e->defn));
    }
    /* A commit need not wait for its WAL to reach disk: a restore cut
     * short by a crash is restored again anyway. */
    const char *no_wait = "SET synchronous_commit = off;";
    buf_append(&sql, no_wait, strlen(no_wait) + 1);
    return (char *)sql.data;
}

static int block_start(void *ctx, int dump_id, struct error *err)
{
    struct parallel_restore *pr = ctx;
    const struct pga_entry *e = pga_toc_find(&pr->archive.toc, dump_id);
    if (!e || strcmp(e->desc, "TABLE DATA") != 0)
        return error_set(err, "the dump has a data block (entry %d) its table of contents does not list as table data",
                         dump_id);
    return pg_loader_begin_table(pr->loader, e->copy_stmt, err);
}

static int block_data(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct parallel_restore *pr = ctx;
    return pg_loader_write(pr->loader, data, len, err);
}

static int block_end(void *ctx, struct error *err)
{
    struct parallel_restore *pr = ctx;
    return pg_loader_end_table(pr->loader, err);
}

/* With the TOC known: the schema, then connections ready for the rows. */
static int start_loading(void *ctx, struct pga_stream *archive, struct pga_data_handler *handler, struct error *err)
{
    struct parallel_restore *pr = ctx;
    struct error why;
    if (!is_loadable(&archive->toc, &why)) {
        pr->is_unloadable = true;
        return error_set(err, "coffer does not load this dump itself: %s", why.msg);
    }
    char list[32];
    pr->toc_fd = memory_file("table of contents", archive->head.data, archive->toc.data_start, err);
    if (pr->toc_fd < 0)
        return -1;
    snprintf(pr->toc_file, sizeof pr->toc_file, "/dev/fd/%d", pr->toc_fd);
    int list_fd = write_list(pr, "schema list", is_schema_entry, list, sizeof list, err);
    if (list_fd < 0)
        return -1;
    const char *args[] = {"--clean", "--if-exists", "--use-list", list, pr->toc_file, NULL};
    int rc = run_tool(pr->t, args, pr->toc_fd, list_fd, err);
    close(list_fd);
    if (rc < 0)
        return error_wrap(err, "cannot create the schema");
    char *setup = session_setup(&archive->toc);
    pr->loader = pg_loader_new(pr->t, pr->opts->jobs, setup, err);
    free(setup);
    if (!pr->loader)
        return -1;
    *handler = (struct pga_data_handler){block_start, block_data, block_end, pr};
    return 0;
}

/* Receives the dump from the repository in order. */
static int parallel_sink(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct parallel_restore *pr = ctx;
    return pga_stream_feed(&pr->archive, data, len, err);
}

static int finish_loading(struct parallel_restore *pr, struct error *err)
{
    if (pga_stream_finish(&pr->archive, err) < 0 || pg_loader_finish(pr->loader, err) < 0)
        return -1;
    char list[32], jobs_arg[32];
    snprintf(jobs_arg, sizeof jobs_arg, "--jobs=%u", pr->opts->jobs);
    int list_fd = write_list(pr, "post-data list", is_post_data_entry, list, sizeof list, err);
    if (list_fd < 0)
        return -1;
    const char *args[] = {jobs_arg, "--use-list", list, pr->toc_file, NULL};
    int rc = run_tool(pr->t, args, pr->toc_fd, list_fd, err);
    close(list_fd);
    if (rc < 0)
        return error_wrap(err, "cannot create indexes and constraints");
    return 0;
}

static int restore_parallel(struct repo *repo, const struct snapshot *snap, const struct pg_target *t,
                            const struct db_restore_options *opts, enum db_restore_method *method,
                            struct error *err)
{
    struct parallel_restore pr = {.repo = repo, .snap = snap, .t = t, .opts = opts, .toc_fd = -1};
    pga_stream_init(&pr.archive, start_loading, &pr);
    int rc = ops_read(repo, snap, POSTGRES_DUMP_NAME, opts->workers, parallel_sink, &pr, err);
    if (rc == 0)
        rc = finish_loading(&pr, err);
    pg_loader_free(pr.loader);
    bool is_unsupported = pr.archive.is_unreadable || pr.is_unloadable;
    pga_stream_free(&pr.archive);
    if (pr.toc_fd >= 0)
        close(pr.toc_fd);
    if (is_unsupported) /* nothing was done yet: pg_restore does it all */
        return run_pg_restore(repo, snap, t, opts, method, err);
    *method = DB_RESTORE_LOADED;
    return rc;
}

/* Whether name (as pg_restore --table takes it: "users" or
 * "public.users") is table t ("schema.table"). */
static bool is_table(const char *t, const char *name)
{
    const char *dot = strchr(t, '.');
    return !strcmp(t, name) || (dot && !strcmp(dot + 1, name));
}

/* --table of a table the snapshot does not hold fails before the target
 * is touched: pg_restore would restore nothing and succeed. A snapshot
 * that records no tables is left to pg_restore. */
static int check_table_held(const struct snapshot *snap, const char *name, struct error *err)
{
    struct table_rows *tables;
    long count = postgres_snapshot_tables(snap, &tables);
    bool is_held = count < 0;
    for (long i = 0; i < count && !is_held; i++)
        is_held = is_table(tables[i].name, name);
    if (is_held) {
        table_rows_free(tables, count > 0 ? (size_t)count : 0);
        return 0;
    }
    char similar[600] = "";
    size_t used = 0, shown = 0;
    for (long i = 0; i < count && shown < 5; i++) {
        const char *dot = strchr(tables[i].name, '.'), *bare = dot ? dot + 1 : tables[i].name;
        if (text_distance(bare, name) > 2 && !strstr(bare, name) && !strstr(name, bare))
            continue;
        int n = snprintf(similar + used, sizeof similar - used, "%s%s", shown ? ", " : "", tables[i].name);
        if (n < 0 || (size_t)n >= sizeof similar - used)
            break;
        used += (size_t)n;
        shown++;
    }
    char hex[65];
    snapshot_id_hex(snap, hex);
    error_setk(err, ERR_USAGE, "snapshot %.8s of %s holds no table \"%s\"%s%s%s (it holds %ld table%s); nothing was "
               "restored", hex, snap->source, name, shown ? " (similar: " : "", similar, shown ? ")" : "", count,
               count == 1 ? "" : "s");
    table_rows_free(tables, (size_t)count);
    return -1;
}

/* The postgres type's database target (source/types.h): the jobs of the
 * request, else of the configured source, else 1. */
int ops_restore_database(struct repo *repo, const struct snapshot *snap, const struct restore_request *req, char *note,
                         size_t note_size, struct error *err)
{
    const struct postgres_settings *src = req->settings;
    struct db_restore_options db = {
        .target_url = req->target,
        .password_file = req->password_file ? req->password_file : src ? src->password_file : NULL,
        .table = req->table,
        .jobs = req->jobs ? req->jobs : src && src->jobs ? src->jobs : 1,
        .is_force = req->is_force,
        .workers = req->workers,
    };
    enum db_restore_method method;
    if (req->table && check_table_held(snap, req->table, err) < 0)
        return -1;
    if (ops_restore_postgres(repo, snap, &db, &method, err) < 0)
        return -1;
    if (method == DB_RESTORE_LOADED)
        snprintf(note, note_size, " (rows loaded over %u connections)", db.jobs);
    else if (method == DB_RESTORE_STAGED)
        snprintf(note, note_size, " (pg_restore --jobs, from a copy in $TMPDIR)");
    return 0;
}

int ops_restore_postgres(struct repo *repo, const struct snapshot *snap, const struct db_restore_options *opts,
                         enum db_restore_method *method, struct error *err)
{
    struct pg_target t;
    enum db_restore_method ignored;
    if (!method)
        method = &ignored;
    sweep_stale_temp(temp_dir());
    if (pg_target_open(opts->target_url, opts->password_file, &t, err) < 0)
        return -1;
    bool is_new = false;
    long tables = 0;
    int rc = ensure_database(&t, &is_new, err);
    if (rc == 0 && !is_new)
        rc = count_tables(&t, &tables, err);
    if (rc == 0 && tables > 0 && !opts->is_force && !opts->table)
        rc = error_set(err, "database %s already has %ld table%s: restoring replaces them; "
                            "add --force to restore into it anyway", t.dbname, tables, tables == 1 ? "" : "s");
    if (rc == 0 && opts->jobs > 1 && !opts->table && tables == 0)
        rc = restore_parallel(repo, snap, &t, opts, method, err);
    else if (rc == 0)
        rc = run_pg_restore(repo, snap, &t, opts, method, err);
    if (rc < 0)
        error_wrap(err, "restore into database %s failed", t.dbname);
    pg_target_close(&t);
    return rc;
}
