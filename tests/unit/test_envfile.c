/*
 * test_envfile.c — redacting .env files for review: every secret value is
 * gone, and every other byte (names, quotes, comments, line endings) is
 * exactly where it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "source/envfile.h"
#include "testing.h"

static const char *const WORDS[] = {"KEY", "SECRET", "PASSWORD", "TOKEN"};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

/* The redacted form of len bytes of in, NUL-terminated, out_len bytes. */
static char *redact_n(const char *in, size_t len, const char *const *words, size_t n, size_t *out_len)
{
    struct buf out = BUF_INIT;
    envfile_redact(in, len, words, n, &out);
    buf_append_u8(&out, 0);
    *out_len = out.len - 1;
    return (char *)out.data;
}

/* The redacted form of the string in, with the given words. */
static char *redact_with(const char *in, const char *const *words, size_t n)
{
    size_t out_len;
    return redact_n(in, strlen(in), words, n, &out_len);
}

/* in redacted with WORDS gives exactly want. */
static void expect_redacted(const char *in, const char *want)
{
    size_t out_len;
    char *got = redact_n(in, strlen(in), WORDS, N_WORDS, &out_len);
    assert_string_equal(got, want);
    assert_int_equal(out_len, strlen(want));
    free(got);
}

/* in comes out byte for byte unchanged, whatever the words. */
static void expect_unchanged(const char *in)
{
    expect_redacted(in, in);
}

/* A plain unquoted value is replaced, the name and `=` are kept. */
static void test_envfile_plain_value_redacted(void **state)
{
    expect_redacted("API_KEY=abc123\n", "API_KEY=[REDACTED]\n");
    expect_redacted("API_KEY = abc123\n", "API_KEY = [REDACTED]\n");
    expect_redacted("  \tAPI_KEY=abc123\n", "  \tAPI_KEY=[REDACTED]\n");
    expect_redacted("API_KEY=abc123   \n", "API_KEY=[REDACTED]   \n");
}

/* Double quotes stay around the redaction; `=` and `#` inside them are
 * part of the value. */
static void test_envfile_double_quoted_keeps_quotes(void **state)
{
    expect_redacted("DB_PASSWORD=\"p@ss word\"\n", "DB_PASSWORD=\"[REDACTED]\"\n");
    expect_redacted("DB_PASSWORD=\"a=b # not a comment\"\n", "DB_PASSWORD=\"[REDACTED]\"\n");
    expect_redacted("DB_PASSWORD=\"a=b # no\" # yes\n", "DB_PASSWORD=\"[REDACTED]\" # yes\n");
}

/* Single quotes too, and a comment after the closing quote is kept with
 * its spacing. */
static void test_envfile_single_quoted_keeps_comment(void **state)
{
    expect_redacted("SECRET_TOKEN='x'  # rotate monthly\n", "SECRET_TOKEN='[REDACTED]'  # rotate monthly\n");
    expect_redacted("SECRET_TOKEN='a # b' # c\n", "SECRET_TOKEN='[REDACTED]' # c\n");
    expect_redacted("SECRET_TOKEN='x'#c\n", "SECRET_TOKEN='[REDACTED]'#c\n");
}

/* An empty value is redacted too: the review must not tell whether a
 * secret is set. */
static void test_envfile_empty_values_redacted(void **state)
{
    expect_redacted("STRIPE_KEY=\n", "STRIPE_KEY=[REDACTED]\n");
    expect_redacted("STRIPE_KEY=", "STRIPE_KEY=[REDACTED]");
    expect_redacted("EMPTY_SECRET=\"\"\n", "EMPTY_SECRET=\"[REDACTED]\"\n");
    expect_redacted("EMPTY_SECRET=''\n", "EMPTY_SECRET='[REDACTED]'\n");
}

/* `export ` is kept, and is not part of the name: with the word "port",
 * `export X=1` is left alone but a variable called export is matched. */
