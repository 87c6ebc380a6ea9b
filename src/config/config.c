/*
 * config.c — reading coffer.yaml against tables of known keys.
 *
 * libyaml turns the file into a tree of nodes that remember their line;
 * we walk that tree against tables. A table has one row per accepted key,
 * saying where its value goes and how it is read (string, true/false,
 * bounded whole number, one of a few words, list of strings, or a section
 * with its own table). So adding a key is one row; adding a source type is
 * one table and one row in source_types; a new top-level section is one row
 * whose reader walks the section's own table. The "known: ..." lists in
 * error messages are made from the same rows, so they cannot drift.
 *
 * Duplicate keys get through the YAML parser and are caught here, so that
 * the message says which key and where the first one was. Anchors and
 * aliases are followed (the parser resolves them); merge keys (<<) and
 * tags other than YAML's own (such as !env) are refused. Values are taken
 * literally: no environment expansion, no includes. The file holds paths to secrets, never secrets:
 * a "password" or "passphrase" key, or a password inside a database URL,
 * is refused, and the refusal never repeats the value.
 */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "repo/retention.h"
#include "repo/tree.h"
#include "sched/cron.h"
#include "source/types.h"
#include "util/spawn.h"
#include "store/s3.h"
#include "util/buf.h"
#include "util/text.h"
#include "util/tz.h"

/* A config file is a few dozen lines; anything this large is the wrong file. */
#define CONFIG_SIZE_MAX (1u << 20)
/* Room for a dotted key such as "sources.db.exports[3]"; longer ones are cut. */
#define KEY_MAX 256
/* Room for a value quoted in a message; longer values are shortened. */
#define SHOWN_MAX 80
/* Tags YAML itself defines (!!str, !!int ...) resolve to this prefix. */
#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* One config_load in progress: the file that messages name, and where they go. */
struct load {
    const char *file;
    struct error *err;
    yaml_document_t *doc;   /* the document being read: nodes refer to each other by index in it */
};

/* Reads value (the node after "name:"; NULL for an empty value) into the
 * struct at base. key is the dotted key for messages; line is the key's. */
typedef int (*field_read_fn)(struct load *ld, const struct config_field *f, yaml_node_t *value,
                             const char *key, unsigned line, void *base);

/* A table and the struct its offsets point into: a source's keys are read
 * into two structs at once (the common ones, its type's settings). */
struct table_at {
    const struct config_field *fields;
    void *base;
};

