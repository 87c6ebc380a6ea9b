/*
 * test_pgarchive.c — reading pg_dump's custom-format archive: the header
 * and table of contents parse from a prefix (and ask for more until the
 * prefix is long enough), archives coffer cannot take apart are refused
 * or flagged, and the data blocks after the TOC come out the same however
 * the bytes are cut into pieces. pga_stream, the archive from its first
 * byte: on_toc runs once with the parsed TOC and the blocks reach the
 * handler it filled whatever the piece size; no archive, another format
 * or version, or a TOC cut short is unreadable; on_toc's refusal fails
 * the feed with its message.
 *
 * The archives are synthetic, written by pgarchive_writer.h, which follows
 * the layout pg_dump (archive versions 1.12 to 1.16) writes to a pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "source/pgarchive.h"
#include "util/buf.h"
#include "testing.h"
#include "pgarchive_writer.h"

/* ---- the standard archive ------------------------------------------- */

static const struct arc_entry STANDARD_ENTRIES[] = {
    {1, "ENCODING", "ENCODING", PGA_SECTION_PRE_DATA, NULL, "SET client_encoding = 'UTF8';\n", NULL, {NULL}},
    {2, "SCHEMA", "app", PGA_SECTION_PRE_DATA, NULL, "CREATE SCHEMA app;\n", NULL, {NULL}},
    {3, "TABLE", "users", PGA_SECTION_PRE_DATA, "app", "CREATE TABLE app.users (id int, name text);\n", NULL,
     {"2", NULL}},
    {4, "TABLE", "orders", PGA_SECTION_PRE_DATA, "app", "CREATE TABLE app.orders (id int, total numeric);\n",
     NULL, {"2", NULL}},
    {5, "TABLE DATA", "users", PGA_SECTION_DATA, "app", "", "COPY app.users (id, name) FROM stdin;\n", {"3", NULL}},
    {6, "TABLE DATA", "orders", PGA_SECTION_DATA, "app", "", "COPY app.orders (id, total) FROM stdin;\n",
     {"4", NULL}},
    {7, "TABLE DATA", "empty", PGA_SECTION_DATA, "app", "", "COPY app.empty (id) FROM stdin;\n", {NULL}},
    {8, "INDEX", "users_name_idx", PGA_SECTION_POST_DATA, "app", "CREATE INDEX users_name_idx ON app.users (name);\n",
     NULL, {"3", "5", NULL}},
};
#define STANDARD_COUNT (sizeof STANDARD_ENTRIES / sizeof STANDARD_ENTRIES[0])

#define BLOCKS 3
#define MAX_CHUNKS 3

/* The data blocks, in archive order: several chunks (one of a single byte,
 * one needing a third magnitude byte), none at all, two chunks. */
static const int BLOCK_IDS[BLOCKS] = {5, 7, 6};
static const size_t BLOCK_CHUNKS[BLOCKS][MAX_CHUNKS] = {{37, 1, 256}, {0}, {5, 70000}};
static const size_t BLOCK_CHUNK_COUNT[BLOCKS] = {3, 0, 2};

/* An archive written for a test, with what the reader should give back. */
struct archive {
    struct buf bytes;       /* header, TOC, data blocks */
    size_t toc_len;         /* header and TOC */
    uint8_t *content[BLOCKS];
    size_t content_len[BLOCKS];
    size_t block_end[BLOCKS]; /* offset after each block, from toc_len */
};

/* The standard blocks after a TOC of these entries (which must list the
 * blocks' dump ids). */
static void archive_build_with(struct archive *a, const struct arc_header *h, const struct arc_entry *entries,
                               size_t count)
{
    memset(a, 0, sizeof *a);
    a->toc_len = write_toc(&a->bytes, h, entries, count);
    for (size_t i = 0; i < BLOCKS; i++) {
        size_t total = 0;
        for (size_t c = 0; c < BLOCK_CHUNK_COUNT[i]; c++)
            total += BLOCK_CHUNKS[i][c];
        a->content[i] = malloc(total ? total : 1);
        a->content_len[i] = total;
        test_fill_text(a->content[i], total, 500 + i);
        write_block(&a->bytes, BLOCK_IDS[i], a->content[i], BLOCK_CHUNKS[i], BLOCK_CHUNK_COUNT[i]);
        a->block_end[i] = a->bytes.len - a->toc_len;
    }
}

static void archive_build(struct archive *a, const struct arc_header *h)
{
    archive_build_with(a, h, STANDARD_ENTRIES, STANDARD_COUNT);
}

static void archive_free(struct archive *a)
{
    for (size_t i = 0; i < BLOCKS; i++)
        free(a->content[i]);
    buf_free(&a->bytes);
}

static const struct arc_header V1_12 = {1, 12, 1, 0};
static const struct arc_header V1_13 = {1, 13, 1, 0};
static const struct arc_header V1_14 = {1, 14, 1, 0};
static const struct arc_header V1_15 = {1, 15, 1, 0};
static const struct arc_header V1_16 = {1, 16, 1, 0};

/* ---- a recorder of data-block callbacks ----------------------------- */

#define MAX_BLOCKS 8

enum fail_at { FAIL_NONE, FAIL_START, FAIL_DATA, FAIL_END };

struct recorder {
    int ids[MAX_BLOCKS];
    struct buf data[MAX_BLOCKS];
    size_t starts;
    size_t ends;
    bool is_in_block;
    bool is_order_bad;      /* a callback came when it should not have */
    enum fail_at fail_at;   /* which callback returns -1 ... */
    size_t fail_block;      /* ... in which block (by index) */
    bool has_failed;
    size_t calls_after_fail;
};

