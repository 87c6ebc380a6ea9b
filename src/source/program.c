/*
 * program.c — command and git sources (see program.h).
 */
#include "source/program.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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

int command_backup(struct backup_ctx *ctx, const struct command_source *src, uint8_t root_out[CRYPTO_ID_SIZE],
                   struct error *err)
{
    struct bundle b;
    bundle_init(&b, ctx);
    struct spawn_env env = {.pass = src->env};
    int rc = store_output(&b, (const char *const *)src->argv, &env, src->name, err);
    if (rc == 0)
        rc = bundle_finish(&b, root_out, err);
    if (rc == 0) {
        json_t *meta = json_object(), *argv = json_array();
        for (char *const *a = src->argv; *a; a++)
            json_array_append_new(argv, json_string(*a));
        json_object_set_new(meta, "command", argv);
        ctx->snapshot->meta_json = json_dumps(meta, JSON_COMPACT);
        json_decref(meta);
    }
    bundle_free(&b);
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

int git_backup(struct backup_ctx *ctx, const char *path, uint8_t root_out[CRYPTO_ID_SIZE], struct error *err)
{
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
        rc = bundle_finish(&b, root_out, err);
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