static void test_envfile_export_prefix(void **state)
{
    expect_redacted("export DB_PASSWORD=\"p@ss word\"\n", "export DB_PASSWORD=\"[REDACTED]\"\n");
    expect_redacted("export   API_KEY = k\n", "export   API_KEY = [REDACTED]\n");

    static const char *const port[] = {"port"};
    char *got = redact_with("export X=1\n", port, 1);
    assert_string_equal(got, "export X=1\n");
    free(got);
    got = redact_with("export=1\nexport = 2\n", port, 1);
    assert_string_equal(got, "export=[REDACTED]\nexport = [REDACTED]\n");
    free(got);
}

/* An unquoted value ends where a `#` follows a blank; the comment stays.
 * A `#` inside the value, or right at its start, is the value's. */
static void test_envfile_inline_comment_after_unquoted_value(void **state)
{
    expect_redacted("API_KEY=abc123 # rotate monthly\n", "API_KEY=[REDACTED] # rotate monthly\n");
    expect_redacted("API_KEY=abc123\t\t# tabs\n", "API_KEY=[REDACTED]\t\t# tabs\n");
    expect_redacted("API_KEY=abc#123\n", "API_KEY=[REDACTED]\n");
    expect_redacted("API_KEY= #abc\n", "API_KEY= [REDACTED]\n");
}

/* CRLF line endings come out as CRLF, on redacted lines and others. */
static void test_envfile_crlf_preserved(void **state)
{
    expect_redacted("# c\r\nAPI_KEY=abc\r\nNAME=x\r\nTOKEN=\"t\" # c\r\n\r\n",
                    "# c\r\nAPI_KEY=[REDACTED]\r\nNAME=x\r\nTOKEN=\"[REDACTED]\" # c\r\n\r\n");
    expect_redacted("API_KEY=abc  \r\n", "API_KEY=[REDACTED]  \r\n");
}

/* A file without a final newline does not get one. */
static void test_envfile_no_final_newline(void **state)
{
    expect_redacted("A=1\nAPI_KEY=abc", "A=1\nAPI_KEY=[REDACTED]");
    expect_redacted("A=1\nAPI_KEY='abc'", "A=1\nAPI_KEY='[REDACTED]'");
    expect_redacted("A=1\nAPI_KEY=abc # c", "A=1\nAPI_KEY=[REDACTED] # c");
    expect_unchanged("A=1\nB=2");
}

/* A double-quoted value over several lines, with an escaped quote inside,
 * becomes one line; what follows the closing quote, and the closing line's
 * ending, are kept; the next variable is read normally. */
static void test_envfile_multiline_double_quoted(void **state)
{
    expect_redacted("PRIVATE_KEY=\"-----BEGIN KEY-----\nMIIB\\\"still\\\" inside\n-----END KEY-----\" # pem\r\n"
                    "API_TOKEN=t\n",
                    "PRIVATE_KEY=\"[REDACTED]\" # pem\r\nAPI_TOKEN=[REDACTED]\n");
}

/* A single-quoted value over several lines likewise. */
static void test_envfile_multiline_single_quoted(void **state)
{
    expect_redacted("A=1\nSSH_KEY='line one\nline \"two\"\nline three'\nB=2\n",
                    "A=1\nSSH_KEY='[REDACTED]'\nB=2\n");
}

/* A quote that never closes takes the rest of the file with it: lines
 * after it may be the secret. The last line's ending survives. */
static void test_envfile_unterminated_quote_runs_to_end(void **state)
{
    expect_redacted("A=1\nAPI_KEY=\"abc\nB=2\n# c\n", "A=1\nAPI_KEY=\"[REDACTED]\n");
    expect_redacted("API_KEY='abc\r\nB=2\r\n", "API_KEY='[REDACTED]\r\n");
    expect_redacted("API_KEY=\"abc", "API_KEY=\"[REDACTED]");
    expect_redacted("API_KEY=\"", "API_KEY=\"[REDACTED]");
    expect_redacted("API_KEY=\"\n", "API_KEY=\"[REDACTED]\n");
}

