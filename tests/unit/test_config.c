/*
 * test_config.c — coffer.yaml: a well-formed file loads with every value
 * where the caller expects it, defaults fill what is left out, and every
 * mistake a person editing the file can make is refused with a message
 * naming the file, the line and the key. Also where the file is looked for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "source/postgres.h"
#include "source/redis.h"
#include "source/source.h"
#include "source/types.h"

/* A source's settings, as its type's struct. */
#define PG(src) ((const struct postgres_settings *)(src)->settings)
#define REDIS(src) ((const struct redis_settings *)(src)->settings)
#define FILES(src) ((const struct files_settings *)(src)->settings)
#include "testing.h"

struct fixture {
    char dir[64];
    char path[128];        /* dir/coffer.yaml */
    char old_cwd[PATH_MAX];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || test_make_tmpdir(f->dir) != 0 || !getcwd(f->old_cwd, sizeof f->old_cwd))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/coffer.yaml", f->dir);
    unsetenv("COFFER_CONFIG");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unsetenv("COFFER_CONFIG");
    if (chdir(f->old_cwd) != 0)
        return -1;
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(test_write_text(path, text), 0);
}

/* Writes text as dir/coffer.yaml and loads it; returns config_load's result. */
static int load_text(struct fixture *f, const char *text, struct config *cfg, struct error *err)
{
    write_text(f->path, text);
    error_clear(err);
    return config_load(f->path, cfg, err);
}

/* Loading text fails and the message contains want (and, being an error
 * about this file, the file's name). The config is left empty. */
static void assert_load_fails(struct fixture *f, const char *text, const char *want)
{
    struct config cfg;
    struct error err;
    int rc = load_text(f, text, &cfg, &err);
    if (rc == 0 || !strstr(err.msg, want) || !strstr(err.msg, f->path))
        print_error("want an error containing [%s], got rc %d: %s\n", want, rc, err.msg);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, f->path));
    assert_null(cfg.path);
    assert_int_equal(cfg.source_count, 0);
    config_free(&cfg);
}

static const char example[] =
    "repository: /srv/backups/repo        # later also s3://bucket/prefix\n"
    "password_file: /etc/coffer/pass\n"
    "sources:\n"
    "  db:\n"
    "    type: postgres\n"
    "    url: postgresql://postgres@127.0.0.1:5432/app   # any libpq URL\n"
    "    globals: true\n"
    "    exports: [customer_configs, conversations, messages, users, scrape_jobs]\n"
    "    jobs: 4\n"
    "    password_file: /etc/coffer/db-pass\n";

