/*
 * files.c — the file-tree source.
 *
 * Walks the given paths depth-first, in name order, and writes one tree
 * blob per directory (children before parents). A regular file whose size,
 * mtime, ctime and inode equal those of the same path in the parent
 * snapshot reuses the parent's content list without being opened, which is
 * what makes a second backup of an unchanged tree cost little more than a
 * walk. Files that cannot be read, or that change while read, become
 * warnings in the snapshot rather than failures: a backup of everything
 * else is worth more than no backup.
 */
#include "source/exclude.h"
#include "source/source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct walk {
    struct backup_ctx *ctx;
    struct content_writer content;
    uint64_t bytes_before_file; /* progress offset of the file being read */
    const struct exclude *exclude;
};

enum { ENTRY_DONE = 0, ENTRY_SKIPPED = 1, ENTRY_EXCLUDED = 2 };

static void warn(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct walk *w, const char *fmt, ...)
{
    char text[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    string_list_add(w->ctx->warnings, text);
    w->ctx->progress->errors++;
}

char *path_absolute(const char *path)
{
    char cwd[PATH_MAX] = "";
    size_t cap = strlen(path) + PATH_MAX + 2;
    char *joined = xmalloc(cap), *out = xmalloc(cap);
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        strcpy(cwd, "/");
    snprintf(joined, cap, "%s/%s", cwd, path);
    size_t len = 0;
    char *save = NULL;
    for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            continue;
        }
        out[len++] = '/';
        size_t n = strlen(part);
        memcpy(out + len, part, n);
        len += n;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    free(joined);
    return out;
}

static int64_t ns_of(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fill_metadata(struct node *n, const struct stat *st)
{
    n->mode = st->st_mode & 07777;
    n->uid = st->st_uid;
    n->gid = st->st_gid;
    n->mtime_ns = ns_of(st->st_mtim);
    n->atime_ns = ns_of(st->st_atim);
    n->ctime_ns = ns_of(st->st_ctim);
    n->inode = st->st_ino;
    n->device = st->st_dev;
    n->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
}

static bool is_unchanged(const struct node *old, const struct node *now)
{
    return old && old->type == NODE_FILE && old->size == now->size && old->mtime_ns == now->mtime_ns &&
           old->ctime_ns == now->ctime_ns && old->inode == now->inode;
}

static void file_progress(void *arg, uint64_t bytes)
{
    struct walk *w = arg;
    w->ctx->progress->bytes = w->bytes_before_file + bytes;
    progress_update(w->ctx->progress);
}

static int backup_dir(struct walk *w, const char *path, const uint8_t *old_subtree, uint8_t subtree_out[CRYPTO_ID_SIZE],
                      struct error *err);

static int open_for_reading(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

static int backup_file(struct walk *w, const char *path, const struct stat *st, const struct node *old,
                       struct node *out, struct error *err)
{
    struct progress *p = w->ctx->progress;
    if (!w->ctx->is_force && is_unchanged(old, out)) {
        out->content.depth = old->content.depth;
        out->content.count = old->content.count;
        size_t bytes = (size_t)old->content.count * CRYPTO_ID_SIZE;
        out->content.ids = xmalloc(bytes ? bytes : 1);
        memcpy(out->content.ids, old->content.ids, bytes);
        w->ctx->stats->files_unchanged++;
        w->ctx->stats->files++;
        w->ctx->stats->size += out->size;
        p->bytes += out->size;
        p->files++;
        progress_update(p);
        return ENTRY_DONE;
    }
    int fd = open_for_reading(path);
    if (fd < 0) {
        warn(w, "cannot read %s: %s (skipped)", path, strerror(errno));
        return ENTRY_SKIPPED;
    }
    w->bytes_before_file = p->bytes;
    struct error read_err;
    struct stat after;
    int rc = content_writer_read_fd(&w->content, fd, file_progress, w, &read_err);
    int fstat_rc = fstat(fd, &after);
    close(fd);
    uint64_t size;
    if (content_writer_finish(&w->content, &out->content, &size, err) < 0)
        return -1;
    if (rc < 0) {
        /* A read error part-way (EIO): what was read is stored, but the
         * file is not listed as backed up. */
        warn(w, "cannot read %s: %s (skipped)", path, read_err.msg);
        content_ref_free(&out->content);
        return ENTRY_SKIPPED;
    }
    if (fstat_rc == 0 && (after.st_size != st->st_size || ns_of(after.st_mtim) != ns_of(st->st_mtim) ||
                          ns_of(after.st_ctim) != ns_of(st->st_ctim) || size != (uint64_t)st->st_size))
        warn(w, "%s changed while it was read (the snapshot holds %llu bytes as read)", path,
             (unsigned long long)size);
    /* Keep the metadata seen before reading: if the file changed, the next
     * backup sees a different mtime and reads it again. */
    out->size = size;
    w->ctx->stats->files++;
    w->ctx->stats->size += size;
    p->bytes = w->bytes_before_file + size;
    p->files++;
    return ENTRY_DONE;
}

/* Fills out for the entry at path; ENTRY_SKIPPED (with a warning) when it
 * cannot be read at all. */
static int backup_entry(struct walk *w, const char *path, const char *name, const struct node *old,
                        struct node *out, struct error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        warn(w, "cannot stat %s: %s (skipped)", path, strerror(errno));
        return ENTRY_SKIPPED;
    }
    if (exclude_matches(w->exclude, path, S_ISDIR(st.st_mode)))
        return ENTRY_EXCLUDED;
    out->name = xstrdup(name);
    fill_metadata(out, &st);
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        out->type = NODE_FILE;
        return backup_file(w, path, &st, old, out, err);
    case S_IFDIR:
        out->type = NODE_DIR;
        return backup_dir(w, path, old && old->type == NODE_DIR ? old->subtree : NULL, out->subtree, err);
    case S_IFLNK: {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0) {
            warn(w, "cannot read link %s: %s (skipped)", path, strerror(errno));
            return ENTRY_SKIPPED;
        }
        target[n] = '\0';
        out->type = NODE_SYMLINK;
        out->target = xstrdup(target);
        return ENTRY_DONE;
    }
    case S_IFIFO: out->type = NODE_FIFO; return ENTRY_DONE;
    case S_IFSOCK: out->type = NODE_SOCKET; return ENTRY_DONE;
    case S_IFCHR: out->type = NODE_CHARDEV; out->rdev = st.st_rdev; return ENTRY_DONE;
    case S_IFBLK: out->type = NODE_BLOCKDEV; out->rdev = st.st_rdev; return ENTRY_DONE;
    }
    warn(w, "%s has an unknown file type (skipped)", path);
    return ENTRY_SKIPPED;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a directory's names, sorted; NULL (with a warning) if unreadable. */
