/*
 * cmd_key.c — `coffer key`: the passphrases that open a repository.
 */
#include <stdlib.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/keys.h"

static const char description[] =
    "Several passphrases may open one repository, each in its own key file.\n"
    "add creates another; remove deletes one (not the one in use); passwd replaces\n"
    "the one in use. The new passphrase comes from --new-password-file,\n"
    "COFFER_NEW_PASSWORD_FILE, COFFER_NEW_PASSWORD or a prompt.";

static int key_list_cmd(const struct cli_globals *g, struct repo *repo, struct error *err)
{
    struct key_info *keys;
    size_t count;
    if (key_list(repo_store(repo), &keys, &count, err) < 0)
        return -1;
    if (g->is_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", repo_key_id(keys[i].name),
                                                 "created", keys[i].created, "host", keys[i].host, "kdf",
                                                 keys[i].kdf, "current", !strcmp(keys[i].name, repo_key_name(repo))));
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        printf("  %-16s  %-20s  %-12s  %s\n", "ID", "CREATED", "KDF", "HOST");
        for (size_t i = 0; i < count; i++)
            printf("%c %.16s  %-20s  %-12s  %s\n", strcmp(keys[i].name, repo_key_name(repo)) ? ' ' : '*',
                   repo_key_id(keys[i].name), keys[i].created, keys[i].kdf, keys[i].host);
    }
    free(keys);
    return 0;
}

static int key_add_cmd(const struct cli_globals *g, struct repo *repo, const char *kdf, const char *new_file,
                       bool is_replace, struct error *err)
{
    char level[16], name[KEY_NAME_MAX], *pass = NULL;
    if (kdf)
        snprintf(level, sizeof level, "%s", kdf);
    else
        repo_key_level(repo, level);
    if (cli_check_kdf_level(level, err) < 0 || cli_new_passphrase(new_file, &pass, err) < 0)
        return -1;
    int rc = repo_key_add(repo, pass, level, is_replace, name, err);
    cli_passphrase_free(pass);
    if (rc == 0 && !g->is_quiet)
        printf("%s key %.16s\n", is_replace ? "passphrase changed: new" : "added", repo_key_id(name));
    return rc;
}

static int key_remove_cmd(const struct cli_globals *g, struct repo *repo, const char *id, struct error *err)
{
    char name[KEY_NAME_MAX];
    if (repo_key_remove(repo, id, name, err) < 0)
        return -1;
    if (!g->is_quiet)
        printf("removed key %.16s\n", repo_key_id(name));
    return 0;
}

int cmd_key(struct cli_globals *g, int argc, char **argv)
{
    const char *kdf = NULL, *new_file = NULL;
    const struct opt options[] = {
        {OPT_STRING("kdf", &kdf), .arg = "LEVEL",
         .help = "Argon2id cost of the new key: interactive, moderate, sensitive (default: the level of the key in "
                 "use)"},
        {OPT_STRING("new-password-file", &new_file), .arg = "F", .help = "read the new passphrase from F"},
        {0},
    };
    const struct opt_command command = {
        .name = "key",
        .usage = "list\nadd [--kdf LEVEL] [--new-password-file FILE]\nremove ID\n"
                 "passwd [--kdf LEVEL] [--new-password-file FILE]",
        .description = description,
        .options = options,
    };
    struct opt_args args;
    struct error err;
    int code;
    if ((code = cli_parse(g, &command, argc, argv, &args)) != EXIT_OK || args.is_help)
        return code;
    if (args.count == 0)
        return cli_usage_error("key", "which action? list, add, remove ID or passwd");
    const char *action = args.items[0];
    const char *id = NULL;
    size_t used = 1;
    if (!strcmp(action, "remove")) {
        if (args.count < 2)
            return cli_usage_error("key", "which key? give its id (see `coffer key list`)");
        id = args.items[used++];
    } else if (strcmp(action, "list") && strcmp(action, "add") && strcmp(action, "passwd")) {
        return cli_usage_error("key", "unknown action \"%s\" (list, add, remove or passwd)", action);
    }
    if ((code = cli_args_at_most("key", &args, used)) != EXIT_OK)
        return code;
    struct repo *repo = NULL;
    int rc = cli_open_repo(g, &repo, &err);
    if (rc == 0) {
        if (!strcmp(action, "list"))
            rc = key_list_cmd(g, repo, &err);
        else if (!strcmp(action, "add"))
            rc = key_add_cmd(g, repo, kdf, new_file, false, &err);
        else if (!strcmp(action, "passwd"))
            rc = key_add_cmd(g, repo, kdf, new_file, true, &err);
        else
            rc = key_remove_cmd(g, repo, id, &err);
    }
    repo_free(repo);
    return rc < 0 ? cli_fail(&err) : EXIT_OK;
}
