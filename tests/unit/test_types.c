/*
 * test_types.c — the source-type table (source/types.h) holds together:
 * every flag sets a key its type has, of the kind the flag supplies; a
 * source made of flags gets the same checks and defaults as one read from
 * coffer.yaml; the generic accessors find shared keys without naming a
 * type; targets and facts are where the commands look for them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config/config.h"
#include "source/postgres.h"
#include "source/types.h"

static const struct config_field *field_of(const struct source_type *t, const char *key)
{
    return config_field_find(t->fields, key);
}

/* A flag's key exists in its type's table: a switch sets a bool, a flag
 * with an argument a string, choice, number or list. */
static void assert_flag_fits(const struct source_type *t, const struct source_flag *f)
{
    if (!f->name || !f->key)
        return;
    const struct config_field *field = field_of(t, f->key);
    if (!field)
        fail_msg("type %s: flag --%s sets %s, which the type does not have", t->name, f->name, f->key);
    if (f->arg)
        assert_true(field->kind == CONFIG_STRING || field->kind == CONFIG_CHOICE || field->kind == CONFIG_UINT ||
                    field->kind == CONFIG_STRINGS);
    else
        assert_int_equal(field->kind, CONFIG_BOOL);
}

static void test_every_flag_sets_a_key_of_its_type(void **state)
{
    (void)state;
    size_t rows = 0;
    for (const struct source_type *t = source_types; t->name; t++, rows++) {
        assert_non_null(t->backup);
        assert_flag_fits(t, &t->flag);
        for (size_t i = 0; i < SOURCE_FLAGS_MAX; i++)
            assert_flag_fits(t, &t->flags[i]);
        if (t->arguments_key)
            assert_int_equal(field_of(t, t->arguments_key)->kind, CONFIG_STRINGS);
        if (t->revision_key)
            assert_int_equal(field_of(t, t->revision_key)->kind, CONFIG_STRING);
        if (t->fields)
            assert_true(t->settings_size > 0);
        if (t->flag.name || t->arguments_key)
            assert_non_null(t->default_name);
        assert_true(!t->has_scratch_server || t->drill_drop);
        assert_ptr_equal(source_type_find(t->name), t);
    }
    assert_true(rows >= 7);
    assert_null(source_type_find("nosuch"));
    assert_null(source_type_find(NULL));
}

/* The names listed in messages are the coffer.yaml types: not stdin's. */
static void test_names_list_the_file_types(void **state)
{
    (void)state;
    char names[256];
    source_type_names(names, sizeof names);
    assert_string_equal(names, "postgres, redis, files, env, command, git, bucket");
}

static void test_source_from_flags_is_checked_like_the_file(void **state)
{
    (void)state;
    const struct source_type *pg = source_type_find("postgres");
    struct config_source src;
    struct error err;
    config_source_init(&src, pg, "db");
    assert_string_equal(src.name, "db");
    assert_int_equal(config_source_uint(&src, "jobs"), 1); /* the table's default */

    assert_int_equal(config_source_set(&src, "url", "postgresql://app@127.0.0.1/app", &err), 0);
    assert_int_equal(config_source_set(&src, "globals", NULL, &err), 0);
    assert_int_equal(config_source_set(&src, "exports", "users", &err), 0);
    assert_int_equal(config_source_set(&src, "exports", "orders", &err), 0);
    const struct postgres_settings *s = src.settings;
    assert_string_equal(s->url, "postgresql://app@127.0.0.1/app");
    assert_true(s->globals);
    assert_int_equal(s->exports.count, 2);
    assert_string_equal(s->exports.items[1], "orders");

    /* A password in the URL is refused, and the refusal does not repeat it. */
    assert_int_equal(config_source_set(&src, "url", "postgresql://app:hunter2@h/app", &err), -1);
    assert_null(strstr(err.msg, "hunter2"));
    assert_non_null(strstr(err.msg, "password"));
    assert_string_equal(s->url, "postgresql://app@127.0.0.1/app"); /* unchanged */

    assert_int_equal(config_source_set(&src, "jobs", "0", &err), -1);
    assert_string_equal(err.msg, "jobs: must be 1..64");
    assert_int_equal(config_source_set(&src, "jobs", "65", &err), -1);
    assert_int_equal(config_source_set(&src, "jobs", "4x", &err), -1);
    assert_int_equal(config_source_set(&src, "jobs", "8", &err), 0);
    assert_int_equal(config_source_uint(&src, "jobs"), 8);

    assert_int_equal(config_source_set(&src, "format", "tar", &err), -1);
    assert_int_equal(config_source_set(&src, "format", "directory", &err), 0);
    assert_non_null(pg->validate(src.settings)); /* directory: not yet */

    assert_int_equal(config_source_set(&src, "paths", "/srv", &err), -1);
    assert_non_null(strstr(err.msg, "postgres sources have no setting paths"));
    config_source_free(&src);
}

/* The accessors find a key several types share, and answer NULL or 0 for
 * a type that lacks it, or no source at all. */
static void test_shared_keys_without_naming_a_type(void **state)
{
    (void)state;
    struct config_source redis, files;
    struct error err;
    config_source_init(&redis, source_type_find("redis"), "cache");
    config_source_init(&files, source_type_find("files"), "up");
    assert_int_equal(config_source_set(&redis, "password_file", "/etc/coffer/r", &err), 0);
    assert_int_equal(config_source_set(&files, "paths", "/srv/a", &err), 0);
    assert_int_equal(config_source_set(&files, "paths", "/srv/b", &err), 0);
    assert_string_equal(config_source_string(&redis, "password_file"), "/etc/coffer/r");
    assert_null(config_source_string(&files, "password_file"));
    assert_int_equal(config_source_uint(&redis, "jobs"), 0);
    assert_int_equal(config_source_strings(&files, "paths").count, 2);
    assert_int_equal(config_source_strings(&redis, "paths").count, 0);
    assert_null(config_source_string(NULL, "password_file"));
    config_source_free(&redis);
    config_source_free(&files);
}

static void test_targets_and_facts(void **state)
{
    (void)state;
    const struct source_type *pg = source_type_find("postgres"), *redis = source_type_find("redis"),
                             *files = source_type_find("files"), *stream = source_type_find("stream");
    const struct source_target *t = source_target_find(pg, "postgresql://h/app");
    assert_non_null(t);
    assert_true(t->is_url);
    assert_non_null(source_target_find(pg, "postgres://h/app"));
    assert_null(source_target_find(pg, "/tmp/out"));
    assert_non_null(source_target_find(redis, "/tmp/dump.rdb"));
    assert_null(source_target_find(redis, "/tmp/rdb"));
    assert_null(source_target_find(files, "postgresql://h/app"));
    assert_true(files->is_incremental && files->is_tree);
    assert_true(!stream->main_stream && !stream->is_tree && stream->reads_stdin); /* dump prints its one file */
    assert_string_equal(pg->main_stream, "db.dump");
    assert_string_equal(redis->main_stream, "dump.rdb");
    assert_null(stream->fields); /* not a coffer.yaml type */
    assert_true(pg->has_scratch_server);
    assert_non_null(source_type_find("env")->redact_words);
    assert_null(files->redact_words);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_flag_sets_a_key_of_its_type),
        cmocka_unit_test(test_names_list_the_file_types),
        cmocka_unit_test(test_source_from_flags_is_checked_like_the_file),
        cmocka_unit_test(test_shared_keys_without_naming_a_type),
        cmocka_unit_test(test_targets_and_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
