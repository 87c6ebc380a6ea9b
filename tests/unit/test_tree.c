/*
 * test_tree.c — tree blobs: every node type and every field round-trips,
 * names are arbitrary bytes, and decoding refuses anything a restore could
 * be tricked by (unsorted or duplicate entries, '/', ".", "..", damage).
 * Encoding refuses the same names (one rule, tree_name_problem, on both
 * sides), and names over 255 bytes; trees of the first format (CTR1, no
 * link counts) still decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/tree.h"
#include "testing.h"

static struct node *add_named(struct tree *t, const char *name, uint8_t type)
{
    struct node *n = tree_add(t);
    n->name = xstrdup(name);
    n->type = type;
    return n;
}

static void fill_common(struct node *n, uint64_t seed)
{
    n->mode = (uint32_t)(04755 ^ seed);
    n->uid = (uint32_t)(1000 + seed);
    n->gid = (uint32_t)(2000 + seed);
    n->mtime_ns = 1700000000123456789ll + (int64_t)seed;
    n->atime_ns = -5 - (int64_t)seed; /* before 1970 */
    n->ctime_ns = 1600000000000000001ll + (int64_t)seed;
    n->inode = 0xfedcba9876543210ull + seed;
    n->device = 0x0102030405060708ull + seed;
    n->size = 0x100000000ull + seed; /* above 4 GiB */
}

/* One node of every type, with names that are not plain ASCII words. */
static void make_full_tree(struct tree *t)
{
    memset(t, 0, sizeof *t);
    struct node *n;

    n = add_named(t, "a file with spaces", NODE_FILE);
    fill_common(n, 1);
    n->content.depth = 2;
    n->content.count = 3;
    n->content.ids = xmalloc(3 * CRYPTO_ID_SIZE);
    test_fill_random(n->content.ids, 3 * CRYPTO_ID_SIZE, 1);
    n->links = 3;

    n = add_named(t, "line\nbreak", NODE_DIR);
    fill_common(n, 2);
    test_fill_random(n->subtree, CRYPTO_ID_SIZE, 2);

    n = add_named(t, "\xff\xfe not utf-8", NODE_SYMLINK);
    fill_common(n, 3);
    n->target = xstrdup("../target with spaces/\xff");

    n = add_named(t, "tty", NODE_CHARDEV);
    fill_common(n, 4);
    n->rdev = 0x0000000500000001ull;

    n = add_named(t, "sda", NODE_BLOCKDEV);
    fill_common(n, 5);
    n->rdev = 0x0000000800000000ull;

    n = add_named(t, "fifo", NODE_FIFO);
    fill_common(n, 6);

    n = add_named(t, "sock", NODE_SOCKET);
    fill_common(n, 7);

    n = add_named(t, "empty file", NODE_FILE);
    fill_common(n, 8);
    n->size = 0;

    tree_sort(t);
}

static void assert_node_equal(const struct node *got, const struct node *want)
{
    assert_string_equal(got->name, want->name);
    assert_int_equal(got->type, want->type);
    assert_int_equal(got->mode, want->mode);
    assert_int_equal(got->uid, want->uid);
    assert_int_equal(got->gid, want->gid);
    assert_true(got->mtime_ns == want->mtime_ns);
    assert_true(got->atime_ns == want->atime_ns);
    assert_true(got->ctime_ns == want->ctime_ns);
    assert_true(got->inode == want->inode);
    assert_true(got->device == want->device);
    assert_true(got->size == want->size);
    switch (want->type) {
    case NODE_FILE:
        assert_int_equal(got->content.depth, want->content.depth);
        assert_int_equal(got->content.count, want->content.count);
        assert_int_equal(got->links, want->links);
        if (want->version)
            assert_string_equal(got->version, want->version);
        else
            assert_null(got->version);
        if (want->content.count)
            assert_memory_equal(got->content.ids, want->content.ids, (size_t)want->content.count * CRYPTO_ID_SIZE);
        break;
    case NODE_DIR:
        assert_memory_equal(got->subtree, want->subtree, CRYPTO_ID_SIZE);
        break;
    case NODE_SYMLINK:
        assert_string_equal(got->target, want->target);
        break;
    case NODE_CHARDEV:
    case NODE_BLOCKDEV:
        assert_true(got->rdev == want->rdev);
        break;
    }
}

