/*
 * program.h — sources that are a program's output.
 *
 * command: any program (an export script, a CRM dump, `redis-cli ...`);
 * its standard output becomes one file of the snapshot, and a non-zero
 * exit fails the source with the end of the program's stderr.
 *
 * git: `git bundle create - --all` of a repository: every branch and tag
 * in one file that `git clone` accepts; the HEAD revision and branch are
 * in the snapshot's metadata. A bundle repeats unchanged history from day
 * to day, which coffer's deduplication stores once.
 *
 * Programs run without a shell, with an allowlisted environment (see
 * spawn.h): a command gets the names its source's `env:` lists, git its
 * GIT_* variables; neither ever sees coffer's secrets.
 */
#ifndef COFFER_SOURCE_PROGRAM_H
#define COFFER_SOURCE_PROGRAM_H

#include "source/source.h"

#define GIT_BUNDLE_NAME "repo.bundle"

/* A command source's coffer.yaml keys (its row in types.c reads them). */
struct command_settings {
    struct config_strings command; /* argv; argv[0] is looked up in PATH */
    struct config_strings env;     /* variables passed through (names or "PREFIX*") */
    char *name;                    /* the file's name in the snapshot; NULL: <source>.out */
};

/* Runs the command (settings: struct command_settings) and stores its output. */
int command_backup(struct backup_ctx *ctx, const void *settings, struct error *err);

/* A git source's: the repository (a working tree or a bare repository). */
struct git_settings {
    char *path;
};

/* Backs up the repository (settings: struct git_settings) as one bundle. */
int git_backup(struct backup_ctx *ctx, const void *settings, struct error *err);

/* The probes: the command's program is found (in PATH, or as given); the
 * repository's HEAD can be read. */
int command_probe(const void *settings, char *what, size_t size, struct error *err);
int git_probe(const void *settings, char *what, size_t size, struct error *err);

/* The HEAD revision (40 hex digits) of the repository at path, into out
 * (at least 41 bytes). */
int git_head(const char *path, char *out, size_t size, struct error *err);

#endif
