/*
 * shim.c — an LD_PRELOAD fault injector for coffer's crash-safety tests.
 *
 * It wraps the calls through which a program changes what is on disk or
 * reaches the network (write, pwrite, writev, fsync, fdatasync, rename*,
 * link*, unlink*, mkdir*, open* with O_CREAT, connect), counts them
 * process-wide, and at the k-th call of the chosen kind does what the test
 * asked: kill the process, fail the call with EIO or ENOSPC, stop the
 * process (so another can act while it is frozen), or approximate a power
 * loss by undoing everything the kernel was not told to make durable, then
 * kill. It is a test tool: nothing in coffer links it, and it trusts its
 * environment. Configuration (read once, at load; see README.md):
 *
 *   FAULT_OP       write fsync rename link unlink mkdir open connect any,
 *                  readopen (opens for reading; not part of any)
 *                  (a comma-separated list is accepted)
 *   FAULT_AT       k: act at the k-th counted call (1-based; 0 = never)
 *   FAULT_PATH     count only calls whose path (or the fd's path) contains it
 *   FAULT_ACTION   kill | torn | eio | enospc | stop | powerloss
 *   FAULT_PERSIST  1: eio/enospc fail every counted call from the k-th on
 *   FAULT_MARK     file written ("op path") when the fault fires
 *   FAULT_STASH    directory on the repository's file system where powerloss
 *                  keeps hard links to unlinked or replaced files, so that
 *                  an unsynced unlink or replacing rename can be undone
 *   FAULT_COUNT_ONLY / FAULT_COUNT_FILE  print the counts at exit (to the
 *                  file, else stderr) and inject nothing
 *
 * The power-loss model: a file's bytes are durable up to its length at its
 * last fsync/fdatasync (0 if never synced, its length at first sight if it
 * existed before), a directory entry change (create, mkdir, rename, link,
 * unlink) is durable once its directory was fsynced after it. At the fault
 * every file written since its last sync is truncated to its durable
 * length and every non-durable entry change is undone, newest first; then
 * SIGKILL. Overwrites inside the durable length are not undone. While
 * powerloss is armed every wrapped call runs under one mutex, so no other
 * thread changes the disk between the undo and the kill.
 *
 * LD_PRELOAD and the FAULT_ variables are removed from the environment at
 * load, so children the process starts run without the shim.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* OP_READ_OPEN (opens for reading) is last and apart: "any" does not include
 * it and it is counted only when chosen, so the k of every other op stays
 * what it was. It lets a test stop a command that only reads (check). */
enum fault_op { OP_WRITE, OP_FSYNC, OP_RENAME, OP_LINK, OP_UNLINK, OP_MKDIR, OP_OPEN, OP_CONNECT, OP_READ_OPEN, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"write", "fsync", "rename", "link", "unlink", "mkdir", "open", "connect",
                                               "readopen"};

enum fault_action { ACT_NONE, ACT_KILL, ACT_TORN, ACT_EIO, ACT_ENOSPC, ACT_STOP, ACT_POWERLOSS };

static struct {
    bool is_op[OP_COUNT];
    unsigned long at;
    const char *path;
    enum fault_action action;
    bool is_persistent;
    bool is_count_only;
    const char *mark;
    const char *stash;
    const char *count_file;
} cfg;

static atomic_ulong counts[OP_COUNT];
static atomic_ulong selected; /* counted calls of the chosen kinds */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* The real functions, found once at load. */
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_mkdirat)(int, const char *, mode_t);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);

static void *next_symbol(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* ------------------------------------------------------------------ durability book-keeping */

/* A file written since the shim loaded: its durable length and whether
 * bytes past it (or inside it) were written since. */
struct written_file {
    char path[PATH_MAX];
    off_t synced_len;
    bool is_dirty;
};

enum entry_kind { ENT_CREATE, ENT_MKDIR, ENT_RENAME, ENT_LINK, ENT_UNLINK };

/* A directory entry change not yet made durable by an fsync of its
 * directory. For a rename: from -> path; stash holds the replaced file. */
struct entry_change {
    enum entry_kind kind;
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char from[PATH_MAX];
    char stash[PATH_MAX]; /* "" when nothing was stashed */
};

#define MAX_FILES 8192
#define MAX_CHANGES 8192
static struct written_file *files;
static size_t file_count;
static struct entry_change *changes;
static size_t change_count;
static unsigned long stash_seq;

static void dir_of(const char *path, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, PATH_MAX, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* The absolute path of fd, or "" if /proc cannot say. */
static void fd_path(int fd, char out[PATH_MAX])
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, out, PATH_MAX - 1);
    out[n > 0 ? n : 0] = '\0';
}

