/*
 * test_s3xml.c — the reader of S3's XML answers (store/s3xml.h): listings
 * as AWS sends them are read whole, with entities decoded and keys and
 * tokens of any length; every answer that is not a complete ListBucketResult
 * is refused with a message naming the request and what was wrong, never
 * read as an empty listing; error bodies give their Code and Message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3xml.h"
#include "util/buf.h"

#define WHAT "S3 listing of repo/data/"
#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
             "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define OWNER "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>" \
              "<DisplayName>x</DisplayName></Owner>"

/* A page as AWS writes it: two objects, complete. */
static const char aws_page[] =
    HEAD "<Name>coffer-test</Name><Prefix>repo/data/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>"
    "<IsTruncated>false</IsTruncated>"
    "<Contents><Key>repo/data/00/aa</Key><LastModified>2024-05-01T10:00:00.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>16777216</Size>" OWNER
    "<StorageClass>STANDARD</StorageClass></Contents>\n"
    "<Contents><Key>repo/data/00/ab</Key><LastModified>2024-05-01T10:00:01.000Z</LastModified>"
    "<ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>0</Size>"
    "<StorageClass>STANDARD_IA</StorageClass></Contents></ListBucketResult>";

static int parse(const char *body, struct s3xml_listing *l, struct error *err)
{
    return s3xml_listing_parse(WHAT, "application/xml", body, strlen(body), l, err);
}

/* The message for a refused body, which must start with the request. */
static const char *refusal(const char *body)
{
    static struct error err;
    struct s3xml_listing l;
    assert_int_equal(parse(body, &l, &err), -1);
    assert_int_equal(l.count, 0);
    assert_null(l.objects);
    assert_non_null(strstr(err.msg, WHAT));
    return err.msg;
}

static void assert_refused_with(const char *body, const char *words)
{
    const char *msg = refusal(body);
    if (!strstr(msg, words))
        fail_msg("refused, but the message \"%s\" does not say \"%s\"", msg, words);
}

/* A complete page as AWS sends it gives every key and size, in order. */
static void test_s3xml_aws_page_is_read_whole(void **state)
{
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(parse(aws_page, &l, &err), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.objects[0].key, "repo/data/00/aa");
    assert_int_equal(l.objects[0].size, 16777216);
    assert_string_equal(l.objects[1].key, "repo/data/00/ab");
    assert_int_equal(l.objects[1].size, 0);
    assert_string_equal(l.objects[0].modified, "2024-05-01T10:00:00.000Z");
    assert_string_equal(l.objects[1].etag, "\"0cc175b9c0f1b6a831c399e269772661\"");
    assert_false(l.is_truncated);
    assert_null(l.next_token);
    s3xml_listing_free(&l);
}

/* An empty, complete listing is an answer too: KeyCount 0, no Contents. */
static void test_s3xml_empty_listing_is_empty(void **state)
{
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(parse(HEAD "<Name>b</Name><Prefix>repo/data/</Prefix><KeyCount>0</KeyCount>"
                                "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>",
                           &l, &err), 0);
    assert_int_equal(l.count, 0);
    assert_false(l.is_truncated);
    s3xml_listing_free(&l);
    /* Without a namespace (some S3-compatible servers) and with blanks. */
    assert_int_equal(parse("<ListBucketResult>\n  <KeyCount>0</KeyCount>\n  <IsTruncated>false</IsTruncated>\n"
                           "</ListBucketResult>\n", &l, &err), 0);
    s3xml_listing_free(&l);
}

/* Keys come entity-decoded: a&amp;b is the key a&b, &#x41; is A. */
static void test_s3xml_keys_are_entity_decoded(void **state)
{
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(parse(HEAD "<KeyCount>3</KeyCount><IsTruncated>false</IsTruncated>"
                                "<Contents><Key>a&amp;b/snapshots/1</Key><Size>7</Size></Contents>"
                                "<Contents><Key>&lt;x&gt; &quot;&apos;&#x41;&#66;</Key><Size>8</Size></Contents>"
                                "<Contents><Key><![CDATA[c&d]]></Key><Size>9</Size></Contents>"
                                "</ListBucketResult>", &l, &err), 0);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.objects[0].key, "a&b/snapshots/1");
    assert_string_equal(l.objects[1].key, "<x> \"'AB");
    assert_string_equal(l.objects[2].key, "c&d");
    s3xml_listing_free(&l);
}

