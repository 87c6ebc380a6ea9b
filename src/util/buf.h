/*
 * buf.h — a growable byte buffer and a bounds-checked reader over bytes.
 *
 * struct buf owns its memory (buf_free releases it). Writers append
 * little-endian integers and byte strings; struct cursor reads them back
 * and turns every overrun into a failed read instead of undefined
 * behaviour, so parsers of repository objects stay safe on damaged input.
 */
#ifndef COFFER_UTIL_BUF_H
#define COFFER_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Makes room for `extra` more bytes. Aborts only on out-of-memory. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
/* Appends printf-style text (without its NUL). */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_append_u8(struct buf *b, uint8_t v);
void buf_append_u16(struct buf *b, uint16_t v);
void buf_append_u32(struct buf *b, uint32_t v);
void buf_append_u64(struct buf *b, uint64_t v);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

void put_u32le(uint8_t *p, uint32_t v);
uint32_t get_u32le(const uint8_t *p);
void put_u64le(uint8_t *p, uint64_t v);
uint64_t get_u64le(const uint8_t *p);

/* A read position over bytes someone else owns. Once a read fails,
 * is_bad stays set and every later read fails too. */
struct cursor {
    const uint8_t *p;
    size_t left;
    bool is_bad;
};

struct cursor cursor_of(const void *data, size_t len);
uint8_t cursor_u8(struct cursor *c);
uint16_t cursor_u16(struct cursor *c);
uint32_t cursor_u32(struct cursor *c);
uint64_t cursor_u64(struct cursor *c);
/* Returns a pointer to the next len bytes, or NULL (and is_bad) on overrun. */
const uint8_t *cursor_bytes(struct cursor *c, size_t len);

/* Out-of-memory is the one failure coffer does not recover from. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
