/*
 * repo.c — creating and opening repositories, and their sealed objects
 * (blobs are blob.c's).
 *
 * The config object is the one object read before anything else: it holds
 * the repository id in the clear (so it can be bound into every other
 * object's associated data) followed by the sealed JSON settings.
 */
#include "repo/repo.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/blob.h"
#include "repo/damage.h"
#include "repo/keys.h"
#include "repo/repo_int.h"
#include "repo/snapshot.h"
#include "util/parallel.h"
#include "util/text.h"

#define CONFIG_MAGIC "CFR1"
#define CONFIG_NAME "config"

void repo_config_defaults(struct repo_config *config)
{
    memset(config, 0, sizeof *config);
    config->version = REPO_FORMAT_VERSION;
    /* Measured in bench/RESULTS.md: 128 KiB dumps re-store ~6% for a 1%
     * clustered change (restic: ~40%) and compress within 7% of 1 MiB. */
    config->stream_chunks = (struct chunker_params){32 << 10, 128 << 10, 512 << 10};
    config->file_chunks = (struct chunker_params){256 << 10, 1 << 20, 4 << 20};
    /* Measured in docs/postgres.md: with trained dictionaries, 16 KiB chunks
     * compress within 6% of restic's 1 MiB ones, and a day of changes
     * spread over a whole database re-stores under 0.3x what restic does. */
    config->database_chunks = (struct chunker_params){4 << 10, 16 << 10, 64 << 10};
    config->zstd_level = 2;
    config->pack_size = 16 << 20;
}

const char *repo_object_folder(enum object_kind kind)
{
    switch (kind) {
    case OBJ_BLOB:
    case OBJ_PACK_HEADER: return "data";
    case OBJ_INDEX: return "index";
    case OBJ_SNAPSHOT: return "snapshots";
    case OBJ_LOCK: return "locks";
    case OBJ_EVENT: return "events";
    case OBJ_CONDEMNED: return "condemned";
    case OBJ_DAMAGE: return "damage";
    case OBJ_CONFIG: break;
    }
    return "";
}

void repo_object_name(enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE], char *out)
{
    char hex[2 * CRYPTO_ID_SIZE + 1];
    hex_encode(id, CRYPTO_ID_SIZE, hex);
    if (kind == OBJ_BLOB || kind == OBJ_PACK_HEADER)
        sprintf(out, "data/%.2s/%s", hex, hex);
    else
        sprintf(out, "%s/%s", repo_object_folder(kind), hex);
}

int repo_object_id_from_name(const char *name, uint8_t id[CRYPTO_ID_SIZE])
{
    const char *slash = strrchr(name, '/');
    return hex_decode(slash ? slash + 1 : name, id, CRYPTO_ID_SIZE);
}

size_t repo_object_ad(const struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                      uint8_t *out)
{
    memcpy(out, repo->config.id, REPO_ID_SIZE);
    out[REPO_ID_SIZE] = (uint8_t)kind;
    if (!id)
        return REPO_ID_SIZE + 1;
    memcpy(out + REPO_ID_SIZE + 1, id, CRYPTO_ID_SIZE);
    return REPO_AD_MAX;
}

void id_short(const uint8_t id[CRYPTO_ID_SIZE], char out[17])
{
    hex_encode(id, 8, out);
}

static json_t *chunks_to_json(const struct chunker_params *p)
{
    return json_pack("{s:i, s:i, s:i}", "min", (int)p->min_size, "avg", (int)p->avg_size, "max",
                     (int)p->max_size);
}

static int chunks_from_json(json_t *j, struct chunker_params *p, struct error *err)
{
    int min, avg, max;
    if (json_unpack(j, "{s:i, s:i, s:i}", "min", &min, "avg", &avg, "max", &max) < 0 || min <= 0 ||
        avg <= 0 || max <= 0)
        return error_set(err, "config has malformed chunk sizes");
    *p = (struct chunker_params){(uint32_t)min, (uint32_t)avg, (uint32_t)max};
    return chunker_params_check(p, err);
}

