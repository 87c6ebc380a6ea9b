/*
 * pack.h — pack files: many sealed blobs followed by a sealed header that
 * lists them, and the header's length in the last 4 bytes.
 *
 * Packs are built in memory up to the repository's pack size (~16 MiB) and
 * stored whole, so object stores see few, large, immutable objects. The
 * header makes a pack self-describing: check --read-data and a rebuild of
 * the index need nothing but the pack.
 */
#ifndef COFFER_REPO_PACK_H
#define COFFER_REPO_PACK_H

#include "repo/index.h"
#include "repo/repo.h"

struct pack_builder {
    struct buf data;
    struct pack_record record; /* record.id is the pack id */
};

/* Starts an empty pack with a fresh random id. */
void pack_builder_start(struct pack_builder *pb);

/* Appends a sealed blob; returns its offset in the pack. */
uint32_t pack_builder_add(struct pack_builder *pb, const uint8_t id[CRYPTO_ID_SIZE], uint8_t type,
                          const uint8_t *sealed, size_t len, uint32_t raw_length);

/* Appends the sealed header and its length: pb->data is then the pack. */
void pack_builder_finish(const struct repo *repo, struct pack_builder *pb);

void pack_builder_free(struct pack_builder *pb);

/* Makes room in pb->data for a full pack of repo and one more chunk of the
 * largest kind, so that filling it does not reallocate. */
void pack_builder_reserve(const struct repo *repo, struct pack_builder *pb);

/* Whether pb has reached repo's pack size: time to store it. */
bool pack_builder_is_full(const struct repo *repo, const struct pack_builder *pb);

/* Finishes pb (pack_builder_finish) and stores it as data/<xx>/<pack id>. */
int repo_put_pack(struct repo *repo, struct pack_builder *pb, struct error *err);

/* Deletes the count packs of records, which no index lists: what a run
 * stopped before writing its index had stored (prune, repair). */
int repo_delete_packs(struct repo *repo, const struct pack_record *records, size_t count, struct error *err);

/* Reads len bytes (STORE_TO_END: all the rest) of pack id from offset;
 * appends them to out. */
int repo_read_pack(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], uint64_t offset, uint64_t len,
                   struct buf *out, struct error *err);

/* Reads the header of a whole pack held in memory into rec (rec->id must
 * be set to the pack's id) and checks that the blobs tile the pack. */
int pack_header_read(const struct repo *repo, const uint8_t *pack, size_t len, struct pack_record *rec,
                     struct error *err);

/* The same from the end of a pack only: tail holds its last tail_len of
 * pack_size bytes (the index rebuild reads no more). Fails with ERR_AUTH
 * when the header is damaged or does not reach into tail; then
 * pack_header_length says how many bytes from the end it needs (0 when
 * tail is shorter than 4 bytes). */
int pack_header_read_tail(const struct repo *repo, const uint8_t *tail, size_t tail_len, uint64_t pack_size,
                          struct pack_record *rec, struct error *err);
uint32_t pack_header_length(const uint8_t *tail, size_t tail_len);

#endif
