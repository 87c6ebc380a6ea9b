/*
 * crypto.h — every cryptographic primitive coffer uses, in one place.
 *
 * - Objects are sealed with XChaCha20-Poly1305 (libsodium), a random 192-bit
 *   nonce each, with associated data naming what the object is, so that a
 *   valid object cannot be swapped in for another.
 * - Blob ids are HMAC-SHA-256 keyed with a repository secret (OpenSSL; on CPUs
 *   with SHA extensions it runs at ~1.7 GB/s against BLAKE2b's ~1.0 GB/s, see
 *   docs/design.md), so ids reveal nothing about content.
 * - Passphrases become wrapping keys through Argon2id (crypto_pwhash).
 * Nothing here logs or stores a secret; buffers holding keys are wiped.
 */
#ifndef COFFER_CRYPTO_CRYPTO_H
#define COFFER_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define CRYPTO_KEY_SIZE 32
#define CRYPTO_ID_SIZE 32
#define CRYPTO_NONCE_SIZE 24
#define CRYPTO_TAG_SIZE 16
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_NONCE_SIZE + CRYPTO_TAG_SIZE)
#define CRYPTO_SALT_SIZE 16

/* The secrets of one repository, created at init and wrapped in keys/. */
struct master_key {
    uint8_t enc[CRYPTO_KEY_SIZE];   /* seals every object */
    uint8_t mac[CRYPTO_KEY_SIZE];   /* keys the blob-id hash */
    uint8_t chunk[CRYPTO_KEY_SIZE]; /* seeds the chunker's gear table */
};
#define MASTER_KEY_SIZE (3 * CRYPTO_KEY_SIZE)

/* Must be called once before anything else here (not thread-safe). */
int crypto_init(struct error *err);

void crypto_random(void *out, size_t len);
void crypto_wipe(void *p, size_t len);

void master_key_generate(struct master_key *key);
void master_key_to_bytes(const struct master_key *key, uint8_t out[MASTER_KEY_SIZE]);
void master_key_from_bytes(struct master_key *key, const uint8_t in[MASTER_KEY_SIZE]);

/* Seals len bytes of plain into out, which must hold len + CRYPTO_SEAL_OVERHEAD
 * bytes: nonce, ciphertext, tag. plain and out must not overlap. */
void crypto_seal(const uint8_t key[CRYPTO_KEY_SIZE], const uint8_t *ad, size_t ad_len,
                 const uint8_t *plain, size_t len, uint8_t *out);

/* Opens a sealed object into out (len - CRYPTO_SEAL_OVERHEAD bytes).
 * Returns -1 if it is too short or fails authentication (wrong key, damaged
 * bytes, or associated data that names another object). Thread-safe. */
int crypto_open(const uint8_t key[CRYPTO_KEY_SIZE], const uint8_t *ad, size_t ad_len,
                const uint8_t *sealed, size_t len, uint8_t *out);

/* Keyed hash for blob ids. One hasher serves all threads. */
struct id_hasher;
struct id_hasher *id_hasher_new(const uint8_t key[CRYPTO_KEY_SIZE]);
void id_hasher_free(struct id_hasher *h);
void id_hash(const struct id_hasher *h, const void *data, size_t len, uint8_t id[CRYPTO_ID_SIZE]);

/* Argon2id cost levels: libsodium's interactive, moderate and sensitive. */
struct kdf_params {
    uint64_t opslimit;
    uint64_t memlimit;
    uint8_t salt[CRYPTO_SALT_SIZE];
};

/* The level for tests only: libsodium's minimum limits, so a key opens in
 * microseconds, and a passphrase under it is guessed as fast. The command
 * line takes it only with COFFER_TESTONLY_WEAK_KDF=1 (cli_check_kdf_level);
 * the suite's thousands of opens would otherwise spend most of their time
 * in Argon2. Opening such a key needs nothing: its limits are in range. */
#define KDF_LEVEL_TESTONLY "testonly"

/* Fills params for a named level with a fresh salt; -1 (ERR_USAGE) if unknown. */
int kdf_params_for_level(const char *level, struct kdf_params *params, struct error *err);

/* Derives a wrapping key from a passphrase; -1 if the limits are below
 * libsodium's minimum or above its "sensitive" level (the dearest level
 * coffer makes: a planted key file must not stall every command). */
int kdf_derive(const char *passphrase, const struct kdf_params *params,
               uint8_t out[CRYPTO_KEY_SIZE], struct error *err);

#endif
