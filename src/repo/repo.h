/*
 * repo.h — an open repository: its store, config, master key and index,
 * and the sealed objects it is made of.
 *
 * Layout in the store (byte formats in docs/format.md):
 *   config              repository id, format version, chunking, compression
 *   keys/<id>           the master key wrapped by a passphrase (Argon2id)
 *   data/<xx>/<id>      packs: sealed blobs plus a sealed header
 *   index/<id>          which pack holds which blob
 *   snapshots/<id>      one sealed JSON document per snapshot
 *   condemned/<id>      packs a prune found unneeded, deleted by a later prune
 *   damage/<id>         blob copies and packs a check found damaged or missing
 *   locks/<id>          who is using the repository
 * Every object but keys/ is sealed with the master key; its associated data
 * is the repository id, the object kind and the object id, so no valid
 * object can stand in for another.
 */
#ifndef COFFER_REPO_REPO_H
#define COFFER_REPO_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk/chunker.h"
#include "crypto/crypto.h"
#include "repo/index.h"
#include "store/store.h"

struct blob_dict;

#define REPO_FORMAT_VERSION 1
#define REPO_ID_SIZE 16

/* Object kinds, used in associated data. */
enum object_kind {
    OBJ_CONFIG = 'c',
    OBJ_BLOB = 'b',
    OBJ_PACK_HEADER = 'h',
    OBJ_INDEX = 'i',
    OBJ_SNAPSHOT = 's',
    OBJ_LOCK = 'l',
    OBJ_EVENT = 'e',
    OBJ_CONDEMNED = 'd',
    OBJ_DAMAGE = 'x',
};

struct repo_config {
    uint32_t version;
    uint8_t id[REPO_ID_SIZE];
    struct chunker_params stream_chunks; /* database dumps and other streams */
    struct chunker_params file_chunks;   /* files of a tree */
    struct chunker_params database_chunks; /* database dumps: small, with a dictionary */
    int zstd_level;
    uint32_t pack_size; /* a pack is closed once it reaches this many bytes */
};

/* An open repository; its fields are repo/'s (repo_int.h). Outside code
 * uses the accessors below and the functions of the repo/ headers. */
struct repo;

/* Options for init; repo_config_defaults fills the tunables. */
struct repo_init_options {
    const char *kdf_level; /* interactive, moderate (default) or sensitive */
    struct repo_config config;
    const struct s3_settings *s3; /* how to reach an s3:// location; NULL: the defaults */
};

void repo_config_defaults(struct repo_config *config);
/* The config object's plaintext (JSON), as init writes it and open reads
 * it after authentication; decode checks every field (fuzz_config_object). */
void repo_config_encode(const struct repo_config *c, struct buf *out);
int repo_config_decode(const uint8_t *data, size_t len, struct repo_config *c, struct error *err);

/* Creates a repository at location (which must be empty or absent; one
 * whose config exists is refused). */
int repo_init(const char *location, const char *passphrase, const struct repo_init_options *opts,
              struct error *err);
/* Creates a repository in an open store (opts->s3 is not used); the
 * caller keeps the store. Refused if the store holds a config already. */
int repo_init_store(struct store *store, const char *passphrase, const struct repo_init_options *opts,
                    struct error *err);

/* Opens a repository with a passphrase; ERR_AUTH if no key accepts it,
 * ERR_NOT_FOUND (saying to run `coffer init`) if there is none. s3 says
 * how to reach an s3:// location (NULL: the defaults). The index is not
 * loaded: call repo_load_index when blobs are needed. */
int repo_open(const char *location, const struct s3_settings *s3, const char *passphrase, struct repo **out,
              struct error *err);
/* Opens the repository in an open store, which the caller keeps and frees
 * after repo_free (tests open repositories on memory and fault stores). */
int repo_open_store(struct store *store, const char *passphrase, struct repo **out, struct error *err);
void repo_free(struct repo *repo);

/* The store it lives in; the repository keeps it (see repo_open_store). */
struct store *repo_store(const struct repo *repo);
/* Its settings, as read from the config object. */
const struct repo_config *repo_config(const struct repo *repo);
/* The in-memory index; repo_drop_index replaces it, so hold it no longer
 * than the call that asked for it. */
struct index *repo_index(const struct repo *repo);
/* The chunkers for streams, for the files of a tree and for database
 * dumps, keyed with the repository secret. */
const struct chunker *repo_stream_chunker(const struct repo *repo);
const struct chunker *repo_file_chunker(const struct repo *repo);
const struct chunker *repo_database_chunker(const struct repo *repo);
/* The i-th index file repo_load_index skipped, as "index/<id>: why";
 * NULL from the last one on. */
const char *repo_index_problem(const struct repo *repo, size_t i);

