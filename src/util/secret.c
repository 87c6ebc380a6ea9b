/*
 * secret.c — secrets in locked memory, from files (see secret.h).
 */
#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#define SECRET_FILE_MAX (64 * 1024) /* longer than any passphrase */

static char *secret_alloc(size_t size)
{
    /* sodium_malloc locks the pages when RLIMIT_MEMLOCK allows, and works
     * without the lock when it does not; it needs sodium_init, which may
     * run any number of times (a library caller need not know). */
    if (sodium_init() < 0)
        abort();
    char *p = sodium_malloc(size);
    if (!p)
        abort(); /* out of memory, as xmalloc */
    return p;
}

char *secret_dup(const char *s)
{
    size_t len = strlen(s);
    char *copy = secret_alloc(len + 1);
    memcpy(copy, s, len + 1);
    return copy;
}

int secret_read_file(const char *path, const char *what, char **out, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_errno(err, errno, "cannot read %s %s", what, path);
    /* Read straight into locked memory: no stdio buffer keeps a copy. */
    char *line = secret_alloc(SECRET_FILE_MAX + 1);
    size_t len = 0;
    int rc = 0;
    while (len < SECRET_FILE_MAX && !memchr(line, '\n', len)) {
        ssize_t n = read(fd, line + len, SECRET_FILE_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = error_errno(err, errno, "cannot read %s %s", what, path);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    line[len] = '\0';
    len = strcspn(line, "\n");
    while (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    if (rc == 0 && !line[0])
        rc = error_set(err, "%s %s is empty", what, path);
    if (rc < 0) {
        sodium_free(line);
        return -1;
    }
    *out = secret_dup(line);
    sodium_free(line);
    return 0;
}

void secret_free(char *secret)
{
    sodium_free(secret); /* wipes it; NULL is fine */
}

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer inspects the process from a helper that ptrace refuses
 * while it is not dumpable: at exit (before its own check) it is again. */
static void allow_leak_check(void)
{
    (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}
#endif

int secret_protect_process(struct error *err)
{
    struct rlimit no_core = {0, 0};
    if (setrlimit(RLIMIT_CORE, &no_core) < 0)
        return error_errno(err, errno, "cannot disable core dumps");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return error_errno(err, errno, "cannot disable core dumps");
#if defined(__SANITIZE_ADDRESS__)
    atexit(allow_leak_check);
#endif
    return 0;
}
