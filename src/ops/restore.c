/*
 * restore.c — bringing content back: restore a tree into a directory,
 * dump one file or stream to a descriptor, list a snapshot's entries.
 *
 * Every blob read is authenticated and checked against its id on the way
 * (content_reader), so damaged data is an error naming the pack, never
 * wrong bytes on disk. A file that cannot be restored is removed, listed,
 * and the rest of the snapshot is still restored.
 */
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/content.h"
#include "repo/lock.h"
#include "repo/tree.h"
#include "util/fdio.h"

static int load_tree(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                     struct tree *tree, struct error *err)
{
    struct buf raw = BUF_INIT;
    int rc = repo_read_blob(repo, codec, id, &raw, err);
    if (rc == 0)
        rc = tree_decode(raw.data, raw.len, tree, err);
    buf_free(&raw);
    return rc;
}

/* Finds the entry at path ("/srv/a.txt" or "srv/a.txt") below root. On
 * success *node points into *holder, which the caller frees. */
static int find_node(struct repo *repo, struct blob_codec *codec, const uint8_t root[CRYPTO_ID_SIZE],
                     const char *path, struct tree *holder, const struct node **node, struct error *err)
{
    uint8_t current[CRYPTO_ID_SIZE];
    char *copy = xstrdup(path), *save = NULL;
    memcpy(current, root, CRYPTO_ID_SIZE);
    memset(holder, 0, sizeof *holder);
    *node = NULL;
    int rc = 0;
    for (char *part = strtok_r(copy, "/", &save); part && rc == 0; part = strtok_r(NULL, "/", &save)) {
        if (*node && (*node)->type != NODE_DIR) {
            rc = error_setk(err, ERR_NOT_FOUND, "%s is not in the snapshot (a parent is not a directory)", path);
            break;
        }
        if (*node)
            memcpy(current, (*node)->subtree, CRYPTO_ID_SIZE);
        tree_free(holder);
        if (load_tree(repo, codec, current, holder, err) < 0) {
            rc = -1;
            break;
        }
        *node = tree_find(holder, part);
        if (!*node)
            rc = error_setk(err, ERR_NOT_FOUND, "%s is not in the snapshot (see `coffer ls`)", path);
    }
    free(copy);
    if (rc == 0 && !*node)
        rc = error_setk(err, ERR_USAGE, "give a path inside the snapshot, not \"%s\"", path);
    if (rc < 0)
        tree_free(holder);
    return rc;
}

struct fd_sink {
    int fd;
    const char *what;
    struct progress *progress;
};

static int sink_to_fd(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    struct fd_sink *sink = ctx;
    if (write_all(sink->fd, data, len) < 0)
        return error_errno(err, errno, "cannot write %s", sink->what);
    if (sink->progress) {
        sink->progress->bytes += len;
        progress_update(sink->progress);
    }
    return 0;
}

/* ---- restore ---------------------------------------------------------- */

struct restorer {
    struct repo *repo;
    struct blob_codec *codec;
    struct content_reader *reader;
    struct progress *progress;
    struct string_list *failures;
    bool is_root;
};

static void record_failure(struct restorer *r, const char *path, const char *why)
{
    char line[PATH_MAX + ERROR_MSG_MAX + 8];
    snprintf(line, sizeof line, "%s: %s", path, why);
    string_list_add(r->failures, line);
    r->progress->errors++;
}

static void set_metadata(struct restorer *r, const char *path, const struct node *n)
{
    struct timespec times[2] = {
        {n->atime_ns / 1000000000, n->atime_ns % 1000000000},
        {n->mtime_ns / 1000000000, n->mtime_ns % 1000000000},
    };
    /* Ownership only where we may change it; a failed chown is no failure
     * for an unprivileged restore. */
    if (r->is_root && lchown(path, n->uid, n->gid) < 0)
        record_failure(r, path, strerror(errno));
    if (n->type != NODE_SYMLINK && chmod(path, n->mode) < 0)
        record_failure(r, path, strerror(errno));
    utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}

