/*
 * make_seeds.c — writes the fuzz harnesses' seed corpora from coffer's own
 * encoders, so that fuzzing starts from what coffer really writes and reads
 * (not from what a test author remembers of the formats). Run by hand
 * after a format change:
 *
 *   cmake --build build --target fuzz_seeds && build/tests/fuzz/fuzz_seeds tests/fuzz/corpus
 *
 * It writes corpus/<harness>/seed-<what> files (replacing its own earlier
 * ones, leaving every other file alone: inputs a fuzzer found are kept).
 * Each file is in the input format its harness's header comment gives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "fuzzing.h"
#include "pgarchive_writer.h"
#include "repo/event.h"
#include "repo/index.h"
#include "repo/keys.h"
#include "repo/pack.h"
#include "repo/repo_int.h" /* opens with the master key by hand */
#include "repo/snapshot.h"
#include "repo/tree.h"
#include "store/store.h"
#include "util/crc64.h"
#include "util/text.h"

static const char *root_dir;

static void seed(const char *harness, const char *what, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root_dir, harness);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/seed-%s", root_dir, harness, what);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void seed_text(const char *harness, const char *what, const char *text)
{
    seed(harness, what, text, strlen(text));
}

static void seed_buf(const char *harness, const char *what, struct buf *b)
{
    seed(harness, what, b->data, b->len);
    buf_free(b);
}

static void fill_id(uint8_t id[CRYPTO_ID_SIZE], uint8_t v)
{
    for (int i = 0; i < CRYPTO_ID_SIZE; i++)
        id[i] = (uint8_t)(v + i);
}

