/*
 * test_s3settings.c — the S3 driver's settings, without a server: the AWS
 * shared credentials file is read per profile ([default] or a named one;
 * spaces around '=', '#' and ';' comments, CRLF lines, a session token),
 * a missing profile or key is ERR_USAGE naming the file and the profile
 * and never the secret; storage classes that need a restore request
 * (GLACIER, DEEP_ARCHIVE) and unknown words are refused; and the
 * environment overrides what the settings hold, variable by variable,
 * with an access key from the environment bringing its secret and token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/s3.h"
#include "util/secret.h"
#include "testing.h"

/* ---- the shared credentials file ---------------------------------------- */

struct fixture {
    char dir[64];
    char path[128];
};

static int setup_dir(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || test_make_tmpdir(f->dir) < 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/credentials", f->dir);
    *state = f;
    return 0;
}

static int teardown_dir(void **state)
{
    struct fixture *f = *state;
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    assert_int_equal(test_write_text(path, text), 0);
}

/* Comment lines come after the real keys in each profile, so a reader
 * that took them for keys would overwrite the right values. */
static const char credentials[] =
    "# coffer test credentials\n"
    "; another comment style\n"
    "[default]\n"
    "aws_access_key_id = AKIADEFAULTKEY\n"
    "aws_secret_access_key=defaultSECRETvalue/abc+xyz\n"
    "# aws_secret_access_key = commented-out-secret\n"
    "; aws_access_key_id = COMMENTEDKEY\n"
    "\n"
    "[default2]\n"
    "aws_access_key_id = AKIAWRONGPROFILE\n"
    "aws_secret_access_key = wrongProfileSecret\n"
    "\n"
    "[ work ]\n"
    "  aws_access_key_id\t=\tAKIAWORKKEY  \n"
    "aws_secret_access_key   =   workSECRETvalue/123\n"
    "aws_session_token = FwoGZXIvYXdzEXAMPLETOKEN==\n"
    "region = eu-west-1\n"
    "\n"
    "[nosecret]\n"
    "aws_access_key_id = AKIANOSECRET\n"
    "\n"
    "[nokey]\n"
    "aws_secret_access_key = nokeySECRETvalue\n";

struct creds {
    char *access_key, *secret_key, *session_token;
};

static void creds_free(struct creds *c)
{
    free(c->access_key);
    secret_free(c->secret_key);
    secret_free(c->session_token);
}

static int read_creds(const char *path, const char *profile, struct creds *c, struct error *err)
{
    c->access_key = c->secret_key = c->session_token = (char *)"not touched";
    return s3_read_credentials(path, profile, &c->access_key, &c->secret_key, &c->session_token, err);
}

/* No secret of the file shows in a message. */
static void assert_no_secret(const char *msg)
{
    assert_null(strstr(msg, "SECRETvalue"));
    assert_null(strstr(msg, "wrongProfileSecret"));
    assert_null(strstr(msg, "commented-out-secret"));
    assert_null(strstr(msg, "EXAMPLETOKEN"));
}

/* [default] gives its key pair; comment lines in it are not keys, and a
 * profile whose name merely starts with "default" is another profile. */
static void test_credentials_default_profile(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, credentials);

    assert_int_equal(read_creds(f->path, "default", &c, &err), 0);

    assert_string_equal(c.access_key, "AKIADEFAULTKEY");
    assert_string_equal(c.secret_key, "defaultSECRETvalue/abc+xyz");
    assert_null(c.session_token);
    creds_free(&c);
}

/* A named profile gives its own keys, trimmed of spaces and tabs around
 * names, '=' and values (its header too), with its session token; other
 * keys (region) are ignored. */
static void test_credentials_named_profile_with_token(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, credentials);

    assert_int_equal(read_creds(f->path, "work", &c, &err), 0);

    assert_string_equal(c.access_key, "AKIAWORKKEY");
    assert_string_equal(c.secret_key, "workSECRETvalue/123");
    assert_string_equal(c.session_token, "FwoGZXIvYXdzEXAMPLETOKEN==");
    creds_free(&c);
}

/* Windows line ends (CRLF) are not part of the values. */
static void test_credentials_crlf_lines(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, "[default]\r\naws_access_key_id = AKIACRLF\r\naws_secret_access_key = crlfSECRET\r\n");

    assert_int_equal(read_creds(f->path, "default", &c, &err), 0);

    assert_string_equal(c.access_key, "AKIACRLF");
    assert_string_equal(c.secret_key, "crlfSECRET");
    assert_null(c.session_token);
    creds_free(&c);
}

