/*
 * postgres.c — backing up a PostgreSQL database (see postgres.h).
 *
 * pg_dump is spawned without a shell and streams into the chunker: the
 * dump never lands in a temporary file. Its stderr is kept and becomes the
 * error message when it fails, so a bad URL, a refused password, a table
 * it may not read or a server that dies mid-dump fail the backup in
 * pg_dump's own words, and no snapshot is written.
 */
#include "source/postgres.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "repo/blob.h"
#include "repo/dict.h"
#include "pipeline/readahead.h"
#include "source/bundle.h"
#include "source/pgconn.h"
#include "source/pgrows.h"
#include "source/types.h"
#include "util/spawn.h"
#include "util/text.h"

struct pg_backup {
    struct backup_ctx *ctx;
    const struct postgres_settings *src;
    struct pg_target target;
    PGconn *conn;
    char snapshot_name[128]; /* exported transaction snapshot, or "" */
    struct bundle bundle;
    json_t *meta;
    const struct blob_dict *dict; /* the newest trained on this dump */
};

/* One value of a one-row query, or NULL. Caller frees. */
static char *query_value(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    char *value = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        value = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return value;
}

/* Opens the transaction that pins what the dump and the exports see. */
static int begin_snapshot(struct pg_backup *pb, struct error *err)
{
    PGresult *res = PQexec(pb->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    bool is_ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!is_ok)
        return pg_conn_error(pb->conn, "cannot start a transaction", err);
    char *name = query_value(pb->conn, "SELECT pg_export_snapshot()");
    if (name) { /* a standby or an old server may refuse: the dump then has its own */
        snprintf(pb->snapshot_name, sizeof pb->snapshot_name, "%s", name);
        free(name);
    }
    return 0;
}

static void collect_meta(struct pg_backup *pb)
{
    char *version = query_value(pb->conn, "SHOW server_version");
    char *database = query_value(pb->conn, "SELECT current_database()");
    char *size = query_value(pb->conn, "SELECT pg_database_size(current_database())");
    pb->meta = json_pack("{s:s, s:s, s:I, s:s, s:s}", "server_version", version ? version : "",
                         "database", database ? database : "", "database_size",
                         (json_int_t)(size ? strtoll(size, NULL, 10) : 0), "dump_format", "custom",
                         "snapshot", pb->snapshot_name[0] ? "exported" : "pg_dump's own");
    free(version);
    free(database);
    free(size);
    PGresult *res = PQexec(pb->conn,
                           "SELECT n.nspname || '.' || c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
                           "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                           "ORDER BY 3 DESC LIMIT 10");
    json_t *tables = json_array();
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(res); i++)
            json_array_append_new(tables, json_pack("{s:s, s:I, s:I}", "table", PQgetvalue(res, i, 0),
                                                    "rows_estimate", (json_int_t)strtoll(PQgetvalue(res, i, 1), NULL, 10),
                                                    "bytes", (json_int_t)strtoll(PQgetvalue(res, i, 2), NULL, 10)));
    }
    PQclear(res);
    json_object_set_new(pb->meta, "largest_tables", tables);
}

