/*
 * util.h - ids, time and calendar dates shared by every program.
 */
#ifndef WARDSYNC_UTIL_H
#define WARDSYNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

/* Writes a random (version 4) UUID in lower-case text form and a NUL into
 * out, which must hold WS_UUID_LEN + 1 bytes. Uses getrandom(2). Returns 0,
 * or a negative errno when the kernel gives no randomness. */
int ws_uuid4(char out[WS_UUID_LEN + 1]);

/* True when s is a UUID in canonical text form (any version, any case). */
bool ws_uuid_valid(const char *s);

/* Wall-clock time, milliseconds since the Unix epoch. */
int64_t ws_now_ms(void);

/* Monotonic time in milliseconds, for timeouts and intervals. */
int64_t ws_monotonic_ms(void);

/* Monotonic time in microseconds, for measuring short work. */
int64_t ws_monotonic_us(void);

/* Parses a strict ISO 8601 calendar date "YYYY-MM-DD" (years 1900..2999,
 * real days of the month, leap years) into days since 1970-01-01.
 * Returns 0, or -EINVAL for anything else. */
int ws_date_parse(const char *s, int32_t *days_out);

/* Formats days since 1970-01-01 as "YYYY-MM-DD" into out (11 bytes). Days
 * outside years 0000..9999 give "0000-00-00". */
void ws_date_format(int32_t days, char out[11]);

/* Milliseconds since the epoch of midnight UTC that starts the given day. */
int64_t ws_date_to_ms(int32_t days);

/* True when the n bytes at s are well-formed UTF-8 without NUL bytes
 * (no overlong forms, no surrogates, nothing above U+10FFFF). */
bool ws_utf8_valid(const char *s, size_t n);

/* Copies src into dst (capacity cap, cap > 0), always NUL-terminated;
 * returns the length of src (like strlcpy). */
size_t ws_strlcpy(char *dst, const char *src, size_t cap);

#endif