/* A multi-line value of a variable that does not match is copied whole,
 * even lines inside it that look like secret assignments (they are part
 * of its value, not variables). */
static void test_envfile_nonmatching_multiline_untouched(void **state)
{
    expect_unchanged("CA_CERT=\"-----BEGIN CERTIFICATE-----\nMIIBkeyZ==\nAPI_KEY=not a variable\n"
                     "-----END CERTIFICATE-----\"  # ca\nOTHER=1\n");
    expect_unchanged("MOTD='hello\r\nworld'\r\n");
}

/* A harmless variable that is malformed (unterminated quote, junk after
 * the closing quote) does not hide the secret after it: the following
 * lines are read as variables, as python-dotenv reads them. */
static void test_envfile_malformed_copied_value_hides_nothing(void **state)
{
    expect_redacted("GREETING=\"hello\nAPI_KEY=abc\n", "GREETING=\"hello\nAPI_KEY=[REDACTED]\n");
    expect_redacted("GREETING=\"hello\nAPI_KEY=abc\nX=\"y\"z\n",
                    "GREETING=\"hello\nAPI_KEY=[REDACTED]\nX=\"y\"z\n");
    expect_redacted("GREETING=`hello\nAPI_KEY=abc\n`\n", "GREETING=`hello\nAPI_KEY=[REDACTED]\n`\n");
}

/* Text after a redacted value's closing quote that is not a comment may
 * belong to the value in some dialect: it goes too. */
static void test_envfile_junk_after_closing_quote_dropped(void **state)
{
    expect_redacted("API_KEY=\"abc\"def\n", "API_KEY=\"[REDACTED]\"\n");
    expect_redacted("API_KEY='abc' def # c\n", "API_KEY='[REDACTED]'\n");
}

/* A quote after a backslash never closes, in any quotes, so a value
 * cannot end early and leave a piece of itself behind. */
static void test_envfile_backslash_quote_does_not_close(void **state)
{
    expect_redacted("API_KEY='it\\'s' # c\n", "API_KEY='[REDACTED]' # c\n");
    expect_redacted("API_KEY=\"a\\\\\"\nrest\"\nB=2\n", "API_KEY=\"[REDACTED]\"\nB=2\n");
}

/* Backquotes (Node's dotenv) quote a redacted value, across lines too. */
static void test_envfile_backquoted_value(void **state)
{
    expect_redacted("API_KEY=`a\nb` # c\nB=2\n", "API_KEY=`[REDACTED]` # c\nB=2\n");
}

/* Comments and blank lines, including blanks with spaces and CRLF, come
 * out byte for byte — even a commented-out assignment. */
static void test_envfile_comments_and_blank_lines_identical(void **state)
{
    expect_unchanged("# Settings\n\n   \n\t# indented comment\r\n#API_KEY=old\n# PASSWORD=\"x\n\n");
}

/* Lines that are not assignments are copied as they are. */
static void test_envfile_non_assignment_lines_copied(void **state)
{
    expect_unchanged("just some words\nAPI_KEY\n1API_KEY=x\n=API_KEY\nAPI KEY=x\nexport API_KEY\n\"API_KEY\"=x\n");
}

/* Matching ignores case and looks for the word anywhere in the name. */
static void test_envfile_match_is_case_insensitive_substring(void **state)
{
    expect_redacted("keyboard_layout=us\n", "keyboard_layout=[REDACTED]\n");
    expect_redacted("Api_Key=x\nmy.secret-thing=y\n", "Api_Key=[REDACTED]\nmy.secret-thing=[REDACTED]\n");

    static const char *const lower_words[] = {"password"};
    char *got = redact_with("DB_PASSWORD=x\n", lower_words, 1);
    assert_string_equal(got, "DB_PASSWORD=[REDACTED]\n");
    free(got);
}

