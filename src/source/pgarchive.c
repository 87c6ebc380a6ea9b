/*
 * pgarchive.c — pg_dump's custom-format archive: TOC and data blocks (see
 * pgarchive.h).
 *
 * The layout, as pg_dump writes it to a pipe (so without data offsets):
 *
 *   "PGDMP" major minor revision int_size offset_size format(1 = custom)
 *   compression (1.15+: one byte, the algorithm; before: an integer level)
 *   creation time (7 integers), database name, server and pg_dump versions
 *   TOC: count, then per entry the fields read below, then an offset
 *   data blocks: type (1 = table data), dump id, chunks (length, bytes)
 *                until a zero length
 *
 * An integer is a sign byte and int_size bytes of magnitude, least
 * significant first; a string is its length (an integer, -1 for none) and
 * its bytes; an offset is a flag byte and offset_size bytes.
 */
#include "source/pgarchive.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define VERSION(major, minor) ((unsigned)(major) << 16 | (unsigned)(minor) << 8)
#define OLDEST_VERSION VERSION(1, 12) /* pg_dump 11 */
#define NEWEST_VERSION VERSION(1, 16) /* pg_dump 17 */
#define FORMAT_CUSTOM 1
#define BLOCK_DATA 1
#define MAX_INT_SIZE 8

/* A bounded cursor over the prefix; running past its end means "need more". */
struct toc_cursor {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool is_short;
    unsigned int_size;
};

static bool take(struct toc_cursor *c, size_t n)
{
    if (c->is_short || c->len - c->pos < n) {
        c->is_short = true;
        return false;
    }
    c->pos += n;
    return true;
}

static unsigned read_byte(struct toc_cursor *c)
{
    return take(c, 1) ? c->data[c->pos - 1] : 0;
}

/* An integer from its sign byte and int_size bytes of magnitude. A
 * magnitude beyond int64_t (only a damaged archive has one) reads as the
 * largest there is, which every caller's bounds then refuse. */
static int64_t decode_int(const uint8_t *sign_and_magnitude, unsigned int_size)
{
    const uint8_t *p = sign_and_magnitude + 1;
    uint64_t value = 0;
    for (unsigned i = 0; i < int_size; i++)
        value |= (uint64_t)p[i] << (8 * i);
    if (value > INT64_MAX)
        value = INT64_MAX;
    return sign_and_magnitude[0] ? -(int64_t)value : (int64_t)value;
}

static int64_t read_int(struct toc_cursor *c)
{
    if (!take(c, 1 + c->int_size))
        return 0;
    return decode_int(c->data + c->pos - c->int_size - 1, c->int_size);
}

/* Returns a NUL-terminated copy, NULL for an absent string (or when short). */
static char *read_str(struct toc_cursor *c)
{
    int64_t len = read_int(c);
    if (len < 0 || c->is_short)
        return NULL;
    if (!take(c, (size_t)len))
        return NULL;
    char *s = xmalloc((size_t)len + 1);
    memcpy(s, c->data + c->pos - (size_t)len, (size_t)len);
    s[len] = '\0';
    return s;
}

static void skip_str(struct toc_cursor *c)
{
    free(read_str(c));
}

static int read_header(struct toc_cursor *c, struct pga_toc *toc, struct error *err)
{
    if (c->len < 5)
        return (c->is_short = true), 0;
    if (memcmp(c->data, "PGDMP", 5) != 0)
        return error_set(err, "not a pg_dump custom-format archive");
    c->pos = 5;
    unsigned major = read_byte(c), minor = read_byte(c), revision = read_byte(c);
    toc->int_size = read_byte(c);
    toc->offset_size = read_byte(c);
    unsigned format = read_byte(c);
    if (c->is_short)
        return 0;
    toc->version = VERSION(major, minor) | revision;
    if (toc->version < OLDEST_VERSION || toc->version > (NEWEST_VERSION | 0xff))
        return error_set(err, "archive version %u.%u is not one coffer can take apart", major, minor);
    if (format != FORMAT_CUSTOM)
        return error_set(err, "archive is not in pg_dump's custom format");
    if (toc->int_size == 0 || toc->int_size > MAX_INT_SIZE || toc->offset_size == 0 || toc->offset_size > 8)
        return error_set(err, "archive header is damaged");
    c->int_size = toc->int_size;
    if (toc->version >= VERSION(1, 15))
        toc->is_compressed = read_byte(c) != 0;
    else
        toc->is_compressed = read_int(c) != 0;
    for (int i = 0; i < 7; i++) /* creation time */
        read_int(c);
    skip_str(c); /* database name */
    skip_str(c); /* server version */
    skip_str(c); /* pg_dump version */
    return 0;
}