void repo_config_encode(const struct repo_config *c, struct buf *out)
{
    char id_hex[2 * REPO_ID_SIZE + 1];
    hex_encode(c->id, REPO_ID_SIZE, id_hex);
    json_t *doc = json_pack("{s:i, s:s, s:{s:o, s:o, s:o}, s:{s:s, s:i}, s:I, s:s, s:s}", "version",
                            (int)c->version, "id", id_hex, "chunks", "stream",
                            chunks_to_json(&c->stream_chunks), "files", chunks_to_json(&c->file_chunks),
                            "database", chunks_to_json(&c->database_chunks),
                            "compression", "algorithm", "zstd", "level", c->zstd_level, "pack_size",
                            (json_int_t)c->pack_size, "id_hash", "hmac-sha256", "cipher",
                            "xchacha20-poly1305");
    char *text = json_dumps(doc, JSON_COMPACT);
    buf_append(out, text, strlen(text));
    free(text);
    json_decref(doc);
}

int repo_config_decode(const uint8_t *data, size_t len, struct repo_config *c, struct error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, len, 0, &jerr), *stream = NULL, *files = NULL, *database = NULL;
    int version = 0, level = 0;
    json_int_t pack_size = 0;
    int rc = -1;
    if (!doc)
        return error_set(err, "repository config is not valid JSON (%s)", jerr.text);
    if (json_unpack(doc, "{s:i, s:{s:o, s:o, s?o}, s:{s:i}, s:I}", "version", &version, "chunks", "stream",
                    &stream, "files", &files, "database", &database, "compression", "level", &level,
                    "pack_size", &pack_size) < 0) {
        error_set(err, "repository config is missing fields");
    } else if (version != REPO_FORMAT_VERSION) {
        error_set(err, "repository format version %d is not supported by this coffer (it reads version %d)",
                  version, REPO_FORMAT_VERSION);
    } else if (pack_size < (1 << 20) || pack_size > (1 << 30)) {
        error_set(err, "repository config has a bad pack size");
    } else if (chunks_from_json(stream, &c->stream_chunks, err) == 0 &&
               chunks_from_json(files, &c->file_chunks, err) == 0 &&
               (!database || chunks_from_json(database, &c->database_chunks, err) == 0)) {
        if (!database) { /* a config from before database chunks had their own sizes: today's defaults */
            struct repo_config defaults;
            repo_config_defaults(&defaults);
            c->database_chunks = defaults.database_chunks;
        }
        c->version = (uint32_t)version;
        c->zstd_level = level;
        c->pack_size = (uint32_t)pack_size;
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

static void repo_setup_keys(struct repo *repo)
{
    repo->hasher = id_hasher_new(repo->key.mac);
    chunker_init(&repo->stream_chunker, &repo->config.stream_chunks, repo->key.chunk);
    chunker_init(&repo->file_chunker, &repo->config.file_chunks, repo->key.chunk);
    chunker_init(&repo->database_chunker, &repo->config.database_chunks, repo->key.chunk);
}

static int check_init_options(const struct repo_init_options *opts, struct error *err)
{
    if (chunker_params_check(&opts->config.stream_chunks, err) < 0 ||
        chunker_params_check(&opts->config.file_chunks, err) < 0)
        return -1;
    if (opts->config.zstd_level < -7 || opts->config.zstd_level > 19)
        return error_setk(err, ERR_USAGE, "compression level %d is out of range (-7..19)", opts->config.zstd_level);
    struct kdf_params probe;
    return kdf_params_for_level(opts->kdf_level, &probe, err);
}

/* Whether the store may take a new repository: not one whose config is
 * there already. */
static int check_no_repository(struct store *store, struct error *err)
{
    uint64_t size;
    struct error probe;
    if (store_size(store, CONFIG_NAME, &size, &probe) == 0)
        return error_set(err, "%s already holds a repository (its config exists)", store_location(store));
    if (probe.kind != ERR_NOT_FOUND) {
        *err = probe;
        return error_wrap(err, "cannot reach %s", store_location(store));
    }
    return 0;
}

int repo_init_store(struct store *store, const char *passphrase, const struct repo_init_options *opts,
                    struct error *err)
{
    struct repo repo = {0};
    struct buf plain = BUF_INIT, object = BUF_INIT;
    char key_name[KEY_NAME_MAX];
    int rc = -1;

    if (check_init_options(opts, err) < 0 || check_no_repository(store, err) < 0)
        return -1;
    repo.config = opts->config;
    repo.store = store;
    crypto_random(repo.config.id, REPO_ID_SIZE);
    master_key_generate(&repo.key);

    if (key_file_create(repo.store, &repo.key, passphrase, opts->kdf_level, key_name, err) < 0)
        goto out;
    repo_config_encode(&repo.config, &plain);
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(&repo, OBJ_CONFIG, NULL, ad);
    buf_append(&object, CONFIG_MAGIC, 4);
    buf_append(&object, repo.config.id, REPO_ID_SIZE);
    buf_reserve(&object, plain.len + CRYPTO_SEAL_OVERHEAD);
    crypto_seal(repo.key.enc, ad, ad_len, plain.data, plain.len, object.data + object.len);
    object.len += plain.len + CRYPTO_SEAL_OVERHEAD;
    /* The config goes last: a repository without one is an unfinished init. */
    rc = store_put(repo.store, CONFIG_NAME, object.data, object.len, err);
out:
    crypto_wipe(&repo.key, sizeof repo.key);
    buf_free(&plain);
    buf_free(&object);
    return rc;
}

int repo_init(const char *location, const char *passphrase, const struct repo_init_options *opts,
              struct error *err)
{
    struct store *store;
    /* Checked before touching the disk, so a typo creates nothing. */
    if (check_init_options(opts, err) < 0)
        return -1;
    if (store_open(location, opts->s3, true, &store, err) < 0)
        return -1;
    int rc = repo_init_store(store, passphrase, opts, err);
    store_free(store);
    return rc;
}

static int read_config(struct repo *repo, struct error *err)
{
    struct buf raw = BUF_INIT, plain = BUF_INIT;
    int rc = -1;
    if (store_get(repo->store, CONFIG_NAME, 0, STORE_TO_END, &raw, err) < 0) {
        if (err->kind == ERR_NOT_FOUND)
            error_setk(err, ERR_NO_REPO, "%s is not a coffer repository (no config; create one with `coffer init`)",
                       store_location(repo->store));
        goto out;
    }
    if (raw.len < 4 + REPO_ID_SIZE + CRYPTO_SEAL_OVERHEAD || memcmp(raw.data, CONFIG_MAGIC, 4) != 0) {
        error_set(err, "%s/config is not a coffer repository config", store_location(repo->store));
        goto out;
    }
    memcpy(repo->config.id, raw.data + 4, REPO_ID_SIZE);
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_CONFIG, NULL, ad);
    size_t sealed_len = raw.len - 4 - REPO_ID_SIZE;
    buf_reserve(&plain, sealed_len);
    if (crypto_open(repo->key.enc, ad, ad_len, raw.data + 4 + REPO_ID_SIZE, sealed_len, plain.data) < 0) {
        error_setk(err, ERR_AUTH, "repository config fails authentication (damaged, or the key belongs to another repository)");
        goto out;
    }
    rc = repo_config_decode(plain.data, sealed_len - CRYPTO_SEAL_OVERHEAD, &repo->config, err);
out:
    buf_free(&raw);
    buf_free(&plain);
    return rc;
}