/* path as seen from dirfd, made absolute when dirfd is a directory fd. */
static void at_path(int dirfd, const char *path, char out[PATH_MAX])
{
    if (!path) {
        out[0] = '\0';
        return;
    }
    if (path[0] == '/' || dirfd == AT_FDCWD) {
        if (path[0] != '/' && getcwd(out, PATH_MAX)) {
            size_t n = strlen(out);
            snprintf(out + n, PATH_MAX - n, "/%s", path);
        } else {
            snprintf(out, PATH_MAX, "%s", path);
        }
        return;
    }
    char dir[PATH_MAX];
    fd_path(dirfd, dir);
    snprintf(out, PATH_MAX, "%s/%s", dir, path);
}

/* Book-keeping covers only what FAULT_PATH names: a power cut is not
 * meant to cut the test's own log files. */
static bool is_watched(const char *path)
{
    return !cfg.path || strstr(path, cfg.path);
}

static struct written_file *file_find(const char *path)
{
    for (size_t i = 0; i < file_count; i++)
        if (strcmp(files[i].path, path) == 0)
            return &files[i];
    return NULL;
}

static struct written_file *file_track(const char *path, off_t synced_len)
{
    struct written_file *f = file_find(path);
    if (f || file_count == MAX_FILES || !is_watched(path))
        return f;
    f = &files[file_count++];
    snprintf(f->path, sizeof f->path, "%s", path);
    f->synced_len = synced_len;
    f->is_dirty = false;
    return f;
}

static void file_forget(const char *path)
{
    struct written_file *f = file_find(path);
    if (f)
        *f = files[--file_count];
}

static struct entry_change *change_add(enum entry_kind kind, const char *path)
{
    if (change_count == MAX_CHANGES || !is_watched(path))
        return NULL;
    struct entry_change *c = &changes[change_count++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    snprintf(c->path, sizeof c->path, "%s", path);
    dir_of(path, c->dir);
    return c;
}

/* Keeps a hard link to path in the stash; returns false if it cannot. */
static bool stash_keep(const char *path, char out[PATH_MAX])
{
    out[0] = '\0';
    if (!cfg.stash)
        return false;
    snprintf(out, PATH_MAX, "%s/%lu", cfg.stash, ++stash_seq);
    if (real_link(path, out) < 0) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* Before a write to fd: the file becomes dirty; first sight records its
 * current length as durable. */
static void note_write(int fd)
{
    char path[PATH_MAX];
    fd_path(fd, path);
    if (path[0] != '/')
        return;
    struct written_file *f = file_find(path);
    if (!f) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
            return;
        f = file_track(path, st.st_size);
    }
    if (f)
        f->is_dirty = true;
}

static void note_sync(int fd)
{
    char path[PATH_MAX];
    struct stat st;
    fd_path(fd, path);
    if (path[0] != '/' || fstat(fd, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        /* Every entry change in this directory is durable now. */
        size_t out = 0;
        for (size_t i = 0; i < change_count; i++)
            if (strcmp(changes[i].dir, path) != 0)
                changes[out++] = changes[i];
        change_count = out;
        return;
    }
    struct written_file *f = file_find(path);
    if (f) {
        f->synced_len = st.st_size;
        f->is_dirty = false;
    }
}

/* Before a rename from -> to: stash a file it replaces, record the change,
 * and carry the written-file record over to the new name. */
static void note_rename(const char *from, const char *to)
{
    struct entry_change *c = change_add(ENT_RENAME, to);
    if (!c)
        return;
    snprintf(c->from, sizeof c->from, "%s", from);
    struct stat st;
    if (lstat(to, &st) == 0)
        stash_keep(to, c->stash);
}

static void after_rename(const char *from, const char *to)
{
    file_forget(to);
    struct written_file *f = file_find(from);
    if (f)
        snprintf(f->path, sizeof f->path, "%s", to);
}

/* Removes path and, if it is a directory, everything below it. */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        real_unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        remove_tree(child);
    }
    closedir(d);
    rmdir(path);
}

