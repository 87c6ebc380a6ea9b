/*
 * test_snapshot.c — snapshot documents: every field survives JSON, broken
 * documents are refused, and "latest" or an id prefix picks the right
 * snapshot or says why it cannot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "repo/snapshot.h"
#include "testing.h"
#include "util/text.h"

/* A snapshot with every field set to something recognisable. */
static void make_snapshot(struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->time = 1736042400; /* 2025-01-05T02:00:00Z */
    s->host = xstrdup("db1.example.org");
    s->source = xstrdup("postgres-main");
    s->type = xstrdup("stream");
    string_list_add(&s->tags, "nightly");
    string_list_add(&s->tags, "with \"quotes\" and ünïcode");
    string_list_add(&s->paths, "/var/lib/postgresql");
    string_list_add(&s->paths, "/etc/with space");
    test_fill_random(s->root, CRYPTO_ID_SIZE, 1);
    s->has_parent = true;
    test_fill_random(s->parent, CRYPTO_ID_SIZE, 2);
    s->stats = (struct snapshot_stats){5000000000123ull, 123456789ull, 1000001, 2002, 30003, 40004, 12.25};
    string_list_add(&s->warnings, "cannot read /etc/shadow: permission denied");
}

static void assert_lists_equal(const struct string_list *got, const struct string_list *want)
{
    assert_int_equal(got->count, want->count);
    for (size_t i = 0; i < want->count; i++)
        assert_string_equal(got->items[i], want->items[i]);
}

/* Encodes a good snapshot, lets edit change the JSON, and decodes it. */
static int decode_edited(void (*edit)(json_t *doc, const char *key), const char *key, struct error *err)
{
    struct snapshot s, back;
    struct buf text = BUF_INIT;
    json_error_t jerr;
    make_snapshot(&s);
    snapshot_encode(&s, &text);
    json_t *doc = json_loadb((const char *)text.data, text.len, 0, &jerr);
    assert_non_null(doc);
    edit(doc, key);
    char *edited = json_dumps(doc, JSON_COMPACT);
    int rc = snapshot_decode((const uint8_t *)edited, strlen(edited), &back, err);
    if (rc == 0)
        snapshot_free(&back);
    free(edited);
    json_decref(doc);
    buf_free(&text);
    snapshot_free(&s);
    return rc;
}

static void delete_key(json_t *doc, const char *key)
{
    assert_int_equal(json_object_del(doc, key), 0);
}

static void make_number(json_t *doc, const char *key)
{
    json_object_set_new(doc, key, json_integer(42));
}

static void set_bad_text(json_t *doc, const char *key)
{
    json_object_set_new(doc, key, json_string("not-a-time-or-an-id"));
}

static int decode_text(const char *text, struct error *err)
{
    struct snapshot back;
    int rc = snapshot_decode((const uint8_t *)text, strlen(text), &back, err);
    if (rc == 0)
        snapshot_free(&back);
    return rc;
}

/* Every field of a snapshot survives encode and decode. */
static void test_snapshot_round_trip_of_all_fields(void **state)
{
    struct snapshot s, back;
    struct buf text = BUF_INIT;
    struct error err = {0};
    make_snapshot(&s);
    snapshot_encode(&s, &text);

    assert_int_equal(snapshot_decode(text.data, text.len, &back, &err), 0);

    assert_true(back.time == s.time);
    assert_string_equal(back.host, s.host);
    assert_string_equal(back.source, s.source);
    assert_string_equal(back.type, s.type);
    assert_lists_equal(&back.tags, &s.tags);
    assert_lists_equal(&back.paths, &s.paths);
    assert_memory_equal(back.root, s.root, CRYPTO_ID_SIZE);
    assert_true(back.has_parent);
    assert_memory_equal(back.parent, s.parent, CRYPTO_ID_SIZE);
    assert_true(back.stats.size == s.stats.size);
    assert_true(back.stats.added == s.stats.added);
    assert_true(back.stats.files == s.stats.files);
    assert_true(back.stats.dirs == s.stats.dirs);
    assert_true(back.stats.blobs_new == s.stats.blobs_new);
    assert_true(back.stats.files_unchanged == s.stats.files_unchanged);
    assert_true(back.stats.seconds == s.stats.seconds);
    assert_lists_equal(&back.warnings, &s.warnings);
    snapshot_free(&s);
    snapshot_free(&back);
    buf_free(&text);
}

/* A snapshot without a parent decodes without one. */
static void test_snapshot_without_parent_round_trips(void **state)
{
    struct snapshot s, back;
    struct buf text = BUF_INIT;
    struct error err = {0};
    make_snapshot(&s);
    s.has_parent = false;
    snapshot_encode(&s, &text);

    assert_int_equal(snapshot_decode(text.data, text.len, &back, &err), 0);

    assert_false(back.has_parent);
    snapshot_free(&s);
    snapshot_free(&back);
    buf_free(&text);
}