int repo_open_store(struct store *store, const char *passphrase, struct repo **out, struct error *err)
{
    struct repo *repo = xcalloc(1, sizeof *repo);
    uint64_t size;
    struct error probe;
    repo->store = store;
    if (store_size(store, CONFIG_NAME, &size, &probe) < 0) {
        if (probe.kind == ERR_NOT_FOUND) {
            error_setk(err, ERR_NO_REPO, "%s is not a coffer repository (no config; create one with `coffer init`)",
                       store_location(store));
        } else {
            *err = probe;
            error_wrap(err, "cannot reach %s", store_location(store));
        }
        goto fail;
    }
    if (key_find(repo->store, passphrase, &repo->key, repo->key_name, err) < 0)
        goto fail;
    if (read_config(repo, err) < 0)
        goto fail;
    repo_setup_keys(repo);
    repo->index = index_new();
    repo->index_files_read = index_new();
    repo->dicts = dict_cache_new();
    *out = repo;
    return 0;
fail:
    repo_free(repo);
    return -1;
}

int repo_open(const char *location, const struct s3_settings *s3, const char *passphrase, struct repo **out,
              struct error *err)
{
    struct store *store;
    if (store_open(location, s3, false, &store, err) < 0) {
        if (err->kind == ERR_NOT_FOUND)
            error_setk(err, ERR_NO_REPO, "repository %s does not exist (create it with `coffer init`)", location);
        return -1;
    }
    if (repo_open_store(store, passphrase, out, err) < 0) {
        store_free(store);
        return -1;
    }
    (*out)->is_store_owned = true;
    return 0;
}