/* Makes the process look as a power cut would have left the disk. */
static void power_cut(void)
{
    for (size_t i = 0; i < file_count; i++)
        if (files[i].is_dirty && truncate(files[i].path, files[i].synced_len) < 0)
            continue; /* best effort: the power loss is approximated */
    for (size_t i = change_count; i-- > 0;) {
        struct entry_change *c = &changes[i];
        switch (c->kind) {
        case ENT_CREATE:
        case ENT_LINK:
            real_unlink(c->path);
            break;
        case ENT_MKDIR:
            /* Its entry never reached the disk: nor did anything under it. */
            remove_tree(c->path);
            break;
        case ENT_RENAME:
            real_rename(c->path, c->from);
            if (c->stash[0])
                real_rename(c->stash, c->path);
            break;
        case ENT_UNLINK:
            if (c->stash[0])
                real_rename(c->stash, c->path);
            break;
        }
    }
}

/* ------------------------------------------------------------------ the decision */

static void write_mark(enum fault_op op, const char *path)
{
    if (!cfg.mark)
        return;
    int fd = real_open(cfg.mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[PATH_MAX + 64];
    int n = snprintf(line, sizeof line, "%s %s\n", op_names[op], path ? path : "");
    if (n > (int)sizeof line)
        n = sizeof line;
    (void)real_write(fd, line, (size_t)n);
    (void)real_fsync(fd);
    close(fd);
}

enum verdict { GO, FAIL_EIO, FAIL_ENOSPC, TORN };

static bool is_powerloss_armed(void)
{
    return cfg.action == ACT_POWERLOSS && !cfg.is_count_only;
}

/* Counts one call of op on path and says what to do with it. Runs the
 * kill, stop and power-loss actions itself. */
static enum verdict consider(enum fault_op op, const char *path)
{
    if (cfg.path && (!path || !strstr(path, cfg.path)))
        return GO;
    atomic_fetch_add(&counts[op], 1);
    if (cfg.is_count_only || !cfg.is_op[op] || cfg.at == 0)
        return GO;
    unsigned long n = atomic_fetch_add(&selected, 1) + 1;
    bool is_hit = n == cfg.at;
    if (!is_hit && !(cfg.is_persistent && n > cfg.at &&
                     (cfg.action == ACT_EIO || cfg.action == ACT_ENOSPC)))
        return GO;
    if (is_hit) {
        write_mark(op, path);
    }
    switch (cfg.action) {
    case ACT_KILL:
        raise(SIGKILL);
        return GO;
    case ACT_POWERLOSS:
        power_cut();
        raise(SIGKILL);
        return GO;
    case ACT_STOP:
        raise(SIGSTOP);
        return GO;
    case ACT_TORN:
        if (op == OP_WRITE)
            return TORN;
        raise(SIGKILL);
        return GO;
    case ACT_EIO:
        return FAIL_EIO;
    case ACT_ENOSPC:
        return FAIL_ENOSPC;
    default:
        return GO;
    }
}

static int fail_with(enum verdict v)
{
    errno = v == FAIL_ENOSPC ? ENOSPC : EIO;
    return -1;
}

/* The path of fd, only when something needs it. */
static void maybe_fd_path(int fd, char out[PATH_MAX])
{
    out[0] = '\0';
    if (cfg.path || cfg.mark || is_powerloss_armed())
        fd_path(fd, out);
}

#define LOCK_IF_ARMED() \
    bool is_locked_ = is_powerloss_armed(); \
    if (is_locked_) \
        pthread_mutex_lock(&lock)
#define UNLOCK_IF_ARMED() \
    if (is_locked_) \
        pthread_mutex_unlock(&lock)

/* ------------------------------------------------------------------ wrappers */

static ssize_t do_write(int fd, const void *data, size_t len, off_t offset, bool is_positioned,
                        ssize_t (*fn_plain)(int, const void *, size_t),
                        ssize_t (*fn_pos)(int, const void *, size_t, off_t))
{
    char path[PATH_MAX];
    maybe_fd_path(fd, path);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_WRITE, path);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    if (is_locked_)
        note_write(fd);
    size_t n = v == TORN ? len / 2 : len;
    ssize_t rc = is_positioned ? fn_pos(fd, data, n, offset) : fn_plain(fd, data, n);
    if (v == TORN)
        raise(SIGKILL);
    UNLOCK_IF_ARMED();
    return rc;
}

