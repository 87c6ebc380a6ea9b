/*
 * pgload.c — parallel COPY into a database (see pgload.h).
 *
 * The caller's thread collects rows into the filling piece; a full piece
 * (cut after its last complete row) goes into a bounded queue; one thread
 * per connection takes pieces from the queue. A connection keeps its COPY
 * open while consecutive pieces are for the same table, and ends it when a
 * piece for another table (or the end) arrives.
 */
#include "source/pgload.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define PIECE_SIZE (1u << 20)
/* The end marker and blank lines after it ("\\.\n\n\n") must stay with the
 * block's last piece, which pg_loader_end_table cleans. */
#define PIECE_HOLD_BACK 16

struct piece {
    struct buf rows;
    const char *copy_stmt; /* one of the loader's tables (stable strings) */
};

struct connection {
    struct pg_loader *loader;
    PGconn *conn;
    pthread_t thread;
    bool has_thread;
    const char *copy_stmt; /* of the open COPY, or NULL */
};

struct pg_loader {
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    struct piece **queue; /* ring of queue_size */
    size_t queue_size, queue_head, queue_count;
    struct piece **spare; /* emptied pieces, for reuse */
    size_t spare_count, piece_total;
    bool is_closing;  /* no more pieces will come */
    bool has_failed;
    struct error failure;

    char **tables; /* COPY statements, in the order begun; caller's thread */
    size_t table_count;
    struct piece *filling; /* caller's thread */
    struct buf carry;      /* an incomplete last row, between pieces */

    struct connection *conns;
    unsigned conn_count;
};

static void fail_locked(struct pg_loader *l, const struct error *err)
{
    if (!l->has_failed) {
        l->has_failed = true;
        l->failure = *err;
    }
    pthread_cond_broadcast(&l->changed);
}

/* "cannot load public.messages" for "COPY public.messages (...) FROM stdin;" */
static void describe(const char *name, char *out, size_t size)
{
    if (strncmp(name, "COPY ", 5) == 0)
        name += 5;
    snprintf(out, size, "cannot load %.*s", (int)strcspn(name, " ;("), name);
}

static int load_failed(struct connection *c, const char *copy_stmt, struct error *err)
{
    char what[300];
    describe(copy_stmt, what, sizeof what);
    return pg_conn_error(c->conn, what, err);
}

static int end_copy(struct connection *c, struct error *err)
{
    const char *copy_stmt = c->copy_stmt;
    c->copy_stmt = NULL;
    int rc = PQputCopyEnd(c->conn, NULL) == 1 ? 0 : load_failed(c, copy_stmt, err);
    PGresult *res;
    while ((res = PQgetResult(c->conn)) != NULL) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = load_failed(c, copy_stmt, err);
        PQclear(res);
    }
    return rc;
}

static int load_piece(struct connection *c, const struct piece *p, struct error *err)
{
    if (c->copy_stmt && c->copy_stmt != p->copy_stmt && end_copy(c, err) < 0)
        return -1;
    if (!c->copy_stmt) {
        PGresult *res = PQexec(c->conn, p->copy_stmt);
        ExecStatusType status = PQresultStatus(res);
        PQclear(res);
        if (status != PGRES_COPY_IN)
            return load_failed(c, p->copy_stmt, err);
        c->copy_stmt = p->copy_stmt;
    }
    if (PQputCopyData(c->conn, (const char *)p->rows.data, (int)p->rows.len) != 1)
        return load_failed(c, p->copy_stmt, err);
    return 0;
}

