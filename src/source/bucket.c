/*
 * bucket.c — the bucket source (bucket.h).
 *
 * A backup lists every object below the prefix once (store_list_entries,
 * a page of 1,000 at a time), turns each key into a tree path, sorts the
 * paths so that a folder's objects are next to each other, and builds one
 * tree per folder, deepest first, against the parent snapshot's tree of
 * the same folder. An object the parent holds with the same size, date
 * and ETag keeps the parent's content without a request; any other is
 * downloaded in parts of BUCKET_PART_SIZE, each asked of the version that
 * was listed (If-Match), so that an object overwritten during the backup
 * is never stored as a mix of two versions.
 *
 * An object deleted or overwritten between the listing and its download
 * becomes a warning and is left out (the next backup reads it again), as
 * a file that vanishes is for the files source; an error from the server
 * fails the backup.
 */
#include "source/bucket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/ops.h"
#include "repo/repo.h"
#include "repo/tree.h"
#include "source/exclude.h"
#include "store/s3.h"
#include "store/store.h"
#include "util/secret.h"
#include "util/text.h"

#define BUCKET_PART_SIZE (8u << 20)
#define ESCAPE "%%"
#define ESCAPE_BESIDE_FOLDER "%%!"

/* ---- names ------------------------------------------------------------ */

static bool is_name_as_it_is(const char *part, size_t len)
{
    return len > 0 && !(len == 1 && part[0] == '.') && !(len == 2 && part[0] == '.' && part[1] == '.') &&
           !(len >= 2 && part[0] == '%' && part[1] == '%');
}

char *bucket_name_of_part(const char *part, size_t len, bool is_beside_folder)
{
    struct buf name = BUF_INIT;
    if (is_beside_folder || !is_name_as_it_is(part, len)) {
        const char *mark = is_beside_folder ? ESCAPE_BESIDE_FOLDER : ESCAPE;
        buf_append(&name, mark, strlen(mark));
        for (size_t i = 0; i < len; i++) {
            if (part[i] == '%')
                buf_append(&name, "%25", 3);
            else if (part[i] == '!')
                buf_append(&name, "%21", 3);
            else
                buf_append(&name, part + i, 1);
        }
    } else {
        buf_append(&name, part, len);
    }
    if (name.len > TREE_NAME_MAX) {
        buf_free(&name);
        return NULL;
    }
    buf_append(&name, "", 1);
    return (char *)name.data;
}

/* Appends the part a name stands for; -1 if no part is written so. */
static int append_part_of_name(struct buf *out, const char *name, size_t len)
{
    if (len < 2 || name[0] != '%' || name[1] != '%') {
        buf_append(out, name, len);
        return 0;
    }
    size_t i = len > 2 && name[2] == '!' ? 3 : 2;
    for (; i < len; i++) {
        if (name[i] == '!')
            return -1;
        if (name[i] != '%') {
            buf_append(out, name + i, 1);
        } else if (i + 2 < len && !strncmp(name + i, "%25", 3)) {
            buf_append(out, "%", 1);
            i += 2;
        } else if (i + 2 < len && !strncmp(name + i, "%21", 3)) {
            buf_append(out, "!", 1);
            i += 2;
        } else {
            return -1;
        }
    }
    return 0;
}

typedef int (*part_fn)(struct buf *out, const char *part, size_t len);

/* Splits s at each '/', appends what fn makes of each part, joined by '/';
 * NULL if fn refuses a part. */
static char *map_parts(const char *s, part_fn fn)
{
    struct buf out = BUF_INIT;
    for (const char *p = s;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (fn(&out, p, len) < 0) {
            buf_free(&out);
            return NULL;
        }
        if (!slash)
            break;
        buf_append(&out, "/", 1);
        p = slash + 1;
    }
    buf_append(&out, "", 1);
    return (char *)out.data;
}

static int append_part_of_path_name(struct buf *out, const char *name, size_t len)
{
    return len == 0 ? -1 : append_part_of_name(out, name, len);
}

static int append_name_of_part(struct buf *out, const char *part, size_t len)
{
    char *name = bucket_name_of_part(part, len, false);
    if (!name)
        return -1;
    buf_append(out, name, strlen(name));
    free(name);
    return 0;
}

char *bucket_key_of_path(const char *path)
{
    return map_parts(path, append_part_of_path_name);
}

/* The tree path of a key, each part a name; NULL if a part is too long. */
static char *path_of_key(const char *key)
{
    return map_parts(key, append_name_of_part);
}

