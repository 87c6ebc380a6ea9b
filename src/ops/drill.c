/*
 * drill.c — restore drills (see drill.h).
 */
#include "ops/drill.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops/ops.h"
#include "repo/blob.h"
#include "repo/index.h"
#include "source/pgconn.h"
#include "source/program.h"
#include "source/redis.h"
#include "source/types.h"
#include "util/progress.h"
#include "util/spawn.h"
#include "util/text.h"

__attribute__((format(printf, 5, 6)))
void drill_step(struct drill *d, const char *name, double started, bool is_ok, const char *fmt, ...)
{
    char detail[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_array_append_new(d->steps, json_pack("{s:s, s:b, s:f, s:s}", "name", name, "ok", is_ok, "seconds",
                                              progress_now() - started, "detail", detail));
    if (!is_ok && !d->has_failed) {
        d->has_failed = true;
        error_set(&d->first, "%s: %s", name, detail);
    }
}

/* ---- postgres ----------------------------------------------------------- */

/* schema.table as quoted identifiers (schema may be NULL); caller frees. */
static char *quote_qualified(PGconn *conn, const char *schema, const char *table)
{
    char *s = schema ? PQescapeIdentifier(conn, schema, strlen(schema)) : NULL;
    char *t = PQescapeIdentifier(conn, table, strlen(table));
    size_t len = (s ? strlen(s) : 0) + (t ? strlen(t) : 0) + 2;
    char *out = xmalloc(len);
    snprintf(out, len, "%s%s%s", s ? s : "", s ? "." : "", t ? t : "");
    PQfreemem(s);
    PQfreemem(t);
    return out;
}

/* First column of the first row of a query, or NULL with why set. */
static char *query_value(PGconn *conn, const char *sql, char *why, size_t why_size)
{
    PGresult *res = PQexec(conn, sql);
    char *value = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);
        snprintf(why, why_size, "%.*s", (int)strcspn(msg, "\n"), msg);
    } else if (PQntuples(res) < 1 || PQnfields(res) < 1) {
        snprintf(why, why_size, "the query returned no value");
    } else {
        value = xstrdup(PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return value;
}

/* Every table recorded at backup is there, with its recorded row count. */
static void check_tables(struct drill *d, PGconn *conn)
{
    double started = progress_now();
    json_t *rows = json_object_get(d->meta, "rows");
    if (!json_is_array(rows)) {
        drill_step(d, "tables and row counts", started, true,
             "skipped: the snapshot recorded no row counts (made by a coffer before 0.1.0's drills)");
        return;
    }
    size_t tables = 0, missing = 0, wrong = 0;
    uint64_t total = 0;
    char detail[ERROR_MSG_MAX] = "", why[512];
    size_t i;
    json_t *entry;
    json_array_foreach(rows, i, entry) {
        const char *schema = json_string_value(json_object_get(entry, "schema"));
        const char *table = json_string_value(json_object_get(entry, "table"));
        if (!table)
            continue;
        char name[600];
        snprintf(name, sizeof name, "%s%s%s", schema ? schema : "", schema ? "." : "", table);
        tables++;
        char *quoted = quote_qualified(conn, schema, table);
        size_t len = strlen(quoted) + 64;
        char *sql = xmalloc(len);
        snprintf(sql, len, "SELECT count(*) FROM %s", quoted);
        char *got = query_value(conn, sql, why, sizeof why);
        long long expected = (long long)json_integer_value(json_object_get(entry, "rows"));
        size_t used = strlen(detail);
        if (!got) {
            missing++;
            snprintf(detail + used, sizeof detail - used, "%s%s: %s", used ? "; " : "", name, why);
        } else if (strtoll(got, NULL, 10) != expected) {
            wrong++;
            snprintf(detail + used, sizeof detail - used, "%s%s has %s rows, %lld at backup", used ? "; " : "", name,
                     got, expected);
        } else {
            total += (uint64_t)expected;
        }
        free(got);
        free(sql);
        free(quoted);
    }
    if (missing || wrong)
        drill_step(d, "tables and row counts", started, false, "%zu of %zu tables differ: %s", missing + wrong, tables,
             detail);
    else
        drill_step(d, "tables and row counts", started, true, "%zu tables, %llu rows, as at backup", tables,
             (unsigned long long)total);
}

static void check_foreign_keys(struct drill *d, PGconn *conn)
{
    double started = progress_now();
    char why[512];
    char *count = query_value(conn,
                              "SELECT count(*) FILTER (WHERE convalidated) || ' ' || count(*) FILTER (WHERE NOT convalidated)"
                              " FROM pg_constraint WHERE contype = 'f'",
                              why, sizeof why);
    unsigned long valid = 0, invalid = 0;
    json_t *recorded = json_object_get(d->meta, "foreign_keys");
    long want = json_is_integer(recorded) ? (long)json_integer_value(recorded) : -1;
    if (!count || sscanf(count, "%lu %lu", &valid, &invalid) != 2)
        drill_step(d, "foreign keys", started, false, "cannot list them: %s", count ? "unexpected answer" : why);
    else if (invalid)
        drill_step(d, "foreign keys", started, false, "%lu of %lu foreign keys are not validated", invalid, valid + invalid);
    else if (want >= 0 && (long)valid != want)
        drill_step(d, "foreign keys", started, false, "%lu foreign keys hold, but the dump has %ld: the restore could not "
             "create the others (rows break them)", valid, want);
    else
        drill_step(d, "foreign keys", started, true, "%lu foreign keys hold%s", valid, want >= 0 ? ", as in the dump" : "");
    free(count);
}

static void run_checks(struct drill *d, PGconn *conn)
{
    for (size_t i = 0; i < d->opts->check_count; i++) {
        const struct config_check *c = &d->opts->checks[i];
        double started = progress_now();
        char why[512];
        char *got = query_value(conn, c->sql, why, sizeof why);
        if (!got)
            drill_step(d, c->name, started, false, "the query failed: %s", why);
        else if (c->expect ? strcmp(got, c->expect) != 0 : strcmp(got, "t") != 0)
            drill_step(d, c->name, started, false, "got %s, expected %s", got, c->expect ? c->expect : "true");
        else
            drill_step(d, c->name, started, true, "got %s", got);
        free(got);
    }
}

void ops_drill_postgres(struct drill *d)
{
    const struct drill_options *o = d->opts;
    double started = progress_now();
    struct pg_target t;
    struct error err;
    if (!o->scratch_url) {
        drill_step(d, "restore", started, false,
             "no scratch server: set drill.postgres.scratch_url (or the source's drill.scratch_url) in coffer.yaml");
        return;
    }
    if (pg_target_open(o->scratch_url, o->password_file, &t, &err) < 0) {
        drill_step(d, "restore", started, false, "%s", err.msg);
        return;
    }
    char *conninfo = pg_target_conninfo_for(&t, o->scratch_db);
    struct db_restore_options ro = {.target_url = conninfo, .password_file = o->password_file,
                                    .jobs = o->jobs ? o->jobs : 1};
    enum db_restore_method method;
    int rc = ops_restore_postgres(d->repo, d->snap, &ro, &method, &err);
    drill_step(d, "restore", started, rc == 0, "%s", rc == 0 ? "restored into a new database" : err.msg);
    PGconn *conn = pg_target_connect(&t, o->scratch_db, &err);
    if (conn) {
        check_tables(d, conn);
        check_foreign_keys(d, conn);
        run_checks(d, conn);
        PQfinish(conn);
    } else if (rc == 0) {
        drill_step(d, "connect", progress_now(), false, "%s", err.msg);
    }
    free(conninfo);
    pg_target_close(&t);
}

int ops_drill_drop_database(const char *scratch_url, const char *password_file, const char *name,
                            struct error *err)
{
    struct pg_target t;
    if (pg_target_open(scratch_url, password_file, &t, err) < 0)
        return -1;
    PGconn *conn = pg_target_connect(&t, "postgres", err);
    int rc = -1;
    if (conn) {
        char *quoted = PQescapeIdentifier(conn, name, strlen(name));
        char sql[600];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", quoted ? quoted : "\"\"");
        PQfreemem(quoted);
        PGresult *res = PQexec(conn, sql);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_conn_error(conn, "cannot drop the scratch database", err);
        PQclear(res);
        PQfinish(conn);
    }
    pg_target_close(&t);
    return rc;
}

