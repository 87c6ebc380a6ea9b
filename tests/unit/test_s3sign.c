/*
 * test_s3sign.c — Signature Version 4 against AWS's published S3 example
 * (GET /test.txt from examplebucket with a Range header, in the S3 API
 * reference's "Signature Calculations for the Authorization Header"), and
 * the URI encoding SigV4 asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "store/s3sign.h"

static const char access_key[] = "AKIAIOSFODNN7EXAMPLE";
static const char secret_key[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/* The empty body's hash, which the example sends as x-amz-content-sha256. */
static void test_s3sign_empty_payload_hash(void **state)
{
    char hex[S3_SHA256_HEX];
    s3_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* AWS's example GET request signs to its published signature. */
static void test_s3sign_aws_get_object_example(void **state)
{
    const struct s3_header headers[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"range", "bytes=0-9"},
        {"x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"x-amz-date", "20130524T000000Z"},
    };
    struct s3_request r = {
        .method = "GET",
        .path = "/test.txt",
        .query = "",
        .headers = headers,
        .header_count = 4,
        .payload_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        .amz_date = "20130524T000000Z",
        .region = "us-east-1",
        .service = "s3",
    };
    struct buf auth = BUF_INIT;
    s3_sign(access_key, secret_key, &r, &auth);
    assert_string_equal((const char *)auth.data,
                        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    /* Any change to what is signed changes the signature. */
    struct buf other = BUF_INIT;
    r.path = "/test.txT";
    s3_sign(access_key, secret_key, &r, &other);
    assert_string_not_equal((const char *)auth.data, (const char *)other.data);
    r.path = "/test.txt";
    s3_sign(access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", &r, &other);
    assert_string_not_equal((const char *)auth.data, (const char *)other.data);
    assert_null(strstr((const char *)other.data, "EXAMPLEKEZ")); /* the secret is never in the header */
    buf_free(&auth);
    buf_free(&other);
}

/* Unreserved characters stay, '/' stays only in paths, the rest is %XX
 * with upper-case hex, bytes of UTF-8 one by one. */
static void test_s3sign_uri_encode(void **state)
{
    struct buf b = BUF_INIT;
    s3_uri_encode("data/3f/AZaz09-._~", true, &b);
    buf_append(&b, "", 1);
    assert_string_equal((const char *)b.data, "data/3f/AZaz09-._~");
    buf_reset(&b);
    s3_uri_encode("a b/c+d=é$", false, &b);
    buf_append(&b, "", 1);
    assert_string_equal((const char *)b.data, "a%20b%2Fc%2Bd%3D%C3%A9%24");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3sign_empty_payload_hash),
        cmocka_unit_test(test_s3sign_aws_get_object_example),
        cmocka_unit_test(test_s3sign_uri_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