/* Expects tree_decode to refuse data, leaving an empty tree behind. */
static void assert_decode_fails(const uint8_t *data, size_t len)
{
    struct tree t;
    struct error err = {0};
    uint8_t *copy = malloc(len ? len : 1); /* exact size: overruns show under ASan */
    memcpy(copy, data, len);
    int rc = tree_decode(copy, len, &t, &err);
    free(copy);
    if (rc == 0)
        tree_free(&t);
    assert_int_equal(rc, -1);
    assert_int_equal(t.count, 0);
    assert_true(strlen(err.msg) > 0);
}

/* Encodes t, which must be encodable. */
static void encode(const struct tree *t, struct buf *out)
{
    struct error err = {0};
    assert_int_equal(tree_encode(t, out, &err), 0);
}

/* The bytes of a tree of FIFO nodes with these names, in this order, as a
 * writer that checks nothing would write them (the format of docs/format.md,
 * by hand): for what the reader must refuse. */
static void encode_raw_fifos(const char *const *names, size_t count, struct buf *out)
{
    buf_append(out, "CTR2", 4);
    buf_append_u32(out, (uint32_t)count);
    for (size_t i = 0; i < count; i++) {
        buf_append_u16(out, (uint16_t)strlen(names[i]));
        buf_append(out, names[i], strlen(names[i]));
        buf_append_u8(out, NODE_FIFO);
        for (int k = 0; k < 3; k++)
            buf_append_u32(out, 0); /* mode, uid, gid */
        for (int k = 0; k < 6; k++)
            buf_append_u64(out, 0); /* mtime, atime, ctime, inode, device, size */
    }
}

/* Encodes a one-node tree with this name, unchecked. */
static void encode_one_named(const char *name, struct buf *out)
{
    encode_raw_fifos(&name, 1, out);
}

/* Every node type with every field, and odd names, survive encode/decode. */
static void test_tree_round_trip_of_every_node_type(void **state)
{
    struct tree t, back;
    struct buf blob = BUF_INIT;
    struct error err = {0};
    make_full_tree(&t);
    encode(&t, &blob);

    assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);

    assert_int_equal(back.count, t.count);
    for (size_t i = 0; i < t.count; i++)
        assert_node_equal(&back.nodes[i], &t.nodes[i]);
    tree_free(&t);
    tree_free(&back);
    buf_free(&blob);
}

/* An empty directory is a valid tree of no entries. */
static void test_tree_empty_tree_round_trips(void **state)
{
    struct tree t = {0}, back;
    struct buf blob = BUF_INIT;
    struct error err = {0};
    encode(&t, &blob);

    assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);

    assert_int_equal(back.count, 0);
    tree_free(&back);
    buf_free(&blob);
}

/* A file of many content ids keeps them all, in order. */
static void test_tree_file_with_many_ids_round_trips(void **state)
{
    struct tree t = {0}, back;
    struct buf blob = BUF_INIT;
    struct error err = {0};
    struct node *n = add_named(&t, "big", NODE_FILE);
    n->content.count = 4096;
    n->content.ids = xmalloc(4096 * CRYPTO_ID_SIZE);
    test_fill_random(n->content.ids, 4096 * CRYPTO_ID_SIZE, 10);
    encode(&t, &blob);

    assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);

    assert_int_equal(back.count, 1);
    assert_node_equal(&back.nodes[0], &t.nodes[0]);
    tree_free(&t);
    tree_free(&back);
    buf_free(&blob);
}

/* After tree_sort every name is found, whatever the order of adding; an
 * absent name is not. */
static void test_tree_find_after_sort(void **state)
{
    const char *names[] = {"zeta", "alpha", "Mu", "\xff", "beta gamma", "a", "aa", "line\nbreak"};
    const size_t count = sizeof names / sizeof *names;
    struct tree t = {0};
    for (size_t i = 0; i < count; i++)
        add_named(&t, names[i], NODE_FIFO)->size = i;

    tree_sort(&t);

    for (size_t i = 0; i < count; i++) {
        const struct node *n = tree_find(&t, names[i]);
        assert_non_null(n);
        assert_string_equal(n->name, names[i]);
        assert_int_equal(n->size, i);
    }
    assert_null(tree_find(&t, "b"));
    assert_null(tree_find(&t, ""));
    assert_null(tree_find(&t, "zzz"));
    tree_free(&t);
}

