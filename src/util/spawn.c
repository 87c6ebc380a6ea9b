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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"

extern char **environ;

#define STDERR_QUOTE 600
#define PIPE_SIZE (1 << 20)

static char **environment_with(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    char **env = xcalloc(n + k + 1, sizeof *env);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        bool is_overridden = false;
        for (size_t j = 0; j < k && !is_overridden; j++) {
            size_t name_len = strcspn(extra[j], "=");
            is_overridden = strncmp(environ[i], extra[j], name_len) == 0 && environ[i][name_len] == '=';
        }
        if (!is_overridden)
            env[out++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        env[out++] = (char *)extra[j];
    return env;
}

int spawn_start(const char *const *argv, const char *const *env_extra, enum spawn_pipe pipe_mode,
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
    char **env = environment_with(env_extra);
    int rc = posix_spawnp(&child->pid, argv[0], &actions, NULL, (char *const *)argv, env);
    free(env);
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

int spawn_read_output(const char *const *argv, char *out, size_t size, struct error *err)
{
    struct child child;
    if (spawn_start(argv, NULL, SPAWN_READ_STDOUT, &child, err) < 0)
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

int spawn_read_line(const char *const *argv, char *out, size_t size, struct error *err)
{
    int rc = spawn_read_output(argv, out, size, err);
    out[strcspn(out, "\n")] = '\0';
    return rc;
}
