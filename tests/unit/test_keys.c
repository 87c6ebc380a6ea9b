/*
 * test_keys.c — key files as an attacker or bad luck leaves them: a
 * planted key with Argon2id limits beyond libsodium's "sensitive" level is
 * refused at once (one naming ops 2^32 - 1 ran 20 s, until killed, per
 * command), and the
 * other keys are still tried; a damaged key file is told apart from a
 * wrong passphrase where the format allows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "repo/keys.h"
#include "store/store.h"
#include "testing.h"

struct fixture {
    char dir[64];
    struct store *store;
    struct master_key master;
    char good[KEY_NAME_MAX];
};

static int setup(void **state)
{
    struct error err;
    if (crypto_init(&err) < 0)
        return -1;
    struct fixture *f = calloc(1, sizeof *f);
    if (test_make_tmpdir(f->dir) < 0 || store_open(f->dir, NULL, true, &f->store, &err) < 0)
        return -1;
    master_key_generate(&f->master);
    if (key_file_create(f->store, &f->master, "right", "interactive", f->good, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_free(f->store);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Stores a copy of the good key file with fields replaced; field values
 * are JSON text ("4294967296", "\"ab\""). name_out gets keys/<id>. */
static void plant(struct fixture *f, const char *name, const char *field, const char *json_value, char *name_out)
{
    struct buf raw = BUF_INIT;
    struct error err;
    assert_int_equal(store_get(f->store, f->good, 0, STORE_TO_END, &raw, &err), 0);
    json_t *doc = json_loadb((const char *)raw.data, raw.len, 0, NULL);
    assert_non_null(doc);
    if (field)
        json_object_set_new(doc, field, json_loads(json_value, JSON_DECODE_ANY, NULL));
    char *text = json_dumps(doc, 0);
    snprintf(name_out, KEY_NAME_MAX, "keys/%s", name);
    assert_int_equal(store_put(f->store, name_out, text, strlen(text), &err), 0);
    free(text);
    json_decref(doc);
    buf_free(&raw);
}

/* kdf_derive refuses limits beyond "sensitive" without running Argon2id. */
static void test_kdf_refuses_limits_beyond_sensitive(void **state)
{
    (void)state;
    struct kdf_params params;
    struct error err = {0};
    uint8_t out[CRYPTO_KEY_SIZE];
    assert_int_equal(kdf_params_for_level("sensitive", &params, &err), 0);
    struct kdf_params ops = params, huge_ops = params, memory = params;
    ops.opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE + 1;
    huge_ops.opslimit = 1ull << 32;
    memory.memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE + 1;
    double started = now();
    assert_int_equal(kdf_derive("pw", &ops, out, &err), -1);
    assert_non_null(strstr(err.msg, "sensitive"));
    assert_int_equal(kdf_derive("pw", &huge_ops, out, &err), -1);
    assert_non_null(strstr(err.msg, "4294967296"));
    assert_int_equal(kdf_derive("pw", &memory, out, &err), -1);
    assert_non_null(strstr(err.msg, "sensitive"));
    assert_true(now() - started < 0.5);
}

/* A planted key asking for ops 2^32 is skipped at once: the good key
 * still opens the repository, whatever order the keys are listed in. */
static void test_key_find_skips_a_planted_costly_key(void **state)
{
    struct fixture *f = *state;
    char planted_a[KEY_NAME_MAX], planted_z[KEY_NAME_MAX], name[KEY_NAME_MAX];
    plant(f, "0000000000000000000000000000000000000000000000000000000000000000", "opslimit", "4294967295",
          planted_a);
    plant(f, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "memlimit", "1099511627776",
          planted_z);
    struct master_key opened;
    struct error err = {0};
    double started = now();
    assert_int_equal(key_find(f->store, "right", &opened, name, &err), 0);
    assert_true(now() - started < 5.0);
    assert_string_equal(name, f->good);
    assert_memory_equal(&opened, &f->master, sizeof opened);
    /* A wrong passphrase tries every key, the planted ones too. */
    started = now();
    assert_int_equal(key_find(f->store, "wrong", &opened, name, &err), -1);
    assert_true(now() - started < 5.0);
    assert_non_null(strstr(err.msg, "wrong passphrase"));
}

/* With only a planted key to open, the error names it and its limits. */
static void test_key_find_names_the_refused_key_file(void **state)
{
    struct fixture *f = *state;
    char planted[KEY_NAME_MAX], name[KEY_NAME_MAX];
    plant(f, "1111111111111111111111111111111111111111111111111111111111111111", "opslimit", "4294967295",
          planted);
    struct error err = {0};
    assert_int_equal(store_delete(f->store, f->good, &err), 0);
    struct master_key opened;
    double started = now();
    assert_int_equal(key_find(f->store, "right", &opened, name, &err), -1);
    assert_true(now() - started < 5.0);
    assert_non_null(strstr(err.msg, planted));
    assert_non_null(strstr(err.msg, "sensitive"));
}

/* Fields of the wrong size are damage, not a wrong passphrase. */
static void test_key_find_reports_a_malformed_key_file_as_damaged(void **state)
{
    struct fixture *f = *state;
    char planted[KEY_NAME_MAX], name[KEY_NAME_MAX];
    plant(f, "2222222222222222222222222222222222222222222222222222222222222222", "master_key", "\"abcd\"", planted);
    struct error err = {0};
    assert_int_equal(store_delete(f->store, f->good, &err), 0);
    struct master_key opened;
    assert_int_equal(key_find(f->store, "right", &opened, name, &err), -1);
    assert_int_not_equal(err.kind, ERR_PASSPHRASE);
    assert_non_null(strstr(err.msg, planted));
    assert_non_null(strstr(err.msg, "is damaged"));
    assert_null(strstr(err.msg, "wrong passphrase"));
}

/* A sealed key that fails authentication may be either: the message
 * says both and names the file. */
static void test_key_find_says_wrong_passphrase_or_damaged(void **state)
{
    struct fixture *f = *state;
    char name[KEY_NAME_MAX];
    struct master_key opened;
    struct error err = {0};
    assert_int_equal(key_find(f->store, "wrong", &opened, name, &err), -1);
    assert_int_equal(err.kind, ERR_PASSPHRASE);
    assert_non_null(strstr(err.msg, "wrong passphrase, or the key file"));
    assert_non_null(strstr(err.msg, f->good));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdf_refuses_limits_beyond_sensitive),
        cmocka_unit_test_setup_teardown(test_key_find_skips_a_planted_costly_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_find_names_the_refused_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_find_reports_a_malformed_key_file_as_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_find_says_wrong_passphrase_or_damaged, setup, teardown),
    };
    struct error err;
    if (crypto_init(&err) < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
