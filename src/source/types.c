/*
 * types.c — the table of source types (see types.h).
 *
 * Each row joins a type's parts: its keys (offsets into the settings
 * struct its own header declares), its backup function, its restore
 * targets and drill, and the facts the other commands ask about. The
 * small adapters below exist only where a shared function (ops_restore_file)
 * needs a type's own constant.
 */
#include "source/types.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "ops/drill.h"
#include "ops/ops.h"
#include "repo/tree.h"
#include "source/bucket.h"
#include "source/env.h"
#include "source/exclude.h"
#include "source/postgres.h"
#include "source/program.h"
#include "source/redis.h"
#include "util/spawn.h"

/* ---- postgres ---- */

#define PG(member) offsetof(struct postgres_settings, member)
static const char *const postgres_formats[] = {"custom", "directory", NULL};

static const struct config_field postgres_fields[] = {
    {.name = "url", .kind = CONFIG_STRING, .offset = PG(url), .is_required = true, .check = config_url_secret_problem},
    {.name = "globals", .kind = CONFIG_BOOL, .offset = PG(globals)},
    {.name = "exports", .kind = CONFIG_STRINGS, .offset = PG(exports)},
    {.name = "jobs", .kind = CONFIG_UINT, .offset = PG(jobs), .min = 1, .max = 64, .dflt = 1},
    {.name = "password_file", .kind = CONFIG_STRING, .offset = PG(password_file)},
    {.name = "format", .kind = CONFIG_CHOICE, .offset = PG(format), .choices = postgres_formats},
    {.name = NULL},
};

static bool is_database_url(const char *target)
{
    return !strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11);
}

/* ---- redis ---- */

#define REDIS(member) offsetof(struct redis_settings, member)

static const struct config_field redis_fields[] = {
    {.name = "url", .kind = CONFIG_STRING, .offset = REDIS(url), .is_required = true,
     .check = config_url_secret_problem},
    {.name = "password_file", .kind = CONFIG_STRING, .offset = REDIS(password_file)},
    {.name = "tls_ca_file", .kind = CONFIG_STRING, .offset = REDIS(tls_ca_file)},
    {.name = NULL},
};

/* A Redis snapshot restored to a path ending in .rdb is that file. */
static bool is_rdb_path(const char *target)
{
    size_t len = strlen(target);
    return len > 4 && !strcmp(target + len - 4, ".rdb");
}

static int restore_rdb(struct repo *repo, const struct snapshot *snap, const struct restore_request *req, char *note,
                       size_t note_size, struct error *err)
{
    (void)note, (void)note_size;
    return ops_restore_file(repo, snap, REDIS_RDB_NAME, req->target, req->workers, err);
}

/* ---- files, env ---- */

#define FILES(member) offsetof(struct files_settings, member)
#define ENV(member) offsetof(struct env_settings, member)

static const struct config_field files_fields[] = {
    {.name = "paths", .kind = CONFIG_STRINGS, .offset = FILES(paths), .is_required = true, .min = 1},
    {.name = "exclude", .kind = CONFIG_STRINGS, .offset = FILES(exclude), .check = exclude_check},
    {.name = NULL},
};

static const struct config_field env_fields[] = {
    {.name = "paths", .kind = CONFIG_STRINGS, .offset = ENV(paths), .is_required = true, .min = 1},
    {.name = "redact", .kind = CONFIG_STRINGS, .offset = ENV(redact)},
    {.name = NULL},
};

/* ---- command, git ---- */

#define COMMAND(member) offsetof(struct command_settings, member)

static const struct config_field command_fields[] = {
    {.name = "command", .kind = CONFIG_STRINGS, .offset = COMMAND(command), .is_required = true, .min = 1},
    {.name = "env", .kind = CONFIG_STRINGS, .offset = COMMAND(env), .check = spawn_check_env_name},
    {.name = "name", .kind = CONFIG_STRING, .offset = COMMAND(name), .check = tree_path_problem},
    {.name = NULL},
};

static const struct config_field git_fields[] = {
    {.name = "path", .kind = CONFIG_STRING, .offset = offsetof(struct git_settings, path), .is_required = true},
    {.name = NULL},
};

/* ---- bucket ---- */

#define BUCKET(member) offsetof(struct bucket_settings, member)

static const struct config_field bucket_fields[] = {
    {.name = "url", .kind = CONFIG_STRING, .offset = BUCKET(url), .is_required = true},
    {.name = "endpoint", .kind = CONFIG_STRING, .offset = BUCKET(endpoint)},
    {.name = "region", .kind = CONFIG_STRING, .offset = BUCKET(region)},
    {.name = "path_style", .kind = CONFIG_CHOICE, .offset = BUCKET(path_style), .choices = config_true_false},
    {.name = "credentials_file", .kind = CONFIG_STRING, .offset = BUCKET(credentials_file)},
    {.name = "profile", .kind = CONFIG_STRING, .offset = BUCKET(profile)},
    {.name = "ca_file", .kind = CONFIG_STRING, .offset = BUCKET(ca_file)},
    {.name = "exclude", .kind = CONFIG_STRINGS, .offset = BUCKET(exclude), .check = exclude_check},
    {.name = NULL},
};

