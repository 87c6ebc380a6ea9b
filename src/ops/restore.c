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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/content.h"
#include "repo/blob.h"
#include "repo/lock.h"
#include "repo/tree.h"
#include "repo/walk.h"
#include "source/types.h"
#include "util/fdio.h"
#include "util/interrupt.h"

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
        if (repo_read_tree(repo, codec, current, holder, err) < 0) {
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

/* Directories are walked with a stack of frames on the heap, and every
 * entry is made relative to its directory's descriptor (mkdirat, openat,
 * ...), so neither the depth of a tree nor the length of its paths is
 * bounded by the C stack or PATH_MAX. The deepest KEEP_OPEN directories
 * keep their descriptors; above that a directory is opened again through
 * ".." of its child when the walk returns to it, and must be the same
 * directory (device and inode) it was. */
#define KEEP_OPEN 64

/* A restored file with other links: where it is, relative to the base. */
struct link_entry {
    uint64_t device;
    uint64_t inode;
    uint64_t size;
    struct content_ref content; /* a copy: a later link must have the same */
    char *path;                 /* NULL: a free slot */
};

struct link_map {
    struct link_entry *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
};

struct restorer {
    struct repo *repo;
    struct blob_codec *codec;
    struct content_reader *reader;
    struct progress *progress;
    struct string_list *failures;
    bool is_root;
    struct buf path;   /* the entry being restored, NUL-terminated, for messages */
    size_t base_len;   /* path[0, base_len) is the restore target */
    int base_fd;       /* the restore target */
    struct link_map links;
    size_t damaged;    /* failures because the repository lacks or holds damaged data the snapshot needs */
};

static void path_push(struct restorer *r, const char *name)
{
    r->path.len--; /* the NUL */
    buf_append(&r->path, "/", 1);
    buf_append(&r->path, name, strlen(name) + 1);
}

static void path_cut(struct restorer *r, size_t len)
{
    r->path.len = len + 1;
    r->path.data[len] = '\0';
}

static const char *path_now(const struct restorer *r)
{
    return (const char *)r->path.data;
}

static void record_failure(struct restorer *r, const char *why)
{
    size_t len = r->path.len + strlen(why) + 3;
    char *line = xmalloc(len);
    snprintf(line, len, "%s: %s", path_now(r), why);
    string_list_add(r->failures, line);
    free(line);
    r->progress->errors++;
}

/* A failure whose error may be the repository's: missing or damaged data
 * (ERR_NOT_FOUND, ERR_AUTH) is counted as such, so that the summary can
 * send the user to check and repair rather than to the target's disk. */
static void record_read_failure(struct restorer *r, const struct error *err)
{
    if (err->kind == ERR_NOT_FOUND || err->kind == ERR_AUTH)
        r->damaged++;
    record_failure(r, err->msg);
}

static size_t link_slot(const struct link_map *m, uint64_t device, uint64_t inode)
{
    uint64_t h = (inode ^ (device * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (size_t)(h >> 17) & (m->cap - 1);
}

static struct link_entry *link_find(struct link_map *m, uint64_t device, uint64_t inode)
{
    if (!m->cap)
        return NULL;
    for (size_t i = link_slot(m, device, inode);; i = (i + 1) & (m->cap - 1)) {
        struct link_entry *e = &m->slots[i];
        if (!e->path)
            return NULL;
        if (e->device == device && e->inode == inode)
            return e;
    }
}

/* Takes path (owned) for a node not yet in the map. */
static void link_add(struct link_map *m, const struct node *n, char *path)
{
    if ((m->count + 1) * 2 > m->cap) {
        struct link_map bigger = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof *m->slots), m->cap ? m->cap * 2 : 64, 0};
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].path) {
                size_t j = link_slot(&bigger, m->slots[i].device, m->slots[i].inode);
                while (bigger.slots[j].path)
                    j = (j + 1) & (bigger.cap - 1);
                bigger.slots[j] = m->slots[i];
                bigger.count++;
            }
        free(m->slots);
        *m = bigger;
    }
    size_t i = link_slot(m, n->device, n->inode);
    while (m->slots[i].path)
        i = (i + 1) & (m->cap - 1);
    struct link_entry *e = &m->slots[i];
    e->device = n->device;
    e->inode = n->inode;
    e->size = n->size;
    e->content.depth = n->content.depth;
    e->content.count = n->content.count;
    size_t bytes = (size_t)n->content.count * CRYPTO_ID_SIZE;
    e->content.ids = xmalloc(bytes ? bytes : 1);
    memcpy(e->content.ids, n->content.ids, bytes);
    e->path = path;
    m->count++;
}