void repo_free(struct repo *repo)
{
    if (!repo)
        return;
    if (repo->is_store_owned)
        store_free(repo->store);
    id_hasher_free(repo->hasher);
    index_free(repo->index);
    index_free(repo->index_files_read);
    for (size_t i = 0; i < repo->index_problem_count; i++)
        free(repo->index_problems[i]);
    free(repo->index_problems);
    dict_cache_free(repo->dicts);
    crypto_wipe(&repo->key, sizeof repo->key);
    crypto_wipe(&repo->stream_chunker, sizeof repo->stream_chunker);
    crypto_wipe(&repo->file_chunker, sizeof repo->file_chunker);
    crypto_wipe(&repo->database_chunker, sizeof repo->database_chunker);
    free(repo);
}

struct store *repo_store(const struct repo *repo)
{
    return repo->store;
}

const struct repo_config *repo_config(const struct repo *repo)
{
    return &repo->config;
}

struct index *repo_index(const struct repo *repo)
{
    return repo->index;
}

const struct chunker *repo_stream_chunker(const struct repo *repo)
{
    return &repo->stream_chunker;
}

const struct chunker *repo_file_chunker(const struct repo *repo)
{
    return &repo->file_chunker;
}

const struct chunker *repo_database_chunker(const struct repo *repo)
{
    return &repo->database_chunker;
}

const char *repo_index_problem(const struct repo *repo, size_t i)
{
    return i < repo->index_problem_count ? repo->index_problems[i] : NULL;
}

struct index_load {
    struct repo *repo;
    enum object_kind kind;
    bool has_vanished; /* a listed file was gone when read */
};

static void add_index_problem(struct repo *repo, const char *name, const char *why)
{
    repo->index_problems = xrealloc(repo->index_problems, (repo->index_problem_count + 1) * sizeof(char *));
    size_t len = strlen(name) + strlen(why) + 3;
    char *line = xmalloc(len);
    snprintf(line, len, "%s: %s", name, why);
    repo->index_problems[repo->index_problem_count++] = line;
}

static int load_index_file(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct index_load *load = ctx;
    struct repo *repo = load->repo;
    uint8_t id[CRYPTO_ID_SIZE];
    struct buf plain = BUF_INIT;
    struct error one;
    if (repo_object_id_from_name(name, id) < 0 || index_find(repo->index_files_read, id, NULL))
        return 0;
    uint8_t flags = load->kind == OBJ_CONDEMNED ? INDEX_PACK_CONDEMNED : 0;
    int rc = repo_get_object(repo, load->kind, id, &plain, &one);
    if (rc == 0)
        rc = index_file_decode(repo->index, plain.data, plain.len, flags, &one);
    buf_free(&plain);
    if (rc < 0 && one.kind == ERR_NOT_FOUND) {
        load->has_vanished = true;
        return 0;
    }
    index_add_id(repo->index_files_read, id); /* read, or skipped once: not again */
    if (rc < 0)
        add_index_problem(repo, name, one.msg);
    return 0;
}

/* The index files not read yet; damage (when not NULL) is applied first,
 * and its missing packs after when is_missing_applied. */
static int load_index(struct repo *repo, const struct damage_list *damage, bool is_missing_applied,
                      struct error *err)
{
    static const enum object_kind kinds[] = {OBJ_INDEX, OBJ_CONDEMNED};
    /* Damage first: a damaged copy marked before the index files are read
     * gives way to a good copy of the same blob in a later file. */
    if (damage)
        damage_apply_blobs(damage, repo->index);
    for (int round = 0; round < 3; round++) {
        struct index_load load = {.repo = repo};
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            load.kind = kinds[k];
            if (store_list(repo->store, repo_object_folder(kinds[k]), load_index_file, &load, err) < 0)
                return error_wrap(err, "cannot list the %s files", repo_object_folder(kinds[k]));
        }
        if (!load.has_vanished)
            break;
    }
    /* (Still changing after three rounds: a prune is replacing them; what
     * was read stands.) Missing packs are marked once their numbers exist. */
    if (damage && is_missing_applied)
        damage_apply_missing(damage, repo->index);
    return 0;
}