/* Reads up to len bytes (less only at end of input) from fd. */
static int read_prefix(int fd, struct buf *out, size_t len, struct error *err)
{
    buf_reserve(out, len);
    while (out->len < len) {
        ssize_t n = read(fd, out->data + out->len, len - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return error_errno(err, errno, "read failed");
        if (n == 0)
            break;
        out->len += (size_t)n;
    }
    return 0;
}

/* Dictionaries follow the dump: the first is trained on its first 16 MiB
 * before anything is stored, and a new one every 64 MiB on samples of the
 * stretch just read, so each table's rows are compressed with a
 * dictionary that has seen rows like them. Training is deterministic: the
 * same data gives the same dictionary, which then deduplicates. */
#define DICT_WINDOW (64u << 20)
#define SAMPLE_SIZE 4096u
#define PREFIX_STRIDE (16u << 10)  /* a sample per 16 KiB of the prefix */
#define WINDOW_STRIDE (128u << 10) /* a sample per 128 KiB later */

struct sampler {
    struct buf data;
    size_t *sizes;
    size_t count;
    size_t cap;
};

/* Takes a sample at every stride bytes of a block. */
static void sampler_add(struct sampler *s, const uint8_t *data, size_t len, size_t stride)
{
    for (size_t off = 0; off < len; off += stride) {
        size_t n = len - off < SAMPLE_SIZE ? len - off : SAMPLE_SIZE;
        buf_append(&s->data, data + off, n);
        if (s->count == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 512;
            s->sizes = xrealloc(s->sizes, s->cap * sizeof *s->sizes);
        }
        s->sizes[s->count++] = n;
    }
}

static void sampler_reset(struct sampler *s)
{
    buf_reset(&s->data);
    s->count = 0;
}

static void sampler_free(struct sampler *s)
{
    buf_free(&s->data);
    free(s->sizes);
}

/* Trains on the samples and stores the dictionary; keeps the current one
 * when there is too little to learn from. */
static int train_dictionary(struct pg_backup *pb, struct sampler *s, struct error *err)
{
    struct buf content = BUF_INIT;
    uint8_t id[CRYPTO_ID_SIZE];
    int rc = 0;
    if (blob_dict_train(s->data.data, s->sizes, s->count, &content) == 0) {
        rc = blob_writer_add(pb->ctx->blobs, BLOB_DICT, content.data, content.len, id, err);
        struct blob_dict *made = rc == 0 ? blob_dict_new(id, content.data, content.len,
                                                         repo_config(pb->ctx->repo)->zstd_level)
                                         : NULL;
        if (made) {
            pb->dict = repo_dictionary_adopt(pb->ctx->repo, made);
            snapshot_add_dictionary(pb->ctx->snapshot, id);
            bundle_use(&pb->bundle, repo_database_chunker(pb->ctx->repo), pb->dict);
        }
    }
    buf_free(&content);
    sampler_reset(s);
    return rc;
}

/* Stores a database dump from fd, cut small, with dictionaries, and
 * records each table's row count (meta "rows") on the way. */
static int store_database_stream(struct pg_backup *pb, int fd, struct error *err)
{
    struct sampler samples = {0};
    struct buf prefix = BUF_INIT;
    struct pg_rows rows;
    pg_rows_init(&rows);
    bundle_use(&pb->bundle, repo_database_chunker(pb->ctx->repo), NULL);
    int rc = read_prefix(fd, &prefix, DICT_TRAIN_BYTES, err);
    if (rc == 0) {
        sampler_add(&samples, prefix.data, prefix.len, PREFIX_STRIDE);
        rc = train_dictionary(pb, &samples, err);
    }
    if (rc == 0) {
        rc = bundle_write(&pb->bundle, prefix.data, prefix.len, err);
        pg_rows_feed(&rows, prefix.data, prefix.len);
    }
    buf_free(&prefix);
    struct readahead *ra = rc == 0 ? readahead_start(fd) : NULL;
    uint64_t window = 0;
    while (rc == 0) {
        const uint8_t *data;
        size_t len;
        rc = readahead_next(ra, &data, &len, err);
        if (rc < 0 || len == 0)
            break;
        rc = bundle_write(&pb->bundle, data, len, err);
        pg_rows_feed(&rows, data, len);
        sampler_add(&samples, data, len, WINDOW_STRIDE);
        window += len;
        if (rc == 0 && window >= DICT_WINDOW) {
            rc = train_dictionary(pb, &samples, err);
            window = 0;
        }
    }
    readahead_stop(ra);
    sampler_free(&samples);
    json_t *counts = rc == 0 ? pg_rows_result(&rows) : NULL;
    if (counts) {
        json_object_set_new(pb->meta, "rows", counts);
        json_object_set_new(pb->meta, "foreign_keys", json_integer(pg_rows_foreign_keys(&rows)));
    } else if (rc == 0) {
        /* The dump is stored whole all the same; only the counts a drill
         * compares the restored tables with are missing. */
        char warning[ERROR_MSG_MAX + 128];
        snprintf(warning, sizeof warning, "no row counts recorded: coffer cannot take the dump apart (%s)",
                 rows.why.msg);
        string_list_add(pb->ctx->warnings, warning);
    }
    pg_rows_free(&rows);
    return rc;
}

/* Runs a dump program and stores its stdout as one piece. With
 * is_database, the piece is cut small and compressed with dictionaries. */
static int run_dump(struct pg_backup *pb, const char *const *argv, const char *piece, bool is_database,
                    struct error *err)
{
    struct child child;
    if (spawn_start(argv, pg_target_child_env(&pb->target), SPAWN_READ_STDOUT, &child, err) < 0) {
        if (err->kind == ERR_NOT_FOUND)
            error_wrap(err, "cannot dump the database (install postgresql-client of the server's major version or newer)");
        return -1;
    }
    struct error read_err;
    int rc = is_database ? store_database_stream(pb, child.fd, &read_err) : bundle_read_fd(&pb->bundle, child.fd, &read_err);
    /* The program's own verdict comes first: its message says more than ours. */
    if (spawn_finish(&child, err) < 0)
        return -1;
    if (rc < 0) {
        *err = read_err;
        return error_wrap(err, "cannot read %s's output", argv[0]);
    }
    rc = bundle_end(&pb->bundle, piece, err);
    bundle_use(&pb->bundle, repo_stream_chunker(pb->ctx->repo), NULL);
    return rc;
}

static int dump_database(struct pg_backup *pb, struct error *err)
{
    char *dbname_arg = xmalloc(strlen(pb->target.conninfo) + 16);
    sprintf(dbname_arg, "--dbname=%s", pb->target.conninfo);
    char snapshot_arg[160];
    snprintf(snapshot_arg, sizeof snapshot_arg, "--snapshot=%s", pb->snapshot_name);
    const char *argv[] = {"pg_dump", "--format=custom", "--compress=0", dbname_arg,
                          pb->snapshot_name[0] ? snapshot_arg : NULL, NULL};
    int rc = run_dump(pb, argv, POSTGRES_DUMP_NAME, true, err);
    free(dbname_arg);
    return rc;
}

static int dump_globals(struct pg_backup *pb, struct error *err)
{
    char *dbname_arg = xmalloc(strlen(pb->target.conninfo) + 16);
    sprintf(dbname_arg, "--dbname=%s", pb->target.conninfo);
    const char *argv[] = {"pg_dumpall", "--globals-only", dbname_arg, NULL};
    int rc = run_dump(pb, argv, POSTGRES_GLOBALS_NAME, false, err);
    free(dbname_arg);
    return rc;
}

/* "schema.table" or "table" as a quoted identifier; caller frees. */
static char *quote_table(PGconn *conn, const char *name)
{
    struct buf out = BUF_INIT;
    char *copy = xstrdup(name), *save = NULL;
    for (char *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
        char *quoted = PQescapeIdentifier(conn, part, strlen(part));
        if (out.len)
            buf_append(&out, ".", 1);
        buf_append(&out, quoted, strlen(quoted));
        PQfreemem(quoted);
    }
    buf_append(&out, "", 1);
    free(copy);
    return (char *)out.data;
}

/* COPY's text format escapes backslashes; JSON text has no raw control
 * characters, so undoing "\\" (and the rare \n, \t, \r) restores it. */
static size_t copy_unescape(char *line, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\\' && i + 1 < len) {
            char next = line[++i];
            line[out++] = next == 'n' ? '\n' : next == 't' ? '\t' : next == 'r' ? '\r' : next;
        } else {
            line[out++] = line[i];
        }
    }
    return out;
}

