/*
 * content.h — a file's or stream's bytes as a content list, and back.
 *
 * Writing: bytes are cut by the chunker, each chunk stored through the
 * blob writer, and the ids collected in order. A content list longer than
 * CONTENT_FANOUT ids is itself cut into list blobs, level upon level, so
 * that the memory for a stream of any length stays bounded (4096 ids of
 * 64 KiB chunks cover 256 MiB per list blob; two levels cover 1 TiB).
 *
 * Reading: a content reader fetches, opens and verifies the blobs of a
 * content list on worker threads and hands them to a sink strictly in
 * order, a few blobs ahead of the sink.
 */
#ifndef COFFER_PIPELINE_CONTENT_H
#define COFFER_PIPELINE_CONTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk/chunker.h"
#include "pipeline/blob_writer.h"
#include "repo/tree.h"

struct blob_codec;

#define CONTENT_FANOUT 4096
#define CONTENT_MAX_DEPTH 6

/* Input window: at least twice the largest chunk, read straight from fds. */
#define CONTENT_WINDOW (8u << 20)

struct content_writer {
    struct blob_writer *blobs;
    const struct chunker *chunker;
    struct buf window; /* bytes read but not yet cut */
    struct buf levels[CONTENT_MAX_DEPTH];
    uint64_t size;
    uint64_t chunks;
};

/* Called after each chunk with the bytes so far; may be NULL. */
typedef void (*content_progress_fn)(void *ctx, uint64_t bytes);

void content_writer_init(struct content_writer *cw, struct blob_writer *blobs, const struct chunker *chunker);
void content_writer_free(struct content_writer *cw);

/* Reads fd to its end, cutting and storing as it goes. */
int content_writer_read_fd(struct content_writer *cw, int fd, content_progress_fn progress, void *ctx,
                           struct error *err);

/* Adds bytes held in memory (rows from a database connection, say). */
int content_writer_write(struct content_writer *cw, const void *data, size_t len, content_progress_fn progress,
                         void *ctx, struct error *err);

/* Lists a blob that is stored already (coffer copy keeps the source's
 * cuts), len bytes of content, as the next chunk. */
int content_writer_add_stored(struct content_writer *cw, const uint8_t id[CRYPTO_ID_SIZE], uint64_t len,
                              struct error *err);

/* Cuts what is left and gives the content list (owned by out) and the
 * number of bytes; the writer is then ready for a new content. */
int content_writer_finish(struct content_writer *cw, struct content_ref *out, uint64_t *size,
                          struct error *err);

/* Where read content goes; return -1 with err set to stop. */
typedef int (*content_sink_fn)(void *ctx, const uint8_t *data, size_t len, struct error *err);

struct content_reader;

struct content_reader *content_reader_new(struct repo *repo, unsigned workers);
void content_reader_free(struct content_reader *cr);

/* Streams a content list to sink in order. Fails (naming the blob and
 * pack) on any missing or damaged blob, and if the bytes do not add up to
 * expected_size. */
int content_reader_copy(struct content_reader *cr, const struct content_ref *ref, uint64_t expected_size,
                        content_sink_fn sink, void *ctx, struct error *err);

/* Calls fn for every blob id a content list refers to, list blobs
 * included (reading them), without reading data blobs. */
typedef int (*content_id_fn)(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type,
                             struct error *err);
int content_walk_ids(struct repo *repo, struct blob_codec *codec, const struct content_ref *ref,
                     content_id_fn fn, void *ctx, struct error *err);

/* Whether a backup may reuse a content as it is: every blob it needs is
 * in the index in a copy not found damaged and not in a missing pack (see
 * index_is_usable). A file whose parent content is not reusable is read
 * again, which stores what was lost. */
bool content_is_reusable(struct repo *repo, struct blob_codec *codec, const struct content_ref *ref);

/* A copy of from's list (for a file reused from the parent snapshot). */
void content_ref_copy(struct content_ref *to, const struct content_ref *from);
void content_ref_free(struct content_ref *ref);

#endif
