/*
 * test_config.c - INI files, defaults, environment overrides, integers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wardsync/config.h"

#define AGENT_INI WS_TEST_DATA "/config_agent.ini"

static struct ws_config *load_agent(void)
{
    struct ws_config *cfg = NULL;
    char err[256] = "";

    if (ws_config_load(AGENT_INI, &cfg, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return cfg;
}

static void test_values(void **state)
{
    struct ws_config *cfg = load_agent();

    (void)state;
    assert_string_equal(ws_config_get(cfg, "agent", "ward", NULL), "LB01");
    assert_string_equal(ws_config_get(cfg, "agent", "hub", NULL),
                        "tcp://127.0.0.1:7401");
    /* Inline comments are stripped. */
    assert_string_equal(ws_config_get(cfg, "agent", "home", NULL),
                        "/var/lib/wardsync/agent");
    assert_string_equal(
        ws_config_get(cfg, "hub", "database", NULL),
        "host=127.0.0.1 port=54329 dbname=wardsync user=wardsync_owner");
    /* Section and key names compare without case. */
    assert_string_equal(ws_config_get(cfg, "AGENT", "inbox_poll_ms", NULL),
                        "1000");
    /* The later of two values wins. */
    assert_string_equal(ws_config_get(cfg, "hub", "ward", NULL),
                        "duplicate-second");
    ws_config_destroy(&cfg);
    assert_null(cfg);
    ws_config_destroy(&cfg);
    ws_config_destroy(NULL);
}

static void test_defaults(void **state)
{
    struct ws_config *cfg = load_agent();

    (void)state;
    assert_string_equal(ws_config_get(cfg, "agent", "missing", "dflt"), "dflt");
    assert_null(ws_config_get(cfg, "nosection", "ward", NULL));
    /* "catalogue =" (empty) means the default. */
    assert_string_equal(ws_config_get(cfg, "agent", "catalogue", "builtin"),
                        "builtin");
    /* No config at all: defaults only. */
    assert_string_equal(ws_config_get(NULL, "agent", "ward", "LB99"), "LB99");
    ws_config_destroy(&cfg);
}

static void test_env_override(void **state)
{
    struct ws_config *cfg = load_agent();
    int64_t v;
    char err[128];

    (void)state;
    setenv("WARDSYNC_AGENT_WARD", "LB07", 1);
    setenv("WARDSYNC_AGENT_BATCH_SIZE", "50", 1);
    setenv("WARDSYNC_HUB_MAX_FRAME", "", 1);
    setenv("WARDSYNC_AGENT_NEW_KEY", "from-env", 1);
    assert_string_equal(ws_config_get(cfg, "agent", "ward", NULL), "LB07");
    assert_int_equal(ws_config_get_int(cfg, "agent", "batch_size", 1, 1, 1000,
                                       &v, err, sizeof(err)),
                     0);
    assert_int_equal(v, 50);
    /* An empty variable does not override. */
    assert_int_equal(ws_config_get_int(cfg, "hub", "max_frame", 0, 1, INT64_MAX,
                                       &v, err, sizeof(err)),
                     0);
    assert_int_equal(v, 16777216);
    /* A key only in the environment; also with no config at all. */
    assert_string_equal(ws_config_get(cfg, "agent", "new_key", NULL),
                        "from-env");
    assert_string_equal(ws_config_get(NULL, "agent", "new_key", NULL),
                        "from-env");
    unsetenv("WARDSYNC_AGENT_WARD");
    unsetenv("WARDSYNC_AGENT_BATCH_SIZE");
    unsetenv("WARDSYNC_HUB_MAX_FRAME");
    unsetenv("WARDSYNC_AGENT_NEW_KEY");
    assert_string_equal(ws_config_get(cfg, "agent", "ward", NULL), "LB01");
    ws_config_destroy(&cfg);
}