/* The documented example loads with every field where the caller expects it. */
static void test_config_example_loads_every_field(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(load_text(f, example, &cfg, &err), 0);

    assert_string_equal(cfg.path, f->path);
    assert_string_equal(cfg.repository, "/srv/backups/repo");
    assert_string_equal(cfg.password_file, "/etc/coffer/pass");
    assert_int_equal(cfg.source_count, 1);
    const struct config_source *db = &cfg.sources[0];
    assert_string_equal(db->name, "db");
    assert_string_equal(db->kind->name, "postgres");
    assert_int_equal(db->line, 4);
    assert_string_equal(PG(db)->url, "postgresql://postgres@127.0.0.1:5432/app");
    assert_true(PG(db)->globals);
    static const char *const exports[] = {"customer_configs", "conversations", "messages", "users", "scrape_jobs"};
    assert_int_equal(PG(db)->exports.count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(PG(db)->exports.items[i], exports[i]);
    assert_int_equal(PG(db)->jobs, 4);
    assert_string_equal(PG(db)->password_file, "/etc/coffer/db-pass");
    assert_null(PG(db)->format);
    assert_int_equal(db->tags.count, 0);
    config_free(&cfg);
}

/* Keys left out take their documented defaults. */
static void test_config_defaults_fill_what_is_left_out(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(load_text(f, "sources:\n  db:\n    type: postgres\n    url: postgresql:///app\n", &cfg, &err), 0);

    assert_null(cfg.repository);
    assert_null(cfg.password_file);
    assert_int_equal(cfg.source_count, 1);
    const struct config_source *db = &cfg.sources[0];
    assert_false(PG(db)->globals);
    assert_int_equal(PG(db)->exports.count, 0);
    assert_null(PG(db)->exports.items);
    assert_int_equal(PG(db)->jobs, 1);
    assert_null(PG(db)->password_file);
    assert_null(PG(db)->format);
    assert_int_equal(db->tags.count, 0);
    config_free(&cfg);
}

/* A file with only top-level settings and no sources is fine. */
static void test_config_sources_are_optional(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(load_text(f, "repository: /srv/r\n", &cfg, &err), 0);

    assert_string_equal(cfg.repository, "/srv/r");
    assert_int_equal(cfg.source_count, 0);
    config_free(&cfg);
}

/* Several sources of both types keep file order, tags, format and lists
 * written either way ([a, b] or one "- item" a line). */
static void test_config_sources_keep_file_order_and_all_keys(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    const char *text = "sources:\n"
                       "  home:\n"
                       "    type: files\n"
                       "    tags: [nightly]\n"
                       "    paths:\n"
                       "      - /home\n"
                       "      - /etc\n"
                       "    exclude: ['*.tmp']\n"
                       "  app.db-2:\n"
                       "    type: postgres\n"
                       "    url: \"host=/run/postgresql dbname=app\"\n"
                       "    format: directory\n"
                       "    globals: false\n";

    assert_int_equal(load_text(f, text, &cfg, &err), 0);

    assert_int_equal(cfg.source_count, 2);
    const struct config_source *home = &cfg.sources[0], *db = &cfg.sources[1];
    assert_string_equal(home->name, "home");
    assert_string_equal(home->kind->name, "files");
    assert_int_equal(home->line, 2);
    assert_int_equal(home->tags.count, 1);
    assert_string_equal(home->tags.items[0], "nightly");
    assert_int_equal(FILES(home)->paths.count, 2);
    assert_string_equal(FILES(home)->paths.items[0], "/home");
    assert_string_equal(FILES(home)->paths.items[1], "/etc");
    assert_int_equal(FILES(home)->exclude.count, 1);
    assert_string_equal(FILES(home)->exclude.items[0], "*.tmp");
    assert_string_equal(db->name, "app.db-2");
    assert_int_equal(db->line, 9);
    assert_string_equal(PG(db)->url, "host=/run/postgresql dbname=app");
    assert_string_equal(PG(db)->format, "directory");
    assert_false(PG(db)->globals);
    config_free(&cfg);
}

/* config_find_source finds a source by name and returns NULL for others. */
static void test_config_find_source_by_name(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    assert_int_equal(load_text(f,
                               "sources:\n"
                               "  a: {type: files, paths: [/a]}\n"
                               "  b: {type: files, paths: [/b]}\n",
                               &cfg, &err), 0);

    const struct config_source *b = config_find_source(&cfg, "b");

    assert_non_null(b);
    assert_string_equal(FILES(b)->paths.items[0], "/b");
    assert_null(config_find_source(&cfg, "c"));
    assert_null(config_find_source(&cfg, "B"));
    config_free(&cfg);
}

/* Values are literal: no $VARIABLE expansion. */
static void test_config_values_are_not_expanded(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    setenv("COFFER_TEST_DIR", "/expanded", 1);

    assert_int_equal(load_text(f, "repository: $COFFER_TEST_DIR/repo\npassword_file: ${HOME}/p\n", &cfg, &err), 0);

    assert_string_equal(cfg.repository, "$COFFER_TEST_DIR/repo");
    assert_string_equal(cfg.password_file, "${HOME}/p");
    unsetenv("COFFER_TEST_DIR");
    config_free(&cfg);
}

/* A tag such as !env, which would suggest expansion, is refused. */
static void test_config_custom_tag_is_refused(void **state)
{
    assert_load_fails(*state, "repository: !env COFFER_REPO\n", "coffer.yaml:1: repository: the tag !env is not supported");
}

/* Anchors and aliases let sources share a list. */
static void test_config_aliases_are_followed(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    const char *text = "sources:\n"
                       "  a: {type: files, tags: &t [x, y], paths: [/a]}\n"
                       "  b: {type: files, tags: *t, paths: [/b]}\n";

    assert_int_equal(load_text(f, text, &cfg, &err), 0);

    assert_int_equal(cfg.sources[1].tags.count, 2);
    assert_string_equal(cfg.sources[1].tags.items[1], "y");
    config_free(&cfg);
}

/* An alias without its anchor is refused, naming the alias and its line. */
static void test_config_alias_without_anchor(void **state)
{
    assert_load_fails(*state, "repository: /r\nsources:\n  b: {type: files, tags: *t, paths: [/b]}\n",
                      "coffer.yaml:3: alias *t names no anchor (&t) before it");
    assert_load_fails(*state, "repository: *r", "coffer.yaml:1: alias *r names no anchor (&r) before it");
}

/* An alias may make a list its own item: that is refused, not followed forever. */
static void test_config_alias_cycle_is_refused(void **state)
{
    assert_load_fails(*state, "- &a [*a]\n", "coffer.yaml:1: expected a mapping of settings");
    assert_load_fails(*state, "sources: &s {a: *s}\n", "coffer.yaml:1: sources.a: missing required key \"type\"");
}

/* A bool that is not true or false is refused, quoted as written. */
static void test_config_bad_bool_names_file_line_key(void **state)
{
    const char *text = "repository: /r\n"
                       "password_file: /p\n"
                       "sources:\n"
                       "  db:\n"
                       "    type: postgres\n"
                       "    url: postgresql:///app\n"
                       "    globals: yes please\n";
    assert_load_fails(*state, text, "coffer.yaml:7: sources.db.globals: expected true or false, got \"yes please\"");
}

/* YAML 1.1's "yes" is not guessed at either. */
static void test_config_yes_is_not_a_bool(void **state)
{
    assert_load_fails(*state, "sources:\n  db: {type: postgres, url: x, globals: yes}\n",
                      "coffer.yaml:2: sources.db.globals: expected true or false, got \"yes\"");
}

/* A misspelt key is refused with the list of keys this source type knows. */
static void test_config_unknown_key_lists_known_keys(void **state)
{
    const char *text = "sources:\n"
                       "  db:\n"
                       "    type: postgres\n"
                       "    urll: postgresql:///app\n";
    assert_load_fails(*state, text,
                      "coffer.yaml:4: sources.db: unknown key \"urll\" "
                      "(known: type, tags, retention, health, objectives, drill, url, globals, exports, jobs, password_file, format)");
}

/* A key of another source type is unknown too. */
static void test_config_key_of_other_type_is_unknown(void **state)
{
    assert_load_fails(*state, "sources:\n  home:\n    type: files\n    paths: [/]\n    url: x\n",
                      "coffer.yaml:5: sources.home: unknown key \"url\" (known: type, tags, retention, health, objectives, drill, paths, exclude)");
}

/* An unknown top-level key lists the top-level keys. */
static void test_config_unknown_top_level_key(void **state)
{
    assert_load_fails(*state, "repository: /r\nrepo: /r\n",
                      "coffer.yaml:2: unknown key \"repo\" (known: repository, password_file, git_revision_of, lock_wait, retention, health, objectives, drill, s3, sources, schedule, state_dir, alerts, metrics)");
}

/* A required key left out is named, at the source's line. */
static void test_config_missing_required_key(void **state)
{
    const char *text = "repository: /r\n"
                       "sources:\n"
                       "  other: {type: files, paths: [/]}\n"
                       "  db:\n"
                       "    type: postgres\n"
                       "    jobs: 2\n";
    assert_load_fails(*state, text, "coffer.yaml:4: sources.db: missing required key \"url\"");
}

/* A source without a type is refused, listing the types. */
static void test_config_missing_type(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    url: x\n",
                      "coffer.yaml:2: sources.db: missing required key \"type\" (one of: postgres, redis, files, env, command, git, bucket)");
}

