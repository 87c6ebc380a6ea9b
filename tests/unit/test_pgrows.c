/*
 * test_pgrows.c — counting each table's rows in a pg_dump custom-format
 * archive as it streams by: every line of a TABLE DATA block is a row
 * (an empty line too), except the "\." line and two empty lines pg_dump
 * ends each table's COPY data with; a block without that terminator
 * counts every line; the counts are the same however the archive is cut
 * into pieces; each table is named "schema.table" (just the table without
 * a schema); an archive that cannot be read yields no counts (NULL), a
 * compressed one too, with the reason.
 *
 * The archives are synthetic, written by pgarchive_writer.h, which follows
 * the layout pg_dump writes to a pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/pgrows.h"
#include "util/buf.h"
#include "testing.h"
#include "pgarchive_writer.h"

static const struct arc_header V1_14 = {1, 14, 1, 0};

/* ---- the standard archive ------------------------------------------- */

static const struct arc_entry ENTRIES[] = {
    {1, "SCHEMA", "app", 2, NULL, NULL, NULL, {NULL}},
    {2, "TABLE", "users", 2, "app", NULL, NULL, {NULL}},
    {3, "TABLE", "notes", 2, "app", NULL, NULL, {NULL}},
    {4, "TABLE DATA", "users", 3, "app", NULL, "COPY app.users (id, name) FROM stdin;\n", {NULL}},
    {5, "TABLE DATA", "notes", 3, "app", NULL, "COPY app.notes (body) FROM stdin;\n", {NULL}},
    {6, "TABLE DATA", "empty", 3, "app", NULL, "COPY app.empty (id) FROM stdin;\n", {NULL}},
    {7, "TABLE DATA", "blank", 3, "app", NULL, "COPY app.blank (body) FROM stdin;\n", {NULL}},
    {8, "TABLE DATA", "events", 3, NULL, NULL, "COPY events (id, what) FROM stdin;\n", {NULL}},
    {9, "INDEX", "users_name_idx", 4, "app", NULL, NULL, {NULL}},
};
#define ENTRY_COUNT (sizeof ENTRIES / sizeof ENTRIES[0])

#define EVENT_ROWS 20000

/* The data blocks pg_dump would write, each ending in "\\.\n\n\n": 3 rows;
 * 4 rows of which two are empty strings (one just before the
 * terminator); none; one empty-string row; EVENT_ROWS rows (past the
 * point where the stream first parses the TOC), whose block comes first.
 * Small chunks cut the terminator across chunks. */
static const char USERS[] = "1\talice\n2\tbob\n3\t\\N\n\\.\n\n\n";
static const char NOTES[] = "hello\n\nworld\n\n\\.\n\n\n";
static const char EMPTY[] = "\\.\n\n\n";
static const char BLANK[] = "\n\\.\n\n\n";

static void build_standard(struct buf *b)
{
    struct buf events = BUF_INIT;
    char line[64];
    for (int i = 0; i < EVENT_ROWS; i++) {
        int n = snprintf(line, sizeof line, "%d\tsomething happened\n", i);
        buf_append(&events, line, (size_t)n);
    }
    buf_append(&events, "\\.\n\n\n", 5);

    *b = (struct buf)BUF_INIT;
    write_toc(b, &V1_14, ENTRIES, ENTRY_COUNT);
    write_block_even(b, 8, (const char *)events.data, events.len, 4096);
    write_block_even(b, 4, USERS, sizeof USERS - 1, 3);
    write_block_even(b, 5, NOTES, sizeof NOTES - 1, 1);
    write_block_even(b, 6, EMPTY, sizeof EMPTY - 1, 4);
    write_block_even(b, 7, BLANK, sizeof BLANK - 1, sizeof BLANK - 1);
    buf_free(&events);
}

/* What pg_rows should find in the standard archive. */
static json_t *standard_counts(void)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i}", "app.users", 3, "app.notes", 4, "app.empty", 0, "app.blank", 1,
                     "events", EVENT_ROWS);
}

/* Feeds the bytes to a fresh pg_rows in pieces of `piece` bytes and
 * returns its result. */
static json_t *count_rows(const uint8_t *data, size_t len, size_t piece)
{
    struct pg_rows r;
    pg_rows_init(&r);
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        pg_rows_feed(&r, data + at, n);
    }
    json_t *result = pg_rows_result(&r);
    pg_rows_free(&r);
    if (!result)
        return NULL;
    /* [{schema, table, rows}] as {"schema.table": rows}, for comparing;
     * every entry must be whole and named once. */
    assert_true(json_is_array(result));
    json_t *by_name = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(result, i, e) {
        const char *schema = json_string_value(json_object_get(e, "schema"));
        const char *table = json_string_value(json_object_get(e, "table"));
        assert_non_null(table);
        assert_true(json_is_integer(json_object_get(e, "rows")));
        char name[256];
        snprintf(name, sizeof name, "%s%s%s", schema ? schema : "", schema ? "." : "", table);
        assert_null(json_object_get(by_name, name));
        json_object_set(by_name, name, json_object_get(e, "rows"));
    }
    json_decref(result);
    return by_name;
}