/* A sorted tree decodes with its entries in byte order (0xff last). */
static void test_tree_sort_orders_by_name_bytes(void **state)
{
    struct tree t;
    make_full_tree(&t);

    for (size_t i = 1; i < t.count; i++)
        assert_true(strcmp(t.nodes[i - 1].name, t.nodes[i].name) < 0);
    assert_string_equal(t.nodes[t.count - 1].name, "\xff\xfe not utf-8");
    tree_free(&t);
}

/* Every proper prefix of a tree blob is refused. */
static void test_tree_decode_rejects_truncation(void **state)
{
    struct tree t;
    struct buf blob = BUF_INIT;
    make_full_tree(&t);
    encode(&t, &blob);

    for (size_t len = 0; len < blob.len; len++)
        assert_decode_fails(blob.data, len);
    tree_free(&t);
    buf_free(&blob);
}

/* Bytes after the last entry are refused. */
static void test_tree_decode_rejects_trailing_bytes(void **state)
{
    struct tree t;
    struct buf blob = BUF_INIT;
    make_full_tree(&t);
    encode(&t, &blob);
    buf_append_u8(&blob, 0);

    assert_decode_fails(blob.data, blob.len);
    tree_free(&t);
    buf_free(&blob);
}

/* Something that is not a tree blob is refused by its magic. */
static void test_tree_decode_rejects_bad_magic(void **state)
{
    struct tree t;
    struct buf blob = BUF_INIT;
    make_full_tree(&t);
    encode(&t, &blob);
    blob.data[1] ^= 0x20;

    assert_decode_fails(blob.data, blob.len);
    tree_free(&t);
    buf_free(&blob);
}

/* Entries out of order are refused, so lookups can trust the order. */
static void test_tree_decode_rejects_unsorted_entries(void **state)
{
    const char *names[] = {"b", "a"};
    struct buf blob = BUF_INIT;
    encode_raw_fifos(names, 2, &blob);

    assert_decode_fails(blob.data, blob.len);
    buf_free(&blob);
}

/* Two entries of the same name are refused. */
static void test_tree_decode_rejects_duplicate_names(void **state)
{
    const char *names[] = {"same", "same"};
    struct buf blob = BUF_INIT;
    encode_raw_fifos(names, 2, &blob);

    assert_decode_fails(blob.data, blob.len);
    buf_free(&blob);
}

/* Names that could climb out of the restore target are refused. */
static void test_tree_decode_rejects_path_like_names(void **state)
{
    const char *bad[] = {"a/b", "/", "/etc", "..", ".", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct buf blob = BUF_INIT;
        encode_one_named(bad[i], &blob);
        assert_decode_fails(blob.data, blob.len);
        buf_free(&blob);
    }
}

/* Names that merely contain dots are ordinary names. */
static void test_tree_decode_accepts_dotted_names(void **state)
{
    const char *good[] = {"...", ".hidden", "..x", "x.."};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct buf blob = BUF_INIT;
        struct tree back;
        struct error err = {0};
        encode_one_named(good[i], &blob);
        assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);
        assert_string_equal(back.nodes[0].name, good[i]);
        tree_free(&back);
        buf_free(&blob);
    }
}

/* A NUL byte inside a stored name is refused (it would cut the name short). */
static void test_tree_decode_rejects_nul_in_name(void **state)
{
    struct buf blob = BUF_INIT;
    encode_one_named("abc", &blob);
    /* "CTR2", u32 count, u16 name length, then the name. */
    assert_memory_equal(blob.data + 10, "abc", 3);
    blob.data[11] = '\0';

    assert_decode_fails(blob.data, blob.len);
    buf_free(&blob);
}

