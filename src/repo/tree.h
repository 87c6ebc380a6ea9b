/*
 * tree.h — a directory as stored in the repository: a tree blob listing
 * its entries (nodes), sorted by name bytes.
 *
 * A file node carries its content as a content list (content.h): blob ids
 * in order, or, for long contents, ids of list blobs that hold them. A
 * directory node carries the id of its own tree blob. Names are arbitrary
 * bytes except '/' and NUL, so names that are not UTF-8 survive.
 * A stream snapshot is a tree with one file node.
 *
 * Which names an entry may have is decided in one place, tree_name_problem,
 * for the writer (tree_encode, and the commands that take a stream's or a
 * source's name) and the reader (tree_decode) alike, so that nothing is
 * written that restore or check would call malformed.
 */
#ifndef COFFER_REPO_TREE_H
#define COFFER_REPO_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/error.h"

enum node_type {
    NODE_FILE = 1,
    NODE_DIR = 2,
    NODE_SYMLINK = 3,
    NODE_FIFO = 4,
    NODE_CHARDEV = 5,
    NODE_BLOCKDEV = 6,
    NODE_SOCKET = 7,
};

/* Where a file's bytes are: `count` ids, of data blobs when depth is 0, of
 * list blobs of depth-1 content lists otherwise. */
struct content_ref {
    uint8_t depth;
    uint32_t count;
    uint8_t *ids; /* count * CRYPTO_ID_SIZE bytes, owned */
};

struct node {
    char *name; /* owned */
    uint8_t type;
    uint32_t mode; /* permission bits and set-id/sticky bits */
    uint32_t uid;
    uint32_t gid;
    int64_t mtime_ns;
    int64_t atime_ns;
    int64_t ctime_ns;
    uint64_t inode;
    uint64_t device;
    uint64_t size;
    uint64_t rdev;                /* device nodes */
    uint32_t links;               /* NODE_FILE: st_nlink at backup; 0 in trees written before it was kept */
    char *version;                /* NODE_FILE: the origin's tag for these bytes (an S3 ETag), owned, or NULL */
    struct content_ref content;   /* NODE_FILE */
    uint8_t subtree[CRYPTO_ID_SIZE]; /* NODE_DIR */
    char *target;                 /* NODE_SYMLINK, owned */
};

struct tree {
    struct node *nodes;
    size_t count;
    size_t cap;
};

/* The longest name an entry is written with: Linux's NAME_MAX, so that a
 * restore never has to shorten a name (and make two collide). */
#define TREE_NAME_MAX 255
/* The longest the byte format can hold (a 16-bit length); the reader takes
 * names up to this, for snapshots written before TREE_NAME_MAX was kept. */
#define TREE_NAME_FORMAT_MAX 65535

/* Why name cannot be an entry's name, or NULL when it can: it must be 1 to
 * max_len bytes, hold no '/' (nor NUL), and be neither "." nor "..". The
 * writer passes TREE_NAME_MAX, the reader TREE_NAME_FORMAT_MAX. The text
 * is static, lower case, and reads after "the name ...": "is empty". */
const char *tree_name_problem(const char *name, size_t max_len);

/* The same for a path of names joined by single '/' ("exports/users.jsonl",
 * a stream's or piece's name as stored): no leading, trailing or doubled
 * '/', and every name passes tree_name_problem(.., TREE_NAME_MAX). */
const char *tree_path_problem(const char *path);

/* Appends a node and returns it zeroed; the tree owns it. */
struct node *tree_add(struct tree *tree);
/* Sorts nodes by name; call before encoding. */
void tree_sort(struct tree *tree);
/* Appends the encoding of a sorted tree to out. Fails, naming the entry and
 * appending nothing, when an entry's name is refused by tree_name_problem
 * (with TREE_NAME_MAX), two entries share a name, the entries are not
 * sorted, or a symlink target is longer than the format holds. */
int tree_encode(const struct tree *tree, struct buf *out, struct error *err);
int tree_decode(const uint8_t *data, size_t len, struct tree *tree, struct error *err);
/* "file", "dir", "symlink", ... as ls and diff print them; "?" for a
 * type no writer uses. */
const char *node_type_name(uint8_t type);
/* Binary search in a sorted tree; NULL if absent. */
const struct node *tree_find(const struct tree *tree, const char *name);
void tree_free(struct tree *tree);
void node_free(struct node *node);

#endif