static int rec_start(void *ctx, int dump_id, struct error *err)
{
    struct recorder *r = ctx;
    if (r->has_failed)
        r->calls_after_fail++;
    if (r->is_in_block || r->starts >= MAX_BLOCKS) {
        r->is_order_bad = true;
        return 0;
    }
    r->ids[r->starts++] = dump_id;
    r->is_in_block = true;
    if (r->fail_at == FAIL_START && r->starts - 1 == r->fail_block) {
        r->has_failed = true;
        return error_set(err, "recorder stops at the start of block %d", dump_id);
    }
    return 0;
}

static int rec_data(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct recorder *r = ctx;
    if (r->has_failed)
        r->calls_after_fail++;
    if (!r->is_in_block || len == 0) {
        r->is_order_bad = true;
        return 0;
    }
    buf_append(&r->data[r->starts - 1], data, len);
    if (r->fail_at == FAIL_DATA && r->starts - 1 == r->fail_block) {
        r->has_failed = true;
        return error_set(err, "recorder stops in the data of block %d", r->ids[r->starts - 1]);
    }
    return 0;
}

static int rec_end(void *ctx, struct error *err)
{
    struct recorder *r = ctx;
    if (r->has_failed)
        r->calls_after_fail++;
    if (!r->is_in_block) {
        r->is_order_bad = true;
        return 0;
    }
    r->is_in_block = false;
    r->ends++;
    if (r->fail_at == FAIL_END && r->ends - 1 == r->fail_block) {
        r->has_failed = true;
        return error_set(err, "recorder stops at the end of block %d", r->ids[r->ends - 1]);
    }
    return 0;
}

static void rec_free(struct recorder *r)
{
    for (size_t i = 0; i < MAX_BLOCKS; i++)
        buf_free(&r->data[i]);
}

static struct pga_data_handler handler_of(struct recorder *r)
{
    struct pga_data_handler h = {rec_start, rec_data, rec_end, r};
    return h;
}

/* Feeds len bytes in pieces of `piece` bytes, stopping at the first error. */
static int feed_in_pieces(struct pga_data_reader *reader, const uint8_t *p, size_t len, size_t piece,
                          struct error *err)
{
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        if (pga_data_reader_feed(reader, p + at, n, err) < 0)
            return -1;
    }
    return 0;
}

/* Parses the archive's TOC, which must be complete. */
static void parse_complete(const struct archive *a, struct pga_toc *toc)
{
    struct error err = {0};
    assert_int_equal(pga_toc_parse(a->bytes.data, a->bytes.len, toc, &err), 1);
}

/* ---- the table of contents ------------------------------------------ */

/* Every entry comes back with the id, desc, tag, section, namespace, defn
 * and copy statement it was written with, and the data starts right after
 * the TOC the writer produced. */
static void check_standard_toc(const struct arc_header *h)
{
    struct archive a;
    archive_build(&a, h);
    struct pga_toc toc;
    struct error err = {0};

    assert_int_equal(pga_toc_parse(a.bytes.data, a.bytes.len, &toc, &err), 1);

    assert_int_equal(toc.version, (unsigned)h->major << 16 | (unsigned)h->minor << 8);
    assert_int_equal(toc.int_size, INT_SIZE);
    assert_int_equal(toc.offset_size, OFFSET_SIZE);
    assert_false(toc.is_compressed);
    assert_int_equal(toc.data_start, a.toc_len);
    assert_int_equal(toc.count, STANDARD_COUNT);
    for (size_t i = 0; i < STANDARD_COUNT; i++) {
        const struct arc_entry *want = &STANDARD_ENTRIES[i];
        const struct pga_entry *e = &toc.entries[i];
        assert_int_equal(e->dump_id, want->dump_id);
        assert_int_equal(e->has_data, want->copy_stmt != NULL);
        assert_string_equal(e->desc, want->desc);
        assert_string_equal(e->tag, want->tag);
        assert_int_equal(e->section, want->section);
        assert_string_equal(e->defn, want->defn);
        if (want->namespace_name)
            assert_string_equal(e->namespace_name, want->namespace_name);
        else
            assert_null(e->namespace_name);
        if (want->copy_stmt)
            assert_string_equal(e->copy_stmt, want->copy_stmt);
        else
            assert_null(e->copy_stmt);
    }
    pga_toc_free(&toc);
    assert_int_equal(toc.count, 0);
    assert_null(toc.entries);
    archive_free(&a);
}

/* 1.12 and 1.13 (pg_dump 10 and 11) have no table access method field. */
static void test_pgarchive_toc_v1_12_and_v1_13_have_no_access_method(void **state)
{
    check_standard_toc(&V1_12);
    check_standard_toc(&V1_13);
}

/* A complete 1.14 archive (pg_dump 12 to 15) parses entry by entry. */
static void test_pgarchive_toc_v1_14_parses_every_entry(void **state)
{
    check_standard_toc(&V1_14);
}

/* 1.15 (pg_dump 16) has a one-byte compression algorithm in the header
 * instead of an integer level; the entries still come out right. */
static void test_pgarchive_toc_v1_15_reads_one_byte_compression(void **state)
{
    check_standard_toc(&V1_15);
}

/* 1.16 (pg_dump 17) has a relkind integer after the table access method;
 * the entries still come out right. */
static void test_pgarchive_toc_v1_16_skips_relkind(void **state)
{
    check_standard_toc(&V1_16);
}

/* The TOC alone (no data blocks after it) is enough: data_start is its end. */
static void test_pgarchive_toc_without_data_blocks_is_complete(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    struct error err = {0};

    assert_int_equal(pga_toc_parse(a.bytes.data, a.toc_len, &toc, &err), 1);
    assert_int_equal(toc.data_start, a.toc_len);
    assert_int_equal(toc.count, STANDARD_COUNT);
    pga_toc_free(&toc);
    archive_free(&a);
}

