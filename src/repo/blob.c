/*
 * blob.c — a blob's way into and out of the repository (blob.h): the codec
 * (zstd, with a dictionary for small database chunks), sealing and opening
 * with the repository's key, reading through the index (another copy when
 * one fails), and the cache of the dictionaries an open repository uses.
 *
 * Dictionaries are blobs too, stored without a dictionary, so loading one
 * reads a blob that needs none: dict.c stays pure zstd, and no call path
 * leads from opening a blob back to opening a blob.
 */
#include "repo/blob.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_forceAttachDict */
#include <zstd.h>

#include "repo/dict.h"
#include "repo/index.h"
#include "repo/repo_int.h"
#include "store/store.h"
#include "util/interrupt.h"

/* A blob's plaintext starts with one byte that says how it is stored. */
enum blob_encoding { BLOB_RAW = 0, BLOB_ZSTD = 1, BLOB_ZSTD_DICT = 2 };

static int read_blob(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                     bool may_use_dictionary, struct buf *out, struct error *err);

struct blob_codec {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level;
    struct buf scratch;
};

struct blob_codec *blob_codec_new(int zstd_level)
{
    struct blob_codec *codec = xcalloc(1, sizeof *codec);
    codec->cctx = ZSTD_createCCtx();
    codec->dctx = ZSTD_createDCtx();
    codec->level = zstd_level;
    ZSTD_CCtx_setParameter(codec->cctx, ZSTD_c_compressionLevel, zstd_level);
    /* Use a dictionary's tables in place instead of copying them into the
     * context for every blob: zstd copies for inputs above 8-32 KiB, and
     * the copy (~0.75 MiB at level 3) costs more than compressing a 16 KiB
     * database chunk. Same output, 30% faster on such chunks
     * (docs/postgres.md). Only an optimisation: a zstd that refuses the
     * parameter still compresses correctly. */
    ZSTD_CCtx_setParameter(codec->cctx, ZSTD_c_forceAttachDict, ZSTD_dictForceAttach);
    return codec;
}

void blob_codec_free(struct blob_codec *codec)
{
    if (!codec)
        return;
    ZSTD_freeCCtx(codec->cctx);
    ZSTD_freeDCtx(codec->dctx);
    buf_free(&codec->scratch);
    free(codec);
}

struct blob_codec *repo_blob_codec_new(const struct repo *repo)
{
    return blob_codec_new(repo->config.zstd_level);
}

void repo_blob_id(const struct repo *repo, const void *data, size_t len, uint8_t id[CRYPTO_ID_SIZE])
{
    id_hash(repo->hasher, data, len, id);
}

void blob_seal(const struct repo *repo, struct blob_codec *codec, const struct blob_dict *dict,
               const uint8_t id[CRYPTO_ID_SIZE], const uint8_t *data, size_t len, struct buf *out)
{
    struct buf *plain = &codec->scratch;
    size_t bound = ZSTD_compressBound(len);
    size_t header = dict ? 1 + CRYPTO_ID_SIZE : 1;
    buf_reset(plain);
    buf_reserve(plain, header + bound);
    /* With a dictionary its level applies, without one the codec's. */
    ZSTD_CCtx_refCDict(codec->cctx, dict ? blob_dict_cdict(dict) : NULL);
    size_t zlen = ZSTD_compress2(codec->cctx, plain->data + header, bound, data, len);
    /* Keep the compressed form only where it saves at least 1/32. */
    if (!ZSTD_isError(zlen) && header - 1 + zlen < len - len / 32) {
        plain->data[0] = dict ? BLOB_ZSTD_DICT : BLOB_ZSTD;
        if (dict)
            memcpy(plain->data + 1, blob_dict_id(dict), CRYPTO_ID_SIZE);
        plain->len = header + zlen;
    } else {
        plain->data[0] = BLOB_RAW;
        if (len)
            memcpy(plain->data + 1, data, len);
        plain->len = 1 + len;
    }
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_BLOB, id, ad);
    buf_reset(out);
    buf_reserve(out, plain->len + CRYPTO_SEAL_OVERHEAD);
    crypto_seal(repo->key.enc, ad, ad_len, plain->data, plain->len, out->data);
    out->len = plain->len + CRYPTO_SEAL_OVERHEAD;
}

/* Decrypts and decompresses; open_checked adds the check against the id.
 * A dictionary is itself stored without one (may_use_dictionary false):
 * one that names a dictionary is damaged, and is refused rather than
 * followed, so loading a dictionary never recurses. */