static int export_table(struct pg_backup *pb, const char *table, json_t *manifest_tables, struct error *err)
{
    char *quoted = quote_table(pb->conn, table);
    size_t sql_len = strlen(quoted) + 96;
    char *sql = xmalloc(sql_len);
    snprintf(sql, sql_len, "COPY (SELECT row_to_json(t) FROM %s t) TO STDOUT", quoted);
    free(quoted);
    PGresult *res = PQexec(pb->conn, sql);
    free(sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        PQclear(res);
        char what[300];
        snprintf(what, sizeof what, "cannot export table %s", table);
        return pg_conn_error(pb->conn, what, err);
    }
    PQclear(res);
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
    uint64_t rows = 0;
    int rc = 0;
    char *line;
    int n;
    while ((n = PQgetCopyData(pb->conn, &line, 0)) > 0) {
        size_t len = copy_unescape(line, (size_t)n);
        EVP_DigestUpdate(sha, line, len);
        if (rc == 0)
            rc = bundle_write(&pb->bundle, line, len, err);
        PQfreemem(line);
        rows++;
    }
    res = PQgetResult(pb->conn);
    if (n == -2 || PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[300];
        snprintf(what, sizeof what, "cannot export table %s", table);
        rc = pg_conn_error(pb->conn, what, err);
    }
    PQclear(res);
    while ((res = PQgetResult(pb->conn)))
        PQclear(res);
    uint8_t digest[32];
    char hex[65], piece[320];
    EVP_DigestFinal_ex(sha, digest, NULL);
    EVP_MD_CTX_free(sha);
    hex_encode(digest, sizeof digest, hex);
    snprintf(piece, sizeof piece, "exports/%s.jsonl", table);
    if (rc == 0)
        rc = bundle_end(&pb->bundle, piece, err);
    if (rc == 0)
        json_object_set_new(json_object_get(pb->meta, "export_rows"), table, json_integer((json_int_t)rows));
    if (rc == 0)
        json_array_append_new(manifest_tables, json_pack("{s:s, s:s, s:I, s:s}", "table", table, "file",
                                                         piece + strlen("exports/"), "rows", (json_int_t)rows,
                                                         "sha256", hex));
    return rc;
}