static int restore_node(struct restorer *r, const struct node *n, const char *path, struct error *err);

static int restore_tree(struct restorer *r, const uint8_t id[CRYPTO_ID_SIZE], const char *dir, struct error *err)
{
    struct tree tree;
    if (load_tree(r->repo, r->codec, id, &tree, err) < 0) {
        record_failure(r, dir, err->msg);
        return 0;
    }
    size_t dir_len = strlen(dir);
    char *child = xmalloc(dir_len + NAME_MAX + 2);
    int rc = 0;
    for (size_t i = 0; i < tree.count && rc == 0; i++) {
        snprintf(child, dir_len + NAME_MAX + 2, "%s/%s", dir, tree.nodes[i].name);
        rc = restore_node(r, &tree.nodes[i], child, err);
    }
    free(child);
    tree_free(&tree);
    return rc;
}

static void restore_file(struct restorer *r, const struct node *n, const char *path)
{
    struct error err;
    unlink(path); /* replace, never write through an existing link */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        record_failure(r, path, strerror(errno));
        return;
    }
    struct fd_sink sink = {fd, path, r->progress};
    int rc = content_reader_copy(r->reader, &n->content, n->size, sink_to_fd, &sink, &err);
    if (close(fd) < 0 && rc == 0)
        rc = error_errno(&err, errno, "cannot write %s", path);
    if (rc < 0) {
        unlink(path);
        record_failure(r, path, err.msg);
        return;
    }
    r->progress->files++;
    set_metadata(r, path, n);
}

/* Returns -1 only for failures that stop the whole restore. */
static int restore_node(struct restorer *r, const struct node *n, const char *path, struct error *err)
{
    switch (n->type) {
    case NODE_DIR: {
        struct stat st;
        if (mkdir(path, 0700) < 0 && !(errno == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
            record_failure(r, path, strerror(errno));
            return 0;
        }
        if (restore_tree(r, n->subtree, path, err) < 0)
            return -1;
        set_metadata(r, path, n); /* after the children, which touch its mtime */
        return 0;
    }
    case NODE_FILE:
        restore_file(r, n, path);
        return 0;
    case NODE_SYMLINK:
        unlink(path);
        if (symlink(n->target, path) < 0)
            record_failure(r, path, strerror(errno));
        else
            set_metadata(r, path, n);
        return 0;
    case NODE_FIFO:
        unlink(path);
        if (mkfifo(path, n->mode) < 0)
            record_failure(r, path, strerror(errno));
        else
            set_metadata(r, path, n);
        return 0;
    case NODE_CHARDEV:
    case NODE_BLOCKDEV:
        unlink(path);
        if (mknod(path, (n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK) | n->mode, (dev_t)n->rdev) < 0)
            record_failure(r, path, strerror(errno));
        else
            set_metadata(r, path, n);
        return 0;
    default:
        return 0; /* sockets belong to running programs */
    }
}

static int make_dirs(const char *path, struct error *err)
{
    char *copy = xstrdup(path);
    int rc = 0;
    for (char *p = copy + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0700) < 0 && errno != EEXIST)
            rc = error_errno(err, errno, "cannot create %s", copy);
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(copy);
    return rc;
}