/* An unknown node type is refused. */
static void test_tree_decode_rejects_unknown_type(void **state)
{
    struct buf blob = BUF_INIT;
    encode_one_named("odd", &blob);
    blob.data[4 + 4 + 2 + 3] = 99; /* the type, after the name */

    assert_decode_fails(blob.data, blob.len);
    buf_free(&blob);
}

/* An id count far larger than the blob is refused without reading past it. */
static void test_tree_decode_rejects_impossible_id_count(void **state)
{
    struct tree t = {0};
    struct buf blob = BUF_INIT;
    struct node *n = add_named(&t, "f", NODE_FILE);
    n->content.count = 1;
    n->content.ids = xcalloc(1, CRYPTO_ID_SIZE);
    encode(&t, &blob);
    /* The count sits just before the last id, which the link count follows. */
    put_u32le(blob.data + blob.len - 4 - CRYPTO_ID_SIZE - 4, UINT32_MAX);

    assert_decode_fails(blob.data, blob.len);
    tree_free(&t);
    buf_free(&blob);
}

/* A name of 256 bytes or more (a stream's name, from a version that did not
 * refuse it) still decodes: the reader's limit is the format's. */
static void test_tree_decode_accepts_names_over_255_bytes(void **state)
{
    char name[1001];
    memset(name, 'x', 1000);
    name[1000] = '\0';
    struct buf blob = BUF_INIT;
    struct tree back;
    struct error err = {0};
    encode_one_named(name, &blob);

    assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);
    assert_string_equal(back.nodes[0].name, name);
    tree_free(&back);
    buf_free(&blob);
}

/* What the reader refuses, the writer refuses first, naming the entry,
 * appending nothing; and a name over 255 bytes, which restore could not
 * create. */
static void test_tree_encode_refuses_what_decode_refuses(void **state)
{
    char long_name[257];
    memset(long_name, 'y', 256);
    long_name[256] = '\0';
    const char *bad[] = {"a/b", "/", "/etc", "..", ".", "", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct tree t = {0};
        struct buf blob = BUF_INIT;
        struct error err = {0};
        add_named(&t, bad[i], NODE_FIFO);

        assert_int_equal(tree_encode(&t, &blob, &err), -1);
        assert_int_equal(blob.len, 0);
        assert_non_null(strstr(err.msg, bad[i]));
        assert_non_null(tree_name_problem(bad[i], TREE_NAME_MAX));
        tree_free(&t);
    }
}

/* Unsorted or duplicate entries are refused on the way out too. */
static void test_tree_encode_refuses_unsorted_and_duplicate_entries(void **state)
{
    const char *pairs[][2] = {{"b", "a"}, {"same", "same"}};
    for (size_t i = 0; i < 2; i++) {
        struct tree t = {0};
        struct buf blob = BUF_INIT;
        struct error err = {0};
        add_named(&t, pairs[i][0], NODE_FIFO);
        add_named(&t, pairs[i][1], NODE_FIFO);

        assert_int_equal(tree_encode(&t, &blob, &err), -1);
        assert_int_equal(blob.len, 0);
        assert_non_null(strstr(err.msg, pairs[i][1]));
        tree_free(&t);
    }
}

/* A name of exactly 255 bytes, and dotted names, are written and read. */
static void test_tree_encode_takes_255_byte_and_dotted_names(void **state)
{
    char name[256];
    memset(name, 'z', 255);
    name[255] = '\0';
    const char *good[] = {name, "...", ".hidden", "..x", "x..", "\xff"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct tree t = {0}, back;
        struct buf blob = BUF_INIT;
        struct error err = {0};
        add_named(&t, good[i], NODE_FIFO);
        assert_null(tree_name_problem(good[i], TREE_NAME_MAX));

        encode(&t, &blob);
        assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);
        assert_string_equal(back.nodes[0].name, good[i]);
        tree_free(&t);
        tree_free(&back);
        buf_free(&blob);
    }
}

