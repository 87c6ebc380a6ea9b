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
 *
 * The walk keeps a stack of directory frames on the heap instead of
 * recursing, and reaches every entry relative to its directory's
 * descriptor (openat, fstatat, readlinkat), so a tree 10,000 levels deep,
 * or paths longer than PATH_MAX, back up like any other (see walk_tree).
 *
 * A file with several links (st_nlink > 1) is read once: later paths of the
 * same (device, inode) take the content of the first, and the node keeps
 * the link count, which is how restore knows to link them again.
 */
#include "source/exclude.h"
#include "source/source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "repo/blob.h"
#include "util/fdio.h"

/* A file with other links, read already: its content for the next path. */
struct seen_link {
    uint64_t device;
    uint64_t inode; /* 0: a free slot (no file has inode 0) */
    uint64_t size;
    struct content_ref content;
};

struct walk {
    struct backup_ctx *ctx;
    struct content_writer content;
    uint64_t bytes_before_file; /* progress offset of the file being read */
    const struct exclude *exclude;
    struct buf path;            /* the entry being backed up, NUL-terminated */
    struct seen_link *links;    /* open addressing; cap a power of two or 0 */
    size_t link_cap;
    size_t link_count;
};

enum { ENTRY_DONE = 0, ENTRY_SKIPPED = 1, ENTRY_EXCLUDED = 2, ENTRY_DIR = 3 };

/* The deepest directories keep their descriptors; above, a directory is
 * reopened through ".." when the walk returns to it (see walk_tree). */
#define KEEP_OPEN 64

#define warn(w, ...) backup_warn((w)->ctx, __VA_ARGS__)

static const char *path_now(const struct walk *w)
{
    return (const char *)w->path.data;
}

static void path_set(struct walk *w, const char *path)
{
    buf_reset(&w->path);
    buf_append(&w->path, path, strlen(path) + 1);
}

static void path_push(struct walk *w, const char *name)
{
    w->path.len--; /* the NUL */
    if (w->path.len == 0 || w->path.data[w->path.len - 1] != '/')
        buf_append(&w->path, "/", 1);
    buf_append(&w->path, name, strlen(name) + 1);
}

static void path_cut(struct walk *w, size_t len)
{
    w->path.len = len + 1;
    w->path.data[len] = '\0';
}

static size_t link_slot(size_t cap, uint64_t device, uint64_t inode)
{
    uint64_t h = (inode ^ (device * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (size_t)(h >> 17) & (cap - 1);
}

static struct seen_link *link_find(struct walk *w, uint64_t device, uint64_t inode)
{
    if (!w->link_cap)
        return NULL;
    for (size_t i = link_slot(w->link_cap, device, inode);; i = (i + 1) & (w->link_cap - 1)) {
        struct seen_link *l = &w->links[i];
        if (l->inode == 0)
            return NULL;
        if (l->device == device && l->inode == inode)
            return l;
    }
}

static void link_put(struct walk *w, const struct seen_link *from)
{
    size_t i = link_slot(w->link_cap, from->device, from->inode);
    while (w->links[i].inode != 0)
        i = (i + 1) & (w->link_cap - 1);
    w->links[i] = *from;
    w->link_count++;
}

/* Remembers the content of a file with other links, read or reused. */
static void link_remember(struct walk *w, const struct stat *st, const struct node *n)
{
    if (st->st_nlink < 2 || st->st_ino == 0 || link_find(w, n->device, n->inode))
        return;
    if ((w->link_count + 1) * 2 > w->link_cap) {
        struct seen_link *old = w->links;
        size_t old_cap = w->link_cap;
        w->link_cap = old_cap ? old_cap * 2 : 64;
        w->links = xcalloc(w->link_cap, sizeof *w->links);
        w->link_count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].inode != 0)
                link_put(w, &old[i]);
        free(old);
    }
    struct seen_link l = {n->device, n->inode, n->size, {n->content.depth, n->content.count, NULL}};
    size_t bytes = (size_t)n->content.count * CRYPTO_ID_SIZE;
    l.content.ids = xmalloc(bytes ? bytes : 1);
    memcpy(l.content.ids, n->content.ids, bytes);
    link_put(w, &l);
}