static void link_map_free(struct link_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].path) {
            free(m->slots[i].path);
            free(m->slots[i].content.ids);
        }
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static bool is_same_content(const struct link_entry *e, const struct node *n)
{
    return e->size == n->size && e->content.depth == n->content.depth && e->content.count == n->content.count &&
           !memcmp(e->content.ids, n->content.ids, (size_t)n->content.count * CRYPTO_ID_SIZE);
}

/* Opens the directory that holds relative path rel (below base_fd), one
 * name at a time, so that rel may be longer than PATH_MAX; *name_out
 * points at rel's last name. */
static int open_parent_of(int base_fd, const char *rel, const char **name_out)
{
    int fd = dup(base_fd);
    const char *p = rel;
    for (const char *slash; fd >= 0 && (slash = strchr(p, '/')); p = slash + 1) {
        char *part = strndup(p, (size_t)(slash - p));
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        free(part);
        close(fd);
        fd = next;
    }
    *name_out = p;
    return fd;
}

/* A file that is another link to one restored already becomes a link to
 * it; true when done. */
static bool restore_as_link(struct restorer *r, int dirfd, const struct node *n)
{
    if (n->links < 2 || n->inode == 0)
        return false;
    struct link_entry *e = link_find(&r->links, n->device, n->inode);
    if (!e || !is_same_content(e, n))
        return false;
    const char *first_name;
    int first_dir = open_parent_of(r->base_fd, e->path, &first_name);
    if (first_dir < 0)
        return false;
    unlinkat(dirfd, n->name, 0);
    bool is_linked = linkat(first_dir, first_name, dirfd, n->name, 0) == 0;
    close(first_dir);
    if (is_linked) {
        r->progress->files++;
        r->progress->bytes += n->size;
        progress_update(r->progress);
    }
    return is_linked;
}

static void set_metadata(struct restorer *r, int dirfd, const struct node *n)
{
    struct timespec times[2] = {
        {n->atime_ns / 1000000000, n->atime_ns % 1000000000},
        {n->mtime_ns / 1000000000, n->mtime_ns % 1000000000},
    };
    /* Ownership only where we may change it; a failed chown is no failure
     * for an unprivileged restore. */
    if (r->is_root && fchownat(dirfd, n->name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0)
        record_failure(r, strerror(errno));
    if (n->type != NODE_SYMLINK && fchmodat(dirfd, n->name, n->mode, 0) < 0)
        record_failure(r, strerror(errno));
    utimensat(dirfd, n->name, times, AT_SYMLINK_NOFOLLOW);
}

static void restore_file(struct restorer *r, int dirfd, const struct node *n)
{
    struct error err;
    if (restore_as_link(r, dirfd, n))
        return;
    unlinkat(dirfd, n->name, 0); /* replace, never write through an existing link */
    int fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        record_failure(r, strerror(errno));
        return;
    }
    struct fd_sink sink = {fd, path_now(r), r->progress};
    int rc = content_reader_copy(r->reader, &n->content, n->size, sink_to_fd, &sink, &err);
    if (close(fd) < 0 && rc == 0)
        rc = error_errno(&err, errno, "cannot write %s", path_now(r));
    if (rc < 0) {
        unlinkat(dirfd, n->name, 0);
        record_read_failure(r, &err);
        return;
    }
    r->progress->files++;
    set_metadata(r, dirfd, n);
    if (n->links > 1 && n->inode != 0 && !link_find(&r->links, n->device, n->inode))
        link_add(&r->links, n, xstrdup(path_now(r) + r->base_len + 1));
}

