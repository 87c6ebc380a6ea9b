/*
 * stream.c — a stream source: one file node holding everything read from a
 * descriptor (standard input, or a dump program's output).
 */
#include "source/source.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void count_progress(void *ctx, uint64_t bytes)
{
    struct progress *p = ctx;
    p->bytes = bytes;
    progress_update(p);
}

int stream_backup(struct backup_ctx *ctx, int fd, const char *name, uint8_t root_out[CRYPTO_ID_SIZE],
                  struct error *err)
{
    struct content_writer cw;
    struct tree tree = {0};
    struct buf encoded = BUF_INIT;
    int rc = -1;
    content_writer_init(&cw, ctx->blobs, &ctx->repo->stream_chunker);
    struct node *node = tree_add(&tree);
    node->name = xstrdup(name);
    node->type = NODE_FILE;
    node->mode = 0600;
    node->uid = (uint32_t)getuid();
    node->gid = (uint32_t)getgid();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    node->mtime_ns = node->atime_ns = node->ctime_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;

    if (content_writer_read_fd(&cw, fd, count_progress, ctx->progress, err) < 0) {
        error_wrap(err, "cannot read the stream");
        goto out;
    }
    if (content_writer_finish(&cw, &node->content, &node->size, err) < 0)
        goto out;
    tree_encode(&tree, &encoded);
    if (blob_writer_add(ctx->blobs, BLOB_TREE, encoded.data, encoded.len, root_out, err) < 0)
        goto out;
    ctx->stats->size = node->size;
    ctx->stats->files = 1;
    ctx->progress->files = 1;
    rc = 0;
out:
    buf_free(&encoded);
    tree_free(&tree);
    content_writer_free(&cw);
    return rc;
}