/* Fails with both objects printed unless they are equal. */
static void check_counts(json_t *got, json_t *want, size_t piece)
{
    if (!got)
        fail_msg("pieces of %zu bytes: no counts", piece);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        fail_msg("pieces of %zu bytes: got %s, want %s", piece, g, w);
    }
}

/* ---- the tests ------------------------------------------------------- */

/* The standard archive, all at once: each table's rows without pg_dump's
 * terminator, an empty-string row counted as a row, a table without rows
 * at 0. */
static void test_pgrows_counts_rows_before_terminator(void **state)
{
    struct buf b;
    build_standard(&b);
    json_t *want = standard_counts();
    json_t *got = count_rows(b.data, b.len, b.len);

    check_counts(got, want, b.len);
    assert_int_equal(json_integer_value(json_object_get(got, "app.users")), 3);
    assert_int_equal(json_integer_value(json_object_get(got, "app.notes")), 4);
    assert_int_equal(json_integer_value(json_object_get(got, "app.blank")), 1);
    json_decref(got);
    json_decref(want);
    buf_free(&b);
}

/* The counts are the same for pieces of 1 to 17 bytes, 4093 bytes and
 * all at once. */
static void test_pgrows_counts_same_for_any_piece_size(void **state)
{
    struct buf b;
    build_standard(&b);
    assert_true(b.len > (64u << 10));
    json_t *want = standard_counts();
    for (size_t piece = 1; piece <= 19; piece++) {
        size_t size = piece <= 17 ? piece : piece == 18 ? 4093 : b.len;
        json_t *got = count_rows(b.data, b.len, size);
        check_counts(got, want, size);
        json_decref(got);
    }
    json_decref(want);
    buf_free(&b);
}

/* A block without the terminator counts every line, also ones that look
 * like part of it: "a\nb\nc\n" is 3 rows, "x\n\n\n" 3, "\n\n" 2, and
 * "\\.\n\n" (a terminator missing its last newline) 2; and a block's
 * terminator is looked for in its own bytes: "\n\n\n" after a block
 * ending in "\\." is 3 rows. */
static void test_pgrows_block_without_terminator_counts_every_line(void **state)
{
    static const struct arc_entry entries[] = {
        {1, "TABLE DATA", "letters", 3, "public", NULL, "COPY public.letters (c) FROM stdin;\n", {NULL}},
        {2, "TABLE DATA", "trailing", 3, "public", NULL, "COPY public.trailing (c) FROM stdin;\n", {NULL}},
        {3, "TABLE DATA", "blanks", 3, "public", NULL, "COPY public.blanks (c) FROM stdin;\n", {NULL}},
        {4, "TABLE DATA", "almost", 3, "public", NULL, "COPY public.almost (c) FROM stdin;\n", {NULL}},
        {5, "TABLE DATA", "cut", 3, "public", NULL, "COPY public.cut (c) FROM stdin;\n", {NULL}},
        {6, "TABLE DATA", "after", 3, "public", NULL, "COPY public.after (c) FROM stdin;\n", {NULL}},
    };
    static const char *const blocks[] = {"a\nb\nc\n", "x\n\n\n", "\n\n", "\\.\n\n", "x\\.", "\n\n\n"};
    struct buf b = BUF_INIT;
    write_toc(&b, &V1_14, entries, 6);
    for (int i = 0; i < 6; i++)
        write_block_even(&b, i + 1, blocks[i], strlen(blocks[i]), 2);
    json_t *want = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "public.letters", 3, "public.trailing", 3,
                             "public.blanks", 2, "public.almost", 2, "public.cut", 0, "public.after", 3);

    const size_t pieces[] = {1, 7, b.len};
    for (size_t p = 0; p < 3; p++) {
        json_t *got = count_rows(b.data, b.len, pieces[p]);
        check_counts(got, want, pieces[p]);
        json_decref(got);
    }
    json_decref(want);
    buf_free(&b);
}

/* Tables are named "namespace.tag", or the tag alone without a namespace;
 * only TABLE DATA entries are named, each once (not the schema, the
 * tables' definitions or the index). */
static void test_pgrows_names_are_schema_dot_table(void **state)
{
    struct buf b;
    build_standard(&b);
    json_t *got = count_rows(b.data, b.len, 7);

    assert_non_null(got);
    assert_true(json_is_object(got));
    assert_int_equal(json_object_size(got), 5);
    const char *const names[] = {"app.users", "app.notes", "app.empty", "app.blank", "events"};
    for (size_t i = 0; i < 5; i++)
        if (!json_is_integer(json_object_get(got, names[i])))
            fail_msg("no count for %s", names[i]);
    assert_null(json_object_get(got, "app"));
    assert_null(json_object_get(got, "app.users_name_idx"));
    assert_null(json_object_get(got, ".events"));
    json_decref(got);
    buf_free(&b);
}