/* Restores an entry that is not a directory into dirfd. */
static void restore_leaf(struct restorer *r, int dirfd, const struct node *n)
{
    int rc;
    switch (n->type) {
    case NODE_FILE:
        restore_file(r, dirfd, n);
        return;
    case NODE_SYMLINK:
        unlinkat(dirfd, n->name, 0);
        rc = symlinkat(n->target, dirfd, n->name);
        break;
    case NODE_FIFO:
        unlinkat(dirfd, n->name, 0);
        rc = mkfifoat(dirfd, n->name, n->mode);
        break;
    case NODE_CHARDEV:
    case NODE_BLOCKDEV:
        unlinkat(dirfd, n->name, 0);
        rc = mknodat(dirfd, n->name, (n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK) | n->mode, (dev_t)n->rdev);
        break;
    default:
        return; /* sockets belong to running programs */
    }
    if (rc < 0)
        record_failure(r, strerror(errno));
    else
        set_metadata(r, dirfd, n);
}

/* Creates (or takes, if it is one already) the directory of n in dirfd and
 * opens it; -1 (recorded) if that cannot be done. */
static int make_dir_at(struct restorer *r, int dirfd, const struct node *n, struct stat *st)
{
    if (mkdirat(dirfd, n->name, 0700) < 0 &&
        !(errno == EEXIST && fstatat(dirfd, n->name, st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st->st_mode))) {
        record_failure(r, strerror(errno));
        return -1;
    }
    int fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) < 0) {
        record_failure(r, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

struct restore_frame {
    struct tree tree;
    size_t next;             /* the next node of tree to restore */
    int fd;                  /* this directory, or -1 while closed (see KEEP_OPEN) */
    dev_t device;
    ino_t inode;
    size_t path_len;         /* r->path's length at this directory */
    const struct node *self; /* its node in the frame below; NULL for the first */
};

/* Opens the directory of frame parent again from its child's descriptor. */
static int reopen_parent(struct restorer *r, struct restore_frame *child, struct restore_frame *parent,
                         struct error *err)
{
    int fd = dir_reopen_parent(child->fd, parent->device, parent->inode);
    if (fd < 0 && errno == ESTALE)
        return error_set(err, "a directory above %s was moved or replaced during the restore; restore again",
                         path_now(r));
    if (fd < 0)
        return error_errno(err, errno, "cannot go back up from %s", path_now(r));
    parent->fd = fd;
    return 0;
}

/* Restores the entries of tree id into the directory open as fd (taken
 * over) at r->path. Returns -1 only for failures that stop the restore. */
static int restore_walk(struct restorer *r, int fd, const uint8_t id[CRYPTO_ID_SIZE], struct error *err)
{
    struct restore_frame *frames = xcalloc(16, sizeof *frames);
    size_t depth = 1, cap = 16;
    struct stat st;
    int rc = 0;
    frames[0].fd = fd;
    frames[0].path_len = r->path.len - 1;
    if (fstat(fd, &st) == 0) {
        frames[0].device = st.st_dev;
        frames[0].inode = st.st_ino;
    }
    if (repo_read_tree(r->repo, r->codec, id, &frames[0].tree, err) < 0) {
        record_read_failure(r, err);
        close(fd);
        depth = 0;
    }
    while (depth > 0) {
        if ((rc = interrupt_check(err)) < 0)
            break; /* the file being written was removed; what is written stays */
        struct restore_frame *top = &frames[depth - 1];
        if (top->next == top->tree.count) {
            if (depth > 1) {
                struct restore_frame *parent = &frames[depth - 2];
                if (parent->fd < 0 && (rc = reopen_parent(r, top, parent, err)) < 0)
                    break;
                set_metadata(r, parent->fd, top->self); /* after the children, which touch its mtime */
            }
            close(top->fd);
            tree_free(&top->tree);
            depth--;
            if (depth > 0)
                path_cut(r, frames[depth - 1].path_len);
            continue;
        }
        const struct node *n = &top->tree.nodes[top->next++];
        path_push(r, n->name);
        if (n->type != NODE_DIR) {
            restore_leaf(r, top->fd, n);
            path_cut(r, top->path_len);
            continue;
        }
        int child_fd = make_dir_at(r, top->fd, n, &st);
        if (child_fd < 0) {
            path_cut(r, top->path_len);
            continue;
        }
        struct tree tree;
        if (repo_read_tree(r->repo, r->codec, n->subtree, &tree, err) < 0) {
            record_read_failure(r, err);
            close(child_fd);
            set_metadata(r, top->fd, n);
            path_cut(r, top->path_len);
            continue;
        }
        if (depth == cap) {
            cap *= 2;
            frames = xrealloc(frames, cap * sizeof *frames);
            top = &frames[depth - 1];
        }
        if (depth > KEEP_OPEN) {
            close(top->fd);
            top->fd = -1;
        }
        struct restore_frame *f = &frames[depth++];
        memset(f, 0, sizeof *f);
        f->tree = tree;
        f->fd = child_fd;
        f->device = st.st_dev;
        f->inode = st.st_ino;
        f->path_len = r->path.len - 1;
        f->self = n;
    }
    while (depth > 0) {
        struct restore_frame *f = &frames[--depth];
        if (f->fd >= 0)
            close(f->fd);
        tree_free(&f->tree);
    }
    free(frames);
    return rc;
}

/* Restores node n into the directory dirfd, as r->path. */
static int restore_one(struct restorer *r, int dirfd, const struct node *n, struct error *err)
{
    if (n->type != NODE_DIR) {
        restore_leaf(r, dirfd, n);
        return 0;
    }
    struct stat st;
    int fd = make_dir_at(r, dirfd, n, &st);
    if (fd < 0)
        return 0;
    size_t len = r->path.len - 1;
    int rc = restore_walk(r, fd, n->subtree, err);
    path_cut(r, len);
    if (rc == 0)
        set_metadata(r, dirfd, n);
    return rc;
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

/* Restores the entry at opts->path (found as node) below the target:
 * the directories leading to it are made one name at a time. */
static int restore_path(struct restorer *r, const char *path, const struct node *node, struct error *err)
{
    char *copy = xstrdup(path), *save = NULL;
    int fd = dup(r->base_fd), rc = 0;
    char *part = strtok_r(copy, "/", &save);
    for (char *next; fd >= 0 && part && (next = strtok_r(NULL, "/", &save)); part = next) {
        path_push(r, part);
        if (mkdirat(fd, part, 0700) < 0 && errno != EEXIST)
            rc = error_errno(err, errno, "cannot create %s", path_now(r));
        int sub = rc == 0 ? openat(fd, part, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (rc == 0 && sub < 0)
            rc = error_errno(err, errno, "cannot open %s", path_now(r));
        close(fd);
        fd = sub;
    }
    if (fd < 0 && rc == 0)
        rc = error_errno(err, errno, "cannot open %s", path_now(r));
    if (rc == 0) {
        path_push(r, node->name);
        rc = restore_one(r, fd, node, err);
    }
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

/* A target that is there and holds anything (or is no directory). */
static int refuse_non_empty(const char *target, struct error *err)
{
    DIR *dir = opendir(target);
    if (!dir) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR)
            return error_setk(err, ERR_USAGE, "%s is not a directory: give a directory to restore into", target);
        return error_errno(err, errno, "cannot open %s", target);
    }
    bool is_empty = true;
    for (struct dirent *e; is_empty && (e = readdir(dir));)
        is_empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(dir);
    if (is_empty)
        return 0;
    return error_setk(err, ERR_USAGE, "%s is not empty: restoring there replaces its files of the same names; add "
                      "--overwrite to do that, or restore into a new directory (--dry-run lists what would be "
                      "written)", target);
}

int ops_restore(struct repo *repo, const struct snapshot *snap, const struct restore_options *opts,
                struct string_list *failures, struct error *err)
{
    struct repo_lock *lock = NULL;
    struct restorer r = {repo, NULL, NULL, opts->progress, failures, geteuid() == 0, BUF_INIT, 0, -1, {0}, 0};
    int rc = -1;
    if (!opts->is_overwrite && refuse_non_empty(opts->target, err) < 0)
        return -1;
    if (make_dirs(opts->target, err) < 0)
        return -1;
    r.base_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r.base_fd < 0)
        return error_errno(err, errno, "cannot open %s", opts->target);
    buf_append(&r.path, opts->target, strlen(opts->target) + 1);
    while (r.path.len > 2 && r.path.data[r.path.len - 2] == '/')
        path_cut(&r, r.path.len - 2); /* "out/" restores as "out/srv", not "out//srv" */
    r.base_len = r.path.len - 1;
    if (repo_lock(repo, false, &lock, err) < 0)
        goto out;
    if (repo_load_index(repo, err) < 0)
        goto out;
    r.codec = repo_blob_codec_new(repo);
    r.reader = content_reader_new(repo, opts->workers ? opts->workers : ops_default_workers());
    opts->progress->total_bytes = snap->stats.size;
    if (opts->path) {
        struct tree holder;
        const struct node *node;
        if (find_node(repo, r.codec, snap->root, opts->path, &holder, &node, err) < 0)
            goto out;
        rc = restore_path(&r, opts->path, node, err);
        tree_free(&holder);
    } else {
        rc = restore_walk(&r, dup(r.base_fd), snap->root, err);
    }
    if (rc == 0 && failures->count > 0 && r.damaged > 0)
        rc = error_set(err, "%zu item%s could not be restored, %zu because the repository lacks or holds damaged "
                       "data the snapshot needs: run `coffer check --read-data` (it records the damage), then "
                       "`coffer repair packs`", failures->count, failures->count == 1 ? "" : "s", r.damaged);
    else if (rc == 0 && failures->count > 0)
        rc = error_set(err, "%zu item%s could not be restored", failures->count, failures->count == 1 ? "" : "s");
    if (rc < 0 && interrupt_signal()) {
        struct error stop;
        interrupt_check(&stop);
        error_setk(err, ERR_INTERRUPTED, "%s: the restore into %s is incomplete (%llu files written)", stop.msg,
                   opts->target, (unsigned long long)opts->progress->files);
    }
out:
    content_reader_free(r.reader);
    blob_codec_free(r.codec);
    repo_unlock(lock);
    close(r.base_fd);
    buf_free(&r.path);
    link_map_free(&r.links);
    return rc;
}

/* ---- dump ------------------------------------------------------------- */

/* What `dump` prints without a path (source_type's main_stream), among
 * the nodes at the top of the snapshot; NULL if nothing is. */
static const struct node *main_stream(const struct snapshot *snap, const struct tree *top)
{
    const struct source_type *kind = source_type_find(snap->type);
    for (size_t i = 0; kind && kind->main_stream && i < top->count; i++)
        if (!strcmp(top->nodes[i].name, kind->main_stream))
            return &top->nodes[i];
    if (kind && !kind->main_stream && !kind->is_tree && top->count == 1)
        return &top->nodes[0];
    return NULL;
}

struct some_files {
    struct string_list paths;
    size_t count;
};

static int note_file(void *ctx, const char *path, const struct node *node, struct error *err)
{
    (void)err;
    struct some_files *some = ctx;
    if (node->type == NODE_FILE && some->count++ < 5)
        string_list_add(&some->paths, path);
    return 0;
}

/* The "name the file" error, with the first files the snapshot holds. */
static int refuse_without_path(struct repo *repo, struct blob_codec *codec, const struct snapshot *snap,
                               struct error *err)
{
    struct some_files some = {{0}, 0};
    struct error ignored;
    repo_walk_tree(repo, codec, snap->root, note_file, &some, &ignored);
    char held[ERROR_MSG_MAX / 2];
    string_list_join(&some.paths, held, sizeof held);
    string_list_free(&some.paths);
    char hex[65];
    snapshot_id_hex(snap, hex);
    return error_setk(err, ERR_USAGE, "snapshot %.8s of %s holds %zu file%s: name the one to dump, e.g. `coffer dump "
                      "%.8s PATH` (%s%s; `coffer ls %.8s` lists them all)", hex, snap->source, some.count,
                      some.count == 1 ? "" : "s", hex, held[0] ? held : "none", some.count > 5 ? ", ..." : "", hex);
}

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
    codec = repo_blob_codec_new(repo);
    if (path) {
        if (find_node(repo, codec, snap->root, path, &holder, &node, err) < 0)
            goto out;
    } else {
        if (repo_read_tree(repo, codec, snap->root, &holder, err) < 0)
            goto out;
        if (!(node = main_stream(snap, &holder))) {
            refuse_without_path(repo, codec, snap, err);
            goto out;
        }
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

struct each_file {
    ops_file_fn fn;
    void *ctx;
    struct content_reader *reader;
};

static int visit_file(void *arg, const char *path, const struct node *node, struct error *err)
{
    struct each_file *each = arg;
    return node->type == NODE_FILE ? each->fn(each->ctx, path, node, each->reader, err) : 0;
}

int ops_each_file(struct repo *repo, const struct snapshot *snap, unsigned workers, ops_file_fn fn, void *ctx,
                  struct error *err)
{
    struct repo_lock *lock = NULL;
    if (repo_lock(repo, false, &lock, err) < 0)
        return -1;
    int rc = repo_load_index(repo, err);
    struct blob_codec *codec = repo_blob_codec_new(repo);
    struct each_file each = {fn, ctx, content_reader_new(repo, workers ? workers : ops_default_workers())};
    if (rc == 0)
        rc = repo_walk_tree(repo, codec, snap->root, visit_file, &each, err);
    content_reader_free(each.reader);
    blob_codec_free(codec);
    repo_unlock(lock);
    return rc;
}

int ops_restore_file(struct repo *repo, const struct snapshot *snap, const char *name, const char *path,
                     unsigned workers, struct error *err)
{
    size_t len = strlen(path) + 16;
    char *tmp = xmalloc(len);
    snprintf(tmp, len, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        error_errno(err, errno, "cannot create %s", tmp);
        free(tmp);
        return -1;
    }
    int rc = ops_dump(repo, snap, name, fd, workers, err);
    if (rc == 0 && (fchmod(fd, 0600) < 0 || fsync(fd) < 0))
        rc = error_errno(err, errno, "cannot write %s", tmp);
    if (close(fd) < 0 && rc == 0)
        rc = error_errno(err, errno, "cannot write %s", tmp);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = error_errno(err, errno, "cannot rename %s to %s", tmp, path);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int ops_find_restore_target(const struct snapshot *snap, const char *target, const struct source_target **out,
                            struct error *err)
{
    const struct source_type *kind = source_type_find(snap->type);
    *out = kind ? source_target_find(kind, target) : NULL;
    if (*out || !strstr(target, "://"))
        return 0;
    char known[256] = "";
    size_t used = 0;
    for (size_t i = 0; kind && i < SOURCE_TARGETS_MAX && kind->targets[i].matches; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, ", or %s", kind->targets[i].what);
    return error_setk(err, ERR_USAGE, "snapshot of source %s holds %s, which does not restore to %.*s...: give a "
                      "directory%s", snap->source, snap->type, (int)(strstr(target, "://") - target + 3), target, known);
}