/* An unknown type is refused, listing the types. */
static void test_config_unknown_source_type(void **state)
{
    const char *text = "sources:\n"
                       "  db: {type: postgres, url: x}\n"
                       "  cache:\n"
                       "    type: redys\n";
    assert_load_fails(*state, text, "coffer.yaml:4: sources.cache: unknown source type \"redys\" (known: postgres, redis, files, env, command, git, bucket)");
}

/* A Redis source has a URL and a password file, and nothing of PostgreSQL's. */
static void test_config_redis_source(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    const char *text = "sources:\n"
                       "  cache:\n"
                       "    type: redis\n"
                       "    url: redis://127.0.0.1:6379\n"
                       "    password_file: /etc/coffer/redis-pass\n";
    assert_int_equal(load_text(f, text, &cfg, &err), 0);
    const struct config_source *cache = config_find_source(&cfg, "cache");
    assert_non_null(cache);
    assert_string_equal(cache->kind->name, "redis");
    assert_string_equal(REDIS(cache)->url, "redis://127.0.0.1:6379");
    assert_string_equal(REDIS(cache)->password_file, "/etc/coffer/redis-pass");
    config_free(&cfg);
    assert_load_fails(f, "sources:\n  cache:\n    type: redis\n    url: redis://:hunter2@h:6379\n",
                      "coffer.yaml:4: sources.cache.url: the URL contains a password");
    assert_load_fails(f, "sources:\n  cache:\n    type: redis\n    url: redis://h\n    globals: true\n",
                      "unknown key \"globals\" (known: type, tags, retention, health, objectives, drill, url, password_file, tls_ca_file)");
}

/* An exclude pattern that could never match is refused with the file and line. */
static void test_config_bad_exclude_pattern(void **state)
{
    assert_load_fails(*state, "sources:\n  up:\n    type: files\n    paths: [/srv]\n    exclude: [\"*.tmp\", \"srv/app\"]\n",
                      "coffer.yaml:5: sources.up.exclude");
}

/* A YAML syntax error names the line. */
static void test_config_yaml_syntax_error_has_line(void **state)
{
    const char *text = "repository: /r\n"
                       "sources:\n"
                       "  db:\n"
                       "    type: postgres\n"
                       "   url: x\n";
    assert_load_fails(*state, text, "coffer.yaml:5: invalid YAML");
}

/* An empty file is refused rather than read as "no settings". */
static void test_config_empty_file_is_refused(void **state)
{
    assert_load_fails(*state, "", "coffer.yaml:1: the file has no settings");
}

/* A file of comments only is empty too. */
static void test_config_comments_only_file_is_refused(void **state)
{
    assert_load_fails(*state, "# nothing yet\n\n", "coffer.yaml:1: the file has no settings");
}

/* A top level that is a list or a word is refused. */
static void test_config_top_level_not_mapping(void **state)
{
    assert_load_fails(*state, "# a list\n- repository: /r\n",
                      "coffer.yaml:2: expected a mapping of settings (repository: ..., sources: ...) at the top level, got a list");
    assert_load_fails(*state, "/srv/repo\n", "coffer.yaml:1: expected a mapping of settings");
}

/* A second YAML document would be ignored, so it is refused. */
static void test_config_second_document_is_refused(void **state)
{
    assert_load_fails(*state, "repository: /r\n---\nrepository: /s\n", "coffer.yaml:3: the file holds more than one YAML document");
}

/* A "---" with nothing after it ends the one document; it is not a second one. */
static void test_config_trailing_document_marker_is_harmless(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(load_text(f, "---\nrepository: /r\n---\n", &cfg, &err), 0);

    assert_string_equal(cfg.repository, "/r");
    config_free(&cfg);
}

/* Merge keys (<<) are refused by name rather than reported as a missing type. */
static void test_config_merge_key_is_refused(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    <<: {type: postgres, url: x}\n",
                      "coffer.yaml:3: sources.db: merge keys (<<) are not supported");
}

/* Two sources of one name are refused, pointing at both. */
static void test_config_duplicate_source_name(void **state)
{
    const char *text = "sources:\n"
                       "  db: {type: postgres, url: x}\n"
                       "  home: {type: files, paths: [/]}\n"
                       "  db: {type: postgres, url: y}\n";
    assert_load_fails(*state, text, "coffer.yaml:4: sources: duplicate source name \"db\" (first on line 2)");
}