/* The time is written as RFC 3339 UTC text in the document. */
static void test_snapshot_time_is_rfc3339_text(void **state)
{
    struct snapshot s;
    struct buf text = BUF_INIT;
    make_snapshot(&s);
    snapshot_encode(&s, &text);
    buf_append_u8(&text, 0);

    assert_non_null(strstr((const char *)text.data, "\"2025-01-05T02:00:00Z\""));
    snapshot_free(&s);
    buf_free(&text);
}

/* Lists, statistics and parent are optional: without them a snapshot
 * decodes with empty lists and zero statistics. */
static void test_snapshot_optional_fields_may_be_absent(void **state)
{
    struct snapshot back;
    struct error err = {0};
    const char *text = "{\"time\":\"2025-01-05T02:00:00Z\",\"host\":\"h\",\"source\":\"s\",\"type\":\"files\","
                       "\"root\":\"0000000000000000000000000000000000000000000000000000000000000001\"}";

    assert_int_equal(snapshot_decode((const uint8_t *)text, strlen(text), &back, &err), 0);

    assert_int_equal(back.tags.count, 0);
    assert_int_equal(back.paths.count, 0);
    assert_int_equal(back.warnings.count, 0);
    assert_false(back.has_parent);
    assert_true(back.stats.size == 0);
    assert_int_equal(back.root[CRYPTO_ID_SIZE - 1], 1);
    snapshot_free(&back);
}

/* Each required field missing makes the document invalid. */
static void test_snapshot_decode_rejects_missing_fields(void **state)
{
    const char *required[] = {"time", "host", "source", "type", "root"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        struct error err = {0};
        assert_int_equal(decode_edited(delete_key, required[i], &err), -1);
        assert_true(strlen(err.msg) > 0);
    }
}

/* Required text fields of the wrong JSON type are refused. */
static void test_snapshot_decode_rejects_wrong_field_types(void **state)
{
    const char *required[] = {"time", "host", "source", "type", "root"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        struct error err = {0};
        assert_int_equal(decode_edited(make_number, required[i], &err), -1);
    }
}

/* A time or root that does not parse is refused. */
static void test_snapshot_decode_rejects_malformed_time_and_root(void **state)
{
    struct error err = {0};
    assert_int_equal(decode_edited(set_bad_text, "time", &err), -1);
    assert_int_equal(decode_edited(set_bad_text, "root", &err), -1);
}

/* Text that is not a JSON object is refused with an error, not a crash. */
static void test_snapshot_decode_rejects_bad_json(void **state)
{
    const char *bad[] = {"", "not json", "{", "[]", "null", "\"string\"", "{\"time\":"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct error err = {0};
        assert_int_equal(decode_text(bad[i], &err), -1);
        assert_true(strlen(err.msg) > 0);
    }
}

/* Every proper prefix of a valid document is refused. */
static void test_snapshot_decode_rejects_truncation(void **state)
{
    struct snapshot s;
    struct buf text = BUF_INIT;
    make_snapshot(&s);
    snapshot_encode(&s, &text);

    for (size_t len = 0; len < text.len; len++) {
        struct snapshot back;
        struct error err = {0};
        int rc = snapshot_decode(text.data, len, &back, &err);
        if (rc == 0)
            snapshot_free(&back);
        assert_int_equal(rc, -1);
    }
    snapshot_free(&s);
    buf_free(&text);
}

/* ---- snapshot_find ---------------------------------------------------- */

/* Four snapshots, oldest first, with ids chosen to share prefixes:
 *   aa11… db, aa22… files, bb33… db, cc44… files */
static void make_list(struct snapshot_list *list)
{
    static const char *prefixes[] = {"aa11", "aa22", "bb33", "cc44"};
    static const char *sources[] = {"db", "files", "db", "files"};
    memset(list, 0, sizeof *list);
    list->count = 4;
    list->items = xcalloc(4, sizeof *list->items);
    for (size_t i = 0; i < 4; i++) {
        struct snapshot *s = &list->items[i];
        char hex[65];
        memset(hex, '0', 64);
        hex[64] = '\0';
        memcpy(hex, prefixes[i], 4);
        hex[63] = (char)('1' + i);
        assert_int_equal(hex_decode(hex, s->id, CRYPTO_ID_SIZE), 0);
        s->time = 1000 + (int64_t)i;
        s->host = xstrdup("host");
        s->source = xstrdup(sources[i]);
        s->type = xstrdup("stream");
    }
}