/* Every strict prefix of the header and TOC asks for more bytes (0): never
 * an error, never a crash or a read past the prefix, whatever the version. */
static void test_pgarchive_toc_every_prefix_needs_more(void **state)
{
    const struct arc_header *versions[] = {&V1_13, &V1_14, &V1_15, &V1_16};
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        struct archive a;
        archive_build(&a, versions[v]);
        for (size_t len = 0; len < a.toc_len; len++) {
            /* An exact-size copy, so ASan sees any read past the prefix. */
            uint8_t *prefix = malloc(len ? len : 1);
            memcpy(prefix, a.bytes.data, len);
            struct pga_toc toc;
            struct error err = {0};
            int rc = pga_toc_parse(prefix, len, &toc, &err);
            if (rc != 0)
                fail_msg("version 1.%u, prefix of %zu of %zu bytes: got %d (%s)", versions[v]->minor, len,
                         a.toc_len, rc, err.msg);
            assert_int_equal(toc.count, 0);
            assert_null(toc.entries);
            free(prefix);
        }
        archive_free(&a);
    }
}

/* An entry without a section (an ACL, a comment) takes the section of the
 * entry before it, as pg_restore sees it; before any entry with a section
 * that is pre-data. */
static void test_pgarchive_toc_section_none_takes_section_before(void **state)
{
    static const struct arc_entry entries[] = {
        {1, "COMMENT", "DATABASE shop", PGA_SECTION_NONE, NULL, "", NULL, {NULL}},
        {2, "TABLE", "t", PGA_SECTION_PRE_DATA, "public", "CREATE TABLE t (a int);\n", NULL, {NULL}},
        {3, "COMMENT", "TABLE t", PGA_SECTION_NONE, "public", "COMMENT ON TABLE t IS 'x';\n", NULL, {"2", NULL}},
        {4, "TABLE DATA", "t", PGA_SECTION_DATA, "public", "", "COPY public.t (a) FROM stdin;\n", {"2", NULL}},
        {5, "COMMENT", "TABLE DATA t", PGA_SECTION_NONE, "public", "", NULL, {"4", NULL}},
        {6, "INDEX", "t_a_idx", PGA_SECTION_POST_DATA, "public", "CREATE INDEX t_a_idx ON t (a);\n", NULL,
         {"2", NULL}},
        {7, "ACL", "TABLE t", PGA_SECTION_NONE, "public", "GRANT SELECT ON TABLE t TO reader;\n", NULL, {"2", NULL}},
        {8, "ACL", "SCHEMA public", PGA_SECTION_NONE, NULL, "GRANT USAGE ON SCHEMA public TO reader;\n", NULL,
         {NULL}},
    };
    static const enum pga_section want[] = {
        PGA_SECTION_PRE_DATA, PGA_SECTION_PRE_DATA, PGA_SECTION_PRE_DATA, PGA_SECTION_DATA,
        PGA_SECTION_DATA,     PGA_SECTION_POST_DATA, PGA_SECTION_POST_DATA, PGA_SECTION_POST_DATA,
    };
    struct buf b = BUF_INIT;
    size_t toc_len = write_toc(&b, &V1_14, entries, 8);
    struct pga_toc toc;
    struct error err = {0};

    assert_int_equal(pga_toc_parse(b.data, b.len, &toc, &err), 1);
    assert_int_equal(toc.data_start, toc_len);
    assert_int_equal(toc.count, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(toc.entries[i].desc, entries[i].desc);
        assert_int_equal(toc.entries[i].section, want[i]);
    }
    pga_toc_free(&toc);
    buf_free(&b);
}

/* An entry with a section number outside 1..4 is damage: -1 and a message. */
static void test_pgarchive_toc_unknown_section_is_refused(void **state)
{
    struct arc_entry entries[2] = {STANDARD_ENTRIES[0], STANDARD_ENTRIES[1]};
    entries[1].section = 5;
    struct buf b = BUF_INIT;
    write_toc(&b, &V1_14, entries, 2);
    struct pga_toc toc;
    struct error err = {0};

    assert_int_equal(pga_toc_parse(b.data, b.len, &toc, &err), -1);
    assert_true(err.msg[0] != '\0');
    buf_free(&b);
}

/* Parses an archive with this header and the standard entries; returns
 * what pga_toc_parse returned, with err filled on -1. */
static int parse_with_header(const struct arc_header *h, struct pga_toc *toc, struct error *err)
{
    struct buf b = BUF_INIT;
    write_toc(&b, h, STANDARD_ENTRIES, STANDARD_COUNT);
    int rc = pga_toc_parse(b.data, b.len, toc, err);
    buf_free(&b);
    return rc;
}

/* Bytes that do not start with "PGDMP" are no archive: -1 and a message. */
static void test_pgarchive_toc_without_magic_is_refused(void **state)
{
    struct buf b = BUF_INIT;
    write_toc(&b, &V1_14, STANDARD_ENTRIES, STANDARD_COUNT);
    b.data[4] = 'Q'; /* "PGDMQ" */
    struct pga_toc toc;
    struct error err = {0};

    assert_int_equal(pga_toc_parse(b.data, b.len, &toc, &err), -1);
    assert_true(err.msg[0] != '\0');
    /* Already at five bytes the answer is known. */
    struct error err5 = {0};
    assert_int_equal(pga_toc_parse(b.data, 5, &toc, &err5), -1);
    assert_true(err5.msg[0] != '\0');
    buf_free(&b);
}

