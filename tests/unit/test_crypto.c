/*
 * test_crypto.c — sealing authenticates everything it should (nonce,
 * ciphertext, tag, key, associated data), blob ids are HMAC-SHA-256 under
 * the repository's key, and passphrase keys are reproducible.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/crypto.h"
#include "testing.h"

static const uint8_t ad[] = "repo-id/b/blob-id";
static const uint8_t plain[] = "the quick brown fox jumps over the lazy dog, twice over";
#define PLAIN_LEN (sizeof plain - 1)
#define SEALED_LEN (PLAIN_LEN + CRYPTO_SEAL_OVERHEAD)

static int setup(void **state)
{
    struct error err = {0};
    return crypto_init(&err);
}

static void make_key(uint8_t key[CRYPTO_KEY_SIZE], uint64_t seed)
{
    test_fill_random(key, CRYPTO_KEY_SIZE, seed);
}

/* Opens sealed after flipping one bit at pos; returns what crypto_open says. */
static int open_with_flip(const uint8_t key[CRYPTO_KEY_SIZE], const uint8_t *sealed, size_t pos)
{
    uint8_t copy[SEALED_LEN], out[PLAIN_LEN];
    memcpy(copy, sealed, SEALED_LEN);
    copy[pos] ^= 0x10;
    return crypto_open(key, ad, sizeof ad, copy, SEALED_LEN, out);
}

/* What is sealed opens to the same bytes with the same key and data. */
static void test_crypto_seal_open_round_trip(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[SEALED_LEN], out[PLAIN_LEN];
    make_key(key, 1);

    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    assert_memory_not_equal(sealed + CRYPTO_NONCE_SIZE, plain, PLAIN_LEN);
    assert_int_equal(crypto_open(key, ad, sizeof ad, sealed, SEALED_LEN, out), 0);
    assert_memory_equal(out, plain, PLAIN_LEN);
}

/* An empty plaintext still seals to an authenticated object. */
static void test_crypto_empty_plaintext_round_trips(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[CRYPTO_SEAL_OVERHEAD], out[1];
    make_key(key, 2);

    crypto_seal(key, ad, sizeof ad, plain, 0, sealed);

    assert_int_equal(crypto_open(key, ad, sizeof ad, sealed, sizeof sealed, out), 0);
    sealed[CRYPTO_SEAL_OVERHEAD - 1] ^= 1;
    assert_int_equal(crypto_open(key, ad, sizeof ad, sealed, sizeof sealed, out), -1);
}

/* Sealing the same bytes twice gives different objects (fresh nonces). */
static void test_crypto_seal_uses_a_fresh_nonce(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], a[SEALED_LEN], b[SEALED_LEN];
    make_key(key, 3);

    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, a);
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, b);

    assert_memory_not_equal(a, b, CRYPTO_NONCE_SIZE);
    assert_memory_not_equal(a + CRYPTO_NONCE_SIZE, b + CRYPTO_NONCE_SIZE, PLAIN_LEN);
}

/* Any flipped bit in the nonce makes the object fail to open. */
static void test_crypto_flipped_nonce_bit_fails_open(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[SEALED_LEN];
    make_key(key, 4);
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    for (size_t pos = 0; pos < CRYPTO_NONCE_SIZE; pos++)
        assert_int_equal(open_with_flip(key, sealed, pos), -1);
}

/* Any flipped bit in the ciphertext makes the object fail to open. */
static void test_crypto_flipped_ciphertext_bit_fails_open(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[SEALED_LEN];
    make_key(key, 5);
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    for (size_t pos = CRYPTO_NONCE_SIZE; pos < CRYPTO_NONCE_SIZE + PLAIN_LEN; pos++)
        assert_int_equal(open_with_flip(key, sealed, pos), -1);
}

/* Any flipped bit in the tag makes the object fail to open. */
static void test_crypto_flipped_tag_bit_fails_open(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[SEALED_LEN];
    make_key(key, 6);
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    for (size_t pos = SEALED_LEN - CRYPTO_TAG_SIZE; pos < SEALED_LEN; pos++)
        assert_int_equal(open_with_flip(key, sealed, pos), -1);
}

