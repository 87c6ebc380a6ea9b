/*
 * test_bucket.c — the bucket source end to end on keys no S3 test server
 * holds ("a/../../escape", "a//b", "/abs", ".", a key beside a folder of
 * the same name, a trailing "/", a part too long for any file system).
 *
 * The objects sit in a memory store; the bucket type's row is used as it
 * is, but for its backup, which reads that store (bucket_backup_store)
 * instead of reaching a server. The backup runs through ops_backup into a
 * real repository; the snapshot is restored to a directory, where every
 * file must lie inside the target and read back, through
 * bucket_key_of_path, as an object with the same bytes, and restored to a
 * second memory store, which must then hold exactly the keys and bytes of
 * the first. tests/integration/bucket.sh covers the same against s3rver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "crypto/crypto.h"
#include "ops/ops.h"
#include "repo/repo.h"
#include "source/bucket.h"
#include "store/store.h"
#include "util/buf.h"
#include "testing.h"

static const char *const odd_keys[] = {
    "a/../../escape", "a//b", "/abs", ".", "..", "x", "x/y", "dir/", "%%z", "%%!x", "ok/plain file.txt", "+ü/ñ",
};
#define ODD_KEY_COUNT (sizeof odd_keys / sizeof *odd_keys)

struct fixture {
    char dir[64];
    char repo_dir[128];
    struct repo *repo;
    struct store *bucket;
    char long_key[320]; /* a part of 300 bytes: skipped with a warning */
};

/* What the bucket type's backup reads in this test. */
static struct store *test_bucket;

static int backup_from_memory(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    return bucket_backup_store(ctx, test_bucket, settings, err);
}

/* The bytes of the object at key: its name and a number, so no two match. */
static void object_bytes(size_t i, struct buf *out)
{
    out->len = 0;
    char line[64];
    int n = snprintf(line, sizeof line, "object %zu\n", i);
    for (size_t r = 0; r < i * 37; r++)
        buf_append(out, line, (size_t)n);
}

static int setup(void **state)
{
    struct error err = {0};
    struct fixture *f = calloc(1, sizeof *f);
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    snprintf(f->repo_dir, sizeof f->repo_dir, "%s/repo", f->dir);
    struct repo_init_options opts = {.kdf_level = KDF_LEVEL_TESTONLY};
    repo_config_defaults(&opts.config);
    if (repo_init(f->repo_dir, "pw", &opts, &err) < 0 || repo_open(f->repo_dir, NULL, "pw", &f->repo, &err) < 0)
        return -1;
    f->bucket = store_open_memory();
    struct buf data = BUF_INIT;
    for (size_t i = 0; i < ODD_KEY_COUNT; i++) {
        object_bytes(i, &data);
        if (store_put(f->bucket, odd_keys[i], data.data, data.len, &err) < 0)
            return -1;
    }
    snprintf(f->long_key, sizeof f->long_key, "long/%0300d", 7);
    if (store_put(f->bucket, f->long_key, "x", 1, &err) < 0)
        return -1;
    buf_free(&data);
    test_bucket = f->bucket;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    repo_free(f->repo);
    store_free(f->bucket);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* The index in odd_keys of key, or -1. */
static int key_index(const char *key)
{
    for (size_t i = 0; i < ODD_KEY_COUNT; i++)
        if (!strcmp(odd_keys[i], key))
            return (int)i;
    return -1;
}

/* Every file below the restore target, checked against the objects. */
static const char *walk_root;
static size_t walk_files, walk_bad;

static int check_restored(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    size_t root_len = strlen(walk_root);
    if (strncmp(path, walk_root, root_len) != 0 || path[root_len] != '/') {
        walk_bad++;
        return 0;
    }
    char *key = bucket_key_of_path(path + root_len + 1);
    int i = key ? key_index(key) : -1;
    if (i < 0) {
        fprintf(stderr, "restored %s is no object's (key %s)\n", path, key ? key : "(none)");
        walk_bad++;
        free(key);
        return 0;
    }
    struct buf want = BUF_INIT;
    object_bytes((size_t)i, &want);
    FILE *fp = fopen(path, "rb");
    uint8_t *got = malloc(want.len + 1);
    size_t n = fp ? fread(got, 1, want.len + 1, fp) : 0;
    if (!fp || n != want.len || (size_t)st->st_size != want.len || (n > 0 && memcmp(got, want.data, n) != 0)) {
        fprintf(stderr, "restored %s (key %s) differs from the object\n", path, key);
        walk_bad++;
    }
    if (fp)
        fclose(fp);
    free(got);
    buf_free(&want);
    free(key);
    walk_files++;
    return 0;
}

/* Names directly in dir, "repo" and the restore target aside. */
static size_t other_entries(const char *dir, const char *target_name)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "repo") &&
            strcmp(e->d_name, target_name))
            n++;
    if (d)
        closedir(d);
    return n;
}

