/*
 * check_hurt.c — which snapshots each problem a check found keeps from
 * being fully restored (check_hurt.h).
 *
 * The check's trace pass knows which trees need a bad blob, but not which
 * bad blob: a tree walked once is not walked again for the next snapshot.
 * So each hurt snapshot is walked once more here, through only those
 * trees (the clean ones are skipped whole), and every bad blob it meets
 * names the snapshot in the problems about that blob, or about the pack
 * readers take the blob from. A problem is looked up by id in two sorted
 * arrays, so the cost is the hurt trees and the bad blobs in them.
 */
#include "ops/check_hurt.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/content.h"
#include "repo/repo.h"
#include "repo/walk.h"
#include "util/buf.h"
#include "util/interrupt.h"

/* A problem found by the id of its blob or pack. */
struct problem_key {
    uint8_t id[CRYPTO_ID_SIZE];
    size_t problem;
};

struct hurt_tracer {
    struct repo *repo;
    struct blob_codec *codec;
    const struct index *bad;     /* ids of missing or damaged blobs */
    const struct index *walked;  /* tree ids of the trace pass; type = 1 if it needs a bad blob */
    struct check_result *result;
    struct problem_key *by_blob, *by_pack; /* sorted by id */
    size_t blob_keys, pack_keys;
    struct index *seen; /* this snapshot's trees walked and bad blobs named */
    const char *snapshot; /* its id, hex */
};

static int compare_keys(const void *a, const void *b)
{
    return memcmp(((const struct problem_key *)a)->id, ((const struct problem_key *)b)->id, CRYPTO_ID_SIZE);
}

/* Adds the snapshot being traced to every problem keyed by id. Snapshots
 * are traced one after the other, so a problem already naming it names
 * it last. */
static void name_in_problems(struct hurt_tracer *t, const struct problem_key *keys, size_t count,
                             const uint8_t id[CRYPTO_ID_SIZE])
{
    struct problem_key key;
    memcpy(key.id, id, CRYPTO_ID_SIZE);
    const struct problem_key *k = count ? bsearch(&key, keys, count, sizeof key, compare_keys) : NULL;
    if (!k)
        return;
    while (k > keys && !compare_keys(k - 1, &key))
        k--;
    for (; k < keys + count && !compare_keys(k, &key); k++) {
        struct string_list *names = &t->result->problems[k->problem].snapshots;
        if (names->count == 0 || strcmp(names->items[names->count - 1], t->snapshot))
            string_list_add(names, t->snapshot);
    }
}

/* A bad blob the snapshot needs: the problems about it, or about the pack
 * readers would take it from, name the snapshot. */
static int note_hurt(void *ctx, const uint8_t id[CRYPTO_ID_SIZE], enum blob_type type, struct error *err)
{
    struct hurt_tracer *t = ctx;
    uint8_t pack[CRYPTO_ID_SIZE];
    if (!index_find(t->bad, id, NULL) || index_find(t->seen, id, NULL))
        return 0;
    struct index_entry mark = {0};
    memcpy(mark.id, id, CRYPTO_ID_SIZE);
    index_insert(t->seen, &mark);
    name_in_problems(t, t->by_blob, t->blob_keys, id);
    if (index_find_pack(repo_index(t->repo), id, pack))
        name_in_problems(t, t->by_pack, t->pack_keys, pack);
    return 0;
}

/* Walks the trees of snap that the trace pass found needing bad blobs
 * (t->walked says which; the rest are skipped), naming each bad blob. */
static void trace_snapshot(struct hurt_tracer *t, const struct snapshot *snap)
{
    struct error ignored;
    size_t depth = 0, cap = 16;
    uint8_t (*stack)[CRYPTO_ID_SIZE] = xmalloc(cap * sizeof *stack);
    for (size_t d = 0; d < snap->dictionary_count; d++)
        note_hurt(t, snap->dictionaries[d], BLOB_DICT, &ignored);
    memcpy(stack[depth++], snap->root, CRYPTO_ID_SIZE);
    while (depth > 0 && !interrupt_signal()) {
        uint8_t id[CRYPTO_ID_SIZE];
        struct index_entry mark = {0}, walked;
        struct tree tree;
        memcpy(id, stack[--depth], CRYPTO_ID_SIZE);
        if (index_find(t->bad, id, NULL)) {
            note_hurt(t, id, BLOB_TREE, &ignored);
            continue;
        }
        if (index_find(t->seen, id, NULL) || (index_find(t->walked, id, &walked) && !walked.type))
            continue; /* walked already, or needs nothing bad */
        memcpy(mark.id, id, CRYPTO_ID_SIZE);
        index_insert(t->seen, &mark);
        if (repo_read_tree(t->repo, t->codec, id, &tree, &ignored) < 0)
            continue;
        for (size_t i = 0; i < tree.count; i++) {
            const struct node *n = &tree.nodes[i];
            if (n->type == NODE_FILE)
                content_walk_ids(t->repo, t->codec, &n->content, note_hurt, t, &ignored);
            if (n->type != NODE_DIR)
                continue;
            if (depth == cap)
                stack = xrealloc(stack, (cap *= 2) * sizeof *stack);
            memcpy(stack[depth++], n->subtree, CRYPTO_ID_SIZE);
        }
        tree_free(&tree);
    }
    free(stack);
}

void check_name_hurt(struct repo *repo, struct blob_codec *codec, const struct index *bad, const struct index *walked,
                     struct check_result *result, const struct snapshot *const *snaps, size_t count,
                     const bool *is_hurt)
{
    struct hurt_tracer t = {.repo = repo, .codec = codec, .bad = bad, .walked = walked, .result = result};
    t.by_blob = xcalloc(result->problem_count + 1, sizeof *t.by_blob);
    t.by_pack = xcalloc(result->problem_count + 1, sizeof *t.by_pack);
    for (size_t i = 0; i < result->problem_count; i++) {
        const struct check_problem *p = &result->problems[i];
        struct problem_key *k;
        if (!strcmp(p->kind, "dictionary") || !strcmp(p->kind, "copy_damaged"))
            continue;
        if (p->has_blob)
            k = &t.by_blob[t.blob_keys++];
        else if (p->has_pack)
            k = &t.by_pack[t.pack_keys++];
        else
            continue;
        memcpy(k->id, p->has_blob ? p->blob : p->pack, CRYPTO_ID_SIZE);
        k->problem = i;
    }
    qsort(t.by_blob, t.blob_keys, sizeof *t.by_blob, compare_keys);
    qsort(t.by_pack, t.pack_keys, sizeof *t.by_pack, compare_keys);
    for (size_t i = 0; i < count && (t.blob_keys || t.pack_keys); i++) {
        if (!is_hurt[i])
            continue;
        char hex[65];
        snapshot_id_hex(snaps[i], hex);
        t.snapshot = hex;
        t.seen = index_new();
        trace_snapshot(&t, snaps[i]);
        index_free(t.seen);
    }
    free(t.by_blob);
    free(t.by_pack);
}