/* A truncated page gives its continuation token, entity-decoded; keys and
 * tokens of 100,000 bytes are read whole (the old reader cut at 1,023). */
static void test_s3xml_long_keys_and_tokens_are_whole(void **state)
{
    size_t n = 100000;
    char *key = malloc(n + 1), *token = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        key[i] = (char)('a' + i % 26);
        token[i] = (char)('A' + i % 26);
    }
    key[n] = token[n] = '\0';
    struct buf xml = BUF_INIT;
    const char *parts[] = {HEAD "<KeyCount>1</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>",
                           token, "+/=&amp;</NextContinuationToken><Contents><Key>", key,
                           "</Key><Size>18446744073709551615</Size></Contents></ListBucketResult>"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        buf_append(&xml, parts[i], strlen(parts[i]));
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(s3xml_listing_parse(WHAT, NULL, xml.data, xml.len, &l, &err), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.objects[0].key, key);
    assert_int_equal(l.objects[0].size, UINT64_MAX);
    assert_true(l.is_truncated);
    assert_int_equal(strlen(l.next_token), n + 4);
    assert_memory_equal(l.next_token, token, n);
    assert_string_equal(l.next_token + n, "+/=&");
    s3xml_listing_free(&l);
    buf_free(&xml);
    free(key);
    free(token);
}

/* Elements coffer does not need, and other namespaces' elements, are
 * skipped whole, even when they hold a <Key> or <Contents> of their own. */
static void test_s3xml_unknown_elements_are_skipped(void **state)
{
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(parse(HEAD "<KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>"
                                "<Future><Contents><Key>no</Key><Size>1</Size></Contents></Future>"
                                "<x:Contents xmlns:x=\"urn:other\"><x:Key>no</x:Key></x:Contents>"
                                "<Contents><Key>yes</Key><Size>1</Size><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
                                "<RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress></RestoreStatus>"
                                "</Contents></ListBucketResult>", &l, &err), 0);
    assert_int_equal(l.count, 1);
    assert_string_equal(l.objects[0].key, "yes");
    s3xml_listing_free(&l);
}

/* A proxy's or website's HTML page with 200 is not a listing, and the
 * message says what came instead. */
static void test_s3xml_html_is_not_a_listing(void **state)
{
    static const char html[] = "<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>";
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(s3xml_listing_parse(WHAT, "text/html", html, strlen(html), &l, &err), -1);
    assert_string_equal(err.msg, WHAT " was not a ListBucketResult (got text/html body starting "
                                      "'<html><head><title>Welcome to nginx!</ti'\xe2\x80\xa6): the endpoint may "
                                      "be a proxy or website, not S3");
    assert_refused_with("<!DOCTYPE html>\n<html><body>", "body starting '<!DOCTYPE html> <html><body>'");
    assert_refused_with("", "(got an empty application/xml body)");
    assert_refused_with("Service Unavailable", "not a ListBucketResult");
    assert_refused_with("<Error><Code>AccessDenied</Code></Error>", "not a ListBucketResult");
    assert_refused_with("<ListBucketResult xmlns=\"urn:not-s3\"><KeyCount>0</KeyCount></ListBucketResult>",
                        "not a ListBucketResult");
    assert_refused_with("<ListAllMyBucketsResult/>", "not a ListBucketResult");
}

/* A body cut short anywhere is refused as cut short, not taken as a
 * shorter listing. */
static void test_s3xml_cut_body_is_refused_at_every_length(void **state)
{
    size_t len = strlen(aws_page);
    for (size_t cut = 0; cut < len; cut++) {
        struct s3xml_listing l;
        struct error err;
        if (s3xml_listing_parse(WHAT, NULL, aws_page, cut, &l, &err) == 0)
            fail_msg("a page cut to %zu of %zu bytes was taken", cut, len);
        assert_non_null(strstr(err.msg, WHAT));
    }
    const char *msg = refusal(HEAD "<KeyCount>2</KeyCount><IsTruncated>false</IsTruncated>"
                                   "<Contents><Key>a</Key><Size>1</Size></Contents>");
    assert_non_null(strstr(msg, "is not well-formed XML"));
    assert_non_null(strstr(msg, "cut short"));
}

/* The old reader took a body without <Key> and <IsTruncated> as empty and
 * complete; each count a page must carry is now required. */