/* Only names are matched: a value that contains a word is kept. */
static void test_envfile_values_are_never_matched(void **state)
{
    expect_unchanged("HELP=\"set API_KEY and PASSWORD\"\nURL=https://x/?token=abc\n");
}

/* The password of a URL is hidden whatever the variable is called (the
 * user part whole when it has no ':', as in a DSN or a token), in comment
 * lines too; a URL without one is copied as it is. */
static void test_envfile_url_password_hidden_whatever_the_name(void **state)
{
    (void)state;
    expect_redacted("DATABASE_URL=postgres://app:hunter2@db/app\n", "DATABASE_URL=postgres://app:[REDACTED]@db/app\n");
    expect_redacted("CACHE=redis://:pw@cache:6379/0\r\n", "CACHE=redis://:[REDACTED]@cache:6379/0\r\n");
    expect_redacted("REPO=\"https://ghp_abc@github.com/o/r\" # ci\n", "REPO=\"https://[REDACTED]@github.com/o/r\" # ci\n");
    expect_redacted("SENTRY_DSN=https://abc123@o1.ingest.sentry.io/5\n", "SENTRY_DSN=https://[REDACTED]@o1.ingest.sentry.io/5\n");
    expect_redacted("# was: postgres://u:oldpw@db/app\n", "# was: postgres://u:[REDACTED]@db/app\n");
    expect_redacted("X=mysql://u:p@ss@h/db\n", "X=mysql://u:[REDACTED]@h/db\n");
    expect_redacted("X=mysql://u:p/ss@h/db\n", "X=mysql://u:[REDACTED]@h/db\n");
    expect_redacted("HOSTS=redis://:a@h1,redis://:b@h2 other://x\n", "HOSTS=redis://:[REDACTED]@h2 other://x\n");
    expect_redacted("DB: postgres://app:pw@db/app\n", "DB: postgres://app:[REDACTED]@db/app\n");
    expect_redacted("API_KEY=postgres://u:p@h\n", "API_KEY=[REDACTED]\n");
    expect_unchanged("X=postgres://app:@db/app\nY=https://example.com/a?b=c\nZ=://@\n");
    /* hiding twice changes nothing more */
    expect_redacted("U=postgres://app:[REDACTED]@db/app\n", "U=postgres://app:[REDACTED]@db/app\n");
}

