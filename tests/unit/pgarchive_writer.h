/*
 * pgarchive_writer.h — writes synthetic pg_dump custom-format archives for
 * the tests of the archive reader (test_pgarchive.c) and the row counter
 * (test_pgrows.c): a header and TOC as pg_dump (archive versions 1.12 to
 * 1.16) writes them to a pipe, and data blocks cut into chunks.
 */
#ifndef COFFER_TESTS_PGARCHIVE_WRITER_H
#define COFFER_TESTS_PGARCHIVE_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/buf.h"

#define INT_SIZE 4
#define OFFSET_SIZE 8

/* What goes into the header. */
struct arc_header {
    uint8_t major, minor, format;
    int compression; /* an integer level before 1.15, the algorithm byte from 1.15 */
};

/* One TOC entry; has_data is set for entries with a copy statement. */
struct arc_entry {
    int dump_id;
    const char *desc;
    const char *tag;
    int section;
    const char *namespace_name; /* NULL is written as an absent string */
    const char *defn;
    const char *copy_stmt;      /* NULL is written as an absent string */
    const char *deps[3];        /* up to the first NULL */
};

/* An integer: a sign byte, then INT_SIZE bytes of magnitude, least
 * significant first. */
static inline void put_int(struct buf *b, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    buf_append_u8(b, v < 0 ? 1 : 0);
    for (unsigned i = 0; i < INT_SIZE; i++)
        buf_append_u8(b, (uint8_t)(mag >> (8 * i)));
}

/* A string: its length as an integer, then its bytes; NULL is length -1. */
static inline void put_str(struct buf *b, const char *s)
{
    if (!s) {
        put_int(b, -1);
        return;
    }
    put_int(b, (int64_t)strlen(s));
    buf_append(b, s, strlen(s));
}

static inline bool is_at_least(const struct arc_header *h, unsigned minor)
{
    return h->major > 1 || (h->major == 1 && h->minor >= minor);
}

/* Appends the header and TOC; returns their length. */
static inline size_t write_toc(struct buf *b, const struct arc_header *h, const struct arc_entry *entries, size_t count)
{
    size_t start = b->len;
    buf_append(b, "PGDMP", 5);
    buf_append_u8(b, h->major);
    buf_append_u8(b, h->minor);
    buf_append_u8(b, 0); /* revision */
    buf_append_u8(b, INT_SIZE);
    buf_append_u8(b, OFFSET_SIZE);
    buf_append_u8(b, h->format);
    if (is_at_least(h, 15))
        buf_append_u8(b, (uint8_t)h->compression);
    else
        put_int(b, h->compression);
    const int created[7] = {12, 34, 5, 17, 2, 124, 0}; /* sec min hour mday mon year isdst */
    for (int i = 0; i < 7; i++)
        put_int(b, created[i]);
    put_str(b, "shop");
    put_str(b, "16.2");
    put_str(b, "17.0");

    put_int(b, (int64_t)count);
    for (size_t i = 0; i < count; i++) {
        const struct arc_entry *e = &entries[i];
        char oid[16];
        snprintf(oid, sizeof oid, "%d", 16384 + e->dump_id);
        put_int(b, e->dump_id);
        put_int(b, e->copy_stmt ? 1 : 0);
        put_str(b, "1259"); /* table oid */
        put_str(b, oid);
        put_str(b, e->tag);
        put_str(b, e->desc);
        put_int(b, e->section);
        put_str(b, e->defn);
        put_str(b, ""); /* drop statement */
        put_str(b, e->copy_stmt);
        put_str(b, e->namespace_name);
        put_str(b, "");     /* tablespace */
        if (is_at_least(h, 14))
            put_str(b, strcmp(e->desc, "TABLE") == 0 ? "heap" : ""); /* table access method */
        if (is_at_least(h, 16))
            put_int(b, strcmp(e->desc, "TABLE") == 0 ? 'r' : 0); /* relkind */
        put_str(b, "postgres"); /* owner */
        put_str(b, "false");
        for (size_t d = 0; d < 3 && e->deps[d]; d++)
            put_str(b, e->deps[d]);
        put_str(b, NULL);
        buf_append_u8(b, 1); /* offset not set, as in a piped dump */
        for (unsigned k = 0; k < OFFSET_SIZE; k++)
            buf_append_u8(b, 0);
    }
    return b->len - start;
}

/* Appends one data block of type 1: the dump id, the chunks, a zero length. */
static inline void write_block(struct buf *b, int dump_id, const uint8_t *data, const size_t *chunk_lens, size_t chunks)
{
    buf_append_u8(b, 1);
    put_int(b, dump_id);
    size_t at = 0;
    for (size_t i = 0; i < chunks; i++) {
        put_int(b, (int64_t)chunk_lens[i]);
        buf_append(b, data + at, chunk_lens[i]);
        at += chunk_lens[i];
    }
    put_int(b, 0);
}

/* Appends a data block cut into chunks of at most chunk bytes. */
static inline void write_block_even(struct buf *b, int dump_id, const char *content, size_t len, size_t chunk)
{
    buf_append_u8(b, 1);
    put_int(b, dump_id);
    for (size_t at = 0; at < len; at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;
        put_int(b, (int64_t)n);
        buf_append(b, content + at, n);
    }
    put_int(b, 0);
}

#endif
