/*
 * test_cmdline.c - the district-hub command line (docs/contracts.md): every
 * command answers --help with its usage, and each kind of failure ends in
 * its exit code (0 ok, 1 bad input, 2 usage, 3 database or I/O), whether
 * it is found while parsing (cmd/) or by the module a command calls and
 * mapped by cmd/cmd.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int group_setup(void **state)
{
    (void)state;
    return it_env_setup(&env, "wardsync_it_cmdline") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    it_env_teardown(&env);
    return 0;
}

/* Runs the hub with --database and the NULL-terminated arguments that
 * follow, and fails unless it exits with want and its output (stdout and
 * stderr) holds needle. */
static void expect(int want, const char *needle, const char *database, ...)
{
    const char *argv[32] = {it_hub_bin, "--database", database};
    size_t n = 3;
    va_list ap;
    va_start(ap, database);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = arg;
    va_end(ap);
    argv[n] = NULL;
    char *out = NULL;
    int rc = it_run(argv, NULL, 60, &out);
    if (rc != want || !out || !strstr(out, needle))
        fail_msg("%s: exit %d (want %d), output without \"%s\":\n%s",
                 argv[3] ? argv[3] : "", rc, want, needle, out ? out : "");
    free(out);
}

static void test_every_command_prints_its_usage(void **state)
{
    (void)state;
    static const char *const commands[] = {"migrate", "run",    "indicators",
                                           "round",   "status", "report",
                                           "keygen",  "enroll", "revoke"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, " %s ", commands[i]);
        if (strcmp(commands[i], "migrate") == 0)
            snprintf(want, sizeof want, " migrate\n");
        expect(0, want, env.conninfo, commands[i], "--help", NULL);
        expect(0, "usage: district-hub", env.conninfo, commands[i], "-h", NULL);
        /* An unknown option (for round: an unknown round command) is
         * named, then the usage: exit 2. */
        expect(2, "unknown", env.conninfo, commands[i], "--bogus", NULL);
    }
    expect(0, "commands:", env.conninfo, "--help", NULL);
    expect(2, "unknown command \"bogus\"", env.conninfo, "bogus", NULL);
}

static void test_usage_errors_exit_2(void **state)
{
    (void)state;
    /* Found while parsing. */
    expect(2, "district-hub round: no round command given", env.conninfo,
           "round", NULL);
    expect(2, "bad --silent-after \"0\"", env.conninfo, "status",
           "--silent-after", "0", NULL);
    expect(2, "enroll wants --ward or --city, and --key", env.conninfo,
           "enroll", "--ward", "LB01", NULL);
    expect(2, "ward", env.conninfo, "enroll", "--ward", "bad code!", "--key",
           "/nonexistent", NULL);
    /* Found by the module past parsing: -EDOM. */
    expect(2, "unknown format \"xml\"", env.conninfo, "indicators", "--format",
           "xml", NULL);
    expect(2, "--period: cannot read \"2024-13\"", env.conninfo, "indicators",
           "--period", "2024-13", NULL);
    expect(2, "unknown format \"xml\"", env.conninfo, "status", "--format",
           "xml", NULL);
    expect(2, "could not bind \"bogus://x\"", env.conninfo, "run", "--insecure",
           "--ingest", "bogus://x", NULL);
}

static void test_bad_input_exits_1(void **state)
{
    (void)state;
    expect(1, "NOPE", env.conninfo, "round", "open", "NOPE", NULL);
    expect(1, "no active key matches principal=city:nobody", env.conninfo,
           "revoke", "--city", "nobody", NULL);
    char path[400];
    snprintf(path, sizeof path, "%s/rounds.csv", env.workdir);
    assert_int_equal(it_write_file(path, "record,round,a,b,c\n"
                                         "round,R9,2024-01-01,bad,x\n"),
                     0);
    expect(1, "rounds.csv:2: round dates must be YYYY-MM-DD", env.conninfo,
           "round", "create", "--file", path, NULL);
}

static void test_database_and_io_errors_exit_3(void **state)
{
    (void)state;
    const char *down = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
    static const char *const commands[] = {"migrate", "status", "indicators",
                                           "report"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        expect(3, "could not connect", down, commands[i], NULL);
    expect(3, "could not connect", down, "round", "show", NULL);
    expect(3, "could not open \"/nonexistent/dir/r.html.tmp\"", env.conninfo,
           "report", "-o", "/nonexistent/dir/r.html", NULL);
}

static void test_round_commands_succeed(void **state)
{
    (void)state;
    expect(0, "round created code=R1", env.conninfo, "round", "create", "R1",
           "--opens", "2024-01-01", "--closes", "2024-12-31", "--label",
           "first", NULL);
    expect(0, "round open code=R1", env.conninfo, "round", "open", "R1", NULL);
    /* The operand may follow the options. */
    expect(0, "\"state\": \"open\"", env.conninfo, "round", "show", "--format",
           "json", "R1", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command_prints_its_usage),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_bad_input_exits_1),
        cmocka_unit_test(test_database_and_io_errors_exit_3),
        cmocka_unit_test(test_round_commands_succeed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