static int find(const struct snapshot_list *list, const char *spec, const char *source, size_t *index,
                struct error *err)
{
    const struct snapshot *found = NULL;
    int rc = snapshot_find(list, spec, source, &found, err);
    if (rc == 0)
        *index = (size_t)(found - list->items);
    return rc;
}

/* "latest" without a source is the newest snapshot when the repository
 * holds one source; with several it cannot be guessed: a usage error
 * naming them. */
static void test_snapshot_find_latest(void **state)
{
    struct snapshot_list list;
    struct error err = {0};
    size_t index = 99;
    make_list(&list);

    assert_int_equal(find(&list, "latest", NULL, &index, &err), -1);
    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "The repository holds db, files: add --source NAME"));
    assert_int_equal(index, 99);

    free(list.items[1].source);
    free(list.items[3].source);
    list.items[1].source = xstrdup("db");
    list.items[3].source = xstrdup("db");
    assert_int_equal(find(&list, "latest", NULL, &index, &err), 0);
    assert_int_equal(index, 3);
    snapshot_list_free(&list);
}

/* "latest" of a source is the newest snapshot of that source. */
static void test_snapshot_find_latest_of_source(void **state)
{
    struct snapshot_list list;
    struct error err = {0};
    size_t index = 99;
    make_list(&list);

    assert_int_equal(find(&list, "latest", "db", &index, &err), 0);
    assert_int_equal(index, 2);
    assert_int_equal(find(&list, "latest", "files", &index, &err), 0);
    assert_int_equal(index, 3);
    snapshot_list_free(&list);
}

/* A unique prefix, in either case, or the whole id picks one snapshot. */
static void test_snapshot_find_unique_prefix(void **state)
{
    struct snapshot_list list;
    struct error err = {0};
    size_t index = 99;
    char full[65];
    make_list(&list);
    snapshot_id_hex(&list.items[1], full);

    assert_int_equal(find(&list, "bb", NULL, &index, &err), 0);
    assert_int_equal(index, 2);
    assert_int_equal(find(&list, "aa1", NULL, &index, &err), 0);
    assert_int_equal(index, 0);
    assert_int_equal(find(&list, "AA2", NULL, &index, &err), 0);
    assert_int_equal(index, 1);
    assert_int_equal(find(&list, full, NULL, &index, &err), 0);
    assert_int_equal(index, 1);
    snapshot_list_free(&list);
}

/* A prefix that is ambiguous overall is unique within one source. */
static void test_snapshot_find_prefix_within_source(void **state)
{
    struct snapshot_list list;
    struct error err = {0};
    size_t index = 99;
    make_list(&list);

    assert_int_equal(find(&list, "aa", "db", &index, &err), 0);

    assert_int_equal(index, 0);
    snapshot_list_free(&list);
}

/* A prefix shared by two snapshots is a usage error asking for more digits. */
static void test_snapshot_find_ambiguous_prefix_is_usage_error(void **state)
{
    struct snapshot_list list;
    struct error err = {0};
    size_t index = 99;
    make_list(&list);

    assert_int_equal(find(&list, "aa", NULL, &index, &err), -1);

    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "ambiguous"));
    snapshot_list_free(&list);
}

/* An id no snapshot has is ERR_NOT_FOUND, as is "latest" of an empty
 * list or of an unknown source. */
static void test_snapshot_find_unknown_is_not_found(void **state)
{
    struct snapshot_list list, empty = {0};
    size_t index = 99;
    make_list(&list);
    const char *specs[] = {"dd", "aa3", "bb33", "latest"};
    const char *sources[] = {NULL, NULL, "files", "nosuchsource"};

    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        struct error err = {0};
        assert_int_equal(find(&list, specs[i], sources[i], &index, &err), -1);
        assert_int_equal(err.kind, ERR_NOT_FOUND);
        assert_non_null(strstr(err.msg, specs[i]));
    }
    struct error err = {0};
    assert_int_equal(find(&empty, "latest", NULL, &index, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    snapshot_list_free(&list);
}

/* Something that is neither "latest" nor hex is a usage error. */
static void test_snapshot_find_rejects_non_hex_spec(void **state)
{
    struct snapshot_list list;
    size_t index = 99;
    make_list(&list);
    const char *bad[] = {"", "last", "aa-11", "zz"};

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct error err = {0};
        assert_int_equal(find(&list, bad[i], NULL, &index, &err), -1);
        assert_int_equal(err.kind, ERR_USAGE);
    }
    snapshot_list_free(&list);
}

/* ---- with a repository ------------------------------------------------ */

struct repo_fixture {
    char dir[64];
    struct repo *repo;
};