static int read_string(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_bool(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_uint(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_choice(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_strings(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_sources(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_block(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_duration(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_size(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_percent(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_checks(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_type_drills(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);

static int read_type_name(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_map(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_list(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);
static int read_alerts(struct load *, const struct config_field *, yaml_node_t *, const char *, unsigned, void *);

static const field_read_fn readers[] = {
    [CONFIG_STRING] = read_string,     [CONFIG_BOOL] = read_bool,         [CONFIG_UINT] = read_uint,
    [CONFIG_CHOICE] = read_choice,     [CONFIG_STRINGS] = read_strings,   [CONFIG_BLOCK] = read_block,
    [CONFIG_DURATION] = read_duration, [CONFIG_SIZE] = read_size,         [CONFIG_PERCENT] = read_percent,
    [CONFIG_SOURCES] = read_sources,   [CONFIG_CHECKS] = read_checks,     [CONFIG_TYPE_DRILLS] = read_type_drills,
    [CONFIG_TYPE_NAME] = read_type_name, [CONFIG_MAP] = read_map,           [CONFIG_LIST] = read_list,
    [CONFIG_ALERTS] = read_alerts,
};
static const char *check_duration(const char *text);
static const char *check_timezone(const char *zone);
static bool is_source_name(const char *s);
static const char *check_url_has_no_password(const char *url);

/* ---- the tables: what coffer.yaml may say (docs/config.md explains each key) ---- */

#define CONFIG(member) offsetof(struct config, member)
#define SOURCE(member) offsetof(struct config_source, member)

#define RETENTION(member) offsetof(struct config_retention, member)
#define HEALTH(member) offsetof(struct config_health, member)
#define OBJECTIVES(member) offsetof(struct config_objectives, member)
#define DRILL(member) offsetof(struct config_drill, member)
#define CHECK(member) offsetof(struct config_check, member)

static const struct config_field retention_fields[] = {
    {.name = "last", .kind = CONFIG_UINT, .offset = RETENTION(last), .max = 1000000},
    {.name = "hourly", .kind = CONFIG_UINT, .offset = RETENTION(hourly), .max = 1000000},
    {.name = "daily", .kind = CONFIG_UINT, .offset = RETENTION(daily), .max = 1000000},
    {.name = "weekly", .kind = CONFIG_UINT, .offset = RETENTION(weekly), .max = 1000000},
    {.name = "monthly", .kind = CONFIG_UINT, .offset = RETENTION(monthly), .max = 1000000},
    {.name = "yearly", .kind = CONFIG_UINT, .offset = RETENTION(yearly), .max = 1000000},
    {.name = "within", .kind = CONFIG_STRING, .offset = RETENTION(within), .check = check_duration},
    {.name = "keep_tags", .kind = CONFIG_STRINGS, .offset = RETENTION(tags)},
    {.name = "tags", .kind = CONFIG_STRINGS, .offset = RETENTION(tags)}, /* the name before keep_tags */
    {.name = "timezone", .kind = CONFIG_STRING, .offset = RETENTION(timezone), .check = check_timezone},
    {.name = NULL},
};

static const struct config_field health_fields[] = {
    {.name = "max_age", .kind = CONFIG_DURATION, .offset = HEALTH(max_age), .dflt = CONFIG_DEFAULT_MAX_AGE},
    {.name = "min_size", .kind = CONFIG_SIZE, .offset = HEALTH(min_size)},
    {.name = "shrink_alert", .kind = CONFIG_PERCENT, .offset = HEALTH(shrink_alert),
     .dflt = CONFIG_DEFAULT_SHRINK_ALERT},
    {.name = "min_free", .kind = CONFIG_PERCENT, .offset = HEALTH(min_free)},
    {.name = "max_stored", .kind = CONFIG_SIZE, .offset = HEALTH(max_stored)},
    {.name = NULL},
};

static const struct config_field objectives_fields[] = {
    {.name = "rpo", .kind = CONFIG_DURATION, .offset = OBJECTIVES(rpo)},
    {.name = "rto", .kind = CONFIG_DURATION, .offset = OBJECTIVES(rto)},
    {.name = NULL},
};

static const struct config_field check_fields[] = {
    {.name = "name", .kind = CONFIG_STRING, .offset = CHECK(name), .is_required = true},
    {.name = "sql", .kind = CONFIG_STRING, .offset = CHECK(sql), .is_required = true},
    {.name = "expect", .kind = CONFIG_STRING, .offset = CHECK(expect)},
    {.name = NULL},
};

static const struct config_field drill_fields[] = {
    {.name = "scratch_url", .kind = CONFIG_STRING, .offset = DRILL(scratch_url), .check = check_url_has_no_password},
    {.name = "keep_on_failure", .kind = CONFIG_BOOL, .offset = DRILL(keep_on_failure)},
    {.name = "checks", .kind = CONFIG_CHECKS, .offset = DRILL(checks)},
    {.name = NULL},
};

#define JOB(member) offsetof(struct config_job, member)
#define SCHEDULE(member) offsetof(struct config_schedule, member)

static const char *const overlap_choices[] = {"skip", "queue", NULL};

static const struct config_field job_check_fields[] = {
    {.name = "read_data", .kind = CONFIG_PERCENT, .offset = JOB(check.read_data) - JOB(check)},
    {.name = NULL},
};

static const struct config_field job_fields[] = {
    {.name = "cron", .kind = CONFIG_STRING, .offset = JOB(cron), .is_required = true},
    {.name = "backup", .kind = CONFIG_STRINGS, .offset = JOB(backup), .min = 1, .is_word_ok = true},
    {.name = "tag", .kind = CONFIG_STRING, .offset = JOB(tag)},
    {.name = "forget", .kind = CONFIG_BOOL, .offset = JOB(forget)},
    {.name = "prune", .kind = CONFIG_BOOL, .offset = JOB(prune)},
    {.name = "check", .kind = CONFIG_BLOCK, .offset = JOB(check), .block = job_check_fields},
    {.name = "drill", .kind = CONFIG_STRINGS, .offset = JOB(drill), .min = 1, .is_word_ok = true},
    {.name = "monitor", .kind = CONFIG_BOOL, .offset = JOB(monitor)},
    {.name = "overlap", .kind = CONFIG_CHOICE, .offset = JOB(overlap), .choices = overlap_choices},
    {.name = NULL},
};

static const struct config_field schedule_fields[] = {
    {.name = "timezone", .kind = CONFIG_STRING, .offset = SCHEDULE(timezone), .check = check_timezone},
    {.name = "jitter", .kind = CONFIG_DURATION, .offset = SCHEDULE(jitter)},
    {.name = "jobs", .kind = CONFIG_MAP, .offset = SCHEDULE(jobs), .block = job_fields,
     .item_size = sizeof(struct config_job), .is_required = true},
    {.name = NULL},
};

#define ALERT(member) offsetof(struct config_alert, member)
#define ALERTS(member) offsetof(struct config_alerts, member)

static const char *const alert_types[] = {"pagerduty", "slack", "healthchecks", "webhook", "command", NULL};
static const char *const pagerduty_severities[] = {"critical", "error", "warning", "info", NULL};

static const struct config_field alert_fields[] = {
    {.name = "type", .kind = CONFIG_CHOICE, .offset = ALERT(type), .choices = alert_types, .is_required = true},
    {.name = "url", .kind = CONFIG_STRING, .offset = ALERT(url), .check = check_url_has_no_password},
    {.name = "url_file", .kind = CONFIG_STRING, .offset = ALERT(url_file)},
    {.name = "routing_key_file", .kind = CONFIG_STRING, .offset = ALERT(routing_key_file)},
    {.name = "secret_file", .kind = CONFIG_STRING, .offset = ALERT(secret_file)},
    {.name = "command", .kind = CONFIG_STRINGS, .offset = ALERT(command), .min = 1},
    {.name = "severity", .kind = CONFIG_CHOICE, .offset = ALERT(severity), .choices = pagerduty_severities},
    {.name = NULL},
};

static const struct config_field alerts_fields[] = {
    {.name = "repeat", .kind = CONFIG_DURATION, .offset = ALERTS(repeat), .dflt = CONFIG_DEFAULT_ALERT_REPEAT},
    {.name = "settle", .kind = CONFIG_DURATION, .offset = ALERTS(settle), .dflt = CONFIG_DEFAULT_ALERT_SETTLE},
    {.name = "to", .kind = CONFIG_LIST, .offset = ALERTS(to), .block = alert_fields,
     .item_size = sizeof(struct config_alert), .is_required = true},
    {.name = NULL},
};

#define METRICS(member) offsetof(struct config_metrics, member)

static const struct config_field metrics_fields[] = {
    {.name = "listen", .kind = CONFIG_STRING, .offset = METRICS(listen)},
    {.name = "textfile", .kind = CONFIG_STRING, .offset = METRICS(textfile)},
    {.name = NULL},
};

#define S3(member) offsetof(struct config_s3, member)
const char *const config_true_false[] = {"true", "false", NULL};

static const struct config_field storage_class_fields[] = {
    {.name = "data", .kind = CONFIG_STRING, .offset = S3(storage_class.data) - S3(storage_class),
     .check = s3_check_storage_class},
    {.name = "metadata", .kind = CONFIG_STRING, .offset = S3(storage_class.metadata) - S3(storage_class),
     .check = s3_check_storage_class},
    {.name = NULL},
};

static const struct config_field s3_fields[] = {
    {.name = "endpoint", .kind = CONFIG_STRING, .offset = S3(endpoint)},
    {.name = "region", .kind = CONFIG_STRING, .offset = S3(region)},
    {.name = "path_style", .kind = CONFIG_CHOICE, .offset = S3(path_style), .choices = config_true_false},
    {.name = "credentials_file", .kind = CONFIG_STRING, .offset = S3(credentials_file)},
    {.name = "profile", .kind = CONFIG_STRING, .offset = S3(profile)},
    {.name = "ca_file", .kind = CONFIG_STRING, .offset = S3(ca_file)},
    {.name = "connections", .kind = CONFIG_UINT, .offset = S3(connections), .min = 1, .max = 64},
    {.name = "retry_time", .kind = CONFIG_DURATION, .offset = S3(retry_time)},
    {.name = "storage_class", .kind = CONFIG_BLOCK, .offset = S3(storage_class), .block = storage_class_fields},
    {.name = NULL},
};

static const struct config_field config_fields[] = {
    {.name = "repository", .kind = CONFIG_STRING, .offset = CONFIG(repository)},
    {.name = "password_file", .kind = CONFIG_STRING, .offset = CONFIG(password_file)},
    {.name = "git_revision_of", .kind = CONFIG_STRING, .offset = CONFIG(git_revision_of)},
    {.name = "lock_wait", .kind = CONFIG_DURATION, .offset = CONFIG(lock_wait)},
    {.name = "retention", .kind = CONFIG_BLOCK, .offset = CONFIG(retention), .block = retention_fields},
    {.name = "health", .kind = CONFIG_BLOCK, .offset = CONFIG(health), .block = health_fields},
    {.name = "objectives", .kind = CONFIG_BLOCK, .offset = CONFIG(objectives), .block = objectives_fields},
    {.name = "drill", .kind = CONFIG_TYPE_DRILLS},
    {.name = "s3", .kind = CONFIG_BLOCK, .offset = CONFIG(s3), .block = s3_fields},
    {.name = "sources", .kind = CONFIG_SOURCES},
    {.name = "schedule", .kind = CONFIG_BLOCK, .offset = CONFIG(schedule), .block = schedule_fields},
    {.name = "state_dir", .kind = CONFIG_STRING, .offset = CONFIG(state_dir)},
    {.name = "alerts", .kind = CONFIG_ALERTS, .offset = CONFIG(alerts)},
    {.name = "metrics", .kind = CONFIG_BLOCK, .offset = CONFIG(metrics), .block = metrics_fields},
    {.name = NULL},
};

/* Keys every source has, whatever its type. */
static const struct config_field source_common_fields[] = {
    {.name = "type", .kind = CONFIG_TYPE_NAME, .is_required = true},
    {.name = "tags", .kind = CONFIG_STRINGS, .offset = SOURCE(tags)},
    {.name = "retention", .kind = CONFIG_BLOCK, .offset = SOURCE(retention), .block = retention_fields},
    {.name = "health", .kind = CONFIG_BLOCK, .offset = SOURCE(health), .block = health_fields},
    {.name = "objectives", .kind = CONFIG_BLOCK, .offset = SOURCE(objectives), .block = objectives_fields},
    {.name = "drill", .kind = CONFIG_BLOCK, .offset = SOURCE(drill), .block = drill_fields},
    {.name = NULL},
};

/* ---- messages ---- */

/* Sets "<file>:<line>: <key>: <what>" (without "<key>: " when key is
 * empty); returns -1. */
__attribute__((format(printf, 4, 5)))
static int fail(struct load *ld, unsigned line, const char *key, const char *fmt, ...)
{
    char what[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (key && *key)
        return error_set(ld->err, "%s:%u: %s: %s", ld->file, line, key, what);
    return error_set(ld->err, "%s:%u: %s", ld->file, line, what);
}

/* "prefix.name", or "name" at the top level. */
static void key_join(char *out, const char *prefix, const char *name)
{
    if (*prefix)
        snprintf(out, KEY_MAX, "%s.%s", prefix, name);
    else
        snprintf(out, KEY_MAX, "%s", name);
}

/* The names of a list of tables, "a, b, c", for "known: ..." in messages. */
static void known_fields(const struct table_at *tables, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (; tables->fields; tables++)
        for (const struct config_field *f = tables->fields; f->name; f++)
            if (used < size)
                used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", f->name);
}

/* ---- nodes ---- */

static bool node_is_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

static bool node_is_sequence(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE;
}

static bool node_is_mapping(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}

/* How many items a list has, or pairs a mapping has. */
static size_t node_count(const yaml_node_t *n)
{
    if (node_is_sequence(n))
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (node_is_mapping(n))
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    return 0;
}

/* Item i of list n, pair i of mapping n (i < node_count(n)). */
static yaml_node_t *node_item(struct load *ld, const yaml_node_t *n, size_t i)
{
    return yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
}

static yaml_node_pair_t *node_pair(const yaml_node_t *n, size_t i)
{
    return &n->data.mapping.pairs.start[i];
}

static yaml_node_t *pair_key(struct load *ld, const yaml_node_pair_t *p)
{
    return yaml_document_get_node(ld->doc, p->key);
}

static yaml_node_t *pair_value(struct load *ld, const yaml_node_pair_t *p)
{
    return yaml_document_get_node(ld->doc, p->value);
}

/* YAML's spellings of "no value": nothing at all, ~, null. */
static bool node_is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (!node_is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    size_t len = n->data.scalar.length;
    const char *s = (const char *)n->data.scalar.value;
    if (len == 0 || !s)
        return true;
    return (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* The line a scalar starts on; fallback for anything without text of its
 * own (an empty value, a list, a mapping), whose key's line is meant. */
static unsigned node_line(const yaml_node_t *n, unsigned fallback)
{
    if (!node_is_scalar(n))
        return fallback;
    return (unsigned)n->start_mark.line + 1;
}

/* The line of the first text inside n, for nodes no key introduces (the
 * whole document). Looks a bounded depth down: an alias can make a list
 * its own first item. */
static unsigned node_first_line(struct load *ld, yaml_node_t *n, unsigned fallback)
{
    for (unsigned depth = 0; depth < 64 && n && !node_is_scalar(n); depth++) {
        if (node_count(n) == 0)
            return fallback;
        n = node_is_sequence(n) ? node_item(ld, n, 0) : pair_key(ld, node_pair(n, 0));
    }
    return node_line(n, fallback);
}

/* How a value looks, for "expected X, got Y": a scalar quoted (shortened
 * past SHOWN_MAX), anything else by its kind. */
static const char *node_describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (node_is_null(n))
        return "an empty value";
    if (node_is_mapping(n))
        return "a mapping";
    if (node_is_sequence(n))
        return "a list";
    size_t len = n->data.scalar.length;
    const char *s = (const char *)n->data.scalar.value;
    if (len + 2 >= size)
        snprintf(buf, size, "\"%.*s...\"", (int)(size - 6), s);
    else
        snprintf(buf, size, "\"%.*s\"", (int)len, s ? s : "");
    return buf;
}

/* The first pair of map whose key is name, or NULL. */
static yaml_node_pair_t *map_find(struct load *ld, const yaml_node_t *map, const char *name)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < node_count(map); i++) {
        yaml_node_pair_t *p = node_pair(map, i);
        yaml_node_t *k = pair_key(ld, p);
        if (!node_is_scalar(k))
            continue;
        if (k->data.scalar.length == name_len && memcmp(k->data.scalar.value, name, name_len) == 0)
            return p;
    }
    return NULL;
}

/* The key of pair p of map as text. Refuses keys that are not plain text
 * and keys that map has already had; what says which ("key", "source name"). */
static int map_key(struct load *ld, const yaml_node_t *map, yaml_node_pair_t *p, const char *key,
                   unsigned line, const char *what, const char **name, unsigned *name_line)
{
    char shown[SHOWN_MAX];
    yaml_node_t *k = pair_key(ld, p);
    *name_line = node_line(k, line);
    if (!node_is_scalar(k))
        return fail(ld, *name_line, key, "a %s must be plain text, not %s", what,
                    node_describe(k, shown, sizeof shown));
    *name = (const char *)k->data.scalar.value;
    if (strlen(*name) != k->data.scalar.length)
        return fail(ld, *name_line, key, "a %s contains a NUL byte", what);
    yaml_node_pair_t *first = map_find(ld, map, *name);
    if (first && first != p)
        return fail(ld, *name_line, key, "duplicate %s \"%s\" (first on line %u)", what, *name,
                    node_line(pair_key(ld, first), line));
    return 0;
}

/* The text of a scalar value. Refuses empty values, lists, mappings, tags
 * other than YAML's own, and NUL bytes; expected says what was wanted. */
static int scalar_text(struct load *ld, const yaml_node_t *n, const char *key, unsigned line,
                       const char *expected, const char **text, size_t *len)
{
    char shown[SHOWN_MAX];
    line = node_line(n, line);
    if (node_is_null(n) || !node_is_scalar(n))
        return fail(ld, line, key, "expected %s, got %s", expected, node_describe(n, shown, sizeof shown));
    const char *tag = (const char *)n->tag;
    if (tag && *tag && strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) != 0)
        return fail(ld, line, key, "the tag %s is not supported: values are read literally, without expansion",
                    tag);
    *len = n->data.scalar.length;
    *text = (const char *)n->data.scalar.value;
    if (memchr(*text, '\0', *len))
        return fail(ld, line, key, "the value contains a NUL byte");
    return 0;
}

/* A non-empty string value, checked by check (may be NULL), in new memory. */
static int string_value(struct load *ld, yaml_node_t *n, const char *key, unsigned line,
                        const char *(*check)(const char *), char **out)
{
    const char *s = NULL;
    size_t len = 0;
    if (scalar_text(ld, n, key, line, "a string", &s, &len))
        return -1;
    if (len == 0)
        return fail(ld, node_line(n, line), key, "expected a non-empty string, got \"\"");
    char *v = xmalloc(len + 1);
    memcpy(v, s, len);
    v[len] = '\0';
    const char *why = check ? check(v) : NULL;
    if (why) {
        free(v);
        return fail(ld, node_line(n, line), key, "%s", why);
    }
    *out = v;
    return 0;
}

static void strings_free(struct config_strings *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* ---- readers, one per kind of value ---- */

static int read_string(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                       unsigned line, void *base)
{
    char **slot = (char **)((char *)base + f->offset);
    char *v = NULL;
    if (string_value(ld, value, key, line, f->check, &v))
        return -1;
    free(*slot);
    *slot = v;
    return 0;
}

/* YAML 1.2's spellings only: "yes", "on" and friends are refused rather
 * than guessed at. */
static int read_bool(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                     unsigned line, void *base)
{
    static const char *const words_true[] = {"true", "True", "TRUE"};
    static const char *const words_false[] = {"false", "False", "FALSE"};
    bool *slot = (bool *)((char *)base + f->offset);
    char shown[SHOWN_MAX];
    const char *s;
    size_t len;
    if (scalar_text(ld, value, key, line, "true or false", &s, &len))
        return -1;
    for (size_t i = 0; i < 3; i++) {
        if (len == strlen(words_true[i]) && !memcmp(s, words_true[i], len)) {
            *slot = true;
            return 0;
        }
        if (len == strlen(words_false[i]) && !memcmp(s, words_false[i], len)) {
            *slot = false;
            return 0;
        }
    }
    return fail(ld, node_line(value, line), key, "expected true or false, got %s",
                node_describe(value, shown, sizeof shown));
}

/* Decimal digits only, within [f->min, f->max]. */
static int read_uint(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                     unsigned line, void *base)
{
    unsigned *slot = (unsigned *)((char *)base + f->offset);
    char shown[SHOWN_MAX];
    const char *s;
    size_t len;
    if (scalar_text(ld, value, key, line, "a whole number", &s, &len))
        return -1;
    unsigned long v = 0;
    bool is_number = len > 0 && len <= 9;
    for (size_t i = 0; is_number && i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            is_number = false;
        else
            v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (!is_number || v < f->min || v > f->max)
        return fail(ld, node_line(value, line), key, "expected a whole number from %u to %u, got %s",
                    f->min, f->max, node_describe(value, shown, sizeof shown));
    *slot = (unsigned)v;
    return 0;
}

/* One of f->choices, stored as a string. */
static int read_choice(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                       unsigned line, void *base)
{
    char **slot = (char **)((char *)base + f->offset);
    char expected[256] = "", shown[SHOWN_MAX];
    size_t n = 0, used = 0;
    while (f->choices[n])
        n++;
    for (size_t i = 0; i < n && used < sizeof expected; i++)
        used += (size_t)snprintf(expected + used, sizeof expected - used, "%s\"%s\"",
                                 i == 0 ? (n > 2 ? "one of " : "") : (i + 1 == n ? " or " : ", "),
                                 f->choices[i]);
    const char *s;
    size_t len;
    if (scalar_text(ld, value, key, line, expected, &s, &len))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (len == strlen(f->choices[i]) && !memcmp(s, f->choices[i], len)) {
            free(*slot);
            *slot = xstrdup(f->choices[i]);
            return 0;
        }
    }
    return fail(ld, node_line(value, line), key, "expected %s, got %s", expected,
                node_describe(value, shown, sizeof shown));
}

/* A list of non-empty strings, at least f->min of them; "[a, b]" or one "- item" a line. */
static int read_strings(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                        unsigned line, void *base)
{
    struct config_strings *slot = (struct config_strings *)((char *)base + f->offset);
    char shown[SHOWN_MAX];
    if (f->is_word_ok && node_is_scalar(value) && !node_is_null(value)) {
        strings_free(slot);
        slot->items = xcalloc(1, sizeof *slot->items);
        if (string_value(ld, value, key, line, f->check, &slot->items[0]))
            return -1;
        slot->count = 1;
        return 0;
    }
    if (node_is_null(value) || !node_is_sequence(value))
        return fail(ld, node_line(value, line), key, "expected a list of strings, got %s",
                    node_describe(value, shown, sizeof shown));
    size_t count = node_count(value);
    if (count < f->min)
        return fail(ld, line, key, "expected a list of at least %u string%s, got an empty list", f->min,
                    f->min == 1 ? "" : "s");
    strings_free(slot);
    slot->items = xcalloc(count, sizeof *slot->items);
    while (slot->count < count) {
        yaml_node_t *item = node_item(ld, value, slot->count);
        char item_key[KEY_MAX];
        snprintf(item_key, sizeof item_key, "%s[%zu]", key, slot->count);
        if (string_value(ld, item, item_key, line, f->check, &slot->items[slot->count]))
            return -1;
        slot->count++;
    }
    return 0;
}

static bool is_secret_key(const char *name)
{
    return !strcmp(name, "password") || !strcmp(name, "passphrase");
}

/*
 * Reads mapping map against tables (for a source: the common keys into the
 * source, then its type's into its settings), a list ending with a NULL
 * table. key and line name the mapping itself, for "missing required key"
 * messages.
 */
static int read_fields(struct load *ld, yaml_node_t *map, const struct table_at *tables, const char *key,
                       unsigned line)
{
    for (const struct table_at *t = tables; t->fields; t++)
        for (const struct config_field *f = t->fields; f->name; f++)
            if (f->dflt)
                *(unsigned *)((char *)t->base + f->offset) = f->dflt;

    for (size_t i = 0; i < node_count(map); i++) {
        yaml_node_pair_t *p = node_pair(map, i);
        const char *name;
        unsigned name_line;
        if (map_key(ld, map, p, key, line, "key", &name, &name_line))
            return -1;
        if (is_secret_key(name))
            return fail(ld, name_line, key,
                        "\"%s\" is not allowed: the config file holds no secrets; put the %s in a file "
                        "only coffer can read and give that file's path as password_file",
                        name, name);
        bool is_path = strlen(name) > 5 && !strcmp(name + strlen(name) - 5, "_file"); /* secret_file: a path */
        if (!is_path && (strstr(name, "secret") || strstr(name, "access_key") || strstr(name, "session_token")))
            return fail(ld, name_line, key,
                        "\"%s\" is not allowed: the config file holds no secrets; give S3 keys in "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or in an AWS credentials file named by "
                        "s3: credentials_file", name);
        if (!strcmp(name, "<<"))
            return fail(ld, name_line, key, "merge keys (<<) are not supported; write the keys out");
        const struct config_field *f = NULL;
        const struct table_at *t = tables;
        for (; t->fields && !(f = config_field_find(t->fields, name)); t++)
            ;
        if (!f) {
            char known[512];
            known_fields(tables, known, sizeof known);
            return fail(ld, name_line, key, "unknown key \"%s\" (known: %s)", name, known);
        }
        char sub[KEY_MAX];
        key_join(sub, key, name);
        if (readers[f->kind](ld, f, pair_value(ld, p), sub, name_line, t->base))
            return -1;
    }

    for (const struct table_at *t = tables; t->fields; t++)
        for (const struct config_field *f = t->fields; f->name; f++)
            if (f->is_required && !map_find(ld, map, f->name))
                return fail(ld, line, key, "missing required key \"%s\"", f->name);
    return 0;
}

/* ---- nested mappings and their values ---- */

/* A mapping of fields' keys into the struct at target. */
static int read_mapping(struct load *ld, const struct config_field *fields, yaml_node_t *value, const char *key,
                        unsigned line, void *target)
{
    char shown[SHOWN_MAX], known[512];
    const struct table_at tables[] = {{fields, target}, {NULL, NULL}};
    if (node_is_null(value) || !node_is_mapping(value)) {
        known_fields(tables, known, sizeof known);
        return fail(ld, node_line(value, line), key, "expected a mapping with keys %s, got %s", known,
                    node_describe(value, shown, sizeof shown));
    }
    return read_fields(ld, value, tables, key, line);
}

/* A mapping whose keys f->block lists, into the struct at base + offset
 * (retention, health, objectives, drill); marks it is_set. */
static int read_block(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                      unsigned line, void *base)
{
    void *block = (char *)base + f->offset;
    if (read_mapping(ld, f->block, value, key, line, block) < 0)
        return -1;
    *(bool *)block = true;
    return 0;
}

/* Room for count items of f->item_size bytes at the struct config_items
 * at base + f->offset. */
static struct config_items *items_make(const struct config_field *f, void *base, size_t count)
{
    struct config_items *items = (struct config_items *)((char *)base + f->offset);
    items->items = xcalloc(count ? count : 1, f->item_size);
    items->count = 0;
    return items;
}

static struct config_item *item_at(const struct config_field *f, const struct config_items *items, size_t i)
{
    return (struct config_item *)((char *)items->items + i * f->item_size);
}

/* A mapping of names (as source names are made) to mappings of
 * f->block's keys (schedule: jobs:). */
static int read_map(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                    unsigned line, void *base)
{
    char shown[SHOWN_MAX];
    if (node_is_null(value) || !node_is_mapping(value))
        return fail(ld, node_line(value, line), key, "expected a mapping of names to their settings, got %s",
                    node_describe(value, shown, sizeof shown));
    struct config_items *items = items_make(f, base, node_count(value));
    while (items->count < node_count(value)) {
        yaml_node_pair_t *p = node_pair(value, items->count);
        const char *name;
        unsigned name_line;
        if (map_key(ld, value, p, key, line, "name", &name, &name_line))
            return -1;
        if (!is_source_name(name))
            return fail(ld, name_line, key, "name \"%s\" is not allowed: use letters, digits, '_', '.' and '-', "
                        "not starting with '.' or '-'", name);
        struct config_item *item = item_at(f, items, items->count++);
        item->name = xstrdup(name);
        item->line = name_line;
        char sub[KEY_MAX];
        key_join(sub, key, name);
        if (read_mapping(ld, f->block, pair_value(ld, p), sub, name_line, item) < 0)
            return -1;
    }
    return 0;
}

/* A list of mappings of f->block's keys. */
static int read_list(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                     unsigned line, void *base)
{
    char shown[SHOWN_MAX];
    if (node_is_null(value) || !node_is_sequence(value))
        return fail(ld, node_line(value, line), key, "expected a list of mappings, got %s",
                    node_describe(value, shown, sizeof shown));
    struct config_items *items = items_make(f, base, node_count(value));
    while (items->count < node_count(value)) {
        yaml_node_t *node = node_item(ld, value, items->count);
        char sub[KEY_MAX];
        snprintf(sub, sizeof sub, "%s[%zu]", key, items->count);
        struct config_item *item = item_at(f, items, items->count++);
        item->line = node_line(node, line);
        if (read_mapping(ld, f->block, node, sub, item->line, item) < 0)
            return -1;
    }
    return 0;
}

/* alerts: a list of receivers (repeat and settle at their defaults), or
 * {repeat, settle, to: [...]}. */
static int read_alerts(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                       unsigned line, void *base)
{
    struct config_alerts *alerts = (struct config_alerts *)((char *)base + f->offset);
    if (node_is_null(value) || !node_is_sequence(value)) {
        const struct config_field row = {.name = key, .kind = CONFIG_BLOCK, .offset = f->offset,
                                         .block = alerts_fields};
        return read_block(ld, &row, value, key, line, base);
    }
    alerts->repeat = CONFIG_DEFAULT_ALERT_REPEAT;
    alerts->settle = CONFIG_DEFAULT_ALERT_SETTLE;
    alerts->is_set = true;
    return read_list(ld, &alerts_fields[2], value, key, line, alerts);
}

/* A string that parse turns into a number; fails with "not <what>". */
static int read_number(struct load *ld, yaml_node_t *value, const char *key, unsigned line,
                       int (*parse)(const char *text, uint64_t *out), const char *what, uint64_t *out)
{
    char *text = NULL;
    if (string_value(ld, value, key, line, NULL, &text))
        return -1;
    int rc = parse(text, out);
    free(text);
    return rc < 0 ? fail(ld, line, key, "not %s", what) : 0;
}

/* "25h", "15m", "1h30m" into unsigned seconds. */
static int read_duration(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                         unsigned line, void *base)
{
    static const char what[] = "a duration (use e.g. 90s, 15m, 1h30m, 25h, 2d; m is minutes)";
    uint64_t seconds;
    if (read_number(ld, value, key, line, duration_parse, what, &seconds) < 0)
        return -1;
    if (seconds > UINT32_MAX)
        return fail(ld, line, key, "not %s", what);
    *(unsigned *)((char *)base + f->offset) = (unsigned)seconds;
    return 0;
}

/* "64M", "1GiB", "1000" into uint64_t bytes. */
static int read_size(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                     unsigned line, void *base)
{
    return read_number(ld, value, key, line, size_parse, "a size (use e.g. 1000, 64K, 10M, 2G; K, M and G are 1024-based)",
                       (uint64_t *)((char *)base + f->offset));
}

/* "50%" or 50 into unsigned 0..100. */
static int read_percent(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                        unsigned line, void *base)
{
    char *text = NULL, *end;
    if (string_value(ld, value, key, line, NULL, &text))
        return -1;
    unsigned long v = strtoul(text, &end, 10);
    bool is_ok = end != text && text[0] != '-' && (!strcmp(end, "%") || !*end) && v <= 100;
    free(text);
    if (!is_ok)
        return fail(ld, line, key, "not a percentage (use 0%% to 100%%)");
    *(unsigned *)((char *)base + f->offset) = (unsigned)v;
    return 0;
}

/* A list of {name, sql, expect} mappings, into the drill that f->offset's
 * checks member belongs to. */
static int read_checks(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                       unsigned line, void *base)
{
    struct config_drill *drill = (struct config_drill *)((char *)base + f->offset - DRILL(checks));
    char shown[SHOWN_MAX];
    if (node_is_null(value) || !node_is_sequence(value))
        return fail(ld, node_line(value, line), key, "expected a list of checks (each with name and sql), got %s",
                    node_describe(value, shown, sizeof shown));
    size_t count = node_count(value);
    drill->checks = xcalloc(count ? count : 1, sizeof *drill->checks);
    while (drill->check_count < count) {
        yaml_node_t *item = node_item(ld, value, drill->check_count);
        char item_key[KEY_MAX];
        snprintf(item_key, sizeof item_key, "%s[%zu]", key, drill->check_count);
        unsigned item_line = node_line(item, line);
        struct config_check *check = &drill->checks[drill->check_count++];
        if (node_is_null(item) || !node_is_mapping(item))
            return fail(ld, item_line, item_key, "expected a mapping with name and sql, got %s",
                        node_describe(item, shown, sizeof shown));
        const struct table_at tables[] = {{check_fields, check}, {NULL, NULL}};
        if (read_fields(ld, item, tables, item_key, item_line) < 0)
            return -1;
    }
    return 0;
}

static const char *check_duration(const char *text)
{
    int64_t seconds;
    struct error err;
    return retention_parse_duration(text, &seconds, &err) < 0 ? "not a duration (use e.g. 90d, 2y6m, 36h)" : NULL;
}

static const char *check_timezone(const char *zone)
{
    struct error err;
    return tz_check(zone, &err) < 0 ? "unknown time zone (use a name such as Europe/Berlin, as in "
                                      "/usr/share/zoneinfo, or UTC)" : NULL;
}

static void retention_free(struct config_retention *r)
{
    free(r->within);
    strings_free(&r->tags);
    free(r->timezone);
}

static void drill_free(struct config_drill *d)
{
    free(d->scratch_url);
    for (size_t i = 0; i < d->check_count; i++) {
        free(d->checks[i].name);
        free(d->checks[i].sql);
        free(d->checks[i].expect);
    }
    free(d->checks);
}

/* ---- sources ---- */

/* Letters, digits, '_', '.', '-'; not starting with '.' or '-', so that a
 * name is never "..", a hidden file or an option when used on a command line. */
static bool is_source_name(const char *s)
{
    if (!*s || *s == '.' || *s == '-')
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* read_source has read the type already, to choose the table. */
static int read_type_name(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                          unsigned line, void *base)
{
    (void)ld, (void)f, (void)value, (void)key, (void)line, (void)base;
    return 0;
}

/* One source: its type first (which decides the keys it may have), then
 * every key against the common table and its type's. */
static int read_source(struct load *ld, struct config_source *src, yaml_node_t *value, const char *key,
                       unsigned line)
{
    char shown[SHOWN_MAX], types[256];
    if (node_is_null(value) || !node_is_mapping(value))
        return fail(ld, node_line(value, line), key, "expected a mapping with the source's type and settings, got %s",
                    node_describe(value, shown, sizeof shown));
    source_type_names(types, sizeof types);
    yaml_node_pair_t *type_pair = map_find(ld, value, "type");
    yaml_node_pair_t *merge_pair = map_find(ld, value, "<<");
    if (!type_pair && merge_pair)   /* the type may hide in the merged mapping: say why it is not seen */
        return fail(ld, node_line(pair_key(ld, merge_pair), line), key,
                    "merge keys (<<) are not supported; write the keys out");
    if (!type_pair)
        return fail(ld, line, key, "missing required key \"type\" (one of: %s)", types);

    char type_key[KEY_MAX];
    key_join(type_key, key, "type");
    unsigned type_line = node_line(pair_key(ld, type_pair), line);
    yaml_node_t *type_node = pair_value(ld, type_pair);
    char *type = NULL;
    if (string_value(ld, type_node, type_key, type_line, NULL, &type))
        return -1;
    const struct source_type *kind = source_type_find(type);
    if (!kind || !kind->fields) {
        fail(ld, node_line(type_node, type_line), key, "unknown source type \"%s\" (known: %s)", type, types);
        free(type);
        return -1;
    }
    free(type);

    char *name = src->name;
    unsigned name_line = src->line;
    config_source_init(src, kind, name);
    free(name);
    src->line = name_line;
    const struct table_at tables[] = {{source_common_fields, src}, {kind->fields, src->settings}, {NULL, NULL}};
    return read_fields(ld, value, tables, key, line);
}

static int read_sources(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                        unsigned line, void *base)
{
    struct config *cfg = base;
    char shown[SHOWN_MAX];
    if (node_is_null(value) || !node_is_mapping(value))
        return fail(ld, node_line(value, line), key, "expected a mapping of source names to their settings, got %s",
                    node_describe(value, shown, sizeof shown));
    size_t count = node_count(value);
    cfg->sources = xcalloc(count, sizeof *cfg->sources);
    while (cfg->source_count < count) {
        yaml_node_pair_t *p = node_pair(value, cfg->source_count);
        const char *name;
        unsigned name_line;
        if (map_key(ld, value, p, key, line, "source name", &name, &name_line))
            return -1;
        if (!is_source_name(name))
            return fail(ld, name_line, key,
                        "source name \"%s\" is not allowed: use letters, digits, '_', '.' and '-', "
                        "not starting with '.' or '-'",
                        name);
        struct config_source *src = &cfg->sources[cfg->source_count++];
        src->name = xstrdup(name);
        src->line = name_line;
        char sub[KEY_MAX];
        key_join(sub, key, name);
        if (read_source(ld, src, pair_value(ld, p), sub, name_line))
            return -1;
    }
    return 0;
}

/* drill: {<type>: {scratch_url: ..., checks: ...}}: the drill settings of
 * every source of that type without its own. */
static int read_type_drills(struct load *ld, const struct config_field *f, yaml_node_t *value, const char *key,
                            unsigned line, void *base)
{
    (void)f;
    struct config *cfg = base;
    char shown[SHOWN_MAX], types[256];
    source_type_names(types, sizeof types);
    if (node_is_null(value) || !node_is_mapping(value))
        return fail(ld, node_line(value, line), key, "expected a mapping of source types (%s) to drill settings, got %s",
                    types, node_describe(value, shown, sizeof shown));
    size_t count = node_count(value);
    cfg->type_drills = xcalloc(count ? count : 1, sizeof *cfg->type_drills);
    for (size_t i = 0; i < count; i++) {
        yaml_node_pair_t *p = node_pair(value, i);
        const char *name;
        unsigned name_line;
        if (map_key(ld, value, p, key, line, "source type", &name, &name_line))
            return -1;
        const struct source_type *kind = source_type_find(name);
        if (!kind || !kind->fields)
            return fail(ld, name_line, key, "unknown source type \"%s\" (known: %s)", name, types);
        struct config_type_drill *td = &cfg->type_drills[cfg->type_drill_count++];
        td->kind = kind;
        char sub[KEY_MAX];
        key_join(sub, key, name);
        const struct config_field block = {.name = name, .kind = CONFIG_BLOCK, .block = drill_fields};
        if (read_block(ld, &block, pair_value(ld, p), sub, name_line, &td->drill) < 0)
            return -1;
    }
    return 0;
}

/* libpq takes a password inside the URL (user:secret@host) or as a
 * password= or sslpassword= parameter (in the URL's query or a key=value
 * string, its name possibly %-encoded); any would put a secret in the
 * config file, and sslpassword would reach pg_dump's command line. */
static const char *check_url_has_no_password(const char *url)
{
    const char *authority = strstr(url, "://");
    if (authority) {
        authority += 3;
        size_t len = strcspn(authority, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < len; i++)
            if (authority[i] == '@')
                at = authority + i;
        if (at && memchr(authority, ':', (size_t)(at - authority)))
            return "the URL contains a password (user:password@); the config file holds no secrets: "
                   "put the password in a file only coffer can read and give its path as password_file";
    }
    for (const char *p = url; (p = strstr(p, "password")) != NULL; p += strlen("password")) {
        const char *q = p + strlen("password");
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '=' && (p == url || strchr("?& \t", p[-1])))
            return "the URL contains a password (password=); the config file holds no secrets: "
                   "put the password in a file only coffer can read and give its path as password_file";
    }
    /* libpq's own reading catches the rest: sslpassword, %-encoded names. */
    PQconninfoOption *options = strncmp(url, "redis", 5) ? PQconninfoParse(url, NULL) : NULL;
    const char *why = NULL;
    for (PQconninfoOption *o = options; o && o->keyword && !why; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "sslpassword"))
            why = "the URL contains sslpassword= (the client key's passphrase), which would be on pg_dump's "
                  "command line: decrypt the key (openssl pkey -in KEY -out KEY.plain), keep it mode 0600 "
                  "and name it with sslkey=";
        else if (!strcmp(o->keyword, "password"))
            why = "the URL contains a password; the config file holds no secrets: "
                  "put the password in a file only coffer can read and give its path as password_file";
    }
    PQconninfoFree(options);
    return why;
}

const char *config_url_secret_problem(const char *url)
{
    return check_url_has_no_password(url);
}

/* ---- the file ---- */

/* Reads at most CONFIG_SIZE_MAX + 1 bytes: enough for config_load_buffer
 * to see that the file is too large without reading all of it. */
static int read_file(const char *path, struct buf *out, struct error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_errno(err, errno, "cannot read config file %s", path);
    while (out->len <= CONFIG_SIZE_MAX) {
        buf_reserve(out, 64 << 10);
        size_t room = out->cap - out->len;
        if (room > CONFIG_SIZE_MAX + 1 - out->len)
            room = CONFIG_SIZE_MAX + 1 - out->len;
        ssize_t n = read(fd, out->data + out->len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            return error_errno(err, saved, "cannot read config file %s", path);
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
    }
    close(fd);
    return 0;
}

/* The line (from 1) that byte offset at of text lies on. */
static unsigned line_at(const uint8_t *text, size_t at)
{
    unsigned line = 1;
    for (size_t i = 0; i < at; i++)
        line += text[i] == '\n';
    return line;
}

/* The length of the UTF-8 sequence at p (left bytes available) and its
 * code point, or 0 when it is not valid UTF-8 (a stray continuation byte,
 * a truncated or overlong sequence, a surrogate, past U+10FFFF). */
static size_t utf8_decode(const uint8_t *p, size_t left, uint32_t *cp)
{
    uint8_t b = p[0];
    size_t len;
    uint32_t min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        len = 2, min = 0x80, *cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3, min = 0x800, *cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4, min = 0x10000, *cp = b & 0x07;
    } else {
        return 0;
    }
    if (left < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/* The characters YAML allows in a file (its c-printable set): tab, line
 * breaks, and printable text; no other control characters, no U+FFFE/FFFF. */
static bool is_yaml_printable(uint32_t cp)
{
    return cp == '\t' || cp == '\n' || cp == '\r' || (cp >= 0x20 && cp <= 0x7e) || cp == 0x85 ||
           (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/*
 * What the YAML parser is given must be a plausible coffer.yaml: at most
 * CONFIG_SIZE_MAX bytes of UTF-8 text in YAML's character set, without
 * directives (%YAML, %TAG), which coffer.yaml never needs. A damaged or
 * wrong file is refused here, naming the line, before any parser sees it
 * (issue #12, D12: two bytes, "%" and 0x8a, hung libfyaml's directive
 * scanner forever).
 */
static int text_check(struct load *ld, const uint8_t *text, size_t len)
{
    if (len > CONFIG_SIZE_MAX)
        return fail(ld, line_at(text, CONFIG_SIZE_MAX), NULL,
                    "the file is larger than %u KiB, the limit for a config file; is it the right file?",
                    CONFIG_SIZE_MAX >> 10);
    size_t line_start = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_decode(text + i, len - i, &cp);
        if (n == 0)
            return fail(ld, line_at(text, i), NULL,
                        "the file is not UTF-8 text (byte 0x%02x at column %zu); save it as UTF-8",
                        text[i], i - line_start + 1);
        if (!is_yaml_printable(cp))
            return fail(ld, line_at(text, i), NULL,
                        "the file contains the control character U+%04X (column %zu), which YAML does not allow",
                        (unsigned)cp, i - line_start + 1);
        if (cp == '%' && i == line_start)
            return fail(ld, line_at(text, i), NULL,
                        "YAML directives (%%YAML, %%TAG) are not supported in a config file; remove the line");
        i += n;
        if (cp == '\n' || (cp == '\r' && (i == len || text[i] != '\n')))
            line_start = i;
    }
    return 0;
}

/* Sets the parser's error as "<file>:<line>: invalid YAML: ..." and
 * returns -1. */
static int yaml_error(struct load *ld, const yaml_parser_t *parser, const uint8_t *text, size_t len)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return error_set(ld->err, "cannot read config file %s: out of memory", ld->file);
    /* The reader knows only a byte offset; the others know a line. */
    unsigned line = parser->error == YAML_READER_ERROR
                        ? line_at(text, parser->problem_offset < len ? parser->problem_offset : len)
                        : (unsigned)parser->problem_mark.line + 1;
    const char *problem = parser->problem ? parser->problem : "syntax error";
    size_t at = parser->problem_mark.index;
    if (parser->error == YAML_COMPOSER_ERROR && !strcmp(problem, "found undefined alias") && at < len &&
        text[at] == '*') {
        const char *name = (const char *)text + at + 1;   /* text need not end in NUL: no strcspn */
        size_t n = 0;
        while (n < SHOWN_MAX && at + 1 + n < len && !strchr(" \t\r\n,[]{}", name[n]))
            n++;
        return fail(ld, line, NULL, "alias *%.*s names no anchor (&%.*s) before it", (int)n, name, (int)n, name);
    }
    if (parser->context)
        return fail(ld, line, NULL, "invalid YAML: %s (%s on line %u)", problem, parser->context,
                    (unsigned)parser->context_mark.line + 1);
    return fail(ld, line, NULL, "invalid YAML: %s", problem);
}

bool config_is_all(const struct config_strings *list)
{
    return list->count == 1 && !strcmp(list->items[0], "all");
}

/* The sources a job names: "all" alone, or sources of the file. */
static int check_job_sources(struct load *ld, const struct config *cfg, const struct config_job *job,
                             const char *action, const struct config_strings *names)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, "schedule.jobs.%s.%s", job->head.name, action);
    if (config_is_all(names))
        return cfg->source_count ? 0 : fail(ld, job->head.line, key, "\"all\", but the file names no sources");
    for (size_t i = 0; i < names->count; i++) {
        if (config_find_source(cfg, names->items[i]))
            continue;
        char known[256] = "";
        for (size_t k = 0; k < cfg->source_count; k++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", k ? ", " : "", cfg->sources[k].name);
        return fail(ld, job->head.line, key, "no source \"%s\" in the file (sources: %s; or \"all\")",
                    names->items[i], cfg->source_count ? known : "none");
    }
    return 0;
}

/* What the schedule's keys cannot say alone: cron lines that read and come
 * round, a known zone, jobs that do something with sources that exist. */
static int check_schedule(struct load *ld, const struct config *cfg)
{
    const struct config_schedule *sc = &cfg->schedule;
    struct error why;
    if (!sc->is_set)
        return 0;
    for (size_t i = 0; i < sc->jobs.count; i++) {
        const struct config_job *job = &((const struct config_job *)sc->jobs.items)[i];
        char key[KEY_MAX];
        struct cron cron;
        int64_t next;
        snprintf(key, sizeof key, "schedule.jobs.%s", job->head.name);
        if (cron_parse(job->cron, &cron, &why) < 0 || cron_next(&cron, sc->timezone, (int64_t)time(NULL), &next,
                                                                &why) < 0)
            return fail(ld, job->head.line, key, "%s", why.msg);
        if (!job->backup.count && !job->forget && !job->prune && !job->check.is_set && !job->drill.count &&
            !job->monitor)
            return fail(ld, job->head.line, key, "the job does nothing: give it backup, forget, prune, check, drill "
                        "or monitor");
        if (job->tag && !job->backup.count)
            return fail(ld, job->head.line, key, "tag: only a job that backs up tags snapshots");
        if ((job->backup.count && check_job_sources(ld, cfg, job, "backup", &job->backup) < 0) ||
            (job->drill.count && check_job_sources(ld, cfg, job, "drill", &job->drill) < 0))
            return -1;
    }
    return 0;
}

/* Each receiver has what its type needs, and no secret in the file. */
static int check_alerts(struct load *ld, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->alerts.to.count; i++) {
        const struct config_alert *a = &((const struct config_alert *)cfg->alerts.to.items)[i];
        char key[KEY_MAX];
        snprintf(key, sizeof key, "alerts[%zu]", i);
        const char *t = a->type, *missing = NULL, *refused = NULL;
        if (!strcmp(t, "pagerduty") && !a->routing_key_file)
            missing = "routing_key_file (a file holding the integration's routing key)";
        else if (!strcmp(t, "slack") && a->url)
            refused = "url: a Slack webhook URL holds its token; put it in a file only coffer reads and give url_file";
        else if (!strcmp(t, "slack") && !a->url_file)
            missing = "url_file (a file holding the incoming webhook's URL)";
        else if ((!strcmp(t, "healthchecks") || !strcmp(t, "webhook")) && !a->url && !a->url_file)
            missing = "url (or url_file)";
        else if (!strcmp(t, "command") && !a->command.count)
            missing = "command (the program and its arguments, as a list)";
        if (!missing && a->command.count && strcmp(t, "command"))
            refused = "command: only a receiver of type command runs one";
        if (!missing && !refused && a->severity && strcmp(t, "pagerduty"))
            refused = "severity: only pagerduty takes it";
        if (missing)
            return fail(ld, a->head.line, key, "a %s receiver needs %s", t, missing);
        if (refused)
            return fail(ld, a->head.line, key, "%s", refused);
    }
    return 0;
}

static int read_root(struct load *ld, yaml_node_t *root, struct config *cfg)
{
    char shown[SHOWN_MAX];
    if (node_is_null(root))
        return fail(ld, 1, NULL, "the file has no settings (it is empty or only comments)");
    if (!node_is_mapping(root))
        return fail(ld, node_first_line(ld, root, 1), NULL,
                    "expected a mapping of settings (repository: ..., sources: ...) at the top level, got %s",
                    node_describe(root, shown, sizeof shown));
    const struct table_at tables[] = {{config_fields, cfg}, {NULL, NULL}};
    if (read_fields(ld, root, tables, "", 1) < 0)
        return -1;
    return check_schedule(ld, cfg) < 0 ? -1 : check_alerts(ld, cfg);
}

/* Parses the len bytes at text (UTF-8, checked) as one YAML document and
 * reads it into cfg. Documents after the first would be ignored, so they
 * are refused; an empty trailing "---" is harmless. */
static int parse_text(struct load *ld, const uint8_t *text, size_t len, struct config *cfg)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return error_set(ld->err, "cannot read config file %s: cannot start the YAML parser", ld->file);
    yaml_parser_set_input_string(&parser, len ? text : (const uint8_t *)"", len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    int rc = -1;
    yaml_document_t doc, next;
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_error(ld, &parser, text, len);
        yaml_parser_delete(&parser);
        return -1;
    }
    for (;;) {
        if (!yaml_parser_load(&parser, &next)) {
            yaml_error(ld, &parser, text, len);
            goto out;
        }
        ld->doc = &next;
        yaml_node_t *root = yaml_document_get_root_node(&next);
        bool is_end = root == NULL;   /* the end of the stream is an empty document */
        bool is_empty = node_is_null(root);
        unsigned line = node_first_line(ld, root, 1);
        yaml_document_delete(&next);
        ld->doc = NULL;
        if (is_end)
            break;
        if (!is_empty) {
            fail(ld, line, NULL, "the file holds more than one YAML document (---); coffer reads one");
            goto out;
        }
    }
    ld->doc = &doc;
    rc = read_root(ld, yaml_document_get_root_node(&doc), cfg);
    ld->doc = NULL;
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int config_load_buffer(const char *name, const void *data, size_t len, struct config *out, struct error *err)
{
    memset(out, 0, sizeof *out);
    struct load ld = {name, err, NULL};
    if (text_check(&ld, data, len))
        return -1;
    out->path = xstrdup(name);
    int rc = parse_text(&ld, data, len, out);
    if (rc)
        config_free(out);
    return rc;
}

int config_load(const char *path, struct config *out, struct error *err)
{
    memset(out, 0, sizeof *out);
    struct buf text = BUF_INIT;
    if (read_file(path, &text, err)) {
        buf_free(&text);
        return -1;
    }
    int rc = config_load_buffer(path, text.data, text.len, out, err);
    buf_free(&text);
    return rc;
}

int config_locate(const char *explicit_path, char **path_out, struct error *err)
{
    *path_out = NULL;
    const char *given = explicit_path;
    const char *from = "--config";
    if (!given) {
        const char *env = getenv("COFFER_CONFIG");
        if (env && *env) {
            given = env;
            from = "$COFFER_CONFIG";
        }
    }
    struct stat st;
    if (given) {
        if (stat(given, &st) != 0)
            return error_errno(err, errno, "cannot use config file %s (from %s)", given, from);
        *path_out = xstrdup(given);
        return 0;
    }
    static const char *const defaults[] = {CONFIG_LOCAL_PATH, CONFIG_SYSTEM_PATH};
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (stat(defaults[i], &st) == 0) {
            *path_out = xstrdup(defaults[i]);
            return 0;
        }
        /* A file we cannot even look at may exist: say so rather than run without it. */
        if (errno != ENOENT && errno != ENOTDIR)
            return error_errno(err, errno, "cannot look for config file %s", defaults[i]);
    }
    return 0;
}

const struct config_source *config_find_source(const struct config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->source_count; i++)
        if (!strcmp(cfg->sources[i].name, name))
            return &cfg->sources[i];
    return NULL;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->source_count; i++)
        config_source_free(&cfg->sources[i]);
    free(cfg->sources);
    free(cfg->path);
    free(cfg->repository);
    free(cfg->password_file);
    free(cfg->git_revision_of);
    retention_free(&cfg->retention);
    for (size_t i = 0; i < cfg->type_drill_count; i++)
        drill_free(&cfg->type_drills[i].drill);
    free(cfg->type_drills);
    free(cfg->s3.endpoint);
    free(cfg->s3.region);
    free(cfg->s3.path_style);
    free(cfg->s3.credentials_file);
    free(cfg->s3.profile);
    free(cfg->s3.ca_file);
    free(cfg->s3.storage_class.data);
    free(cfg->s3.storage_class.metadata);
    config_fields_free(schedule_fields, &cfg->schedule);
    config_fields_free(alerts_fields, &cfg->alerts);
    config_fields_free(metrics_fields, &cfg->metrics);
    free(cfg->state_dir);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- every key, for the docs' check ---- */

static void each_key(const struct config_field *table, const char *prefix, const char *suffix,
                     void (*fn)(void *ctx, const char *key), void *ctx)
{
    for (const struct config_field *f = table; f && f->name; f++) {
        char key[KEY_MAX], sub[KEY_MAX];
        snprintf(key, sizeof key, "%s%s", prefix, f->name);
        if (f->kind != CONFIG_TYPE_NAME || !*suffix) {
            char shown[KEY_MAX + 64];
            snprintf(shown, sizeof shown, "%s%s", key, suffix);
            fn(ctx, shown);
        }
        switch (f->kind) {
        case CONFIG_BLOCK:
            snprintf(sub, sizeof sub, "%s.", key);
            each_key(f->block, sub, suffix, fn, ctx);
            break;
        case CONFIG_MAP:
            snprintf(sub, sizeof sub, "%s.NAME.", key);
            each_key(f->block, sub, suffix, fn, ctx);
            break;
        case CONFIG_LIST:
            snprintf(sub, sizeof sub, "%s[].", key);
            each_key(f->block, sub, suffix, fn, ctx);
            break;
        case CONFIG_ALERTS:
            snprintf(sub, sizeof sub, "%s.", key);
            each_key(alerts_fields, sub, suffix, fn, ctx);
            break;
        case CONFIG_CHECKS:
            snprintf(sub, sizeof sub, "%s[].", key);
            each_key(check_fields, sub, suffix, fn, ctx);
            break;
        case CONFIG_TYPE_DRILLS:
            snprintf(sub, sizeof sub, "%s.TYPE.", key);
            each_key(drill_fields, sub, suffix, fn, ctx);
            break;
        case CONFIG_SOURCES:
            snprintf(sub, sizeof sub, "%s.NAME.", key);
            each_key(source_common_fields, sub, suffix, fn, ctx);
            for (const struct source_type *t = source_types; t->name; t++) {
                char type[96];
                snprintf(type, sizeof type, " (%s)", t->name);
                if (t->fields)
                    each_key(t->fields, sub, type, fn, ctx);
            }
            break;
        default:
            break;
        }
    }
}

void config_each_key(void (*fn)(void *ctx, const char *key), void *ctx)
{
    each_key(config_fields, "", "", fn, ctx);
}

/* ---- sources made by hand, and their keys by name ---- */

const struct config_field *config_field_find(const struct config_field *table, const char *name)
{
    for (const struct config_field *f = table; f && f->name; f++)
        if (!strcmp(f->name, name))
            return f;
    return NULL;
}

void config_fields_free(const struct config_field *table, void *base)
{
    for (const struct config_field *f = table; base && f && f->name; f++) {
        void *slot = (char *)base + f->offset;
        if (f->kind == CONFIG_STRING || f->kind == CONFIG_CHOICE) {
            free(*(char **)slot);
            *(char **)slot = NULL;
        } else if (f->kind == CONFIG_STRINGS) {
            strings_free(slot);
        } else if (f->kind == CONFIG_BLOCK) {
            config_fields_free(f->block, slot);
        } else if (f->kind == CONFIG_MAP || f->kind == CONFIG_LIST) {
            struct config_items *items = slot;
            for (size_t i = 0; i < items->count; i++) {
                struct config_item *item = item_at(f, items, i);
                free(item->name);
                config_fields_free(f->block, item);
            }
            free(items->items);
            memset(items, 0, sizeof *items);
        }
    }
}

void config_source_init(struct config_source *src, const struct source_type *kind, const char *name)
{
    memset(src, 0, sizeof *src);
    src->name = xstrdup(name);
    src->kind = kind;
    src->settings = xcalloc(1, kind->settings_size ? kind->settings_size : 1);
    for (const struct config_field *f = kind->fields; f && f->name; f++)
        if (f->dflt)
            *(unsigned *)((char *)src->settings + f->offset) = f->dflt;
}

/* A number as config_source_set takes it: decimal digits in [min, max]. */
static bool parse_bounded(const char *text, unsigned min, unsigned max, unsigned *out)
{
    unsigned long v = 0;
    size_t len = strlen(text);
    if (len == 0 || len > 9 || strspn(text, "0123456789") != len)
        return false;
    v = strtoul(text, NULL, 10);
    if (v < min || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

int config_source_set(struct config_source *src, const char *key, const char *value, struct error *err)
{
    const struct config_field *f = config_field_find(src->kind->fields, key);
    if (!f)
        return error_setk(err, ERR_USAGE, "%s sources have no setting %s", src->kind->name, key);
    void *slot = (char *)src->settings + f->offset;
    const char *why = NULL;
    if (f->kind == CONFIG_BOOL) {
        *(bool *)slot = true;
        return 0;
    }
    if (!value || !*value)
        return error_setk(err, ERR_USAGE, "%s: expected a non-empty value", key);
    if ((f->kind == CONFIG_STRING || f->kind == CONFIG_STRINGS) && f->check)
        why = f->check(value);
    if (why)
        return error_setk(err, ERR_USAGE, "%s: %s", key, why);
    if (f->kind == CONFIG_STRING) {
        free(*(char **)slot);
        *(char **)slot = xstrdup(value);
    } else if (f->kind == CONFIG_STRINGS) {
        struct config_strings *list = slot;
        list->items = xrealloc(list->items, (list->count + 1) * sizeof *list->items);
        list->items[list->count++] = xstrdup(value);
    } else if (f->kind == CONFIG_UINT) {
        if (!parse_bounded(value, f->min, f->max, slot))
            return error_setk(err, ERR_USAGE, "%s: must be %u..%u", key, f->min, f->max);
    } else if (f->kind == CONFIG_CHOICE) {
        size_t i = 0;
        while (f->choices[i] && strcmp(f->choices[i], value))
            i++;
        if (!f->choices[i])
            return error_setk(err, ERR_USAGE, "%s: \"%s\" is not one of the accepted values", key, value);
        free(*(char **)slot);
        *(char **)slot = xstrdup(value);
    } else {
        return error_setk(err, ERR_USAGE, "%s cannot be set from the command line", key);
    }
    return 0;
}

void config_source_free(struct config_source *src)
{
    if (!src)
        return;
    free(src->name);
    strings_free(&src->tags);
    retention_free(&src->retention);
    drill_free(&src->drill);
    if (src->kind)
        config_fields_free(src->kind->fields, src->settings);
    free(src->settings);
    memset(src, 0, sizeof *src);
}

/* Where key's value sits in src's settings, if its type has it as kind. */
static void *source_slot(const struct config_source *src, const char *key, enum config_kind kind)
{
    const struct config_field *f = src && src->kind ? config_field_find(src->kind->fields, key) : NULL;
    if (!f || f->kind != kind)
        return NULL;
    return (char *)src->settings + f->offset;
}

const char *config_source_string(const struct config_source *src, const char *key)
{
    char **slot = source_slot(src, key, CONFIG_STRING);
    if (!slot)
        slot = source_slot(src, key, CONFIG_CHOICE);
    return slot ? *slot : NULL;
}

unsigned config_source_uint(const struct config_source *src, const char *key)
{
    unsigned *slot = source_slot(src, key, CONFIG_UINT);
    return slot ? *slot : 0;
}

struct config_strings config_source_strings(const struct config_source *src, const char *key)
{
    struct config_strings *slot = source_slot(src, key, CONFIG_STRINGS);
    return slot ? *slot : (struct config_strings){0};
}

struct config_health config_health_for(const struct config *cfg, const struct config_source *src)
{
    if (src && src->health.is_set)
        return src->health;
    if (cfg && cfg->health.is_set)
        return cfg->health;
    return (struct config_health){.max_age = CONFIG_DEFAULT_MAX_AGE, .shrink_alert = CONFIG_DEFAULT_SHRINK_ALERT};
}

struct config_objectives config_objectives_for(const struct config *cfg, const struct config_source *src)
{
    if (src && src->objectives.is_set)
        return src->objectives;
    if (cfg && cfg->objectives.is_set)
        return cfg->objectives;
    return (struct config_objectives){0};
}

const struct config_drill *config_drill_for(const struct config *cfg, const struct config_source *src)
{
    static const struct config_drill none;
    if (src && src->drill.is_set)
        return &src->drill;
    for (size_t i = 0; cfg && src && i < cfg->type_drill_count; i++)
        if (cfg->type_drills[i].kind == src->kind && cfg->type_drills[i].drill.is_set)
            return &cfg->type_drills[i].drill;
    return &none;
}
