/*
 * dict.h — zstd dictionaries for small blobs.
 *
 * Database dumps deduplicate best in small chunks (8 KiB: a day's scattered
 * row changes then dirty few of them), but zstd alone compresses an 8 KiB
 * piece of dump text a fifth worse than a 1 MiB one: it has no context. A
 * dictionary trained on the first megabytes of the dump gives every small
 * blob that context back. The dictionary is itself a blob (type
 * BLOB_DICT); blobs compressed with it name its id (encoding 2 in
 * docs/format.md), and snapshots that used it name it too, so it lives as
 * long as they do. A source reuses its previous snapshot's dictionary, so
 * training happens once.
 */
#ifndef COFFER_REPO_DICT_H
#define COFFER_REPO_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/error.h"

#define DICT_MAX_SIZE (112 << 10)
#define DICT_TRAIN_BYTES (16u << 20) /* what a source reads before training */

struct blob_dict;

/* Trains a dictionary from samples (concatenated, sizes[i] each) into out;
 * -1 when there is too little or too uniform data to learn from. */
int blob_dict_train(const uint8_t *samples, const size_t *sizes, size_t count, struct buf *out);

/* Prepares a dictionary for compressing at level and for decompressing. */
struct blob_dict *blob_dict_new(const uint8_t id[CRYPTO_ID_SIZE], const void *content, size_t len, int level);
void blob_dict_free(struct blob_dict *dict);
const uint8_t *blob_dict_id(const struct blob_dict *dict);

/* zstd's prepared forms (opaque here to keep zstd.h out of headers). */
const void *blob_dict_cdict(const struct blob_dict *dict);
const void *blob_dict_ddict(const struct blob_dict *dict);

#endif
