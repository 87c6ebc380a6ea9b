/*
 * repair_snapshots.c — `coffer repair snapshots`: what each snapshot can no
 * longer restore, and for file trees a snapshot without it.
 *
 * A blob is lost when the index does not have it, or has only a copy that
 * check found damaged or whose pack is missing. A tree is walked from its
 * root with an explicit stack (trees may be thousands of levels deep); a
 * file that needs a lost blob is left out, a directory whose own listing is
 * lost is left out whole, and every directory above a change is written
 * anew. The repaired snapshot keeps the original's time, source, host and
 * metadata, gains the tag "repaired", names the original in repaired_from
 * and lists what it lacks in its warnings. A stream (a database dump, an
 * RDB, a command's output) cannot be cut: a snapshot of one that lost a
 * piece is reported, and the next backup of its source is the cure.
 *
 * A copy counts as lost only for what says so: not in the index, damaged
 * (a damage record, or authentication failing now), or in a pack the store
 * does not have (repair_load_index decides that afresh) — and then only if
 * no other copy can be read, as repo_read_blob would. Any other failure to
 * read (an I/O error, a timeout) stops the command before it writes or
 * forgets anything: every snapshot is walked first, and only then are the
 * repaired copies written and, with is_forget, the originals removed.
 *
 * With is_dry_run it only reports, which is how the other repairs say what
 * is still unrestorable after they ran.
 */
#include "ops/ops.h"
#include "ops/repair_int.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/blob_writer.h"
#include "repo/blob.h"
#include "repo/damage.h"
#include "repo/lock.h"
#include "source/types.h"
#include "store/store.h"
#include "util/text.h"

struct lost_scan {
    struct repo *repo;
    uint64_t lost; /* blobs of the content being looked at */
};

/* Whether a copy of the blob may be read: the one the index finds, or,
 * where that one is damaged or its pack missing, another one. */
static bool is_available(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE])
{
    struct index *idx = repo_index(repo);
    struct index_entry e, other;
    if (!index_find(idx, id, &e) || e.pack == INDEX_PACK_PENDING)
        return false;
    if (!(e.flags & INDEX_BLOB_DAMAGED) && !(index_pack_flags(idx, e.pack) & INDEX_PACK_MISSING))
        return true;
    return index_find_other(idx, &e, &other);
}

/* A failure to read that means the data is gone (rather than out of reach
 * for now). */
static bool is_lost(const struct error *err)
{
    return err->kind == ERR_NOT_FOUND || err->kind == ERR_AUTH;
}

static int count_lost(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct lost_scan *scan = ctx;
    if (is_available(scan->repo, id))
        return 0;
    scan->lost++;
    /* A lost list: what it lists cannot be looked up, the walk ends. */
    return type == BLOB_LIST ? error_setk(err, ERR_NOT_FOUND, "a list of the file's blobs is lost") : 0;
}

struct frame {
    uint8_t id[CRYPTO_ID_SIZE];
    char *path;
    struct tree tree;
    size_t next;      /* the node to look at next */
    bool is_changed;  /* a node was left out or a subtree rewritten */
};

enum walk_outcome { TREE_SAME, TREE_CHANGED, TREE_LOST };

struct repairer {
    struct repo *repo;
    const struct repair_options *opts;
    struct blob_codec *codec;
    struct blob_writer *writer; /* NULL when only reporting */
    struct string_list lost;    /* paths left out of the snapshot being repaired */
    struct frame *stack;
    size_t depth, cap;
};


static char *join_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = xmalloc(len);
    snprintf(path, len, "%s/%s", dir, name); /* the root is "": paths start with "/" */
    return path;
}

static void push(struct repairer *r, const uint8_t id[CRYPTO_ID_SIZE], char *path)
{
    if (r->depth == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->stack = xrealloc(r->stack, r->cap * sizeof *r->stack);
    }
    struct frame *f = &r->stack[r->depth++];
    memset(f, 0, sizeof *f);
    memcpy(f->id, id, CRYPTO_ID_SIZE);
    f->path = path;
}