static int repo_setup(void **state)
{
    struct error err = {0};
    struct repo_fixture *f = calloc(1, sizeof *f);
    struct repo_init_options opts = {.kdf_level = KDF_LEVEL_TESTONLY};
    repo_config_defaults(&opts.config);
    if (crypto_init(&err) < 0 || test_make_tmpdir(f->dir) < 0)
        return -1;
    char location[80];
    snprintf(location, sizeof location, "%s/repo", f->dir);
    if (repo_init(location, "secret", &opts, &err) < 0 || repo_open(location, NULL, "secret", &f->repo, &err) < 0) {
        fprintf(stderr, "cannot make a repository: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int repo_teardown(void **state)
{
    struct repo_fixture *f = *state;
    repo_free(f->repo);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Saved snapshots load back, oldest first, with their ids. */
static void test_snapshot_saved_snapshots_load_oldest_first(void **state)
{
    struct repo_fixture *f = *state;
    struct error err = {0};
    const int64_t times[] = {3000, 1000, 2000};
    uint8_t ids[3][CRYPTO_ID_SIZE];
    for (size_t i = 0; i < 3; i++) {
        struct snapshot s;
        make_snapshot(&s);
        s.time = times[i];
        assert_int_equal(snapshot_save(f->repo, &s, &err), 0);
        memcpy(ids[i], s.id, CRYPTO_ID_SIZE);
        snapshot_free(&s);
    }
    struct snapshot_list list;

    assert_int_equal(snapshot_list_load(f->repo, &list, &err), 0);

    assert_int_equal(list.count, 3);
    assert_true(list.items[0].time == 1000);
    assert_true(list.items[1].time == 2000);
    assert_true(list.items[2].time == 3000);
    assert_memory_equal(list.items[0].id, ids[1], CRYPTO_ID_SIZE);
    assert_memory_equal(list.items[1].id, ids[2], CRYPTO_ID_SIZE);
    assert_memory_equal(list.items[2].id, ids[0], CRYPTO_ID_SIZE);
    assert_string_equal(list.items[0].host, "db1.example.org");
    snapshot_list_free(&list);
}

/* A damaged snapshot object is left out of the list and named in
 * list.unreadable; the load itself succeeds, so other snapshots stay usable. */
static void test_snapshot_damaged_snapshot_is_left_out_and_named(void **state)
{
    struct repo_fixture *f = *state;
    struct error err = {0};
    struct snapshot s;
    make_snapshot(&s);
    assert_int_equal(snapshot_save(f->repo, &s, &err), 0);
    char name[96], hex[65], path[256];
    repo_object_name(OBJ_SNAPSHOT, s.id, name);
    snapshot_id_hex(&s, hex);
    snprintf(path, sizeof path, "%s/repo/%s", f->dir, name);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 30, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, 30, SEEK_SET);
    fputc(c ^ 0x40, fp);
    fclose(fp);
    struct snapshot_list list;

    assert_int_equal(snapshot_list_load(f->repo, &list, &err), 0);

    assert_int_equal(list.count, 0);
    assert_int_equal(list.unreadable.count, 1);
    assert_non_null(strstr(list.unreadable.items[0], hex));
    snapshot_list_free(&list);
    snapshot_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_round_trip_of_all_fields),
        cmocka_unit_test(test_snapshot_without_parent_round_trips),
        cmocka_unit_test(test_snapshot_time_is_rfc3339_text),
        cmocka_unit_test(test_snapshot_optional_fields_may_be_absent),
        cmocka_unit_test(test_snapshot_decode_rejects_missing_fields),
        cmocka_unit_test(test_snapshot_decode_rejects_wrong_field_types),
        cmocka_unit_test(test_snapshot_decode_rejects_malformed_time_and_root),
        cmocka_unit_test(test_snapshot_decode_rejects_bad_json),
        cmocka_unit_test(test_snapshot_decode_rejects_truncation),
        cmocka_unit_test(test_snapshot_find_latest),
        cmocka_unit_test(test_snapshot_find_latest_of_source),
        cmocka_unit_test(test_snapshot_find_unique_prefix),
        cmocka_unit_test(test_snapshot_find_prefix_within_source),
        cmocka_unit_test(test_snapshot_find_ambiguous_prefix_is_usage_error),
        cmocka_unit_test(test_snapshot_find_unknown_is_not_found),
        cmocka_unit_test(test_snapshot_find_rejects_non_hex_spec),
        cmocka_unit_test_setup_teardown(test_snapshot_saved_snapshots_load_oldest_first, repo_setup, repo_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_damaged_snapshot_is_left_out_and_named, repo_setup, repo_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