ssize_t write(int fd, const void *data, size_t len)
{
    return do_write(fd, data, len, 0, false, real_write, NULL);
}

ssize_t pwrite(int fd, const void *data, size_t len, off_t offset)
{
    return do_write(fd, data, len, offset, true, NULL, real_pwrite);
}

ssize_t pwrite64(int fd, const void *data, size_t len, off_t offset)
{
    return do_write(fd, data, len, offset, true, NULL, real_pwrite64 ? real_pwrite64 : real_pwrite);
}

ssize_t writev(int fd, const struct iovec *iov, int count)
{
    char path[PATH_MAX];
    maybe_fd_path(fd, path);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_WRITE, path);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    if (is_locked_)
        note_write(fd);
    ssize_t rc;
    if (v == TORN && count > 0) {
        rc = real_write(fd, iov[0].iov_base, iov[0].iov_len / 2);
        raise(SIGKILL);
    } else {
        rc = real_writev(fd, iov, count);
    }
    UNLOCK_IF_ARMED();
    return rc;
}

static int do_sync(int fd, int (*fn)(int))
{
    char path[PATH_MAX];
    maybe_fd_path(fd, path);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_FSYNC, path);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    int rc = fn(fd);
    if (rc == 0 && is_locked_)
        note_sync(fd);
    UNLOCK_IF_ARMED();
    return rc;
}

int fsync(int fd)
{
    return do_sync(fd, real_fsync);
}

int fdatasync(int fd)
{
    return do_sync(fd, real_fdatasync);
}

static int do_rename(int olddir, const char *from, int newdir, const char *to, unsigned flags, int variant)
{
    char a[PATH_MAX], b[PATH_MAX];
    at_path(olddir, from, a);
    at_path(newdir, to, b);
    LOCK_IF_ARMED();
    /* Counted by either name; the new one is what a test usually names. */
    enum verdict v = consider(OP_RENAME, cfg.path && strstr(a, cfg.path) && !strstr(b, cfg.path) ? a : b);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    if (is_locked_)
        note_rename(a, b);
    int rc;
    if (variant == 0)
        rc = real_rename(from, to);
    else if (variant == 1)
        rc = real_renameat(olddir, from, newdir, to);
    else
        rc = real_renameat2(olddir, from, newdir, to, flags);
    if (is_locked_) {
        if (rc == 0) {
            after_rename(a, b);
        } else if (change_count > 0) {
            struct entry_change *c = &changes[change_count - 1];
            if (c->kind == ENT_RENAME && strcmp(c->path, b) == 0) {
                if (c->stash[0])
                    real_unlink(c->stash);
                change_count--;
            }
        }
    }
    UNLOCK_IF_ARMED();
    return rc;
}

int rename(const char *from, const char *to)
{
    return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

int renameat(int olddir, const char *from, int newdir, const char *to)
{
    return do_rename(olddir, from, newdir, to, 0, 1);
}

int renameat2(int olddir, const char *from, int newdir, const char *to, unsigned flags)
{
    return do_rename(olddir, from, newdir, to, flags, 2);
}

static int do_link(int olddir, const char *from, int newdir, const char *to, int flags, bool is_at)
{
    char a[PATH_MAX], b[PATH_MAX];
    at_path(olddir, from, a);
    at_path(newdir, to, b);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_LINK, b);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    int rc = is_at ? real_linkat(olddir, from, newdir, to, flags) : real_link(from, to);
    if (rc == 0 && is_locked_)
        change_add(ENT_LINK, b);
    UNLOCK_IF_ARMED();
    return rc;
}

int link(const char *from, const char *to)
{
    return do_link(AT_FDCWD, from, AT_FDCWD, to, 0, false);
}

int linkat(int olddir, const char *from, int newdir, const char *to, int flags)
{
    return do_link(olddir, from, newdir, to, flags, true);
}

