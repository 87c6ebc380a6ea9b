/*
 * config.h — the configuration file (coffer.yaml): where it is, what it says.
 *
 * The file names the repository, the file holding its passphrase, and the
 * sources a backup reads (a PostgreSQL database, a set of paths, ...).
 * Loading checks every key against what coffer knows, so a typo is an
 * error that names the file, the line and the key, never a setting
 * silently ignored. The file holds paths to secrets, never secrets.
 * Every key is described in docs/config.md.
 *
 * Command-line flags and environment variables override the file; that
 * merging is the command layer's business, not this module's.
 */
#ifndef COFFER_CONFIG_CONFIG_H
#define COFFER_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/field.h"
#include "util/error.h"

struct source_type;

/* Where config_locate looks when neither --config nor $COFFER_CONFIG is set. */
#define CONFIG_LOCAL_PATH "coffer.yaml"
#define CONFIG_SYSTEM_PATH "/etc/coffer/coffer.yaml"

/* A retention policy (`retention:` at the top or in a source). */
struct config_retention {
    bool is_set;              /* the key was there */
    unsigned last, hourly, daily, weekly, monthly, yearly; /* 0: rule off */
    char *within;             /* a duration ("90d"), or NULL */
    struct config_strings tags;
    char *timezone;           /* NULL: UTC */
};

/* Health rules (`health:` at the top or in a source), which `coffer check`
 * applies to each source's newest snapshot. */
#define CONFIG_DEFAULT_MAX_AGE (25 * 3600) /* the runbook's "last backup < 25 hours" */
#define CONFIG_DEFAULT_SHRINK_ALERT 50     /* percent of the previous snapshot */
struct config_health {
    bool is_set;
    unsigned max_age;         /* seconds: the newest snapshot must be younger */
    uint64_t min_size;        /* bytes: it must be at least this large; 0: no minimum */
    unsigned shrink_alert;    /* percent: its size, and a database's exported row counts,
                                 must not fall below this share of the previous snapshot's; 0: off */
    /* The repository's, read at the top level only (the daemon's monitor and status): */
    unsigned min_free;        /* percent of a local repository's file system that must stay free; 0: off */
    uint64_t max_stored;      /* bytes the packs may take (an S3 quota, a budget); 0: off */
};

/* Recovery objectives (`objectives:`); 0: none set. */
struct config_objectives {
    bool is_set;
    unsigned rpo;             /* seconds: the newest snapshot must be younger */
    unsigned rto;             /* seconds: a drill must restore and validate within this */
};

/* One validation query of a drill: its first row's first column must be
 * true, or equal expect when that is set. */
struct config_check {
    char *name;
    char *sql;
    char *expect;             /* NULL: must be true */
};

/* How to drill a source (`drill:` in a source, or `drill: {postgres: ...}`
 * at the top for every postgres source). */
struct config_drill {
    bool is_set;
    char *scratch_url;        /* postgres: the server that gets the scratch database */
    bool keep_on_failure;     /* leave a failed drill's scratch database or directory for inspection */
    struct config_check *checks;
    size_t check_count;
};

/* How to reach an s3:// repository (`s3:`); credentials are never here,
 * only the path of a file that holds them. */
struct config_s3 {
    bool is_set;
    char *endpoint;
    char *region;
    char *path_style;         /* "true", "false" or NULL */
    char *credentials_file;
    char *profile;
    char *ca_file;
    unsigned connections;     /* 0: the driver's default */
    unsigned retry_time;      /* seconds; 0: the driver's default */
    struct {
        bool is_set;
        char *data;
        char *metadata;
    } storage_class;
};

/* One entry under `sources:`. Its type's own keys (source/types.h) are in
 * settings, a struct of the type's making (postgres.h, redis.h, ...). */
