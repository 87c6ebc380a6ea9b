/*
 * secret.h — reading a secret (a passphrase, a database password) from a
 * file, holding it, and forgetting it. Secrets come from files, the
 * environment or a prompt, never from a command line; this is the file
 * part, shared by the repository passphrase and database passwords.
 *
 * A secret lives in libsodium's guarded memory (sodium_malloc): locked
 * into RAM so it is never swapped out, left out of core dumps, and wiped
 * when freed. Only secret_free may free it.
 */
#ifndef COFFER_UTIL_SECRET_H
#define COFFER_UTIL_SECRET_H

#include <stddef.h>

#include "util/error.h"

/* The first line of path, without its line end; an empty one is an error.
 * what names the secret in messages ("passphrase file"). Free with
 * secret_free. */
int secret_read_file(const char *path, const char *what, char **out, struct error *err);

/* A copy of s in locked memory; free with secret_free. */
char *secret_dup(const char *s);

/* Wipes and frees a secret from secret_read_file or secret_dup; NULL is
 * fine. */
void secret_free(char *secret);

/* Keeps the process from writing core dumps and other processes of the
 * same user from reading its memory (/proc/PID/mem, ptrace): a crash must
 * not leave the passphrase, the master key or a database password in a
 * file. Called first thing in main; fails only if the kernel refuses. */
int secret_protect_process(struct error *err);

#endif