static int do_unlink(int dirfd, const char *path, int flags, bool is_at)
{
    char a[PATH_MAX];
    at_path(dirfd, path, a);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_UNLINK, a);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    struct entry_change *c = NULL;
    if (is_locked_ && !(flags & AT_REMOVEDIR)) {
        c = change_add(ENT_UNLINK, a);
        if (c)
            stash_keep(a, c->stash);
    }
    int rc = is_at ? real_unlinkat(dirfd, path, flags) : real_unlink(path);
    if (is_locked_ && c) {
        if (rc == 0) {
            /* Unsynced bytes of a deleted file would not come back either. */
            struct written_file *f = file_find(a);
            if (f && f->is_dirty && c->stash[0] && truncate(c->stash, f->synced_len) < 0)
                f->is_dirty = true; /* best effort, as above */
            file_forget(a);
        } else {
            if (c->stash[0])
                real_unlink(c->stash);
            change_count--;
        }
    }
    UNLOCK_IF_ARMED();
    return rc;
}

int unlink(const char *path)
{
    return do_unlink(AT_FDCWD, path, 0, false);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    return do_unlink(dirfd, path, flags, true);
}

static int do_mkdir(int dirfd, const char *path, mode_t mode, bool is_at)
{
    char a[PATH_MAX];
    at_path(dirfd, path, a);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_MKDIR, a);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    int rc = is_at ? real_mkdirat(dirfd, path, mode) : real_mkdir(path, mode);
    if (rc == 0 && is_locked_)
        change_add(ENT_MKDIR, a);
    UNLOCK_IF_ARMED();
    return rc;
}

int mkdir(const char *path, mode_t mode)
{
    return do_mkdir(AT_FDCWD, path, mode, false);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    return do_mkdir(dirfd, path, mode, true);
}

/* Opens that may create a file are counted (op "open"); with powerloss a
 * file they create is a new directory entry, and an O_TRUNC throws away
 * its durable bytes. Other opens count as "readopen" when it is chosen. */
static int do_open(int dirfd, const char *path, int flags, mode_t mode, int variant)
{
    if (!(flags & (O_CREAT | O_TMPFILE))) {
        if (cfg.is_op[OP_READ_OPEN]) {
            char a[PATH_MAX];
            at_path(dirfd, path, a);
            enum verdict v = consider(OP_READ_OPEN, a);
            if (v == FAIL_EIO || v == FAIL_ENOSPC)
                return fail_with(v);
        }
        switch (variant) {
        case 0: return real_open(path, flags, mode);
        case 1: return real_open64(path, flags, mode);
        case 2: return real_openat(dirfd, path, flags, mode);
        default: return real_openat64(dirfd, path, flags, mode);
        }
    }
    char a[PATH_MAX];
    at_path(dirfd, path, a);
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_OPEN, a);
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        UNLOCK_IF_ARMED();
        return fail_with(v);
    }
    struct stat st;
    bool is_new = is_locked_ && (flags & O_CREAT) && lstat(a, &st) < 0 && errno == ENOENT;
    int fd;
    switch (variant) {
    case 0: fd = real_open(path, flags, mode); break;
    case 1: fd = real_open64(path, flags, mode); break;
    case 2: fd = real_openat(dirfd, path, flags, mode); break;
    default: fd = real_openat64(dirfd, path, flags, mode); break;
    }
    if (fd >= 0 && is_locked_ && a[0] == '/') {
        if (is_new) {
            change_add(ENT_CREATE, a);
            file_forget(a);
            file_track(a, 0);
        } else if (flags & O_TRUNC) {
            struct written_file *f = file_find(a);
            if (!f)
                f = file_track(a, 0);
            if (f) {
                f->synced_len = 0;
                f->is_dirty = true;
            }
        }
    }
    UNLOCK_IF_ARMED();
    return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_mode(flags, ap);
    va_end(ap);
    return do_open(AT_FDCWD, path, flags, mode, 0);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_mode(flags, ap);
    va_end(ap);
    return do_open(AT_FDCWD, path, flags, mode, real_open64 ? 1 : 0);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_mode(flags, ap);
    va_end(ap);
    return do_open(dirfd, path, flags, mode, 2);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_mode(flags, ap);
    va_end(ap);
    return do_open(dirfd, path, flags, mode, real_openat64 ? 3 : 2);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    char where[PATH_MAX] = "";
    if (addr && addr->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        snprintf(where, sizeof where, "%.*s", (int)sizeof un->sun_path, un->sun_path);
    } else if (addr && addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(where, sizeof where, "%s:%u", ip, ntohs(in->sin_port));
    } else if (addr && addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(where, sizeof where, "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
    LOCK_IF_ARMED();
    enum verdict v = consider(OP_CONNECT, where);
    UNLOCK_IF_ARMED();
    if (v == FAIL_EIO || v == FAIL_ENOSPC) {
        /* A network refusal reads better than a disk error here. */
        errno = v == FAIL_ENOSPC ? ENETUNREACH : ECONNREFUSED;
        return -1;
    }
    return real_connect(fd, addr, len);
}

/* ------------------------------------------------------------------ load and exit */

static void parse_ops(const char *list)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        for (int i = 0; i < OP_COUNT; i++)
            if ((strcmp(tok, "any") == 0 && i != OP_READ_OPEN) || strcmp(tok, op_names[i]) == 0)
                cfg.is_op[i] = true;
    }
}

