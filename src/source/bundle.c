/*
 * bundle.c — named streams into one snapshot tree (see bundle.h).
 *
 * A piece's path is checked with tree_path_problem, the rule the reader
 * of trees applies, before anything is stored under it: "../x", "/abs",
 * "a//b" or a name over 255 bytes fail the backup instead of making a
 * snapshot that restore and check would call malformed.
 */
#include "source/bundle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void bundle_init(struct bundle *b, struct backup_ctx *ctx)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    content_writer_init(&b->content, ctx->blobs, repo_stream_chunker(ctx->repo));
}

void bundle_use(struct bundle *b, const struct chunker *chunker, const struct blob_dict *dict)
{
    b->content.chunker = chunker;
    blob_writer_use_dictionary(b->ctx->blobs, dict);
}

void bundle_free(struct bundle *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->pieces[i].path);
        content_ref_free(&b->pieces[i].content);
    }
    free(b->pieces);
    content_writer_free(&b->content);
    memset(b, 0, sizeof *b);
}

static void report_progress(void *arg, uint64_t bytes)
{
    struct bundle *b = arg;
    b->ctx->progress->bytes = b->bytes_before + bytes;
    progress_update(b->ctx->progress);
}

int bundle_write(struct bundle *b, const void *data, size_t len, struct error *err)
{
    return content_writer_write(&b->content, data, len, report_progress, b, err);
}

static int check_path(const char *path, struct error *err)
{
    const char *why = tree_path_problem(path);
    return why ? error_setk(err, ERR_USAGE, "the name \"%s\" %s: a snapshot cannot hold it", path, why) : 0;
}

int bundle_end(struct bundle *b, const char *path, struct error *err)
{
    struct bundle_piece piece = {0};
    if (content_writer_finish(&b->content, &piece.content, &piece.size, err) < 0)
        return -1;
    if (check_path(path, err) < 0) {
        content_ref_free(&piece.content);
        return -1;
    }
    piece.path = xstrdup(path);
    b->pieces = xrealloc(b->pieces, (b->count + 1) * sizeof *b->pieces);
    b->pieces[b->count++] = piece;
    b->bytes_before += piece.size;
    b->ctx->stats->size += piece.size;
    b->ctx->stats->files++;
    b->ctx->progress->files++;
    return 0;
}

int bundle_read_fd(struct bundle *b, int fd, struct error *err)
{
    return content_writer_read_fd(&b->content, fd, report_progress, b, err);
}

int bundle_add_fd(struct bundle *b, const char *path, int fd, struct error *err)
{
    if (check_path(path, err) < 0 || bundle_read_fd(b, fd, err) < 0)
        return -1;
    return bundle_end(b, path, err);
}

int bundle_add_bytes(struct bundle *b, const char *path, const void *data, size_t len, struct error *err)
{
    if (check_path(path, err) < 0 || bundle_write(b, data, len, err) < 0)
        return -1;
    return bundle_end(b, path, err);
}

static void fill_node(struct node *n, const char *name, uint8_t type, int64_t now_ns)
{
    n->name = xstrdup(name);
    n->type = type;
    n->mode = type == NODE_DIR ? 0700 : 0600;
    n->uid = (uint32_t)getuid();
    n->gid = (uint32_t)getgid();
    n->mtime_ns = n->atime_ns = n->ctime_ns = now_ns;
}

static int compare_pieces(const void *x, const void *y)
{
    return strcmp(((const struct bundle_piece *)x)->path, ((const struct bundle_piece *)y)->path);
}

/* Builds the tree of the pieces whose paths start with prefix (which ends
 * in '/' or is ""); pieces[from, to) all do, sorted. */
static int store_level(struct bundle *b, const char *prefix, size_t from, size_t to, int64_t now_ns,
                       uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    struct tree tree = {0};
    size_t prefix_len = strlen(prefix);
    int rc = 0;
    for (size_t i = from; i < to && rc == 0;) {
        const char *rest = b->pieces[i].path + prefix_len;
        const char *slash = strchr(rest, '/');
        struct node *n = tree_add(&tree);
        if (!slash) {
            fill_node(n, rest, NODE_FILE, now_ns);
            n->size = b->pieces[i].size;
            n->content = b->pieces[i].content; /* moved */
            memset(&b->pieces[i].content, 0, sizeof b->pieces[i].content);
            i++;
            continue;
        }
        size_t name_len = (size_t)(slash - rest);
        char *sub = strndup(b->pieces[i].path, prefix_len + name_len + 1);
        size_t j = i;
        while (j < to && strncmp(b->pieces[j].path, sub, prefix_len + name_len + 1) == 0)
            j++;
        char *name = strndup(rest, name_len);
        fill_node(n, name, NODE_DIR, now_ns);
        rc = store_level(b, sub, i, j, now_ns, n->subtree, err);
        free(name);
        free(sub);
        i = j;
    }
    if (rc == 0) {
        struct buf encoded = BUF_INIT;
        tree_sort(&tree);
        rc = tree_encode(&tree, &encoded, err);
        if (rc == 0)
            rc = blob_writer_add(b->ctx->blobs, BLOB_TREE, encoded.data, encoded.len, id_out, err);
        buf_free(&encoded);
    }
    tree_free(&tree);
    return rc;
}

int bundle_finish(struct bundle *b, uint8_t root_out[CRYPTO_ID_SIZE], struct error *err)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (b->count > 1)
        qsort(b->pieces, b->count, sizeof *b->pieces, compare_pieces);
    for (size_t i = 1; i < b->count; i++)
        if (strcmp(b->pieces[i - 1].path, b->pieces[i].path) == 0)
            return error_set(err, "two pieces of the snapshot are both named %s", b->pieces[i].path);
    return store_level(b, "", 0, b->count, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, root_out, err);
}
