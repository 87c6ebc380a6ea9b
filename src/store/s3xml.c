/*
 * s3xml.c — S3's XML answers (ListObjectsV2 pages, <Error> bodies) read
 * with expat, strictly (see s3xml.h for what is required and why).
 *
 * Why expat: it is small, streams (no tree is built: the handlers below
 * keep only the element being read), decodes entities and character
 * references, refuses what is not well-formed, and is fuzzed continuously
 * upstream (OSS-Fuzz). A DOCTYPE is refused before it can declare
 * anything, so the only entities left are XML's five and character
 * references: no entity expansion, no external fetches.
 *
 * The parse is a small state machine over element depth: the root, its
 * children, and the children of <Contents>. Elements S3 may add that
 * coffer does not need (Name, Prefix, Owner, ETag, ...) and elements of
 * other namespaces are skipped whole; text is collected only inside the
 * leaves that are read, and stray text elsewhere is refused.
 */
#include "store/s3xml.h"

#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define S3_NAMESPACE "http://s3.amazonaws.com/doc/2006-03-01/"
#define NS_SEPARATOR '|' /* cannot occur in an element's local name */
#define FEED_MAX (1u << 20) /* bytes per XML_Parse call (its length is an int) */

enum doc_kind { DOC_LISTING, DOC_ERROR };

/* The leaf whose text is being collected. */
enum field { F_NONE, F_KEY_COUNT, F_IS_TRUNCATED, F_NEXT_TOKEN, F_ENCODING, F_KEY, F_SIZE, F_MODIFIED, F_ETAG, F_CODE, F_MESSAGE };

struct parse {
    XML_Parser xp;
    enum doc_kind kind;
    const char *root; /* "ListBucketResult" or "Error" */
    bool has_root, is_wrong_root, is_root_closed;
    char *root_ns;         /* the root's namespace, or NULL */
    unsigned depth;        /* elements open */
    unsigned skip_depth;   /* inside an element skipped whole: its depth; else 0 */
    bool is_in_contents;   /* a <Contents> is open (depth 2) */
    enum field field;
    const char *field_name;
    struct buf text;
    bool has_failed; /* a handler found something wrong: problem says what */
    char problem[ERROR_MSG_MAX];

    /* listing */
    struct s3xml_listing *listing;
    size_t cap;
    bool has_key_count, has_truncated, has_token;
    uint64_t key_count;
    char *key; /* current <Contents> */
    bool has_size;
    uint64_t size;
    char *modified, *etag; /* current <Contents>'s, or NULL */

    /* error */
    struct s3xml_error *error;
};

static void fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parse *p, const char *fmt, ...)
{
    if (p->has_failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->problem, sizeof p->problem, fmt, ap);
    va_end(ap);
    p->has_failed = true;
    XML_StopParser(p->xp, XML_FALSE);
}

#define ELLIPSIS "\xe2\x80\xa6" /* … */

/* Up to max bytes of s, printable ASCII (anything else shown as '?',
 * blanks as one space); returns whether s was longer. */
static bool quote(const char *s, size_t len, size_t max, char *out, size_t size)
{
    size_t o = 0;
    bool was_blank = false;
    for (size_t i = 0; i < len && i < max && o + 4 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        bool is_blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (is_blank && was_blank)
            continue;
        out[o++] = is_blank ? ' ' : c >= 0x21 && c < 0x7f ? (char)c : '?';
        was_blank = is_blank;
    }
    out[o] = '\0';
    return len > max;
}

/* quote, with "…" at the end when cut (out holds max + 4 bytes at least). */
static void quote_value(const char *s, size_t len, size_t max, char *out, size_t size)
{
    if (quote(s, len, max, out, size))
        strcat(out, ELLIPSIS);
}