int ops_restore(struct repo *repo, const struct snapshot *snap, const struct restore_options *opts,
                struct string_list *failures, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct restorer r = {repo, NULL, NULL, opts->progress, failures, geteuid() == 0};
    int rc = -1;
    if (make_dirs(opts->target, err) < 0)
        return -1;
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    if (repo_load_index(repo, err) < 0)
        goto out;
    r.codec = blob_codec_new(repo->config.zstd_level);
    r.reader = content_reader_new(repo, opts->workers ? opts->workers : ops_default_workers());
    opts->progress->total_bytes = snap->stats.size;
    if (opts->path) {
        struct tree holder;
        const struct node *node;
        if (find_node(repo, r.codec, snap->root, opts->path, &holder, &node, err) < 0)
            goto out;
        size_t len = strlen(opts->target) + strlen(opts->path) + 2;
        char *dest = xmalloc(len);
        snprintf(dest, len, "%s/%s", opts->target, opts->path[0] == '/' ? opts->path + 1 : opts->path);
        char *slash = strrchr(dest, '/');
        *slash = '\0';
        rc = make_dirs(dest, err);
        *slash = '/';
        if (rc == 0)
            rc = restore_node(&r, node, dest, err);
        free(dest);
        tree_free(&holder);
    } else {
        rc = restore_tree(&r, snap->root, opts->target, err);
    }
    if (rc == 0 && failures->count > 0)
        rc = error_set(err, "%zu item%s could not be restored", failures->count, failures->count == 1 ? "" : "s");
out:
    content_reader_free(r.reader);
    blob_codec_free(r.codec);
    repo_unlock(lock);
    return rc;
}

/* ---- dump ------------------------------------------------------------- */

int ops_read(struct repo *repo, const struct snapshot *snap, const char *path, unsigned workers,
             content_sink_fn sink, void *ctx, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct blob_codec *codec = NULL;
    struct content_reader *reader = NULL;
    struct tree holder = {0};
    const struct node *node = NULL;
    int rc = -1;
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    if (repo_load_index(repo, err) < 0)
        goto out;
    codec = blob_codec_new(repo->config.zstd_level);
    if (path) {
        if (find_node(repo, codec, snap->root, path, &holder, &node, err) < 0)
            goto out;
    } else {
        if (load_tree(repo, codec, snap->root, &holder, err) < 0)
            goto out;
        if (strcmp(snap->type, "stream") != 0 || holder.count != 1) {
            error_setk(err, ERR_USAGE, "snapshot is a file tree: name the file to dump (see `coffer ls`)");
            goto out;
        }
        node = &holder.nodes[0];
    }
    if (node->type != NODE_FILE) {
        error_setk(err, ERR_USAGE, "%s is not a regular file", path ? path : node->name);
        goto out;
    }
    reader = content_reader_new(repo, workers ? workers : ops_default_workers());
    rc = content_reader_copy(reader, &node->content, node->size, sink, ctx, err);
out:
    content_reader_free(reader);
    tree_free(&holder);
    blob_codec_free(codec);
    repo_unlock(lock);
    return rc;
}

int ops_dump(struct repo *repo, const struct snapshot *snap, const char *path, int fd, unsigned workers,
             struct error *err)
{
    struct fd_sink sink = {fd, "the output", NULL};
    return ops_read(repo, snap, path, workers, sink_to_fd, &sink, err);
}

/* ---- ls --------------------------------------------------------------- */

static int ls_tree(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                   const char *prefix, ls_fn fn, void *ctx, struct error *err)
{
    struct tree tree;
    if (load_tree(repo, codec, id, &tree, err) < 0)
        return -1;
    size_t len = strlen(prefix);
    char *path = xmalloc(len + NAME_MAX + 2);
    int rc = 0;
    for (size_t i = 0; i < tree.count && rc == 0; i++) {
        const struct node *n = &tree.nodes[i];
        snprintf(path, len + NAME_MAX + 2, "%s/%s", prefix, n->name);
        fn(ctx, path, n);
        if (n->type == NODE_DIR)
            rc = ls_tree(repo, codec, n->subtree, path, fn, ctx, err);
    }
    free(path);
    tree_free(&tree);
    return rc;
}

int ops_ls(struct repo *repo, const struct snapshot *snap, ls_fn fn, void *ctx, struct error *err)
{
    if (repo_load_index(repo, err) < 0)
        return -1;
    struct blob_codec *codec = blob_codec_new(repo->config.zstd_level);
    int rc = ls_tree(repo, codec, snap->root, "", fn, ctx, err);
    blob_codec_free(codec);
    return rc;
}
