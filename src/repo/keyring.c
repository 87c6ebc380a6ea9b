/*
 * keyring.c — adding, replacing and removing the key files of an open
 * repository (keys.h). The master key never changes: a new key file wraps
 * the same one, so nothing else in the repository is rewritten.
 */
#include "repo/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_int.h"

const char *repo_key_id(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash ? slash + 1 : name;
}

const char *repo_key_name(const struct repo *repo)
{
    return repo->key_name;
}

void repo_key_level(struct repo *repo, char out[16])
{
    struct key_info *keys;
    size_t count;
    struct error ignored;
    snprintf(out, 16, "moderate");
    if (key_list(repo->store, &keys, &count, &ignored) < 0)
        return;
    for (size_t i = 0; i < count; i++)
        if (!strcmp(keys[i].name, repo->key_name) && keys[i].kdf[0])
            snprintf(out, 16, "%s", keys[i].kdf);
    free(keys);
}

int repo_key_add(struct repo *repo, const char *passphrase, const char *kdf_level, bool is_replace,
                 char name_out[KEY_NAME_MAX], struct error *err)
{
    char level[16];
    if (kdf_level)
        snprintf(level, sizeof level, "%s", kdf_level);
    else
        repo_key_level(repo, level);
    if (key_file_create(repo->store, &repo->key, passphrase, level, name_out, err) < 0)
        return -1;
    if (!is_replace)
        return 0;
    if (store_delete(repo->store, repo->key_name, err) < 0)
        return error_wrap(err, "the new key %s was added, but the old one could not be removed",
                          repo_key_id(name_out));
    snprintf(repo->key_name, sizeof repo->key_name, "%s", name_out);
    return 0;
}

int repo_key_remove(struct repo *repo, const char *id_prefix, char name_out[KEY_NAME_MAX], struct error *err)
{
    struct key_info *keys;
    size_t count;
    if (key_list(repo->store, &keys, &count, err) < 0)
        return -1;
    const struct key_info *match = NULL;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (strncmp(repo_key_id(keys[i].name), id_prefix, strlen(id_prefix)) != 0)
            continue;
        if (match)
            rc = error_setk(err, ERR_USAGE, "key id \"%s\" is ambiguous: give more digits", id_prefix);
        match = &keys[i];
    }
    if (rc == 0 && !match)
        rc = error_setk(err, ERR_NOT_FOUND, "no key \"%s\" (see `coffer key list`)", id_prefix);
    if (rc == 0 && !strcmp(match->name, repo->key_name))
        rc = error_set(err, "key %s is the one in use: open the repository with another passphrase "
                            "to remove it, or use `coffer key passwd` to change it", id_prefix);
    if (rc == 0)
        rc = store_delete(repo->store, match->name, err);
    if (rc == 0)
        snprintf(name_out, KEY_NAME_MAX, "%s", match->name);
    free(keys);
    return rc;
}