struct key_check {
    struct store *bucket;
    size_t count, bad;
};

static int check_uploaded(void *arg, const struct store_entry *e, struct error *err)
{
    struct key_check *c = arg;
    int i = key_index(e->name);
    struct buf want = BUF_INIT, got = BUF_INIT;
    if (i >= 0) {
        object_bytes((size_t)i, &want);
        if (store_get(c->bucket, e->name, 0, STORE_TO_END, &got, err) < 0)
            return -1;
    }
    if (i < 0 || got.len != want.len || (got.len > 0 && memcmp(got.data, want.data, got.len) != 0)) {
        fprintf(stderr, "uploaded %s: not an object of the source, or other bytes\n", e->name);
        c->bad++;
    }
    c->count++;
    buf_free(&want);
    buf_free(&got);
    return 0;
}

static void test_odd_keys_round_trip(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct source_type kind = *source_type_find("bucket");
    kind.backup = backup_from_memory;
    struct bucket_settings settings = {.url = "s3://test/uploads"};
    struct config_source src = {.name = "uploads", .kind = &kind, .settings = &settings};
    struct progress quiet;
    progress_init(&quiet, "backup", true, false);
    struct backup_options bo = {.source = &src, .workers = 2, .progress = &quiet};
    struct snapshot snap;
    if (ops_backup(f->repo, &bo, &snap, &err) < 0)
        fail_msg("backup: %s", err.msg);
    /* The long key is named in a warning, and only it. */
    assert_int_equal(snap.warnings.count, 1);
    assert_non_null(strstr(snap.warnings.items[0], "long/000"));

    /* To a directory: every object once, nothing outside the target. */
    char target[128];
    snprintf(target, sizeof target, "%s/restore", f->dir);
    progress_init(&quiet, "restore", true, false);
    struct restore_options ro = {.target = target, .workers = 2, .progress = &quiet};
    struct string_list failures = {0};
    if (ops_restore(f->repo, &snap, &ro, &failures, &err) < 0)
        fail_msg("restore: %s", err.msg);
    walk_root = target;
    walk_files = walk_bad = 0;
    assert_int_equal(nftw(target, check_restored, 16, FTW_PHYS), 0);
    assert_int_equal(walk_bad, 0);
    assert_int_equal(walk_files, ODD_KEY_COUNT);
    assert_int_equal(other_entries(f->dir, "restore"), 0);

    /* To a bucket: the same keys and bytes come back. */
    struct store *copy = store_open_memory();
    struct restore_request req = {.target = "s3://copy", .workers = 2};
    char note[128];
    if (bucket_restore_store(f->repo, &snap, copy, &req, note, sizeof note, &err) < 0)
        fail_msg("restore to a bucket: %s", err.msg);
    struct key_check check = {copy, 0, 0};
    assert_int_equal(store_list_entries(copy, "", check_uploaded, &check, &err), 0);
    assert_int_equal(check.bad, 0);
    assert_int_equal(check.count, ODD_KEY_COUNT);

    /* Again, into what now holds objects: refused without --force. */
    err = (struct error){0};
    assert_int_equal(bucket_restore_store(f->repo, &snap, copy, &req, note, sizeof note, &err), -1);
    assert_int_equal(err.kind, ERR_EXISTS);
    assert_non_null(strstr(err.msg, "s3://copy"));
    req.is_force = true;
    assert_int_equal(bucket_restore_store(f->repo, &snap, copy, &req, note, sizeof note, &err), 0);

    store_free(copy);
    string_list_free(&failures);
    snapshot_free(&snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_odd_keys_round_trip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