/* A key given twice within a source is refused. */
static void test_config_duplicate_key(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    url: y\n",
                      "coffer.yaml:5: sources.db: duplicate key \"url\" (first on line 4)");
}

/* A top-level key given twice is refused. */
static void test_config_duplicate_top_level_key(void **state)
{
    assert_load_fails(*state, "repository: /a\nrepository: /b\n",
                      "coffer.yaml:2: duplicate key \"repository\" (first on line 1)");
}

/* Source names are simple identifiers. */
static void test_config_source_name_must_be_identifier(void **state)
{
    assert_load_fails(*state, "sources:\n  my db: {type: files, paths: [/]}\n",
                      "coffer.yaml:2: sources: source name \"my db\" is not allowed");
    assert_load_fails(*state, "sources:\n  ../x: {type: files, paths: [/]}\n",
                      "coffer.yaml:2: sources: source name \"../x\" is not allowed");
    assert_load_fails(*state, "sources:\n  \"\": {type: files, paths: [/]}\n",
                      "coffer.yaml:2: sources: source name \"\" is not allowed");
}

/* A password in the file is refused, pointing at password_file, and not repeated. */
static void test_config_password_key_is_refused(void **state)
{
    const char *text = "sources:\n"
                       "  db:\n"
                       "    type: postgres\n"
                       "    url: x\n"
                       "    password: hunter2\n";
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(load_text(f, text, &cfg, &err), -1);

    assert_non_null(strstr(err.msg, "coffer.yaml:5: sources.db: \"password\" is not allowed"));
    assert_non_null(strstr(err.msg, "password_file"));
    assert_null(strstr(err.msg, "hunter2"));
}

/* The repository passphrase does not go in the file either. */
static void test_config_passphrase_key_is_refused(void **state)
{
    assert_load_fails(*state, "passphrase: hunter2\n", "coffer.yaml:1: \"passphrase\" is not allowed");
}

/* A password inside the database URL is refused, and not repeated. */
static void test_config_password_in_url_is_refused(void **state)
{
    static const char *const texts[] = {
        "sources:\n  db: {type: postgres, url: \"postgresql://app:hunter2@db:5432/app\"}\n",
        "sources:\n  db: {type: postgres, url: \"postgresql://db/app?sslmode=require&password=hunter2\"}\n",
        "sources:\n  db: {type: postgres, url: \"host=db password = hunter2\"}\n",
    };
    struct fixture *f = *state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct config cfg;
        struct error err;

        assert_int_equal(load_text(f, texts[i], &cfg, &err), -1);

        assert_non_null(strstr(err.msg, "coffer.yaml:2: sources.db.url: the URL contains a password"));
        assert_null(strstr(err.msg, "hunter2"));
    }
}

/* A user name, a port or an IPv6 host is not mistaken for a password. */
static void test_config_url_without_password_is_accepted(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    const char *text = "sources:\n"
                       "  db: {type: postgres, url: \"postgresql://app@[::1]:5432/app?passfile=/x&user=u\"}\n";

    assert_int_equal(load_text(f, text, &cfg, &err), 0);

    config_free(&cfg);
}

/* jobs outside 1..64, or not a number, is refused with the range. */
static void test_config_jobs_out_of_range(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    jobs: 65\n",
                      "coffer.yaml:5: sources.db.jobs: expected a whole number from 1 to 64, got \"65\"");
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    jobs: 0\n",
                      "coffer.yaml:5: sources.db.jobs: expected a whole number from 1 to 64, got \"0\"");
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    jobs: -2\n",
                      "sources.db.jobs: expected a whole number from 1 to 64, got \"-2\"");
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    jobs: 99999999999999999999\n",
                      "sources.db.jobs: expected a whole number from 1 to 64");
}

/* format is one of its words. */
static void test_config_format_must_be_known(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    format: tar\n",
                      "coffer.yaml:5: sources.db.format: expected \"custom\" or \"directory\", got \"tar\"");
}

/* A files source needs at least one path. */
static void test_config_files_needs_paths(void **state)
{
    assert_load_fails(*state, "sources:\n  home:\n    type: files\n    paths: []\n",
                      "coffer.yaml:4: sources.home.paths: expected a list of at least 1 string, got an empty list");
    assert_load_fails(*state, "sources:\n  home:\n    type: files\n",
                      "coffer.yaml:2: sources.home: missing required key \"paths\"");
}

/* A list entry that is not a string is named by its position. */
static void test_config_list_entry_must_be_string(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    exports:\n      - a\n      - [b]\n",
                      "sources.db.exports[1]: expected a string, got a list");
}

/* A list key given a single word is refused rather than guessed at. */
static void test_config_list_key_needs_list(void **state)
{
    assert_load_fails(*state, "sources:\n  db:\n    type: postgres\n    url: x\n    exports: users\n",
                      "coffer.yaml:5: sources.db.exports: expected a list of strings, got \"users\"");
}

/* A key with no value is refused rather than read as unset. */
static void test_config_empty_value_is_refused(void **state)
{
    assert_load_fails(*state, "repository: /r\npassword_file:\n",
                      "coffer.yaml:2: password_file: expected a string, got an empty value");
    assert_load_fails(*state, "repository: \"\"\n", "coffer.yaml:1: repository: expected a non-empty string");
}

/* A string key given a mapping is refused. */
static void test_config_string_key_needs_string(void **state)
{
    assert_load_fails(*state, "repository:\n  path: /r\n", "coffer.yaml:1: repository: expected a string, got a mapping");
}

