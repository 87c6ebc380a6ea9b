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

void time_format_rfc3339(int64_t unix_seconds, char out[32])
{
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_format_rfc3339_precise(int64_t unix_seconds, int32_t nanos, char out[40])
{
    time_format_rfc3339(unix_seconds, out);
    if (nanos > 0 && nanos < 1000000000)
        snprintf(out + 19, 21, ".%06dZ", nanos / 1000);
}

int time_parse_rfc3339(const char *s, int64_t *unix_seconds, int32_t *nanos)
{
    struct tm tm = {0};
    int32_t fraction = 0;
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    if (*rest == '.') {
        int32_t scale = 100000000;
        rest++;
        for (; isdigit((unsigned char)*rest); rest++, scale /= 10)
            fraction += (int32_t)(*rest - '0') * scale;
    }
    int64_t offset = 0;
    if (*rest == 'Z' || *rest == 'z') {
        rest++;
    } else if (*rest == '+' || *rest == '-') {
        int hh, mm;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
        rest += 6;
    } else {
        return -1;
    }
    if (*rest)
        return -1;
    *unix_seconds = (int64_t)timegm(&tm) - offset;
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

int size_parse(const char *s, uint64_t *bytes)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
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
    if (*end)
        return -1;
    *bytes = v * mult;
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