int repo_load_index(struct repo *repo, struct error *err)
{
    struct damage_list damage = {0};
    bool is_first = !repo->is_damage_read;
    if (is_first && damage_load(repo, &damage, err) < 0)
        return -1;
    repo->is_damage_read = true;
    int rc = load_index(repo, is_first ? &damage : NULL, true, err);
    damage_free(&damage);
    return rc;
}

int repo_load_index_with_damage(struct repo *repo, const struct damage_list *damage, struct error *err)
{
    const struct damage_list *first = repo->is_damage_read ? NULL : damage;
    repo->is_damage_read = true;
    return load_index(repo, first, false, err);
}

void repo_drop_index(struct repo *repo)
{
    index_free(repo->index);
    index_free(repo->index_files_read);
    repo->index = index_new();
    repo->index_files_read = index_new();
    for (size_t i = 0; i < repo->index_problem_count; i++)
        free(repo->index_problems[i]);
    free(repo->index_problems);
    repo->index_problems = NULL;
    repo->index_problem_count = 0;
    repo->is_damage_read = false;
}

static int note_name(void *ctx, const char *name, uint64_t size, struct error *err)
{
    string_list_add(ctx, name);
    return 0;
}

int repo_list_index_files(struct repo *repo, struct string_list *names, struct error *err)
{
    int rc = store_list(repo->store, repo_object_folder(OBJ_INDEX), note_name, names, err);
    if (rc == 0)
        rc = store_list(repo->store, repo_object_folder(OBJ_CONDEMNED), note_name, names, err);
    return rc;
}

static int note_pack(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct pack_ids *l = ctx;
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->ids = xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    if (repo_object_id_from_name(name, l->ids[l->count]) == 0)
        l->count++;
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    return memcmp(a, b, CRYPTO_ID_SIZE);
}

int repo_list_packs(struct repo *repo, struct pack_ids *out, struct error *err)
{
    memset(out, 0, sizeof *out);
    if (store_list(repo->store, repo_object_folder(OBJ_BLOB), note_pack, out, err) < 0) {
        pack_ids_free(out);
        return error_wrap(err, "cannot list the packs");
    }
    if (out->count > 1)
        qsort(out->ids, out->count, sizeof *out->ids, compare_ids);
    return 0;
}

bool pack_ids_has(const struct pack_ids *l, const uint8_t id[CRYPTO_ID_SIZE])
{
    return l->count && bsearch(id, l->ids, l->count, sizeof *l->ids, compare_ids);
}

void pack_ids_free(struct pack_ids *l)
{
    free(l->ids);
    memset(l, 0, sizeof *l);
}

int repo_mark_missing_packs(struct repo *repo, size_t *missing, struct error *err)
{
    struct pack_ids l;
    if (repo_list_packs(repo, &l, err) < 0)
        return -1;
    size_t n = 0;
    for (uint32_t i = 0; i < index_pack_count(repo->index); i++) {
        uint8_t id[CRYPTO_ID_SIZE];
        index_pack_id(repo->index, i, id);
        if (!pack_ids_has(&l, id) && !(index_pack_flags(repo->index, i) & INDEX_PACK_MISSING)) {
            index_mark_pack(repo->index, i, INDEX_PACK_MISSING);
            n++;
        }
    }
    pack_ids_free(&l);
    if (missing)
        *missing = n;
    return 0;
}

int repo_write_pack_list(struct repo *repo, enum object_kind kind, const struct pack_record *packs, size_t count,
                         uint64_t *bytes, uint8_t (*ids)[CRYPTO_ID_SIZE], struct error *err)
{
    int rc = 0;
    for (size_t start = 0; start < count && rc == 0; start += REPO_PACKS_PER_INDEX) {
        size_t n = count - start < REPO_PACKS_PER_INDEX ? count - start : REPO_PACKS_PER_INDEX;
        struct buf plain = BUF_INIT;
        uint8_t id[CRYPTO_ID_SIZE];
        index_file_encode(packs + start, n, &plain);
        crypto_random(id, sizeof id);
        if (ids)
            memcpy(ids[start / REPO_PACKS_PER_INDEX], id, CRYPTO_ID_SIZE);
        rc = repo_put_object(repo, kind, id, plain.data, plain.len, err);
        if (rc == 0 && bytes)
            *bytes += plain.len + CRYPTO_SEAL_OVERHEAD;
        buf_free(&plain);
    }
    return rc;
}

