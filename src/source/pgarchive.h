/*
 * pgarchive.h — reading pg_dump's custom-format archive as it streams by.
 *
 * coffer restores a database dump in parallel itself (see restore_db.c):
 * pg_restore creates the schema from the archive's table of contents, and
 * coffer loads each table's rows over several connections at once, which
 * pg_restore cannot do for one large table. That needs two readers:
 *
 *  - the header and table of contents (TOC) at the start of the archive,
 *    parsed from a prefix buffer once it is long enough;
 *  - the data blocks after it, parsed incrementally from pieces of any
 *    size, handing each block's bytes to callbacks.
 *
 * Archive versions 1.12 to 1.16 (pg_dump 11 to 17) are understood. An
 * archive this reader cannot take apart (another format or version,
 * compressed data) is reported as such, and the caller restores it with
 * pg_restore alone.
 */
#ifndef COFFER_SOURCE_PGARCHIVE_H
#define COFFER_SOURCE_PGARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

/* pg_dump's teSection numbers. */
enum pga_section { PGA_SECTION_NONE = 1, PGA_SECTION_PRE_DATA, PGA_SECTION_DATA, PGA_SECTION_POST_DATA };

struct pga_entry {
    int dump_id;
    bool has_data;          /* the entry has a data block (pg_dump's hadDumper) */
    enum pga_section section; /* as pg_restore sees it: "none" takes the section of the entry before */
    char *desc;             /* "TABLE", "TABLE DATA", "INDEX", ...; never NULL */
    char *tag;              /* the object's name; never NULL */
    char *namespace_name;   /* schema, or NULL */
    char *defn;             /* SQL that creates it, or NULL */
    char *copy_stmt;        /* "COPY schema.table (cols) FROM stdin;", for TABLE DATA */
};

struct pga_toc {
    unsigned version;       /* major << 16 | minor << 8 | revision */
    unsigned int_size;      /* bytes of an integer's magnitude */
    unsigned offset_size;   /* bytes of a file offset */
    bool is_compressed;
    size_t count;
    struct pga_entry *entries;
    size_t data_start;      /* offset of the first data block */
};

/* Parses the header and TOC from the first len bytes of an archive.
 * Returns 1 when the TOC is complete (toc filled; free with pga_toc_free),
 * 0 when more bytes are needed, -1 when this is no archive we can read
 * (err says why). */
int pga_toc_parse(const uint8_t *data, size_t len, struct pga_toc *toc, struct error *err);
void pga_toc_free(struct pga_toc *toc);

/* The entry with this dump id, or NULL. */
const struct pga_entry *pga_toc_find(const struct pga_toc *toc, int dump_id);

/* Callbacks for the data blocks: a block starts, its bytes arrive in
 * pieces, it ends. Each returns 0, or -1 with err set to stop. */
struct pga_data_handler {
    int (*block_start)(void *ctx, int dump_id, struct error *err);
    int (*block_data)(void *ctx, const uint8_t *data, size_t len, struct error *err);
    int (*block_end)(void *ctx, struct error *err);
    void *ctx;
};

/* Incremental reader of the data blocks after the TOC. */
struct pga_data_reader {
    struct pga_data_handler handler;
    unsigned int_size;
    int state;
    uint8_t number[16];    /* an integer being assembled */
    unsigned number_have;
    uint64_t chunk_left;   /* bytes of the current chunk still to come */
    bool is_in_block;
};

void pga_data_reader_init(struct pga_data_reader *r, const struct pga_toc *toc, const struct pga_data_handler *handler);

/* Feeds the next bytes after toc->data_start. */
int pga_data_reader_feed(struct pga_data_reader *r, const uint8_t *data, size_t len, struct error *err);

/* Checks that the archive ended between blocks. */
int pga_data_reader_finish(const struct pga_data_reader *r, struct error *err);

/* An archive arriving in pieces of any size from its first byte: the start
 * is buffered until its TOC parses, on_toc then decides what to do (fill
 * *handler to receive the data blocks, or fail), and every later byte goes
 * to the data reader. A start that is no archive this reader takes apart
 * fails the feed with is_unreadable set, so a caller can fall back. */
#define PGA_TOC_MAX (256u << 20) /* a larger TOC is no archive pg_dump wrote */

struct pga_stream;
typedef int (*pga_toc_fn)(void *ctx, struct pga_stream *s, struct pga_data_handler *handler, struct error *err);

struct pga_stream {
    struct buf head;      /* the archive's first bytes until the TOC parsed (head[0,
                             toc.data_start) is the TOC, for on_toc); freed after */
    size_t next_parse;    /* head length at which to try parsing again */
    bool has_toc;
    bool is_unreadable;
    bool has_failed;      /* a call failed: every later one fails too */
    struct pga_toc toc;
    struct pga_data_reader data;
    pga_toc_fn on_toc;
    void *ctx;
};

void pga_stream_init(struct pga_stream *s, pga_toc_fn on_toc, void *ctx);
int pga_stream_feed(struct pga_stream *s, const uint8_t *data, size_t len, struct error *err);
/* At the end of the archive: fails if it ended before its TOC or in a block. */
int pga_stream_finish(struct pga_stream *s, struct error *err);
void pga_stream_free(struct pga_stream *s);

#endif