static void test_s3xml_counts_are_required(void **state)
{
    assert_refused_with(HEAD "</ListBucketResult>", "has no <KeyCount>");
    assert_refused_with(HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>", "has no <KeyCount>");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount></ListBucketResult>", "has no <IsTruncated>");
    assert_refused_with(HEAD "<KeyCount>2</KeyCount><IsTruncated>false</IsTruncated>"
                             "<Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>",
                        "says <KeyCount> 2 but holds 1 entries");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                             "<Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>",
                        "says <KeyCount> 0 but holds 1 entries");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>yes</IsTruncated></ListBucketResult>",
                        "<IsTruncated> 'yes', not true or false");
    assert_refused_with(HEAD "<KeyCount>-1</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>",
                        "<KeyCount> '-1', not a number");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                             "</ListBucketResult>", "two <KeyCount> elements");
    /* CommonPrefixes count towards KeyCount, as in S3. */
    struct s3xml_listing l;
    struct error err;
    assert_int_equal(parse(HEAD "<KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>"
                                "<CommonPrefixes><Prefix>repo/x/</Prefix></CommonPrefixes></ListBucketResult>",
                           &l, &err), 0);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.prefix_count, 1);
    s3xml_listing_free(&l);
}

/* A truncated page must say where to go on: the old reader stopped
 * silently at an empty token. */
static void test_s3xml_truncated_page_needs_a_token(void **state)
{
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>true</IsTruncated></ListBucketResult>",
                        "is truncated but gives no <NextContinuationToken>");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>true</IsTruncated>"
                             "<NextContinuationToken></NextContinuationToken></ListBucketResult>",
                        "<NextContinuationToken> is empty");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>true</IsTruncated>"
                             "<NextContinuationToken/></ListBucketResult>",
                        "<NextContinuationToken> is empty");
}

/* Each <Contents> has exactly one non-empty <Key> and one <Size> of plain
 * digits that fits in 64 bits. */
static void test_s3xml_entries_are_strict(void **state)
{
#define ONE(contents) HEAD "<KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents>" contents \
                           "</Contents></ListBucketResult>"
    assert_refused_with(ONE("<Size>1</Size>"), "a <Contents> without a <Key>");
    assert_refused_with(ONE("<Key>k</Key>"), "a <Contents> for 'k' without a <Size>");
    assert_refused_with(ONE("<Key></Key><Size>1</Size>"), "an empty <Key>");
    assert_refused_with(ONE("<Key>a</Key><Key>b</Key><Size>1</Size>"), "two <Key> elements");
    assert_refused_with(ONE("<Key>a</Key><Size>1</Size><Size>1</Size>"), "two <Size> elements");
    assert_refused_with(ONE("<Key>a<b/></Key><Size>1</Size>"), "an element <b> inside <Key>");
    assert_refused_with(ONE("<Key>a</Key><Size>1</Size><ETag>x</ETag><ETag>y</ETag>"), "two <ETag> elements");
    assert_refused_with(ONE("<Key>a</Key><LastModified>t</LastModified><LastModified>t</LastModified><Size>1</Size>"),
                        "two <LastModified> elements");
    assert_refused_with(ONE("<Key>a</Key><Size>1</Size><ETag></ETag>"), "an empty <ETag>");
    static const char *const bad_sizes[] = {"", " 1", "1 ", "+1", "-1", "0x10", "1e3", "1.0", "18446744073709551616",
                                            "99999999999999999999", "000000000000000000001"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        char body[512];
        snprintf(body, sizeof body, ONE("<Key>a</Key><Size>%s</Size>"), bad_sizes[i]);
        assert_refused_with(body, "not a number of bytes");
    }
    assert_refused_with(ONE("stray<Key>a</Key><Size>1</Size>"), "stray text 'stray'");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount>oops<IsTruncated>false</IsTruncated></ListBucketResult>",
                        "stray text 'oops'");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                             "<EncodingType>url</EncodingType></ListBucketResult>", "<EncodingType> 'url'");
#undef ONE
}

/* No DTD: an entity bomb or an external entity never gets declared. */
static void test_s3xml_dtd_is_refused(void **state)
{
    assert_refused_with("<?xml version=\"1.0\"?><!DOCTYPE ListBucketResult [<!ENTITY a \"aaaaaaaa\">"
                        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]><ListBucketResult><KeyCount>0</KeyCount>"
                        "<IsTruncated>false</IsTruncated><Contents><Key>&b;</Key><Size>1</Size></Contents>"
                        "</ListBucketResult>", "not a ListBucketResult");
    assert_refused_with(HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                             "<Contents><Key>&undefined;</Key><Size>1</Size></Contents></ListBucketResult>",
                        "not well-formed XML (undefined entity");
}

