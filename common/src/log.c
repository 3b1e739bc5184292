/*
 * log.c - one line per event on stderr.
 *
 * Each line is "2024-05-01T07:30:00.123Z LEVEL module: message" and is
 * written with a single write(2), so lines from several threads or processes
 * sharing stderr never interleave. Control characters in the message (which
 * may quote untrusted input) are escaped so that one event stays one line.
 */
#include "wardsync/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wardsync/util.h"

/* Longest line written; longer messages are cut and end with "...". */
#define LOG_LINE_MAX 4096

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static atomic_int current_level = WS_LOG_INFO;
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

static void level_from_env(void)
{
    const char *env = getenv("WARDSYNC_LOG");
    int level;

    if (env == NULL || env[0] == '\0')
        return;
    level = ws_log_level_parse(env);
    if (level >= 0)
        current_level = level;
}

/* The environment is read once, at the first call of any function here; a
 * later ws_log_set_level (e.g. from a command-line flag) wins over it. */
void ws_log_set_level(enum ws_log_level level)
{
    pthread_once(&level_once, level_from_env);
    if (level >= WS_LOG_DEBUG && level <= WS_LOG_ERROR)
        current_level = level;
}

int ws_log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};

    if (name == NULL)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, names[i]) == 0)
            return i;
    }
    if (strcasecmp(name, "warning") == 0)
        return WS_LOG_WARN;
    return -1;
}

static bool level_enabled(enum ws_log_level level)
{
    pthread_once(&level_once, level_from_env);
    return (int)level >= current_level;
}

static const char *level_name(enum ws_log_level level)
{
    switch (level) {
    case WS_LOG_DEBUG:
        return "DEBUG";
    case WS_LOG_INFO:
        return "INFO";
    case WS_LOG_WARN:
        return "WARN";
    case WS_LOG_ERROR:
        return "ERROR";
    }
    return "?";
}

/* Appends text to line at *pos, escaping control characters; stops (and
 * marks the line as cut) when the line is full. */
static void append_escaped(char *line, size_t cap, size_t *pos,
                           const char *text, bool *cut)
{
    static const char hex[] = "0123456789abcdef";

    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char esc[4];
        size_t n = 0;

        if (*p == '\n') {
            esc[n++] = '\\';
            esc[n++] = 'n';
        } else if (*p == '\r') {
            esc[n++] = '\\';
            esc[n++] = 'r';
        } else if (*p == '\t') {
            esc[n++] = '\\';
            esc[n++] = 't';
        } else if (*p < 0x20 || *p == 0x7f) {
            esc[n++] = '\\';
            esc[n++] = 'x';
            esc[n++] = hex[*p >> 4];
            esc[n++] = hex[*p & 0xf];
        } else {
            esc[n++] = (char)*p;
        }
        if (*pos + n >= cap) {
            *cut = true;
            return;
        }
        memcpy(line + *pos, esc, n);
        *pos += n;
    }
}

static void write_line(enum ws_log_level level, const char *module,
                       const char *message, uint64_t suppressed)
{
    char line[LOG_LINE_MAX + 8];
    size_t pos = 0;
    bool cut = false;
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, LOG_LINE_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                 level_name(level));
    if (n < 0)
        return;
    pos = (size_t)n < LOG_LINE_MAX ? (size_t)n : LOG_LINE_MAX - 1;
    append_escaped(line, LOG_LINE_MAX, &pos, module ? module : "-", &cut);
    append_escaped(line, LOG_LINE_MAX, &pos, ": ", &cut);
    append_escaped(line, LOG_LINE_MAX, &pos, message, &cut);
    if (suppressed > 0 && !cut) {
        char tail[40];

        snprintf(tail, sizeof(tail), " suppressed=%llu",
                 (unsigned long long)suppressed);
        append_escaped(line, LOG_LINE_MAX, &pos, tail, &cut);
    }
    if (cut) {
        memcpy(line + pos, "...", 3);
        pos += 3;
    }
    line[pos++] = '\n';

    /* One write per line; a short write to a pipe is finished, an error
     * (stderr closed) has nowhere to be reported. */
    for (size_t done = 0; done < pos;) {
        ssize_t w = write(STDERR_FILENO, line + done, pos - done);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        done += (size_t)w;
    }
}

static void log_va(enum ws_log_level level, const char *module,
                   uint64_t suppressed, const char *fmt, va_list ap)
{
    char message[LOG_LINE_MAX];
    int saved_errno = errno;

    vsnprintf(message, sizeof(message), fmt, ap);
    write_line(level, module, message, suppressed);
    errno = saved_errno;
}

void ws_log(enum ws_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;

    if (!level_enabled(level))
        return;
    va_start(ap, fmt);
    log_va(level, module, 0, fmt, ap);
    va_end(ap);
}

void ws_log_limited(struct ws_log_limit *limit, int64_t interval_ms,
                    enum ws_log_level level, const char *module,
                    const char *fmt, ...)
{
    va_list ap;
    int64_t now;
    uint64_t suppressed;

    if (!level_enabled(level))
        return;
    now = ws_monotonic_ms();
    if (now <= 0)
        now = 1; /* 0 in last_ms means "never printed" */

    pthread_mutex_lock(&limit_lock);
    if (limit->last_ms != 0 && now - limit->last_ms < interval_ms) {
        limit->suppressed++;
        pthread_mutex_unlock(&limit_lock);
        return;
    }
    suppressed = limit->suppressed;
    limit->suppressed = 0;
    limit->last_ms = now;
    pthread_mutex_unlock(&limit_lock);

    va_start(ap, fmt);
    log_va(level, module, suppressed, fmt, ap);
    va_end(ap);
}