static int blob_unseal(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                       const uint8_t *sealed, size_t len, bool may_use_dictionary, struct buf *out,
                       struct error *err)
{
    char short_id[17];
    struct buf *plain = &codec->scratch;
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_BLOB, id, ad);
    id_short(id, short_id);
    if (len < CRYPTO_SEAL_OVERHEAD + 1)
        return error_setk(err, ERR_AUTH, "blob %s is truncated", short_id);
    buf_reset(plain);
    buf_reserve(plain, len);
    if (crypto_open(repo->key.enc, ad, ad_len, sealed, len, plain->data) < 0)
        return error_setk(err, ERR_AUTH, "blob %s fails authentication (damaged data)", short_id);
    plain->len = len - CRYPTO_SEAL_OVERHEAD;

    if (plain->data[0] == BLOB_RAW) {
        buf_append(out, plain->data + 1, plain->len - 1);
    } else if (plain->data[0] == BLOB_ZSTD || plain->data[0] == BLOB_ZSTD_DICT) {
        const struct blob_dict *dict = NULL;
        size_t header = 1;
        if (plain->data[0] == BLOB_ZSTD_DICT) {
            header += CRYPTO_ID_SIZE;
            if (plain->len < header)
                return error_setk(err, ERR_AUTH, "blob %s is truncated", short_id);
            if (!may_use_dictionary)
                return error_setk(err, ERR_AUTH, "dictionary %s names a dictionary itself (damaged data)", short_id);
            uint8_t dict_id[CRYPTO_ID_SIZE];
            memcpy(dict_id, plain->data + 1, CRYPTO_ID_SIZE);
            dict = repo_dictionary(repo, dict_id, err);
            if (!dict)
                return error_wrap(err, "blob %s needs a dictionary", short_id);
        }
        unsigned long long size = ZSTD_getFrameContentSize(plain->data + header, plain->len - header);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (256u << 20))
            return error_setk(err, ERR_AUTH, "blob %s has a malformed compressed frame", short_id);
        buf_reserve(out, size);
        size_t n = dict ? ZSTD_decompress_usingDDict(codec->dctx, out->data + out->len, size, plain->data + header,
                                                     plain->len - header, blob_dict_ddict(dict))
                        : ZSTD_decompressDCtx(codec->dctx, out->data + out->len, size, plain->data + header,
                                              plain->len - header);
        if (ZSTD_isError(n) || n != size)
            return error_setk(err, ERR_AUTH, "blob %s does not decompress", short_id);
        out->len += n;
    } else {
        return error_setk(err, ERR_AUTH, "blob %s has an unknown encoding %u", short_id, plain->data[0]);
    }
    return 0;
}

static int open_checked(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                        const uint8_t *sealed, size_t len, bool may_use_dictionary, struct buf *out,
                        struct error *err)
{
    char short_id[17];
    uint8_t check[CRYPTO_ID_SIZE];
    size_t start = out->len;
    if (blob_unseal(repo, codec, id, sealed, len, may_use_dictionary, out, err) < 0) {
        out->len = start;
        return -1;
    }
    id_hash(repo->hasher, out->data + start, out->len - start, check);
    if (memcmp(check, id, CRYPTO_ID_SIZE) != 0) {
        out->len = start;
        id_short(id, short_id);
        return error_setk(err, ERR_AUTH, "blob %s content does not match its id", short_id);
    }
    return 0;
}

int blob_open(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
              const uint8_t *sealed, size_t len, struct buf *out, struct error *err)
{
    return open_checked(repo, codec, id, sealed, len, true, out, err);
}

int blob_verify_sealed(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                       const uint8_t *sealed, size_t len, const uint8_t *data, size_t data_len, struct buf *scratch,
                       struct error *err)
{
    char short_id[17];
    buf_reset(scratch);
    int rc = blob_unseal(repo, codec, id, sealed, len, true, scratch, err);
    if (rc == 0 && (scratch->len != data_len || memcmp(scratch->data, data, data_len) != 0))
        rc = error_setk(err, ERR_AUTH, "content differs");
    if (rc < 0) {
        id_short(id, short_id);
        error_wrap(err, "blob %s does not read back as it was written (bad memory, or a bug in coffer: please "
                   "report it); nothing was stored for it", short_id);
    }
    return rc;
}

bool blob_names_dictionary(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], const uint8_t *sealed, size_t len,
                           uint8_t dict[CRYPTO_ID_SIZE])
{
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_BLOB, id, ad);
    if (len < CRYPTO_SEAL_OVERHEAD + 1 + CRYPTO_ID_SIZE)
        return false;
    uint8_t *plain = xmalloc(len);
    bool is_dict = crypto_open(repo->key.enc, ad, ad_len, sealed, len, plain) == 0 && plain[0] == BLOB_ZSTD_DICT;
    if (is_dict)
        memcpy(dict, plain + 1, CRYPTO_ID_SIZE);
    free(plain);
    return is_dict;
}

/* Reads the copy e names; ERR_NOT_FOUND when its pack is gone. */
static int read_copy(struct repo *repo, struct blob_codec *codec, const struct index_entry *e,
                     bool may_use_dictionary, struct buf *out, struct error *err)
{
    char name[96];
    uint8_t pack_id[CRYPTO_ID_SIZE];
    index_pack_id(repo->index, e->pack, pack_id);
    repo_object_name(OBJ_BLOB, pack_id, name);
    struct buf sealed = BUF_INIT;
    int rc = store_get(repo->store, name, e->offset, e->length, &sealed, err);
    if (rc == 0)
        rc = open_checked(repo, codec, e->id, sealed.data, sealed.len, may_use_dictionary, out, err);
    if (rc < 0) {
        char pack_short[17];
        id_short(pack_id, pack_short);
        error_wrap(err, "cannot read pack %s", pack_short);
    }
    buf_free(&sealed);
    return rc;
}