struct config_source {
    char *name;
    const struct source_type *kind;
    void *settings;           /* kind->settings_size bytes, laid out as kind->fields say */
    unsigned line;            /* line of the source's name in the file, for messages; 0: the command line */
    struct config_strings tags;
    struct config_retention retention; /* overrides the top-level one when is_set */
    struct config_health health;       /* likewise */
    struct config_objectives objectives; /* likewise */
    struct config_drill drill;         /* likewise (the top-level drill.<type> for its type) */
};

/* A top-level drill.<type> block: the drill settings of every source of
 * that type that has none of its own. */
struct config_type_drill {
    const struct source_type *kind;
    struct config_drill drill;
};

/* One job of `schedule: jobs:`: when it runs and what it does, in this
 * order when it does several (docs/config.md). */
struct config_job {
    struct config_item head;       /* the job's name, and its line */
    char *cron;                    /* checked: sched/cron.h reads it */
    struct config_strings backup;  /* the sources it backs up; ["all"]: every one */
    char *tag;                     /* added to each snapshot it makes */
    bool forget;                   /* the retention policies */
    bool prune;
    struct {
        bool is_set;
        unsigned read_data;        /* percent of the packs read; 0: the structure only */
    } check;
    struct config_strings drill;   /* the sources it drills; ["all"]: every one */
    bool monitor;                  /* the status rules, free space, the daemon's own failures */
    char *overlap;                 /* its next time comes while it runs: "skip" (NULL) or "queue" */
};

/* `schedule:` — what `coffer daemon` runs, and when. */
struct config_schedule {
    bool is_set;
    char *timezone;                /* the zone cron times are read in; NULL: UTC */
    unsigned jitter;               /* seconds: each job starts a stable delay in [0, jitter) late */
    struct config_items jobs;      /* struct config_job, in file order */
};

/* One receiver of `alerts:` (docs/config.md): where incidents and runs
 * are told. Secrets (routing keys, URLs holding tokens, HMAC keys) are
 * only ever paths of files. */
struct config_alert {
    struct config_item head;
    char *type;                /* pagerduty, slack, healthchecks, webhook, command */
    char *url;                 /* the endpoint; pagerduty: the Events API v2's unless set */
    char *url_file;            /* a file holding the URL (slack: the webhook URL holds its token) */
    char *routing_key_file;    /* pagerduty: the integration's routing key */
    char *secret_file;         /* webhook: the HMAC-SHA-256 key the body is signed with */
    struct config_strings command; /* command: the program and its arguments; the alert on stdin */
    char *severity;            /* pagerduty: critical, error (default), warning, info */
};

#define CONFIG_DEFAULT_ALERT_REPEAT (24 * 3600)
#define CONFIG_DEFAULT_ALERT_SETTLE (10 * 60)

/* `alerts:` — a list of receivers, or {repeat, settle, to: [receivers]}. */
struct config_alerts {
    bool is_set;
    unsigned repeat;           /* seconds between reminders of an incident that lasts */
    unsigned settle;           /* seconds a problem must be gone before its incident resolves */
    struct config_items to;    /* struct config_alert */
};

/* `metrics:` — where the daemon's numbers go (docs/metrics.md). */
struct config_metrics {
    bool is_set;
    char *listen;              /* HOST:PORT serving /metrics; NULL: none */
    char *textfile;            /* a .prom file rewritten after each run; NULL: none */
};

#define CONFIG_DEFAULT_STATE_DIR "/var/lib/coffer"

struct config {
    char *path;               /* the file read */
    char *repository;         /* NULL if not set */
    char *password_file;      /* NULL if not set */
    char *git_revision_of;    /* a git repository whose HEAD every snapshot records, or NULL */
    unsigned lock_wait;       /* seconds a command waits for a conflicting lock to go (0: fails at once) */
    struct config_retention retention;
    struct config_health health;
    struct config_objectives objectives;
    struct config_s3 s3;
    struct config_type_drill *type_drills; /* drill: {<type>: ...}, in file order */
    size_t type_drill_count;
    struct config_source *sources;   /* in file order */
    size_t source_count;
    struct config_schedule schedule;
    struct config_alerts alerts;
    struct config_metrics metrics;
    char *state_dir;          /* the daemon's run ledger; NULL: CONFIG_DEFAULT_STATE_DIR */
};