static void links_free(struct walk *w)
{
    for (size_t i = 0; i < w->link_cap; i++)
        if (w->links[i].inode != 0)
            free(w->links[i].content.ids);
    free(w->links);
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
    n->links = S_ISREG(st->st_mode) ? (uint32_t)(st->st_nlink > UINT32_MAX ? UINT32_MAX : st->st_nlink) : 0;
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

static int open_for_reading(int dirfd, const char *at)
{
    int fd = openat(dirfd, at, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
        fd = openat(dirfd, at, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

static void count_file(struct walk *w, const struct node *n)
{
    struct progress *p = w->ctx->progress;
    w->ctx->stats->files++;
    w->ctx->stats->size += n->size;
    p->bytes += n->size;
    p->files++;
    progress_update(p);
}

/* The regular file at (dirfd, at), whose path is w->path. */
static int backup_file(struct walk *w, int dirfd, const char *at, const struct stat *st, const struct node *old,
                       struct node *out, struct error *err)
{
    struct progress *p = w->ctx->progress;
    if (!w->ctx->is_force && is_unchanged(old, out) && content_is_reusable(w->ctx->repo, w->ctx->codec, &old->content)) {
        content_ref_copy(&out->content, &old->content);
        w->ctx->stats->files_unchanged++;
        count_file(w, out);
        link_remember(w, st, out);
        return ENTRY_DONE;
    }
    const struct seen_link *link = st->st_nlink > 1 ? link_find(w, out->device, out->inode) : NULL;
    if (link) { /* another path of a file read already: the same bytes */
        content_ref_copy(&out->content, &link->content);
        out->size = link->size;
        count_file(w, out);
        return ENTRY_DONE;
    }
    int fd = open_for_reading(dirfd, at);
    if (fd < 0) {
        warn(w, "cannot read %s: %s (skipped)", path_now(w), strerror(errno));
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
        warn(w, "cannot read %s: %s (skipped)", path_now(w), read_err.msg);
        content_ref_free(&out->content);
        return ENTRY_SKIPPED;
    }
    if (fstat_rc == 0 && (after.st_size != st->st_size || ns_of(after.st_mtim) != ns_of(st->st_mtim) ||
                          ns_of(after.st_ctim) != ns_of(st->st_ctim) || size != (uint64_t)st->st_size))
        warn(w, "%s changed while it was read (the snapshot holds %llu bytes as read)", path_now(w),
             (unsigned long long)size);
    /* Keep the metadata seen before reading: if the file changed, the next
     * backup sees a different mtime and reads it again. */
    out->size = size;
    w->ctx->stats->files++;
    w->ctx->stats->size += size;
    p->bytes = w->bytes_before_file + size;
    p->files++;
    link_remember(w, st, out);
    return ENTRY_DONE;
}

/* Fills out for the entry at (dirfd, at), whose path is w->path and whose
 * name is name; ENTRY_SKIPPED (with a warning) when it cannot be read at
 * all or its name cannot be stored, ENTRY_DIR (with *st) for a directory,
 * whose entries the caller walks. */
static int backup_entry(struct walk *w, int dirfd, const char *at, const char *name, const struct node *old,
                        struct node *out, struct stat *st, struct error *err)
{
    if (fstatat(dirfd, at, st, AT_SYMLINK_NOFOLLOW) < 0) {
        warn(w, "cannot stat %s: %s (skipped)", path_now(w), strerror(errno));
        return ENTRY_SKIPPED;
    }
    if (exclude_matches(w->exclude, path_now(w), S_ISDIR(st->st_mode)))
        return ENTRY_EXCLUDED;
    const char *why = tree_name_problem(name, TREE_NAME_MAX);
    if (why) {
        warn(w, "%s: the name %s, which a snapshot cannot hold (skipped)", path_now(w), why);
        return ENTRY_SKIPPED;
    }
    out->name = xstrdup(name);
    fill_metadata(out, st);
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:
        out->type = NODE_FILE;
        return backup_file(w, dirfd, at, st, old, out, err);
    case S_IFDIR:
        out->type = NODE_DIR;
        return ENTRY_DIR;
    case S_IFLNK: {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dirfd, at, target, sizeof target - 1);
        if (n < 0) {
            warn(w, "cannot read link %s: %s (skipped)", path_now(w), strerror(errno));
            return ENTRY_SKIPPED;
        }
        target[n] = '\0';
        out->type = NODE_SYMLINK;
        out->target = xstrdup(target);
        return ENTRY_DONE;
    }
    case S_IFIFO: out->type = NODE_FIFO; return ENTRY_DONE;
    case S_IFSOCK: out->type = NODE_SOCKET; return ENTRY_DONE;
    case S_IFCHR: out->type = NODE_CHARDEV; out->rdev = st->st_rdev; return ENTRY_DONE;
    case S_IFBLK: out->type = NODE_BLOCKDEV; out->rdev = st->st_rdev; return ENTRY_DONE;
    }
    warn(w, "%s has an unknown file type (skipped)", path_now(w));
    return ENTRY_SKIPPED;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the names of the directory open as fd (w->path), sorted; NULL
 * (with a warning) if unreadable. */
static char **read_names(struct walk *w, int fd, size_t *count)
{
    int own = dup(fd);
    DIR *d = own >= 0 ? fdopendir(own) : NULL;
    if (!d) {
        warn(w, "cannot read directory %s: %s (stored empty)", path_now(w), strerror(errno));
        if (own >= 0)
            close(own);
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

struct dir_frame {
    struct tree tree;   /* being built */
    struct tree old;    /* the parent snapshot's, if has_old */
    bool has_old;
    char **names;       /* sorted */
    size_t count;
    size_t next;        /* the next of names to back up */
    int fd;             /* this directory, or -1 (unreadable, or closed: KEEP_OPEN) */
    dev_t device;
    ino_t inode;
    size_t path_len;    /* w->path's length at this directory */
};

static void frame_free(struct dir_frame *f)
{
    for (size_t i = 0; i < f->count; i++)
        free(f->names[i]);
    free(f->names);
    tree_free(&f->tree);
    tree_free(&f->old);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Starts frame f for the directory open as fd (or -1: unreadable, with
 * error the reason) at w->path. */
static void frame_start(struct walk *w, struct dir_frame *f, int fd, int error, const uint8_t *old_subtree)
{
    struct stat st;
    memset(f, 0, sizeof *f);
    f->fd = fd;
    f->path_len = w->path.len - 1;
    f->has_old = backup_load_parent_tree(w->ctx, old_subtree, &f->old);
    if (fd < 0) {
        warn(w, "cannot read directory %s: %s (stored empty)", path_now(w), strerror(error));
        return;
    }
    if (fstat(fd, &st) == 0) {
        f->device = st.st_dev;
        f->inode = st.st_ino;
    }
    f->names = read_names(w, fd, &f->count);
}

static int open_dir_at(int dirfd, const char *at)
{
    return openat(dirfd, at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Opens the directory of frame parent again, from its child's descriptor. */
static int reopen_parent(struct walk *w, const struct dir_frame *child, struct dir_frame *parent, struct error *err)
{
    int fd = dir_reopen_parent(child->fd, parent->device, parent->inode);
    if (fd < 0 && errno == ESTALE)
        return error_set(err, "a directory above %s was moved or replaced during the backup; back up again",
                         path_now(w));
    if (fd < 0)
        return error_errno(err, errno, "cannot go back up from %s", path_now(w));
    parent->fd = fd;
    return 0;
}

/* Backs up the directory at (dirfd, at), whose path is w->path, and
 * everything below it; its tree's id into id_out. Depth-first, in name
 * order, children's trees before their parent's, with a stack of frames
 * on the heap. */
static int walk_tree(struct walk *w, int dirfd, const char *at, const uint8_t *old_subtree,
                     uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    size_t depth = 1, cap = 16;
    struct dir_frame *frames = xcalloc(cap, sizeof *frames);
    int fd = open_dir_at(dirfd, at);
    frame_start(w, &frames[0], fd, errno, old_subtree);
    int rc = 0;
    while (depth > 0) {
        struct dir_frame *top = &frames[depth - 1];
        if (top->next == top->count) {
            uint8_t id[CRYPTO_ID_SIZE];
            if ((rc = backup_store_tree(w->ctx, &top->tree, id, err)) < 0)
                break;
            if (depth == 1) {
                memcpy(id_out, id, CRYPTO_ID_SIZE);
                frame_free(top);
                depth--;
                break;
            }
            struct dir_frame *parent = &frames[depth - 2];
            if (parent->fd < 0 && (rc = reopen_parent(w, top, parent, err)) < 0)
                break;
            memcpy(parent->tree.nodes[parent->tree.count - 1].subtree, id, CRYPTO_ID_SIZE);
            frame_free(top);
            depth--;
            path_cut(w, parent->path_len);
            continue;
        }
        const char *name = top->names[top->next++];
        path_push(w, name);
        const struct node *old = top->has_old ? tree_find(&top->old, name) : NULL;
        struct node *n = tree_add(&top->tree);
        struct stat st;
        int got = backup_entry(w, top->fd, name, name, old, n, &st, err);
        if (got == ENTRY_DIR) {
            if (depth == cap) {
                cap *= 2;
                frames = xrealloc(frames, cap * sizeof *frames);
                top = &frames[depth - 1];
            }
            int child = open_dir_at(top->fd, name);
            frame_start(w, &frames[depth], child, errno, old && old->type == NODE_DIR ? old->subtree : NULL);
            if (child >= 0 && depth > KEEP_OPEN) {
                close(top->fd);
                top->fd = -1;
            }
            depth++;
            continue;
        }
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got != ENTRY_DONE) {
            node_free(n);
            top->tree.count--;
        }
        path_cut(w, top->path_len);
    }
    while (depth > 0)
        frame_free(&frames[--depth]);
    free(frames);
    return rc < 0 ? -1 : 0;
}

/* Builds the directories leading to the given paths ("srv" for
 * /srv/uploads and /srv/logs) and backs up each path below them. paths are
 * sorted, absolute, and none lies inside another. prefix is "" at the root.
 * This recurses once per name of a given path, which the system keeps
 * shorter than PATH_MAX (a longer one fails to lstat): at most 2,048
 * small frames. */
static int backup_ancestors(struct walk *w, const char *prefix, char *const *paths, size_t count,
                            const uint8_t *old_id, uint8_t id_out[CRYPTO_ID_SIZE], struct error *err)
{
    struct tree old = {0}, tree = {0};
    bool has_old = backup_load_parent_tree(w->ctx, old_id, &old);
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
            struct stat st;
            path_set(w, child);
            rc = backup_entry(w, AT_FDCWD, child, name, old_node, n, &st, err);
            if (rc == ENTRY_DIR)
                rc = walk_tree(w, AT_FDCWD, child, old_node && old_node->type == NODE_DIR ? old_node->subtree : NULL,
                               n->subtree, err);
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
        rc = backup_store_tree(w->ctx, &tree, id_out, err);
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
    struct walk w = {ctx, {0}, 0, exclude, BUF_INIT, NULL, 0, 0};
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
    content_writer_init(&w.content, ctx->blobs, repo_file_chunker(ctx->repo));
    int rc;
    if (has_root) {
        path_set(&w, "/");
        rc = walk_tree(&w, AT_FDCWD, "/", parent_root, root_out, err);
    } else {
        rc = backup_ancestors(&w, "", clean, kept, parent_root, root_out, err);
    }
    content_writer_free(&w.content);
    buf_free(&w.path);
    links_free(&w);
    for (size_t i = 0; i < kept; i++)
        free(clean[i]);
    free(clean);
    return rc;
}

int files_source_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const struct files_settings *src = settings;
    for (size_t i = 0; i < src->paths.count; i++) {
        char *abs = path_absolute(src->paths.items[i]);
        string_list_add(&ctx->snapshot->paths, abs);
        free(abs);
    }
    struct exclude *exclude = NULL;
    if (src->exclude.count &&
        !(exclude = exclude_new((const char *const *)src->exclude.items, src->exclude.count, err)))
        return -1;
    int rc = files_backup(ctx, src->paths.items, src->paths.count, exclude, ctx->parent_root, ctx->snapshot->root,
                          err);
    exclude_free(exclude);
    return rc;
}

int files_probe(const void *settings, char *what, size_t size, struct error *err)
{
    return source_probe_paths(&((const struct files_settings *)settings)->paths, what, size, err);
}