/* ---- settings and the connection -------------------------------------- */

bool bucket_is_location(const char *target)
{
    return !strncmp(target, "s3://", 5);
}

const char *bucket_validate(const void *settings)
{
    const struct bucket_settings *b = settings;
    if (!bucket_is_location(b->url) || !b->url[5] || b->url[5] == '/')
        return "url: use s3://BUCKET or s3://BUCKET/PREFIX";
    return NULL;
}

/* Opens the bucket location url with a source's settings (NULL: AWS, with
 * ~/.aws/credentials). The credentials are read here, not from the
 * environment, whose AWS_* variables are the repository's. */
static int open_bucket(const struct bucket_settings *b, const char *url, struct store **out, struct error *err)
{
    static const struct bucket_settings none = {0};
    if (!b)
        b = &none;
    const char *path = b->credentials_file;
    char home_file[4096];
    const char *home = getenv("HOME");
    if (!path && home && *home) {
        snprintf(home_file, sizeof home_file, "%s/.aws/credentials", home);
        if (access(home_file, F_OK) == 0)
            path = home_file;
    }
    if (!path)
        return error_setk(err, ERR_USAGE, "%s: no credentials: name an AWS shared-credentials file in the "
                                          "source's credentials_file (or create ~/.aws/credentials)", url);
    char *access_key = NULL, *secret_key = NULL, *token = NULL;
    if (s3_read_credentials(path, b->profile ? b->profile : "default", &access_key, &secret_key, &token, err) < 0)
        return error_wrap(err, "%s", url);
    struct s3_settings s3 = {
        .endpoint = b->endpoint,
        .region = b->region,
        .path_style = b->path_style ? !strcmp(b->path_style, "true") : -1,
        .access_key = access_key,
        .secret_key = secret_key,
        .session_token = token && *token ? token : NULL,
        .ca_file = b->ca_file,
        .is_plain_bucket = true,
    };
    int rc = store_open(url, &s3, false, out, err);
    free(access_key);
    secret_free(secret_key);
    secret_free(token);
    return rc < 0 ? error_wrap(err, "cannot reach bucket %s", url) : 0;
}

/* ---- listing ---------------------------------------------------------- */

struct object {
    char *key;  /* below the prefix, as listed */
    char *path; /* its names in the tree, joined by '/' */
    uint64_t size;
    int64_t mtime_ns; /* Last-Modified; 0 if the server sent none it could read */
    char *etag;       /* or NULL */
};

struct listing {
    struct backup_ctx *ctx;
    const struct exclude *exclude;
    const char *url;
    struct buf probe; /* "/" + a key, for exclude_matches */
    struct object *items;
    size_t count, cap;
};

/* Whether exclude leaves out the object at key, or a folder above it. */
static bool is_excluded(struct listing *l, const char *key)
{
    if (!l->exclude)
        return false;
    l->probe.len = 0;
    buf_append(&l->probe, "/", 1);
    buf_append(&l->probe, key, strlen(key) + 1);
    char *path = (char *)l->probe.data;
    for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        bool is_out = exclude_matches(l->exclude, path, true);
        *slash = '/';
        if (is_out)
            return true;
    }
    return exclude_matches(l->exclude, path, false);
}

static int64_t mtime_of(const char *modified)
{
    int64_t seconds;
    int32_t nanos;
    if (!modified || time_parse_rfc3339(modified, &seconds, &nanos) < 0)
        return 0;
    return seconds * 1000000000ll + nanos;
}

static int take_object(void *arg, const struct store_entry *e, struct error *err)
{
    (void)err;
    struct listing *l = arg;
    if (is_excluded(l, e->name))
        return 0;
    char *path = path_of_key(e->name);
    if (!path) {
        backup_warn(l->ctx, "%s: the key %.300s has a part longer than %d bytes, which no file system takes "
                            "(skipped)", l->url, e->name, TREE_NAME_MAX);
        return 0;
    }
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->count++] = (struct object){xstrdup(e->name), path, e->size, mtime_of(e->modified),
                                           e->etag ? xstrdup(e->etag) : NULL};
    return 0;
}

/* Orders paths name by name: '/' before every other byte, so that a
 * folder's objects follow each other and follow a file of the same name. */
