/*
 * tree.c — tree blob encoding (see tree.h; byte layout in docs/format.md).
 *
 * Binary rather than JSON: an unchanged tree of 100,000 files is decoded on
 * every backup to compare against, and this is several times faster.
 */
#include "repo/tree.h"

#include <stdlib.h>
#include <string.h>

/* CTR2 added a file's link count; CTR1 trees are still read (links 0).
 * CTR3 adds a file's version string; a tree is written as CTR3 only when
 * one of its files has a version (a bucket's objects), so the trees of
 * every other source stay readable by a coffer that knows only CTR2. */
#define TREE_MAGIC_V3 "CTR3"
#define TREE_MAGIC "CTR2"
#define TREE_MAGIC_V1 "CTR1"

struct node *tree_add(struct tree *tree)
{
    if (tree->count == tree->cap) {
        tree->cap = tree->cap ? tree->cap * 2 : 16;
        tree->nodes = xrealloc(tree->nodes, tree->cap * sizeof *tree->nodes);
    }
    struct node *n = &tree->nodes[tree->count++];
    memset(n, 0, sizeof *n);
    return n;
}

static int compare_nodes(const void *a, const void *b)
{
    return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

void tree_sort(struct tree *tree)
{
    if (tree->count > 1)
        qsort(tree->nodes, tree->count, sizeof *tree->nodes, compare_nodes);
}

const char *tree_name_problem(const char *name, size_t max_len)
{
    size_t len = strlen(name);
    if (len == 0)
        return "is empty";
    if (len > max_len)
        return max_len == TREE_NAME_MAX ? "is longer than 255 bytes" : "is too long";
    if (memchr(name, '/', len))
        return "holds a '/'";
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return "is \".\" or \"..\"";
    return NULL;
}

const char *tree_path_problem(const char *path)
{
    if (path[0] == '\0')
        return "is empty";
    if (path[0] == '/')
        return "starts with '/' (give a relative name)";
    const char *why = NULL;
    char *copy = xstrdup(path);
    char *part = copy;
    for (;;) {
        char *slash = strchr(part, '/');
        if (slash)
            *slash = '\0';
        if (*part == '\0')
            why = slash ? "holds an empty part (\"//\")" : "ends with '/'";
        else if (!strcmp(part, ".") || !strcmp(part, ".."))
            why = "holds a \".\" or \"..\" part";
        else
            why = tree_name_problem(part, TREE_NAME_MAX) ? "holds a part longer than 255 bytes" : NULL;
        if (why || !slash)
            break;
        part = slash + 1;
    }
    free(copy);
    return why;
}

static void append_string(struct buf *out, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    buf_append_u16(out, (uint16_t)len);
    buf_append(out, s, len);
}

/* Checks what the reader would refuse, before anything is appended. */
static int check_encodable(const struct tree *tree, struct error *err)
{
    if (tree->count > UINT32_MAX)
        return error_set(err, "a directory of %zu entries is more than a tree holds", tree->count);
    for (size_t i = 0; i < tree->count; i++) {
        const struct node *n = &tree->nodes[i];
        const char *why = tree_name_problem(n->name ? n->name : "", TREE_NAME_MAX);
        if (why)
            return error_setk(err, ERR_USAGE, "the name \"%s\" %s: a snapshot cannot hold it",
                              n->name ? n->name : "", why);
        if (i > 0 && strcmp(tree->nodes[i - 1].name, n->name) >= 0)
            return error_set(err, !strcmp(tree->nodes[i - 1].name, n->name)
                                      ? "two entries are both named \"%s\""
                                      : "entries are not sorted at \"%s\" (tree_sort first)",
                             n->name);
        if (n->type == NODE_SYMLINK && n->target && strlen(n->target) > UINT16_MAX)
            return error_set(err, "the target of symlink \"%s\" is longer than a snapshot holds", n->name);
        if (n->version && strlen(n->version) > UINT16_MAX)
            return error_set(err, "the version of \"%s\" is longer than a snapshot holds", n->name);
    }
    return 0;
}

int tree_encode(const struct tree *tree, struct buf *out, struct error *err)
{
    if (check_encodable(tree, err) < 0)
        return -1;
    bool has_versions = false;
    for (size_t i = 0; i < tree->count && !has_versions; i++)
        has_versions = tree->nodes[i].type == NODE_FILE && tree->nodes[i].version;
    buf_append(out, has_versions ? TREE_MAGIC_V3 : TREE_MAGIC, 4);
    buf_append_u32(out, (uint32_t)tree->count);
    for (size_t i = 0; i < tree->count; i++) {
        const struct node *n = &tree->nodes[i];
        append_string(out, n->name);
        buf_append_u8(out, n->type);
        buf_append_u32(out, n->mode);
        buf_append_u32(out, n->uid);
        buf_append_u32(out, n->gid);
        buf_append_u64(out, (uint64_t)n->mtime_ns);
        buf_append_u64(out, (uint64_t)n->atime_ns);
        buf_append_u64(out, (uint64_t)n->ctime_ns);
        buf_append_u64(out, n->inode);
        buf_append_u64(out, n->device);
        buf_append_u64(out, n->size);
        switch (n->type) {
        case NODE_FILE:
            buf_append_u8(out, n->content.depth);
            buf_append_u32(out, n->content.count);
            buf_append(out, n->content.ids, (size_t)n->content.count * CRYPTO_ID_SIZE);
            buf_append_u32(out, n->links);
            if (has_versions)
                append_string(out, n->version);
            break;
        case NODE_DIR:
            buf_append(out, n->subtree, CRYPTO_ID_SIZE);
            break;
        case NODE_SYMLINK:
            append_string(out, n->target);
            break;
        case NODE_CHARDEV:
        case NODE_BLOCKDEV:
            buf_append_u64(out, n->rdev);
            break;
        }
    }
    return 0;
}

static char *read_string(struct cursor *c)
{
    uint16_t len = cursor_u16(c);
    const uint8_t *p = cursor_bytes(c, len);
    if (!p || memchr(p, '\0', len))
        return NULL;
    char *s = xmalloc((size_t)len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static int decode_node(struct cursor *c, struct node *n, bool has_links, bool has_versions)
{
    n->name = read_string(c);
    if (!n->name || tree_name_problem(n->name, TREE_NAME_FORMAT_MAX))
        return -1;
    n->type = cursor_u8(c);
    n->mode = cursor_u32(c);
    n->uid = cursor_u32(c);
    n->gid = cursor_u32(c);
    n->mtime_ns = (int64_t)cursor_u64(c);
    n->atime_ns = (int64_t)cursor_u64(c);
    n->ctime_ns = (int64_t)cursor_u64(c);
    n->inode = cursor_u64(c);
    n->device = cursor_u64(c);
    n->size = cursor_u64(c);
    switch (n->type) {
    case NODE_FILE: {
        n->content.depth = cursor_u8(c);
        n->content.count = cursor_u32(c);
        size_t bytes = (size_t)n->content.count * CRYPTO_ID_SIZE;
        const uint8_t *ids = cursor_bytes(c, bytes);
        if (!ids || n->content.depth > 8)
            return -1;
        n->content.ids = xmalloc(bytes ? bytes : 1);
        memcpy(n->content.ids, ids, bytes);
        n->links = has_links ? cursor_u32(c) : 0;
        if (has_versions) {
            n->version = read_string(c);
            if (!n->version)
                return -1;
            if (!*n->version) { /* written for a file without one */
                free(n->version);
                n->version = NULL;
            }
        }
        break;
    }
    case NODE_DIR: {
        const uint8_t *id = cursor_bytes(c, CRYPTO_ID_SIZE);
        if (!id)
            return -1;
        memcpy(n->subtree, id, CRYPTO_ID_SIZE);
        break;
    }
    case NODE_SYMLINK:
        n->target = read_string(c);
        if (!n->target)
            return -1;
        break;
    case NODE_CHARDEV:
    case NODE_BLOCKDEV:
        n->rdev = cursor_u64(c);
        break;
    case NODE_FIFO:
    case NODE_SOCKET:
        break;
    default:
        return -1;
    }
    return c->is_bad ? -1 : 0;
}

int tree_decode(const uint8_t *data, size_t len, struct tree *tree, struct error *err)
{
    struct cursor c = cursor_of(data, len);
    const uint8_t *magic = cursor_bytes(&c, 4);
    uint32_t count = cursor_u32(&c);
    memset(tree, 0, sizeof *tree);
    bool is_v1 = magic && memcmp(magic, TREE_MAGIC_V1, 4) == 0;
    bool is_v3 = magic && memcmp(magic, TREE_MAGIC_V3, 4) == 0;
    if (!magic || (memcmp(magic, TREE_MAGIC, 4) != 0 && !is_v1 && !is_v3) || c.is_bad)
        return error_set(err, "tree blob has a bad header");
    for (uint32_t i = 0; i < count; i++) {
        if (decode_node(&c, tree_add(tree), !is_v1, is_v3) < 0) {
            tree_free(tree);
            return error_set(err, "tree blob is malformed at entry %u", i);
        }
        if (i > 0 && strcmp(tree->nodes[i - 1].name, tree->nodes[i].name) >= 0) {
            tree_free(tree);
            return error_set(err, "tree blob entries are not sorted at entry %u", i);
        }
    }
    if (c.left != 0) {
        tree_free(tree);
        return error_set(err, "tree blob has trailing bytes");
    }
    return 0;
}

const char *node_type_name(uint8_t type)
{
    static const char *const names[] = {"?", "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

const struct node *tree_find(const struct tree *tree, const char *name)
{
    size_t lo = 0, hi = tree->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(tree->nodes[mid].name, name);
        if (cmp == 0)
            return &tree->nodes[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void node_free(struct node *node)
{
    free(node->name);
    free(node->content.ids);
    free(node->target);
    free(node->version);
    memset(node, 0, sizeof *node);
}

void tree_free(struct tree *tree)
{
    for (size_t i = 0; i < tree->count; i++)
        node_free(&tree->nodes[i]);
    free(tree->nodes);
    memset(tree, 0, sizeof *tree);
}
