/*
 * crypto.c — sealing, keyed ids and passphrase keys (see crypto.h for why
 * each primitive was chosen).
 */
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "util/buf.h"

int crypto_init(struct error *err)
{
    if (sodium_init() < 0)
        return error_set(err, "cannot initialise libsodium");
    return 0;
}

void crypto_random(void *out, size_t len)
{
    randombytes_buf(out, len);
}

void crypto_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

void master_key_generate(struct master_key *key)
{
    crypto_random(key, sizeof *key);
}

void master_key_to_bytes(const struct master_key *key, uint8_t out[MASTER_KEY_SIZE])
{
    memcpy(out, key->enc, CRYPTO_KEY_SIZE);
    memcpy(out + CRYPTO_KEY_SIZE, key->mac, CRYPTO_KEY_SIZE);
    memcpy(out + 2 * CRYPTO_KEY_SIZE, key->chunk, CRYPTO_KEY_SIZE);
}

void master_key_from_bytes(struct master_key *key, const uint8_t in[MASTER_KEY_SIZE])
{
    memcpy(key->enc, in, CRYPTO_KEY_SIZE);
    memcpy(key->mac, in + CRYPTO_KEY_SIZE, CRYPTO_KEY_SIZE);
    memcpy(key->chunk, in + 2 * CRYPTO_KEY_SIZE, CRYPTO_KEY_SIZE);
}

void crypto_seal(const uint8_t key[CRYPTO_KEY_SIZE], const uint8_t *ad, size_t ad_len,
                 const uint8_t *plain, size_t len, uint8_t *out)
{
    unsigned long long out_len;
    randombytes_buf(out, CRYPTO_NONCE_SIZE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + CRYPTO_NONCE_SIZE, &out_len, plain, len,
                                               ad, ad_len, NULL, out, key);
}

int crypto_open(const uint8_t key[CRYPTO_KEY_SIZE], const uint8_t *ad, size_t ad_len,
                const uint8_t *sealed, size_t len, uint8_t *out)
{
    unsigned long long out_len;
    if (len < CRYPTO_SEAL_OVERHEAD)
        return -1;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &out_len, NULL,
                                                      sealed + CRYPTO_NONCE_SIZE,
                                                      len - CRYPTO_NONCE_SIZE, ad, ad_len,
                                                      sealed, key) == 0 ? 0 : -1;
}

/* HMAC-SHA-256 with the key's inner and outer pads absorbed once, so that
 * hashing a blob costs two context copies instead of two key schedules. */
struct id_hasher {
    EVP_MD_CTX *inner;
    EVP_MD_CTX *outer;
};

struct id_hasher *id_hasher_new(const uint8_t key[CRYPTO_KEY_SIZE])
{
    uint8_t pad[64];
    struct id_hasher *h = xcalloc(1, sizeof *h);
    EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->inner = EVP_MD_CTX_new();
    h->outer = EVP_MD_CTX_new();
    if (!sha256 || !h->inner || !h->outer) {
        fputs("coffer: OpenSSL has no SHA-256\n", stderr);
        abort();
    }
    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < CRYPTO_KEY_SIZE; i++)
        pad[i] ^= key[i];
    EVP_DigestInit_ex(h->inner, sha256, NULL);
    EVP_DigestUpdate(h->inner, pad, sizeof pad);
    memset(pad, 0x5c, sizeof pad);
    for (size_t i = 0; i < CRYPTO_KEY_SIZE; i++)
        pad[i] ^= key[i];
    EVP_DigestInit_ex(h->outer, sha256, NULL);
    EVP_DigestUpdate(h->outer, pad, sizeof pad);
    crypto_wipe(pad, sizeof pad);
    EVP_MD_free(sha256);
    return h;
}

void id_hasher_free(struct id_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->inner);
    EVP_MD_CTX_free(h->outer);
    free(h);
}

void id_hash(const struct id_hasher *h, const void *data, size_t len, uint8_t id[CRYPTO_ID_SIZE])
{
    uint8_t inner_digest[CRYPTO_ID_SIZE];
    unsigned int n;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_MD_CTX_copy_ex(ctx, h->inner);
    EVP_DigestUpdate(ctx, data, len);
    EVP_DigestFinal_ex(ctx, inner_digest, &n);
    EVP_MD_CTX_copy_ex(ctx, h->outer);
    EVP_DigestUpdate(ctx, inner_digest, sizeof inner_digest);
    EVP_DigestFinal_ex(ctx, id, &n);
    EVP_MD_CTX_free(ctx);
}

int kdf_params_for_level(const char *level, struct kdf_params *params, struct error *err)
{
    if (strcmp(level, "interactive") == 0) {
        params->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        params->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    } else if (strcmp(level, "moderate") == 0) {
        params->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        params->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
    } else if (strcmp(level, "sensitive") == 0) {
        params->opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
        params->memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
    } else if (strcmp(level, KDF_LEVEL_TESTONLY) == 0) {
        params->opslimit = crypto_pwhash_OPSLIMIT_MIN;
        params->memlimit = crypto_pwhash_MEMLIMIT_MIN;
    } else {
        return error_setk(err, ERR_USAGE,
                          "unknown key-derivation level \"%s\" (use interactive, moderate or sensitive)",
                          level);
    }
    crypto_random(params->salt, sizeof params->salt);
    return 0;
}

int kdf_derive(const char *passphrase, const struct kdf_params *params,
               uint8_t out[CRYPTO_KEY_SIZE], struct error *err)
{
    if (params->opslimit < crypto_pwhash_OPSLIMIT_MIN || params->memlimit < crypto_pwhash_MEMLIMIT_MIN)
        return error_set(err, "its Argon2id limits (ops %llu, memory %llu bytes) are below libsodium's minimum",
                         (unsigned long long)params->opslimit, (unsigned long long)params->memlimit);
    /* Key files are not authenticated: anyone who can write keys/ could ask
     * for hours of work or all the memory on every open. No level coffer
     * makes goes beyond "sensitive", so nothing beyond it is tried. */
    if (params->opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE || params->memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE)
        return error_set(err, "its Argon2id limits (ops %llu, memory %llu MiB) exceed libsodium's sensitive level "
                         "(ops %llu, memory %llu MiB), the most coffer ever uses: it was not made by coffer "
                         "and is not tried",
                         (unsigned long long)params->opslimit, (unsigned long long)(params->memlimit >> 20),
                         (unsigned long long)crypto_pwhash_OPSLIMIT_SENSITIVE,
                         (unsigned long long)(crypto_pwhash_MEMLIMIT_SENSITIVE >> 20));
    if (crypto_pwhash(out, CRYPTO_KEY_SIZE, passphrase, strlen(passphrase), params->salt,
                      params->opslimit, (size_t)params->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return error_set(err, "Argon2id needs %llu MiB of memory and could not get it",
                         (unsigned long long)(params->memlimit >> 20));
    return 0;
}