/* Another pg_dump format (3 = tar) is refused: -1 and a message. */
static void test_pgarchive_toc_other_format_is_refused(void **state)
{
    const struct arc_header tar = {1, 14, 3, 0};
    struct pga_toc toc;
    struct error err = {0};

    assert_int_equal(parse_with_header(&tar, &toc, &err), -1);
    assert_true(err.msg[0] != '\0');
}

/* Versions outside 1.12..1.16 are refused with a message: 1.11 (too old),
 * 1.17 (newer than coffer knows), 2.14. */
static void test_pgarchive_toc_unknown_version_is_refused(void **state)
{
    const struct arc_header versions[] = {{1, 11, 1, 0}, {1, 17, 1, 0}, {2, 14, 1, 0}, {0, 14, 1, 0}};
    for (size_t i = 0; i < 4; i++) {
        struct pga_toc toc;
        struct error err = {0};
        int rc = parse_with_header(&versions[i], &toc, &err);
        if (rc != -1)
            fail_msg("version %u.%u: got %d, want -1", versions[i].major, versions[i].minor, rc);
        assert_true(err.msg[0] != '\0');
    }
}

/* A compressed archive still parses (the TOC is never compressed) but is
 * flagged, so the caller restores it with pg_restore alone: level 6 and
 * pg_dump's default level -1 in 1.14, algorithm 1 (gzip) and 3 (zstd) in
 * 1.15 and 1.16. */
static void test_pgarchive_toc_compressed_archive_is_flagged(void **state)
{
    const struct arc_header compressed[] = {{1, 14, 1, 6}, {1, 14, 1, -1}, {1, 15, 1, 1}, {1, 16, 1, 3}};
    for (size_t i = 0; i < 4; i++) {
        struct pga_toc toc;
        struct error err = {0};
        assert_int_equal(parse_with_header(&compressed[i], &toc, &err), 1);
        assert_true(toc.is_compressed);
        assert_int_equal(toc.count, STANDARD_COUNT);
        assert_string_equal(toc.entries[STANDARD_COUNT - 1].desc, "INDEX");
        pga_toc_free(&toc);
    }
}

/* pga_toc_find returns the entry with the dump id, NULL for an unknown one. */
static void test_pgarchive_toc_find_by_dump_id(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);

    for (size_t i = 0; i < STANDARD_COUNT; i++) {
        const struct pga_entry *e = pga_toc_find(&toc, STANDARD_ENTRIES[i].dump_id);
        assert_non_null(e);
        assert_ptr_equal(e, &toc.entries[i]);
        assert_int_equal(e->dump_id, STANDARD_ENTRIES[i].dump_id);
    }
    assert_string_equal(pga_toc_find(&toc, 6)->copy_stmt, "COPY app.orders (id, total) FROM stdin;\n");
    assert_null(pga_toc_find(&toc, 0));
    assert_null(pga_toc_find(&toc, 9));
    assert_null(pga_toc_find(&toc, -1));
    pga_toc_free(&toc);
    archive_free(&a);
}

/* ---- the data blocks ------------------------------------------------ */

/* The recorder saw exactly the standard blocks: ids in order, each block's
 * bytes equal to what was written, one end per block. */
static void check_standard_blocks(const struct archive *a, const struct recorder *r)
{
    assert_false(r->is_order_bad);
    assert_false(r->is_in_block);
    assert_int_equal(r->starts, BLOCKS);
    assert_int_equal(r->ends, BLOCKS);
    for (size_t i = 0; i < BLOCKS; i++) {
        assert_int_equal(r->ids[i], BLOCK_IDS[i]);
        assert_int_equal(r->data[i].len, a->content_len[i]);
        if (a->content_len[i])
            assert_memory_equal(r->data[i].data, a->content[i], a->content_len[i]);
    }
}

/* The data blocks come out the same whether fed in pieces of 1 to 17 bytes
 * or all at once, and the archive ends cleanly between blocks. */
static void test_pgarchive_data_same_blocks_for_any_piece_size(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);
    const uint8_t *data = a.bytes.data + toc.data_start;
    size_t len = a.bytes.len - toc.data_start;

    for (size_t piece = 1; piece <= 18; piece++) {
        size_t size = piece <= 17 ? piece : len; /* the last round: all at once */
        struct recorder rec = {0};
        struct pga_data_handler h = handler_of(&rec);
        struct pga_data_reader reader;
        struct error err = {0};
        pga_data_reader_init(&reader, &toc, &h);

        int rc = feed_in_pieces(&reader, data, len, size, &err);
        if (rc != 0)
            fail_msg("pieces of %zu bytes: feed failed: %s", size, err.msg);
        check_standard_blocks(&a, &rec);
        assert_int_equal(pga_data_reader_finish(&reader, &err), 0);
        rec_free(&rec);
    }
    pga_toc_free(&toc);
    archive_free(&a);
}

/* An archive that stops mid-block (the last 3 bytes missing) fails at
 * finish with a message; whatever arrived was still handed on. */
static void test_pgarchive_data_truncated_block_fails_at_finish(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);
    const uint8_t *data = a.bytes.data + toc.data_start;
    size_t len = a.bytes.len - toc.data_start;

    struct recorder rec = {0};
    struct pga_data_handler h = handler_of(&rec);
    struct pga_data_reader reader;
    struct error err = {0};
    pga_data_reader_init(&reader, &toc, &h);
    assert_int_equal(pga_data_reader_feed(&reader, data, len - 3, &err), 0);
    assert_int_equal(rec.starts, BLOCKS);
    assert_int_equal(rec.ends, BLOCKS - 1);
    assert_int_equal(rec.data[BLOCKS - 1].len, a.content_len[BLOCKS - 1]);

    assert_int_equal(pga_data_reader_finish(&reader, &err), -1);
    assert_true(err.msg[0] != '\0');
    rec_free(&rec);
    pga_toc_free(&toc);
    archive_free(&a);
}

