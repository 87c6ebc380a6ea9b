/*
 * field.h — how a table row describes one key of coffer.yaml.
 *
 * config.c reads the file against tables of these rows; a source type
 * (source/types.h) brings its own table, whose offsets point into the
 * type's settings struct, so the keys of a type live beside the code that
 * uses them and config.c knows no type by name. The same rows let a
 * command-line flag set a key (config_source_set) and let config.c free
 * what it read, so the three cannot disagree.
 */
#ifndef COFFER_CONFIG_FIELD_H
#define COFFER_CONFIG_FIELD_H

#include <stdbool.h>
#include <stddef.h>

/* A list of strings from the file, in file order; empty is {NULL, 0}. */
struct config_strings {
    char **items;
    size_t count;
};

/* A mapping of names to blocks, or a list of blocks: count items of the
 * row's item_size bytes, each starting with a struct config_item. */
struct config_items {
    void *items;
    size_t count;
};

/* The head of each item: its name (a mapping's key; NULL in a list) and
 * line, for messages. */
struct config_item {
    char *name;
    unsigned line;
};

/* How a key's value is read, and what sits at its offset. */
enum config_kind {
    CONFIG_STRING,    /* char *: a non-empty string */
    CONFIG_BOOL,      /* bool: true or false */
    CONFIG_UINT,      /* unsigned: a whole number in [min, max] */
    CONFIG_CHOICE,    /* char *: one of choices */
    CONFIG_STRINGS,   /* struct config_strings: at least min strings */
    CONFIG_BLOCK,     /* a struct starting with `bool is_set`: a mapping with block's keys */
    CONFIG_DURATION,  /* unsigned seconds: "90s", "15m", "25h", "7d" */
    CONFIG_SIZE,      /* uint64_t bytes: "500MB", "2GiB" */
    CONFIG_PERCENT,   /* unsigned: "50%" */
    CONFIG_MAP,       /* struct config_items: a mapping of names to blocks with block's keys */
    CONFIG_LIST,      /* struct config_items: a list of blocks with block's keys */
    /* config.c's own sections, which no source type uses: */
    CONFIG_SOURCES,   /* the sources: mapping */
    CONFIG_CHECKS,    /* a drill's list of validation queries */
    CONFIG_TYPE_DRILLS, /* drill: {<type>: {...}} at the top level */
    CONFIG_TYPE_NAME, /* a source's type: read first, to pick its table */
    CONFIG_ALERTS,    /* alerts: a list of receivers, or a mapping holding one in `to:` */
};

/* One accepted key. A table ends with a row whose name is NULL. */
struct config_field {
    const char *name;
    enum config_kind kind;
    size_t offset;              /* where the value goes in the struct being filled */
    bool is_required;
    unsigned min, max;          /* CONFIG_UINT: the accepted range; CONFIG_STRINGS: min items */
    unsigned dflt;              /* CONFIG_UINT, _DURATION, _PERCENT: the value when the key is absent */
    const char *const *choices; /* CONFIG_CHOICE: the accepted words, NULL-terminated */
    const struct config_field *block; /* CONFIG_BLOCK, _MAP, _LIST: the keys of the nested mapping(s) */
    size_t item_size;           /* CONFIG_MAP, CONFIG_LIST: the size of an item */
    bool is_word_ok;            /* CONFIG_STRINGS: one string alone is a list of it (`backup: all`) */
    /* CONFIG_STRING, CONFIG_STRINGS: a further rule. Returns NULL, or why
     * the value is refused — a reason that does not repeat the value,
     * which may hold a secret. */
    const char *(*check)(const char *value);
};

/* The row of table called name, or NULL. */
const struct config_field *config_field_find(const struct config_field *table, const char *name);

/* Frees what the rows of table point to inside the struct at base (strings,
 * lists, nested blocks) and zeroes those members. */
void config_fields_free(const struct config_field *table, void *base);

/* The choices of a key that may also be left unset: "true", "false". */
extern const char *const config_true_false[];

#endif
