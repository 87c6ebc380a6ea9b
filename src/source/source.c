/*
 * source.c — what the sources that build trees share (source.h): a
 * warning into the snapshot, the parent snapshot's tree of a directory,
 * and storing a finished tree. The files and bucket sources both build a
 * tree per directory against the parent's; the pieces live here once.
 */
#include "source/source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>

#include "repo/blob.h"
#include "repo/walk.h"
#include "util/interrupt.h"

void backup_warn(struct backup_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = xmalloc(len > 0 ? (size_t)len + 1 : 1);
    text[0] = '\0';
    va_start(ap, fmt);
    if (len > 0)
        vsnprintf(text, (size_t)len + 1, fmt, ap);
    va_end(ap);
    string_list_add(ctx->warnings, text);
    free(text);
    ctx->progress->errors++;
}

bool backup_load_parent_tree(struct backup_ctx *ctx, const uint8_t *id, struct tree *tree)
{
    struct error ignored;
    return id && repo_read_tree(ctx->repo, ctx->codec, id, tree, &ignored) == 0;
}

int backup_store_tree(struct backup_ctx *ctx, struct tree *tree, uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    if (interrupt_check(err) < 0) /* a tree of unchanged files adds no blob before this */
        return -1;
    struct buf encoded = BUF_INIT;
    tree_sort(tree);
    int rc = tree_encode(tree, &encoded, err);
    if (rc == 0)
        rc = blob_writer_add(ctx->blobs, BLOB_TREE, encoded.data, encoded.len, id_out, err);
    buf_free(&encoded);
    ctx->stats->dirs++;
    return rc;
}

int source_probe_paths(const struct config_strings *paths, char *what, size_t size, struct error *err)
{
    for (size_t i = 0; i < paths->count; i++) {
        const char *path = paths->items[i];
        DIR *dir = opendir(path);
        if (dir) {
            closedir(dir);
            continue;
        }
        if (errno != ENOTDIR)
            return error_errno(err, errno, "cannot read %s", path);
        if (access(path, R_OK) < 0)
            return error_errno(err, errno, "cannot read %s", path);
    }
    snprintf(what, size, "%zu path%s readable", paths->count, paths->count == 1 ? "" : "s");
    return 0;
}