/* Cut anywhere, the data ends cleanly (finish returns 0) exactly when the
 * cut falls between blocks, including before the first. */
static void test_pgarchive_data_finish_succeeds_only_between_blocks(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);
    const uint8_t *data = a.bytes.data + toc.data_start;
    size_t len = a.bytes.len - toc.data_start;

    for (size_t cut = 0; cut <= len; cut++) {
        bool is_between = cut == 0;
        for (size_t i = 0; i < BLOCKS; i++)
            is_between = is_between || cut == a.block_end[i];
        struct recorder rec = {0};
        struct pga_data_handler h = handler_of(&rec);
        struct pga_data_reader reader;
        struct error err = {0};
        pga_data_reader_init(&reader, &toc, &h);
        assert_int_equal(pga_data_reader_feed(&reader, data, cut, &err), 0);
        int rc = pga_data_reader_finish(&reader, &err);
        if (rc != (is_between ? 0 : -1))
            fail_msg("cut after %zu of %zu bytes: finish returned %d", cut, len, rc);
        assert_false(rec.is_order_bad);
        rec_free(&rec);
    }
    pga_toc_free(&toc);
    archive_free(&a);
}

/* A data block of another type (3: large objects) is refused with a
 * message, at the start of the data or after a good block. */
static void test_pgarchive_data_block_of_other_type_is_refused(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);

    /* First thing after the TOC. */
    {
        struct buf b = BUF_INIT;
        buf_append_u8(&b, 3);
        put_int(&b, 9);
        put_int(&b, 0);
        struct recorder rec = {0};
        struct pga_data_handler h = handler_of(&rec);
        struct pga_data_reader reader;
        struct error err = {0};
        pga_data_reader_init(&reader, &toc, &h);
        assert_int_equal(pga_data_reader_feed(&reader, b.data, b.len, &err), -1);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(rec.starts, 0);
        rec_free(&rec);
        buf_free(&b);
    }
    /* After the first (good) block, fed in small pieces. */
    {
        struct buf b = BUF_INIT;
        buf_append(&b, a.bytes.data + toc.data_start, a.block_end[0]);
        buf_append_u8(&b, 3);
        put_int(&b, 9);
        put_int(&b, 0);
        struct recorder rec = {0};
        struct pga_data_handler h = handler_of(&rec);
        struct pga_data_reader reader;
        struct error err = {0};
        pga_data_reader_init(&reader, &toc, &h);
        assert_int_equal(feed_in_pieces(&reader, b.data, b.len, 7, &err), -1);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(rec.starts, 1);
        assert_int_equal(rec.ends, 1);
        assert_int_equal(rec.data[0].len, a.content_len[0]);
        rec_free(&rec);
        buf_free(&b);
    }
    pga_toc_free(&toc);
    archive_free(&a);
}

/* A negative chunk length is damage: -1 and a message. */
static void test_pgarchive_data_negative_chunk_length_is_refused(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);
    struct buf b = BUF_INIT;
    buf_append_u8(&b, 1);
    put_int(&b, 5);
    put_int(&b, -4);
    buf_append(&b, "abcd", 4);
    put_int(&b, 0);

    struct recorder rec = {0};
    struct pga_data_handler h = handler_of(&rec);
    struct pga_data_reader reader;
    struct error err = {0};
    pga_data_reader_init(&reader, &toc, &h);
    assert_int_equal(pga_data_reader_feed(&reader, b.data, b.len, &err), -1);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(rec.data[0].len, 0);
    rec_free(&rec);
    buf_free(&b);
    pga_toc_free(&toc);
    archive_free(&a);
}

/* A callback that returns -1 stops the feed at once: the feed returns -1
 * with the callback's message, and no callback runs after it. Checked for
 * each of the three callbacks, fed all at once and in pieces of 3 bytes. */
static void test_pgarchive_data_callback_error_stops_feed(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    struct pga_toc toc;
    parse_complete(&a, &toc);
    const uint8_t *data = a.bytes.data + toc.data_start;
    size_t len = a.bytes.len - toc.data_start;

    const struct {
        enum fail_at at;
        size_t block;
        const char *msg;
        size_t starts, ends;
    } cases[] = {
        {FAIL_START, 1, "recorder stops at the start of block 7", 2, 1},
        {FAIL_DATA, 2, "recorder stops in the data of block 6", 3, 2},
        {FAIL_END, 0, "recorder stops at the end of block 5", 1, 1},
    };
    const size_t pieces[] = {len, 3};
    for (size_t c = 0; c < 3; c++) {
        for (size_t p = 0; p < 2; p++) {
            struct recorder rec = {0};
            rec.fail_at = cases[c].at;
            rec.fail_block = cases[c].block;
            struct pga_data_handler h = handler_of(&rec);
            struct pga_data_reader reader;
            struct error err = {0};
            pga_data_reader_init(&reader, &toc, &h);

            assert_int_equal(feed_in_pieces(&reader, data, len, pieces[p], &err), -1);
            assert_true(rec.has_failed);
            assert_string_equal(err.msg, cases[c].msg);
            assert_int_equal(rec.calls_after_fail, 0);
            assert_int_equal(rec.starts, cases[c].starts);
            assert_int_equal(rec.ends, cases[c].ends);
            assert_false(rec.is_order_bad);
            rec_free(&rec);
        }
    }
    pga_toc_free(&toc);
    archive_free(&a);
}

/* ---- an archive in pieces (pga_stream) ------------------------------ */