/* A continuation token given twice in one listing is an error naming both
 * pages; distinct tokens are followed. */
static void test_s3xml_repeated_token_is_refused(void **state)
{
    struct s3xml_tokens seen = {0};
    struct error err;
    assert_int_equal(s3xml_tokens_add(&seen, WHAT, "t1", &err), 0);
    assert_int_equal(s3xml_tokens_add(&seen, WHAT, "t2", &err), 0);
    assert_int_equal(s3xml_tokens_add(&seen, WHAT, "t1", &err), -1);
    assert_string_equal(err.msg, WHAT ": the server sent continuation token 't1' again (first after page 1, now "
                                      "after page 3): it is going round in circles");
    s3xml_tokens_free(&seen);
    assert_int_equal(seen.count, 0);
}

/* An S3 error body gives its Code and a one-line Message. */
static void test_s3xml_error_body(void **state)
{
    static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
                               "<Message>The request signature we calculated does not match\nthe signature you "
                               "provided &amp; more</Message><StringToSign>AWS4-HMAC-SHA256\n...</StringToSign>"
                               "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    struct s3xml_error e;
    struct error err;
    assert_int_equal(s3xml_error_parse("application/xml", body, strlen(body), &e, &err), 0);
    assert_string_equal(e.code, "SignatureDoesNotMatch");
    assert_string_equal(e.message, "The request signature we calculated does not match the signature you provided & more");
    s3xml_error_free(&e);
    static const char only_code[] = "<Error><Code>SlowDown</Code></Error>";
    assert_int_equal(s3xml_error_parse(NULL, only_code, strlen(only_code), &e, &err), 0);
    assert_string_equal(e.code, "SlowDown");
    assert_null(e.message);
    s3xml_error_free(&e);
}

/* Bodies that are not S3 errors are said to be so, with what they were. */
static void test_s3xml_error_body_refusals(void **state)
{
    struct s3xml_error e;
    struct error err;
    static const char *const bodies[] = {"<html><body>502 Bad Gateway</body></html>", "<Error><Message>m</Message></Error>",
                                         "<Error><Code></Code></Error>", "<Error><Code>A</Code><Code>B</Code></Error>",
                                         "<Error><Code>A</Code>", ""};
    static const char *const words[] = {"not an S3 error (got text/html body starting '<html><body>502 Bad Gateway",
                                        "without a <Code>", "an empty <Code>", "two <Code> elements",
                                        "not well-formed XML", "not an S3 error (got an empty text/html body)"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        assert_int_equal(s3xml_error_parse("text/html", bodies[i], strlen(bodies[i]), &e, &err), -1);
        assert_null(e.code);
        if (!strstr(err.msg, words[i]))
            fail_msg("body %zu: \"%s\" does not say \"%s\"", i, err.msg, words[i]);
    }
}

/* What a body looked like: printable, control bytes hidden, cut with "…". */
static void test_s3xml_describe_body(void **state)
{
    char out[256];
    s3xml_describe_body("text/plain", "\n  hi\x1b[31m\tthere", 16, out, sizeof out);
    assert_string_equal(out, "text/plain body starting 'hi?[31m there'");
    s3xml_describe_body(NULL, "x", 1, out, sizeof out);
    assert_string_equal(out, "a body starting 'x'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3xml_aws_page_is_read_whole),
        cmocka_unit_test(test_s3xml_empty_listing_is_empty),
        cmocka_unit_test(test_s3xml_keys_are_entity_decoded),
        cmocka_unit_test(test_s3xml_long_keys_and_tokens_are_whole),
        cmocka_unit_test(test_s3xml_unknown_elements_are_skipped),
        cmocka_unit_test(test_s3xml_html_is_not_a_listing),
        cmocka_unit_test(test_s3xml_cut_body_is_refused_at_every_length),
        cmocka_unit_test(test_s3xml_counts_are_required),
        cmocka_unit_test(test_s3xml_truncated_page_needs_a_token),
        cmocka_unit_test(test_s3xml_entries_are_strict),
        cmocka_unit_test(test_s3xml_dtd_is_refused),
        cmocka_unit_test(test_s3xml_repeated_token_is_refused),
        cmocka_unit_test(test_s3xml_error_body),
        cmocka_unit_test(test_s3xml_error_body_refusals),
        cmocka_unit_test(test_s3xml_describe_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