static void *connection_main(void *arg)
{
    struct connection *c = arg;
    struct pg_loader *l = c->loader;
    struct error err;
    pthread_mutex_lock(&l->mutex);
    for (;;) {
        while (l->queue_count == 0 && !l->is_closing && !l->has_failed)
            pthread_cond_wait(&l->changed, &l->mutex);
        if (l->has_failed || l->queue_count == 0)
            break;
        struct piece *p = l->queue[l->queue_head];
        l->queue_head = (l->queue_head + 1) % l->queue_size;
        l->queue_count--;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->mutex);

        int rc = load_piece(c, p, &err);

        pthread_mutex_lock(&l->mutex);
        buf_reset(&p->rows);
        l->spare[l->spare_count++] = p;
        pthread_cond_broadcast(&l->changed);
        if (rc < 0) {
            fail_locked(l, &err);
            break;
        }
    }
    bool is_failed = l->has_failed;
    pthread_mutex_unlock(&l->mutex);
    if (c->copy_stmt) {
        if (is_failed) { /* abandon the COPY: the server rolls it back */
            PQputCopyEnd(c->conn, "coffer: restore failed");
            PGresult *res;
            while ((res = PQgetResult(c->conn)) != NULL)
                PQclear(res);
            c->copy_stmt = NULL;
        } else if (end_copy(c, &err) < 0) {
            pthread_mutex_lock(&l->mutex);
            fail_locked(l, &err);
            pthread_mutex_unlock(&l->mutex);
        }
    }
    return NULL;
}

struct pg_loader *pg_loader_new(const struct pg_target *t, unsigned connections, const char *setup_sql,
                                struct error *err)
{
    if (connections == 0)
        connections = 1;
    struct pg_loader *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mutex, NULL);
    pthread_cond_init(&l->changed, NULL);
    l->queue_size = 2 * (size_t)connections;
    l->piece_total = l->queue_size + connections + 1;
    l->queue = xcalloc(l->queue_size, sizeof *l->queue);
    l->spare = xcalloc(l->piece_total, sizeof *l->spare);
    for (size_t i = 0; i < l->piece_total; i++)
        l->spare[l->spare_count++] = xcalloc(1, sizeof(struct piece));
    l->conns = xcalloc(connections, sizeof *l->conns);
    for (unsigned i = 0; i < connections; i++) {
        struct connection *c = &l->conns[l->conn_count];
        c->loader = l;
        c->conn = pg_target_connect(t, NULL, err);
        if (!c->conn)
            goto fail;
        l->conn_count++;
        if (setup_sql) {
            PGresult *res = PQexec(c->conn, setup_sql);
            ExecStatusType status = PQresultStatus(res);
            PQclear(res);
            if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                pg_conn_error(c->conn, "cannot prepare a connection for loading", err);
                goto fail;
            }
        }
    }
    for (unsigned i = 0; i < l->conn_count; i++) {
        pthread_create(&l->conns[i].thread, NULL, connection_main, &l->conns[i]);
        l->conns[i].has_thread = true;
    }
    return l;
fail:
    pg_loader_free(l);
    return NULL;
}

/* Queues the filling piece, waiting for room; the caller gets a fresh one. */
static int dispatch(struct pg_loader *l, struct error *err)
{
    pthread_mutex_lock(&l->mutex);
    while (!l->has_failed && (l->queue_count == l->queue_size || l->spare_count == 0))
        pthread_cond_wait(&l->changed, &l->mutex);
    if (l->has_failed) {
        *err = l->failure;
        pthread_mutex_unlock(&l->mutex);
        return -1;
    }
    l->queue[(l->queue_head + l->queue_count++) % l->queue_size] = l->filling;
    l->filling = l->spare[--l->spare_count];
    l->filling->copy_stmt = l->tables[l->table_count - 1];
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->mutex);
    return 0;
}

static struct piece *take_spare(struct pg_loader *l)
{
    pthread_mutex_lock(&l->mutex);
    while (l->spare_count == 0 && !l->has_failed)
        pthread_cond_wait(&l->changed, &l->mutex);
    struct piece *p = l->spare_count ? l->spare[--l->spare_count] : NULL;
    pthread_mutex_unlock(&l->mutex);
    return p;
}

int pg_loader_begin_table(struct pg_loader *l, const char *copy_stmt, struct error *err)
{
    if (!l->filling && !(l->filling = take_spare(l))) {
        *err = l->failure;
        return -1;
    }
    l->tables = xrealloc(l->tables, (l->table_count + 1) * sizeof *l->tables);
    l->tables[l->table_count++] = xstrdup(copy_stmt);
    buf_reset(&l->filling->rows);
    l->filling->copy_stmt = l->tables[l->table_count - 1];
    return 0;
}

