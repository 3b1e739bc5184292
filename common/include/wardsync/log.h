/*
 * log.h - one line per event on stderr: "LEVEL module: message key=value..."
 *
 * Messages follow PostgreSQL's style: lower case, no final period.
 * Repeated failures (database down, peer gone) go through ws_log_limited,
 * which prints the first occurrence and then at most one line per interval
 * with the number suppressed in between.
 */
#ifndef WARDSYNC_LOG_H
#define WARDSYNC_LOG_H

#include <stdint.h>

enum ws_log_level {
    WS_LOG_DEBUG = 0,
    WS_LOG_INFO = 1,
    WS_LOG_WARN = 2,
    WS_LOG_ERROR = 3,
};

/* Lines below this level are not printed. Default WS_LOG_INFO; the
 * environment variable WARDSYNC_LOG=debug|info|warn|error overrides it at
 * the first call of any ws_log* function. A ws_log_set_level made after
 * that (e.g. from a --verbose flag) wins over the environment. */
void ws_log_set_level(enum ws_log_level level);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int ws_log_level_parse(const char *name);

/* Writes "2024-05-01T07:30:00.123Z LEVEL module: message" with one write(2);
 * control characters in the message are escaped (\n, \xNN) so that one
 * event is one line, and lines are cut at 4 KiB. errno is preserved. */
void ws_log(enum ws_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rate limiter for one kind of repeated message; zero-initialise it
 * (static struct ws_log_limit lim;) and pass it to ws_log_limited. */
struct ws_log_limit {
    int64_t last_ms;
    uint64_t suppressed;
};

/* Like ws_log, but prints at most one line per interval_ms for this limiter;
 * the next printed line ends with "suppressed=N" when lines were dropped. */
void ws_log_limited(struct ws_log_limit *limit, int64_t interval_ms,
                    enum ws_log_level level, const char *module,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define ws_debug(module, ...) ws_log(WS_LOG_DEBUG, module, __VA_ARGS__)
#define ws_info(module, ...) ws_log(WS_LOG_INFO, module, __VA_ARGS__)
#define ws_warn(module, ...) ws_log(WS_LOG_WARN, module, __VA_ARGS__)
#define ws_error(module, ...) ws_log(WS_LOG_ERROR, module, __VA_ARGS__)

#endif
