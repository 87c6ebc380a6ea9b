/*
 * blob.h — sealing, opening and reading blobs, and the dictionaries they
 * are compressed with (blob.c).
 */
#ifndef COFFER_REPO_BLOB_H
#define COFFER_REPO_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/error.h"

struct blob_dict;
struct repo;

/* Per-thread scratch for sealing and opening blobs. */
struct blob_codec;
struct blob_codec *blob_codec_new(int zstd_level);
/* The same at the compression level of repo's config. */
struct blob_codec *repo_blob_codec_new(const struct repo *repo);
void blob_codec_free(struct blob_codec *codec);

/* The id of a blob with this content: its hash keyed with repo's secret. */
void repo_blob_id(const struct repo *repo, const void *data, size_t len, uint8_t id[CRYPTO_ID_SIZE]);

/* Compresses (when it pays; with dict when not NULL) and seals a blob;
 * replaces out's contents. */
void blob_seal(const struct repo *repo, struct blob_codec *codec, const struct blob_dict *dict,
               const uint8_t id[CRYPTO_ID_SIZE], const uint8_t *data, size_t len, struct buf *out);

/* Opens a sealed blob, decompresses it (loading its dictionary if it names
 * one) and checks that its content hashes to id; appends the content to
 * out. ERR_AUTH on any mismatch. */
int blob_open(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
              const uint8_t *sealed, size_t len, struct buf *out, struct error *err);

/* Opens a just-sealed blob again and compares it with data, the content it
 * was sealed from (no hashing: the content is at hand): what the backup
 * writes must read back before it is stored. ERR_AUTH when it does not. */
int blob_verify_sealed(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                       const uint8_t *sealed, size_t len, const uint8_t *data, size_t data_len, struct buf *scratch,
                       struct error *err);

/* Whether a sealed blob opens and names a dictionary (copied to dict). */
bool blob_names_dictionary(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], const uint8_t *sealed, size_t len,
                           uint8_t dict[CRYPTO_ID_SIZE]);

/* Reads one blob through the index (thread-safe); appends it to out. */
int repo_read_blob(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                   struct buf *out, struct error *err);

/* The dictionaries an open repository has loaded, by id. Thread-safe. */
struct dict_cache;
struct dict_cache *dict_cache_new(void);
void dict_cache_free(struct dict_cache *cache);

/* Hands a new dictionary to the repository's cache, which frees it with
 * the repository; returns it. */
const struct blob_dict *repo_dictionary_adopt(struct repo *repo, struct blob_dict *dict);

/* Finds or loads (reading the dictionary blob, which needs no dictionary
 * itself) a dictionary. */
const struct blob_dict *repo_dictionary(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], struct error *err);

#endif