/* An on_toc callback that notes what it was shown and hands the blocks to
 * its recorder, or refuses with fail_msg. */
struct toc_watch {
    struct recorder rec;
    const char *fail_msg;     /* non-NULL: on_toc returns -1 with this message */
    size_t calls;
    bool was_stream_right;    /* called with the stream given to pga_stream_init's ctx */
    bool had_toc;             /* s->has_toc was set when on_toc ran */
    size_t starts_before;     /* blocks the recorder had seen before on_toc */
    struct pga_stream *stream;
    size_t count;             /* the TOC it was shown */
    size_t data_start;
    bool is_standard;         /* its entries were the standard ones, in order */
    size_t defn_len[STANDARD_COUNT];
};

static int watch_toc(void *ctx, struct pga_stream *s, struct pga_data_handler *handler, struct error *err)
{
    struct toc_watch *w = ctx;
    w->calls++;
    w->was_stream_right = s == w->stream;
    w->had_toc = s->has_toc;
    w->starts_before = w->rec.starts;
    w->count = s->toc.count;
    w->data_start = s->toc.data_start;
    w->is_standard = s->toc.count == STANDARD_COUNT;
    for (size_t i = 0; w->is_standard && i < STANDARD_COUNT; i++) {
        const struct pga_entry *e = &s->toc.entries[i];
        w->is_standard = e->dump_id == STANDARD_ENTRIES[i].dump_id &&
                         strcmp(e->desc, STANDARD_ENTRIES[i].desc) == 0 &&
                         strcmp(e->tag, STANDARD_ENTRIES[i].tag) == 0;
        w->defn_len[i] = e->defn ? strlen(e->defn) : 0;
    }
    if (w->fail_msg)
        return error_set(err, "%s", w->fail_msg);
    *handler = handler_of(&w->rec);
    return 0;
}

/* Feeds len bytes to the stream in pieces of `piece` bytes, stopping at the
 * first error. */
static int stream_in_pieces(struct pga_stream *s, const uint8_t *p, size_t len, size_t piece, struct error *err)
{
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        if (pga_stream_feed(s, p + at, n, err) < 0)
            return -1;
    }
    return 0;
}

/* Streams the archive (longer than the first parse point) in pieces of
 * `piece` bytes to a watch, then finishes; every step must succeed. The
 * watch is filled (rec_free it). */
static void stream_archive(const struct archive *a, size_t piece, struct toc_watch *w)
{
    struct pga_stream s;
    struct error err = {0};
    w->stream = &s;
    pga_stream_init(&s, watch_toc, w);
    if (stream_in_pieces(&s, a->bytes.data, a->bytes.len, piece, &err) != 0)
        fail_msg("pieces of %zu bytes: feed failed: %s", piece, err.msg);
    /* An archive longer than the first parse point has its TOC read while
     * it streams, not only at the end. */
    if (w->calls != 1)
        fail_msg("pieces of %zu bytes: on_toc ran %zu times before finish, want 1", piece, w->calls);
    if (pga_stream_finish(&s, &err) != 0)
        fail_msg("pieces of %zu bytes: finish failed: %s", piece, err.msg);
    assert_false(s.is_unreadable);
    assert_true(s.has_toc);
    assert_int_equal(s.toc.data_start, a->toc_len);
    pga_stream_free(&s);
    w->stream = NULL;
}

/* The standard archive (about 71 KiB, past the first parse at 64 KiB)
 * streamed in pieces of 1 byte, 7 bytes or all at once: on_toc runs exactly
 * once, before any block, with the parsed TOC, and the handler it filled
 * gets exactly the blocks that were written. */
static void test_pgarchive_stream_same_blocks_for_any_piece_size(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    assert_true(a.bytes.len > (64u << 10));
    const size_t pieces[] = {1, 7, a.bytes.len};

    for (size_t p = 0; p < 3; p++) {
        struct toc_watch w = {0};
        stream_archive(&a, pieces[p], &w);
        assert_int_equal(w.calls, 1);
        assert_true(w.was_stream_right);
        assert_true(w.had_toc);
        assert_int_equal(w.starts_before, 0);
        assert_true(w.is_standard);
        assert_int_equal(w.count, STANDARD_COUNT);
        assert_int_equal(w.data_start, a.toc_len);
        check_standard_blocks(&a, &w.rec);
        rec_free(&w.rec);
    }
    archive_free(&a);
}

/* A TOC larger than the first parse point (a 200 KiB definition) is
 * parsed again as more comes, and the blocks still all arrive, for pieces
 * of 1 byte, 7 bytes or all at once. */
static void test_pgarchive_stream_toc_beyond_first_parse_point(void **state)
{
    size_t big_len = 200u << 10;
    char *big = malloc(big_len + 1);
    test_fill_text((uint8_t *)big, big_len, 77);
    big[big_len] = '\0';
    struct arc_entry entries[STANDARD_COUNT];
    memcpy(entries, STANDARD_ENTRIES, sizeof entries);
    entries[2].defn = big;
    struct archive a;
    archive_build_with(&a, &V1_16, entries, STANDARD_COUNT);
    assert_true(a.toc_len > big_len);
    const size_t pieces[] = {1, 7, a.bytes.len};

    for (size_t p = 0; p < 3; p++) {
        struct toc_watch w = {0};
        stream_archive(&a, pieces[p], &w);
        assert_int_equal(w.calls, 1);
        assert_true(w.is_standard);
        assert_int_equal(w.defn_len[2], big_len);
        assert_int_equal(w.data_start, a.toc_len);
        check_standard_blocks(&a, &w.rec);
        rec_free(&w.rec);
    }
    archive_free(&a);
    free(big);
}

