/*
 * systemd.c — cron lines as OnCalendar= and the units' text (systemd.h).
 */
#include "sched/systemd.h"

#include <stdio.h>
#include <string.h>

static const char *const weekday_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* The values of bits lo..hi as "1,5,9", or "*" when all are set. */
static void field_list(uint64_t bits, unsigned lo, unsigned hi, bool is_two_digits, char *out, size_t size)
{
    uint64_t all = 0;
    for (unsigned v = lo; v <= hi; v++)
        all |= 1ULL << v;
    if ((bits & all) == all) {
        snprintf(out, size, "*");
        return;
    }
    size_t n = 0;
    out[0] = '\0';
    for (unsigned v = lo; v <= hi; v++)
        if (bits >> v & 1)
            n += (size_t)snprintf(out + n, n < size ? size - n : 0, is_two_digits ? "%s%02u" : "%s%u", n ? "," : "",
                                  v);
}

static void calendar(const struct cron *c, const char *zone, bool has_weekdays, bool has_days, char *out)
{
    char weekdays[64] = "", days[128], months[64], hours[96], minutes[256];
    if (has_weekdays && (c->weekdays & 0x7f) != 0x7f) {
        size_t n = 0;
        for (unsigned w = 1; w <= 7; w++) /* Mon..Sun, as systemd writes a week */
            if (c->weekdays >> (w % 7) & 1)
                n += (size_t)snprintf(weekdays + n, sizeof weekdays - n, "%s%s", n ? "," : "", weekday_names[w % 7]);
        weekdays[n] = ' ';
        weekdays[n + 1] = '\0';
    }
    if (has_days)
        field_list(c->days, 1, 31, true, days, sizeof days);
    else
        snprintf(days, sizeof days, "*");
    field_list(c->months, 1, 12, true, months, sizeof months);
    field_list(c->hours, 0, 23, true, hours, sizeof hours);
    field_list(c->minutes, 0, 59, true, minutes, sizeof minutes);
    snprintf(out, SYSTEMD_CALENDAR_MAX, "%s*-%s-%s %s:%s:00 %s", weekdays, months, days, hours, minutes,
             zone ? zone : "UTC");
}

size_t systemd_calendar(const struct cron *c, const char *zone, char out[2][SYSTEMD_CALENDAR_MAX])
{
    if (!c->is_days_any && !c->is_weekdays_any) { /* cron's either-day rule: one expression each */
        calendar(c, zone, true, false, out[0]);
        calendar(c, zone, false, true, out[1]);
        return 2;
    }
    calendar(c, zone, !c->is_weekdays_any, !c->is_days_any, out[0]);
    return 1;
}

/* What every unit of coffer runs under. */
static void hardening(const struct systemd_unit_settings *s, struct buf *out)
{
    if (s->user)
        buf_printf(out, "User=%s\nGroup=%s\n", s->user, s->user);
    buf_printf(out, "Nice=10\nIOSchedulingClass=idle\nNoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=strict\n"
                    "ProtectHome=read-only\nProtectKernelTunables=yes\nProtectKernelModules=yes\n"
                    "ProtectControlGroups=yes\nRestrictSUIDSGID=yes\nLockPersonality=yes\n"
                    "ReadWritePaths=%s%s%s\n", s->state_dir, s->repository_dir ? " " : "",
               s->repository_dir ? s->repository_dir : "");
}

void systemd_job_units(const struct systemd_unit_settings *s, const char *job, const char *cron_line,
                       const char calendars[2][SYSTEMD_CALENDAR_MAX], size_t calendar_count, unsigned jitter,
                       struct buf *service, struct buf *timer)
{
    buf_printf(service, "# Written by `coffer schedule install --systemd` from %s: job %s.\n"
                        "[Unit]\nDescription=coffer: job %s of %s\nDocumentation=man:coffer(1)\n"
                        "Wants=network-online.target\nAfter=network-online.target\n\n"
                        "[Service]\nType=oneshot\nExecStart=%s daemon --once --job %s --config %s\n"
                        "# 3: it ran, but something needs attention (the run's log says what)\n"
                        "SuccessExitStatus=3\n", s->config, job, job, s->config, s->coffer, job, s->config);
    hardening(s, service);
    buf_printf(timer, "# Written by `coffer schedule install --systemd` from %s: job %s, cron \"%s\".\n"
                      "[Unit]\nDescription=coffer: job %s (cron \"%s\")\nDocumentation=man:coffer(1)\n\n[Timer]\n",
               s->config, job, cron_line, job, cron_line);
    for (size_t i = 0; i < calendar_count; i++)
        buf_printf(timer, "OnCalendar=%s\n", calendars[i]);
    buf_printf(timer, "# A run missed while the machine was off runs once at boot (coffer's ledger keeps it once).\n"
                      "Persistent=true\n");
    if (jitter)
        buf_printf(timer, "RandomizedDelaySec=%u\nFixedRandomDelay=true\n", jitter);
    buf_printf(timer, "\n[Install]\nWantedBy=timers.target\n");
}

void systemd_daemon_unit(const struct systemd_unit_settings *s, struct buf *service)
{
    buf_printf(service, "# Written by `coffer schedule install --systemd --daemon` from %s.\n"
                        "[Unit]\nDescription=coffer: the schedule of %s\nDocumentation=man:coffer(1)\n"
                        "Wants=network-online.target\nAfter=network-online.target\n\n"
                        "[Service]\nType=simple\nExecStart=%s daemon --config %s\nExecReload=/bin/kill -HUP $MAINPID\n"
                        "Restart=on-failure\nRestartSec=30\n", s->config, s->config, s->coffer, s->config);
    hardening(s, service);
    buf_printf(service, "\n[Install]\nWantedBy=multi-user.target\n");
}