static char **read_names(struct walk *w, const char *path, size_t *count)
{
    DIR *d = opendir(path);
    if (!d) {
        warn(w, "cannot read directory %s: %s (stored empty)", path, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;
}

/* Loads the parent's tree for a directory; an unreadable one just means
 * every file is read again. */
static bool load_old_tree(struct walk *w, const uint8_t *id, struct tree *tree)
{
    struct buf raw = BUF_INIT;
    struct error ignored;
    bool is_loaded = id && repo_read_blob(w->ctx->repo, w->ctx->codec, id, &raw, &ignored) == 0 &&
                     tree_decode(raw.data, raw.len, tree, &ignored) == 0;
    buf_free(&raw);
    return is_loaded;
}

static int store_tree(struct walk *w, struct tree *tree, uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    struct buf encoded = BUF_INIT;
    tree_sort(tree);
    tree_encode(tree, &encoded);
    int rc = blob_writer_add(w->ctx->blobs, BLOB_TREE, encoded.data, encoded.len, id_out, err);
    buf_free(&encoded);
    w->ctx->stats->dirs++;
    return rc;
}

static int backup_dir(struct walk *w, const char *path, const uint8_t *old_subtree, uint8_t subtree_out[CRYPTO_ID_SIZE],
                      struct error *err)
{
    struct tree old = {0}, tree = {0};
    bool has_old = load_old_tree(w, old_subtree, &old);
    size_t count = 0;
    char **names = read_names(w, path, &count);
    int rc = 0;
    size_t path_len = strlen(path);
    char *child = xmalloc(path_len + 2 + NAME_MAX + 1);
    for (size_t i = 0; i < count && rc >= 0; i++) {
        snprintf(child, path_len + 2 + NAME_MAX + 1, "%s/%s", strcmp(path, "/") ? path : "", names[i]);
        struct node *n = tree_add(&tree);
        rc = backup_entry(w, child, names[i], has_old ? tree_find(&old, names[i]) : NULL, n, err);
        if (rc != ENTRY_DONE) {
            node_free(n);
            tree.count--;
        }
    }
    free(child);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (rc >= 0)
        rc = store_tree(w, &tree, subtree_out, err);
    tree_free(&tree);
    tree_free(&old);
    return rc < 0 ? -1 : 0;
}

/* Builds the directories leading to the given paths ("srv" for
 * /srv/uploads and /srv/logs) and backs up each path below them. paths are
 * sorted, absolute, and none lies inside another. prefix is "" at the root. */
static int backup_ancestors(struct walk *w, const char *prefix, char *const *paths, size_t count,
                            const uint8_t *old_id, uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    struct tree old = {0}, tree = {0};
    bool has_old = load_old_tree(w, old_id, &old);
    size_t prefix_len = strlen(prefix);
    int rc = 0;
    for (size_t i = 0; i < count && rc >= 0;) {
        /* The group of paths sharing the next component after prefix. */
        const char *component = paths[i] + prefix_len + 1;
        size_t comp_len = strcspn(component, "/");
        size_t j = i + 1;
        while (j < count && strncmp(paths[j] + prefix_len + 1, component, comp_len) == 0 &&
               (paths[j][prefix_len + 1 + comp_len] == '/' || paths[j][prefix_len + 1 + comp_len] == '\0'))
            j++;
        char *name = strndup(component, comp_len);
        char *child = strndup(paths[i], prefix_len + 1 + comp_len);
        const struct node *old_node = has_old ? tree_find(&old, name) : NULL;
        struct node *n = tree_add(&tree);
        if (component[comp_len] == '\0') {
            rc = backup_entry(w, child, name, old_node, n, err);
        } else {
            struct stat st;
            if (lstat(child, &st) < 0) {
                rc = error_errno(err, errno, "cannot read %s", child);
            } else {
                n->name = xstrdup(name);
                n->type = NODE_DIR;
                fill_metadata(n, &st);
                rc = backup_ancestors(w, child, paths + i, j - i,
                                      old_node && old_node->type == NODE_DIR ? old_node->subtree : NULL,
                                      n->subtree, err);
            }
        }
        if (rc != ENTRY_DONE) {
            node_free(n);
            tree.count--;
        }
        free(name);
        free(child);
        i = j;
    }
    if (rc >= 0)
        rc = store_tree(w, &tree, id_out, err);
    tree_free(&tree);
    tree_free(&old);
    return rc < 0 ? -1 : 0;
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int files_backup(struct backup_ctx *ctx, char *const *paths, size_t count, const struct exclude *exclude,
                 const uint8_t *parent_root, uint8_t root_out[CRYPTO_ID_SIZE], struct error *err)
{
    struct walk w = {ctx, {0}, 0, exclude};
    char **clean = xcalloc(count, sizeof *clean);
    size_t kept = 0;
    bool has_root = false;
    for (size_t i = 0; i < count; i++) {
        clean[i] = path_absolute(paths[i]);
        if (strcmp(clean[i], "/") == 0)
            has_root = true;
    }
    qsort(clean, count, sizeof *clean, compare_paths);
    /* Drop duplicates and paths inside another given path. */
    for (size_t i = 0; i < count; i++) {
        size_t n = kept ? strlen(clean[kept - 1]) : 0;
        if (kept && strncmp(clean[i], clean[kept - 1], n) == 0 && (clean[i][n] == '/' || clean[i][n] == '\0')) {
            free(clean[i]);
            continue;
        }
        clean[kept++] = clean[i];
    }
    content_writer_init(&w.content, ctx->blobs, &ctx->repo->file_chunker);
    int rc;
    if (has_root)
        rc = backup_dir(&w, "/", parent_root, root_out, err);
    else
        rc = backup_ancestors(&w, "", clean, kept, parent_root, root_out, err);
    content_writer_free(&w.content);
    for (size_t i = 0; i < kept; i++)
        free(clean[i]);
    free(clean);
    return rc;
}