int repo_write_index(struct repo *repo, const struct pack_record *packs, size_t count, uint64_t *bytes,
                     struct error *err)
{
    return repo_write_pack_list(repo, OBJ_INDEX, packs, count, bytes, NULL, err);
}

static int put_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                      const void *plain, size_t len, bool is_create_only, struct error *err)
{
    char name[96];
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, kind, id, ad);
    uint8_t *sealed = xmalloc(len + CRYPTO_SEAL_OVERHEAD);
    crypto_seal(repo->key.enc, ad, ad_len, plain, len, sealed);
    repo_object_name(kind, id, name);
    int rc = is_create_only ? store_put_new(repo->store, name, sealed, len + CRYPTO_SEAL_OVERHEAD, err)
                            : store_put(repo->store, name, sealed, len + CRYPTO_SEAL_OVERHEAD, err);
    free(sealed);
    return rc;
}

int repo_put_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                    const void *plain, size_t len, struct error *err)
{
    return put_object(repo, kind, id, plain, len, false, err);
}

int repo_put_new_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                        const void *plain, size_t len, struct error *err)
{
    return put_object(repo, kind, id, plain, len, true, err);
}

int repo_get_object(struct repo *repo, enum object_kind kind, const uint8_t id[CRYPTO_ID_SIZE],
                    struct buf *plain, struct error *err)
{
    char name[96];
    struct buf raw = BUF_INIT;
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, kind, id, ad);
    repo_object_name(kind, id, name);
    if (store_get(repo->store, name, 0, STORE_TO_END, &raw, err) < 0) {
        buf_free(&raw);
        return -1;
    }
    int rc = 0;
    if (raw.len < CRYPTO_SEAL_OVERHEAD) {
        rc = error_setk(err, ERR_AUTH, "%s is truncated", name);
    } else {
        buf_reserve(plain, raw.len);
        if (crypto_open(repo->key.enc, ad, ad_len, raw.data, raw.len, plain->data + plain->len) < 0)
            rc = error_setk(err, ERR_AUTH, "%s fails authentication (damaged or not of this repository)", name);
        else
            plain->len += raw.len - CRYPTO_SEAL_OVERHEAD;
    }
    buf_free(&raw);
    return rc;
}

/* repo_load_all's two passes: list the names, then read and open them. */
struct object_load {
    struct repo *repo;
    enum object_kind kind;
    struct repo_object *objects;
    size_t count, capacity;
};

static int name_one(void *ctx, const char *name, uint64_t size, struct error *err)
{
    (void)size;
    (void)err;
    struct object_load *load = ctx;
    uint8_t id[CRYPTO_ID_SIZE];
    if (repo_object_id_from_name(name, id) < 0)
        return 0;
    if (load->count == load->capacity) {
        load->capacity = load->capacity ? 2 * load->capacity : 64;
        load->objects = xrealloc(load->objects, load->capacity * sizeof *load->objects);
    }
    struct repo_object *o = &load->objects[load->count++];
    memset(o, 0, sizeof *o);
    memcpy(o->id, id, CRYPTO_ID_SIZE);
    return 0;
}

/* A damaged object is recorded in its slot, never a failure of the load. */
static int open_one(void *ctx, size_t item, struct error *err)
{
    (void)err;
    struct object_load *load = ctx;
    struct repo_object *o = &load->objects[item];
    struct error why;
    if (repo_get_object(load->repo, load->kind, o->id, &o->plain, &why) < 0) {
        char name[96], line[ERROR_MSG_MAX + 128];
        repo_object_name(load->kind, o->id, name);
        snprintf(line, sizeof line, "%s: %s", name, why.msg);
        o->why = xstrdup(line);
        buf_free(&o->plain);
    }
    return 0;
}

int repo_load_all(struct repo *repo, enum object_kind kind, struct repo_object **out, size_t *count,
                  struct error *err)
{
    struct object_load load = {.repo = repo, .kind = kind};
    *out = NULL;
    *count = 0;
    if (store_list(repo->store, repo_object_folder(kind), name_one, &load, err) < 0) {
        repo_objects_free(load.objects, load.count);
        return -1;
    }
    struct error never; /* open_one records failures in the objects */
    parallel_for(load.count, store_parallel_requests(repo->store), open_one, &load, &never);
    *out = load.objects;
    *count = load.count;
    return 0;
}

void repo_objects_free(struct repo_object *objects, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        buf_free(&objects[i].plain);
        free(objects[i].why);
    }
    free(objects);
}
