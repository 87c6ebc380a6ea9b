/*
 * bundle.h — a snapshot made of named streams: "app.dump", "globals.sql",
 * "exports/users.jsonl", ...
 *
 * Sources that produce data rather than walk a file tree (a stream on
 * stdin, a database dump with its exports) add each piece by path, from a
 * descriptor or from memory, and the bundle builds the directory trees
 * when it is finished. Pieces are stored one after another through the
 * same content writer, so only one piece is open at a time.
 */
#ifndef COFFER_SOURCE_BUNDLE_H
#define COFFER_SOURCE_BUNDLE_H

#include "source/source.h"

struct bundle_piece {
    char *path;
    struct content_ref content;
    uint64_t size;
};

struct bundle {
    struct backup_ctx *ctx;
    struct content_writer content;
    struct bundle_piece *pieces;
    size_t count;
    uint64_t bytes_before; /* progress offset of the open piece */
};

void bundle_init(struct bundle *b, struct backup_ctx *ctx);
void bundle_free(struct bundle *b);

/* Pieces from now on are cut by chunker and their data blobs compressed
 * with dict (NULL: none); the default is the stream chunker, no dictionary. */
void bundle_use(struct bundle *b, const struct chunker *chunker, const struct blob_dict *dict);

/* Reads fd to its end into the piece at path. */
int bundle_add_fd(struct bundle *b, const char *path, int fd, struct error *err);

/* Adds a piece from memory. */
int bundle_add_bytes(struct bundle *b, const char *path, const void *data, size_t len, struct error *err);

/* A piece written in parts: write or read any number of times, then end. */
int bundle_write(struct bundle *b, const void *data, size_t len, struct error *err);
int bundle_read_fd(struct bundle *b, int fd, struct error *err);
int bundle_end(struct bundle *b, const char *path, struct error *err);

/* Stores the trees; root_out is the snapshot's root. */
int bundle_finish(struct bundle *b, uint8_t root_out[CRYPTO_ID_SIZE], struct error *err);

#endif
