/*
 * blob_writer.h — stores blobs: deduplicates by id, then compresses, seals
 * and packs them on a pool of worker threads, and writes full packs and
 * their index files to the store from writer threads.
 *
 *   caller ──add()──▶ hash, index check ──job──▶ workers: zstd, seal, pack
 *                                                   └─full pack──▶ writers: put pack, put index
 *
 * The caller's thread computes ids (so it knows them at once, in order);
 * the costly stages run in parallel. Write order is packs, then the index
 * files naming them; the caller writes its snapshot only after
 * blob_writer_finish succeeds, so a crash never leaves a snapshot that
 * points at missing data.
 *
 * Memory: at most BLOB_WRITER_QUEUE + workers batches (each up to 256 KiB plus
 * one chunk), and one pack being filled, one waiting and one being written
 * per writer thread (store_parallel_uploads: 1 for a local directory, so
 * about 3 x pack size; S3 with connections: 4, about 6 x pack size).
 */
#ifndef COFFER_PIPELINE_BLOB_WRITER_H
#define COFFER_PIPELINE_BLOB_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "repo/repo.h"

#define BLOB_WRITER_QUEUE 8

struct blob_writer_stats {
    uint64_t blobs_new;
    uint64_t bytes_new;    /* plaintext bytes of new blobs */
    uint64_t bytes_stored; /* bytes written to the store (packs and index files) */
    uint64_t packs;
};

struct blob_writer;

/* workers: number of compress/seal threads (at least 1). */
struct blob_writer *blob_writer_new(struct repo *repo, unsigned workers);

/* Whether each sealed blob is opened again and compared with its content
 * before it goes into a pack, as restic does since 0.17: bad memory or a
 * bug on the write path then fails the backup instead of storing what
 * cannot be read back. COFFER_VERIFY_WRITES=0 or 1 overrides the default
 * (measured in bench/RESULTS.md, "Verify before upload"). */
#define BLOB_WRITER_VERIFY_DEFAULT false
bool blob_writer_verifies(void);

/* Stores a blob unless the repository already has it, and puts its id in
 * id_out. The data is copied; the caller may reuse it at once. Fails if
 * an earlier blob failed to store (the error says why). */
int blob_writer_add(struct blob_writer *w, enum blob_type type, const uint8_t *data, size_t len,
                    uint8_t id_out[CRYPTO_ID_SIZE], struct error *err);

/* After an interruption (util/interrupt.h): stops the threads, dropping
 * the blobs not yet in a stored pack, and writes the index of the packs
 * stored so far, so that no pack of the run lies in the repository
 * unindexed and the next run reuses their blobs. err, which holds the
 * interruption, becomes the one line to print: "<err>: <lost>; N packs
 * (SIZE) stored before the stop kept for <next>" (or why they are left
 * for prune). Returns -1. */
int blob_writer_keep(struct blob_writer *w, const char *lost, const char *next, struct error *err);

/* Data blobs added from now on are compressed with dict (NULL: none). The
 * dictionary must outlive blob_writer_finish. */
void blob_writer_use_dictionary(struct blob_writer *w, const struct blob_dict *dict);

/* Waits for all blobs, writes the last pack and the index files. After
 * success every added blob is in the store and indexed. */
int blob_writer_finish(struct blob_writer *w, struct error *err);

void blob_writer_get_stats(const struct blob_writer *w, struct blob_writer_stats *stats);

/* Stops the threads (abandoning unfinished work) and frees everything. */
void blob_writer_free(struct blob_writer *w);

#endif
