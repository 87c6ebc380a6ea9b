/*
 * env.h — the env source: .env and other environment files.
 *
 * An env source is backed up as a file tree, like files, and records in
 * the snapshot's metadata the words whose variables `coffer dump
 * --redacted` hides (envfile.h), so that a reviewer can read what changed
 * without seeing a secret. The words default to KEY, SECRET, PASSWORD and
 * TOKEN.
 */
#ifndef COFFER_SOURCE_ENV_H
#define COFFER_SOURCE_ENV_H

#include "source/source.h"

/* An env source's coffer.yaml keys (its row in types.c reads them). */
struct env_settings {
    struct config_strings paths;  /* at least one */
    struct config_strings redact; /* empty: the default words */
};

/* Backs up the files (settings: struct env_settings) with their redact words. */
int env_backup(struct backup_ctx *ctx, const void *settings, struct error *err);
/* Its probe: every file readable. */
int env_probe(const void *settings, char *what, size_t size, struct error *err);

/* The redact words recorded in an env snapshot's metadata, into words. */
void env_redact_words(const struct snapshot *snap, struct string_list *words);

#endif
