/*
 * fdio.h — whole writes to file descriptors, removing a scratch tree, and
 * going back up a directory walk that holds descriptors, not paths.
 *
 * write(2) may write less than asked (pipes, signals); every caller that
 * means "all of it" goes through here.
 */
#ifndef COFFER_UTIL_FDIO_H
#define COFFER_UTIL_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes, retrying short writes and EINTR; returns 0, or -1
 * with errno set. */
int write_all(int fd, const void *data, size_t len);

/* Replaces the file at path with len bytes at data (mode for a new one):
 * written to a temporary name beside it, fsynced, renamed over it, and
 * the directory fsynced, so a crash leaves the old file or the new one.
 * Returns 0, or -1 with errno set (the old file untouched). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads the file at path into out, stopping once more than max bytes are
 * in (so a caller can tell a file too large); 0, or -1 with errno set
 * (ENOENT: there is no such file). */
struct buf;
int read_file_max(const char *path, size_t max, struct buf *out);

/* Removes a directory and everything below it, never following symbolic
 * links out of it; returns 0, or -1 with errno set (what it could remove
 * is gone). */
int remove_tree(const char *path);

/* Opens the parent of the directory open as child_fd (its ".."), read-only,
 * and checks that it is still the directory (device, inode) the walk came
 * down from. Returns the descriptor; -1 with errno set, ESTALE when it is
 * another directory now (moved or replaced meanwhile). */
int dir_reopen_parent(int child_fd, dev_t device, ino_t inode);

#endif