/* Whether list names every source: the one word "all". */
bool config_is_all(const struct config_strings *list);

/*
 * Finds the file: explicit_path (from --config) if not NULL, else
 * $COFFER_CONFIG if set and not empty, else ./coffer.yaml, else
 * /etc/coffer/coffer.yaml. An explicit path or $COFFER_CONFIG naming a file
 * that does not exist is an error (kind ERR_NOT_FOUND). When neither is set
 * and no default file exists, *path_out is NULL and 0 is returned: running
 * without a config file is fine. A default file that exists but cannot be
 * read is returned all the same, so that config_load reports it rather
 * than coffer quietly running without it. The caller frees *path_out.
 */
int config_locate(const char *explicit_path, char **path_out, struct error *err);

/*
 * Reads and checks the file at path. On success *out holds every setting
 * (free with config_free). On failure *out is empty, config_free on it is
 * harmless, and err says "<path>:<line>: <key>: <what is wrong>".
 */
int config_load(const char *path, struct config *out, struct error *err);

/* NULL if a database or Redis URL holds no secret (user:password@,
 * password=, sslpassword=), else why it may not be used; the command
 * line refuses such URLs too (anyone on the host reads /proc/PID/cmdline). */
const char *config_url_secret_problem(const char *url);

/*
 * Like config_load, on len bytes at data (which need not end in NUL);
 * name stands for the file in messages and in out->path. Text that is
 * larger than 1 MiB, not UTF-8, holds control characters YAML forbids, or
 * starts a line with a directive (%) is refused, naming the line, before
 * the YAML parser sees it.
 */
int config_load_buffer(const char *name, const void *data, size_t len, struct config *out, struct error *err);

/* The source called name, or NULL. */
const struct config_source *config_find_source(const struct config *cfg, const char *name);

/* The rules, objectives and drill settings that apply to a source: its
 * own block, else the top-level one, else the defaults (cfg and src may be
 * NULL: a source in the repository that the file does not name). */
struct config_health config_health_for(const struct config *cfg, const struct config_source *src);
struct config_objectives config_objectives_for(const struct config *cfg, const struct config_source *src);
const struct config_drill *config_drill_for(const struct config *cfg, const struct config_source *src);

/*
 * A source made on the command line rather than read from the file:
 * config_source_init gives it kind's defaults, config_source_set sets one
 * key of kind's table from text as the file would (a bool key with value
 * NULL is set true; a list key gets value added), checked the same way;
 * err names the key. config_source_free releases it (also one that
 * config_load made, which config_free frees).
 */
void config_source_init(struct config_source *src, const struct source_type *kind, const char *name);
int config_source_set(struct config_source *src, const char *key, const char *value, struct error *err);
void config_source_free(struct config_source *src);

/* A key of the source's type, by its name in coffer.yaml: NULL, 0 or an
 * empty list when the type has no such key or it was not set (src may be
 * NULL). So that a command can use a setting several types share
 * (password_file, jobs) without naming a type. */
const char *config_source_string(const struct config_source *src, const char *key);
unsigned config_source_uint(const struct config_source *src, const char *key);
struct config_strings config_source_strings(const struct config_source *src, const char *key);

/* Calls fn with every key coffer.yaml takes, dotted from the top with
 * NAME for a name the user picks and [] for a list's items
 * ("schedule.jobs.NAME.cron", "sources.NAME.url (postgres)"), read from
 * the tables the loader reads with: what docs/config.md must describe. */
void config_each_key(void (*fn)(void *ctx, const char *key), void *ctx);

/* Releases everything and leaves *cfg empty; accepts NULL and empty configs. */
void config_free(struct config *cfg);

#endif
