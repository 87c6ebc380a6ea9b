/*
 * fuzz_pgarchive.c — pg_dump custom-format archives (source/pgarchive.c)
 * and the row counter that reads them during a backup (source/pgrows.c).
 * The archive is whatever pg_dump, or a `command` source posing as it,
 * wrote.
 *
 * The first input byte chooses the size of the pieces the rest arrives in
 * (1..256 bytes, as a pipe could cut it); the rest is the archive. It goes
 * to pga_toc_parse whole, to a pga_stream whose data blocks are checked to
 * open and close in order, and to pg_rows, whose result must be NULL or
 * name every TABLE DATA entry of the TOC once.
 */
#include <stdint.h>
#include <string.h>

#include "fuzzing.h"
#include "source/pgarchive.h"
#include "source/pgrows.h"

struct blocks {
    bool is_open;
    uint64_t bytes;
};

static int on_start(void *ctx, int dump_id, struct error *err)
{
    struct blocks *b = ctx;
    FUZZ_CHECK(!b->is_open);
    b->is_open = true;
    return 0;
}

static int on_data(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct blocks *b = ctx;
    FUZZ_CHECK(b->is_open);
    b->bytes += len;
    return 0;
}

static int on_end(void *ctx, struct error *err)
{
    struct blocks *b = ctx;
    FUZZ_CHECK(b->is_open);
    b->is_open = false;
    return 0;
}

static int on_toc(void *ctx, struct pga_stream *s, struct pga_data_handler *handler, struct error *err)
{
    for (size_t i = 0; i < s->toc.count; i++)
        FUZZ_CHECK(s->toc.entries[i].desc && s->toc.entries[i].tag);
    *handler = (struct pga_data_handler){on_start, on_data, on_end, ctx};
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] + 1;
    data++;
    size--;
    struct error err;

    struct pga_toc toc;
    if (pga_toc_parse(data, size, &toc, &err) == 1) {
        FUZZ_CHECK(toc.data_start <= size);
        pga_toc_free(&toc);
    }

    struct blocks blocks = {0};
    struct pga_stream s;
    struct pg_rows rows;
    pga_stream_init(&s, on_toc, &blocks);
    pg_rows_init(&rows);
    bool is_ok = true;
    for (size_t at = 0; at < size; at += piece) {
        size_t n = size - at < piece ? size - at : piece;
        if (is_ok && pga_stream_feed(&s, data + at, n, &err) < 0)
            is_ok = false;
        pg_rows_feed(&rows, data + at, n);
    }
    if (is_ok && pga_stream_finish(&s, &err) == 0)
        FUZZ_CHECK(!blocks.is_open);
    pga_stream_free(&s);

    json_t *counts = pg_rows_result(&rows);
    if (counts) {
        size_t tables = 0;
        for (size_t i = 0; i < rows.archive.toc.count; i++)
            tables += strcmp(rows.archive.toc.entries[i].desc, "TABLE DATA") == 0;
        FUZZ_CHECK(json_array_size(counts) == tables);
        json_decref(counts);
    }
    pg_rows_foreign_keys(&rows);
    pg_rows_free(&rows);
    return 0;
}
