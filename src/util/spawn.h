/*
 * spawn.h — running external programs (pg_dump, pg_restore, ...) without
 * a shell.
 *
 * The child's stdout (or stdin) is a pipe the caller streams through; its
 * stderr goes to an anonymous memory file, so a chatty child can never
 * block on a full stderr pipe, and its last lines become the error message
 * when it fails. Extra environment variables (such as PGPASSFILE) go to the
 * child only. Nothing here puts secrets on a command line: callers pass
 * them through files.
 */
#ifndef COFFER_UTIL_SPAWN_H
#define COFFER_UTIL_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

enum spawn_pipe {
    SPAWN_NO_PIPE,      /* stdin from /dev/null, stdout to /dev/null */
    SPAWN_READ_STDOUT,  /* the caller reads the child's stdout */
    SPAWN_WRITE_STDIN,  /* the caller writes the child's stdin */
};

struct child {
    pid_t pid;
    int fd;        /* the caller's end of the pipe, or -1 */
    int stderr_fd; /* memory file holding the child's stderr */
    const char *name;
};

/* Starts argv[0] (looked up in PATH) with env_extra ("NAME=value", NULL
 * terminated, may be NULL) added to the environment. A missing program
 * fails with ERR_NOT_FOUND. */
int spawn_start(const char *const *argv, const char *const *env_extra, enum spawn_pipe pipe_mode,
                struct child *child, struct error *err);

/* Closes the caller's pipe end, waits for the child, and fails unless it
 * exited with status 0; the error quotes the end of its stderr. */
int spawn_finish(struct child *child, struct error *err);

/* Runs argv to its end and copies its stdout (truncated to size - 1) to
 * out; fails as spawn_finish does. */
int spawn_read_output(const char *const *argv, char *out, size_t size, struct error *err);
/* The same, keeping only the first line (without the newline). */
int spawn_read_line(const char *const *argv, char *out, size_t size, struct error *err);

/* Kills a child that is no longer wanted and reaps it. */
void spawn_abort(struct child *child);

#endif