/* Length of the complete rows at the start of data, holding back the last
 * hold bytes; 0 when none is complete. */
static size_t complete_rows(const uint8_t *data, size_t len, size_t hold)
{
    if (len <= hold)
        return 0;
    const uint8_t *end = memrchr(data, '\n', len - hold);
    return end ? (size_t)(end - data) + 1 : 0;
}

/* Queues the complete rows of the filling piece and starts the next with
 * the rest. */
static int cut_and_dispatch(struct pg_loader *l, size_t hold, struct error *err)
{
    struct buf *rows = &l->filling->rows;
    size_t cut = complete_rows(rows->data, rows->len, hold);
    if (cut == 0)
        return 0; /* one long row: keep collecting */
    buf_reset(&l->carry);
    buf_append(&l->carry, rows->data + cut, rows->len - cut);
    rows->len = cut;
    if (dispatch(l, err) < 0)
        return -1;
    buf_append(&l->filling->rows, l->carry.data, l->carry.len);
    return 0;
}

int pg_loader_write(struct pg_loader *l, const uint8_t *data, size_t len, struct error *err)
{
    buf_append(&l->filling->rows, data, len);
    if (l->filling->rows.len < PIECE_SIZE)
        return 0;
    return cut_and_dispatch(l, PIECE_HOLD_BACK, err);
}

/* Drops pg_dump's end marker: a last line "\." and blank lines after it. */
static void drop_end_marker(struct buf *rows)
{
    while (rows->len >= 2 && rows->data[rows->len - 1] == '\n' && rows->data[rows->len - 2] == '\n')
        rows->len--;
    if (rows->len >= 3 && memcmp(rows->data + rows->len - 3, "\\.\n", 3) == 0 &&
        (rows->len == 3 || rows->data[rows->len - 4] == '\n'))
        rows->len -= 3;
}

int pg_loader_end_table(struct pg_loader *l, struct error *err)
{
    struct buf *rows = &l->filling->rows;
    drop_end_marker(rows);
    if (rows->len == 0)
        return 0;
    if (rows->data[rows->len - 1] != '\n')
        return error_set(err, "the dump's data for a table ends in the middle of a row");
    return cut_and_dispatch(l, 0, err);
}

/* Tells the connections that no more pieces come and waits for them. */
static void close_connections(struct pg_loader *l)
{
    pthread_mutex_lock(&l->mutex);
    l->is_closing = true;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->mutex);
    for (unsigned i = 0; i < l->conn_count; i++) {
        if (l->conns[i].has_thread)
            pthread_join(l->conns[i].thread, NULL);
        l->conns[i].has_thread = false;
    }
}

int pg_loader_finish(struct pg_loader *l, struct error *err)
{
    close_connections(l);
    if (l->has_failed) {
        *err = l->failure;
        return -1;
    }
    return 0;
}

void pg_loader_free(struct pg_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mutex);
    if (!l->is_closing) { /* abandoned: make the connections stop */
        struct error abandoned;
        error_set(&abandoned, "restore abandoned");
        fail_locked(l, &abandoned);
    }
    pthread_mutex_unlock(&l->mutex);
    close_connections(l);
    for (unsigned i = 0; i < l->conn_count; i++)
        PQfinish(l->conns[i].conn);
    for (size_t i = 0; i < l->queue_count; i++)
        l->spare[l->spare_count++] = l->queue[(l->queue_head + i) % l->queue_size];
    if (l->filling)
        l->spare[l->spare_count++] = l->filling;
    for (size_t i = 0; i < l->spare_count; i++) {
        buf_free(&l->spare[i]->rows);
        free(l->spare[i]);
    }
    for (size_t i = 0; i < l->table_count; i++)
        free(l->tables[i]);
    free(l->tables);
    buf_free(&l->carry);
    free(l->queue);
    free(l->spare);
    free(l->conns);
    pthread_mutex_destroy(&l->mutex);
    pthread_cond_destroy(&l->changed);
    free(l);
}