static enum fault_action parse_action(const char *s)
{
    static const struct { const char *name; enum fault_action action; } table[] = {
        {"kill", ACT_KILL}, {"torn", ACT_TORN}, {"eio", ACT_EIO}, {"enospc", ACT_ENOSPC},
        {"stop", ACT_STOP}, {"powerloss", ACT_POWERLOSS},
    };
    for (size_t i = 0; s && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(s, table[i].name) == 0)
            return table[i].action;
    return ACT_NONE;
}

static const char *env_copy(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

__attribute__((constructor)) static void shim_load(void)
{
    real_write = next_symbol("write");
    real_pwrite = next_symbol("pwrite");
    real_pwrite64 = next_symbol("pwrite64");
    real_writev = next_symbol("writev");
    real_fsync = next_symbol("fsync");
    real_fdatasync = next_symbol("fdatasync");
    real_rename = next_symbol("rename");
    real_renameat = next_symbol("renameat");
    real_renameat2 = next_symbol("renameat2");
    real_link = next_symbol("link");
    real_linkat = next_symbol("linkat");
    real_unlink = next_symbol("unlink");
    real_unlinkat = next_symbol("unlinkat");
    real_mkdir = next_symbol("mkdir");
    real_mkdirat = next_symbol("mkdirat");
    real_open = next_symbol("open");
    real_open64 = next_symbol("open64");
    real_openat = next_symbol("openat");
    real_openat64 = next_symbol("openat64");
    real_connect = next_symbol("connect");

    const char *ops = getenv("FAULT_OP");
    parse_ops(ops && *ops ? ops : "any");
    const char *at = getenv("FAULT_AT");
    cfg.at = at ? strtoul(at, NULL, 10) : 0;
    cfg.path = env_copy("FAULT_PATH");
    cfg.action = parse_action(getenv("FAULT_ACTION"));
    const char *persist = getenv("FAULT_PERSIST");
    cfg.is_persistent = persist && strcmp(persist, "1") == 0;
    const char *count_only = getenv("FAULT_COUNT_ONLY");
    cfg.is_count_only = count_only && strcmp(count_only, "1") == 0;
    cfg.mark = env_copy("FAULT_MARK");
    cfg.stash = env_copy("FAULT_STASH");
    cfg.count_file = env_copy("FAULT_COUNT_FILE");
    if (cfg.action == ACT_NONE)
        cfg.at = 0;
    if (is_powerloss_armed()) {
        files = calloc(MAX_FILES, sizeof *files);
        changes = calloc(MAX_CHANGES, sizeof *changes);
        if (!files || !changes)
            cfg.action = ACT_KILL; /* no room to book-keep: at least a crash */
    }

    static const char *const vars[] = {"LD_PRELOAD", "FAULT_OP", "FAULT_AT", "FAULT_PATH", "FAULT_ACTION",
                                       "FAULT_PERSIST", "FAULT_COUNT_ONLY", "FAULT_MARK", "FAULT_STASH",
                                       "FAULT_COUNT_FILE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

__attribute__((destructor)) static void shim_unload(void)
{
    if (!cfg.is_count_only)
        return;
    char text[512];
    size_t n = 0;
    for (int i = 0; i < OP_COUNT; i++)
        if (i != OP_READ_OPEN || cfg.is_op[i])
            n += (size_t)snprintf(text + n, sizeof text - n, "%s %lu\n", op_names[i], atomic_load(&counts[i]));
    int fd = cfg.count_file ? real_open(cfg.count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 2;
    if (fd < 0)
        return;
    (void)real_write(fd, text, n);
    if (fd != 2)
        close(fd);
}
