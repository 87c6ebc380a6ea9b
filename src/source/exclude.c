/*
 * exclude.c — compiling and matching exclude patterns (exclude.h says what
 * they mean).
 *
 * A pattern becomes a rule: one segment per path component, each a
 * literal, a "*suffix", a general glob or a **. Most real patterns
 * (*.tmp, node_modules, /srv/app/cache) become literals and suffixes and
 * cost a memcmp per entry. Globs are interpreted here, byte by byte,
 * rather than handed to fnmatch(3): its ranges and its handling of names
 * that are not valid text follow the locale, which must not decide what a
 * backup holds, and it knows nothing of **.
 *
 * ** is matched the way * is in a one-line glob, with components for
 * characters: remember the last ** and, on a mismatch, let it swallow one
 * more component. However many ** a pattern has, that stays polynomial
 * (no exponential backtracking on a hostile or unlucky path).
 */
#include "source/exclude.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

enum seg_kind {
    SEG_LITERAL, /* text: the bytes, escapes removed */
    SEG_SUFFIX,  /* "*" then a literal; text: that literal, maybe empty ("*") */
    SEG_GLOB,    /* text: the glob as written, escapes and all */
    SEG_MANY,    /* a whole-component **: any number of components */
};

struct seg {
    enum seg_kind kind;
    const char *text; /* into the rule's own bytes; not NUL-terminated */
    size_t len;
};

struct rule {
    struct seg *segs;
    size_t n_segs;    /* 1 unless is_anchored */
    bool is_anchored; /* against the whole path, not only the name */
    bool is_dir_only;
    char *bytes;      /* owns what the segments' text points to */
};

struct exclude {
    struct rule *rules;
    size_t n_rules;
};

/* ---- parsing, shared by checking and matching ---- */

/* Reads one byte of a bracket expression at *p, a backslash escape
 * included, and moves past it. */
static unsigned char bracket_byte(const char **p)
{
    if (**p == '\\')
        (*p)++;
    return (unsigned char)*(*p)++;
}

/*
 * Walks the bracket expression that starts at p ('[') and ends before end.
 * Returns the byte after its closing ']', or NULL with *why set if it is
 * malformed. If c is not NULL, *is_match says whether *c is in the set.
 * Matching only ever sees brackets that checking accepted.
 */
static const char *bracket_walk(const char *p, const char *end, const unsigned char *c, bool *is_match,
                                const char **why)
{
    bool is_negated = false, is_in = false;
    p++;
    if (p < end && (*p == '!' || *p == '^')) {
        is_negated = true;
        p++;
    }
    /* A ']' first in the set is a member, not the end, as in fnmatch. */
    for (bool is_first = true;; is_first = false) {
        if (p >= end) {
            *why = "it has a [ without its closing ]; write \\[ for a literal [";
            return NULL;
        }
        if (*p == ']' && !is_first)
            break;
        if (*p == '[' && p + 1 < end && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
            *why = "classes such as [:alpha:] (or [=a=], [.a.]) inside [] are not supported; "
                   "list the bytes or a range instead";
            return NULL;
        }
        unsigned char lo = bracket_byte(&p), hi = lo;
        if (p + 1 < end && *p == '-' && p[1] != ']') {
            p++;
            hi = bracket_byte(&p);
            if (hi < lo) {
                *why = "it has a range in [] that runs backwards (such as z-a), which matches nothing";
                return NULL;
            }
        }
        if (c && *c >= lo && *c <= hi)
            is_in = true;
    }
    if (is_match)
        *is_match = is_in != is_negated;
    return p + 1;
}

/* Whether [p, end) holds an unescaped *, ? or [. */
static bool has_wildcards(const char *p, const char *end)
{
    for (; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '*' || *p == '?' || *p == '[')
            return true;
    }
    return false;
}

/* Whether a component is "." or ".." once escapes are removed: a walked
 * path never has one, so a pattern with one could never match. */
static bool is_dot_component(const char *p, const char *end)
{
    size_t dots = 0;
    for (; p < end; p++) {
        if (*p == '\\')
            p++;
        if (*p != '.')
            return false;
        dots++;
    }
    return dots == 1 || dots == 2;
}

/* The parts of a pattern that checking and compiling agree on. */
struct shape {
    size_t body_len;  /* without the trailing slash */
    bool is_dir_only;
    bool is_anchored;
};

static struct shape shape_of(const char *pattern)
{
    struct shape s = {.body_len = strlen(pattern)};
    /* A slash cannot be escaped (exclude_check refuses \/), so a final
     * slash always means "directories only". */
    if (s.body_len > 0 && pattern[s.body_len - 1] == '/') {
        s.is_dir_only = true;
        s.body_len--;
    }
    s.is_anchored = memchr(pattern, '/', s.body_len) != NULL;
    return s;
}