static void seeds_text(void)
{
    static const char *const values[][2] = {
        {"time", "2025-01-05T02:00:00Z"},       {"time-fraction", "2025-01-05T02:00:00.250000Z"},
        {"time-offset", "2025-01-05T03:30:00+01:30"}, {"time-negative", "1999-12-31T23:59:59-08:00"},
        {"size", "65536"},                      {"size-kib", "64KiB"},
        {"size-g", "2G"},                       {"size-mb", "10MB"},
        {"duration", "1h30m"},                  {"duration-weeks", "2w3d"},
        {"hex", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        seed_text("text", values[i][0], values[i][1]);
}

static void seeds_tree(void)
{
    struct tree tree = {0};
    struct node *n = tree_add(&tree);
    n->name = xstrdup("dir");
    n->type = NODE_DIR;
    n->mode = 0755;
    fill_id(n->subtree, 1);
    n = tree_add(&tree);
    n->name = xstrdup("file.txt");
    n->type = NODE_FILE;
    n->mode = 0644;
    n->size = 12345;
    n->mtime_ns = 1700000000123456789;
    n->content.count = 2;
    n->content.ids = xmalloc(2 * CRYPTO_ID_SIZE);
    fill_id(n->content.ids, 2);
    fill_id(n->content.ids + CRYPTO_ID_SIZE, 3);
    n = tree_add(&tree);
    n->name = xstrdup("link");
    n->type = NODE_SYMLINK;
    n->target = xstrdup("../elsewhere");
    n = tree_add(&tree);
    n->name = xstrdup("tty");
    n->type = NODE_CHARDEV;
    n->rdev = 0x0501;
    tree_sort(&tree);
    struct buf b = BUF_INIT;
    struct error err;
    if (tree_encode(&tree, &b, &err) < 0)
        fprintf(stderr, "tree seed: %s\n", err.msg);
    seed_buf("tree", "four-kinds", &b);
    tree_free(&tree);
    struct tree empty = {0};
    if (tree_encode(&empty, &b, &err) < 0)
        fprintf(stderr, "tree seed: %s\n", err.msg);
    seed_buf("tree", "empty", &b);
}

static void seeds_snapshot(void)
{
    struct snapshot snap = {0};
    snap.time = 1736042400;
    snap.time_ns = 250000000;
    snap.host = xstrdup("app1");
    snap.source = xstrdup("db");
    snap.type = xstrdup("postgres");
    snap.run = xstrdup("0123456789abcdef");
    snap.revision = xstrdup("4f2a9c0");
    string_list_add(&snap.tags, "hourly");
    string_list_add(&snap.tags, "daily");
    string_list_add(&snap.paths, "/srv/app");
    string_list_add(&snap.warnings, "a warning");
    fill_id(snap.root, 7);
    snap.has_parent = true;
    fill_id(snap.parent, 8);
    snap.stats = (struct snapshot_stats){1000, 500, 3, 1, 4, 2, 1.5};
    snap.meta_json = xstrdup("{\"server_version\":\"16.2\",\"rows\":[{\"schema\":\"app\",\"table\":\"t\",\"rows\":3}]}");
    uint8_t dict[CRYPTO_ID_SIZE];
    fill_id(dict, 9);
    snapshot_add_dictionary(&snap, dict);
    struct buf b = BUF_INIT;
    snapshot_encode(&snap, &b);
    seed_buf("snapshot", "postgres", &b);
    snapshot_free(&snap);
}

static void seeds_index_and_pack(void)
{
    struct pack_record packs[2];
    memset(packs, 0, sizeof packs);
    for (int p = 0; p < 2; p++) {
        fill_id(packs[p].id, (uint8_t)(0x40 + p));
        for (int i = 0; i < 3; i++) {
            struct pack_blob blob;
            memset(&blob, 0, sizeof blob);
            fill_id(blob.id, (uint8_t)(0x10 * p + i));
            blob.type = (uint8_t)i;
            blob.offset = (uint32_t)(100 * i);
            blob.length = 100;
            blob.raw_length = 80;
            pack_record_add(&packs[p], &blob);
        }
    }
    struct buf b = BUF_INIT;
    index_file_encode(packs, 2, &b);
    seed_buf("index", "two-packs", &b);
    pack_record_free(&packs[0]);
    pack_record_free(&packs[1]);

    /* A real pack of three blobs; the harness's input is the length of its
     * blob area (2 bytes) and its header's plaintext. */
    struct repo *repo = fuzz_repo();
    struct pack_builder pb = {BUF_INIT, {{0}, NULL, 0, 0}};
    pack_builder_start(&pb);
    memset(pb.record.id, 0x5a, CRYPTO_ID_SIZE);
    for (int i = 0; i < 3; i++) {
        uint8_t id[CRYPTO_ID_SIZE], sealed[50 + CRYPTO_SEAL_OVERHEAD] = {0};
        fill_id(id, (uint8_t)i);
        pack_builder_add(&pb, id, (uint8_t)i, sealed, sizeof sealed, 50);
    }
    size_t area = pb.data.len;
    pack_builder_finish(repo, &pb);
    size_t sealed_len = pb.data.len - 4 - area;
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_PACK_HEADER, pb.record.id, ad);
    struct buf input = BUF_INIT;
    buf_append_u8(&input, (uint8_t)area);
    buf_append_u8(&input, (uint8_t)(area >> 8));
    buf_reserve(&input, sealed_len);
    if (crypto_open(repo->key.enc, ad, ad_len, pb.data.data + area, sealed_len, input.data + input.len) < 0) {
        fprintf(stderr, "cannot open the pack header just written\n");
        exit(1);
    }
    input.len += sealed_len - CRYPTO_SEAL_OVERHEAD;
    seed_buf("pack", "three-blobs", &input);
    pack_builder_free(&pb);
}

static void seeds_pgarchive(void)
{
    static const struct arc_entry entries[] = {
        {1, "SCHEMA", "app", 2, NULL, "CREATE SCHEMA app;\n", NULL, {NULL}},
        {2, "TABLE", "users", 2, "app", "CREATE TABLE app.users (id int, name text);\n", NULL, {"1", NULL}},
        {3, "TABLE DATA", "users", 3, "app", NULL, "COPY app.users (id, name) FROM stdin;\n", {"2", NULL}},
        {4, "TABLE DATA", "empty", 3, NULL, NULL, "COPY empty (id) FROM stdin;\n", {NULL}},
        {5, "FK CONSTRAINT", "users_fk", 4, "app", "ALTER TABLE ...;\n", NULL, {"2", NULL}},
    };
    static const char users[] = "1\talice\n2\tbob\n3\t\\N\n\\.\n\n\n";
    static const char empty[] = "\\.\n\n\n";
    static const struct { const char *what; struct arc_header h; } versions[] = {
        {"v1.12", {1, 12, 1, 0}}, {"v1.14", {1, 14, 1, 0}}, {"v1.15", {1, 15, 1, 0}}, {"v1.16", {1, 16, 1, 0}},
        /* compressed (gzip level 6 before 1.15, algorithm gzip from 1.15): D3 */
        {"v1.14-compressed", {1, 14, 1, 6}}, {"v1.16-compressed", {1, 16, 1, 1}},
    };
    for (size_t v = 0; v < sizeof versions / sizeof versions[0]; v++) {
        struct buf b = BUF_INIT;
        buf_append_u8(&b, (uint8_t)(v * 37)); /* the harness's piece size */
        write_toc(&b, &versions[v].h, entries, sizeof entries / sizeof entries[0]);
        write_block_even(&b, 3, users, sizeof users - 1, 7);
        write_block_even(&b, 4, empty, sizeof empty - 1, 64);
        seed_buf("pgarchive", versions[v].what, &b);
    }
}

static void seeds_small(void)
{
    seed_text("envfile", "mixed",
              "# app settings\nexport API_KEY=abc123 # inline\nDB_PASSWORD=\"multi\nline\"\nNAME='plain'\r\n"
              "TOKEN: yaml-style\nEMPTY=\nQUOTED=\"a\\\"b\" # c\n`odd`\n");
    seed_text("envfile", "bom", "\xef\xbb\xbfSECRET=x\rOTHER=y\n");
    seed_text("exclude", "patterns",
              "*.tmp\ncache/\n/srv/app/uploads/private\n/var/log/app/*.gz\n**/node_modules\n/srv/**/cache\n"
              "/srv/app/**\n[a-z]?\\*\n[!abc]x\n\n/srv/app/uploads/private\n/srv/app/a/b.tmp\n/srv/cache\n"
              "/var/log/app/x.gz\n/srv/app\n/\n/srv/a/b/cache\n/srv/app/node_modules\n");
    seed_text("exclude", "refused", "foo/bar\n\n/x\n");
    /* retention: duration line, 6 counts, zone byte, then 9-byte snapshots */
    static const uint8_t retention[] = "90d\n\x03\x05\x04\x02\x01\x01\x01"
                                       "\x00\x10\x64\x67\x00\x00\x00\x00\x01"
                                       "\x80\x1d\x64\x67\x00\x00\x00\x00\x00"
                                       "\x00\x2b\x64\x67\x00\x00\x00\x00\x03"
                                       "\x00\x00\x00\x50\x00\x00\x00\x00\x00";
    seed("retention", "policy", retention, sizeof retention - 1);
    seed_text("retention", "within", "2y6m\n\x00\x00\x00\x00\x00\x00\x02");
}

static void seeds_objects(void)
{
    struct repo_config c;
    repo_config_defaults(&c);
    struct buf b = BUF_INIT;
    repo_config_encode(&c, &b);
    seed_buf("repo_config", "defaults", &b);
    c.zstd_level = -7;
    c.pack_size = 1u << 30;
    repo_config_encode(&c, &b);
    seed_buf("repo_config", "extremes", &b);
    seed_text("repo_config", "no-database",
              "{\"version\":1,\"id\":\"00\",\"chunks\":{\"stream\":{\"min\":4096,\"avg\":16384,\"max\":65536},"
              "\"files\":{\"min\":4096,\"avg\":16384,\"max\":65536}},\"compression\":{\"level\":3},"
              "\"pack_size\":16777216}");

    seed_text("event", "check",
              "{\"source\":\"db\",\"read_data\":0.1,\"packs_read\":[\"ab\"],\"errors\":0,\"kind\":\"check\","
              "\"time\":1736042400.25,\"host\":\"app1\",\"coffer_version\":\"0.1.0\"}");
    seed_text("event", "drill",
              "{\"source\":\"db\",\"ok\":true,\"seconds\":12.5,\"tables\":[{\"table\":\"app.users\",\"rows\":3}],"
              "\"kind\":\"drill\",\"time\":1736042401,\"host\":\"app1\",\"coffer_version\":\"0.1.0\"}");

    /* A real key file, wrapped at the cheapest level in a scratch store. */
    char dir[] = "/tmp/coffer-seeds-XXXXXX";
    struct store *store;
    struct error err;
    struct master_key master;
    char name[KEY_NAME_MAX];
    if (!mkdtemp(dir) || store_open(dir, NULL, true, &store, &err) < 0) {
        fprintf(stderr, "cannot make a scratch store in /tmp\n");
        exit(1);
    }
    master_key_generate(&master);
    if (key_file_create(store, &master, "seed passphrase", "interactive", name, &err) < 0 ||
        store_get(store, name, 0, STORE_TO_END, &b, &err) < 0) {
        fprintf(stderr, "cannot write a key file: %s\n", err.msg);
        exit(1);
    }
    seed_buf("keys", "interactive", &b);
    store_delete(store, name, &err);
    store_free(store);
    char path[4096];
    snprintf(path, sizeof path, "%s/keys", dir);
    rmdir(path);
    rmdir(dir);
}

static void seeds_redis(void)
{
    /* Replies as a server sends them, with the piece-size byte first. */
    static const char info[] = "# Server\r\nredis_version:7.0.15\r\nused_memory:1048576\r\n# Keyspace\r\n"
                               "db0:keys=3,expires=1,avg_ttl=0\r\ndb1:k\r\n";
    char replies[512];
    snprintf(replies, sizeof replies, "\x05+OK\r\n-ERR unknown command\r\n:1\r\n$-1\r\n$0\r\n\r\n$%zu\r\n%s\r\n$176\r\n",
             sizeof info - 1, info);
    seed_text("redis", "replies", replies);
    seed_text("redis", "sync-refused", "\x00-NOPERM this user has no permissions\r\n");
    /* An RDB with its end marker and CRC-64, and one with rdbchecksum off. */
    struct buf rdb = BUF_INIT;
    buf_append_u8(&rdb, 17);
    static const char body[] = "REDIS0011\xfa\x09redis-ver\x057.0.0\xfe\x00\xfb\x01\x00\x00\x03key\x05value\xff";
    buf_append(&rdb, body, sizeof body - 1);
    uint64_t crc = crc64_update(0, body, sizeof body - 1);
    buf_append_u64(&rdb, crc);
    seed_buf("redis", "rdb", &rdb);
    buf_append_u8(&rdb, 255);
    buf_append(&rdb, body, sizeof body - 1);
    buf_append_u64(&rdb, 0);
    seed_buf("redis", "rdb-unchecked", &rdb);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    root_dir = argv[1];
    seeds_text();
    seeds_tree();
    seeds_snapshot();
    seeds_index_and_pack();
    seeds_pgarchive();
    seeds_small();
    seeds_objects();
    seeds_redis();
    return 0;
}