void s3xml_describe_body(const char *content_type, const void *body, size_t len, char *out, size_t size)
{
    char type[64], start[160];
    quote(content_type ? content_type : "", content_type ? strlen(content_type) : 0, 40, type, sizeof type);
    if (len == 0) {
        snprintf(out, size, "an empty%s%s body", *type ? " " : "", type);
        return;
    }
    size_t skip = 0; /* leading blanks and an XML declaration say nothing */
    const char *b = body;
    for (bool is_more = true; is_more;) {
        while (skip < len && (b[skip] == ' ' || b[skip] == '\n' || b[skip] == '\r' || b[skip] == '\t'))
            skip++;
        is_more = false;
        if (len - skip > 5 && !memcmp(b + skip, "<?xml", 5)) {
            for (size_t i = skip + 5; i + 1 < len && !is_more; i++) {
                if (b[i] == '?' && b[i + 1] == '>') {
                    skip = i + 2;
                    is_more = true;
                }
            }
        }
    }
    bool is_cut = quote(b + skip, len - skip, 40, start, sizeof start);
    snprintf(out, size, "%s body starting '%s'%s", *type ? type : "a", start, is_cut ? ELLIPSIS : "");
}

/* Splits expat's "namespace|local" (or "local"). */
static const char *local_name(const char *name, const char **ns, size_t *ns_len)
{
    const char *bar = strrchr(name, NS_SEPARATOR);
    *ns = bar ? name : NULL;
    *ns_len = bar ? (size_t)(bar - name) : 0;
    return bar ? bar + 1 : name;
}

static bool is_root_namespace(const struct parse *p, const char *ns, size_t ns_len)
{
    if (!p->root_ns)
        return ns == NULL;
    return ns && strlen(p->root_ns) == ns_len && !memcmp(p->root_ns, ns, ns_len);
}

static void begin_field(struct parse *p, enum field f, const char *name, bool *seen)
{
    if (seen && *seen)
        fail(p, "has two <%s> elements", name);
    if (seen)
        *seen = true;
    p->field = f;
    p->field_name = name;
    buf_reset(&p->text);
}

static void skip_element(struct parse *p)
{
    p->skip_depth = p->depth;
}

/* After XML_StopParser expat may still deliver what it had buffered. */
static bool is_stopped(const struct parse *p)
{
    return p->has_failed || p->is_wrong_root;
}

static void on_start(void *ctx, const XML_Char *name, const XML_Char **attributes)
{
    struct parse *p = ctx;
    if (is_stopped(p))
        return;
    p->depth++;
    if (p->skip_depth)
        return;
    const char *ns;
    size_t ns_len;
    const char *local = local_name(name, &ns, &ns_len);
    if (p->depth == 1) {
        bool is_ns_ok = !ns || (ns_len == strlen(S3_NAMESPACE) && !memcmp(ns, S3_NAMESPACE, ns_len));
        if (strcmp(local, p->root) || !is_ns_ok) {
            p->is_wrong_root = true;
            XML_StopParser(p->xp, XML_FALSE);
            return;
        }
        p->has_root = true;
        if (ns) {
            p->root_ns = xmalloc(ns_len + 1);
            memcpy(p->root_ns, ns, ns_len);
            p->root_ns[ns_len] = '\0';
        }
        return;
    }
    if (p->field != F_NONE) {
        fail(p, "has an element <%.64s> inside <%s>", local, p->field_name);
        return;
    }
    if (!is_root_namespace(p, ns, ns_len)) { /* someone's extension */
        skip_element(p);
        return;
    }
    if (p->kind == DOC_ERROR) {
        bool is_code = p->depth == 2 && !strcmp(local, "Code");
        bool is_message = p->depth == 2 && !strcmp(local, "Message");
        if ((is_code && p->error->code) || (is_message && p->error->message))
            fail(p, "has two <%s> elements", local);
        else if (is_code || is_message)
            begin_field(p, is_code ? F_CODE : F_MESSAGE, is_code ? "Code" : "Message", NULL);
        else
            skip_element(p);
        return;
    }
    if (p->depth == 3) { /* inside <Contents> */
        if (!strcmp(local, "Key")) {
            if (p->key)
                fail(p, "has a <Contents> with two <Key> elements");
            begin_field(p, F_KEY, "Key", NULL);
        } else if (!strcmp(local, "Size")) {
            if (p->has_size)
                fail(p, "has a <Contents> with two <Size> elements");
            begin_field(p, F_SIZE, "Size", NULL);
        } else if (!strcmp(local, "LastModified")) {
            if (p->modified)
                fail(p, "has a <Contents> with two <LastModified> elements");
            begin_field(p, F_MODIFIED, "LastModified", NULL);
        } else if (!strcmp(local, "ETag")) {
            if (p->etag)
                fail(p, "has a <Contents> with two <ETag> elements");
            begin_field(p, F_ETAG, "ETag", NULL);
        } else {
            skip_element(p);
        }
        return;
    }
    if (!strcmp(local, "KeyCount")) {
        begin_field(p, F_KEY_COUNT, "KeyCount", &p->has_key_count);
    } else if (!strcmp(local, "IsTruncated")) {
        begin_field(p, F_IS_TRUNCATED, "IsTruncated", &p->has_truncated);
    } else if (!strcmp(local, "NextContinuationToken")) {
        begin_field(p, F_NEXT_TOKEN, "NextContinuationToken", &p->has_token);
    } else if (!strcmp(local, "EncodingType")) {
        begin_field(p, F_ENCODING, "EncodingType", NULL);
    } else if (!strcmp(local, "Contents")) {
        p->is_in_contents = true;
        p->key = NULL;
        p->has_size = false;
        p->modified = p->etag = NULL;
    } else if (!strcmp(local, "CommonPrefixes")) {
        p->listing->prefix_count++;
        skip_element(p);
    } else {
        skip_element(p);
    }
}

