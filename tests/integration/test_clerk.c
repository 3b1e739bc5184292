/*
 * test_clerk.c - what a ward clerk does, against the real hub and
 * database (issue 11): the same file imported twice is refused and the
 * hub's figures do not move; a running sheet exported again queues only
 * its new rows; a file copied slowly into inbox/ is imported whole, once;
 * a row the hub rejects is shown by "ward-agent status" with its file and
 * line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ROUND "R-CLERK"
#define WARD "LB05"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];
static char home[512];
static char secret_env[480], hub_key_env[400];

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static int group_setup(void **state)
{
    (void)state;
    struct it_curve curve;
    char secret_path[420];
    if (it_env_setup(&env, "wardsync_it_clerk") != 0)
        return -1;
    hub = it_start_hub(&env, NULL, endpoint, sizeof endpoint);
    if (hub <= 0)
        return -1;
    if (it_principal_keys(&env, "ward", WARD, &curve, secret_path,
                          sizeof secret_path) != 0)
        return -1;
    snprintf(secret_env, sizeof secret_env, "WARDSYNC_AGENT_SECRET_KEY=%s",
             secret_path);
    snprintf(hub_key_env, sizeof hub_key_env,
             "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s", env.hub_key);
    snprintf(home, sizeof home, "%s/clerk-home", env.workdir);
    exec_ok("INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
            " VALUES ('" ROUND "', '2024-03-01', '2024-03-31', 'open')");
    exec_ok("INSERT INTO survey_round_forms VALUES ('" ROUND
            "', 'staff', 'staff')");
    exec_ok("INSERT INTO survey_round_wards VALUES ('" ROUND "', '" WARD
            "', 20)");
    exec_ok("INSERT INTO survey_round_subjects VALUES ('" ROUND "', '" WARD
            "', '" WARD "-S01', 'staff')");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (hub > 0)
        it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

/* Runs ward-agent with the arguments (NULL-terminated, at most 6); the
 * output goes to *out when out is not NULL. Returns the exit status. */
static int agent(char **out, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5, const char *a6)
{
    const char *extra[] = {secret_env, hub_key_env,
                           "WARDSYNC_AGENT_INBOX_SETTLE_MS=1500",
                           "WARDSYNC_AGENT_INBOX_POLL_MS=200", NULL};
    const char *argv[] = {it_agent_bin, "--home", home, "--ward", WARD,
                          "--hub",      endpoint, a1,   a2,       a3,
                          a4,           a5,       a6,   NULL};
    char *output = NULL;
    int rc = it_run(argv, extra, 120, &output);
    if (out)
        *out = output;
    else
        free(output);
    return rc;
}

static void sync_until_idle(void)
{
    char *out = NULL;
    int rc =
        agent(&out, "run", "--until-idle", "--max-seconds", "60", NULL, NULL);
    if (rc != 0)
        fprintf(stderr, "ward-agent run: exit %d\n%s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
}

static void write_ballots(const char *path, int from, int to)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= 41; i++)
        fprintf(f, ",i%02d", i);
    fputc('\n', f);
    for (int b = from; b < to; b++) {
        fprintf(f, ROUND ",staff," WARD "-S01,%d,2024-03-%02d", 1 + b % 4,
                1 + b % 28);
        for (int i = 1; i <= 41; i++)
            fputs(i > 36 ? "," : (b + i) % 5 == 0 ? ",3" : ",1", f);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
}

static long hub_ballots(void)
{
    return it_query_long(env.db, "SELECT count(*) FROM ballots"
                                 " WHERE ward = '" WARD "'");
}

static long hub_ballots_received(void)
{
    return it_query_long(
        env.db, "SELECT numerator FROM indicator_values(NULL, NULL, 'all',"
                " DATE '2024-06-30', 10, 0.30, 0.50, 5, 1)"
                " WHERE code = 'ballots_received' AND org_unit = '" WARD
                "' AND period = '" ROUND "'");
}

