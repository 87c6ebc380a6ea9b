/*
 * spawn.c — posix_spawn with a pipe and a stderr memory file (see spawn.h).
 */
#include "util/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"

extern char **environ;

#define STDERR_QUOTE 600
#define PIPE_SIZE (1 << 20)

/* Always passed; "LC_*" is a prefix. */
static const char *const base_names[] = {"PATH", "HOME", "LANG", "LC_*", "TZ", "TMPDIR", "USER", "LOGNAME", NULL};

const char *const spawn_pass_postgres[] = {"PG*", NULL};
const char *const spawn_pass_git[] = {"GIT_*", NULL};

static bool contains_word(const char *name, size_t len, const char *word)
{
    size_t word_len = strlen(word);
    for (size_t i = 0; i + word_len <= len; i++)
        if (strncasecmp(name + i, word, word_len) == 0)
            return true;
    return false;
}

/* name is len bytes (the part before '='). */
static bool is_denied(const char *name, size_t len)
{
    static const char *const prefixes[] = {"COFFER_", "AWS_"};
    static const char *const words[] = {"PASSWORD", "PASSPHRASE", "SECRET", "TOKEN"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (len >= strlen(prefixes[i]) && strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (contains_word(name, len, words[i]))
            return true;
    return false;
}

bool spawn_is_denied_name(const char *name)
{
    return is_denied(name, strlen(name));
}

const char *spawn_check_env_name(const char *name)
{
    size_t len = strlen(name);
    if (len && name[len - 1] == '*')
        len--;
    bool is_valid = len > 0 && (name[0] == '_' || (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z'));
    for (size_t i = 1; i < len && is_valid; i++)
        is_valid = name[i] == '_' || (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
                   (name[i] >= '0' && name[i] <= '9');
    if (!is_valid)
        return "not a variable name (letters, digits and _, optionally ending in * for every name so beginning)";
    if (is_denied(name, len))
        return "looks like a secret (COFFER_*, AWS_*, *PASSWORD*, *PASSPHRASE*, *SECRET*, *TOKEN*), and coffer "
               "hands no secrets to programs through the environment: let the command read it from a file";
    return NULL;
}

static bool matches(const char *const *patterns, const char *name, size_t len)
{
    for (; patterns && *patterns; patterns++) {
        size_t plen = strlen(*patterns);
        if (plen && (*patterns)[plen - 1] == '*') {
            if (len >= plen - 1 && strncmp(name, *patterns, plen - 1) == 0)
                return true;
        } else if (len == plen && strncmp(name, *patterns, len) == 0) {
            return true;
        }
    }
    return false;
}

/* The child's environment: allowlisted names of ours, then env->set
 * (which replaces ours of the same name). The strings are not copied. */
static char **child_environment(const struct spawn_env *env)
{
    const char *const *set = env ? env->set : NULL;
    const char *const *pass = env ? env->pass : NULL;
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (set && set[k])
        k++;
    char **out_env = xcalloc(n + k + 1, sizeof *out_env);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strcspn(environ[i], "=");
        if (!environ[i][name_len] || is_denied(environ[i], name_len) ||
            !(matches(base_names, environ[i], name_len) || matches(pass, environ[i], name_len)))
            continue;
        bool is_overridden = false;
        for (size_t j = 0; j < k && !is_overridden; j++)
            is_overridden = strncmp(environ[i], set[j], name_len + 1) == 0;
        if (!is_overridden)
            out_env[out++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        out_env[out++] = (char *)set[j];
    return out_env;
}

int spawn_start(const char *const *argv, const struct spawn_env *env, enum spawn_pipe pipe_mode,
                struct child *child, struct error *err)
{
    int fds[2] = {-1, -1};
    posix_spawn_file_actions_t actions;
    child->pid = -1;
    child->fd = -1;
    child->name = argv[0];
    child->stderr_fd = memfd_create("coffer-child-stderr", MFD_CLOEXEC);
    if (child->stderr_fd < 0)
        return error_errno(err, errno, "cannot run %s", argv[0]);
    if (pipe_mode != SPAWN_NO_PIPE && pipe2(fds, O_CLOEXEC) < 0) {
        int saved = errno;
        close(child->stderr_fd);
        return error_errno(err, saved, "cannot run %s", argv[0]);
    }
    /* A 1 MiB pipe instead of 64 KiB: the dump program and coffer wake
     * each other 16x less often. Linux only lets unprivileged users go up
     * to fs.pipe-max-size (1 MiB by default); a refusal just keeps 64 KiB. */
    if (pipe_mode != SPAWN_NO_PIPE)
        (void)fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE);
    posix_spawn_file_actions_init(&actions);
    if (pipe_mode == SPAWN_READ_STDOUT) {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    } else if (pipe_mode == SPAWN_WRITE_STDIN) {
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, child->stderr_fd, 2);
    /* dup2 of a descriptor onto itself clears its close-on-exec flag in
     * the child only (POSIX 2024, glibc 2.29+): the parent's copy stays
     * close-on-exec, so no other child inherits it. */
    for (size_t i = 0; env && i < sizeof env->keep_fds / sizeof env->keep_fds[0]; i++)
        if (env->keep_fds[i] > STDERR_FILENO)
            posix_spawn_file_actions_adddup2(&actions, env->keep_fds[i], env->keep_fds[i]);
    char **child_env = child_environment(env);
    int rc = posix_spawnp(&child->pid, argv[0], &actions, NULL, (char *const *)argv, child_env);
    free(child_env);
    posix_spawn_file_actions_destroy(&actions);
    if (pipe_mode == SPAWN_READ_STDOUT) {
        close(fds[1]);
        child->fd = fds[0];
    } else if (pipe_mode == SPAWN_WRITE_STDIN) {
        close(fds[0]);
        child->fd = fds[1];
    }
    if (rc != 0) {
        if (child->fd >= 0)
            close(child->fd);
        close(child->stderr_fd);
        child->fd = child->stderr_fd = -1;
        child->pid = -1;
        if (rc == ENOENT)
            return error_setk(err, ERR_NOT_FOUND, "%s is not installed (not found in PATH)", argv[0]);
        return error_errno(err, rc, "cannot run %s", argv[0]);
    }
    return 0;
}

/* The last STDERR_QUOTE bytes of the child's stderr, on one line. */
static void stderr_tail(int fd, char *out, size_t size)
{
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > STDERR_QUOTE ? end - STDERR_QUOTE : 0;
    ssize_t n = pread(fd, out, size - 1, start);
    n = n < 0 ? 0 : n;
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\n')
            out[i] = ' ';
}

int spawn_finish(struct child *child, struct error *err)
{
    int status = 0;
    if (child->fd >= 0)
        close(child->fd);
    child->fd = -1;
    while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
        ;
    char said[STDERR_QUOTE + 1];
    stderr_tail(child->stderr_fd, said, sizeof said);
    close(child->stderr_fd);
    child->stderr_fd = -1;
    child->pid = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        return error_set(err, "%s was killed by signal %d%s%s", child->name, WTERMSIG(status),
                         said[0] ? ": " : "", said);
    return error_set(err, "%s failed (exit %d)%s%s", child->name, WEXITSTATUS(status), said[0] ? ": " : "",
                     said);
}

void spawn_abort(struct child *child)
{
    if (child->pid > 0) {
        kill(child->pid, SIGTERM);
        int status;
        while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (child->fd >= 0)
        close(child->fd);
    if (child->stderr_fd >= 0)
        close(child->stderr_fd);
    child->pid = -1;
    child->fd = child->stderr_fd = -1;
}

int spawn_read_output(const char *const *argv, const struct spawn_env *env, char *out, size_t size,
                      struct error *err)
{
    struct child child;
    out[0] = '\0'; /* callers may read the line even when the program never started */
    if (spawn_start(argv, env, SPAWN_READ_STDOUT, &child, err) < 0)
        return -1;
    size_t len = 0;
    char scratch[4096];
    for (;;) { /* read everything, so the child never blocks on a full pipe */
        ssize_t n = read(child.fd, scratch, sizeof scratch);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t take = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;
        memcpy(out + len, scratch, take);
        len += take;
    }
    out[len] = '\0';
    return spawn_finish(&child, err);
}

int spawn_read_line(const char *const *argv, const struct spawn_env *env, char *out, size_t size,
                    struct error *err)
{
    int rc = spawn_read_output(argv, env, out, size, err);
    out[strcspn(out, "\n")] = '\0';
    return rc;
}