/* A copy that fails is marked (its pack missing, or the copy damaged) so
 * that nothing tries it again, and another copy, where an index file
 * lists one, is read instead: two backups that stored a blob at once, or
 * a blob stored again after damage, leave one. */
static int read_blob(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                     bool may_use_dictionary, struct buf *out, struct error *err)
{
    struct index_entry e;
    char short_id[17];
    if (!index_find(repo->index, id, &e) || e.pack == INDEX_PACK_PENDING) {
        id_short(id, short_id);
        return error_setk(err, ERR_NOT_FOUND, "blob %s is not in the index (run `coffer check`)", short_id);
    }
    size_t start = out->len;
    int rc = read_copy(repo, codec, &e, may_use_dictionary, out, err);
    for (int tries = 0; rc < 0 && (err->kind == ERR_NOT_FOUND || err->kind == ERR_AUTH) && tries < 8; tries++) {
        if (err->kind == ERR_NOT_FOUND) {
            index_mark_pack(repo->index, e.pack, INDEX_PACK_MISSING);
        } else {
            uint8_t pair[2 * CRYPTO_ID_SIZE];
            memcpy(pair, id, CRYPTO_ID_SIZE);
            index_pack_id(repo->index, e.pack, pair + CRYPTO_ID_SIZE);
            index_add_damage(repo->index, pair, 1);
        }
        struct index_entry other;
        if (!index_find_other(repo->index, &e, &other))
            break;
        e = other;
        out->len = start;
        rc = read_copy(repo, codec, &e, may_use_dictionary, out, err);
    }
    return rc;
}

int repo_read_blob(struct repo *repo, struct blob_codec *codec, const uint8_t id[CRYPTO_ID_SIZE],
                   struct buf *out, struct error *err)
{
    if (interrupt_check(err) < 0)
        return -1;
    return read_blob(repo, codec, id, true, out, err);
}

/* ---- the dictionary cache ---- */

struct dict_cache {
    pthread_mutex_t mutex;
    struct blob_dict **dicts;
    size_t count;
};

struct dict_cache *dict_cache_new(void)
{
    struct dict_cache *cache = xcalloc(1, sizeof *cache);
    pthread_mutex_init(&cache->mutex, NULL);
    return cache;
}

void dict_cache_free(struct dict_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->count; i++)
        blob_dict_free(cache->dicts[i]);
    free(cache->dicts);
    pthread_mutex_destroy(&cache->mutex);
    free(cache);
}

const struct blob_dict *repo_dictionary_adopt(struct repo *repo, struct blob_dict *dict)
{
    struct dict_cache *cache = repo->dicts;
    pthread_mutex_lock(&cache->mutex);
    cache->dicts = xrealloc(cache->dicts, (cache->count + 1) * sizeof *cache->dicts);
    cache->dicts[cache->count++] = dict;
    pthread_mutex_unlock(&cache->mutex);
    return dict;
}

const struct blob_dict *repo_dictionary(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], struct error *err)
{
    struct dict_cache *cache = repo->dicts;
    const struct blob_dict *found = NULL;
    pthread_mutex_lock(&cache->mutex);
    for (size_t i = 0; i < cache->count && !found; i++)
        if (memcmp(blob_dict_id(cache->dicts[i]), id, CRYPTO_ID_SIZE) == 0)
            found = cache->dicts[i];
    pthread_mutex_unlock(&cache->mutex);
    if (found)
        return found;

    /* Load outside the lock; two threads may both load, one copy stays. */
    struct buf content = BUF_INIT;
    struct blob_codec *codec = blob_codec_new(repo->config.zstd_level);
    int rc = read_blob(repo, codec, id, false, &content, err);
    blob_codec_free(codec);
    if (rc < 0) {
        buf_free(&content);
        return NULL;
    }
    struct blob_dict *dict = blob_dict_new(id, content.data, content.len, repo->config.zstd_level);
    buf_free(&content);
    if (!dict) {
        char short_id[17];
        id_short(id, short_id);
        error_setk(err, ERR_AUTH, "dictionary %s is not a zstd dictionary", short_id);
        return NULL;
    }
    pthread_mutex_lock(&cache->mutex);
    for (size_t i = 0; i < cache->count && !found; i++)
        if (memcmp(blob_dict_id(cache->dicts[i]), id, CRYPTO_ID_SIZE) == 0)
            found = cache->dicts[i];
    if (!found) {
        cache->dicts = xrealloc(cache->dicts, (cache->count + 1) * sizeof *cache->dicts);
        cache->dicts[cache->count++] = dict;
        found = dict;
        dict = NULL;
    }
    pthread_mutex_unlock(&cache->mutex);
    blob_dict_free(dict);
    return found;
}
