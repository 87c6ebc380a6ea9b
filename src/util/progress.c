/*
 * progress.c — progress lines on stderr (see progress.h).
 */
#include "util/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/text.h"

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init(struct progress *p, const char *action, bool is_quiet, bool is_json)
{
    *p = (struct progress){0};
    p->action = action;
    if (is_json)
        p->mode = PROGRESS_JSON;
    else if (!is_quiet && isatty(STDERR_FILENO))
        p->mode = PROGRESS_TERMINAL;
    p->started = p->last_shown = progress_now();
}

static void format_duration(double seconds, char out[16])
{
    unsigned s = seconds < 0 ? 0 : (unsigned)seconds;
    if (s >= 3600)
        snprintf(out, 16, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, 16, "%u:%02u", s / 60, s % 60);
}

void progress_update(struct progress *p)
{
    if (p->mode == PROGRESS_NONE)
        return;
    double now = progress_now();
    if (now - p->last_shown < (p->mode == PROGRESS_JSON ? 1.0 : 0.25))
        return;
    p->last_shown = now;
    double elapsed = now - p->started;
    double rate = elapsed > 0 ? (double)p->bytes / elapsed : 0;
    double eta = -1;
    if (p->total_bytes > p->bytes && rate > 0)
        eta = (double)(p->total_bytes - p->bytes) / rate;
    if (p->mode == PROGRESS_JSON) {
        fprintf(stderr,
                "{\"type\":\"progress\",\"action\":\"%s\",\"bytes\":%llu,\"files\":%llu,\"total_bytes\":%llu,"
                "\"bytes_per_second\":%.0f,\"elapsed\":%.1f,\"eta\":%.0f}\n",
                p->action, (unsigned long long)p->bytes, (unsigned long long)p->files,
                (unsigned long long)p->total_bytes, rate, elapsed, eta);
        return;
    }
    char done[32], speed[32], clock[16], left[16] = "";
    size_format(p->bytes, done);
    size_format((uint64_t)rate, speed);
    format_duration(elapsed, clock);
    if (eta >= 0) {
        char eta_text[16];
        format_duration(eta, eta_text);
        snprintf(left, sizeof left, ", ETA %s", eta_text);
    }
    fprintf(stderr, "\r\033[K[%s] %s %s, %llu files, %s/s%s", clock, p->action, done,
            (unsigned long long)p->files, speed, left);
    p->has_shown = true;
}

void progress_done(struct progress *p)
{
    if (p->mode == PROGRESS_TERMINAL && p->has_shown)
        fputs("\r\033[K", stderr);
}