/* An archive shorter than the first parse point is held until finish:
 * the feeds call nothing, finish runs on_toc once and delivers the block. */
static void test_pgarchive_stream_short_archive_delivered_at_finish(void **state)
{
    static const char rows[] = "1\talice\n2\tbob\n\\.\n\n\n";
    const size_t chunks[] = {5, sizeof rows - 1 - 5};
    struct buf b = BUF_INIT;
    size_t toc_len = write_toc(&b, &V1_15, STANDARD_ENTRIES, STANDARD_COUNT);
    write_block(&b, 5, (const uint8_t *)rows, chunks, 2);

    for (size_t piece = 1; piece <= b.len; piece += b.len - 1) { /* 1 byte, then all at once */
        struct toc_watch w = {0};
        struct pga_stream s;
        struct error err = {0};
        w.stream = &s;
        pga_stream_init(&s, watch_toc, &w);
        assert_int_equal(stream_in_pieces(&s, b.data, b.len, piece, &err), 0);
        assert_int_equal(w.calls, 0);
        assert_int_equal(w.rec.starts, 0);

        assert_int_equal(pga_stream_finish(&s, &err), 0);
        assert_int_equal(w.calls, 1);
        assert_true(w.is_standard);
        assert_int_equal(w.data_start, toc_len);
        assert_false(w.rec.is_order_bad);
        assert_int_equal(w.rec.starts, 1);
        assert_int_equal(w.rec.ends, 1);
        assert_int_equal(w.rec.ids[0], 5);
        assert_int_equal(w.rec.data[0].len, sizeof rows - 1);
        assert_memory_equal(w.rec.data[0].data, rows, sizeof rows - 1);
        pga_stream_free(&s);
        rec_free(&w.rec);
    }
    buf_free(&b);
}

/* Bytes that are no archive: 100 KiB of random bytes fail the feed that
 * reaches the first parse point (all at once or in 7-byte pieces), and
 * 1,000 random bytes fail at finish; each time with is_unreadable set and
 * a message, and on_toc never runs. */
static void test_pgarchive_stream_garbage_is_unreadable(void **state)
{
    size_t len = 100u << 10;
    uint8_t *garbage = malloc(len);
    test_fill_random(garbage, len, 4242);
    garbage[0] = 'X'; /* whatever the seed, not "PGDMP" */

    const size_t pieces[] = {len, 7};
    for (size_t p = 0; p < 2; p++) {
        struct toc_watch w = {0};
        struct pga_stream s;
        struct error err = {0};
        pga_stream_init(&s, watch_toc, &w);
        assert_false(s.is_unreadable);
        assert_int_equal(stream_in_pieces(&s, garbage, len, pieces[p], &err), -1);
        assert_true(s.is_unreadable);
        assert_false(s.has_toc);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(w.calls, 0);
        pga_stream_free(&s);
    }

    struct toc_watch w = {0};
    struct pga_stream s;
    struct error err = {0};
    pga_stream_init(&s, watch_toc, &w);
    assert_int_equal(stream_in_pieces(&s, garbage, 1000, 1, &err), 0);
    assert_false(s.is_unreadable);
    assert_int_equal(pga_stream_finish(&s, &err), -1);
    assert_true(s.is_unreadable);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(w.calls, 0);
    pga_stream_free(&s);
    free(garbage);
}

/* Archives this reader does not take apart, complete and past the first
 * parse point: tar format (3) and version 1.17. The feed fails with
 * is_unreadable, and on_toc never runs. */
static void test_pgarchive_stream_other_format_or_version_is_unreadable(void **state)
{
    const struct arc_header headers[] = {{1, 14, 3, 0}, {1, 17, 1, 0}};
    for (size_t i = 0; i < 2; i++) {
        struct archive a;
        archive_build(&a, &headers[i]);
        struct toc_watch w = {0};
        struct pga_stream s;
        struct error err = {0};
        pga_stream_init(&s, watch_toc, &w);
        assert_int_equal(stream_in_pieces(&s, a.bytes.data, a.bytes.len, 7, &err), -1);
        assert_true(s.is_unreadable);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(w.calls, 0);
        assert_int_equal(w.rec.starts, 0);
        pga_stream_free(&s);
        archive_free(&a);
    }
}

/* An archive cut anywhere before its TOC ends (0 bytes included) is
 * accepted by the feeds and fails at finish with is_unreadable and a
 * message, without on_toc; so does a TOC larger than the first parse
 * point cut one byte short. Cut after the TOC, in a block, finish fails
 * too, but the archive was readable. */
