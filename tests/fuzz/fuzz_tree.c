/*
 * fuzz_tree.c — tree blobs (repo/tree.c's tree_decode): the plaintext of a
 * directory listing, as it is after its blob was opened. A tree that
 * decodes must encode again and decode to the same number of entries, each
 * found by tree_find under its own name.
 */
#include <stdint.h>

#include "fuzzing.h"
#include "repo/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tree tree;
    struct error err;
    if (tree_decode(data, size, &tree, &err) < 0)
        return 0;
    for (size_t i = 0; i < tree.count; i++)
        FUZZ_CHECK(tree_find(&tree, tree.nodes[i].name) == &tree.nodes[i]);
    /* The reader takes names the writer refuses (over 255 bytes, from old
     * snapshots); what the writer takes must read back. */
    struct buf again = BUF_INIT;
    if (tree_encode(&tree, &again, &err) == 0) {
        struct tree back;
        FUZZ_CHECK(tree_decode(again.data, again.len, &back, &err) == 0);
        FUZZ_CHECK(back.count == tree.count);
        tree_free(&back);
    }
    buf_free(&again);
    tree_free(&tree);
    return 0;
}