const char *exclude_check(const char *pattern)
{
    size_t len = strlen(pattern);
    if (len == 0)
        return "it is empty";
    if (pattern[0] == '!')
        return "negation (!) is not supported; write \\! for a name that starts with !";
    for (size_t i = 0; i < len; i++) {
        if (pattern[i] != '\\')
            continue;
        if (i + 1 == len)
            return "it ends in a lone backslash; write \\\\ for a backslash";
        if (pattern[i + 1] == '/')
            return "it has a backslash before a /, which a name cannot hold";
        i++;
    }
    /* Slashes are never escaped, so a // is always an empty component. */
    if (strstr(pattern, "//"))
        return "it has an empty path component (//)";
    struct shape s = shape_of(pattern);
    if (s.body_len == 0)
        return "\"/\" alone is the root itself; name what to leave out below it (such as /dir/**)";
    if (s.is_anchored && pattern[0] != '/' && strncmp(pattern, "**/", 3) != 0)
        return "a pattern with a / inside is matched against the whole absolute path: "
               "start it with / (or with **/ to match at any depth)";

    const char *p = pattern + (pattern[0] == '/'), *end = pattern + s.body_len;
    for (;;) {
        const char *c_end = memchr(p, '/', (size_t)(end - p));
        if (!c_end)
            c_end = end;
        if (is_dot_component(p, c_end))
            return "it has a . or .. component, which a walked path never has";
        for (const char *q = p; q < c_end; q++) {
            if (*q == '\\') {
                q++;
            } else if (*q == '[') {
                const char *why = NULL;
                q = bracket_walk(q, c_end, NULL, NULL, &why);
                if (!q)
                    return why;
                q--;
            }
        }
        if (c_end == end)
            return NULL;
        p = c_end + 1;
    }
}

/* ---- compiling ---- */

/* Copies [p, end) to out without its escapes; returns the bytes written. */
static size_t unescape(char *out, const char *p, const char *end)
{
    size_t n = 0;
    for (; p < end; p++) {
        if (*p == '\\')
            p++;
        out[n++] = *p;
    }
    return n;
}

/* Compiles one component into seg, its text into *out (moved past). */
static void seg_compile(struct seg *seg, const char *p, const char *end, bool is_anchored, char **out)
{
    if (is_anchored && end - p == 2 && p[0] == '*' && p[1] == '*') {
        *seg = (struct seg){.kind = SEG_MANY};
        return;
    }
    const char *after_stars = p;
    while (after_stars < end && *after_stars == '*')
        after_stars++;
    if (!has_wildcards(p, end)) {
        seg->kind = SEG_LITERAL;
        seg->len = unescape(*out, p, end);
    } else if (after_stars > p && !has_wildcards(after_stars, end)) {
        seg->kind = SEG_SUFFIX;
        seg->len = unescape(*out, after_stars, end);
    } else {
        seg->kind = SEG_GLOB;
        seg->len = (size_t)(end - p);
        memcpy(*out, p, seg->len);
    }
    seg->text = *out;
    *out += seg->len;
}

/* Compiles a pattern that exclude_check accepted. */
static void rule_compile(struct rule *r, const char *pattern)
{
    struct shape s = shape_of(pattern);
    r->is_dir_only = s.is_dir_only;
    r->is_anchored = s.is_anchored;
    r->bytes = xmalloc(s.body_len + 1);
    char *out = r->bytes;

    const char *p = pattern + (pattern[0] == '/'), *end = pattern + s.body_len;
    size_t n_components = 1;
    for (const char *q = p; q < end; q++)
        n_components += *q == '/';
    /* One spare: a trailing ** may become two segments. */
    r->segs = xcalloc(n_components + 1, sizeof *r->segs);
    r->n_segs = 0;
    for (;;) {
        const char *c_end = memchr(p, '/', (size_t)(end - p));
        if (!c_end)
            c_end = end;
        struct seg seg;
        seg_compile(&seg, p, c_end, r->is_anchored, &out);
        /* a / ** / ** / b is a / ** / b, and one ** backtracks less than two. */
        if (!(seg.kind == SEG_MANY && r->n_segs > 0 && r->segs[r->n_segs - 1].kind == SEG_MANY))
            r->segs[r->n_segs++] = seg;
        if (c_end == end)
            break;
        p = c_end + 1;
    }
    /* A final ** means "everything below", not the directory itself: at
     * least one component, then any number. */
    if (r->segs[r->n_segs - 1].kind == SEG_MANY) {
        r->segs[r->n_segs - 1] = (struct seg){.kind = SEG_SUFFIX, .text = out, .len = 0};
        r->segs[r->n_segs++] = (struct seg){.kind = SEG_MANY};
    }
    /* ** / name is name at any depth: match the name alone, which is cheaper. */
    if (r->is_anchored && r->n_segs == 2 && r->segs[0].kind == SEG_MANY && r->segs[1].kind != SEG_MANY) {
        r->segs[0] = r->segs[1];
        r->n_segs = 1;
        r->is_anchored = false;
    }
}