/* Plain decimal digits, no sign or blanks, that fit in 64 bits. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static char *text_dup(const struct buf *text)
{
    char *s = xmalloc(text->len + 1);
    if (text->len)
        memcpy(s, text->data, text->len);
    s[text->len] = '\0';
    return s;
}

static void end_field(struct parse *p)
{
    const char *t = (const char *)p->text.data;
    size_t len = p->text.len;
    char shown[160];
    quote_value(t ? t : "", len, 60, shown, sizeof shown);
    switch (p->field) {
    case F_KEY_COUNT:
        if (!parse_u64(t, len, &p->key_count))
            fail(p, "has <KeyCount> '%s', not a number", shown);
        break;
    case F_IS_TRUNCATED:
        if (len == 4 && !memcmp(t, "true", 4))
            p->listing->is_truncated = true;
        else if (!(len == 5 && !memcmp(t, "false", 5)))
            fail(p, "has <IsTruncated> '%s', not true or false", shown);
        break;
    case F_NEXT_TOKEN:
        p->listing->next_token = text_dup(&p->text);
        break;
    case F_ENCODING:
        fail(p, "has its keys encoded (<EncodingType> '%s'), which coffer did not ask for", shown);
        break;
    case F_KEY:
        if (len == 0)
            fail(p, "has a <Contents> with an empty <Key>");
        else
            p->key = text_dup(&p->text);
        break;
    case F_SIZE:
        if (!parse_u64(t, len, &p->size))
            fail(p, "has <Size> '%s', not a number of bytes", shown);
        p->has_size = true;
        break;
    case F_MODIFIED:
    case F_ETAG: /* kept as sent: they are compared, never computed with */
        if (len == 0)
            fail(p, "has a <Contents> with an empty <%s>", p->field_name);
        else
            *(p->field == F_MODIFIED ? &p->modified : &p->etag) = text_dup(&p->text);
        break;
    case F_CODE:
        if (len == 0)
            fail(p, "has an empty <Code>");
        else
            p->error->code = text_dup(&p->text);
        break;
    case F_MESSAGE:
        p->error->message = text_dup(&p->text);
        for (char *c = p->error->message; *c; c++)
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
        break;
    case F_NONE:
        break;
    }
    p->field = F_NONE;
}

/* Frees what a <Contents> left half-read. */
static void contents_free(struct parse *p)
{
    free(p->key);
    free(p->modified);
    free(p->etag);
    p->key = p->modified = p->etag = NULL;
}

