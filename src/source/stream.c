/*
 * stream.c — a stream source: one file holding everything read from a
 * descriptor (standard input, or any program's output).
 */
#include "source/bundle.h"

int stream_backup(struct backup_ctx *ctx, int fd, const char *name, uint8_t root_out[CRYPTO_ID_SIZE],
                  struct error *err)
{
    struct bundle b;
    bundle_init(&b, ctx);
    int rc = bundle_add_fd(&b, name, fd, err);
    /* The failure may be reading the stream or storing it (a full disk):
     * the message below says which. */
    if (rc < 0)
        error_wrap(err, "cannot back up the stream");
    else
        rc = bundle_finish(&b, root_out, err);
    bundle_free(&b);
    return rc;
}

int stream_source_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    (void)settings;
    return stream_backup(ctx, ctx->stdin_fd, ctx->snapshot->source, ctx->snapshot->root, err);
}