/* The message for a read that failed for another reason than loss. */
static int not_now(struct error *err, const struct error *why, const char *what, const char *path)
{
    *err = *why;
    return error_wrap(err, "cannot read %s %s (nothing was written or forgotten; run `coffer repair snapshots` "
                      "again once it can be read)", what, path);
}

/* Opens the frame's tree; *is_open false (and the path noted) if it is
 * lost. Fails when it cannot be read for another reason. */
static int open_frame(struct repairer *r, struct frame *f, bool *is_open, struct error *err)
{
    struct buf raw = BUF_INIT;
    struct error why;
    int rc = 0;
    *is_open = false;
    if (is_available(r->repo, f->id)) {
        char path[4200];
        snprintf(path, sizeof path, "%s/", f->path);
        if (repo_read_blob(r->repo, r->codec, f->id, &raw, &why) < 0) {
            if (!is_lost(&why))
                rc = not_now(err, &why, "the directory listing of", path);
        } else if (tree_decode(raw.data, raw.len, &f->tree, &why) < 0) {
            rc = not_now(err, &why, "the directory listing of", path); /* authentic, but not a tree this coffer reads */
        } else {
            *is_open = true;
        }
    }
    buf_free(&raw);
    if (rc == 0 && !*is_open) {
        char line[4200];
        snprintf(line, sizeof line, "%s/ (the directory listing, and everything in it)", f->path);
        string_list_add(&r->lost, line);
    }
    return rc;
}

/* Leaves node i out of the frame's tree. */
static void drop_node(struct frame *f, size_t i)
{
    node_free(&f->tree.nodes[i]);
    memmove(&f->tree.nodes[i], &f->tree.nodes[i + 1], (f->tree.count - i - 1) * sizeof *f->tree.nodes);
    f->tree.count--;
    f->is_changed = true;
}

/* Finishes the top frame: stores its tree if it changed. */
static int close_frame(struct repairer *r, struct frame *f, uint8_t new_id[CRYPTO_ID_SIZE], struct error *err)
{
    memcpy(new_id, f->id, CRYPTO_ID_SIZE);
    if (!f->is_changed || !r->writer)
        return 0;
    struct buf raw = BUF_INIT;
    int rc = tree_encode(&f->tree, &raw, err);
    if (rc == 0)
        rc = blob_writer_add(r->writer, BLOB_TREE, raw.data, raw.len, new_id, err);
    buf_free(&raw);
    return rc;
}

static void pop(struct repairer *r)
{
    struct frame *f = &r->stack[--r->depth];
    tree_free(&f->tree);
    free(f->path);
}

