/*
 * program.c — command and git sources (see program.h).
 */
#include "source/program.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source/bundle.h"
#include "util/spawn.h"

/* Stores argv's standard output as the file name; fails if it fails. */
static int store_output(struct bundle *b, const char *const *argv, const struct spawn_env *env, const char *name,
                        struct error *err)
{
    struct child child;
    if (spawn_start(argv, env, SPAWN_READ_STDOUT, &child, err) < 0)
        return error_wrap(err, "cannot run %s", argv[0]);
    struct error read_err;
    int rc = bundle_read_fd(b, child.fd, &read_err);
    /* The program's own verdict first: its message says more than ours. */
    if (spawn_finish(&child, err) < 0)
        return -1;
    if (rc < 0) {
        *err = read_err;
        return error_wrap(err, "cannot read the output of %s", argv[0]);
    }
    return bundle_end(b, name, err);
}

/* A list as the NULL-terminated array spawn wants; caller frees the array. */
static const char **terminated(const struct config_strings *list)
{
    const char **out = xcalloc(list->count + 1, sizeof *out);
    for (size_t i = 0; i < list->count; i++)
        out[i] = list->items[i];
    return out;
}

int command_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const struct command_settings *src = settings;
    char default_name[300];
    snprintf(default_name, sizeof default_name, "%s.out", ctx->snapshot->source);
    const char **argv = terminated(&src->command), **names = terminated(&src->env);
    struct bundle b;
    bundle_init(&b, ctx);
    struct spawn_env env = {.pass = names};
    int rc = store_output(&b, argv, &env, src->name ? src->name : default_name, err);
    if (rc == 0)
        rc = bundle_finish(&b, ctx->snapshot->root, err);
    if (rc == 0) {
        json_t *meta = json_object(), *list = json_array();
        for (size_t i = 0; i < src->command.count; i++)
            json_array_append_new(list, json_string(src->command.items[i]));
        json_object_set_new(meta, "command", list);
        ctx->snapshot->meta_json = json_dumps(meta, JSON_COMPACT);
        json_decref(meta);
    }
    bundle_free(&b);
    free(argv);
    free(names);
    return rc;
}

static const struct spawn_env git_env = {.pass = spawn_pass_git};

int git_head(const char *path, char *out, size_t size, struct error *err)
{
    const char *argv[] = {"git", "-C", path, "rev-parse", "--verify", "HEAD", NULL};
    if (spawn_read_line(argv, &git_env, out, size, err) < 0)
        return error_wrap(err, "cannot read the HEAD revision of %s", path);
    return 0;
}

int git_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const char *path = ((const struct git_settings *)settings)->path;
    char head[128], branch[256];
    struct error no_branch;
    if (git_head(path, head, sizeof head, err) < 0)
        return -1;
    const char *branch_argv[] = {"git", "-C", path, "symbolic-ref", "--quiet", "--short", "HEAD", NULL};
    bool is_detached = spawn_read_line(branch_argv, &git_env, branch, sizeof branch, &no_branch) < 0;
    struct bundle b;
    bundle_init(&b, ctx);
    const char *argv[] = {"git", "-C", path, "bundle", "create", "--quiet", "-", "--all", NULL};
    int rc = store_output(&b, argv, &git_env, GIT_BUNDLE_NAME, err);
    if (rc == 0)
        rc = bundle_finish(&b, ctx->snapshot->root, err);
    if (rc == 0) {
        json_t *meta = json_pack("{s:s, s:s}", "path", path, "head", head);
        json_object_set_new(meta, "branch", is_detached ? json_null() : json_string(branch));
        ctx->snapshot->meta_json = json_dumps(meta, JSON_COMPACT);
        json_decref(meta);
    }
    if (rc < 0)
        error_wrap(err, "cannot bundle the git repository %s", path);
    bundle_free(&b);
    return rc;
}

int command_probe(const void *settings, char *what, size_t size, struct error *err)
{
    const char *program = ((const struct command_settings *)settings)->command.items[0];
    if (strchr(program, '/')) {
        if (access(program, X_OK) < 0)
            return error_errno(err, errno, "cannot run %s", program);
        snprintf(what, size, "%s can be run", program);
        return 0;
    }
    const char *path = getenv("PATH");
    char candidate[4096];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, p, program);
        if (len && access(candidate, X_OK) == 0) {
            snprintf(what, size, "%s is %s", program, candidate);
            return 0;
        }
        p += len + (p[len] == ':');
    }
    return error_setk(err, ERR_NOT_FOUND, "%s is not installed (not found in PATH)", program);
}

int git_probe(const void *settings, char *what, size_t size, struct error *err)
{
    const char *path = ((const struct git_settings *)settings)->path;
    char head[128];
    if (git_head(path, head, sizeof head, err) < 0)
        return -1;
    snprintf(what, size, "HEAD %.12s", head);
    return 0;
}
