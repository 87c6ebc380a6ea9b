/*
 * keys.c — key files: create, open, list (see keys.h).
 */
#include "repo/keys.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/text.h"
#include "util/host.h"

#define KEY_AD "coffer key v1"

int key_file_create(struct store *store, const struct master_key *master, const char *passphrase,
                    const char *kdf_level, char *name_out, struct error *err)
{
    struct kdf_params params;
    uint8_t wrap[CRYPTO_KEY_SIZE], plain[MASTER_KEY_SIZE], sealed[MASTER_KEY_SIZE + CRYPTO_SEAL_OVERHEAD];
    uint8_t key_id[CRYPTO_ID_SIZE];
    char salt_hex[2 * CRYPTO_SALT_SIZE + 1], sealed_hex[2 * sizeof sealed + 1], id_hex[65];
    char created[32], host[64];

    if (kdf_params_for_level(kdf_level, &params, err) < 0 || kdf_derive(passphrase, &params, wrap, err) < 0)
        return -1;
    master_key_to_bytes(master, plain);
    crypto_seal(wrap, (const uint8_t *)KEY_AD, strlen(KEY_AD), plain, sizeof plain, sealed);
    crypto_wipe(wrap, sizeof wrap);
    crypto_wipe(plain, sizeof plain);

    hex_encode(params.salt, sizeof params.salt, salt_hex);
    hex_encode(sealed, sizeof sealed, sealed_hex);
    time_format_rfc3339((int64_t)time(NULL), created);
    host_name(host, sizeof host);
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "version", 1, "created", created,
                            "host", host, "kdf", "argon2id", "level", kdf_level,
                            "opslimit", (json_int_t)params.opslimit, "memlimit", (json_int_t)params.memlimit,
                            "salt", salt_hex, "master_key", sealed_hex);
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);

    crypto_random(key_id, sizeof key_id);
    hex_encode(key_id, sizeof key_id, id_hex);
    snprintf(name_out, KEY_NAME_MAX, "keys/%s", id_hex);
    int rc = store_put(store, name_out, text, strlen(text), err);
    free(text);
    return rc;
}

static int parse_key_file(const char *name, const struct buf *raw, json_t **doc, struct key_info *info,
                          struct error *err)
{
    json_error_t jerr;
    *doc = json_loadb((const char *)raw->data, raw->len, 0, &jerr);
    if (!*doc)
        return error_set(err, "key file %s is damaged: it is not valid JSON (%s)", name, jerr.text);
    const char *created = "", *host = "", *level = "";
    json_unpack(*doc, "{s?s, s?s, s?s}", "created", &created, "host", &host, "level", &level);
    if (info) {
        snprintf(info->name, sizeof info->name, "%s", name);
        snprintf(info->created, sizeof info->created, "%s", created);
        snprintf(info->host, sizeof info->host, "%s", host);
        snprintf(info->kdf, sizeof info->kdf, "%s", level);
    }
    return 0;
}

int key_file_parse(const char *name, const uint8_t *data, size_t len, struct key_info *info,
                   struct key_wrapped *wrapped, struct error *err)
{
    struct buf raw = {(uint8_t *)data, len, len};
    json_t *doc = NULL;
    int rc = parse_key_file(name, &raw, &doc, info, err);
    if (rc == 0 && wrapped) {
        json_int_t ops = 0, mem = 0;
        const char *salt_hex = NULL, *sealed_hex = NULL;
        /* What the format lets us tell from a wrong passphrase: missing
         * fields and fields of the wrong size are damage. */
        const char *bad = NULL;
        if (json_unpack(doc, "{s:I, s:I}", "opslimit", &ops, "memlimit", &mem) < 0 || ops <= 0 || mem <= 0)
            bad = "its opslimit or memlimit is missing or not a positive number";
        else if (json_unpack(doc, "{s:s}", "salt", &salt_hex) < 0 ||
                 hex_decode(salt_hex, wrapped->params.salt, sizeof wrapped->params.salt) < 0)
            bad = "its salt is missing or not 16 bytes of hex";
        else if (json_unpack(doc, "{s:s}", "master_key", &sealed_hex) < 0 ||
                 hex_decode(sealed_hex, wrapped->sealed, sizeof wrapped->sealed) < 0)
            bad = "its master_key is missing or not 136 bytes of hex";
        if (bad) {
            rc = error_set(err, "key file %s is damaged: %s", name, bad);
        } else {
            wrapped->params.opslimit = (uint64_t)ops;
            wrapped->params.memlimit = (uint64_t)mem;
        }
    }
    json_decref(doc);
    return rc;
}

