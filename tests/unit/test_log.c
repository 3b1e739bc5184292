/*
 * test_log.c - log line format, levels, WARDSYNC_LOG, rate limiting.
 *
 * stderr is pointed at a temporary file around each call under test and the
 * file is read back.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wardsync/log.h"

static FILE *capture_file;
static int saved_stderr = -1;

static void capture_start(void)
{
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written (caller frees). */
static char *capture_end(void)
{
    char *text;
    long size;

    assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
    close(saved_stderr);
    size = ftell(capture_file);
    assert_true(size >= 0);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    rewind(capture_file);
    assert_int_equal(fread(text, 1, (size_t)size, capture_file), size);
    fclose(capture_file);
    return text;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Runs first: main() set WARDSYNC_LOG=warn before any log call. */
static void test_env_level(void **state)
{
    char *out;

    (void)state;
    capture_start();
    ws_info("test", "hidden by WARDSYNC_LOG=warn");
    ws_warn("test", "shown");
    out = capture_end();
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "WARN test: shown"));
    free(out);
    /* An explicit level set later wins over the environment. */
    ws_log_set_level(WS_LOG_INFO);
}

static void test_line_format(void **state)
{
    regex_t re;
    char *out;

    (void)state;
    capture_start();
    ws_log(WS_LOG_INFO, "ingest", "endpoint=%s port=%d", "tcp://127.0.0.1",
           7401);
    out = capture_end();
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                             "[0-9]{2}\\.[0-9]{3}Z INFO ingest: "
                             "endpoint=tcp://127\\.0\\.0\\.1 port=7401\n$",
                             REG_EXTENDED),
                     0);
    if (regexec(&re, out, 0, NULL, 0) != 0)
        fail_msg("unexpected line: %s", out);
    regfree(&re);
    free(out);
}

static void test_levels(void **state)
{
    char *out;

    (void)state;
    capture_start();
    ws_debug("m", "debug hidden");
    ws_info("m", "info shown");
    ws_warn("m", "warn shown");
    ws_error("m", "error shown");
    ws_log_set_level(WS_LOG_ERROR);
    ws_warn("m", "warn hidden");
    ws_log_set_level(WS_LOG_DEBUG);
    ws_debug("m", "debug shown");
    ws_log_set_level(WS_LOG_INFO);
    out = capture_end();
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, " INFO m: info shown\n"));
    assert_non_null(strstr(out, " WARN m: warn shown\n"));
    assert_non_null(strstr(out, " ERROR m: error shown\n"));
    assert_non_null(strstr(out, " DEBUG m: debug shown\n"));
    assert_int_equal(count_lines(out), 4);
    free(out);
}

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(ws_log_level_parse("debug"), WS_LOG_DEBUG);
    assert_int_equal(ws_log_level_parse("INFO"), WS_LOG_INFO);
    assert_int_equal(ws_log_level_parse("warn"), WS_LOG_WARN);
    assert_int_equal(ws_log_level_parse("error"), WS_LOG_ERROR);
    assert_int_equal(ws_log_level_parse("verbose"), -1);
    assert_int_equal(ws_log_level_parse(""), -1);
    assert_int_equal(ws_log_level_parse(NULL), -1);
}

/* A message quoting untrusted input stays on one line. */
static void test_control_characters_escaped(void **state)
{
    char *out;

    (void)state;
    capture_start();
    ws_warn("ingest", "reason=%s", "bad\nERROR forged: line\x01");
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "reason=bad\\nERROR forged: line\\x01\n"));
    free(out);
}

static void test_long_message_cut(void **state)
{
    char *big = malloc(10000);
    char *out;

    (void)state;
    memset(big, 'x', 9999);
    big[9999] = '\0';
    capture_start();
    ws_info("m", "%s", big);
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    assert_true(strlen(out) < 5000);
    assert_non_null(strstr(out, "...\n"));
    free(out);
    free(big);
}

static void test_rate_limit(void **state)
{
    struct ws_log_limit limit = {0};
    char *out;

    (void)state;
    capture_start();
    for (int i = 0; i < 5; i++)
        ws_log_limited(&limit, 60000, WS_LOG_ERROR, "store",
                       "database unreachable attempt=%d", i);
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "attempt=0\n"));
    assert_int_equal(limit.suppressed, 4);
    free(out);

    /* Once the interval has passed the next line reports the dropped ones. */
    limit.last_ms -= 60001;
    capture_start();
    ws_log_limited(&limit, 60000, WS_LOG_ERROR, "store",
                   "database unreachable attempt=%d", 5);
    ws_log_limited(&limit, 60000, WS_LOG_ERROR, "store",
                   "database unreachable attempt=%d", 6);
    out = capture_end();
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "attempt=5 suppressed=4\n"));
    assert_int_equal(limit.suppressed, 1);
    free(out);

    /* A zero interval never suppresses; a hidden level is not counted. */
    struct ws_log_limit every = {0};
    capture_start();
    ws_log_limited(&every, 0, WS_LOG_WARN, "m", "a");
    ws_log_limited(&every, 0, WS_LOG_WARN, "m", "b");
    ws_log_limited(&every, 0, WS_LOG_DEBUG, "m", "hidden");
    out = capture_end();
    assert_int_equal(count_lines(out), 2);
    assert_int_equal(every.suppressed, 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_level),
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_control_characters_escaped),
        cmocka_unit_test(test_long_message_cut),
        cmocka_unit_test(test_rate_limit),
    };

    /* Read at the first log call, which is in test_env_level. */
    setenv("WARDSYNC_LOG", "warn", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