static void read_entry(struct toc_cursor *c, unsigned version, struct pga_entry *e)
{
    e->dump_id = (int)read_int(c);
    e->has_data = read_int(c) != 0;
    skip_str(c); /* table oid */
    skip_str(c); /* oid */
    e->tag = read_str(c);
    e->desc = read_str(c);
    e->section = (enum pga_section)read_int(c);
    e->defn = read_str(c);
    skip_str(c); /* drop statement */
    e->copy_stmt = read_str(c);
    e->namespace_name = read_str(c);
    skip_str(c); /* tablespace */
    if (version >= VERSION(1, 14))
        skip_str(c); /* table access method */
    if (version >= VERSION(1, 16))
        read_int(c); /* relkind */
    skip_str(c); /* owner */
    skip_str(c); /* "false": tables WITH OIDS are gone */
    for (;;) {   /* dependencies, up to an absent string */
        char *dep = read_str(c);
        if (!dep)
            break;
        free(dep);
    }
}

static void entry_free(struct pga_entry *e)
{
    free(e->desc);
    free(e->tag);
    free(e->namespace_name);
    free(e->defn);
    free(e->copy_stmt);
}

int pga_toc_parse(const uint8_t *data, size_t len, struct pga_toc *toc, struct error *err)
{
    struct toc_cursor c = {data, len, 0, false, 4};
    memset(toc, 0, sizeof *toc);
    if (read_header(&c, toc, err) < 0)
        return -1;
    int64_t count = read_int(&c);
    if (c.is_short)
        return 0;
    if (count < 0 || count > 10000000)
        return error_set(err, "archive's table of contents is damaged");
    /* The array grows with the entries read, not with the count the
     * archive claims: 80 damaged bytes must not allocate a gigabyte. */
    size_t capacity = 0;
    enum pga_section current = PGA_SECTION_PRE_DATA;
    for (int64_t i = 0; i < count && !c.is_short; i++) {
        if (toc->count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            toc->entries = xrealloc(toc->entries, capacity * sizeof *toc->entries);
        }
        struct pga_entry *e = &toc->entries[toc->count++];
        memset(e, 0, sizeof *e);
        read_entry(&c, toc->version, e);
        if (!e->desc)
            e->desc = xstrdup("");
        if (!e->tag)
            e->tag = xstrdup("");
        read_byte(&c); /* where the data is: a flag, then the offset (unset in a piped dump) */
        take(&c, toc->offset_size);
        /* pg_restore gives an entry without a section (an ACL, a comment)
         * the section of the entry before it. */
        if (e->section == PGA_SECTION_NONE)
            e->section = current;
        else if (e->section >= PGA_SECTION_PRE_DATA && e->section <= PGA_SECTION_POST_DATA)
            current = e->section;
        else if (!c.is_short) {
            int dump_id = e->dump_id;
            pga_toc_free(toc);
            return error_set(err, "archive's table of contents is damaged (entry %d)", dump_id);
        }
    }
    if (c.is_short) {
        pga_toc_free(toc);
        return 0;
    }
    toc->data_start = c.pos;
    return 1;
}

void pga_toc_free(struct pga_toc *toc)
{
    for (size_t i = 0; i < toc->count; i++)
        entry_free(&toc->entries[i]);
    free(toc->entries);
    memset(toc, 0, sizeof *toc);
}

const struct pga_entry *pga_toc_find(const struct pga_toc *toc, int dump_id)
{
    for (size_t i = 0; i < toc->count; i++)
        if (toc->entries[i].dump_id == dump_id)
            return &toc->entries[i];
    return NULL;
}

/* ---- data blocks ---------------------------------------------------- */

enum { READ_BLOCK_TYPE, READ_BLOCK_ID, READ_CHUNK_LENGTH, READ_CHUNK_DATA };

void pga_data_reader_init(struct pga_data_reader *r, const struct pga_toc *toc, const struct pga_data_handler *handler)
{
    memset(r, 0, sizeof *r);
    r->handler = *handler;
    r->int_size = toc->int_size;
    r->state = READ_BLOCK_TYPE;
}

/* Collects an integer's bytes across pieces; true once complete. */
static bool gather_int(struct pga_data_reader *r, const uint8_t **data, size_t *len, int64_t *value)
{
    size_t want = 1 + r->int_size - r->number_have;
    size_t n = *len < want ? *len : want;
    memcpy(r->number + r->number_have, *data, n);
    r->number_have += (unsigned)n;
    *data += n;
    *len -= n;
    if (r->number_have < 1 + r->int_size)
        return false;
    *value = decode_int(r->number, r->int_size);
    r->number_have = 0;
    return true;
}