/* Reads the index files not read yet into the index (repo_index), then the
 * condemned/ files (their packs marked INDEX_PACK_CONDEMNED: readable, but
 * no backup deduplicates against them); a process that backs up several
 * sources reads each file once (again only after a failed backup:
 * repo_drop_index). A file that cannot be read or decoded is
 * skipped and named by repo_index_problem — one damaged file must not
 * stop every command; what it indexed is stored again by the next backup,
 * and `coffer repair index` rebuilds it. A file that vanished between the
 * listing and the read (a prune replaced it) makes the listing run again,
 * so the file that replaced it is read. Fails only when a folder cannot
 * be listed. */
int repo_load_index(struct repo *repo, struct error *err);

/* repo_load_index for a repair, with the damage records the caller loaded
 * (damage_load): their damaged copies are marked, but not their missing
 * packs — an old check's word on what the store lacked; a repair lists the
 * store afresh. Damage is applied only by the first load of a process. */
struct damage_list;
int repo_load_index_with_damage(struct repo *repo, const struct damage_list *damage, struct error *err);

/* Forgets the in-memory index, its problems and its damage records, so
 * that the next repo_load_index reads everything again from the store. A
 * backup that failed leaves entries there that the store does not back up
 * (blobs reserved but never stored, packs stored but named by no index
 * file); a later backup by the same process must not deduplicate against
 * them. Not thread-safe: nothing else may use the index meanwhile. */
void repo_drop_index(struct repo *repo);

/* Appends to names the index/ files the store lists, then the
 * condemned/ ones: the files a new index replaces (prune, repair index). */
struct string_list;
int repo_list_index_files(struct repo *repo, struct string_list *names, struct error *err);

/* The ids of the packs the store lists under data/, sorted, for
 * pack_ids_has; free with pack_ids_free. */
struct pack_ids {
    uint8_t (*ids)[CRYPTO_ID_SIZE];
    size_t count, cap;
};
int repo_list_packs(struct repo *repo, struct pack_ids *out, struct error *err);
bool pack_ids_has(const struct pack_ids *l, const uint8_t id[CRYPTO_ID_SIZE]);
void pack_ids_free(struct pack_ids *l);

/* Lists the packs on the store and marks every indexed pack that is not
 * there INDEX_PACK_MISSING, so that a backup stores its blobs again instead
 * of deduplicating against them. *missing (may be NULL) gets the count. */
int repo_mark_missing_packs(struct repo *repo, size_t *missing, struct error *err);

/* Writes index files (kind OBJ_INDEX) or condemned files (OBJ_CONDEMNED)
 * for packs, REPO_PACKS_PER_INDEX packs a file; adds the bytes written to
 * *bytes (may be NULL). ids (may be NULL) gets the files' ids, one per
 * REPO_PACKS_PER_INDEX packs (rounded up), in the order written. */
#define REPO_PACKS_PER_INDEX 64
struct pack_record;
int repo_write_pack_list(struct repo *repo, enum object_kind kind, const struct pack_record *packs, size_t count,
                         uint64_t *bytes, uint8_t (*ids)[CRYPTO_ID_SIZE], struct error *err);
int repo_write_index(struct repo *repo, const struct pack_record *packs, size_t count, uint64_t *bytes,
                     struct error *err);

/* Writes a sealed object "<folder>/<hex id>" (packs: data/<xx>/<hex id>). */
int repo_put_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                    const void *plain, size_t len, struct error *err);
/* Like repo_put_object, but only if the object does not exist yet
 * (store_put_new): ERR_EXISTS if it does. */
int repo_put_new_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                        const void *plain, size_t len, struct error *err);
/* Reads and opens one; ERR_AUTH when it fails authentication. */
int repo_get_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                    struct buf *plain, struct error *err);
/* The store name of an object; out must hold 96 bytes. */
void repo_object_name(enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE], char *out);
/* The folder objects of a kind live in ("data", "index", ...). */
const char *repo_object_folder(enum object_kind kind);
/* Parses an object name from a listing back into its id; -1 if foreign. */
int repo_object_id_from_name(const char *name, uint8_t id[CRYPTO_ID_SIZE]);

/* Every object of a kind (snapshots, events), read and opened
 * store_parallel_requests at a time: thousands of small objects on a cold
 * disk load in a third of the time one at a time takes. One that cannot be
 * read or opened is returned with why set ("snapshots/<id>: why") and an
 * empty plain, so that one damaged object hides none of the others; only a
 * failure to list the folder fails the call. */
struct repo_object {
    uint8_t id[CRYPTO_ID_SIZE];
    struct buf plain;
    char *why;
};
int repo_load_all(struct repo *repo, enum object_kind kind, struct repo_object **out, size_t *count,
                  struct error *err);
void repo_objects_free(struct repo_object *objects, size_t count);

/* Associated data for an object; out must hold REPO_AD_MAX bytes. */
#define REPO_AD_MAX (REPO_ID_SIZE + 1 + CRYPTO_ID_SIZE)
size_t repo_object_ad(const struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                      uint8_t *out);

/* Short hex form of an id for messages (first 8 bytes), into out[17]. */
void id_short(const uint8_t id[CRYPTO_ID_SIZE], char out[17]);

#endif