/* sources must map names to settings. */
static void test_config_sources_must_be_mapping(void **state)
{
    assert_load_fails(*state, "sources:\n  - db\n", "coffer.yaml:1: sources: expected a mapping of source names");
    assert_load_fails(*state, "sources:\n  db: postgres\n",
                      "coffer.yaml:2: sources.db: expected a mapping with the source's type and settings, got \"postgres\"");
}

/* Loads text (len bytes) in a child that SIGALRM kills after 5 seconds.
 * Returns what the child found: 0 when config_load failed naming the
 * file's first line, 1 when it loaded or failed otherwise, -1 when it was
 * killed (the parser hung). */
static int load_in_child_with_time_limit(struct fixture *f, const char *text, size_t len)
{
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5);
        struct config cfg;
        struct error err;
        error_clear(&err);
        int rc = config_load(f->path, &cfg, &err);
        char want[160];
        snprintf(want, sizeof want, "%s:1: ", f->path);
        _exit(rc == -1 && strstr(err.msg, want) ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Issue #12, D12: the two bytes "%" 0x8a spun libfyaml's directive
 * scanner forever; the load must fail at once, naming line 1. */
static void test_config_damaged_directive_fails_in_time(void **state)
{
    int found = load_in_child_with_time_limit(*state, "%\x8a", 2);
    if (found == -1)
        print_error("config_load still running after 5 s: the YAML parser hangs\n");
    assert_int_equal(found, 0);
}

/* Bytes that are not UTF-8 are refused, naming the line and the byte. */
static void test_config_invalid_utf8_is_refused(void **state)
{
    assert_load_fails(*state, "repository: /r\nsources:\n  db: {type: postgres, url: \"x\xff\"}\n",
                      "coffer.yaml:3: the file is not UTF-8 text (byte 0xff at column 31)");
    assert_load_fails(*state, "repository: /\xc0\xaf\n", "coffer.yaml:1: the file is not UTF-8 text (byte 0xc0");
    assert_load_fails(*state, "repository: /\xed\xa0\x80\n", "coffer.yaml:1: the file is not UTF-8 text");
    assert_load_fails(*state, "repository: /r\xe2\x82", "coffer.yaml:1: the file is not UTF-8 text (byte 0xe2");
}

/* UTF-8 text beyond ASCII loads as written. */
static void test_config_utf8_text_loads(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(load_text(f, "repository: /srv/sauvegardes/caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x93\xa6\n", &cfg, &err), 0);

    assert_string_equal(cfg.repository, "/srv/sauvegardes/caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x93\xa6");
    config_free(&cfg);
}

/* Control characters YAML forbids (NUL, BEL, ESC ...) are refused by line. */
static void test_config_control_character_is_refused(void **state)
{
    assert_load_fails(*state, "repository: /r\npassword_file: /p\x1b[0m\n",
                      "coffer.yaml:2: the file contains the control character U+001B (column 18)");
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite("repository: /r\0x\n", 1, 18, fp), 18);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(config_load(f->path, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "coffer.yaml:1: the file contains the control character U+0000"));
}

/* Directives (%YAML, %TAG) are refused, naming their line. */
static void test_config_directive_is_refused(void **state)
{
    assert_load_fails(*state, "# settings\n%YAML 1.2\n---\nrepository: /r\n",
                      "coffer.yaml:2: YAML directives (%YAML, %TAG) are not supported");
}

/* A file over 1 MiB is refused, naming the line where the limit falls. */
static void test_config_too_large_is_refused(void **state)
{
    size_t size = (1u << 20) + 1;
    char *text = malloc(size + 1);
    assert_non_null(text);
    memset(text, '#', size);
    for (size_t i = 1023; i < size; i += 1024)
        text[i] = '\n';
    text[size] = '\0';

    assert_load_fails(*state, text, "coffer.yaml:1025: the file is larger than 1024 KiB");

    free(text);
}

/* config_load_buffer reads text from memory and names it as given. */
static void test_config_load_buffer_names_what_it_reads(void **state)
{
    struct config cfg;
    struct error err;

    assert_int_equal(config_load_buffer("mem.yaml", example, strlen(example), &cfg, &err), 0);

    assert_string_equal(cfg.path, "mem.yaml");
    assert_int_equal(PG(&cfg.sources[0])->jobs, 4);
    config_free(&cfg);
    /* Not NUL-terminated: the bytes after len are not read. */
    assert_int_equal(config_load_buffer("mem.yaml", "repository: /r\nrepo: x", 15, &cfg, &err), 0);
    assert_string_equal(cfg.repository, "/r");
    config_free(&cfg);
    assert_int_equal(config_load_buffer("mem.yaml", "repository: /r\nrepo: x", 22, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "mem.yaml:2: unknown key \"repo\""));
    assert_null(cfg.path);
}

/* A missing file is an ERR_NOT_FOUND error naming it. */
static void test_config_load_missing_file(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;

    assert_int_equal(config_load(f->path, &cfg, &err), -1);

    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, f->path));
    config_free(&cfg);
}

/* config_free accepts NULL, an empty config and a config freed before. */
static void test_config_free_is_idempotent(void **state)
{
    struct config cfg = {0};
    config_free(NULL);
    config_free(&cfg);
    config_free(&cfg);
}

/* ---- config_locate ---- */

