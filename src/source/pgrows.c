/*
 * pgrows.c — counting rows in a streaming pg_dump archive (see pgrows.h).
 */
#include "source/pgrows.h"

#include <stdlib.h>
#include <string.h>

static int block_start(void *ctx, int dump_id, struct error *err)
{
    (void)err;
    struct pg_rows *r = ctx;
    const struct pga_entry *e = pga_toc_find(&r->archive.toc, dump_id);
    r->current = e ? (size_t)(e - r->archive.toc.entries) : SIZE_MAX;
    return 0;
}

static int block_data(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    (void)err;
    struct pg_rows *r = ctx;
    if (r->current == SIZE_MAX)
        return 0;
    uint64_t lines = 0;
    for (const uint8_t *p = data, *end = data + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        lines++;
    r->counts[r->current] += lines;
    /* Keep the block's last bytes, to recognise its terminator at the end. */
    size_t keep = len < sizeof r->tail ? len : sizeof r->tail;
    memmove(r->tail, r->tail + keep, sizeof r->tail - keep);
    memcpy(r->tail + sizeof r->tail - keep, data + len - keep, keep);
    return 0;
}

/* pg_dump ends each table's COPY data with the line "\." and two empty
 * lines, which are no rows. */
static int block_end(void *ctx, struct error *err)
{
    (void)err;
    struct pg_rows *r = ctx;
    static const char terminator[] = "\\.\n\n\n";
    if (r->current != SIZE_MAX && r->counts[r->current] >= 3 &&
        memcmp(r->tail + sizeof r->tail - (sizeof terminator - 1), terminator, sizeof terminator - 1) == 0)
        r->counts[r->current] -= 3;
    if (r->current != SIZE_MAX && !strcmp(r->archive.toc.entries[r->current].desc, "TABLE DATA"))
        r->tables_done++;
    r->current = SIZE_MAX;
    memset(r->tail, 0, sizeof r->tail);
    return 0;
}

static int on_toc(void *ctx, struct pga_stream *archive, struct pga_data_handler *handler, struct error *err)
{
    struct pg_rows *r = ctx;
    if (archive->toc.is_compressed)
        return error_set(err, "the dump's data is compressed");
    r->counts = xcalloc(archive->toc.count ? archive->toc.count : 1, sizeof *r->counts);
    for (size_t i = 0; i < archive->toc.count; i++)
        r->tables += archive->toc.entries[i].has_data && !strcmp(archive->toc.entries[i].desc, "TABLE DATA");
    *handler = (struct pga_data_handler){block_start, block_data, block_end, r};
    return 0;
}

void pg_rows_init(struct pg_rows *r)
{
    memset(r, 0, sizeof *r);
    r->current = SIZE_MAX;
    pga_stream_init(&r->archive, on_toc, r);
}

void pg_rows_feed(struct pg_rows *r, const uint8_t *data, size_t len)
{
    if (!r->has_failed && pga_stream_feed(&r->archive, data, len, &r->why) < 0)
        r->has_failed = true;
}

json_t *pg_rows_result(struct pg_rows *r)
{
    if (!r->has_failed && pga_stream_finish(&r->archive, &r->why) < 0)
        r->has_failed = true;
    /* No counts when on_toc refused the archive (a TOC was read, but no
     * counts were made for it: a compressed dump), or when a table's data
     * could not be read to its end. */
    if (!r->archive.has_toc || !r->counts || (r->has_failed && r->tables_done < r->tables)) {
        if (!r->has_failed)
            error_set(&r->why, "the archive's table data could not be read");
        return NULL;
    }
    json_t *rows = json_array();
    const struct pga_toc *toc = &r->archive.toc;
    for (size_t i = 0; i < toc->count; i++) {
        const struct pga_entry *e = &toc->entries[i];
        if (strcmp(e->desc, "TABLE DATA") != 0)
            continue;
        json_t *row = json_pack("{s:s?, s:s, s:I}", "schema", e->namespace_name, "table", e->tag, "rows",
                                (json_int_t)r->counts[i]);
        if (!row) {
            /* A name that is not UTF-8 (a SQL_ASCII or LATIN1 database)
             * cannot go into JSON; counts without that table would pass
             * for complete ones, so there are none. */
            error_set(&r->why, "the table of TOC entry %zu is named in bytes that are not UTF-8", i + 1);
            json_decref(rows);
            return NULL;
        }
        json_array_append_new(rows, row);
    }
    return rows;
}

long pg_rows_foreign_keys(const struct pg_rows *r)
{
    if (!r->archive.has_toc)
        return -1;
    long count = 0;
    for (size_t i = 0; i < r->archive.toc.count; i++)
        count += !strcmp(r->archive.toc.entries[i].desc, "FK CONSTRAINT");
    return count;
}

void pg_rows_free(struct pg_rows *r)
{
    pga_stream_free(&r->archive);
    free(r->counts);
}
