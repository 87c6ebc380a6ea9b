/*
 * progress.h — what a long command reports while it runs, on stderr.
 *
 * On a terminal: one line redrawn at most every quarter second (bytes,
 * files, rate, and an ETA when the total is known). With --json: one JSON
 * line per update. Otherwise (not a terminal, or --quiet): nothing.
 * Call progress_update as often as you like; it is cheap when not due.
 * Not thread-safe: only the command's main thread reports.
 */
#ifndef COFFER_UTIL_PROGRESS_H
#define COFFER_UTIL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

enum progress_mode { PROGRESS_NONE, PROGRESS_TERMINAL, PROGRESS_JSON };

struct progress {
    enum progress_mode mode;
    const char *action; /* "backup", "restore", "check" */
    uint64_t bytes;
    uint64_t files;
    uint64_t total_bytes; /* 0 when unknown */
    uint64_t errors;
    double started;
    double last_shown;
    bool has_shown;
};

/* Picks the mode from the flags and whether stderr is a terminal. */
void progress_init(struct progress *p, const char *action, bool is_quiet, bool is_json);
void progress_update(struct progress *p);
/* Clears the terminal line (before the summary is printed). */
void progress_done(struct progress *p);
double progress_now(void);

#endif