/* Another key cannot open the object. */
static void test_crypto_wrong_key_fails_open(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], other[CRYPTO_KEY_SIZE], sealed[SEALED_LEN], out[PLAIN_LEN];
    make_key(key, 7);
    memcpy(other, key, sizeof other);
    other[31] ^= 1;
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    assert_int_equal(crypto_open(other, ad, sizeof ad, sealed, SEALED_LEN, out), -1);
}

/* An object sealed for one name (associated data) does not open as another. */
static void test_crypto_other_associated_data_fails_open(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[SEALED_LEN], out[PLAIN_LEN];
    uint8_t other_ad[sizeof ad];
    make_key(key, 8);
    memcpy(other_ad, ad, sizeof ad);
    other_ad[0] ^= 1;
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    assert_int_equal(crypto_open(key, other_ad, sizeof other_ad, sealed, SEALED_LEN, out), -1);
    assert_int_equal(crypto_open(key, ad, sizeof ad - 1, sealed, SEALED_LEN, out), -1);
    assert_int_equal(crypto_open(key, NULL, 0, sealed, SEALED_LEN, out), -1);
}

/* Objects shorter than nonce + tag, or cut short, fail instead of overrunning. */
static void test_crypto_truncated_object_fails_open(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], sealed[SEALED_LEN], out[PLAIN_LEN];
    make_key(key, 9);
    crypto_seal(key, ad, sizeof ad, plain, PLAIN_LEN, sealed);

    for (size_t len = 0; len < SEALED_LEN; len++)
        assert_int_equal(crypto_open(key, ad, sizeof ad, sealed, len, out), -1);
}

/* The same key and bytes give the same id. */
static void test_crypto_id_hash_is_deterministic(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], a[CRYPTO_ID_SIZE], b[CRYPTO_ID_SIZE];
    make_key(key, 10);
    struct id_hasher *h1 = id_hasher_new(key), *h2 = id_hasher_new(key);

    id_hash(h1, plain, PLAIN_LEN, a);
    id_hash(h2, plain, PLAIN_LEN, b);
    assert_memory_equal(a, b, CRYPTO_ID_SIZE);
    id_hash(h1, plain, PLAIN_LEN, b); /* a hasher is not consumed by use */
    assert_memory_equal(a, b, CRYPTO_ID_SIZE);
    id_hash(h1, plain, PLAIN_LEN - 1, b);
    assert_memory_not_equal(a, b, CRYPTO_ID_SIZE);

    id_hasher_free(h1);
    id_hasher_free(h2);
}

/* Another key gives another id for the same bytes. */
static void test_crypto_id_hash_depends_on_key(void **state)
{
    uint8_t k1[CRYPTO_KEY_SIZE], k2[CRYPTO_KEY_SIZE], a[CRYPTO_ID_SIZE], b[CRYPTO_ID_SIZE];
    make_key(k1, 11);
    memcpy(k2, k1, sizeof k2);
    k2[0] ^= 0x80;
    struct id_hasher *h1 = id_hasher_new(k1), *h2 = id_hasher_new(k2);

    id_hash(h1, plain, PLAIN_LEN, a);
    id_hash(h2, plain, PLAIN_LEN, b);

    assert_memory_not_equal(a, b, CRYPTO_ID_SIZE);
    id_hasher_free(h1);
    id_hasher_free(h2);
}

/* id_hash is HMAC-SHA-256 exactly, as OpenSSL's one-shot HMAC() computes it,
 * for empty, short, block-sized and long inputs. */
