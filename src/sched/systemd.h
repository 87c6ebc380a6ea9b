/*
 * systemd.h — a schedule as systemd units: a cron line as OnCalendar=
 * expressions, and the text of a job's .timer and .service or of the
 * daemon's coffer.service, with the hardening a backup service should run
 * under.
 *
 * A cron line becomes one OnCalendar= (two when both day fields are
 * restricted: cron counts a day matching either, systemd only one that
 * matches both), each field its values listed, and the schedule's zone
 * at the end, so `systemd-analyze calendar` names the same times as
 * `coffer schedule list`.
 */
#ifndef COFFER_SCHED_SYSTEMD_H
#define COFFER_SCHED_SYSTEMD_H

#include <stdbool.h>
#include <stddef.h>

#include "sched/cron.h"
#include "util/buf.h"

#define SYSTEMD_CALENDAR_MAX 1024

/* The OnCalendar= expressions of c in zone (NULL: UTC): one or two. */
size_t systemd_calendar(const struct cron *c, const char *zone, char out[2][SYSTEMD_CALENDAR_MAX]);

/* What the units run and may write. */
struct systemd_unit_settings {
    const char *coffer;         /* the binary's absolute path */
    const char *config;         /* coffer.yaml's absolute path */
    const char *user;           /* User= and Group=; NULL: root */
    const char *state_dir;      /* ReadWritePaths= */
    const char *repository_dir; /* ReadWritePaths= too, for a local repository; NULL on S3 */
};

/* The .service running job (daemon --once --job) and its .timer. */
void systemd_job_units(const struct systemd_unit_settings *s, const char *job, const char *cron_line,
                       const char calendars[2][SYSTEMD_CALENDAR_MAX], size_t calendar_count, unsigned jitter,
                       struct buf *service, struct buf *timer);

/* coffer.service, running `coffer daemon`. */
void systemd_daemon_unit(const struct systemd_unit_settings *s, struct buf *service);

#endif
