/*
 * index.h — which pack holds which blob.
 *
 * In memory: an open-addressing hash table of slot numbers (4 bytes, at
 * most half full) over an array of entries (52 bytes), so about 60 bytes per
 * blob; blob ids are already uniformly random, so their first 8 bytes are
 * the hash. Pack ids live once in a side array. All calls are thread-safe.
 *
 * On disk: index/<id> objects, each listing packs and their blobs (see
 * docs/format.md). Every backup writes index files for the packs it wrote,
 * after the packs and before its snapshot.
 */
#ifndef COFFER_REPO_INDEX_H
#define COFFER_REPO_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/error.h"

enum blob_type {
    BLOB_DATA = 0, /* file or stream content */
    BLOB_TREE = 1, /* a directory listing (tree.h) */
    BLOB_LIST = 2, /* a list of blob ids of a long content (content.h) */
    BLOB_DICT = 3, /* a zstd dictionary (dict.h) */
};

/* The pack number of an entry reserved by a backup whose blob is not yet
 * in a pack. */
#define INDEX_PACK_PENDING UINT32_MAX

/* What is known against a pack (index_mark_pack) or a blob (entry flags).
 * A blob so marked can still be read — restore tries it — but no backup
 * deduplicates against it: the blob writer stores it again. */
#define INDEX_PACK_CONDEMNED 0x01 /* only a condemned/ file lists it: a prune found it unneeded */
#define INDEX_PACK_MISSING 0x02   /* the store does not have it (a backup's listing, check) */
#define INDEX_BLOB_DAMAGED 0x01   /* check --read-data found this copy damaged (damage records) */

struct index_entry {
    uint8_t id[CRYPTO_ID_SIZE];
    uint32_t pack;       /* number from index_add_pack */
    uint32_t offset;     /* of the sealed blob in the pack */
    uint32_t length;     /* sealed length */
    uint32_t raw_length; /* plaintext length */
    uint8_t type;        /* enum blob_type */
    uint8_t flags;       /* INDEX_BLOB_* */
};

/* One blob as a pack header and an index file describe it. */
struct pack_blob {
    uint8_t id[CRYPTO_ID_SIZE];
    uint8_t type;
    uint32_t offset;
    uint32_t length;
    uint32_t raw_length;
};

/* A pack and its blobs, as written by a backup. */
struct pack_record {
    uint8_t id[CRYPTO_ID_SIZE];
    struct pack_blob *blobs;
    size_t count;
    size_t cap;
};

struct index;

struct index *index_new(void);
void index_free(struct index *idx);

/* Registers a pack id (once) and returns its number. */
uint32_t index_add_pack(struct index *idx, const uint8_t pack_id[CRYPTO_ID_SIZE]);
void index_pack_id(const struct index *idx, uint32_t pack, uint8_t out[CRYPTO_ID_SIZE]);
size_t index_pack_count(const struct index *idx);
size_t index_blob_count(const struct index *idx);

/* Marks every number of a pack id (index_add_pack may give one id two
 * numbers) with INDEX_PACK_* flags; number is any one of them. Entries
 * already in the table keep their place: index_is_usable tells. */
void index_mark_pack(struct index *idx, uint32_t pack, uint8_t flags);
uint8_t index_pack_flags(const struct index *idx, uint32_t pack);

/* Records damaged blob copies (damage.h): pairs holds count × (blob id ||
 * pack id). Each such copy, in the table or inserted later, is marked
 * INDEX_BLOB_DAMAGED, so that a good copy of the same blob in another pack
 * takes its place. */
void index_add_damage(struct index *idx, const uint8_t *pairs, size_t count);

/* Copies the entry for id into out; false if unknown. */
bool index_find(const struct index *idx, const uint8_t id[CRYPTO_ID_SIZE], struct index_entry *out);

/* The id of the pack readers take blob id from; false if the blob is
 * unknown or not in a pack yet. */
bool index_find_pack(const struct index *idx, const uint8_t id[CRYPTO_ID_SIZE], uint8_t pack[CRYPTO_ID_SIZE]);

/* Whether a backup may deduplicate against this entry: on its way into a
 * pack, or in a pack neither condemned nor missing, and not damaged. */
bool index_is_usable(const struct index *idx, const struct index_entry *e);

/* Adds an entry unless the id is present; returns true if it was added.
 * The first copy of a blob wins, except that a usable copy replaces one
 * that is not (a live pack's over a condemned one's; a backup's reservation
 * over a missing or damaged copy). */
bool index_insert(struct index *idx, const struct index_entry *entry);

/* Another copy of bad's blob (a second index file or a condemned file
 * listed it in another pack) that is not known damaged and whose pack is
 * not known missing — a condemned pack's copy included: it is readable
 * until a prune deletes it — once bad has been found damaged or its pack
 * missing (index_add_damage, index_mark_pack); it then takes bad's place
 * for every later lookup. False if there is none. */
bool index_find_other(struct index *idx, const struct index_entry *bad, struct index_entry *out);

/* An index used as a set of ids (visited trees, needed blobs): adds id
 * with no location; true if it was not there yet. */
bool index_add_id(struct index *idx, const uint8_t id[CRYPTO_ID_SIZE]);

/* Fills in where a reserved (INDEX_PACK_PENDING) blob ended up. */
void index_set_location(struct index *idx, const struct index_entry *entry);

/* Calls fn for every entry with the id of its pack (NULL while pending)
 * and that pack number's INDEX_PACK_* flags,
 * in no set order, with the index locked: fn must not call back into it. */
typedef void (*index_each_fn)(void *ctx, const struct index_entry *e, const uint8_t *pack_id, uint8_t pack_flags);
void index_each(const struct index *idx, index_each_fn fn, void *ctx);
/* The same for the second and later copies (index_find_other's), each
 * marked INDEX_BLOB_DAMAGED if a damage record names it. */
void index_each_other(const struct index *idx, index_each_fn fn, void *ctx);

/* Index files (and condemned/ files, the same bytes). decode adds what it
 * reads to idx, its packs marked with pack_flags (0 for an index file). */
void index_file_encode(const struct pack_record *packs, size_t count, struct buf *out);
int index_file_decode(struct index *idx, const uint8_t *data, size_t len, uint8_t pack_flags, struct error *err);

/* The same file as pack records (*out: count records, each freed with
 * pack_record_free, then the array with free). */
int index_file_records(const uint8_t *data, size_t len, struct pack_record **out, size_t *count, struct error *err);

void pack_record_add(struct pack_record *rec, const struct pack_blob *blob);
void pack_record_free(struct pack_record *rec);

#endif
