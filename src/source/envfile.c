/*
 * envfile.c — a copy of a .env file with the secrets taken out, for review.
 *
 * One pass over the text, a line (or a multi-line value) at a time; every
 * byte not part of a redacted value or a URL's password is appended as it
 * is, so the output differs from the input only where a secret was. The rules, and
 * why each ambiguity is settled the way it is, are in envfile.h.
 */
#include "source/envfile.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct assignment {
    size_t name;     /* offset of the name */
    size_t name_len;
    char sep;        /* '=' or ':' */
    size_t value;    /* offset of the value's first byte (maybe its quote) */
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool is_quote(char c)
{
    return c == '"' || c == '\'' || c == '`';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static size_t skip_blanks(const char *t, size_t end, size_t i)
{
    while (i < end && is_blank(t[i]))
        i++;
    return i;
}

/* Where the line holding i ends: its first \r or \n, or len. */
static size_t line_end(const char *t, size_t len, size_t i)
{
    while (i < len && t[i] != '\n' && t[i] != '\r')
        i++;
    return i;
}

/* Like line_end, but a lone \r inside the line does not end it: only \n,
 * \r\n, or a \r as the last byte of the text. */
static size_t line_end_at_lf(const char *t, size_t len, size_t i)
{
    const char *lf = memchr(t + i, '\n', len - i);
    size_t end = lf ? (size_t)(lf - t) : len;
    if (end > i && t[end - 1] == '\r')
        end--;
    return end;
}

/* Just past the line ending that starts at end (which line_end returned). */
static size_t after_eol(const char *t, size_t len, size_t end)
{
    if (end >= len)
        return len;
    if (t[end] == '\r' && end + 1 < len && t[end + 1] == '\n')
        return end + 2;
    return end + 1;
}

static bool is_value_pattern(const char *word)
{
    return !strncmp(word, ENVFILE_VALUE_PREFIX, strlen(ENVFILE_VALUE_PREFIX));
}

static bool name_matches(const char *name, size_t name_len, const char *const *words, size_t word_count)
{
    for (size_t w = 0; w < word_count; w++) {
        if (is_value_pattern(words[w]))
            continue;
        size_t word_len = strlen(words[w]);
        for (size_t at = 0; at + word_len <= name_len; at++) {
            size_t k = 0;
            while (k < word_len && lower(name[at + k]) == lower(words[w][k]))
                k++;
            if (k == word_len)
                return true;
        }
    }
    return false;
}

/* Reads `[blanks][export blanks]NAME[blanks](=|:)[blanks]` from the line
 * [start, end). False if the line is not an assignment. */
static bool parse_assignment(const char *t, size_t start, size_t end, struct assignment *a)
{
    size_t i = start;
    /* python-dotenv drops a byte-order mark; without this the first
     * variable of such a file would go unrecognised, and be copied. */
    if (start == 0 && end >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    i = skip_blanks(t, end, i);

    size_t name = i;
    if (i >= end || !is_name_start(t[i]))
        return false;
    while (i < end && is_name_char(t[i]))
        i++;
    size_t name_len = i - name;

    /* `export NAME=`: the name is what follows. But `export=1` and
     * `export = 1` assign a variable called export. */
    if (name_len == 6 && memcmp(t + name, "export", 6) == 0 && i < end && is_blank(t[i])) {
        size_t j = skip_blanks(t, end, i);
        if (j < end && is_name_start(t[j])) {
            name = j;
            while (j < end && is_name_char(t[j]))
                j++;
            name_len = j - name;
            i = j;
        }
    }

    i = skip_blanks(t, end, i);
    if (i >= end || (t[i] != '=' && t[i] != ':'))
        return false;
    a->name = name;
    a->name_len = name_len;
    a->sep = t[i];
    a->value = skip_blanks(t, end, i + 1);
    return true;
}

/* The closing quote of the value whose opening quote is at open, or len.
 * A quote right after a backslash does not close (see envfile.h). The
 * next value opened with the same quote stops the search at the latest,
 * so however many values are left open, each quote kind's searches cover
 * the text about once. */
static size_t closing_quote(const char *t, size_t len, size_t open)
{
    size_t i = open + 1;
    while (i < len && (t[i] != t[open] || t[i - 1] == '\\'))
        i++;
    return i;
}

static bool is_blank_or_comment(const char *t, size_t from, size_t to)
{
    size_t i = skip_blanks(t, to, from);
    return i == to || t[i] == '#';
}

/* Where an unquoted value in [from, to) ends if it has an inline comment
 * (the blanks before a `#` that follows a blank), or to. */
static size_t comment_start(const char *t, size_t from, size_t to)
{
    for (size_t i = from + 1; i < to; i++) {
        if (t[i] == '#' && is_blank(t[i - 1])) {
            size_t c = i;
            while (c > from && is_blank(t[c - 1]))
                c--;
            return c;
        }
    }
    return to;
}

/* Whether the len bytes at text match the glob pattern: * any bytes, ?
 * one byte, \ makes the next byte literal; bytewise, case-sensitive. */
static bool glob_matches(const char *pattern, const char *text, size_t len)
{
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0; /* where to go back to after a mismatch */
    while (i < len) {
        if (pattern[p] == '*') {
            star_p = ++p;
            star_i = i;
            continue;
        }
        bool is_any = pattern[p] == '?';
        size_t lit = pattern[p] == '\\' && pattern[p + 1] ? p + 1 : p;
        if (pattern[p] && (is_any || pattern[lit] == text[i])) {
            p = lit + 1;
            i++;
        } else if (star_p != SIZE_MAX) {
            p = star_p;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (pattern[p] == '*')
        p++;
    return pattern[p] == '\0';
}

/* Whether the value of a (its text inside the quotes, or up to an inline
 * comment) matches one of the value: patterns among words. */
static bool value_matches(const char *t, size_t len, const struct assignment *a, const char *const *words,
                          size_t word_count)
{
    size_t from = a->value, to;
    if (from < len && is_quote(t[from])) {
        to = closing_quote(t, len, from);
        from++;
    } else {
        to = comment_start(t, from, line_end(t, len, from));
        while (to > from && is_blank(t[to - 1]))
            to--;
    }
    for (size_t w = 0; w < word_count; w++)
        if (is_value_pattern(words[w]) &&
            glob_matches(words[w] + strlen(ENVFILE_VALUE_PREFIX), t + from, to - from))
            return true;
    return false;
}

static bool ends_url(char c)
{
    return is_blank(c) || c == '\n' || c == '\r' || is_quote(c);
}

/* Appends t[from, to) with the userinfo password of every URL in it
 * replaced (envfile.h): after "://", up to the last @ before the URL
 * ends (a blank, a quote, a line end), what follows the first : — or,
 * without a :, all of it. */
static void append_hiding_userinfo(const char *t, size_t from, size_t to, struct buf *out)
{
    size_t i = from;
    for (size_t s = from; s + 3 <= to; s++) {
        if (memcmp(t + s, "://", 3) != 0)
            continue;
        size_t start = s + 3, end = start, at = 0;
        for (; end < to && !ends_url(t[end]); end++)
            if (t[end] == '@')
                at = end;
        if (at) {
            const char *colon = memchr(t + start, ':', at - start);
            size_t hide = colon ? (size_t)(colon - t) + 1 : start;
            buf_append(out, t + i, hide - i);
            if (at > hide)
                buf_append(out, ENVFILE_REDACTED, strlen(ENVFILE_REDACTED));
            i = at;
        }
        s = end > s ? end - 1 : s;
    }
    buf_append(out, t + i, to - i);
}

/* The line ending at the very end of the text, if it comes after from. */
static size_t final_eol_len(const char *t, size_t len, size_t from)
{
    if (len >= from + 2 && t[len - 2] == '\r' && t[len - 1] == '\n')
        return 2;
    if (len >= from + 1 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
        return 1;
    return 0;
}

/* Appends the redacted form of the assignment starting at start; returns
 * where the next line starts. */
static size_t redact_assignment(const char *t, size_t len, size_t start, const struct assignment *a,
                                struct buf *out)
{
    size_t v = a->value;
    if (v < len && is_quote(t[v])) {
        buf_append(out, t + start, v + 1 - start);
        buf_append(out, ENVFILE_REDACTED, strlen(ENVFILE_REDACTED));
        size_t close = closing_quote(t, len, v);
        if (close == len) {
            size_t eol = final_eol_len(t, len, v + 1);
            buf_append(out, t + len - eol, eol);
            return len;
        }
        size_t end = line_end(t, len, close + 1);
        size_t next = after_eol(t, len, end);
        if (is_blank_or_comment(t, close + 1, end))
            append_hiding_userinfo(t, close, next, out);
        else {
            buf_append_u8(out, (uint8_t)t[close]);
            buf_append(out, t + end, next - end);
        }
        return next;
    }

    size_t end = line_end(t, len, v);
    size_t cut = comment_start(t, v, end);
    if (cut == end) {
        end = line_end_at_lf(t, len, v);
        cut = end;
        while (cut > v && is_blank(t[cut - 1]))
            cut--;
    }
    size_t next = after_eol(t, len, end);
    buf_append(out, t + start, v - start);
    buf_append(out, ENVFILE_REDACTED, strlen(ENVFILE_REDACTED));
    append_hiding_userinfo(t, cut, next, out);
    return next;
}

/* Where a variable that is copied as it is ends: past its closing line if
 * every dialect agrees its value runs there, else past its own line. */
static size_t copied_assignment_end(const char *t, size_t len, size_t line_next, const struct assignment *a)
{
    size_t v = a->value;
    if (a->sep != '=' || v >= len || (t[v] != '"' && t[v] != '\''))
        return line_next;
    size_t close = closing_quote(t, len, v);
    if (close == len)
        return line_next;
    size_t end = line_end(t, len, close + 1);
    if (!is_blank_or_comment(t, close + 1, end))
        return line_next;
    return after_eol(t, len, end);
}

void envfile_redact(const char *text, size_t len, const char *const *words, size_t word_count, struct buf *out)
{
    buf_reserve(out, len);
    size_t pos = 0;
    while (pos < len) {
        size_t end = line_end(text, len, pos);
        size_t next = after_eol(text, len, end);
        struct assignment a;
        if (!parse_assignment(text, pos, end, &a)) {
            append_hiding_userinfo(text, pos, next, out);
            pos = next;
        } else if (name_matches(text + a.name, a.name_len, words, word_count) ||
                   value_matches(text, len, &a, words, word_count)) {
            pos = redact_assignment(text, len, pos, &a, out);
        } else {
            next = copied_assignment_end(text, len, next, &a);
            append_hiding_userinfo(text, pos, next, out);
            pos = next;
        }
    }
}