int pga_data_reader_feed(struct pga_data_reader *r, const uint8_t *data, size_t len, struct error *err)
{
    const struct pga_data_handler *h = &r->handler;
    while (len > 0) {
        int64_t value;
        switch (r->state) {
        case READ_BLOCK_TYPE:
            if (*data != BLOCK_DATA)
                return error_set(err, "archive holds a data block of type %u, which coffer does not load itself",
                                 *data);
            data++;
            len--;
            r->state = READ_BLOCK_ID;
            break;
        case READ_BLOCK_ID:
            if (!gather_int(r, &data, &len, &value))
                break;
            if (h->block_start(h->ctx, (int)value, err) < 0)
                return -1;
            r->is_in_block = true;
            r->state = READ_CHUNK_LENGTH;
            break;
        case READ_CHUNK_LENGTH:
            if (!gather_int(r, &data, &len, &value))
                break;
            if (value < 0)
                return error_set(err, "archive data is damaged (negative chunk length)");
            if (value == 0) {
                r->is_in_block = false;
                r->state = READ_BLOCK_TYPE;
                if (h->block_end(h->ctx, err) < 0)
                    return -1;
            } else {
                r->chunk_left = (uint64_t)value;
                r->state = READ_CHUNK_DATA;
            }
            break;
        case READ_CHUNK_DATA: {
            size_t n = len < r->chunk_left ? len : (size_t)r->chunk_left;
            if (h->block_data(h->ctx, data, n, err) < 0)
                return -1;
            data += n;
            len -= n;
            r->chunk_left -= n;
            if (r->chunk_left == 0)
                r->state = READ_CHUNK_LENGTH;
            break;
        }
        }
    }
    return 0;
}

int pga_data_reader_finish(const struct pga_data_reader *r, struct error *err)
{
    if (r->state != READ_BLOCK_TYPE || r->is_in_block)
        return error_set(err, "archive ends in the middle of a data block");
    return 0;
}

/* ---- an archive in pieces -------------------------------------------- */

void pga_stream_init(struct pga_stream *s, pga_toc_fn on_toc, void *ctx)
{
    memset(s, 0, sizeof *s);
    s->next_parse = 64 << 10;
    s->on_toc = on_toc;
    s->ctx = ctx;
}

/* Tries the TOC on what has come; once it parses, hands over to on_toc
 * and feeds the bytes after it. 0 also when more bytes are needed. */
static int take_toc(struct pga_stream *s, bool is_end, struct error *err)
{
    struct error why;
    int rc = pga_toc_parse(s->head.data, s->head.len, &s->toc, &why);
    if (rc == 0 && !is_end && s->head.len < PGA_TOC_MAX) {
        s->next_parse = s->head.len + s->head.len / 2; /* parse again when 50% more came */
        return 0;
    }
    if (rc == 0)
        error_set(&why, is_end ? "it ends before its table of contents does"
                               : "its table of contents is larger than 256 MiB");
    if (rc <= 0) {
        s->is_unreadable = true;
        return error_set(err, "cannot read the dump: %s", why.msg);
    }
    s->has_toc = true;
    struct pga_data_handler handler;
    if (s->on_toc(s->ctx, s, &handler, err) < 0) {
        s->has_failed = true;
        return -1;
    }
    pga_data_reader_init(&s->data, &s->toc, &handler);
    rc = pga_data_reader_feed(&s->data, s->head.data + s->toc.data_start, s->head.len - s->toc.data_start, err);
    buf_free(&s->head); /* a backup feeds its 16 MiB prefix at once: not kept for the whole dump */
    return rc;
}

int pga_stream_feed(struct pga_stream *s, const uint8_t *data, size_t len, struct error *err)
{
    if (s->has_failed || s->is_unreadable)
        return error_set(err, "the dump reader stopped at an earlier error");
    int rc;
    if (s->has_toc) {
        rc = pga_data_reader_feed(&s->data, data, len, err);
    } else {
        buf_append(&s->head, data, len);
        rc = s->head.len < s->next_parse ? 0 : take_toc(s, false, err);
    }
    if (rc < 0)
        s->has_failed = true;
    return rc;
}

int pga_stream_finish(struct pga_stream *s, struct error *err)
{
    if (s->has_failed || s->is_unreadable)
        return error_set(err, "the dump reader stopped at an earlier error");
    if (!s->has_toc && take_toc(s, true, err) < 0)
        return -1;
    return pga_data_reader_finish(&s->data, err);
}

void pga_stream_free(struct pga_stream *s)
{
    pga_toc_free(&s->toc);
    buf_free(&s->head);
}