/* ---- redis -------------------------------------------------------------- */

/* A loopback port nobody listens on right now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* INFO keyspace of the server on port, once it has loaded its RDB. */
static int wait_for_keyspace(int port, char *out, size_t size, struct error *err)
{
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    const char *ping[] = {"redis-cli", "-p", port_arg, "PING", NULL};
    const char *info[] = {"redis-cli", "-p", port_arg, "INFO", "keyspace", NULL};
    char answer[64] = "";
    for (int i = 0; i < 1200; i++) { /* LOADING while it reads the RDB: up to 10 minutes */
        struct error ignored;
        if (spawn_read_line(ping, NULL, answer, sizeof answer, &ignored) == 0 && !strcmp(answer, "PONG"))
            return spawn_read_output(info, NULL, out, size, err);
        struct timespec pause = {0, 500 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return error_set(err, "the scratch redis-server did not answer PING (last answer: \"%s\")", answer);
}

/* Keys per database against the counts at backup: every key without an
 * expiry must be back; keys with one may have expired since. */
static void compare_keyspace(struct drill *d, const char *info, double started)
{
    json_t *keys = json_object_get(d->meta, "keys"), *expires = json_object_get(d->meta, "expires");
    if (!json_is_object(keys)) {
        drill_step(d, "keys", started, true, "skipped: the snapshot recorded no key counts");
        return;
    }
    char detail[ERROR_MSG_MAX] = "";
    bool is_ok = true;
    long long total = 0;
    const char *db;
    json_t *want;
    json_object_foreach(keys, db, want) {
        long long got = 0, k, e, at_backup = (long long)json_integer_value(want);
        long long with_expiry = (long long)json_integer_value(json_object_get(expires, db));
        char prefix[24];
        snprintf(prefix, sizeof prefix, "%s:keys=", db);
        const char *line = strstr(info, prefix);
        if (line && sscanf(line + strlen(db) + 1, "keys=%lld,expires=%lld", &k, &e) == 2)
            got = k;
        total += got;
        if (got > at_backup || got < at_backup - with_expiry) {
            is_ok = false;
            size_t used = strlen(detail);
            snprintf(detail + used, sizeof detail - used, "%s%s has %lld keys, %lld at backup (%lld with an expiry)",
                     used ? "; " : "", db, got, at_backup, with_expiry);
        }
    }
    if (is_ok)
        drill_step(d, "keys", started, true, "%lld keys in %zu database%s, as at backup", total, json_object_size(keys),
             json_object_size(keys) == 1 ? "" : "s");
    else
        drill_step(d, "keys", started, false, "%s", detail);
}

void ops_drill_redis(struct drill *d)
{
    double started = progress_now();
    struct error err;
    char rdb[4200], log[4200], port_arg[16];
    snprintf(rdb, sizeof rdb, "%s/dump.rdb", d->opts->scratch_dir);
    snprintf(log, sizeof log, "%s/redis.log", d->opts->scratch_dir);
    int fd = open(rdb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = fd < 0 ? error_errno(&err, errno, "cannot create %s", rdb)
                    : ops_dump(d->repo, d->snap, REDIS_RDB_NAME, fd, 0, &err);
    if (fd >= 0)
        close(fd);
    drill_step(d, "restore", started, rc == 0, "%s", rc == 0 ? "RDB written to the scratch directory" : err.msg);
    if (rc < 0)
        return;
    started = progress_now();
    int port = free_port();
    snprintf(port_arg, sizeof port_arg, "%d", port);
    const char *argv[] = {"redis-server", "--port", port_arg, "--bind", "127.0.0.1", "--dir", d->opts->scratch_dir,
                          "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--logfile", log,
                          "--daemonize", "no", NULL};
    struct child server;
    if (port < 0 || spawn_start(argv, NULL, SPAWN_NO_PIPE, &server, &err) < 0) {
        drill_step(d, "load", started, false, "cannot start redis-server: %s",
             port < 0 ? "no free loopback port" : err.kind == ERR_NOT_FOUND ? "install redis-server and redis-tools"
                                                                            : err.msg);
        return;
    }
    char info[8192];
    rc = wait_for_keyspace(port, info, sizeof info, &err);
    drill_step(d, "load", started, rc == 0, "%s", rc == 0 ? "a scratch redis-server loaded the RDB" : err.msg);
    if (rc == 0)
        compare_keyspace(d, info, progress_now());
    kill(server.pid, SIGTERM); /* save "": it exits without writing */
    struct error ignored;
    spawn_finish(&server, &ignored);
}

/* ---- files and the rest ------------------------------------------------- */

struct file_check {
    struct drill *d;
    const char *root;    /* where the snapshot was restored */
    int fd;              /* the restored file being compared */
    struct blob_codec *codec; /* for reading content lists, one for the whole drill */
    struct buf chunk;
    size_t files, mismatched;
    uint64_t bytes;
    char first[1024];    /* the first mismatch */
};

/* One data blob of the file: the next raw_length bytes on disk must hash
 * to its id. */
static int compare_blob(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct file_check *fc = ctx;
    if (type != BLOB_DATA)
        return 0;
    struct index_entry e;
    if (!index_find(repo_index(fc->d->repo), id, &e))
        return error_set(err, "a blob of the file is not in the index");
    buf_reset(&fc->chunk);
    buf_reserve(&fc->chunk, e.raw_length);
    size_t have = 0;
    while (have < e.raw_length) {
        ssize_t n = read(fc->fd, fc->chunk.data + have, e.raw_length - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return error_set(err, "the restored file is shorter than the snapshot's");
        have += (size_t)n;
    }
    uint8_t got[CRYPTO_ID_SIZE];
    repo_blob_id(fc->d->repo, fc->chunk.data, have, got);
    fc->bytes += have;
    if (memcmp(got, id, CRYPTO_ID_SIZE))
        return error_set(err, "its bytes differ from the snapshot's");
    return 0;
}

static void compare_file(void *ctx, const struct snapshot *snap, const char *path, const struct node *node)
{
    (void)snap;
    struct file_check *fc = ctx;
    if (node->type != NODE_FILE)
        return;
    char full[4200];
    snprintf(full, sizeof full, "%s/%s", fc->root, path[0] == '/' ? path + 1 : path);
    fc->files++;
    struct error err;
    fc->fd = open(full, O_RDONLY | O_CLOEXEC);
    int rc = fc->fd < 0 ? error_errno(&err, errno, "cannot open it")
                        : content_walk_ids(fc->d->repo, fc->codec, &node->content, compare_blob, fc, &err);
    char extra;
    if (rc == 0 && read(fc->fd, &extra, 1) > 0)
        rc = error_set(&err, "the restored file is longer than the snapshot's");
    if (fc->fd >= 0)
        close(fc->fd);
    if (rc < 0 && fc->mismatched++ == 0)
        snprintf(fc->first, sizeof fc->first, "%s: %s", path, err.msg);
}

void ops_drill_files(struct drill *d)
{
    double started = progress_now();
    struct error err;
    char root[4200];
    snprintf(root, sizeof root, "%s/restore", d->opts->scratch_dir);
    struct restore_options ro = {.target = root};
    struct progress quiet;
    progress_init(&quiet, "restore", true, false);
    ro.progress = &quiet;
    struct string_list failures = {0};
    int rc = ops_restore(d->repo, d->snap, &ro, &failures, &err);
    if (rc < 0 && failures.count > 0) /* the drill prints no list: name the first */
        drill_step(d, "restore", started, false, "%s (first: %s)", err.msg, failures.items[0]);
    else
        drill_step(d, "restore", started, rc == 0, "%s", rc == 0 ? "restored to the scratch directory" : err.msg);
    string_list_free(&failures);
    if (rc < 0)
        return;
    started = progress_now();
    struct file_check fc = {.d = d, .root = root, .codec = repo_blob_codec_new(d->repo)};
    rc = repo_load_index(d->repo, &err) == 0 ? ops_ls(d->repo, d->snap, compare_file, &fc, &err) : -1;
    blob_codec_free(fc.codec);
    buf_free(&fc.chunk);
    char size[32];
    size_format(fc.bytes, size);
    if (rc < 0)
        drill_step(d, "content", started, false, "cannot list the snapshot: %s", err.msg);
    else if (fc.mismatched)
        drill_step(d, "content", started, false, "%zu of %zu files differ from the snapshot; first: %s", fc.mismatched,
             fc.files, fc.first);
    else
        drill_step(d, "content", started, true, "%zu file%s (%s) read back from disk match%s the snapshot", fc.files,
             fc.files == 1 ? "" : "s", size, fc.files == 1 ? "es" : "");
}

void ops_drill_git(struct drill *d)
{
    ops_drill_files(d);
    if (d->has_failed)
        return;
    double started = progress_now();
    struct error err;
    /* verify checks a bundle against a repository: an empty one here, as
     * the bundle of every ref has no prerequisites. */
    char bundle[4300], empty[4300], out[256];
    snprintf(bundle, sizeof bundle, "%s/restore/%s", d->opts->scratch_dir, GIT_BUNDLE_NAME);
    snprintf(empty, sizeof empty, "%s/verify.git", d->opts->scratch_dir);
    const char *init[] = {"git", "init", "--quiet", "--bare", empty, NULL};
    const char *verify[] = {"git", "-C", empty, "bundle", "verify", "--quiet", bundle, NULL};
    const struct spawn_env git_env = {.pass = spawn_pass_git};
    int rc = spawn_read_output(init, &git_env, out, sizeof out, &err);
    if (rc == 0)
        rc = spawn_read_output(verify, &git_env, out, sizeof out, &err);
    drill_step(d, "git bundle verify", started, rc == 0, "%s", rc == 0 ? "the bundle is complete" : err.msg);
}

int ops_drill(struct repo *repo, const struct snapshot *snap, const struct drill_options *opts, json_t *steps,
              double *seconds, struct error *err)
{
    struct drill d = {.repo = repo, .snap = snap, .opts = opts, .steps = steps};
    d.meta = snap->meta_json ? json_loads(snap->meta_json, 0, NULL) : NULL;
    double started = progress_now();
    const struct source_type *kind = source_type_find(snap->type);
    (kind && kind->drill ? kind->drill : ops_drill_files)(&d);
    *seconds = progress_now() - started;
    json_decref(d.meta);
    if (d.has_failed) {
        *err = d.first;
        return -1;
    }
    return 0;
}