/* --config wins over $COFFER_CONFIG and ./coffer.yaml. */
static void test_config_locate_explicit_wins(void **state)
{
    struct fixture *f = *state;
    char other[160];
    snprintf(other, sizeof other, "%s/other.yaml", f->dir);
    write_text(other, "repository: /o\n");
    write_text(f->path, "repository: /r\n");
    assert_int_equal(chdir(f->dir), 0);
    setenv("COFFER_CONFIG", f->path, 1);
    char *path;
    struct error err;

    assert_int_equal(config_locate(other, &path, &err), 0);

    assert_string_equal(path, other);
    free(path);
}

/* $COFFER_CONFIG wins over ./coffer.yaml. */
static void test_config_locate_env_wins_over_local_file(void **state)
{
    struct fixture *f = *state;
    char other[160];
    snprintf(other, sizeof other, "%s/other.yaml", f->dir);
    write_text(other, "repository: /o\n");
    write_text(f->path, "repository: /r\n");
    assert_int_equal(chdir(f->dir), 0);
    setenv("COFFER_CONFIG", other, 1);
    char *path;
    struct error err;

    assert_int_equal(config_locate(NULL, &path, &err), 0);

    assert_string_equal(path, other);
    free(path);
}

/* Without --config or $COFFER_CONFIG, ./coffer.yaml is used. */
static void test_config_locate_finds_local_file(void **state)
{
    struct fixture *f = *state;
    write_text(f->path, "repository: /r\n");
    assert_int_equal(chdir(f->dir), 0);
    setenv("COFFER_CONFIG", "", 1);   /* empty counts as unset */
    char *path;
    struct error err;

    assert_int_equal(config_locate(NULL, &path, &err), 0);

    assert_string_equal(path, "coffer.yaml");
    free(path);
}

/* --config naming a missing file is an error, even if defaults exist. */
static void test_config_locate_missing_explicit_is_error(void **state)
{
    struct fixture *f = *state;
    write_text(f->path, "repository: /r\n");
    assert_int_equal(chdir(f->dir), 0);
    char *path;
    struct error err;

    assert_int_equal(config_locate("nope.yaml", &path, &err), -1);

    assert_null(path);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "nope.yaml"));
    assert_non_null(strstr(err.msg, "--config"));
}

/* $COFFER_CONFIG naming a missing file is an error, even if defaults exist. */
static void test_config_locate_missing_env_is_error(void **state)
{
    struct fixture *f = *state;
    write_text(f->path, "repository: /r\n");
    assert_int_equal(chdir(f->dir), 0);
    setenv("COFFER_CONFIG", "/nonexistent/coffer.yaml", 1);
    char *path;
    struct error err;

    assert_int_equal(config_locate(NULL, &path, &err), -1);

    assert_null(path);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/coffer.yaml"));
    assert_non_null(strstr(err.msg, "$COFFER_CONFIG"));
}

/* With nothing set and no file around, there is no config and no error
 * (or the system-wide file, if this machine has one). */