/* The same ballots.csv imported twice: refused, named, and the hub's
 * figures stay as they were; --again is a real second batch. */
static void test_same_file_twice_is_refused(void **state)
{
    (void)state;
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/ballots.csv", env.workdir);
    write_ballots(path, 0, 12);
    assert_int_equal(agent(NULL, "import", "ballots", path, NULL, NULL, NULL),
                     0);
    sync_until_idle();
    assert_int_equal(hub_ballots(), 12);
    long received = hub_ballots_received();
    assert_int_equal(received, 12);

    assert_int_equal(agent(&out, "import", "ballots", path, NULL, NULL, NULL),
                     1);
    assert_non_null(out);
    if (!strstr(out, "already imported: the same ballots (12 rows) as "
                     "import 1 (\""))
        fail_msg("no refusal naming import 1:\n%s", out);
    free(out);
    sync_until_idle();
    assert_int_equal(hub_ballots(), 12);
    assert_int_equal(hub_ballots_received(), received);

    /* The list of imports shows the one import. */
    assert_int_equal(
        agent(&out, "imports", "--format", "json", NULL, NULL, NULL), 0);
    json_error_t jerr;
    json_t *list =
        json_loads(strstr(out, "[") ? strstr(out, "[") : out, 0, &jerr);
    free(out);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 1);
    json_t *first = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "rows")), 12);
    assert_string_equal(json_string_value(json_object_get(first, "state")),
                        "delivered");
    assert_string_equal(json_string_value(json_object_get(first, "kind")),
                        "ballots");
    json_decref(list);
}

/* A running sheet exported again: only its new rows are queued. */
static void test_grown_file_queues_only_new_rows(void **state)
{
    (void)state;
    char path[600], *out = NULL;
    static const char header[] =
        "session,held_on,host_role,mode,citizens,petitions\n";
    static const char rows[] = "LB05-R01,2024-03-04,chair,regular,5,2\n"
                               "LB05-R02,2024-03-11,chair,regular,3,1\n";
    static const char more[] = "LB05-R03,2024-03-18,chair,regular,4,0\n"
                               "LB05-R04,2024-03-25,officer,regular,1,0\n";
    char text[1024];
    snprintf(path, sizeof path, "%s/reception.csv", env.workdir);
    snprintf(text, sizeof text, "%s%s", header, rows);
    assert_int_equal(it_write_file(path, text), 0);
    assert_int_equal(agent(NULL, "import", "reception", path, NULL, NULL, NULL),
                     0);
    sync_until_idle();
    long events_before = it_query_long(
        env.db, "SELECT count(*) FROM events WHERE ward = '" WARD "'");

    snprintf(text, sizeof text, "%s%s%s", header, rows, more);
    assert_int_equal(it_write_file(path, text), 0);
    assert_int_equal(agent(&out, "import", "reception", path, NULL, NULL, NULL),
                     0);
    if (!strstr(out, "queued 2 reception events") ||
        !strstr(out, "the first 2 rows are import"))
        fail_msg("grown file not recognised:\n%s", out);
    free(out);
    sync_until_idle();
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM events"
                                           " WHERE ward = '" WARD "'"),
                     events_before + 2);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM reception_sessions"
                                   " WHERE ward = '" WARD "'"),
                     4);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A file copied into inbox/ in several writes with pauses is imported
 * whole, once. */
