/*
 * damage.h — what a check found damaged or missing, kept in the repository.
 *
 * `check --read-data` writes a damage/<id> object listing every blob copy
 * it could not open (the blob, the pack holding that copy, and why) and
 * every indexed pack the store no longer has. repo_load_index applies the
 * records to the in-memory index: those copies stay readable in principle
 * (restore tries them and fails clearly), but no backup deduplicates
 * against them — the blob writer stores the blob again, which heals every
 * snapshot that needs it when the source still has the data. Any process
 * with the key sees the records, so a backup on another machine heals too.
 *
 * Records are replaced, not merged: a check that read a pack states the
 * truth about it, so its record keeps only the older records of packs it
 * did not read (damage_replace). `coffer repair packs` removes the records
 * it has dealt with.
 */
#ifndef COFFER_REPO_DAMAGE_H
#define COFFER_REPO_DAMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

/* The cause of a blob that is intact but compressed with a dictionary that
 * cannot be read. */
#define DAMAGE_CAUSE_DICTIONARY "its dictionary cannot be read"

struct damaged_blob {
    uint8_t id[CRYPTO_ID_SIZE];
    uint8_t pack[CRYPTO_ID_SIZE];
    char *cause; /* one line: why it could not be opened */
};

struct damage_list {
    struct damaged_blob *blobs;
    size_t count, cap;
    uint8_t (*missing)[CRYPTO_ID_SIZE]; /* indexed packs the store does not have */
    size_t missing_count, missing_cap;
    char **names;                       /* the damage/ objects it was read from */
    size_t name_count;
};

void damage_add_blob(struct damage_list *list, const uint8_t id[CRYPTO_ID_SIZE], const uint8_t pack[CRYPTO_ID_SIZE],
                     const char *cause);
void damage_add_missing(struct damage_list *list, const uint8_t pack[CRYPTO_ID_SIZE]);
void damage_free(struct damage_list *list);

/* Reads every damage/ object (one that cannot be read is skipped: damage
 * records only ever make coffer store more, never less). */
int damage_load(struct repo *repo, struct damage_list *out, struct error *err);

/* Marks the records in an index: damaged copies (index_add_damage), before
 * the index files are read so that good copies win; missing packs
 * (INDEX_PACK_MISSING), after, once the packs have numbers. */
void damage_apply_blobs(const struct damage_list *list, struct index *index);
void damage_apply_missing(const struct damage_list *list, struct index *index);

/* Writes found as the new record: found, plus the records of old whose
 * pack is_read_pack says was not read; then deletes old's objects. An
 * empty result writes nothing (and still deletes old's objects). */
typedef bool (*damage_pack_fn)(void *ctx, const uint8_t pack[CRYPTO_ID_SIZE]);
int damage_replace(struct repo *repo, const struct damage_list *old, const struct damage_list *found,
                   damage_pack_fn is_read_pack, void *ctx, struct error *err);

/* The JSON form of a record (the object's plaintext) and back; decode
 * fails on anything malformed. */
json_t *damage_encode(const struct damage_list *list);
int damage_decode(const json_t *doc, struct damage_list *out, struct error *err);

#endif