int key_file_open(struct store *store, const char *name, const char *passphrase,
                  struct master_key *master, struct key_info *info, struct error *err)
{
    struct buf raw = BUF_INIT;
    struct key_wrapped wrapped;
    uint8_t plain[MASTER_KEY_SIZE], wrap[CRYPTO_KEY_SIZE];
    int rc = -1;
    if (store_get(store, name, 0, STORE_TO_END, &raw, err) < 0 ||
        key_file_parse(name, raw.data, raw.len, info, &wrapped, err) < 0)
        goto out;
    if (kdf_derive(passphrase, &wrapped.params, wrap, err) < 0) {
        error_wrap(err, "key file %s is refused", name);
        goto out;
    }
    /* A wrong passphrase and a flipped bit in the sealed key fail alike. */
    if (crypto_open(wrap, (const uint8_t *)KEY_AD, strlen(KEY_AD), wrapped.sealed, sizeof wrapped.sealed, plain) < 0) {
        error_setk(err, ERR_AUTH, "wrong passphrase, or the key file %s is damaged", name);
    } else {
        master_key_from_bytes(master, plain);
        rc = 0;
    }
    crypto_wipe(wrap, sizeof wrap);
    crypto_wipe(plain, sizeof plain);
out:
    buf_free(&raw);
    return rc;
}

struct name_list {
    char **names;
    size_t count;
};

static int collect_name(void *ctx, const char *name, uint64_t size, struct error *err)
{
    struct name_list *list = ctx;
    list->names = xrealloc(list->names, (list->count + 1) * sizeof *list->names);
    list->names[list->count++] = xstrdup(name);
    return 0;
}

static void name_list_free(struct name_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->names[i]);
    free(list->names);
}

int key_find(struct store *store, const char *passphrase, struct master_key *master, char *name_out,
             struct error *err)
{
    struct name_list list = {0};
    if (store_list(store, "keys", collect_name, &list, err) < 0)
        return -1;
    int rc = -1;
    size_t auth_failures = 0, other_failures = 0;
    const char *auth_failed = NULL;
    struct error other;
    if (list.count == 0)
        error_set(err, "repository %s has no keys (is it a coffer repository?)", store_location(store));
    /* Every key is tried: a damaged or planted one must not hide the rest. */
    for (size_t i = 0; i < list.count && rc < 0; i++) {
        struct error one;
        rc = key_file_open(store, list.names[i], passphrase, master, NULL, &one);
        if (rc == 0) {
            snprintf(name_out, KEY_NAME_MAX, "%s", list.names[i]);
            /* Never swapped out, never in a core dump (the page stays
             * locked after the key is wiped; that costs one page). */
            (void)sodium_mlock(master, sizeof *master);
        } else if (one.kind == ERR_AUTH) {
            auth_failures++;
            auth_failed = list.names[i];
        } else if (other_failures++ == 0) {
            other = one;
        }
    }
    if (rc < 0 && auth_failures == 0 && other_failures == 1)
        *err = other;
    else if (rc < 0 && auth_failures == 0 && other_failures > 1)
        error_set(err, "%s; and %zu more key files of repository %s cannot be used", other.msg, other_failures - 1,
                  store_location(store));
    else if (rc < 0 && auth_failures == 1)
        error_setk(err, ERR_PASSPHRASE, "wrong passphrase, or the key file %s of repository %s is damaged%s%s",
                   auth_failed, store_location(store), other_failures ? "; also: " : "",
                   other_failures ? other.msg : "");
    else if (rc < 0 && auth_failures > 1)
        error_setk(err, ERR_PASSPHRASE, "wrong passphrase: none of the %zu keys of repository %s accepts it "
                   "(or they are damaged)%s%s", auth_failures, store_location(store),
                   other_failures ? "; also: " : "", other_failures ? other.msg : "");
    name_list_free(&list);
    return rc;
}

static int compare_created(const void *a, const void *b)
{
    return strcmp(((const struct key_info *)a)->created, ((const struct key_info *)b)->created);
}

int key_list(struct store *store, struct key_info **out, size_t *count, struct error *err)
{
    struct name_list list = {0};
    if (store_list(store, "keys", collect_name, &list, err) < 0)
        return -1;
    struct key_info *infos = xcalloc(list.count, sizeof *infos);
    int rc = 0;
    for (size_t i = 0; i < list.count && rc == 0; i++) {
        struct buf raw = BUF_INIT;
        json_t *doc = NULL;
        rc = store_get(store, list.names[i], 0, STORE_TO_END, &raw, err);
        if (rc == 0)
            rc = parse_key_file(list.names[i], &raw, &doc, &infos[i], err);
        json_decref(doc);
        buf_free(&raw);
    }
    name_list_free(&list);
    if (rc < 0) {
        free(infos);
        return -1;
    }
    qsort(infos, list.count, sizeof *infos, compare_created);
    *out = infos;
    *count = list.count;
    return 0;
}