static void test_slow_copy_into_inbox_is_imported_whole(void **state)
{
    (void)state;
    char log[600], path[700], done[700];
    snprintf(log, sizeof log, "%s/clerk-run.log", env.workdir);
    const char *extra[] = {secret_env,
                           hub_key_env,
                           "WARDSYNC_AGENT_INBOX_SETTLE_MS=1500",
                           "WARDSYNC_AGENT_INBOX_POLL_MS=200",
                           "WARDSYNC_LOG=info",
                           NULL};
    const char *argv[] = {it_agent_bin, "--home", home,  "--ward", WARD,
                          "--hub",      endpoint, "run", NULL};
    pid_t pid = it_spawn(argv, extra, log);
    assert_true(pid > 0);

    long before = hub_ballots();
    snprintf(path, sizeof path, "%s/inbox/ballots-slow.csv", home);
    char whole[700];
    snprintf(whole, sizeof whole, "%s/ballots-slow.csv", env.workdir);
    write_ballots(whole, 100, 130);
    FILE *src = fopen(whole, "r");
    assert_non_null(src);
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, src);
    fclose(src);
    /* Four pieces, 700 ms apart, the file open for writing throughout,
     * the first piece ending in the middle of a row. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    size_t piece = len / 4 + 1;
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;
        assert_int_equal(write(fd, buf + at, n), (ssize_t)n);
        sleep_ms(700);
    }
    sleep_ms(2500); /* longer than the settle time, still open */
    snprintf(done, sizeof done, "%s/done/ballots-slow.csv", home);
    assert_int_not_equal(access(done, F_OK), 0);
    close(fd);

    for (int i = 0; i < 100 && access(done, F_OK) != 0; i++)
        sleep_ms(100);
    assert_int_equal(access(done, F_OK), 0);
    for (int i = 0; i < 100 && hub_ballots() < before + 30; i++)
        sleep_ms(100);
    it_stop(pid);
    assert_int_equal(hub_ballots(), before + 30);
    char rest[256];
    assert_int_equal(it_wait_for_log(log,
                                     "file is open for writing file="
                                     "ballots-slow.csv",
                                     1000, rest, sizeof rest),
                     0);
}

/* A ballot the hub rejects (a subject of another ward) is shown by status
 * with the file and line of its row. The agent of a new home has no
 * reference data yet (an agent that has it refuses such a row at import,
 * test_clerk_reference.c), so the row reaches the hub. */
static void test_status_names_file_and_line_of_a_rejection(void **state)
{
    (void)state;
    char path[600], *out = NULL;
    snprintf(home, sizeof home, "%s/clerk-home-new", env.workdir);
    snprintf(path, sizeof path, "%s/ballots-mixed.csv", env.workdir);
    write_ballots(path, 200, 203);
    /* Line 3 (the header is line 1) becomes a ballot for LB06's subject. */
    FILE *f = fopen(path, "r");
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    char *line3 = strchr(strchr(text, '\n') + 1, '\n') + 1;
    char *subject = strstr(line3, WARD "-S01");
    memcpy(subject, "LB06", 4);
    assert_int_equal(it_write_file(path, text), 0);
    assert_int_equal(agent(NULL, "import", "ballots", path, NULL, NULL, NULL),
                     0);
    sync_until_idle();

    assert_int_equal(
        agent(&out, "status", "--format", "json", NULL, NULL, NULL), 0);
    json_error_t jerr;
    json_t *status = json_loads(strstr(out, "{"), 0, &jerr);
    if (!status)
        fail_msg("status is not json:\n%s", out);
    free(out);
    json_t *rejected = json_object_get(status, "rejected_events");
    assert_int_equal(json_array_size(rejected), 1);
    json_t *ev = json_array_get(rejected, 0);
    assert_string_equal(json_string_value(json_object_get(ev, "file")), path);
    assert_int_equal(json_integer_value(json_object_get(ev, "line")), 3);
    assert_string_equal(json_string_value(json_object_get(ev, "kind")),
                        "ballot");
    assert_non_null(
        strstr(json_string_value(json_object_get(ev, "reason")), "LB06-S01"));
    json_decref(status);

    assert_int_equal(agent(&out, "status", NULL, NULL, NULL, NULL, NULL), 0);
    char want[700];
    snprintf(want, sizeof want, "%s:3", path);
    if (!strstr(out, want))
        fail_msg("status table does not show %s:\n%s", want, out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_file_twice_is_refused),
        cmocka_unit_test(test_grown_file_queues_only_new_rows),
        cmocka_unit_test(test_slow_copy_into_inbox_is_imported_whole),
        cmocka_unit_test(test_status_names_file_and_line_of_a_rejection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
