/*
 * local.c — the local-directory store driver.
 *
 * An object is a file under the root; its name is its relative path. A put
 * writes a temporary file next to the final name, fsyncs it, renames it
 * over the final name and fsyncs the directory, so a crash leaves either
 * the whole object or none of it (plus, at worst, a "*.tmp-*" file that
 * listings skip and prune removes). A create-only put links the temporary
 * file to the final name instead (or, without hard links, renames it with
 * RENAME_NOREPLACE), which fails if the name is taken.
 */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "util/fdio.h"
#include "util/text.h"

struct local_store {
    char *root;
};

#define TMP_MARK ".tmp-"

static void local_path(const struct local_store *ls, const char *name, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s/%s", ls->root, name);
}

static bool is_dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool is_empty = true;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            is_empty = false;
            break;
        }
    }
    closedir(d);
    return is_empty;
}

int local_store_open(const char *path, bool is_create, void **impl, struct error *err)
{
    struct stat st;
    if (is_create) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return error_errno(err, errno, "cannot create repository directory %s", path);
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            return error_set(err, "%s is not a directory", path);
        if (!is_dir_empty(path))
            return error_set(err, "%s is not empty: a repository is created in a new or empty directory", path);
    } else {
        if (stat(path, &st) < 0)
            return error_errno(err, errno, "cannot open directory %s", path);
        if (!S_ISDIR(st.st_mode))
            return error_set(err, "%s is not a directory", path);
    }
    struct local_store *ls = xcalloc(1, sizeof *ls);
    ls->root = xstrdup(path);
    *impl = ls;
    return 0;
}

static int fsync_dir(const char *dir, struct error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return error_errno(err, errno, "cannot open directory %s", dir);
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc < 0)
        return error_errno(err, saved, "cannot sync directory %s", dir);
    return 0;
}

/* Creates dir (an existing one is fine) and makes its entry durable: the
 * entry lives in the parent, which an fsync of the directory itself does
 * not write, so without this a power cut could take a new data/3f folder,
 * and the pack in it, away after the index naming the pack was synced.
 * *is_missing_parent tells a failure for want of the parent apart. */
static int mkdir_durable(const char *dir, bool *is_missing_parent, struct error *err)
{
    *is_missing_parent = false;
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST)
            return 0;
        *is_missing_parent = errno == ENOENT;
        return error_errno(err, errno, "cannot create %s", dir);
    }
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (!slash)
        return fsync_dir(".", err);
    slash[slash == parent ? 1 : 0] = '\0';
    return fsync_dir(parent, err);
}

/* Creates the object's parent folders below the root (data/3f, keys, ...). */
static int make_parents(const char *path, struct error *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    bool is_missing_parent;
    if (mkdir_durable(tmp, &is_missing_parent, err) == 0)
        return 0;
    if (!is_missing_parent)
        return -1;
    error_clear(err);
    if (make_parents(tmp, err) < 0)
        return -1;
    return mkdir_durable(tmp, &is_missing_parent, err);
}

/* Writes data to a temporary name beside the object's and fsyncs it;
 * path gets the object's path, tmp the temporary one. */
static int write_temp(struct local_store *ls, const char *name, const void *data, size_t len,
                      char path[PATH_MAX], char tmp[PATH_MAX + 32], struct error *err)
{
    uint8_t rnd[8];
    char rnd_hex[17];
    local_path(ls, name, path);
    crypto_random(rnd, sizeof rnd);
    hex_encode(rnd, sizeof rnd, rnd_hex);
    snprintf(tmp, PATH_MAX + 32, "%s" TMP_MARK "%s", path, rnd_hex);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        if (make_parents(path, err) < 0)
            return -1;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return error_errno(err, errno, "cannot create %s", tmp);
    int rc = write_all(fd, data, len) < 0 || fsync(fd) < 0 ? -1 : 0;
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0) {
        unlink(tmp);
        error_errno(err, saved, "cannot write %s", path);
        if (saved == ENOSPC || saved == EDQUOT || saved == EFBIG) {
            /* Say which disk: the repository's, not the source's. */
            size_t used = strlen(err->msg);
            snprintf(err->msg + used, sizeof err->msg - used,
                     " (the disk holding the repository %s is full or over quota: free space there, then run again)",
                     ls->root);
        }
        return -1;
    }
    return 0;
}

/* Makes the object's new directory entry durable. */
static int sync_parent(char path[PATH_MAX], struct error *err)
{
    char *slash = strrchr(path, '/');
    *slash = '\0';
    return fsync_dir(path, err);
}

static int local_put(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    if (write_temp(impl, name, data, len, path, tmp, err) < 0)
        return -1;
    if (rename(tmp, path) < 0) {
        int saved = errno;
        unlink(tmp);
        return error_errno(err, saved, "cannot write %s", path);
    }
    return sync_parent(path, err);
}

/* link(2) fails with EEXIST when the name is taken, atomically: of two
 * processes creating one name, one wins. */