static int compare_objects(const void *a, const void *b)
{
    const unsigned char *x = (const unsigned char *)((const struct object *)a)->path;
    const unsigned char *y = (const unsigned char *)((const struct object *)b)->path;
    while (*x && *x == *y)
        x++, y++;
    int cx = *x == '/' ? 1 : *x ? *x + 1 : 0;
    int cy = *y == '/' ? 1 : *y ? *y + 1 : 0;
    return cx - cy;
}

static bool is_folder_of(const char *folder, const char *path)
{
    size_t len = strlen(folder);
    return !strncmp(folder, path, len) && path[len] == '/';
}

/* Sorts the objects; an object whose path is also a folder's ("a" beside
 * "a/b") is renamed to its beside-folder name, then they are sorted again. */
static void sort_objects(struct listing *l)
{
    qsort(l->items, l->count, sizeof *l->items, compare_objects);
    bool is_renamed = false;
    for (size_t i = 0; i + 1 < l->count; i++) {
        struct object *o = &l->items[i];
        if (!is_folder_of(o->path, l->items[i + 1].path))
            continue;
        const char *part = strrchr(o->key, '/');
        part = part ? part + 1 : o->key;
        char *name = bucket_name_of_part(part, strlen(part), true);
        char *cut = strrchr(o->path, '/');
        size_t keep = cut ? (size_t)(cut - o->path) + 1 : 0;
        if (!name) { /* too long with the mark: kept out, said so */
            backup_warn(l->ctx, "%s: the key %.300s is also a folder's and too long to rename (skipped)", l->url,
                        o->key);
            free(o->path);
            o->path = NULL; /* dropped below */
            continue;
        }
        char *path = xmalloc(keep + strlen(name) + 1);
        memcpy(path, o->path, keep);
        strcpy(path + keep, name);
        free(name);
        free(o->path);
        o->path = path;
        is_renamed = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < l->count; i++) {
        if (!l->items[i].path) {
            free(l->items[i].key);
            free(l->items[i].etag);
        } else {
            l->items[kept++] = l->items[i];
        }
    }
    l->count = kept;
    if (is_renamed)
        qsort(l->items, l->count, sizeof *l->items, compare_objects);
}

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].path);
        free(l->items[i].etag);
    }
    free(l->items);
    buf_free(&l->probe);
}

/* ---- building the tree ------------------------------------------------ */

struct build {
    struct backup_ctx *ctx;
    struct store *bucket;
    const char *url;
    struct content_writer content;
    struct buf part; /* one download */
    uint64_t bytes_before; /* progress at the start of the object */
};

enum { OBJECT_DONE = 0, OBJECT_SKIPPED = 1 };

static void object_progress(void *arg, uint64_t bytes)
{
    struct build *b = arg;
    b->ctx->progress->bytes = b->bytes_before + bytes;
    progress_update(b->ctx->progress);
}

static void count_object(struct build *b, uint64_t size)
{
    struct progress *p = b->ctx->progress;
    b->ctx->stats->files++;
    b->ctx->stats->size += size;
    p->bytes = b->bytes_before + size;
    p->files++;
    progress_update(p);
}

static bool is_unchanged(const struct node *was, const struct object *o)
{
    return was && was->type == NODE_FILE && o->etag && was->version && !strcmp(was->version, o->etag) &&
           was->size == o->size && was->mtime_ns == o->mtime_ns;
}

/* Downloads o's bytes into the content writer, a part at a time. */
static int download(struct build *b, const struct object *o, struct error *err)
{
    uint64_t offset = 0;
    for (bool is_last = false; !is_last;) {
        is_last = o->size - offset <= BUCKET_PART_SIZE;
        b->part.len = 0;
        if (store_get_version(b->bucket, o->key, o->etag, offset, is_last ? STORE_TO_END : BUCKET_PART_SIZE,
                              &b->part, err) < 0 ||
            content_writer_write(&b->content, b->part.data, b->part.len, object_progress, b, err) < 0)
            return -1;
        offset += b->part.len;
    }
    return 0;
}

/* Fills n (named already) for object o; was is the parent's node of the
 * same name, or NULL. OBJECT_SKIPPED when o went away or changed. */