/* ---- the table ---- */

#define DB_PASSWORD_FLAG                                                                                      \
    {"db-password-file", "F", "password_file", "with --postgres or --redis: the password (else the "         \
                                               "URL, ~/.pgpass or PGPASSFILE)"}

const struct source_type source_types[] = {
    {
        .name = "postgres",
        .fields = postgres_fields,
        .settings_size = sizeof(struct postgres_settings),
        .flag = {"postgres", "URL", "url", "back up a PostgreSQL database (libpq URL) with pg_dump", true},
        .flags = {{"globals", NULL, "globals", "with --postgres: also roles and tablespaces (pg_dumpall)"},
                  {"export", "TABLE", "exports", "with --postgres: also export TABLE as JSON lines (repeat)"},
                  DB_PASSWORD_FLAG},
        .default_name = "db",
        .validate = postgres_validate,
        .backup = postgres_backup,
        .probe = postgres_probe,
        .targets = {{.what = "a database URL (postgresql://...)", .matches = is_database_url, .is_url = true,
                     .restore = ops_restore_database, .into = "into the database"}},
        .drill = ops_drill_postgres,
        .main_stream = POSTGRES_DUMP_NAME,
        .tables = postgres_snapshot_tables,
        .has_scratch_server = true,
        .drill_drop = ops_drill_drop_database,
    },
    {
        .name = "redis",
        .fields = redis_fields,
        .settings_size = sizeof(struct redis_settings),
        .flag = {"redis", "URL", "url", "back up a Redis server's RDB (redis://[user@]host[:port], or "
                                        "rediss:// for TLS), taken over the replication protocol", true},
        .flags = {{"tls-ca-file", "F", "tls_ca_file", "with a rediss:// URL: the CA certificates to trust (default: "
                                                      "the system's)"},
                  DB_PASSWORD_FLAG},
        .default_name = "cache",
        .backup = redis_backup,
        .probe = redis_probe,
        .targets = {{.what = "a file ending in .rdb", .matches = is_rdb_path, .restore = restore_rdb}},
        .drill = ops_drill_redis,
        .main_stream = REDIS_RDB_NAME,
    },
    {
        .name = "files",
        .fields = files_fields,
        .settings_size = sizeof(struct files_settings),
        .arguments_key = "paths",
        .default_name = "files",
        .backup = files_source_backup,
        .probe = files_probe,
        .is_incremental = true,
        .is_tree = true,
    },
    {
        .name = "env",
        .fields = env_fields,
        .settings_size = sizeof(struct env_settings),
        .backup = env_backup,
        .probe = env_probe,
        .is_tree = true,
        .redact_words = env_redact_words,
    },
    {
        .name = "command",
        .fields = command_fields,
        .settings_size = sizeof(struct command_settings),
        .backup = command_backup,
        .probe = command_probe,
    },
    {
        .name = "git",
        .fields = git_fields,
        .settings_size = sizeof(struct git_settings),
        .backup = git_backup,
        .probe = git_probe,
        .revision_key = "path",
        .drill = ops_drill_git,
        .main_stream = GIT_BUNDLE_NAME,
    },
    {
        .name = "bucket",
        .fields = bucket_fields,
        .settings_size = sizeof(struct bucket_settings),
        .default_name = "bucket",
        .validate = bucket_validate,
        .backup = bucket_backup,
        .probe = bucket_probe,
        .is_incremental = true,
        .is_tree = true,
        .targets = {{.what = "a bucket location (s3://BUCKET/PREFIX)", .matches = bucket_is_location,
                     .restore = bucket_restore, .into = NULL}},
    },
    {
        .name = "stream", /* standard input: no coffer.yaml type, as a file has no stdin */
        .flag = {"stdin", NULL, NULL, "back up standard input as one stream"},
        .default_name = "stdin",
        .reads_stdin = true,
        .backup = stream_source_backup,
    },
    {.name = NULL},
};

void table_rows_free(struct table_rows *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i].name);
    free(list);
}

const struct source_type *source_type_find(const char *name)
{
    for (const struct source_type *t = source_types; name && t->name; t++)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

void source_type_names(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (const struct source_type *t = source_types; t->name; t++)
        if (t->fields && used < size)
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", t->name);
}

const struct source_target *source_target_find(const struct source_type *kind, const char *target)
{
    for (size_t i = 0; i < SOURCE_TARGETS_MAX && kind->targets[i].matches; i++)
        if (kind->targets[i].matches(target))
            return &kind->targets[i];
    return NULL;
}
