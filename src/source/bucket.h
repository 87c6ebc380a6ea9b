/*
 * bucket.h — the bucket source: the objects of an S3-compatible bucket (or
 * of a prefix in one: Supabase Storage, MinIO, AWS) backed up as a file
 * tree, and restored to a directory or to another bucket.
 *
 * An object's key below the prefix is its path in the tree; its size,
 * Last-Modified (as the file's mtime) and ETag (as the node's version) are
 * kept, and an object whose size, date and ETag equal the parent
 * snapshot's is not downloaded again. The bucket is reached with the S3
 * store driver's client (signing, retries, TLS, paging); nothing is ever
 * written to it by a backup.
 *
 * Keys are bytes that need not be paths: "a/../../x", "a//b", "/x", "." or
 * a key that is also a folder ("a" beside "a/b"). Each part of a key is a
 * name of the tree, written as it is when it can be and escaped when not
 * (see bucket_name_of_part), so every object is kept, no name leaves the
 * restore target, and a restore to a bucket gives the keys back exactly.
 *
 * Memory: the listing is held while the tree is built, about 150 bytes
 * plus twice the key per object (1 GiB for 5 million objects of 50-byte
 * keys), and one part of an object (8 MiB) at a time. A restore to a
 * bucket holds one object at a time (S3's single PUT takes up to 5 GiB).
 */
#ifndef COFFER_SOURCE_BUCKET_H
#define COFFER_SOURCE_BUCKET_H

#include <stdbool.h>
#include <stddef.h>

#include "source/source.h"
#include "source/types.h"

/* A bucket source's coffer.yaml keys (its row in types.c reads them). */
struct bucket_settings {
    char *url;               /* s3://BUCKET[/PREFIX] */
    char *endpoint;          /* https://HOST[:PORT][/PATH]; NULL: AWS for the region */
    char *region;            /* NULL: us-east-1 */
    char *path_style;        /* "true", "false" or NULL (path style when an endpoint is given) */
    char *credentials_file;  /* AWS shared-credentials file; NULL: ~/.aws/credentials */
    char *profile;           /* its section; NULL: default */
    char *ca_file;           /* CAs to trust for https, or NULL: the system's */
    struct config_strings exclude; /* patterns (exclude.h), matched against "/" + the key below the prefix */
};

/* The longest object a restore to a bucket puts (one PUT). */
#define BUCKET_PUT_MAX (5ull << 30)

/* "url: ..." when url is not s3://BUCKET[/PREFIX]; NULL when it is. */
const char *bucket_validate(const void *settings);

/* Backs up the objects below settings->url into ctx->snapshot's root,
 * against ctx->parent_root. */
int bucket_backup(struct backup_ctx *ctx, const void *settings, struct error *err);
/* Its probe: the credentials are read and the bucket lists. */
int bucket_probe(const void *settings, char *what, size_t size, struct error *err);

/* The same, from a bucket already open (settings->url names it in the
 * snapshot and in messages): what bucket_backup runs once it has reached
 * the bucket, and what tests run on a memory store, which holds keys no
 * S3 server takes ("a//b", "a/../../x"). */
struct store;
int bucket_backup_store(struct backup_ctx *ctx, struct store *bucket, const struct bucket_settings *settings,
                        struct error *err);

/* Whether a restore target is a bucket location (s3://...). */
bool bucket_is_location(const char *target);

/* Restores a bucket snapshot's files to the bucket location req->target,
 * reached with req->settings (the source's, or NULL: AWS with
 * ~/.aws/credentials): each file becomes the object of its key. Refuses a
 * location that holds objects unless req->is_force. */
int bucket_restore(struct repo *repo, const struct snapshot *snap, const struct restore_request *req, char *note,
                   size_t note_size, struct error *err);

/* The same, into a bucket already open (req->target names it). */
int bucket_restore_store(struct repo *repo, const struct snapshot *snap, struct store *bucket,
                         const struct restore_request *req, char *note, size_t note_size, struct error *err);

/* The tree name of one part of a key (len bytes, no '/'), to be freed, or
 * NULL when it would be longer than TREE_NAME_MAX. A part that is a name
 * already is itself; one that is empty, ".", "..", or starts with "%%" is
 * "%%" followed by the part with '%' and '!' written %25 and %21; a file
 * whose path is also a folder's (is_beside_folder) is "%%!" followed by the
 * same. Every result passes tree_name_problem. */
char *bucket_name_of_part(const char *part, size_t len, bool is_beside_folder);

/* The key of a tree path ("a/%%/b" -> "a//b"): each name read back into
 * its part. NULL when a name is not one bucket_name_of_part writes. */
char *bucket_key_of_path(const char *path);

#endif