static void end_contents(struct parse *p)
{
    struct s3xml_listing *l = p->listing;
    if (!p->key || !p->has_size) {
        char shown[160] = "";
        if (p->key)
            quote_value(p->key, strlen(p->key), 60, shown, sizeof shown);
        fail(p, "has a <Contents>%s%s%s without a <%s>", p->key ? " for '" : "", shown, p->key ? "'" : "",
             p->key ? "Size" : "Key");
        contents_free(p);
        return;
    }
    if (l->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        l->objects = xrealloc(l->objects, p->cap * sizeof *l->objects);
    }
    l->objects[l->count++] = (struct s3xml_object){p->key, p->size, p->modified, p->etag};
    p->key = p->modified = p->etag = NULL;
    p->is_in_contents = false;
}

static void on_end(void *ctx, const XML_Char *name)
{
    struct parse *p = ctx;
    if (is_stopped(p))
        return;
    if (p->skip_depth) {
        if (p->depth == p->skip_depth)
            p->skip_depth = 0;
    } else if (p->field != F_NONE) {
        end_field(p);
    } else if (p->depth == 2 && p->is_in_contents) {
        end_contents(p);
    } else if (p->depth == 1) {
        p->is_root_closed = true;
    }
    p->depth--;
}

static void on_text(void *ctx, const XML_Char *s, int len)
{
    struct parse *p = ctx;
    if (is_stopped(p) || p->skip_depth)
        return;
    if (p->field != F_NONE) {
        buf_append(&p->text, s, (size_t)len);
        return;
    }
    for (int i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            char shown[160];
            quote_value(s + i, (size_t)(len - i), 40, shown, sizeof shown);
            fail(p, "has stray text '%s' inside <%s>", shown, p->is_in_contents ? "Contents" : p->root);
            return;
        }
    }
}

/* S3 never sends a DTD; refusing one at its start means no entity can be
 * declared, so nothing can expand. */
static void on_doctype(void *ctx, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    struct parse *p = ctx;
    if (is_stopped(p))
        return;
    if (!p->has_root) {
        p->is_wrong_root = true;
        XML_StopParser(p->xp, XML_FALSE);
    } else {
        fail(p, "has a document type declaration");
    }
}

/* Runs expat over the body. 0 when it is well-formed (as far as the
 * handlers let it run and none failed); -1 otherwise, with `problem` or
 * the syntax error in *syntax. */
static int run(struct parse *p, const void *body, size_t len, char *syntax, size_t size)
{
    p->xp = XML_ParserCreateNS(NULL, NS_SEPARATOR);
    if (!p->xp) {
        fputs("coffer: out of memory\n", stderr);
        abort();
    }
    XML_SetUserData(p->xp, p);
    XML_SetElementHandler(p->xp, on_start, on_end);
    XML_SetCharacterDataHandler(p->xp, on_text);
    XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
    const char *at = body ? body : "";
    size_t left = len;
    enum XML_Status status;
    do {
        size_t n = left < FEED_MAX ? left : FEED_MAX;
        status = XML_Parse(p->xp, at, (int)n, n == left);
        at += n;
        left -= n;
    } while (status == XML_STATUS_OK && left);
    int rc = 0;
    if (status != XML_STATUS_OK && !p->has_failed && !p->is_wrong_root) {
        snprintf(syntax, size, "%s at line %lu, column %lu", XML_ErrorString(XML_GetErrorCode(p->xp)),
                 (unsigned long)XML_GetCurrentLineNumber(p->xp),
                 (unsigned long)XML_GetCurrentColumnNumber(p->xp) + 1);
        rc = -1;
    }
    XML_ParserFree(p->xp);
    p->xp = NULL;
    return p->has_failed || p->is_wrong_root ? -1 : rc;
}

static void parse_free(struct parse *p)
{
    buf_free(&p->text);
    free(p->root_ns);
    contents_free(p);
}

void s3xml_listing_free(struct s3xml_listing *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++) {
        free(l->objects[i].key);
        free(l->objects[i].modified);
        free(l->objects[i].etag);
    }
    free(l->objects);
    free(l->next_token);
    memset(l, 0, sizeof *l);
}