static void test_config_locate_nothing_is_fine(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(chdir(f->dir), 0);
    char *path = (char *)"unset";
    struct error err;
    struct stat st;
    bool has_system_file = stat(CONFIG_SYSTEM_PATH, &st) == 0;

    assert_int_equal(config_locate(NULL, &path, &err), 0);

    if (has_system_file) {
        assert_string_equal(path, CONFIG_SYSTEM_PATH);
        free(path);
    } else {
        assert_null(path);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)


/* The s3: block: every key where the store expects it; no secrets; only
 * storage classes that can be read at once. */
static void test_config_s3_block(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    assert_int_equal(load_text(f,
                               "repository: s3://backups/app\n"
                               "s3:\n"
                               "  endpoint: https://minio.internal:9000\n"
                               "  region: eu-west-1\n"
                               "  path_style: false\n"
                               "  credentials_file: /etc/coffer/aws\n"
                               "  profile: backup\n"
                               "  ca_file: /etc/coffer/ca.pem\n"
                               "  connections: 8\n"
                               "  retry_time: 5m\n"
                               "  storage_class: {data: STANDARD_IA, metadata: STANDARD}\n",
                               &cfg, &err),
                     0);
    assert_true(cfg.s3.is_set);
    assert_string_equal(cfg.s3.endpoint, "https://minio.internal:9000");
    assert_string_equal(cfg.s3.region, "eu-west-1");
    assert_string_equal(cfg.s3.path_style, "false");
    assert_string_equal(cfg.s3.credentials_file, "/etc/coffer/aws");
    assert_string_equal(cfg.s3.profile, "backup");
    assert_string_equal(cfg.s3.ca_file, "/etc/coffer/ca.pem");
    assert_int_equal(cfg.s3.connections, 8);
    assert_int_equal(cfg.s3.retry_time, 300);
    assert_string_equal(cfg.s3.storage_class.data, "STANDARD_IA");
    assert_string_equal(cfg.s3.storage_class.metadata, "STANDARD");
    config_free(&cfg);

    assert_load_fails(f, "s3:\n  secret_access_key: abc\n", "s3: \"secret_access_key\" is not allowed");
    assert_load_fails(f, "s3:\n  aws_access_key_id: abc\n", "is not allowed");
    assert_load_fails(f, "s3:\n  storage_class: {data: GLACIER}\n", "use GLACIER_IR");
    assert_load_fails(f, "s3:\n  storage_class: {metadata: FAST}\n", "not an S3 storage class");
    assert_load_fails(f, "s3:\n  connections: 0\n", "expected a whole number from 1 to 64");
    assert_load_fails(f, "s3:\n  path_style: yes\n", "s3.path_style");
}

static void test_config_lock_wait(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    assert_int_equal(load_text(f, "repository: /r\n", &cfg, &err), 0);
    assert_int_equal(cfg.lock_wait, 0); /* by default a conflicting lock fails at once */
    config_free(&cfg);
    assert_int_equal(load_text(f, "lock_wait: 1m30s\n", &cfg, &err), 0);
    assert_int_equal(cfg.lock_wait, 90); /* m is minutes, not months */
    config_free(&cfg);
    assert_load_fails(f, "lock_wait: soon\n", "lock_wait: not a duration");
    assert_load_fails(f, "lock_wait: -1m\n", "lock_wait");
}

/* schedule: jobs with their actions, "all" as one word, the zone; and
 * every way a job can be wrong, named by its line and key. */
static void test_config_schedule(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    const char *text = "sources:\n"
                       "  db: {type: files, paths: [/a]}\n"
                       "  cache: {type: files, paths: [/b]}\n"
                       "state_dir: /var/tmp/coffer\n"
                       "schedule:\n"
                       "  timezone: Europe/Berlin\n"
                       "  jitter: 5m\n"
                       "  jobs:\n"
                       "    hourly: { cron: \"0 * * * *\", backup: [db], tag: hourly }\n"
                       "    daily: { cron: \"0 2 * * *\", backup: all, tag: daily, overlap: queue }\n"
                       "    retention: { cron: \"30 5 * * *\", forget: true, prune: true }\n"
                       "    verify: { cron: \"0 6 * * *\", check: { read_data: 10% } }\n"
                       "    drill: { cron: \"0 3 * * 0\", drill: all }\n"
                       "    monitor: { cron: \"*/15 * * * *\", monitor: true }\n";
    assert_int_equal(load_text(f, text, &cfg, &err), 0);
    assert_string_equal(cfg.state_dir, "/var/tmp/coffer");
    assert_true(cfg.schedule.is_set);
    assert_string_equal(cfg.schedule.timezone, "Europe/Berlin");
    assert_int_equal(cfg.schedule.jitter, 300);
    assert_int_equal(cfg.schedule.jobs.count, 6);
    const struct config_job *jobs = cfg.schedule.jobs.items;
    assert_string_equal(jobs[0].head.name, "hourly");
    assert_int_equal(jobs[0].head.line, 9);
    assert_int_equal(jobs[0].backup.count, 1);
    assert_string_equal(jobs[0].backup.items[0], "db");
    assert_false(config_is_all(&jobs[0].backup));
    assert_true(config_is_all(&jobs[1].backup));
    assert_string_equal(jobs[1].overlap, "queue");
    assert_null(jobs[0].overlap);
    assert_true(jobs[2].forget && jobs[2].prune);
    assert_true(jobs[3].check.is_set);
    assert_int_equal(jobs[3].check.read_data, 10);
    assert_true(config_is_all(&jobs[4].drill));
    assert_true(jobs[5].monitor);
    config_free(&cfg);

    const char *head = "sources:\n  db: {type: files, paths: [/a]}\nschedule:\n  jobs:\n";
    char bad[1024];
    static const struct {
        const char *job, *says;
    } cases[] = {
        {"    j: { cron: \"0 2 * *\", backup: all }\n", "coffer.yaml:5: schedule.jobs.j: cron line \"0 2 * *\" has 4 fields"},
        {"    j: { cron: \"0 25 * * *\", backup: all }\n", "the hour field \"25\" is not valid"},
        {"    j: { cron: \"0 0 31 2 *\", backup: all }\n", "names no time in the next nine years"},
        {"    j: { cron: \"0 2 * * *\", backup: [web] }\n", "schedule.jobs.j.backup: no source \"web\" in the file (sources: db; or \"all\")"},
        {"    j: { cron: \"0 2 * * *\", drill: [web] }\n", "schedule.jobs.j.drill: no source \"web\""},
        {"    j: { cron: \"0 2 * * *\" }\n", "the job does nothing"},
        {"    j: { cron: \"0 2 * * *\", forget: true, tag: x }\n", "only a job that backs up tags snapshots"},
        {"    j: { backup: all }\n", "missing required key \"cron\""},
        {"    j: { cron: \"0 2 * * *\", backup: all, overlap: twice }\n", "overlap"},
        {"    j: { cron: \"0 2 * * *\", backup: all, every: 2h }\n", "unknown key \"every\""},
        {"    j: { cron: \"0 2 * * *\", check: { read_data: 200% } }\n", "not a percentage"},
        {"    .j: { cron: \"0 2 * * *\", backup: all }\n", "name \".j\" is not allowed"},
        {"    j: [0 2 * * *]\n", "expected a mapping with keys cron"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(bad, sizeof bad, "%s%s", head, cases[i].job);
        assert_load_fails(f, bad, cases[i].says);
    }
    assert_load_fails(f, "schedule:\n  timezone: Mars/Olympus\n  jobs: {}\n",
                      "coffer.yaml:2: schedule.timezone: unknown time zone");
    assert_load_fails(f, "schedule:\n  timezone: UTC\n", "schedule: missing required key \"jobs\"");
    assert_load_fails(f, "retention:\n  daily: 7\n  timezone: Nowhere/Else\n", "retention.timezone: unknown time zone");
}

/* alerts: as a list, or with repeat and settle; what each type needs. */
static void test_config_alerts(void **state)
{
    struct fixture *f = *state;
    struct config cfg;
    struct error err;
    const char *list = "alerts:\n"
                       "  - { type: pagerduty, routing_key_file: /etc/coffer/pd, url: \"http://127.0.0.1:1/v2/enqueue\" }\n"
                       "  - { type: slack, url_file: /etc/coffer/slack }\n"
                       "  - { type: healthchecks, url: \"https://hc-ping.com/UUID\" }\n"
                       "  - { type: webhook, url: \"https://ops.example.com/coffer\", secret_file: /etc/coffer/hmac }\n"
                       "  - { type: command, command: [/usr/local/bin/notify, --quiet] }\n";
    assert_int_equal(load_text(f, list, &cfg, &err), 0);
    assert_true(cfg.alerts.is_set);
    assert_int_equal(cfg.alerts.repeat, 24 * 3600);
    assert_int_equal(cfg.alerts.settle, 600);
    assert_int_equal(cfg.alerts.to.count, 5);
    const struct config_alert *a = cfg.alerts.to.items;
    assert_string_equal(a[0].type, "pagerduty");
    assert_string_equal(a[0].routing_key_file, "/etc/coffer/pd");
    assert_string_equal(a[3].secret_file, "/etc/coffer/hmac");
    assert_int_equal(a[4].command.count, 2);
    config_free(&cfg);
    assert_int_equal(load_text(f, "alerts:\n  repeat: 12h\n  settle: 0s\n  to:\n    - { type: slack, url_file: /s }\n",
                               &cfg, &err), 0);
    assert_int_equal(cfg.alerts.repeat, 12 * 3600);
    assert_int_equal(cfg.alerts.settle, 0);
    assert_int_equal(cfg.alerts.to.count, 1);
    config_free(&cfg);
    assert_load_fails(f, "alerts:\n  - { type: pager }\n", "alerts[0].type");
    assert_load_fails(f, "alerts:\n  - { type: pagerduty }\n", "alerts[0]: a pagerduty receiver needs routing_key_file");
    assert_load_fails(f, "alerts:\n  - { type: slack, url: \"https://hooks.slack.com/services/T/B/x\" }\n",
                      "a Slack webhook URL holds its token");
    assert_load_fails(f, "alerts:\n  - { type: webhook }\n", "a webhook receiver needs url");
    assert_load_fails(f, "alerts:\n  - { type: command }\n", "a command receiver needs command");
    assert_load_fails(f, "alerts:\n  - { type: slack, url_file: /s, severity: info }\n", "only pagerduty takes it");
    assert_load_fails(f, "alerts:\n  - { type: webhook, url: x, secret: abc }\n", "\"secret\" is not allowed");
    assert_load_fails(f, "alerts:\n  repeat: 1h\n", "missing required key \"to\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_example_loads_every_field),
        T(test_config_schedule),
        T(test_config_alerts),
        T(test_config_defaults_fill_what_is_left_out),
        T(test_config_sources_are_optional),
        T(test_config_sources_keep_file_order_and_all_keys),
        T(test_config_find_source_by_name),
        T(test_config_values_are_not_expanded),
        T(test_config_custom_tag_is_refused),
        T(test_config_aliases_are_followed),
        T(test_config_alias_without_anchor),
        T(test_config_alias_cycle_is_refused),
        T(test_config_bad_bool_names_file_line_key),
        T(test_config_yes_is_not_a_bool),
        T(test_config_unknown_key_lists_known_keys),
        T(test_config_key_of_other_type_is_unknown),
        T(test_config_unknown_top_level_key),
        T(test_config_s3_block),
        T(test_config_lock_wait),
        T(test_config_missing_required_key),
        T(test_config_missing_type),
        T(test_config_redis_source),
        T(test_config_bad_exclude_pattern),
        T(test_config_unknown_source_type),
        T(test_config_yaml_syntax_error_has_line),
        T(test_config_empty_file_is_refused),
        T(test_config_comments_only_file_is_refused),
        T(test_config_top_level_not_mapping),
        T(test_config_second_document_is_refused),
        T(test_config_trailing_document_marker_is_harmless),
        T(test_config_merge_key_is_refused),
        T(test_config_duplicate_source_name),
        T(test_config_duplicate_key),
        T(test_config_duplicate_top_level_key),
        T(test_config_source_name_must_be_identifier),
        T(test_config_password_key_is_refused),
        T(test_config_passphrase_key_is_refused),
        T(test_config_password_in_url_is_refused),
        T(test_config_url_without_password_is_accepted),
        T(test_config_jobs_out_of_range),
        T(test_config_format_must_be_known),
        T(test_config_files_needs_paths),
        T(test_config_list_entry_must_be_string),
        T(test_config_list_key_needs_list),
        T(test_config_empty_value_is_refused),
        T(test_config_string_key_needs_string),
        T(test_config_sources_must_be_mapping),
        T(test_config_damaged_directive_fails_in_time),
        T(test_config_invalid_utf8_is_refused),
        T(test_config_utf8_text_loads),
        T(test_config_control_character_is_refused),
        T(test_config_directive_is_refused),
        T(test_config_too_large_is_refused),
        T(test_config_load_buffer_names_what_it_reads),
        T(test_config_load_missing_file),
        T(test_config_free_is_idempotent),
        T(test_config_locate_explicit_wins),
        T(test_config_locate_env_wins_over_local_file),
        T(test_config_locate_finds_local_file),
        T(test_config_locate_missing_explicit_is_error),
        T(test_config_locate_missing_env_is_error),
        T(test_config_locate_nothing_is_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
