/*
 * secret.c — secrets from files (see secret.h).
 */
#include "util/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

int secret_read_file(const char *path, const char *what, char **out, struct error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return error_errno(err, errno, "cannot read %s %s", what, path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n <= 0) {
        secret_free(line);
        return error_set(err, "%s %s is empty", what, path);
    }
    *out = line;
    return 0;
}

void secret_free(char *secret)
{
    if (!secret)
        return;
    crypto_wipe(secret, strlen(secret));
    free(secret);
}