static void test_crypto_id_hash_is_hmac_sha256(void **state)
{
    uint8_t key[CRYPTO_KEY_SIZE], got[CRYPTO_ID_SIZE], want[EVP_MAX_MD_SIZE];
    const size_t lengths[] = {0, 1, 55, 63, 64, 65, 1000, 1 << 20};
    uint8_t *data = malloc(1 << 20);
    assert_non_null(data);
    test_fill_random(data, 1 << 20, 12);
    make_key(key, 13);
    struct id_hasher *h = id_hasher_new(key);

    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        unsigned int want_len = 0;
        assert_non_null(HMAC(EVP_sha256(), key, CRYPTO_KEY_SIZE, data, lengths[i], want, &want_len));
        assert_int_equal(want_len, CRYPTO_ID_SIZE);
        id_hash(h, data, lengths[i], got);
        assert_memory_equal(got, want, CRYPTO_ID_SIZE);
    }
    id_hasher_free(h);
    free(data);
}

struct hash_job {
    const struct id_hasher *h;
    const uint8_t *data;
    size_t len;
    uint8_t id[CRYPTO_ID_SIZE];
    bool is_stable;
};

static void *hash_many(void *arg)
{
    struct hash_job *job = arg;
    uint8_t id[CRYPTO_ID_SIZE];
    job->is_stable = true;
    id_hash(job->h, job->data, job->len, job->id);
    for (int i = 0; i < 2000; i++) {
        id_hash(job->h, job->data, job->len, id);
        if (memcmp(id, job->id, CRYPTO_ID_SIZE) != 0)
            job->is_stable = false;
    }
    return NULL;
}