static int backup_object(struct build *b, const struct object *o, const struct node *was, struct node *n,
                         struct error *err)
{
    struct backup_ctx *ctx = b->ctx;
    n->type = NODE_FILE;
    n->mode = 0644;
    n->uid = (uint32_t)getuid();
    n->gid = (uint32_t)getgid();
    n->mtime_ns = n->ctime_ns = o->mtime_ns;
    n->size = o->size;
    n->version = o->etag ? xstrdup(o->etag) : NULL;
    b->bytes_before = ctx->progress->bytes;
    if (!ctx->is_force && is_unchanged(was, o) && content_is_reusable(ctx->repo, ctx->codec, &was->content)) {
        content_ref_copy(&n->content, &was->content);
        ctx->stats->files_unchanged++;
        count_object(b, o->size);
        return OBJECT_DONE;
    }
    struct error read_err;
    int rc = download(b, o, &read_err);
    uint64_t size;
    if (content_writer_finish(&b->content, &n->content, &size, err) < 0)
        return -1;
    if (rc < 0) {
        content_ref_free(&n->content);
        if (read_err.kind != ERR_NOT_FOUND && read_err.kind != ERR_CHANGED) {
            *err = read_err;
            return error_wrap(err, "cannot read %s", b->url);
        }
        backup_warn(ctx, "%s: %.300s %s while the backup ran (skipped; the next backup reads it)", b->url, o->key,
                    read_err.kind == ERR_NOT_FOUND ? "was deleted" : "was written again");
        return OBJECT_SKIPPED;
    }
    if (size != o->size) /* a server that ignored If-Match */
        backup_warn(ctx, "%s: %.300s changed while it was read (the snapshot holds %llu bytes as read)", b->url,
                    o->key, (unsigned long long)size);
    n->size = size;
    count_object(b, size);
    return OBJECT_DONE;
}

/* Builds the tree of the folder whose objects are items[lo, hi), their
 * paths starting with the folder's path of off bytes, against old (the
 * parent's tree of the folder, or NULL); gives its id and newest mtime. */
static int build_folder(struct build *b, struct object *items, size_t lo, size_t hi, size_t off,
                        const struct tree *old, uint8_t id_out[CRYPTO_ID_SIZE], int64_t *mtime_out,
                        struct error *err)
{
    struct tree tree = {0};
    int64_t newest = 0;
    int rc = 0;
    for (size_t i = lo; rc >= 0 && i < hi;) {
        const char *name = items[i].path + off;
        const char *slash = strchr(name, '/');
        size_t len = slash ? (size_t)(slash - name) : strlen(name);
        struct node *n = tree_add(&tree);
        n->name = xmalloc(len + 1);
        memcpy(n->name, name, len);
        n->name[len] = '\0';
        const struct node *was = old ? tree_find(old, n->name) : NULL;
        if (!slash) {
            rc = backup_object(b, &items[i++], was, n, err);
        } else {
            size_t end = i + 1;
            while (end < hi && !strncmp(items[end].path + off, name, len + 1))
                end++;
            struct tree old_sub;
            bool has_old = was && was->type == NODE_DIR && backup_load_parent_tree(b->ctx, was->subtree, &old_sub);
            n->type = NODE_DIR;
            n->mode = 0755;
            n->uid = (uint32_t)getuid();
            n->gid = (uint32_t)getgid();
            rc = build_folder(b, items, i, end, off + len + 1, has_old ? &old_sub : NULL, n->subtree, &n->mtime_ns,
                              err);
            n->ctime_ns = n->mtime_ns;
            if (has_old)
                tree_free(&old_sub);
            i = end;
        }
        if (rc == OBJECT_SKIPPED) {
            node_free(n);
            tree.count--;
            rc = 0;
        } else if (rc == 0 && n->mtime_ns > newest) {
            newest = n->mtime_ns;
        }
    }
    if (rc == 0)
        rc = backup_store_tree(b->ctx, &tree, id_out, err);
    tree_free(&tree);
    *mtime_out = newest;
    return rc < 0 ? -1 : 0;
}

int bucket_backup_store(struct backup_ctx *ctx, struct store *bucket, const struct bucket_settings *src,
                        struct error *err)
{
    struct exclude *exclude = NULL;
    if (src->exclude.count &&
        !(exclude = exclude_new((const char *const *)src->exclude.items, src->exclude.count, err)))
        return -1;
    struct build b = {ctx, bucket, src->url, {0}, BUF_INIT, 0};
    string_list_add(&ctx->snapshot->paths, src->url);
    struct listing l = {ctx, exclude, src->url, BUF_INIT, NULL, 0, 0};
    int rc = store_list_entries(bucket, "", take_object, &l, err);
    if (rc < 0)
        error_wrap(err, "cannot list bucket %s", src->url);
    if (rc == 0) {
        sort_objects(&l);
        struct tree old;
        bool has_old = backup_load_parent_tree(ctx, ctx->parent_root, &old);
        content_writer_init(&b.content, ctx->blobs, repo_file_chunker(ctx->repo));
        int64_t newest;
        rc = build_folder(&b, l.items, 0, l.count, 0, has_old ? &old : NULL, ctx->snapshot->root, &newest, err);
        content_writer_free(&b.content);
        if (has_old)
            tree_free(&old);
    }
    listing_free(&l);
    buf_free(&b.part);
    exclude_free(exclude);
    return rc;
}