/* Stream and piece names: relative paths of good names, single slashes. */
static void test_tree_path_problem_takes_relative_paths_only(void **state)
{
    char long_part[300];
    memset(long_part, 'p', 256);
    strcpy(long_part + 256, "/x");
    const char *bad[] = {"../x", "../up", "a/../b", "/abs", "a//b", "./x", "x/", "", "a/./b", "..", long_part};
    const char *good[] = {"x", "app.dump", "exports/users.jsonl", "a/b/c", "..x/y.."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_non_null(tree_path_problem(bad[i]));
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_null(tree_path_problem(good[i]));
}

/* A tree of the first format (CTR1: no link count after a file's ids)
 * still decodes, with link count 0 (unknown). */
static void test_tree_decode_reads_the_first_format(void **state)
{
    struct tree t = {0}, back;
    struct buf blob = BUF_INIT;
    struct error err = {0};
    struct node *n = add_named(&t, "f", NODE_FILE);
    n->content.count = 1;
    n->content.ids = xcalloc(1, CRYPTO_ID_SIZE);
    n->links = 2;
    encode(&t, &blob);
    memcpy(blob.data, "CTR1", 4);
    blob.len -= 4; /* the link count */

    assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);
    assert_int_equal(back.count, 1);
    assert_int_equal(back.nodes[0].links, 0);
    assert_memory_equal(back.nodes[0].content.ids, n->content.ids, CRYPTO_ID_SIZE);
    tree_free(&t);
    tree_free(&back);
    buf_free(&blob);
}

/* A file's version (a bucket object's ETag) round-trips, in a CTR3 tree;
 * a tree without versions is still written as CTR2, and a file without a
 * version beside one with it decodes with none. */
static void test_tree_versions_round_trip_and_need_ctr3(void **state)
{
    struct tree t = {0}, back;
    struct buf blob = BUF_INIT;
    struct error err = {0};
    add_named(&t, "a", NODE_FILE);
    encode(&t, &blob);
    assert_memory_equal(blob.data, "CTR2", 4);
    buf_free(&blob);

    add_named(&t, "m", NODE_DIR);
    struct node *n = add_named(&t, "z", NODE_FILE); /* last: its version ends the blob */
    n->version = xstrdup("\"0cc175b9c0f1b6a831c399e269772661\"");
    encode(&t, &blob);
    assert_memory_equal(blob.data, "CTR3", 4);

    assert_int_equal(tree_decode(blob.data, blob.len, &back, &err), 0);
    assert_int_equal(back.count, 3);
    for (size_t i = 0; i < t.count; i++)
        assert_node_equal(&back.nodes[i], &t.nodes[i]);
    tree_free(&back);

    /* Cut inside the version: refused, not read past. */
    assert_int_equal(tree_decode(blob.data, blob.len - 10, &back, &err), -1);
    tree_free(&t);
    buf_free(&blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_round_trip_of_every_node_type),
        cmocka_unit_test(test_tree_empty_tree_round_trips),
        cmocka_unit_test(test_tree_file_with_many_ids_round_trips),
        cmocka_unit_test(test_tree_find_after_sort),
        cmocka_unit_test(test_tree_sort_orders_by_name_bytes),
        cmocka_unit_test(test_tree_decode_rejects_truncation),
        cmocka_unit_test(test_tree_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_tree_decode_rejects_bad_magic),
        cmocka_unit_test(test_tree_decode_rejects_unsorted_entries),
        cmocka_unit_test(test_tree_decode_rejects_duplicate_names),
        cmocka_unit_test(test_tree_decode_rejects_path_like_names),
        cmocka_unit_test(test_tree_decode_accepts_dotted_names),
        cmocka_unit_test(test_tree_decode_rejects_nul_in_name),
        cmocka_unit_test(test_tree_decode_rejects_unknown_type),
        cmocka_unit_test(test_tree_decode_rejects_impossible_id_count),
        cmocka_unit_test(test_tree_decode_accepts_names_over_255_bytes),
        cmocka_unit_test(test_tree_encode_refuses_what_decode_refuses),
        cmocka_unit_test(test_tree_encode_refuses_unsorted_and_duplicate_entries),
        cmocka_unit_test(test_tree_encode_takes_255_byte_and_dotted_names),
        cmocka_unit_test(test_tree_path_problem_takes_relative_paths_only),
        cmocka_unit_test(test_tree_decode_reads_the_first_format),
        cmocka_unit_test(test_tree_versions_round_trip_and_need_ctr3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