static int local_put_new(void *impl, const char *name, const void *data, size_t len, struct error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    if (write_temp(impl, name, data, len, path, tmp, err) < 0)
        return -1;
    int rc = link(tmp, path);
    int saved = errno;
    if (rc < 0 && (saved == EPERM || saved == EOPNOTSUPP || saved == ENOSYS)) {
        /* No hard links here (vfat, some network file systems): a rename
         * that refuses to replace is atomic as well. */
        rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
        saved = errno;
    }
    unlink(tmp);
    if (rc < 0 && saved == EEXIST)
        return error_setk(err, ERR_EXISTS, "%s exists already", path);
    if (rc < 0)
        return error_errno(err, saved, "cannot write %s", path);
    return sync_parent(path, err);
}

static bool local_has_atomic_create(void *impl)
{
    (void)impl;
    return true;
}

static unsigned local_parallel_uploads(const void *impl)
{
    (void)impl;
    return 1;
}

static int local_get(void *impl, const char *name, uint64_t offset, uint64_t len, struct buf *out,
                     struct error *err)
{
    struct local_store *ls = impl;
    char path[PATH_MAX];
    local_path(ls, name, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_errno(err, errno, "cannot open %s", path);
    if (len == STORE_TO_END) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int saved = errno;
            close(fd);
            return error_errno(err, saved, "cannot stat %s", path);
        }
        len = (uint64_t)st.st_size > offset ? (uint64_t)st.st_size - offset : 0;
    }
    buf_reserve(out, len);
    uint64_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, out->data + out->len + done, len - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : 0;
            close(fd);
            if (saved)
                return error_errno(err, saved, "cannot read %s", path);
            return error_set(err, "%s is shorter than expected (wanted %llu bytes at offset %llu)",
                             path, (unsigned long long)len, (unsigned long long)offset);
        }
        done += (uint64_t)n;
    }
    close(fd);
    out->len += len;
    return 0;
}

static int list_dir(const char *root, const char *rel, store_list_fn fn, void *ctx, struct error *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return error_errno(err, errno, "cannot list %s", path);
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, TMP_MARK))
            continue;
        char child[PATH_MAX];
        struct stat st;
        snprintf(child, sizeof child, "%s/%s", rel, e->d_name);
        snprintf(path, sizeof path, "%s/%s", root, child);
        if (lstat(path, &st) < 0)
            continue; /* removed while we listed */
        if (S_ISDIR(st.st_mode))
            rc = list_dir(root, child, fn, ctx, err);
        else if (S_ISREG(st.st_mode))
            rc = fn(ctx, child, (uint64_t)st.st_size, err);
    }
    closedir(d);
    return rc;
}

static int local_list(void *impl, const char *folder, store_list_fn fn, void *ctx, struct error *err)
{
    struct local_store *ls = impl;
    return list_dir(ls->root, folder, fn, ctx, err);
}

static int local_del(void *impl, const char *name, struct error *err)
{
    struct local_store *ls = impl;
    char path[PATH_MAX];
    local_path(ls, name, path);
    if (unlink(path) < 0 && errno != ENOENT)
        return error_errno(err, errno, "cannot delete %s", path);
    return 0;
}

/* An unlink is durable once its directory is synced: each directory the
 * names lie in is synced once. Without it a power cut could bring back a
 * snapshot forget removed after forget recorded that it did. */
static int local_sync_deletes(void *impl, char *const *names, size_t count, struct error *err)
{
    struct local_store *ls = impl;
    char **dirs = xcalloc(count, sizeof *dirs);
    size_t dir_count = 0;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        char path[PATH_MAX];
        local_path(ls, names[i], path);
        char *slash = strrchr(path, '/');
        if (slash)
            *slash = '\0';
        bool is_known = false;
        for (size_t d = 0; d < dir_count && !is_known; d++)
            is_known = !strcmp(dirs[d], path);
        if (!is_known)
            dirs[dir_count++] = xstrdup(path);
    }
    for (size_t d = 0; d < dir_count; d++) {
        if (rc == 0 && fsync_dir(dirs[d], err) < 0 && err->kind != ERR_NOT_FOUND)
            rc = -1;
        free(dirs[d]);
    }
    free(dirs);
    return rc;
}

static int local_size(void *impl, const char *name, uint64_t *size, struct error *err)
{
    struct local_store *ls = impl;
    char path[PATH_MAX];
    struct stat st;
    local_path(ls, name, path);
    if (stat(path, &st) < 0)
        return error_errno(err, errno, "cannot stat %s", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

static void local_free(void *impl)
{
    struct local_store *ls = impl;
    if (!ls)
        return;
    free(ls->root);
    free(ls);
}

static int local_space(void *impl, uint64_t *free_bytes, uint64_t *total_bytes, struct error *err)
{
    struct local_store *ls = impl;
    struct statvfs st;
    if (statvfs(ls->root, &st) < 0)
        return error_set(err, "cannot read the free space of %s: %s", ls->root, strerror(errno));
    *free_bytes = (uint64_t)st.f_bavail * st.f_frsize; /* what an unprivileged writer may still use */
    *total_bytes = (uint64_t)st.f_blocks * st.f_frsize;
    return 0;
}

const struct store_driver local_store_driver = {
    .name = "local",
    .parallel_requests = 8,
    .put = local_put,
    .put_new = local_put_new,
    .has_atomic_create = local_has_atomic_create,
    .parallel_uploads = local_parallel_uploads,
    .get = local_get,
    .list = local_list,
    .del = local_del,
    .sync_deletes = local_sync_deletes,
    .size = local_size,
    .space = local_space,
    .free = local_free,
};