/* A profile the file does not have is ERR_USAGE naming the file and the
 * profile, with every result NULL and no secret in the message. */
static void test_credentials_missing_profile(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, credentials);

    assert_int_equal(read_creds(f->path, "nosuch", &c, &err), -1);

    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, f->path));
    assert_non_null(strstr(err.msg, "nosuch"));
    assert_null(c.access_key);
    assert_null(c.secret_key);
    assert_null(c.session_token);
    assert_no_secret(err.msg);
}

/* A profile without aws_secret_access_key is ERR_USAGE naming the file,
 * the profile and the missing key; nothing is returned. */
static void test_credentials_profile_without_secret(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, credentials);

    assert_int_equal(read_creds(f->path, "nosecret", &c, &err), -1);

    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, f->path));
    assert_non_null(strstr(err.msg, "nosecret"));
    assert_non_null(strstr(err.msg, "aws_secret_access_key"));
    assert_null(c.access_key);
    assert_null(c.secret_key);
    assert_null(c.session_token);
    assert_no_secret(err.msg);
}

/* A profile with a secret but no key id fails without showing the secret
 * it did read. */
static void test_credentials_profile_without_key_id_hides_secret(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, credentials);

    assert_int_equal(read_creds(f->path, "nokey", &c, &err), -1);

    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "nokey"));
    assert_non_null(strstr(err.msg, "aws_access_key_id"));
    assert_null(strstr(err.msg, "nokeySECRETvalue"));
    assert_null(c.secret_key);
    assert_no_secret(err.msg);
}

/* An empty secret is no secret: refused, not used to sign. Key names are
 * read in any case, as the AWS tools read them. */
static void test_credentials_empty_secret_and_key_case(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;
    write_file(f->path, "[empty]\naws_access_key_id = AKIAEMPTY\naws_secret_access_key =\n"
                        "[upper]\nAWS_ACCESS_KEY_ID = AKIAUPPER\nAWS_Secret_Access_Key = upperSecret\n");

    assert_int_equal(read_creds(f->path, "empty", &c, &err), -1);
    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "aws_secret_access_key"));
    assert_null(c.access_key);

    assert_int_equal(read_creds(f->path, "upper", &c, &err), 0);
    assert_string_equal(c.access_key, "AKIAUPPER");
    assert_string_equal(c.secret_key, "upperSecret");
    creds_free(&c);
}

/* A credentials file that does not exist fails, naming it. */
static void test_credentials_missing_file(void **state)
{
    struct fixture *f = *state;
    struct error err = {0};
    struct creds c;

    assert_int_equal(read_creds(f->path, "default", &c, &err), -1);

    assert_int_equal(err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, f->path));
    assert_null(c.access_key);
    assert_null(c.secret_key);
    assert_null(c.session_token);
}

/* ---- storage classes ---------------------------------------------------- */

/* Classes read at once are accepted. */
static void test_storage_class_readable_accepted(void **state)
{
    assert_null(s3_check_storage_class("STANDARD"));
    assert_null(s3_check_storage_class("STANDARD_IA"));
    assert_null(s3_check_storage_class("GLACIER_IR"));
    assert_null(s3_check_storage_class("INTELLIGENT_TIERING"));
    assert_null(s3_check_storage_class("ONEZONE_IA"));
}

/* GLACIER and DEEP_ARCHIVE need a restore before a read: refused for
 * that reason (not as unknown words, whose reason lists GLACIER_IR too),
 * which points to GLACIER_IR. */
static void test_storage_class_archive_refused(void **state)
{
    const char *unknown = s3_check_storage_class("COLD");
    assert_non_null(unknown);
    const char *archives[] = {"GLACIER", "DEEP_ARCHIVE"};
    for (size_t i = 0; i < 2; i++) {
        const char *why = s3_check_storage_class(archives[i]);
        assert_non_null(why);
        assert_string_not_equal(why, unknown);
        assert_non_null(strstr(why, "restore"));
        assert_non_null(strstr(why, "GLACIER_IR"));
    }
}

/* A word S3 does not know is refused, as are near misses. */
static void test_storage_class_unknown_refused(void **state)
{
    assert_non_null(s3_check_storage_class("COLD"));
    assert_non_null(s3_check_storage_class(""));
    assert_non_null(s3_check_storage_class("STANDARD "));
    assert_non_null(s3_check_storage_class("GLACIER_IRX"));
}

/* ---- the environment ---------------------------------------------------- */