static void test_get_int(void **state)
{
    struct ws_config *cfg = load_agent();
    int64_t v = 0;
    char err[512] = "";

    (void)state;
    assert_int_equal(ws_config_get_int(cfg, "agent", "batch_size", 1, 1, 10000,
                                       &v, err, sizeof(err)),
                     0);
    assert_int_equal(v, 500);
    assert_int_equal(ws_config_get_int(cfg, "agent", "absent", 42, 1, 100, &v,
                                       err, sizeof(err)),
                     0);
    assert_int_equal(v, 42);
    assert_int_equal(ws_config_get_int(cfg, "agent", "batch_size", 1, 1, 100,
                                       &v, err, sizeof(err)),
                     -EINVAL);
    /* A bad value names the file, the line and the key. */
    assert_string_equal(
        err,
        AGENT_INI ":6: agent.batch_size: 500 is out of range, want 1..100");
    assert_int_equal(ws_config_get_int(cfg, "agent", "ack_timeout_ms", 1, 1,
                                       100, &v, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, AGENT_INI ":7: agent.ack_timeout_ms: "
                                       "\"not-a-number\" is not an integer");
    setenv("WARDSYNC_AGENT_ACK_TIMEOUT_MS", "99999999999999999999", 1);
    assert_int_equal(ws_config_get_int(cfg, "agent", "ack_timeout_ms", 1, 1,
                                       100, &v, err, sizeof(err)),
                     -EINVAL);
    /* ... or the environment variable it came from. */
    assert_string_equal(err, "environment WARDSYNC_AGENT_ACK_TIMEOUT_MS: "
                             "\"99999999999999999999\" is not an integer");
    setenv("WARDSYNC_AGENT_ACK_TIMEOUT_MS", "12abc", 1);
    assert_int_equal(ws_config_get_int(cfg, "agent", "ack_timeout_ms", 1, 1,
                                       100, &v, err, sizeof(err)),
                     -EINVAL);
    setenv("WARDSYNC_AGENT_ACK_TIMEOUT_MS", "-5", 1);
    assert_int_equal(ws_config_get_int(cfg, "agent", "ack_timeout_ms", 1, -10,
                                       100, &v, err, sizeof(err)),
                     0);
    assert_int_equal(v, -5);
    unsetenv("WARDSYNC_AGENT_ACK_TIMEOUT_MS");
    ws_config_destroy(&cfg);
}

static void test_load_errors(void **state)
{
    struct ws_config *cfg = (void *)1;
    char err[256] = "";

    (void)state;
    assert_int_equal(
        ws_config_load(WS_TEST_DATA "/no_such.ini", &cfg, err, sizeof(err)),
        -ENOENT);
    assert_null(cfg);
    assert_non_null(strstr(err, "could not open file"));

    assert_int_equal(ws_config_load(WS_TEST_DATA "/config_syntax_error.ini",
                                    &cfg, err, sizeof(err)),
                     -EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(err, "config_syntax_error.ini:3: "));

    assert_int_equal(ws_config_load(WS_TEST_DATA "/config_long_line.ini", &cfg,
                                    err, sizeof(err)),
                     -EINVAL);
    assert_null(cfg);
    assert_non_null(strstr(err, "config_long_line.ini:3: line longer than"));
}

/* The line of a key given twice is that of its later value; a key that
 * is absent has no line. */
static void test_where(void **state)
{
    struct ws_config *cfg = load_agent();
    char where[512];

    (void)state;
    assert_int_equal(ws_config_where(cfg, "hub", "ward", where, sizeof where),
                     0);
    assert_string_equal(where, AGENT_INI ":15: hub.ward");
    assert_int_equal(
        ws_config_where(cfg, "agent", "inbox_poll_ms", where, sizeof where), 0);
    assert_string_equal(where, AGENT_INI ":8: agent.inbox_poll_ms");
    ws_config_where(cfg, "agent", "absent", where, sizeof where);
    assert_string_equal(where, "agent.absent");
    assert_int_equal(ws_config_where(cfg, "agent", "absent", where, 8),
                     -ENAMETOOLONG);
    ws_config_destroy(&cfg);
}

static void test_check_keys(void **state)
{
    static const char *const agent[] = {
        "ward",           "hub",           "home",      "batch_size",
        "ack_timeout_ms", "inbox_poll_ms", "catalogue", NULL};
    static const char *const agent_hub[] = {"ward",           "hub",
                                            "home",           "batch_size",
                                            "ack_timeout_ms", "inbox_poll_ms",
                                            "catalogue",      "max_frame",
                                            "database",       NULL};
    struct ws_config *cfg = load_agent();
    struct ws_config *none = NULL;
    char err[512] = "";

    (void)state;
    /* The [hub] section of the agent's file is not the agent's. */
    assert_int_equal(ws_config_check_keys(cfg, "agent", agent, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, AGENT_INI ":12: unknown section [hub] (key "
                                       "\"max_frame\"), want [agent]");
    ws_config_destroy(&cfg);

    assert_int_equal(ws_config_load(WS_TEST_DATA "/config_unknown_key.ini",
                                    &cfg, err, sizeof err),
                     0);
    assert_int_equal(
        ws_config_check_keys(cfg, "agent", agent_hub, err, sizeof err),
        -EINVAL);
    assert_string_equal(err, WS_TEST_DATA
                        "/config_unknown_key.ini:4: unknown key \"bach_size\" "
                        "in [agent]");
    ws_config_destroy(&cfg);

    assert_int_equal(ws_config_load(WS_TEST_DATA "/config_no_section.ini", &cfg,
                                    err, sizeof err),
                     0);
    assert_int_equal(ws_config_check_keys(cfg, "agent", agent, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, WS_TEST_DATA
                        "/config_no_section.ini:2: key \"ward\" outside any "
                        "section, want it under [agent]");
    ws_config_destroy(&cfg);

    /* Known keys in any case pass, and so does no file at all. */
    assert_int_equal(
        ws_config_load(WS_TEST_DATA "/config_known.ini", &cfg, err, sizeof err),
        0);
    assert_int_equal(ws_config_check_keys(cfg, "agent", agent, err, sizeof err),
                     0);
    ws_config_destroy(&cfg);
    assert_int_equal(ws_config_load(NULL, &none, err, sizeof err), 0);
    assert_int_equal(
        ws_config_check_keys(none, "agent", agent, err, sizeof err), 0);
    ws_config_destroy(&none);
}

static void test_null_path(void **state)
{
    struct ws_config *cfg = NULL;
    char err[64];

    (void)state;
    assert_int_equal(ws_config_load(NULL, &cfg, err, sizeof(err)), 0);
    assert_non_null(cfg);
    assert_string_equal(ws_config_get(cfg, "hub", "ingest", "tcp://*:7401"),
                        "tcp://*:7401");
    ws_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),       cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_override), cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_load_errors),  cmocka_unit_test(test_null_path),
        cmocka_unit_test(test_where),        cmocka_unit_test(test_check_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
