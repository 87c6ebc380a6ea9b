/*
 * secret.h — reading a secret (a passphrase, a database password) from a
 * file, and forgetting it. Secrets come from files, the environment or a
 * prompt, never from a command line; this is the file part, shared by the
 * repository passphrase and database passwords.
 */
#ifndef COFFER_UTIL_SECRET_H
#define COFFER_UTIL_SECRET_H

#include "util/error.h"

/* The first line of path, without its line end; an empty one is an error.
 * what names the secret in messages ("passphrase file"). Free with
 * secret_free. */
int secret_read_file(const char *path, const char *what, char **out, struct error *err);

/* Wipes and frees a secret; NULL is fine. */
void secret_free(char *secret);

#endif