int bucket_backup(struct backup_ctx *ctx, const void *settings, struct error *err)
{
    const struct bucket_settings *src = settings;
    struct store *bucket;
    if (open_bucket(src, src->url, &bucket, err) < 0)
        return -1;
    int rc = bucket_backup_store(ctx, bucket, src, err);
    store_free(bucket);
    return rc;
}

static int stop_at_first(void *ctx, const struct store_entry *e, struct error *err)
{
    (void)e;
    *(bool *)ctx = true;
    return error_setk(err, ERR_EXISTS, "found"); /* ends the listing: one object is enough */
}

int bucket_probe(const void *settings, char *what, size_t size, struct error *err)
{
    const struct bucket_settings *src = settings;
    struct store *bucket;
    bool has_one = false;
    if (open_bucket(src, src->url, &bucket, err) < 0)
        return -1;
    int rc = store_list_entries(bucket, "", stop_at_first, &has_one, err);
    store_free(bucket);
    if (rc < 0 && !has_one)
        return error_wrap(err, "cannot list %s", src->url);
    snprintf(what, size, "%s answers%s", src->url, has_one ? "" : " (no objects yet)");
    return 0;
}

/* ---- restoring to a bucket -------------------------------------------- */

struct upload {
    struct store *bucket;
    const char *url;
    struct buf object;
    uint64_t count;
};

static int refuse_any(void *ctx, const struct store_entry *e, struct error *err)
{
    const char *url = ctx;
    return error_setk(err, ERR_EXISTS, "%s holds objects already (%.200s, ...): restore into an empty location, "
                                       "or add --force to write over what is there", url, e->name);
}

static int collect(void *ctx, const uint8_t *data, size_t len, struct error *err)
{
    (void)err;
    buf_append(&((struct upload *)ctx)->object, data, len);
    return 0;
}

static int upload_file(void *ctx, const char *path, const struct node *node, struct content_reader *reader,
                       struct error *err)
{
    struct upload *u = ctx;
    char *key = bucket_key_of_path(path + 1);
    if (!key)
        return error_set(err, "%s in the snapshot is not a name a bucket backup writes: restore it to a "
                              "directory instead", path);
    int rc = 0;
    if (node->size > BUCKET_PUT_MAX)
        rc = error_set(err, "%s is %llu bytes, more than one S3 PUT takes (5 GiB): restore it to a directory",
                       path, (unsigned long long)node->size);
    u->object.len = 0;
    if (rc == 0)
        rc = content_reader_copy(reader, &node->content, node->size, collect, u, err);
    if (rc == 0 && (rc = store_put(u->bucket, key, u->object.data, u->object.len, err)) < 0)
        error_wrap(err, "cannot write %s to %s", key, u->url);
    free(key);
    u->count += rc == 0;
    return rc;
}

int bucket_restore_store(struct repo *repo, const struct snapshot *snap, struct store *bucket,
                         const struct restore_request *req, char *note, size_t note_size, struct error *err)
{
    struct upload u = {bucket, req->target, BUF_INIT, 0};
    int rc = 0;
    if (!req->is_force)
        rc = store_list_entries(bucket, "", refuse_any, (void *)req->target, err);
    if (rc == 0)
        rc = ops_each_file(repo, snap, req->workers, upload_file, &u, err);
    snprintf(note, note_size, " (%llu objects uploaded)", (unsigned long long)u.count);
    buf_free(&u.object);
    return rc;
}

int bucket_restore(struct repo *repo, const struct snapshot *snap, const struct restore_request *req, char *note,
                   size_t note_size, struct error *err)
{
    struct store *bucket;
    if (open_bucket(req->settings, req->target, &bucket, err) < 0)
        return -1;
    int rc = bucket_restore_store(repo, snap, bucket, req, note, note_size, err);
    store_free(bucket);
    return rc;
}
