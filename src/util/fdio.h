/*
 * fdio.h — whole writes to file descriptors, and removing a scratch tree.
 *
 * write(2) may write less than asked (pipes, signals); every caller that
 * means "all of it" goes through here.
 */
#ifndef COFFER_UTIL_FDIO_H
#define COFFER_UTIL_FDIO_H

#include <stddef.h>

/* Writes all len bytes, retrying short writes and EINTR; returns 0, or -1
 * with errno set. */
int write_all(int fd, const void *data, size_t len);

/* Removes a directory and everything below it, never following symbolic
 * links out of it; returns 0, or -1 with errno set (what it could remove
 * is gone). */
int remove_tree(const char *path);

#endif