/* An archive that cannot be read yields NULL: random bytes (short, and
 * past the first parse point), an archive cut in its TOC, an archive cut
 * in a block; but a block the reader refuses after all the table data
 * leaves the counts. */
static void test_pgrows_unreadable_archive_yields_null(void **state)
{
    size_t len = 100u << 10;
    uint8_t *garbage = malloc(len);
    test_fill_random(garbage, len, 99);
    garbage[0] = 'X';
    assert_null(count_rows(garbage, 1000, 1000));
    assert_null(count_rows(garbage, len, 7));
    free(garbage);

    struct buf b;
    build_standard(&b);
    struct buf toc = BUF_INIT;
    write_toc(&toc, &V1_14, ENTRIES, ENTRY_COUNT);
    assert_null(count_rows(b.data, toc.len - 1, 7));
    assert_null(count_rows(b.data, b.len - 2, 7));
    /* The archive itself is fine: whole, it yields counts. */
    json_t *whole = count_rows(b.data, b.len, 7);
    assert_non_null(whole);
    json_decref(whole);

    /* A block the reader does not take apart after all the table data
     * (pg_dump puts large objects there): the counts are complete and
     * kept. */
    buf_append_u8(&b, 7);
    put_int(&b, 9);
    put_int(&b, 0);
    json_t *after = count_rows(b.data, b.len, b.len);
    json_t *want = standard_counts();
    check_counts(after, want, b.len);
    json_decref(after);
    json_decref(want);
    buf_free(&toc);
    buf_free(&b);
}

/* D3: a compressed archive (which pg_dump writes unless told not to) has
 * a TOC coffer reads but data it cannot take apart. The counter gives no
 * counts and says why, whatever the compression setting and however the
 * archive arrives; it used to read through a NULL array of counts, which
 * crashed the backup. */
static void test_pgrows_compressed_archive_yields_null_with_reason(void **state)
{
    static const struct arc_header compressed[] = {{1, 14, 1, 6}, {1, 14, 1, -1}, {1, 15, 1, 1}, {1, 16, 1, 3}};
    static const size_t pieces[] = {1, 7, 4096, 1u << 20};
    for (size_t h = 0; h < sizeof compressed / sizeof compressed[0]; h++) {
        struct buf b = BUF_INIT;
        write_toc(&b, &compressed[h], ENTRIES, ENTRY_COUNT);
        write_block_even(&b, 4, USERS, sizeof USERS - 1, 3);
        for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
            struct pg_rows r;
            pg_rows_init(&r);
            for (size_t at = 0; at < b.len; at += pieces[p])
                pg_rows_feed(&r, b.data + at, b.len - at < pieces[p] ? b.len - at : pieces[p]);
            assert_null(pg_rows_result(&r));
            assert_non_null(strstr(r.why.msg, "compressed"));
            /* The TOC was read: the foreign keys are still known. */
            assert_int_equal(pg_rows_foreign_keys(&r), 0);
            pg_rows_free(&r);
        }
        buf_free(&b);
    }
}

/* Found by fuzz_pgarchive: a schema or table name that is not UTF-8 (a
 * SQL_ASCII or LATIN1 database) cannot go into JSON, and the table used to
 * drop out of the counts silently, which then passed for complete. Now
 * there are no counts, and the reason says why. */
static void test_pgrows_name_not_utf8_yields_null_with_reason(void **state)
{
    static const struct arc_entry entries[] = {
        {1, "TABLE DATA", "users", 3, "app", NULL, "COPY app.users (id) FROM stdin;\n", {NULL}},
        {2, "TABLE DATA", "caf\xe9", 3, "app", NULL, "COPY app.caf\xe9 (id) FROM stdin;\n", {NULL}},
    };
    struct buf b = BUF_INIT;
    write_toc(&b, &V1_14, entries, 2);
    write_block_even(&b, 1, USERS, sizeof USERS - 1, 64);
    write_block_even(&b, 2, USERS, sizeof USERS - 1, 64);
    struct pg_rows r;
    pg_rows_init(&r);
    pg_rows_feed(&r, b.data, b.len);
    assert_null(pg_rows_result(&r));
    assert_non_null(strstr(r.why.msg, "not UTF-8"));
    pg_rows_free(&r);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgrows_counts_rows_before_terminator),
        cmocka_unit_test(test_pgrows_counts_same_for_any_piece_size),
        cmocka_unit_test(test_pgrows_block_without_terminator_counts_every_line),
        cmocka_unit_test(test_pgrows_names_are_schema_dot_table),
        cmocka_unit_test(test_pgrows_unreadable_archive_yields_null),
        cmocka_unit_test(test_pgrows_compressed_archive_yields_null_with_reason),
        cmocka_unit_test(test_pgrows_name_not_utf8_yields_null_with_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
