/*
 * fuzz_bucketkey.c — the bucket source's names for S3 keys
 * (source/bucket.c): a key is whatever a server lists. Every part of the
 * input (split at '/', cut at a NUL, which XML cannot carry) becomes a
 * name that tree_name_problem accepts, or is refused as too long; the
 * names joined read back to the key exactly, in both the plain and the
 * beside-a-folder form; and any input read as a tree path never crashes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzing.h"
#include "repo/tree.h"
#include "source/bucket.h"

static void check_form(const char *key, bool is_last_beside_folder)
{
    struct buf path = BUF_INIT;
    for (const char *p = key;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char *name = bucket_name_of_part(p, len, is_last_beside_folder && !slash);
        if (!name) { /* too long: the object is skipped, said so */
            buf_free(&path);
            return;
        }
        FUZZ_CHECK(tree_name_problem(name, TREE_NAME_MAX) == NULL);
        buf_append(&path, name, strlen(name));
        free(name);
        if (!slash)
            break;
        buf_append(&path, "/", 1);
        p = slash + 1;
    }
    buf_append(&path, "", 1);
    FUZZ_CHECK(tree_path_problem((const char *)path.data) == NULL);
    char *back = bucket_key_of_path((const char *)path.data);
    FUZZ_CHECK(back && strcmp(back, key) == 0);
    free(back);
    buf_free(&path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *key = malloc(size + 1);
    memcpy(key, data, size);
    key[size] = '\0';
    check_form(key, false);
    check_form(key, true);
    free(bucket_key_of_path(key));
    free(key);
    return 0;
}
