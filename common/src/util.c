/*
 * util.c - ids, time and calendar dates.
 */
#include "wardsync/util.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int ws_uuid4(char out[WS_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[16];
    size_t got = 0;
    size_t pos = 0;

    while (got < sizeof(bytes)) {
        ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40); /* version 4 */
    bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80); /* RFC 4122 */

    for (size_t i = 0; i < sizeof(bytes); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[pos++] = '-';
        out[pos++] = hex[bytes[i] >> 4];
        out[pos++] = hex[bytes[i] & 0x0f];
    }
    out[pos] = '\0';
    return 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

bool ws_uuid_valid(const char *s)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < WS_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!is_hex(s[i])) {
            return false; /* also stops at an early NUL */
        }
    }
    return s[WS_UUID_LEN] == '\0';
}

static int64_t clock_ms(clockid_t clock)
{
    struct timespec ts;

    if (clock_gettime(clock, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ws_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t ws_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t ws_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};

    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Leap years in [1, year - 1] of the proleptic Gregorian calendar (negative
 * counts for years before 1). */
static int64_t leaps_before(int64_t year)
{
    int64_t y = year - 1;

    return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

static int64_t days_before_month(int64_t year, int month)
{
    int64_t days = 0;

    for (int m = 1; m < month; m++)
        days += days_in_month((int)(year % 400 + 400), m);
    return days;
}

/* Days from 1970-01-01 to the given date. */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    return 365 * (year - 1970) + leaps_before(year) - leaps_before(1970) +
           days_before_month(year, month) + day - 1;
}

/* The inverse of days_from_civil: a first guess of the year from the mean
 * Gregorian year (146097 days per 400 years), then corrected by a step or
 * two, then the month walked from January. */
static void civil_from_days(int64_t days, int64_t *year_out, int *month_out,
                            int *day_out)
{
    int64_t year = 1970 + floor_div(days * 400, 146097);
    int64_t rest;
    int month = 1;

    while (days_from_civil(year, 1, 1) > days)
        year--;
    while (days_from_civil(year + 1, 1, 1) <= days)
        year++;
    rest = days - days_from_civil(year, 1, 1);
    while (rest >= days_in_month((int)(year % 400 + 400), month)) {
        rest -= days_in_month((int)(year % 400 + 400), month);
        month++;
    }
    *year_out = year;
    *month_out = month;
    *day_out = (int)rest + 1;
}

static int digits(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int ws_date_parse(const char *s, int32_t *days_out)
{
    int year, month, day;

    if (s == NULL || strnlen(s, 11) != 10 || s[4] != '-' || s[7] != '-')
        return -EINVAL;
    year = digits(s, 4);
    month = digits(s + 5, 2);
    day = digits(s + 8, 2);
    if (year < 1900 || year > 2999 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month))
        return -EINVAL;
    if (days_out != NULL)
        *days_out = (int32_t)days_from_civil(year, month, day);
    return 0;
}

/* Days outside years 0000..9999 do not fit "YYYY-MM-DD" and are written as
 * "0000-00-00", which no parser accepts as a date. */
void ws_date_format(int32_t days, char out[11])
{
    int64_t year;
    int month, day;

    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999) {
        memcpy(out, "0000-00-00", 11);
        return;
    }
    out[0] = (char)('0' + year / 1000);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    out[4] = '-';
    out[5] = (char)('0' + month / 10);
    out[6] = (char)('0' + month % 10);
    out[7] = '-';
    out[8] = (char)('0' + day / 10);
    out[9] = (char)('0' + day % 10);
    out[10] = '\0';
}

int64_t ws_date_to_ms(int32_t days)
{
    return (int64_t)days * 86400000;
}

bool ws_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL)
        return n == 0;
    while (i < n) {
        unsigned char c = p[i];
        uint32_t cp;
        size_t len;
        uint32_t min;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false; /* continuation byte, C0/C1 overlong, F5..FF */
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

size_t ws_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t len = strlen(src);

    if (cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;

        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}