/* Walks the tree at root; out gets the repaired root's id. */
static int repair_tree(struct repairer *r, const uint8_t root[CRYPTO_ID_SIZE], enum walk_outcome *outcome,
                       uint8_t out[CRYPTO_ID_SIZE], struct error *err)
{
    enum walk_outcome child = TREE_SAME;
    uint8_t child_id[CRYPTO_ID_SIZE];
    bool is_open;
    push(r, root, xstrdup(""));
    int rc = open_frame(r, &r->stack[0], &is_open, err);
    if (rc < 0 || !is_open) {
        pop(r);
        *outcome = TREE_LOST;
        return rc;
    }
    while (r->depth > 0 && rc == 0) {
        struct frame *f = &r->stack[r->depth - 1];
        if (child != TREE_SAME) { /* the subtree at node f->next - 1 came back */
            size_t i = f->next - 1;
            if (child == TREE_LOST)
                drop_node(f, i), f->next--;
            else
                memcpy(f->tree.nodes[i].subtree, child_id, CRYPTO_ID_SIZE), f->is_changed = true;
            child = TREE_SAME;
        }
        bool is_descending = false;
        while (f->next < f->tree.count && !is_descending) {
            struct node *n = &f->tree.nodes[f->next];
            if (n->type == NODE_DIR) {
                f->next++;
                push(r, n->subtree, join_path(f->path, n->name));
                f = NULL; /* the stack may have moved */
                struct frame *sub = &r->stack[r->depth - 1];
                rc = open_frame(r, sub, &is_open, err);
                if (rc < 0 || !is_open) {
                    pop(r);
                    f = &r->stack[r->depth - 1];
                    if (rc < 0)
                        break;
                    drop_node(f, f->next - 1);
                    f->next--;
                    continue;
                }
                is_descending = true;
                break;
            }
            if (n->type == NODE_FILE) {
                struct lost_scan scan = {r->repo, 0};
                struct error walk_err;
                int walked = content_walk_ids(r->repo, r->codec, &n->content, count_lost, &scan, &walk_err);
                if (walked < 0 && !is_lost(&walk_err)) {
                    char *path = join_path(f->path, n->name);
                    rc = not_now(err, &walk_err, "the blob list of", path);
                    free(path);
                    break;
                }
                if (walked < 0 || scan.lost) {
                    char *path = join_path(f->path, n->name);
                    string_list_add(&r->lost, path);
                    free(path);
                    drop_node(f, f->next);
                    continue;
                }
            }
            f->next++;
        }
        if (rc < 0)
            break;
        if (is_descending)
            continue;
        f = &r->stack[r->depth - 1];
        bool is_changed = f->is_changed;
        rc = close_frame(r, f, child_id, err);
        pop(r);
        child = is_changed ? TREE_CHANGED : TREE_SAME;
        if (r->depth == 0) {
            memcpy(out, child_id, CRYPTO_ID_SIZE);
            *outcome = child;
        }
    }
    while (r->depth > 0)
        pop(r);
    return rc;
}

/* A repaired copy of snap with root as its content. */
static int save_repaired(struct repairer *r, const struct snapshot *snap, const uint8_t root[CRYPTO_ID_SIZE],
                         struct error *err)
{
    struct snapshot copy = {0};
    struct buf text = BUF_INIT;
    char hex[65];
    snapshot_encode(snap, &text); /* a deep copy through its own format */
    int rc = snapshot_decode(text.data, text.len, &copy, err);
    buf_free(&text);
    if (rc < 0)
        return -1;
    snapshot_id_hex(snap, hex);
    memcpy(copy.root, root, CRYPTO_ID_SIZE);
    free(copy.repaired_from);
    copy.repaired_from = xstrdup(hex);
    string_list_add(&copy.tags, "repaired");
    for (size_t i = 0; i < r->lost.count; i++) {
        char line[4200];
        snprintf(line, sizeof line, "left out by repair (its data was lost): %s", r->lost.items[i]);
        string_list_add(&copy.warnings, line);
    }
    rc = snapshot_save(r->repo, &copy, err);
    snapshot_free(&copy);
    return rc;
}

static bool is_tree_type(const char *type)
{
    const struct source_type *kind = source_type_find(type);
    return kind && kind->is_tree;
}

/* One snapshot: what it lacks, reported; *needs_copy when it is a tree
 * that a repaired copy can be made of. Writes nothing when r->writer is
 * NULL. */
static int scan_one(struct repairer *r, const struct snapshot *snap, struct repair_result *result, bool *needs_copy,
                    uint8_t root[CRYPTO_ID_SIZE], struct error *err)
{
    char hex[65], when[32];
    snapshot_id_hex(snap, hex);
    time_format_rfc3339(snap->time, when);
    *needs_copy = false;
    string_list_free(&r->lost);
    for (size_t d = 0; d < snap->dictionary_count; d++)
        if (!is_available(r->repo, snap->dictionaries[d])) {
            char dict[17];
            id_short(snap->dictionaries[d], dict);
            char line[128];
            snprintf(line, sizeof line, "dictionary %s (the database blobs compressed with it)", dict);
            string_list_add(&r->lost, line);
        }
    enum walk_outcome outcome = TREE_SAME;
    int rc = repair_tree(r, snap->root, &outcome, root, err);
    if (rc < 0 || r->lost.count == 0 || r->writer)
        return rc;
    result->snapshots_lost++;
    bool is_tree = is_tree_type(snap->type) && outcome != TREE_LOST && snap->dictionary_count == 0;
    repair_say(r->opts, "snapshot %.8s (source %s, %s) cannot restore %zu item%s%s:", hex, snap->source, when,
        r->lost.count, r->lost.count == 1 ? "" : "s",
        is_tree ? (!r->opts->is_dry_run ? "; a repaired copy without them is stored"
                                        : "; repair snapshots stores a copy without them")
                : "; it is a stream: back up the source again");
    for (size_t i = 0; i < r->lost.count; i++)
        repair_say(r->opts, "  %s", r->lost.items[i]);
    *needs_copy = is_tree;
    return 0;
}