static const char *const env_names[] = {
    "COFFER_S3_ENDPOINT", "COFFER_S3_REGION",      "AWS_REGION",        "COFFER_S3_PATH_STYLE",
    "COFFER_S3_RETRY_SECONDS", "COFFER_S3_CA_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
};
#define ENV_COUNT (sizeof env_names / sizeof env_names[0])

/* What the variables held before a test, put back after it. */
struct saved_env {
    char *value[ENV_COUNT]; /* NULL: was unset */
};

static int setup_env(void **state)
{
    struct saved_env *saved = calloc(1, sizeof *saved);
    if (!saved)
        return -1;
    for (size_t i = 0; i < ENV_COUNT; i++) {
        const char *v = getenv(env_names[i]);
        saved->value[i] = v ? strdup(v) : NULL;
        unsetenv(env_names[i]);
    }
    *state = saved;
    return 0;
}

static int teardown_env(void **state)
{
    struct saved_env *saved = *state;
    for (size_t i = 0; i < ENV_COUNT; i++) {
        if (saved->value[i])
            setenv(env_names[i], saved->value[i], 1);
        else
            unsetenv(env_names[i]);
        free(saved->value[i]);
    }
    free(saved);
    return 0;
}

/* Settings as coffer.yaml might have given them. */
static struct s3_settings from_yaml(void)
{
    return (struct s3_settings){
        .endpoint = "https://yaml.example:9000",
        .region = "yaml-region",
        .path_style = 0,
        .access_key = "AKIAYAML",
        .secret_key = "yamlSecret",
        .session_token = "yamlToken",
        .credentials_file = "/yaml/credentials",
        .profile = "yaml-profile",
        .retry_seconds = 45,
        .ca_file = "/yaml/ca.pem",
        .connections = 3,
        .data_class = "STANDARD_IA",
        .metadata_class = "STANDARD",
    };
}

static void assert_settings_equal(const struct s3_settings *a, const struct s3_settings *b)
{
    assert_ptr_equal(a->endpoint, b->endpoint);
    assert_ptr_equal(a->region, b->region);
    assert_int_equal(a->path_style, b->path_style);
    assert_ptr_equal(a->access_key, b->access_key);
    assert_ptr_equal(a->secret_key, b->secret_key);
    assert_ptr_equal(a->session_token, b->session_token);
    assert_ptr_equal(a->credentials_file, b->credentials_file);
    assert_ptr_equal(a->profile, b->profile);
    assert_int_equal(a->retry_seconds, b->retry_seconds);
    assert_ptr_equal(a->ca_file, b->ca_file);
    assert_int_equal(a->connections, b->connections);
    assert_ptr_equal(a->data_class, b->data_class);
    assert_ptr_equal(a->metadata_class, b->metadata_class);
}

/* With none of the variables set, nothing changes. */
static void test_env_unset_leaves_settings(void **state)
{
    struct s3_settings s = from_yaml(), want = s;

    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);

    assert_settings_equal(&s, &want);
}

/* Variables set but empty count as unset. */
static void test_env_empty_values_leave_settings(void **state)
{
    struct s3_settings s = from_yaml(), want = s;
    setenv("COFFER_S3_ENDPOINT", "", 1);
    setenv("COFFER_S3_REGION", "", 1);
    setenv("AWS_REGION", "", 1);
    setenv("COFFER_S3_RETRY_SECONDS", "", 1);
    setenv("COFFER_S3_CA_FILE", "", 1);
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1); /* without a key id: not a pair */

    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);

    assert_settings_equal(&s, &want);
}

/* Each variable set replaces its setting; the others stay. */
static void test_env_overrides_settings(void **state)
{
    struct s3_settings s = from_yaml();
    setenv("COFFER_S3_ENDPOINT", "http://127.0.0.1:9000", 1);
    setenv("COFFER_S3_PATH_STYLE", "true", 1);
    setenv("COFFER_S3_RETRY_SECONDS", "7", 1);
    setenv("COFFER_S3_CA_FILE", "/env/ca.pem", 1);

    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);

    assert_string_equal(s.endpoint, "http://127.0.0.1:9000");
    assert_int_equal(s.path_style, 1);
    assert_int_equal(s.retry_seconds, 7);
    assert_string_equal(s.ca_file, "/env/ca.pem");
    assert_string_equal(s.region, "yaml-region");
    assert_string_equal(s.access_key, "AKIAYAML");
    assert_string_equal(s.secret_key, "yamlSecret");
    assert_string_equal(s.session_token, "yamlToken");
    assert_string_equal(s.profile, "yaml-profile");
    assert_int_equal(s.connections, 3);
}