int s3xml_listing_parse(const char *what, const char *content_type, const void *body, size_t len,
                        struct s3xml_listing *out, struct error *err)
{
    memset(out, 0, sizeof *out);
    struct parse p = {.kind = DOC_LISTING, .root = "ListBucketResult", .listing = out};
    char syntax[256] = "";
    int rc = run(&p, body, len, syntax, sizeof syntax);
    if (p.is_wrong_root || !p.has_root) {
        char seen[256];
        s3xml_describe_body(content_type, body, len, seen, sizeof seen);
        error_set(err, "%s was not a ListBucketResult (got %s): the endpoint may be a proxy or website, not S3",
                  what, seen);
    } else if (p.has_failed) {
        error_set(err, "%s %s", what, p.problem);
    } else if (rc < 0 || !p.is_root_closed) {
        error_set(err, "%s is not well-formed XML (%s): the answer was cut short or damaged on the way", what,
                  *syntax ? syntax : "the root is not closed");
    } else if (!p.has_key_count) {
        error_set(err, "%s has no <KeyCount>, so coffer cannot tell whether it is complete", what);
    } else if (!p.has_truncated) {
        error_set(err, "%s has no <IsTruncated>, so coffer cannot tell whether more pages follow", what);
    } else if (p.key_count != out->count + out->prefix_count) {
        error_set(err, "%s says <KeyCount> %llu but holds %zu entries: the page is incomplete", what,
                  (unsigned long long)p.key_count, out->count + out->prefix_count);
    } else if (out->is_truncated && !out->next_token) {
        error_set(err, "%s is truncated but gives no <NextContinuationToken> to continue from", what);
    } else if (out->is_truncated && !*out->next_token) {
        error_set(err, "%s is truncated but its <NextContinuationToken> is empty", what);
    } else {
        if (!out->is_truncated) { /* nothing follows: a token would mean nothing */
            free(out->next_token);
            out->next_token = NULL;
        }
        parse_free(&p);
        return 0;
    }
    parse_free(&p);
    s3xml_listing_free(out);
    return -1;
}

int s3xml_tokens_add(struct s3xml_tokens *seen, const char *what, const char *token, struct error *err)
{
    for (size_t i = 0; i < seen->count; i++) {
        if (!strcmp(seen->tokens[i], token)) {
            char shown[160];
            quote_value(token, strlen(token), 60, shown, sizeof shown);
            return error_set(err, "%s: the server sent continuation token '%s' again (first after page %zu, "
                             "now after page %zu): it is going round in circles", what, shown, i + 1,
                             seen->count + 1);
        }
    }
    seen->tokens = xrealloc(seen->tokens, (seen->count + 1) * sizeof *seen->tokens);
    seen->tokens[seen->count++] = xstrdup(token);
    return 0;
}

void s3xml_tokens_free(struct s3xml_tokens *seen)
{
    for (size_t i = 0; i < seen->count; i++)
        free(seen->tokens[i]);
    free(seen->tokens);
    seen->tokens = NULL;
    seen->count = 0;
}

void s3xml_error_free(struct s3xml_error *e)
{
    if (!e)
        return;
    free(e->code);
    free(e->message);
    e->code = e->message = NULL;
}

int s3xml_error_parse(const char *content_type, const void *body, size_t len, struct s3xml_error *out,
                      struct error *err)
{
    memset(out, 0, sizeof *out);
    struct parse p = {.kind = DOC_ERROR, .root = "Error", .error = out};
    char syntax[256] = "";
    int rc = run(&p, body, len, syntax, sizeof syntax);
    char seen[256];
    s3xml_describe_body(content_type, body, len, seen, sizeof seen);
    if (p.is_wrong_root || !p.has_root)
        rc = error_set(err, "not an S3 error (got %s)", seen);
    else if (p.has_failed)
        rc = error_set(err, "an S3 <Error> that %s", p.problem);
    else if (rc < 0 || !p.is_root_closed)
        rc = error_set(err, "an S3 <Error> that is not well-formed XML (%s)",
                       *syntax ? syntax : "the root is not closed");
    else if (!out->code)
        rc = error_set(err, "an S3 <Error> without a <Code>");
    parse_free(&p);
    if (rc < 0)
        s3xml_error_free(out);
    return rc;
}
