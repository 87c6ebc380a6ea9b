/*
 * pack.c — building packs and reading their headers (see pack.h).
 *
 * Header plaintext: "CPK1", u32 blob count, then per blob in pack order:
 * id[32], u8 type, u32 sealed length, u32 raw length. Offsets follow from
 * the order: the first blob starts at 0 and each starts where the last
 * ended. Sealed with associated data (repository id, 'h', pack id).
 */
#include "repo/pack.h"

#include <stdlib.h>
#include <string.h>

#include "repo/repo_int.h"

#define PACK_MAGIC "CPK1"
#define PACK_HEADER_ENTRY 41

void pack_builder_start(struct pack_builder *pb)
{
    buf_reset(&pb->data);
    pb->record.count = 0;
    crypto_random(pb->record.id, CRYPTO_ID_SIZE);
}

uint32_t pack_builder_add(struct pack_builder *pb, const uint8_t id[CRYPTO_ID_SIZE], uint8_t type,
                          const uint8_t *sealed, size_t len, uint32_t raw_length)
{
    struct pack_blob blob;
    memcpy(blob.id, id, CRYPTO_ID_SIZE);
    blob.type = type;
    blob.offset = (uint32_t)pb->data.len;
    blob.length = (uint32_t)len;
    blob.raw_length = raw_length;
    buf_append(&pb->data, sealed, len);
    pack_record_add(&pb->record, &blob);
    return blob.offset;
}

void pack_builder_finish(const struct repo *repo, struct pack_builder *pb)
{
    struct buf header = BUF_INIT;
    buf_append(&header, PACK_MAGIC, 4);
    buf_append_u32(&header, (uint32_t)pb->record.count);
    for (size_t i = 0; i < pb->record.count; i++) {
        const struct pack_blob *b = &pb->record.blobs[i];
        buf_append(&header, b->id, CRYPTO_ID_SIZE);
        buf_append_u8(&header, b->type);
        buf_append_u32(&header, b->length);
        buf_append_u32(&header, b->raw_length);
    }
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_PACK_HEADER, pb->record.id, ad);
    size_t sealed_len = header.len + CRYPTO_SEAL_OVERHEAD;
    buf_reserve(&pb->data, sealed_len + 4);
    crypto_seal(repo->key.enc, ad, ad_len, header.data, header.len, pb->data.data + pb->data.len);
    pb->data.len += sealed_len;
    buf_append_u32(&pb->data, (uint32_t)sealed_len);
    buf_free(&header);
}

void pack_builder_free(struct pack_builder *pb)
{
    buf_free(&pb->data);
    pack_record_free(&pb->record);
}

void pack_builder_reserve(const struct repo *repo, struct pack_builder *pb)
{
    uint32_t largest = repo->config.file_chunks.max_size;
    if (repo->config.stream_chunks.max_size > largest)
        largest = repo->config.stream_chunks.max_size;
    buf_reserve(&pb->data, repo->config.pack_size + largest + 4096);
}

bool pack_builder_is_full(const struct repo *repo, const struct pack_builder *pb)
{
    return pb->data.len >= repo->config.pack_size;
}

int repo_put_pack(struct repo *repo, struct pack_builder *pb, struct error *err)
{
    char name[96];
    pack_builder_finish(repo, pb);
    repo_object_name(OBJ_BLOB, pb->record.id, name);
    return store_put(repo->store, name, pb->data.data, pb->data.len, err);
}

int repo_delete_packs(struct repo *repo, const struct pack_record *records, size_t count, struct error *err)
{
    char **names = xcalloc(count + 1, sizeof *names);
    for (size_t i = 0; i < count; i++) {
        names[i] = xcalloc(1, 96);
        repo_object_name(OBJ_BLOB, records[i].id, names[i]);
    }
    int rc = store_delete_many(repo->store, names, count, err);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

int repo_read_pack(struct repo *repo, const uint8_t id[CRYPTO_ID_SIZE], uint64_t offset, uint64_t len,
                   struct buf *out, struct error *err)
{
    char name[96];
    repo_object_name(OBJ_BLOB, id, name);
    return store_get(repo->store, name, offset, len, out, err);
}

int pack_header_read(const struct repo *repo, const uint8_t *pack, size_t len, struct pack_record *rec,
                     struct error *err)
{
    return pack_header_read_tail(repo, pack, len, len, rec, err);
}

uint32_t pack_header_length(const uint8_t *tail, size_t tail_len)
{
    return tail_len < 4 ? 0 : get_u32le(tail + tail_len - 4) + 4;
}

int pack_header_read_tail(const struct repo *repo, const uint8_t *tail, size_t tail_len, uint64_t pack_size,
                          struct pack_record *rec, struct error *err)
{
    if (tail_len < 4 || tail_len > pack_size)
        return error_setk(err, ERR_AUTH, "pack is too short to have a header");
    uint32_t sealed_len = get_u32le(tail + tail_len - 4);
    if (sealed_len < CRYPTO_SEAL_OVERHEAD + 8 || sealed_len > tail_len - 4)
        return error_setk(err, ERR_AUTH, "pack header length %u is impossible", sealed_len);
    const uint8_t *header = tail + tail_len - 4 - sealed_len;
    uint64_t header_start = pack_size - 4 - sealed_len;
    uint8_t ad[REPO_AD_MAX];
    size_t ad_len = repo_object_ad(repo, OBJ_PACK_HEADER, rec->id, ad);
    uint8_t *plain = xmalloc(sealed_len);
    if (crypto_open(repo->key.enc, ad, ad_len, header, sealed_len, plain) < 0) {
        free(plain);
        return error_setk(err, ERR_AUTH, "pack header fails authentication (damaged)");
    }
    struct cursor c = cursor_of(plain, sealed_len - CRYPTO_SEAL_OVERHEAD);
    const uint8_t *magic = cursor_bytes(&c, 4);
    uint32_t count = cursor_u32(&c);
    int rc = 0;
    if (!magic || memcmp(magic, PACK_MAGIC, 4) != 0 || (uint64_t)count * PACK_HEADER_ENTRY != c.left) {
        rc = error_setk(err, ERR_AUTH, "pack header is malformed");
    } else {
        uint64_t offset = 0;
        rec->count = 0;
        for (uint32_t i = 0; i < count; i++) {
            struct pack_blob b;
            memcpy(b.id, cursor_bytes(&c, CRYPTO_ID_SIZE), CRYPTO_ID_SIZE);
            b.type = cursor_u8(&c);
            b.length = cursor_u32(&c);
            b.raw_length = cursor_u32(&c);
            b.offset = (uint32_t)offset;
            offset += b.length;
            pack_record_add(rec, &b);
        }
        if (offset != header_start)
            rc = error_setk(err, ERR_AUTH, "pack header does not match the pack's size");
    }
    free(plain);
    return rc;
}