/* One hasher serves several threads at once and gives each the right id. */
static void test_crypto_id_hasher_is_shared_by_threads(void **state)
{
    enum { THREADS = 4 };
    uint8_t key[CRYPTO_KEY_SIZE], data[THREADS][256], want[CRYPTO_ID_SIZE];
    make_key(key, 14);
    struct id_hasher *h = id_hasher_new(key);
    struct hash_job jobs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        test_fill_random(data[t], sizeof data[t], 100 + (uint64_t)t);
        jobs[t] = (struct hash_job){h, data[t], sizeof data[t], {0}, false};
        assert_int_equal(pthread_create(&threads[t], NULL, hash_many, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);

    for (int t = 0; t < THREADS; t++) {
        unsigned int want_len;
        HMAC(EVP_sha256(), key, CRYPTO_KEY_SIZE, data[t], sizeof data[t], want, &want_len);
        assert_true(jobs[t].is_stable);
        assert_memory_equal(jobs[t].id, want, CRYPTO_ID_SIZE);
    }
    id_hasher_free(h);
}

/* A master key survives its byte form, field by field. */
static void test_crypto_master_key_bytes_round_trip(void **state)
{
    struct master_key key, back;
    uint8_t bytes[MASTER_KEY_SIZE];
    master_key_generate(&key);

    master_key_to_bytes(&key, bytes);
    master_key_from_bytes(&back, bytes);

    assert_memory_equal(back.enc, key.enc, CRYPTO_KEY_SIZE);
    assert_memory_equal(back.mac, key.mac, CRYPTO_KEY_SIZE);
    assert_memory_equal(back.chunk, key.chunk, CRYPTO_KEY_SIZE);
    assert_memory_not_equal(key.enc, key.mac, CRYPTO_KEY_SIZE);
    assert_memory_not_equal(key.mac, key.chunk, CRYPTO_KEY_SIZE);
}

/* The three named levels are accepted, each with a fresh salt and costs
 * that grow with the level. */
static void test_crypto_kdf_levels_are_accepted(void **state)
{
    struct kdf_params interactive, moderate, sensitive, again;
    struct error err = {0};

    assert_int_equal(kdf_params_for_level("interactive", &interactive, &err), 0);
    assert_int_equal(kdf_params_for_level("moderate", &moderate, &err), 0);
    assert_int_equal(kdf_params_for_level("sensitive", &sensitive, &err), 0);
    assert_int_equal(kdf_params_for_level("interactive", &again, &err), 0);

    assert_true(interactive.memlimit < moderate.memlimit);
    assert_true(moderate.memlimit < sensitive.memlimit);
    assert_true(interactive.opslimit <= moderate.opslimit);
    assert_memory_not_equal(interactive.salt, again.salt, CRYPTO_SALT_SIZE);
}

/* Anything but the three names is a usage error that names the level. */
static void test_crypto_kdf_unknown_level_is_rejected(void **state)
{
    const char *bad[] = {"", "fast", "Interactive", "moderate ", "sensitive2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct kdf_params params;
        struct error err = {0};
        assert_int_equal(kdf_params_for_level(bad[i], &params, &err), -1);
        assert_int_equal(err.kind, ERR_USAGE);
        assert_non_null(strstr(err.msg, "interactive"));
    }
}

/* The same passphrase and salt derive the same key; another passphrase or
 * another salt derives another. */
static void test_crypto_kdf_derive_is_deterministic_and_passphrase_bound(void **state)
{
    struct kdf_params params, other_salt;
    struct error err = {0};
    uint8_t a[CRYPTO_KEY_SIZE], b[CRYPTO_KEY_SIZE], c[CRYPTO_KEY_SIZE], d[CRYPTO_KEY_SIZE];
    assert_int_equal(kdf_params_for_level("interactive", &params, &err), 0);
    other_salt = params;
    other_salt.salt[0] ^= 1;

    assert_int_equal(kdf_derive("correct horse", &params, a, &err), 0);
    assert_int_equal(kdf_derive("correct horse", &params, b, &err), 0);
    assert_int_equal(kdf_derive("correct horsf", &params, c, &err), 0);
    assert_int_equal(kdf_derive("correct horse", &other_salt, d, &err), 0);

    assert_memory_equal(a, b, CRYPTO_KEY_SIZE);
    assert_memory_not_equal(a, c, CRYPTO_KEY_SIZE);
    assert_memory_not_equal(a, d, CRYPTO_KEY_SIZE);
}

/* Limits from a damaged key file are refused with an error, not used. */
static void test_crypto_kdf_derive_rejects_unusable_limits(void **state)
{
    struct kdf_params params;
    struct error err = {0};
    uint8_t out[CRYPTO_KEY_SIZE];
    assert_int_equal(kdf_params_for_level("interactive", &params, &err), 0);
    struct kdf_params no_ops = params, no_memory = params, huge_memory = params;
    no_ops.opslimit = 0;
    no_memory.memlimit = 0;
    huge_memory.memlimit = UINT64_MAX;

    assert_int_equal(kdf_derive("pw", &no_ops, out, &err), -1);
    assert_int_equal(kdf_derive("pw", &no_memory, out, &err), -1);
    assert_int_equal(kdf_derive("pw", &huge_memory, out, &err), -1);
    assert_non_null(strstr(err.msg, "Argon2id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crypto_seal_open_round_trip),
        cmocka_unit_test(test_crypto_empty_plaintext_round_trips),
        cmocka_unit_test(test_crypto_seal_uses_a_fresh_nonce),
        cmocka_unit_test(test_crypto_flipped_nonce_bit_fails_open),
        cmocka_unit_test(test_crypto_flipped_ciphertext_bit_fails_open),
        cmocka_unit_test(test_crypto_flipped_tag_bit_fails_open),
        cmocka_unit_test(test_crypto_wrong_key_fails_open),
        cmocka_unit_test(test_crypto_other_associated_data_fails_open),
        cmocka_unit_test(test_crypto_truncated_object_fails_open),
        cmocka_unit_test(test_crypto_id_hash_is_deterministic),
        cmocka_unit_test(test_crypto_id_hash_depends_on_key),
        cmocka_unit_test(test_crypto_id_hash_is_hmac_sha256),
        cmocka_unit_test(test_crypto_id_hasher_is_shared_by_threads),
        cmocka_unit_test(test_crypto_master_key_bytes_round_trip),
        cmocka_unit_test(test_crypto_kdf_levels_are_accepted),
        cmocka_unit_test(test_crypto_kdf_unknown_level_is_rejected),
        cmocka_unit_test(test_crypto_kdf_derive_is_deterministic_and_passphrase_bound),
        cmocka_unit_test(test_crypto_kdf_derive_rejects_unusable_limits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