struct exclude *exclude_new(const char *const *patterns, size_t count, struct error *err)
{
    /* Check them all first, so that a refusal has nothing to undo. */
    for (size_t i = 0; i < count; i++) {
        const char *why = exclude_check(patterns[i]);
        if (!why)
            continue;
        /* An empty pattern is named by its place, as "" would say little. */
        size_t len = strlen(patterns[i]);
        if (len == 0)
            error_setk(err, ERR_USAGE, "exclude pattern %zu of %zu is empty", i + 1, count);
        else
            error_setk(err, ERR_USAGE, "exclude pattern \"%.*s%s\": %s", len > 300 ? 300 : (int)len,
                       patterns[i], len > 300 ? "..." : "", why);
        return NULL;
    }
    struct exclude *ex = xcalloc(1, sizeof *ex);
    ex->rules = xcalloc(count ? count : 1, sizeof *ex->rules);
    for (size_t i = 0; i < count; i++)
        rule_compile(&ex->rules[i], patterns[i]);
    ex->n_rules = count;
    return ex;
}

void exclude_free(struct exclude *ex)
{
    if (!ex)
        return;
    for (size_t i = 0; i < ex->n_rules; i++) {
        free(ex->rules[i].segs);
        free(ex->rules[i].bytes);
    }
    free(ex->rules);
    free(ex);
}

/* ---- matching ---- */

/* Whether the one-byte token at *p (?, [...], \x or a plain byte) matches
 * c; moves *p past the token either way. */
static bool token_match(const char **p, const char *end, unsigned char c)
{
    const char *t = *p;
    if (*t == '?') {
        *p = t + 1;
        return true;
    }
    if (*t == '[') {
        bool is_match = false;
        const char *why = NULL;
        *p = bracket_walk(t, end, &c, &is_match, &why);
        return is_match;
    }
    if (*t == '\\')
        t++;
    *p = t + 1;
    return (unsigned char)*t == c;
}

/* Whether the glob [p, p_end) matches the name [s, s_end). On a mismatch
 * after a *, that * takes one more byte and the rest is tried again. */
static bool glob_match(const char *p, const char *p_end, const char *s, const char *s_end)
{
    const char *star_p = NULL, *star_s = NULL;
    while (s < s_end) {
        if (p < p_end && *p == '*') {
            while (p < p_end && *p == '*')
                p++;
            if (p == p_end)
                return true; /* a final * takes the rest of a name */
            star_p = p;
            star_s = s;
            continue;
        }
        if (p < p_end && token_match(&p, p_end, (unsigned char)*s)) {
            s++;
            continue;
        }
        if (!star_p)
            return false;
        p = star_p;
        s = ++star_s;
    }
    while (p < p_end && *p == '*')
        p++;
    return p == p_end;
}

static bool seg_match(const struct seg *seg, const char *name, size_t len)
{
    switch (seg->kind) {
    case SEG_LITERAL:
        return len == seg->len && memcmp(name, seg->text, len) == 0;
    case SEG_SUFFIX:
        return len >= seg->len && memcmp(name + len - seg->len, seg->text, seg->len) == 0;
    case SEG_GLOB:
        return glob_match(seg->text, seg->text + seg->len, name, name + len);
    case SEG_MANY:
        break;
    }
    return false;
}

/* Whether the segments match the components of [path, end), slashes
 * between them ignored however many there are. */
static bool path_match(const struct seg *segs, size_t n_segs, const char *path, const char *end)
{
    size_t i = 0, star_i = 0;
    const char *s = path, *star_s = NULL;
    for (;;) {
        while (s < end && *s == '/')
            s++;
        if (s == end)
            break;
        const char *c_end = memchr(s, '/', (size_t)(end - s));
        if (!c_end)
            c_end = end;
        if (i < n_segs && segs[i].kind == SEG_MANY) {
            star_i = ++i;
            star_s = s;
            continue;
        }
        if (i < n_segs && seg_match(&segs[i], s, (size_t)(c_end - s))) {
            i++;
            s = c_end;
            continue;
        }
        if (!star_s)
            return false;
        /* Let the last ** take one more component and try the rest again. */
        s = star_s;
        while (s < end && *s == '/')
            s++;
        while (s < end && *s != '/')
            s++;
        star_s = s;
        i = star_i;
    }
    while (i < n_segs && segs[i].kind == SEG_MANY)
        i++;
    return i == n_segs;
}

bool exclude_matches(const struct exclude *ex, const char *path, bool is_dir)
{
    if (!ex || ex->n_rules == 0)
        return false;
    const char *end = path + strlen(path);
    while (end > path && end[-1] == '/')
        end--;
    const char *name = end;
    while (name > path && name[-1] != '/')
        name--;
    for (size_t i = 0; i < ex->n_rules; i++) {
        const struct rule *r = &ex->rules[i];
        if (r->is_dir_only && !is_dir)
            continue;
        if (r->is_anchored ? path_match(r->segs, r->n_segs, path, end)
                           : name < end && seg_match(&r->segs[0], name, (size_t)(end - name)))
            return true;
    }
    return false;
}
