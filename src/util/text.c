/*
 * text.c — hex, times and sizes as users and the repository format see them.
 */
#include "util/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hex_encode(const uint8_t *bin, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *hex, uint8_t *bin, size_t len)
{
    if (strlen(hex) != 2 * len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        bin[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

bool is_hex(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (hex_value(*s) < 0)
            return false;
    return true;
}

/* The year always has four digits (zero-padded; strftime's %Y would
 * write "25" for the year 25, which no RFC 3339 reader, ours included,
 * accepts). */
void time_format_rfc3339(int64_t unix_seconds, char out[32])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 32, "(time out of range)");
        return;
    }
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void time_format_rfc3339_precise(int64_t unix_seconds, int32_t nanos, char out[40])
{
    time_format_rfc3339(unix_seconds, out);
    size_t len = strlen(out);
    if (nanos > 0 && nanos < 1000000000 && len > 0 && out[len - 1] == 'Z')
        snprintf(out + len - 1, 40 - (len - 1), ".%06dZ", nanos / 1000);
}

/* Reads exactly n decimal digits at *p into *out and moves *p past them. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false; /* also stops at the NUL: never reads past the end */
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), so that no struct tm, time zone or
 * time_t range is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* RFC 3339's date-time, exactly: a 4-digit year, 2-digit month, day,
 * hour, minute and second, each in range (the day for its month; no leap
 * second: coffer never writes one and timegm would move it to the next
 * minute), "T" between date and time, an optional fraction of one or more
 * digits (the first nine count), and "Z" or an offset [+-]HH:MM of at most
 * 23:59. T and Z may be lower case (RFC 3339, section 5.6). Nothing may
 * follow. */
int time_parse_rfc3339(const char *s, int64_t *unix_seconds, int32_t *nanos)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int year, month, day, hour, minute, second;
    if (!read_digits(&p, 4, &year) || *p++ != '-' || !read_digits(&p, 2, &month) || *p++ != '-' ||
        !read_digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
        return -1;
    p++;
    if (!read_digits(&p, 2, &hour) || *p++ != ':' || !read_digits(&p, 2, &minute) || *p++ != ':' ||
        !read_digits(&p, 2, &second))
        return -1;
    if (month < 1 || month > 12 || day < 1 ||
        day > month_days[month - 1] + (month == 2 && is_leap_year(year)) || hour > 23 || minute > 59 ||
        second > 59)
        return -1;
    int32_t fraction = 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (int32_t scale = 100000000; isdigit((unsigned char)*p); p++, scale /= 10)
            fraction += (int32_t)(*p - '0') * scale;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '+' ? 1 : -1, oh, om;
        if (!read_digits(&p, 2, &oh) || *p++ != ':' || !read_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *unix_seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
    if (nanos)
        *nanos = fraction;
    return 0;
}

void size_format(uint64_t bytes, char out[32])
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, 32, "%llu B", (unsigned long long)bytes);
    else
        snprintf(out, 32, "%.1f %s", v, units[u]);
}

/* Digits, then optionally K, M or G (1024-based, either case) and "B" or
 * "iB". A value that does not fit in 64 bits is refused, never wrapped. */
int size_parse(const char *s, uint64_t *bytes)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return -1;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024;
    if (mult != 1) {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
            end += strlen(end);
    }
    if (*end || v > UINT64_MAX / mult)
        return -1;
    *bytes = (uint64_t)v * mult;
    return 0;
}

int duration_parse(const char *s, uint64_t *seconds)
{
    uint64_t total = 0;
    if (!*s)
        return -1;
    while (*s) {
        if (!isdigit((unsigned char)*s))
            return -1;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
            return -1;
        uint64_t unit;
        switch (*end) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return -1;
        }
        if (v > (UINT64_MAX - total) / unit)
            return -1;
        total += v * unit;
        s = end + 1;
    }
    *seconds = total;
    return 0;
}

void duration_format(uint64_t seconds, char out[32])
{
    static const struct { uint64_t size; char name; } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    for (size_t i = 0; i < 4; i++) {
        if (seconds < units[i].size && i < 3)
            continue;
        uint64_t big = seconds / units[i].size, rest = seconds % units[i].size;
        if (i < 3 && rest >= units[i + 1].size)
            snprintf(out, 32, "%llu%c %llu%c", (unsigned long long)big, units[i].name,
                     (unsigned long long)(rest / units[i + 1].size), units[i + 1].name);
        else
            snprintf(out, 32, "%llu%c", (unsigned long long)big, units[i].name);
        return;
    }
}

unsigned text_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    unsigned row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diagonal = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned above = row[j];
            unsigned best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}