/* COFFER_S3_REGION wins over AWS_REGION; AWS_REGION alone is used. */
static void test_env_region_precedence(void **state)
{
    struct s3_settings s = from_yaml();
    setenv("AWS_REGION", "aws-region", 1);
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_string_equal(s.region, "aws-region");

    s = from_yaml();
    setenv("COFFER_S3_REGION", "coffer-region", 1);
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_string_equal(s.region, "coffer-region");
}

/* COFFER_S3_PATH_STYLE: "true" and "false" set it either way; another
 * word is refused, naming the variable, and leaves the setting. */
static void test_env_path_style(void **state)
{
    struct s3_settings s = from_yaml();
    s.path_style = -1;
    setenv("COFFER_S3_PATH_STYLE", "false", 1);
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_int_equal(s.path_style, 0);

    setenv("COFFER_S3_PATH_STYLE", "true", 1);
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_int_equal(s.path_style, 1);

    setenv("COFFER_S3_PATH_STYLE", "false", 1);
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_int_equal(s.path_style, 0);

    s.path_style = -1;
    setenv("COFFER_S3_PATH_STYLE", "maybe", 1);
    struct error err;
    assert_int_equal(s3_settings_from_env(&s, &err), -1);
    assert_int_equal(err.kind, ERR_USAGE);
    assert_non_null(strstr(err.msg, "COFFER_S3_PATH_STYLE"));
    assert_int_equal(s.path_style, -1);
}

/* COFFER_S3_RETRY_SECONDS: a whole number of seconds, 1 to 86400; anything
 * else is refused rather than read as 0 (the default) or wrapped around. */
static void test_env_retry_seconds_checked(void **state)
{
    static const char *const bad[] = {"-1", "abc", "0", "10s", "86401", "4294967296"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct s3_settings s = from_yaml();
        struct error err;
        setenv("COFFER_S3_RETRY_SECONDS", bad[i], 1);
        assert_int_equal(s3_settings_from_env(&s, &err), -1);
        assert_int_equal(err.kind, ERR_USAGE);
        assert_non_null(strstr(err.msg, "COFFER_S3_RETRY_SECONDS"));
    }
    struct s3_settings s = from_yaml();
    setenv("COFFER_S3_RETRY_SECONDS", "86400", 1);
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_int_equal(s.retry_seconds, 86400);
}

/* AWS_ACCESS_KEY_ID brings AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
 * with it: a pair is never half the environment's, half coffer.yaml's. */
static void test_env_access_key_comes_whole(void **state)
{
    struct s3_settings s = from_yaml();
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
    setenv("AWS_SESSION_TOKEN", "envToken", 1);

    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);

    assert_string_equal(s.access_key, "AKIAENV");
    assert_string_equal(s.secret_key, "envSecret");
    assert_string_equal(s.session_token, "envToken");

    /* Without a token in the environment, the settings' token goes too. */
    s = from_yaml();
    unsetenv("AWS_SESSION_TOKEN");
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_string_equal(s.access_key, "AKIAENV");
    assert_string_equal(s.secret_key, "envSecret");
    assert_null(s.session_token);

    /* Nor is the settings' secret kept for the environment's key id. */
    s = from_yaml();
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);
    assert_string_equal(s.access_key, "AKIAENV");
    assert_null(s.secret_key);
}

/* A secret or token in the environment without a key id changes nothing. */
static void test_env_secret_without_key_id_ignored(void **state)
{
    struct s3_settings s = from_yaml(), want = s;
    setenv("AWS_SECRET_ACCESS_KEY", "envSecret", 1);
    setenv("AWS_SESSION_TOKEN", "envToken", 1);

    assert_int_equal(s3_settings_from_env(&s, &(struct error){0}), 0);

    assert_settings_equal(&s, &want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credentials_default_profile, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_named_profile_with_token, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_crlf_lines, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_missing_profile, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_profile_without_secret, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_profile_without_key_id_hides_secret, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_empty_secret_and_key_case, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_credentials_missing_file, setup_dir, teardown_dir),
        cmocka_unit_test(test_storage_class_readable_accepted),
        cmocka_unit_test(test_storage_class_archive_refused),
        cmocka_unit_test(test_storage_class_unknown_refused),
        cmocka_unit_test_setup_teardown(test_env_unset_leaves_settings, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_empty_values_leave_settings, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_overrides_settings, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_region_precedence, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_path_style, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_retry_seconds_checked, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_access_key_comes_whole, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_env_secret_without_key_id_ignored, setup_env, teardown_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
