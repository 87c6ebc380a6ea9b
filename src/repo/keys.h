/*
 * keys.h — master keys wrapped by passphrases (keys/<id>).
 *
 * A key file is plain JSON: Argon2id parameters and salt, and the master
 * key sealed with the key derived from the passphrase. Several key files
 * may wrap the same master key, so several passphrases open one repository;
 * changing a passphrase writes a new key file and deletes the old one.
 */
#ifndef COFFER_REPO_KEYS_H
#define COFFER_REPO_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/crypto.h"
#include "store/store.h"

#define KEY_NAME_MAX 80

struct key_info {
    char name[KEY_NAME_MAX]; /* keys/<64 hex> */
    char created[32];
    char host[64];
    char kdf[16];            /* the level it was made with */
};

/* What a key file holds besides its public part: the Argon2id parameters
 * and the sealed master key. */
struct key_wrapped {
    struct kdf_params params;
    uint8_t sealed[MASTER_KEY_SIZE + CRYPTO_SEAL_OVERHEAD];
};
/* Reads a key file's bytes (no passphrase, no KDF): its public part into
 * info and, when wrapped is not NULL, its parameters and sealed key, which
 * must all be there. Either may be NULL. */
int key_file_parse(const char *name, const uint8_t *data, size_t len, struct key_info *info,
                   struct key_wrapped *wrapped, struct error *err);
/* Wraps master with passphrase at a kdf level and stores it as a new key
 * file; its name goes to name_out (KEY_NAME_MAX bytes). */
int key_file_create(struct store *store, const struct master_key *master, const char *passphrase,
                    const char *kdf_level, char *name_out, struct error *err);

/* Unwraps one key file; ERR_AUTH if the passphrase does not open it. */
int key_file_open(struct store *store, const char *name, const char *passphrase,
                  struct master_key *master, struct key_info *info, struct error *err);

/* Tries every key file; fills master and the opening key's name. */
int key_find(struct store *store, const char *passphrase, struct master_key *master,
             char *name_out, struct error *err);

/* Reads the public part of every key file (no passphrase needed). */
int key_list(struct store *store, struct key_info **out, size_t *count, struct error *err);

/* ---- the keys of an open repository (keyring.c), as `coffer key` and the
 * daemon manage them ---- */

struct repo;

/* The keys/<id> object that opened repo. */
const char *repo_key_name(const struct repo *repo);

/* The kdf level of the key that opened repo ("moderate" if unknown), so
 * that a new key costs the same by default; out holds 16 bytes. */
void repo_key_level(struct repo *repo, char out[16]);

/* Adds a key file wrapping repo's master key with passphrase (kdf_level
 * NULL: repo_key_level). With is_replace the key that opened repo is then
 * deleted: a changed passphrase. The new key's name goes to name_out. */
int repo_key_add(struct repo *repo, const char *passphrase, const char *kdf_level, bool is_replace,
                 char name_out[KEY_NAME_MAX], struct error *err);

/* Deletes the key whose id starts with id_prefix: ERR_NOT_FOUND for none,
 * ERR_USAGE when several match, an error for the key that opened repo.
 * Its name goes to name_out. */
int repo_key_remove(struct repo *repo, const char *id_prefix, char name_out[KEY_NAME_MAX], struct error *err);

/* The id of a key file's name (keys/<id> -> <id>). */
const char *repo_key_id(const char *name);

#endif