/* "value:GLOB" words match whole values, quoted or not, whatever the name. */
static void test_envfile_value_patterns(void **state)
{
    (void)state;
    static const char *const words[] = {"TOKEN", "value:sk_live_*", "value:AKIA????????????????", "value:a\\*b"};
    struct {
        const char *in, *want;
    } cases[] = {
        {"STRIPE=sk_live_abc\n", "STRIPE=[REDACTED]\n"},
        {"STRIPE='sk_live_abc' # prod\n", "STRIPE='[REDACTED]' # prod\n"},
        {"STRIPE=sk_live_abc  # prod\n", "STRIPE=[REDACTED]  # prod\n"},
        {"OTHER=sk_test_x\n", "OTHER=sk_test_x\n"},
        {"OTHER=my_sk_live_x\n", "OTHER=my_sk_live_x\n"},
        {"AWS=AKIAABCDEFGHIJKLMNOP\n", "AWS=[REDACTED]\n"},
        {"AWS=AKIAABCDEFGHIJKLMNO\n", "AWS=AKIAABCDEFGHIJKLMNO\n"},
        {"STAR=a*b\nNOT=axb\n", "STAR=[REDACTED]\nNOT=axb\n"},
        {"value=sk_test\n", "value=sk_test\n"}, /* a value: word is never a name word */
        {"MY_TOKEN=x\n", "MY_TOKEN=[REDACTED]\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = redact_with(cases[i].in, words, sizeof words / sizeof words[0]);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

/* `NAME: value` (Compose, Node) is an assignment too. */
static void test_envfile_colon_separator(void **state)
{
    expect_redacted("API_KEY: abc # c\nDB_PASSWORD:\"x\"\nNOTE: keep\n",
                    "API_KEY: [REDACTED] # c\nDB_PASSWORD:\"[REDACTED]\"\nNOTE: keep\n");
}

/* A lone \r ends a line (python-dotenv, Node), so a file with old Mac line
 * endings is redacted line by line and its endings are kept. */
static void test_envfile_lone_cr_line_endings(void **state)
{
    expect_redacted("A=1\rAPI_KEY=abc # c\rB=2\r", "A=1\rAPI_KEY=[REDACTED] # c\rB=2\r");
}

/* A UTF-8 byte-order mark does not hide the first variable. */
static void test_envfile_byte_order_mark(void **state)
{
    expect_redacted("\xEF\xBB\xBF" "API_KEY=abc\n", "\xEF\xBB\xBF" "API_KEY=[REDACTED]\n");
}

/* An empty word is a substring of every name: everything is redacted. */
static void test_envfile_empty_word_matches_every_name(void **state)
{
    static const char *const empty[] = {""};
    char *got = redact_with("A=1\n# c\nB='2'\n", empty, 1);
    assert_string_equal(got, "A=[REDACTED]\n# c\nB='[REDACTED]'\n");
    free(got);
}

/* The output is appended to what the buffer already holds. */
static void test_envfile_appends_to_buffer(void **state)
{
    struct buf out = BUF_INIT;
    buf_append(&out, "before|", 7);
    envfile_redact("API_KEY=x\n", 10, WORDS, N_WORDS, &out);
    assert_int_equal(out.len, 7 + strlen("API_KEY=[REDACTED]\n"));
    assert_memory_equal(out.data, "before|API_KEY=[REDACTED]\n", out.len);
    buf_free(&out);
}

/* With no words, the output is the input, for hand-picked awkward inputs
 * and for random mixtures of the bytes the parser cares about. */
static void test_envfile_zero_words_output_equals_input(void **state)
{
    static const char *const inputs[] = {
        "",
        "\n",
        "\r\n\r\n",
        "API_KEY=abc\n",
        "export DB_PASSWORD=\"p@ss word\"\n",
        "SECRET_TOKEN='x'  # rotate monthly",
        "PRIVATE_KEY=\"a\nb\\\"\nc\"\r\n",
        "API_KEY=\"unterminated\nB=2\n",
        "\xEF\xBB\xBF" "A=1\r",
        "#\n=\n:\n\"\n'\n`\n\\\n",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t out_len;
        char *got = redact_n(inputs[i], strlen(inputs[i]), NULL, 0, &out_len);
        assert_int_equal(out_len, strlen(inputs[i]));
        assert_memory_equal(got, inputs[i], out_len);
        free(got);
    }

    static const char alphabet[] = "AKE_x =:#\"'`\\\r\n\t\0export";
    char text[400];
    uint64_t rng = 42;
    for (int round = 0; round < 2000; round++) {
        size_t len = test_rand_next(&rng) % sizeof text;
        for (size_t i = 0; i < len; i++)
            text[i] = alphabet[test_rand_next(&rng) % (sizeof alphabet - 1)];
        size_t out_len;
        char *got = redact_n(text, len, NULL, 0, &out_len);
        assert_int_equal(out_len, len);
        assert_memory_equal(got, text, len);
        free(got);
        /* The same input with words must at least be read safely (the
         * sanitizer build checks every access). */
        free(redact_n(text, len, WORDS, N_WORDS, &out_len));
    }
}

/* A file full of quotes that never close is read in linear time, not by
 * searching the rest of the file once per quote: 1 MiB of them takes
 * milliseconds, where a quadratic reading would take minutes. */
static void test_envfile_unclosed_quotes_take_linear_time(void **state)
{
    struct buf in = BUF_INIT;
    for (int i = 0; i < 200000; i++)
        buf_append(&in, i % 2 ? "X=\"a\n" : "Y='b\n", 5);
    buf_append(&in, "API_KEY=s3cr3t\n", 15);
    clock_t started = clock();
    size_t out_len;
    char *out = redact_n((const char *)in.data, in.len, WORDS, N_WORDS, &out_len);
    double seconds = (double)(clock() - started) / CLOCKS_PER_SEC;
    assert_true(seconds < 5.0);
    assert_int_equal(out_len, in.len - strlen("s3cr3t") + strlen(ENVFILE_REDACTED));
    assert_memory_equal(out, in.data, in.len - 15);
    assert_string_equal(out + in.len - 15, "API_KEY=[REDACTED]\n");
    free(out);
    buf_free(&in);
}

/* A realistic file: none of its secret values is anywhere in the output,
 * and everything else is. */
static void test_envfile_realistic_file_leaks_no_secret(void **state)
{
    const char *in =
        "# Production settings\r\n"
        "APP_NAME=shop\r\n"
        "export DATABASE_PASSWORD=\"Tr0ub4dor&3 with spaces\"  # rotated 2024-05\r\n"
        "STRIPE_SECRET_KEY=sk_live_51Habcdef\r\n"
        "JWT_TOKEN='eyJhbGciOi.eyJzdWIi.SflKxwRJ'\r\n"
        "TLS_PRIVATE_KEY=\"-----BEGIN PRIVATE KEY-----\r\n"
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\n"
        "-----END PRIVATE KEY-----\"\r\n"
        "CA_CERT=\"-----BEGIN CERTIFICATE-----\r\nMIIDdzCCAl+gAwIBAgIE\r\n-----END CERTIFICATE-----\"\r\n"
        "REDIS_URL=redis://cache:6379/0\r\n"
        "Session_Secret: hunter2hunter2\r\n"
        "api_key = k-9f8e7d6c # old one was revoked\r\n";
    static const char *const secrets[] = {
        "Tr0ub4dor&3", "sk_live_51Habcdef", "eyJhbGciOi", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "BEGIN PRIVATE KEY", "hunter2hunter2", "k-9f8e7d6c",
    };
    const char *want =
        "# Production settings\r\n"
        "APP_NAME=shop\r\n"
        "export DATABASE_PASSWORD=\"[REDACTED]\"  # rotated 2024-05\r\n"
        "STRIPE_SECRET_KEY=[REDACTED]\r\n"
        "JWT_TOKEN='[REDACTED]'\r\n"
        "TLS_PRIVATE_KEY=\"[REDACTED]\"\r\n"
        "CA_CERT=\"-----BEGIN CERTIFICATE-----\r\nMIIDdzCCAl+gAwIBAgIE\r\n-----END CERTIFICATE-----\"\r\n"
        "REDIS_URL=redis://cache:6379/0\r\n"
        "Session_Secret: [REDACTED]\r\n"
        "api_key = [REDACTED] # old one was revoked\r\n";

    size_t out_len;
    char *out = redact_n(in, strlen(in), WORDS, N_WORDS, &out_len);
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        assert_non_null(strstr(in, secrets[i]));
        assert_null(memmem(out, out_len, secrets[i], strlen(secrets[i])));
    }
    assert_string_equal(out, want);
    free(out);
}

/* Lines for random files: the value put in place of %s is a secret where
 * is_secret, else a word that must survive. */
static const struct {
    const char *format;
    bool is_secret;
} LINES[] = {
    {"API_KEY=%s", true},
    {"export DB_PASSWORD = \"%s x\"  # c", true},
    {"github_token='%s'", true},
    {"PRIVATE_KEY=\"-----BEGIN\n%s\\\"q\r\nMIIB\n-----END\"", true},
    {"SECRET=%s # c", true},
    {"Session_Token: %s", true},
    {"CERT=\"-----BEGIN\n%s\n-----END\"", false},
    {"# a comment %s", false},
    {"HOST=%s", false},
    {"%s", false},
};

/* In random files built from realistic lines, with random line endings,
 * no secret value survives anywhere in the output, and every non-secret
 * value does. */
static void test_envfile_no_secret_in_output(void **state)
{
    uint64_t rng = 7;
    for (int round = 0; round < 300; round++) {
        struct buf in = BUF_INIT;
        size_t lines = test_rand_next(&rng) % 20;
        for (size_t l = 0; l < lines; l++) {
            size_t kind = test_rand_next(&rng) % (sizeof LINES / sizeof LINES[0]);
            char value[32];
            snprintf(value, sizeof value, "%s%zu", LINES[kind].is_secret ? "s3cr3t" : "plain", l);
            const char *format = LINES[kind].format, *hole = strstr(format, "%s");
            buf_append(&in, format, (size_t)(hole - format));
            buf_append(&in, value, strlen(value));
            buf_append(&in, hole + 2, strlen(hole + 2));
            if (l + 1 < lines || test_rand_next(&rng) % 2) {
                if (test_rand_next(&rng) % 2)
                    buf_append(&in, "\r\n", 2);
                else
                    buf_append(&in, "\n", 1);
            }
        }
        size_t out_len;
        char *out = redact_n((const char *)in.data, in.len, WORDS, N_WORDS, &out_len);
        assert_null(memmem(out, out_len, "s3cr3t", 6));
        for (size_t l = 0; l < lines; l++) {
            char plain[32];
            snprintf(plain, sizeof plain, "plain%zu", l);
            bool is_in_input = memmem(in.data, in.len, plain, strlen(plain)) != NULL;
            bool is_in_output = memmem(out, out_len, plain, strlen(plain)) != NULL;
            assert_true(is_in_input == is_in_output);
        }
        free(out);
        buf_free(&in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envfile_plain_value_redacted),
        cmocka_unit_test(test_envfile_url_password_hidden_whatever_the_name),
        cmocka_unit_test(test_envfile_value_patterns),
        cmocka_unit_test(test_envfile_double_quoted_keeps_quotes),
        cmocka_unit_test(test_envfile_single_quoted_keeps_comment),
        cmocka_unit_test(test_envfile_empty_values_redacted),
        cmocka_unit_test(test_envfile_export_prefix),
        cmocka_unit_test(test_envfile_inline_comment_after_unquoted_value),
        cmocka_unit_test(test_envfile_crlf_preserved),
        cmocka_unit_test(test_envfile_no_final_newline),
        cmocka_unit_test(test_envfile_multiline_double_quoted),
        cmocka_unit_test(test_envfile_multiline_single_quoted),
        cmocka_unit_test(test_envfile_unterminated_quote_runs_to_end),
        cmocka_unit_test(test_envfile_nonmatching_multiline_untouched),
        cmocka_unit_test(test_envfile_malformed_copied_value_hides_nothing),
        cmocka_unit_test(test_envfile_junk_after_closing_quote_dropped),
        cmocka_unit_test(test_envfile_backslash_quote_does_not_close),
        cmocka_unit_test(test_envfile_backquoted_value),
        cmocka_unit_test(test_envfile_comments_and_blank_lines_identical),
        cmocka_unit_test(test_envfile_non_assignment_lines_copied),
        cmocka_unit_test(test_envfile_match_is_case_insensitive_substring),
        cmocka_unit_test(test_envfile_values_are_never_matched),
        cmocka_unit_test(test_envfile_colon_separator),
        cmocka_unit_test(test_envfile_lone_cr_line_endings),
        cmocka_unit_test(test_envfile_byte_order_mark),
        cmocka_unit_test(test_envfile_empty_word_matches_every_name),
        cmocka_unit_test(test_envfile_appends_to_buffer),
        cmocka_unit_test(test_envfile_zero_words_output_equals_input),
        cmocka_unit_test(test_envfile_realistic_file_leaks_no_secret),
        cmocka_unit_test(test_envfile_no_secret_in_output),
        cmocka_unit_test(test_envfile_unclosed_quotes_take_linear_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
