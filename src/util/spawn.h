/*
 * spawn.h — running external programs (pg_dump, pg_restore, ...) without
 * a shell.
 *
 * The child's stdout (or stdin) is a pipe the caller streams through; its
 * stderr goes to an anonymous memory file, so a chatty child can never
 * block on a full stderr pipe, and its last lines become the error message
 * when it fails.
 *
 * A child does not inherit coffer's environment, which may hold the
 * repository passphrase (COFFER_PASSWORD) and cloud credentials
 * (AWS_SECRET_ACCESS_KEY): it gets an allowlist — PATH, HOME, LANG, LC_*,
 * TZ, TMPDIR, USER, LOGNAME — plus the names its caller passes through
 * (PG* for the PostgreSQL tools, GIT_* for git, a command source's `env:`),
 * plus variables the caller sets (such as PGPASSFILE). Names that look like
 * secrets (COFFER_*, AWS_*, *PASSWORD*, *SECRET*, *_TOKEN) are never passed
 * through, whatever the caller asks. Nothing here puts secrets on a command
 * line: callers pass them through descriptors (see pgconn.h).
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

/* What a child's environment holds beyond the allowlist; NULL: nothing. */
struct spawn_env {
    const char *const *pass; /* names to pass through; "PG*" is a prefix; NULL-terminated or NULL */
    const char *const *set;  /* "NAME=value" set for the child only; NULL-terminated or NULL */
    int keep_fds[4];         /* descriptors (above 2) the child inherits, such as memfds; 0: unused */
};

/* The names a PostgreSQL tool may see: PG* but PGPASSWORD (denied anyway). */
extern const char *const spawn_pass_postgres[];
/* The names git may see: GIT_*. */
extern const char *const spawn_pass_git[];

/* Whether name may never reach a child (it looks like a secret). */
bool spawn_is_denied_name(const char *name);

/* NULL if name (a variable's name, or a prefix ending in '*') may be
 * passed through to a child, else why not (for the config check). */
const char *spawn_check_env_name(const char *name);

struct child {
    pid_t pid;
    int fd;        /* the caller's end of the pipe, or -1 */
    int stderr_fd; /* memory file holding the child's stderr */
    const char *name;
};

/* Starts argv[0] (looked up in PATH) with the allowlisted environment and
 * env (may be NULL). A missing program fails with ERR_NOT_FOUND. */
int spawn_start(const char *const *argv, const struct spawn_env *env, enum spawn_pipe pipe_mode,
                struct child *child, struct error *err);

/* Closes the caller's pipe end, waits for the child, and fails unless it
 * exited with status 0; the error quotes the end of its stderr. */
int spawn_finish(struct child *child, struct error *err);

/* Runs argv (with env, may be NULL) to its end and copies its stdout
 * (truncated to size - 1) to out; fails as spawn_finish does. */
int spawn_read_output(const char *const *argv, const struct spawn_env *env, char *out, size_t size,
                      struct error *err);
/* The same, keeping only the first line (without the newline). */
int spawn_read_line(const char *const *argv, const struct spawn_env *env, char *out, size_t size,
                    struct error *err);

/* Kills a child that is no longer wanted and reaps it. */
void spawn_abort(struct child *child);

#endif