static void test_pgarchive_stream_truncated_toc_fails_at_finish(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    for (size_t cut = 0; cut < a.toc_len; cut++) {
        struct toc_watch w = {0};
        struct pga_stream s;
        struct error err = {0};
        pga_stream_init(&s, watch_toc, &w);
        assert_int_equal(pga_stream_feed(&s, a.bytes.data, cut, &err), 0);
        int rc = pga_stream_finish(&s, &err);
        if (rc != -1 || !s.is_unreadable)
            fail_msg("cut after %zu of %zu TOC bytes: finish returned %d, is_unreadable %d", cut, a.toc_len, rc,
                     s.is_unreadable);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(w.calls, 0);
        pga_stream_free(&s);
    }

    /* In the last block: readable, but not complete. */
    {
        struct toc_watch w = {0};
        struct pga_stream s;
        struct error err = {0};
        pga_stream_init(&s, watch_toc, &w);
        assert_int_equal(stream_in_pieces(&s, a.bytes.data, a.bytes.len - 3, 7, &err), 0);
        assert_int_equal(pga_stream_finish(&s, &err), -1);
        assert_false(s.is_unreadable);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.rec.starts, BLOCKS);
        assert_int_equal(w.rec.ends, BLOCKS - 1);
        pga_stream_free(&s);
        rec_free(&w.rec);
    }
    archive_free(&a);

    /* A TOC past the first parse point, cut one byte short. */
    size_t big_len = 100u << 10;
    char *big = malloc(big_len + 1);
    memset(big, 'x', big_len);
    big[big_len] = '\0';
    struct arc_entry entries[STANDARD_COUNT];
    memcpy(entries, STANDARD_ENTRIES, sizeof entries);
    entries[0].defn = big;
    archive_build_with(&a, &V1_14, entries, STANDARD_COUNT);
    struct toc_watch w = {0};
    struct pga_stream s;
    struct error err = {0};
    pga_stream_init(&s, watch_toc, &w);
    assert_int_equal(stream_in_pieces(&s, a.bytes.data, a.toc_len - 1, 7, &err), 0);
    assert_false(s.is_unreadable);
    assert_int_equal(pga_stream_finish(&s, &err), -1);
    assert_true(s.is_unreadable);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(w.calls, 0);
    pga_stream_free(&s);
    archive_free(&a);
    free(big);
}

/* on_toc returning -1 fails the feed in which the TOC parsed, with on_toc's
 * message, is_unreadable left unset and no block delivered: all at once
 * and in 1-byte pieces (exactly one feed fails) for the standard archive,
 * and at finish for an archive shorter than the first parse point. */
static void test_pgarchive_stream_on_toc_error_fails_feed(void **state)
{
    struct archive a;
    archive_build(&a, &V1_14);
    const size_t pieces[] = {a.bytes.len, 1};
    for (size_t p = 0; p < 2; p++) {
        struct toc_watch w = {.fail_msg = "coffer does not load this dump itself"};
        struct pga_stream s;
        struct error err = {0};
        pga_stream_init(&s, watch_toc, &w);
        size_t at = 0, failures = 0;
        for (; at < a.bytes.len; at += pieces[p]) {
            size_t n = a.bytes.len - at < pieces[p] ? a.bytes.len - at : pieces[p];
            if (pga_stream_feed(&s, a.bytes.data + at, n, &err) < 0) {
                failures++;
                break;
            }
        }
        assert_int_equal(failures, 1);
        if (pieces[p] == 1) /* the feed that brought the head to the first parse point */
            assert_int_equal(at + 1, 64u << 10);
        assert_string_equal(err.msg, "coffer does not load this dump itself");
        assert_false(s.is_unreadable);
        assert_int_equal(w.calls, 1);
        assert_int_equal(w.rec.starts, 0);
        pga_stream_free(&s);
    }
    archive_free(&a);

    struct buf b = BUF_INIT;
    write_toc(&b, &V1_14, STANDARD_ENTRIES, STANDARD_COUNT);
    struct toc_watch w = {.fail_msg = "the dump is compressed"};
    struct pga_stream s;
    struct error err = {0};
    pga_stream_init(&s, watch_toc, &w);
    assert_int_equal(pga_stream_feed(&s, b.data, b.len, &err), 0);
    assert_int_equal(w.calls, 0);
    assert_int_equal(pga_stream_finish(&s, &err), -1);
    assert_string_equal(err.msg, "the dump is compressed");
    assert_false(s.is_unreadable);
    assert_int_equal(w.calls, 1);
    pga_stream_free(&s);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgarchive_toc_v1_12_and_v1_13_have_no_access_method),
        cmocka_unit_test(test_pgarchive_toc_v1_14_parses_every_entry),
        cmocka_unit_test(test_pgarchive_toc_v1_15_reads_one_byte_compression),
        cmocka_unit_test(test_pgarchive_toc_v1_16_skips_relkind),
        cmocka_unit_test(test_pgarchive_toc_without_data_blocks_is_complete),
        cmocka_unit_test(test_pgarchive_toc_every_prefix_needs_more),
        cmocka_unit_test(test_pgarchive_toc_section_none_takes_section_before),
        cmocka_unit_test(test_pgarchive_toc_unknown_section_is_refused),
        cmocka_unit_test(test_pgarchive_toc_without_magic_is_refused),
        cmocka_unit_test(test_pgarchive_toc_other_format_is_refused),
        cmocka_unit_test(test_pgarchive_toc_unknown_version_is_refused),
        cmocka_unit_test(test_pgarchive_toc_compressed_archive_is_flagged),
        cmocka_unit_test(test_pgarchive_toc_find_by_dump_id),
        cmocka_unit_test(test_pgarchive_data_same_blocks_for_any_piece_size),
        cmocka_unit_test(test_pgarchive_data_truncated_block_fails_at_finish),
        cmocka_unit_test(test_pgarchive_data_finish_succeeds_only_between_blocks),
        cmocka_unit_test(test_pgarchive_data_block_of_other_type_is_refused),
        cmocka_unit_test(test_pgarchive_data_negative_chunk_length_is_refused),
        cmocka_unit_test(test_pgarchive_data_callback_error_stops_feed),
        cmocka_unit_test(test_pgarchive_stream_same_blocks_for_any_piece_size),
        cmocka_unit_test(test_pgarchive_stream_toc_beyond_first_parse_point),
        cmocka_unit_test(test_pgarchive_stream_short_archive_delivered_at_finish),
        cmocka_unit_test(test_pgarchive_stream_garbage_is_unreadable),
        cmocka_unit_test(test_pgarchive_stream_other_format_or_version_is_unreadable),
        cmocka_unit_test(test_pgarchive_stream_truncated_toc_fails_at_finish),
        cmocka_unit_test(test_pgarchive_stream_on_toc_error_fails_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