/* The repaired copy of a snapshot scan_one found lacking: its trees
 * without what is lost, then the snapshot (*is_written). */
static int write_repaired(struct repairer *r, const struct snapshot *snap, struct repair_result *result,
                          bool *is_written, struct error *err)
{
    uint8_t root[CRYPTO_ID_SIZE];
    bool needs_copy;
    *is_written = false;
    r->writer = blob_writer_new(r->repo, 1);
    int rc = scan_one(r, snap, result, &needs_copy, root, err);
    if (rc == 0 && r->lost.count) {
        rc = blob_writer_finish(r->writer, err);
        if (rc == 0)
            rc = save_repaired(r, snap, root, err);
        if (rc == 0) {
            result->snapshots_written++;
            *is_written = true;
        }
    }
    blob_writer_free(r->writer);
    r->writer = NULL;
    return rc;
}

int ops_repair_snapshots(struct repo *repo, const struct repair_options *opts, struct repair_result *result,
                         struct error *err)
{
    struct repo_lock *lock = NULL;
    struct snapshot_list list = {0};
    struct repairer r = {.repo = repo, .opts = opts};
    struct string_list forgotten = {0};
    struct damage_list damage = {0};
    bool *needs_copy = NULL;
    size_t undecided = 0;
    memset(result, 0, sizeof *result);
    if (repo_lock(repo, !opts->is_dry_run, &lock, err) < 0)
        return -1;
    int rc = repair_load_index(repo, opts, &damage, &undecided, err);
    if (rc == 0 && undecided)
        rc = error_set(err, "%zu pack%s could not be looked at (named above); nothing was written or forgotten: run "
                       "`coffer repair snapshots` again", undecided, undecided == 1 ? "" : "s");
    if (rc == 0)
        rc = snapshot_list_load(repo, &list, err);
    r.codec = repo_blob_codec_new(repo);
    for (size_t i = 0; rc == 0 && i < list.unreadable.count; i++)
        repair_say(opts, "%s cannot be read: it is left as it is", list.unreadable.items[i]);
    /* Every snapshot is walked before anything is written: a read that
     * fails for another reason than loss stops it with nothing changed. */
    needs_copy = xcalloc(list.count + 1, sizeof *needs_copy);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        uint8_t root[CRYPTO_ID_SIZE];
        rc = scan_one(&r, &list.items[i], result, &needs_copy[i], root, err);
    }
    for (size_t i = 0; rc == 0 && !opts->is_dry_run && i < list.count; i++) {
        bool is_written;
        if (!needs_copy[i])
            continue;
        rc = write_repaired(&r, &list.items[i], result, &is_written, err);
        if (rc == 0 && is_written && opts->is_forget) {
            char name[96];
            repo_object_name(OBJ_SNAPSHOT, list.items[i].id, name);
            string_list_add(&forgotten, name);
        }
    }
    /* The originals go only once every repaired copy is stored. */
    if (rc == 0 && forgotten.count)
        rc = store_delete_many(repo_store(repo), forgotten.items, forgotten.count, err);
    free(needs_copy);
    damage_free(&damage);
    string_list_free(&forgotten);
    string_list_free(&r.lost);
    free(r.stack);
    blob_codec_free(r.codec);
    snapshot_list_free(&list);
    repo_unlock(lock);
    return rc < 0 ? error_wrap(err, "cannot repair the snapshots") : 0;
}