static int export_tables(struct pg_backup *pb, struct error *err)
{
    json_t *tables = json_array();
    int rc = 0;
    json_object_set_new(pb->meta, "export_rows", json_object());
    /* Exports change row by row like the dump: cut them as small, and the
     * dump's dictionary knows their values. */
    bundle_use(&pb->bundle, repo_database_chunker(pb->ctx->repo), pb->dict);
    for (size_t i = 0; i < pb->src->exports.count && rc == 0; i++)
        rc = export_table(pb, pb->src->exports.items[i], tables, err);
    if (rc < 0) {
        json_decref(tables);
        return -1;
    }
    char when[32];
    time_format_rfc3339((int64_t)time(NULL), when);
    json_t *manifest = json_pack("{s:s, s:O, s:O, s:O, s:o, s:b}", "time", when, "database",
                                 json_object_get(pb->meta, "database"), "server_version",
                                 json_object_get(pb->meta, "server_version"), "database_size",
                                 json_object_get(pb->meta, "database_size"), "tables", tables, "encrypted", 1);
    char *text = json_dumps(manifest, JSON_INDENT(2));
    json_decref(manifest);
    bundle_use(&pb->bundle, repo_stream_chunker(pb->ctx->repo), NULL);
    rc = bundle_add_bytes(&pb->bundle, "exports/manifest.json", text, strlen(text), err);
    free(text);
    return rc;
}

static char *pg_dump_version(void)
{
    const char *argv[] = {"pg_dump", "--version", NULL};
    char text[128];
    struct error ignored;
    return spawn_read_line(argv, NULL, text, sizeof text, &ignored) == 0 ? xstrdup(text) : NULL;
}

const char *postgres_validate(const void *settings)
{
    const struct postgres_settings *src = settings;
    if (src->format && strcmp(src->format, "custom"))
        return "format: directory is not supported yet (use custom)";
    return NULL;
}

int postgres_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const struct postgres_settings *src = settings;
    struct pg_backup pb = {.ctx = ctx, .src = src};
    int rc = -1;
    if (pg_target_open(src->url, src->password_file, &pb.target, err) < 0)
        return -1;
    bundle_init(&pb.bundle, ctx);
    pb.conn = pg_target_connect(&pb.target, NULL, err);
    if (!pb.conn || begin_snapshot(&pb, err) < 0)
        goto out;
    collect_meta(&pb);
    char *version = pg_dump_version();
    json_object_set_new(pb.meta, "pg_dump_version", json_string(version ? version : "unknown"));
    free(version);
    if (dump_database(&pb, err) < 0)
        goto out;
    if (src->globals && dump_globals(&pb, err) < 0)
        goto out;
    if (src->exports.count && export_tables(&pb, err) < 0)
        goto out;
    PQclear(PQexec(pb.conn, "COMMIT"));
    if (bundle_finish(&pb.bundle, ctx->snapshot->root, err) < 0)
        goto out;
    ctx->snapshot->meta_json = json_dumps(pb.meta, JSON_COMPACT);
    rc = 0;
out:
    if (rc < 0)
        error_wrap(err, "backup of database %s failed", pb.target.dbname ? pb.target.dbname : "?");
    json_decref(pb.meta);
    if (pb.conn)
        PQfinish(pb.conn);
    bundle_free(&pb.bundle);
    pg_target_close(&pb.target);
    return rc;
}

long postgres_snapshot_tables(const struct snapshot *snap, struct table_rows **out)
{
    *out = NULL;
    json_t *meta = snap->meta_json ? json_loads(snap->meta_json, 0, NULL) : NULL;
    json_t *rows = json_object_get(meta, "rows");
    if (!json_is_array(rows)) {
        json_decref(meta);
        return -1;
    }
    size_t count = 0;
    struct table_rows *list = xcalloc(json_array_size(rows) + 1, sizeof *list);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *schema = json_string_value(json_object_get(row, "schema"));
        const char *table = json_string_value(json_object_get(row, "table"));
        json_t *n = json_object_get(row, "rows");
        if (!table || !*table || !json_is_integer(n))
            continue;
        char name[600];
        snprintf(name, sizeof name, "%s%s%s", schema ? schema : "", schema ? "." : "", table);
        list[count].name = xstrdup(name);
        list[count++].rows = json_integer_value(n);
    }
    json_decref(meta);
    *out = list;
    return (long)count;
}

int postgres_probe(const void *settings, char *what, size_t size, struct error *err)
{
    const struct postgres_settings *src = settings;
    struct pg_target t;
    if (pg_target_open(src->url, src->password_file, &t, err) < 0)
        return -1;
    PGconn *conn = pg_target_connect(&t, NULL, err);
    if (conn) {
        int version = PQserverVersion(conn);
        snprintf(what, size, "PostgreSQL %d.%d, database %s", version / 10000, version % 10000, t.dbname);
        PQfinish(conn);
    }
    pg_target_close(&t);
    return conn ? 0 : -1;
}
