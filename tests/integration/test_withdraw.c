/*
 * test_withdraw.c - a clerk takes back a wrong import (issue 11 item 4,
 * docs/DESIGN.md §4, §6), against the real agent, hub and database.
 *
 * LB05's clerk imports the right files, syncs and the figures are noted;
 * then imports a wrong ballots file and a wrong petitions file, syncs, and
 * the figures move; "ward-agent withdraw" takes both back, and after the
 * next sync every indicator is exactly what it was, the withdrawn events
 * are still in the hub's log (marked), the city pull sees a correction
 * and a tombstone, and "ward-agent imports" says "withdrawn". Withdrawing
 * again changes nothing. A hand-made Withdrawal naming LB06's event is
 * rejected with its reason and LB06's figures do not move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"
#include "wardsync/util.h"
#include "wardsync/v1/pull.pb-c.h"

#define ROUND "R-WD"
#define WARD "LB05"
#define OTHER "LB06"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];
static char pull_endpoint[128];
static struct it_curve city;

/* One agent home per ward. */
struct ward_agent {
    const char *ward;
    char home[512];
    char secret_env[480];
};
static struct ward_agent clerk = {.ward = WARD}, other = {.ward = OTHER};
static char hub_key_env[400];

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

/* The first column of the first row as a malloc'd string ("" when NULL). */
static char *query_text(const char *sql)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
        fail();
    }
    char *text = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    assert_non_null(text);
    return text;
}

static int agent_keys(struct ward_agent *a)
{
    struct it_curve curve;
    char secret_path[420];
    if (it_principal_keys(&env, "ward", a->ward, &curve, secret_path,
                          sizeof secret_path) != 0)
        return -1;
    snprintf(a->secret_env, sizeof a->secret_env,
             "WARDSYNC_AGENT_SECRET_KEY=%s", secret_path);
    snprintf(a->home, sizeof a->home, "%s/home-%s", env.workdir, a->ward);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_withdraw") != 0)
        return -1;
    char hub_log[512], rest[256], city_secret[512];
    hub = it_start_hub_mode(&env, NULL, false, endpoint, sizeof endpoint,
                            hub_log, sizeof hub_log);
    if (hub <= 0 || agent_keys(&clerk) != 0 || agent_keys(&other) != 0)
        return -1;
    if (it_wait_for_log(hub_log, "pull endpoint=", 20000, rest, sizeof rest) !=
            0 ||
        sscanf(rest, "%127s", pull_endpoint) != 1 ||
        it_principal_keys(&env, "city", "HN", &city, city_secret,
                          sizeof city_secret) != 0)
        return -1;
    snprintf(hub_key_env, sizeof hub_key_env,
             "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s", env.hub_key);
    exec_ok("INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
            " VALUES ('" ROUND "', '2024-03-01', '2024-03-31', 'open')");
    exec_ok("INSERT INTO survey_round_forms VALUES ('" ROUND
            "', 'staff', 'staff')");
    exec_ok("INSERT INTO survey_round_wards VALUES ('" ROUND "', '" WARD
            "', 20), ('" ROUND "', '" OTHER "', 10)");
    exec_ok("INSERT INTO survey_round_subjects VALUES"
            " ('" ROUND "', '" WARD "', '" WARD "-S01', 'staff'),"
            " ('" ROUND "', '" WARD "', '" WARD "-S02', 'staff'),"
            " ('" ROUND "', '" OTHER "', '" OTHER "-S01', 'staff')");
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

/* Runs ward-agent for a with the arguments (NULL-terminated, at most 5);
 * the output goes to *out when out is not NULL. Returns the exit status. */
static int agent(const struct ward_agent *a, char **out, const char *a1,
                 const char *a2, const char *a3, const char *a4, const char *a5)
{
    const char *extra[] = {a->secret_env, hub_key_env, NULL};
    const char *argv[] = {it_agent_bin, "--home", a->home, "--ward", a->ward,
                          "--hub",      endpoint, a1,      a2,       a3,
                          a4,           a5,       NULL};
    char *output = NULL;
    int rc = it_run(argv, extra, 120, &output);
    if (out)
        *out = output;
    else
        free(output);
    return rc;
}

static void sync_until_idle(const struct ward_agent *a)
{
    char *out = NULL;
    int rc = agent(a, &out, "run", "--until-idle", "--max-seconds", "60", NULL);
    if (rc != 0)
        fprintf(stderr, "ward-agent run: exit %d\n%s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
}

static void import_ok(const struct ward_agent *a, const char *kind,
                      const char *path)
{
    char *out = NULL;
    int rc = agent(a, &out, "import", kind, path, NULL, NULL);
    if (rc != 0)
        fail_msg("import %s %s: exit %d\n%s", kind, path, rc, out);
    free(out);
}

/* n staff ballots for subject, from ballot number from on; heavy gives
 * every item level 3 (a subject that reaches the flag rule). */
static void write_ballots(const char *path, const char *subject, int from,
                          int n, bool heavy)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= 41; i++)
        fprintf(f, ",i%02d", i);
    fputc('\n', f);
    for (int b = from; b < from + n; b++) {
        fprintf(f, ROUND ",staff,%s,%d,2024-03-%02d", subject, 1 + b % 4,
                1 + b % 28);
        for (int i = 1; i <= 41; i++)
            fputs(i > 36 ? "," : heavy ? ",3" : b + i < 7 ? ",2" : ",1", f);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
}

static const char petitions_header[] =
    "petition,kind,channel,status,in_jurisdiction,received_on,due_on,"
    "changed_on,note\n";

/* Every indicator row of the clerk's ward and of the other ward and of
 * the rollups above them, but sync_lag (it moves with the clock), as one
 * text: equal texts are equal figures. */
static char *figures(void)
{
    return query_text(
        "SELECT string_agg(concat_ws('|', code, org_unit, period, "
        "coalesce(numerator::text, '-'), coalesce(denominator::text, '-'), "
        "coalesce(value::text, '-'), suppressed), E'\\n' "
        "ORDER BY code, org_unit, period) "
        "FROM indicator_values(NULL, NULL, 'all', DATE '2024-06-30', 10, "
        "0.30, 0.50, 5, 1) WHERE code <> 'sync_lag'");
}

static long figure(const char *code, const char *unit)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(numerator), 0)::bigint FROM "
             "indicator_values(NULL, NULL, 'all', DATE '2024-06-30', 10, "
             "0.30, 0.50, 5, 1) WHERE code = '%s' AND org_unit = '%s'",
             code, unit);
    return it_query_long(env.db, sql);
}

static json_t *imports_json(const struct ward_agent *a)
{
    char *out = NULL;
    assert_int_equal(agent(a, &out, "imports", "--format", "json", NULL, NULL),
                     0);
    json_error_t jerr;
    json_t *list =
        json_loads(strstr(out, "[") ? strstr(out, "[") : out, 0, &jerr);
    if (!list)
        fail_msg("imports is not json:\n%s", out);
    free(out);
    return list;
}

static const char *state_of(json_t *list, long id)
{
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i);
        if (json_integer_value(json_object_get(item, "id")) == id)
            return json_string_value(json_object_get(item, "state"));
    }
    return "(no such import)";
}

/* What a city pull of dataset since cursor (updated to the new cursor)
 * says of each row key: "insert", "update" or "delete", as one JSON
 * object. */
static json_t *pull_ops(const char *dataset, char cursor[64])
{
    json_t *ops = json_object();
    for (int pages = 0;; pages++) {
        assert_true(pages < 100);
        void *ctx = zmq_ctx_new();
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, city.server_z85, 41);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, city.public_z85, 41);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, city.secret_z85, 41);
        assert_int_equal(zmq_connect(s, pull_endpoint), 0);
        Wardsync__V1__PullRequest req = WARDSYNC__V1__PULL_REQUEST__INIT;
        req.protocol = 1;
        req.dataset = (char *)dataset;
        req.scope = "";
        req.since = cursor;
        uint8_t buf[512];
        size_t len = wardsync__v1__pull_request__pack(&req, buf);
        assert_true(zmq_send(s, buf, len, 0) >= 0);
        Wardsync__V1__PullPage *page = NULL;
        zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 60000) == 1) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, s, 0) >= 0)
                page = wardsync__v1__pull_page__unpack(NULL, zmq_msg_size(&msg),
                                                       zmq_msg_data(&msg));
            zmq_msg_close(&msg);
        }
        zmq_close(s);
        zmq_ctx_term(ctx);
        assert_non_null(page);
        assert_string_equal(page->error, "");
        for (size_t r = 0; r < page->n_rows; r++) {
            const char *op =
                page->rows[r]->op == WARDSYNC__V1__ROW_OP__ROW_OP_INSERT
                    ? "insert"
                : page->rows[r]->op == WARDSYNC__V1__ROW_OP__ROW_OP_DELETE
                    ? "delete"
                    : "update";
            json_object_set_new(ops, page->rows[r]->key, json_string(op));
        }
        snprintf(cursor, 64, "%s", page->next_cursor);
        bool more = page->more;
        wardsync__v1__pull_page__free_unpacked(page, NULL);
        if (!more)
            break;
    }
    return ops;
}

static void expect_op(json_t *ops, const char *key, const char *op)
{
    json_t *got = json_object_get(ops, key);
    if (!got || strcmp(json_string_value(got), op) != 0) {
        char *text = json_dumps(ops, JSON_SORT_KEYS);
        fail_msg("pull: %s is %s, want %s, in %s", key,
                 got ? json_string_value(got) : "(absent)", op, text);
    }
}

static char good_ballots[600], wrong_ballots[600], good_petitions[600],
    wrong_petitions[600];

/* The clerk's day: right files, a wrong one of each, withdraw, figures
 * back exactly. */
static void test_withdraw_takes_a_wrong_import_out_of_every_figure(void **state)
{
    (void)state;
    char *out = NULL;

    /* The right files: 4 ballots, one petition accepted. Imports 1, 2. */
    snprintf(good_ballots, sizeof good_ballots, "%s/ballots-good.csv",
             env.workdir);
    write_ballots(good_ballots, WARD "-S01", 0, 4, false);
    import_ok(&clerk, "ballots", good_ballots);
    snprintf(good_petitions, sizeof good_petitions, "%s/petitions-good.csv",
             env.workdir);
    char text[2048];
    snprintf(text, sizeof text,
             "%s" WARD "/P1,complaint,in_person,received,yes,2024-03-04,,"
             "2024-03-04,\n" WARD "/P1,complaint,in_person,accepted,yes,"
             "2024-03-04,,2024-03-06,\n",
             petitions_header);
    assert_int_equal(it_write_file(good_petitions, text), 0);
    import_ok(&clerk, "petitions", good_petitions);
    sync_until_idle(&clerk);
    char *before = figures();
    assert_int_equal(figure("ballots_received", WARD), 4);
    assert_int_equal(figure("petitions_received", WARD), 1);
    assert_int_equal(figure("petitions_in_jurisdiction", WARD), 1);
    assert_int_equal(figure("petitions_resolved", WARD), 0);
    long p1_change = it_query_long(env.db, "SELECT change_seq FROM petitions"
                                           " WHERE petition = '" WARD "/P1'");

    /* The wrong files: 12 heavy ballots of S02 (flagged), P1 resolved and
     * a new petition P2. Imports 3, 4. */
    snprintf(wrong_ballots, sizeof wrong_ballots, "%s/ballots-wrong.csv",
             env.workdir);
    write_ballots(wrong_ballots, WARD "-S02", 100, 12, true);
    import_ok(&clerk, "ballots", wrong_ballots);
    snprintf(wrong_petitions, sizeof wrong_petitions, "%s/petitions-wrong.csv",
             env.workdir);
    snprintf(text, sizeof text,
             "%s" WARD "/P1,complaint,in_person,resolved,yes,2024-03-04,,"
             "2024-03-20,\n" WARD "/P2,denunciation,post,accepted,yes,"
             "2024-03-05,,2024-03-07,\n",
             petitions_header);
    assert_int_equal(it_write_file(wrong_petitions, text), 0);
    import_ok(&clerk, "petitions", wrong_petitions);
    sync_until_idle(&clerk);
    assert_int_equal(figure("ballots_received", WARD), 16);
    assert_int_equal(figure("subjects_flagged", WARD), 1);
    assert_int_equal(figure("petitions_received", WARD), 2);
    assert_int_equal(figure("petitions_resolved", WARD), 1);
    char *during = figures();
    assert_string_not_equal(during, before);
    free(during);
    /* Where the city's pulls stand before the withdrawal. */
    char petitions_cursor[64] = "", indicators_cursor[64] = "";
    json_decref(pull_ops("petitions", petitions_cursor));
    json_decref(pull_ops("indicators", indicators_cursor));

    /* Take both back. Before the sync the imports say so. */
    assert_int_equal(agent(&clerk, &out, "withdraw", "3", "--reason",
                           "ballots of the wrong subject", NULL),
                     0);
    if (!strstr(out, "withdrew import 3 (") ||
        !strstr(out, "queued 1 withdrawal of its 12 events"))
        fail_msg("withdraw said:\n%s", out);
    free(out);
    assert_int_equal(agent(&clerk, NULL, "withdraw", "4", NULL, NULL, NULL), 0);
    json_t *list = imports_json(&clerk);
    assert_string_equal(state_of(list, 3), "withdrawal queued");
    assert_string_equal(state_of(list, 1), "delivered");
    json_decref(list);
    /* Nothing moved at the hub yet. */
    assert_int_equal(figure("ballots_received", WARD), 16);

    sync_until_idle(&clerk);
    char *after = figures();
    assert_string_equal(after, before);
    free(after);
    free(before);
    assert_int_equal(figure("ballots_received", WARD), 4);
    assert_int_equal(figure("subjects_flagged", WARD), 0);
    assert_int_equal(figure("petitions_received", WARD), 1);
    assert_int_equal(figure("petitions_resolved", WARD), 0);

    /* The hub keeps the events, marked, and the tallies hold no trace. */
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM events WHERE ward = '"
                                   "" WARD "' AND withdrawn_at IS NOT NULL"),
                     14);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM ballots WHERE"
                                           " ward = '" WARD "'"),
                     4);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM ballot_counts"
                                           " WHERE subject = '" WARD "-S02'"),
                     0);
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM withdrawals w JOIN events e"
                              " USING (event_id) WHERE w.ward = '" WARD
                              "' AND e.kind = 'withdrawal' AND w.reason ="
                              " 'ballots of the wrong subject'"
                              " AND w.named = 12 AND w.withdrawn = 12"),
        1);
    char *p1 =
        query_text("SELECT status || ' ' || (petition_dates.resolved_on"
                   " IS NULL) FROM petitions JOIN petition_dates"
                   " USING (ward, petition) WHERE petition = '" WARD "/P1'");
    assert_string_equal(p1, "accepted true");
    free(p1);

    /* The city pull: P1 corrected (a new change number), P2 gone. */
    assert_true(it_query_long(env.db,
                              "SELECT change_seq FROM petitions"
                              " WHERE petition = '" WARD "/P1'") > p1_change);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM pull_tombstones WHERE"
                                   " dataset = 'petitions' AND row_key = '" WARD
                                   "/" WARD "/P2'"),
                     1);

    /* The city's next pulls: P1 corrected, P2 deleted, the ward's
     * ballot count corrected. */
    json_t *ops = pull_ops("petitions", petitions_cursor);
    expect_op(ops, WARD "/" WARD "/P1", "update");
    expect_op(ops, WARD "/" WARD "/P2", "delete");
    json_decref(ops);
    ops = pull_ops("indicators", indicators_cursor);
    expect_op(ops, "ballots_received/" WARD "/" ROUND, "update");
    expect_op(ops, "subjects_flagged/" WARD "/" ROUND, "update");
    expect_op(ops, "petitions_received/" WARD "/all", "update");
    json_decref(ops);

    list = imports_json(&clerk);
    assert_string_equal(state_of(list, 3), "withdrawn");
    assert_string_equal(state_of(list, 4), "withdrawn");
    json_t *third = json_array_get(list, 2);
    assert_string_equal(
        json_string_value(json_object_get(third, "withdraw_reason")),
        "ballots of the wrong subject");
    assert_true(json_integer_value(json_object_get(third, "withdrawn_at_ms")) >
                0);
    assert_true(json_is_null(
        json_object_get(json_array_get(list, 0), "withdrawn_at_ms")));
    json_decref(list);
    assert_int_equal(agent(&clerk, &out, "imports", NULL, NULL, NULL, NULL), 0);
    if (!strstr(out, "withdrawn"))
        fail_msg("imports table:\n%s", out);
    free(out);
}

/* Withdrawing again is a no-op that says so; an unknown import is bad
 * input; the withdrawn file may be imported again. */
static void test_withdraw_twice_and_import_again(void **state)
{
    (void)state;
    char *out = NULL;
    long events = it_query_long(env.db, "SELECT count(*) FROM events");
    assert_int_equal(agent(&clerk, &out, "withdraw", "3", NULL, NULL, NULL), 0);
    if (!strstr(out, "import 3 (") ||
        !strstr(out, "was already withdrawn on") ||
        !strstr(out, "nothing queued"))
        fail_msg("second withdraw said:\n%s", out);
    free(out);
    assert_int_equal(agent(&clerk, &out, "withdraw", "99", NULL, NULL, NULL),
                     1);
    if (!strstr(out, "no import 99"))
        fail_msg("unknown import said:\n%s", out);
    free(out);
    assert_int_equal(agent(&clerk, NULL, "withdraw", "x", NULL, NULL, NULL), 2);
    sync_until_idle(&clerk);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM events"),
                     events);

    /* The wrong petitions file, withdrawn, is no longer "already
     * imported", and its rows are no longer repeats. */
    assert_int_equal(
        agent(&clerk, &out, "import", "petitions", wrong_petitions, NULL, NULL),
        0);
    if (!strstr(out, "queued 2 petitions events"))
        fail_msg("import again said:\n%s", out);
    free(out);
    sync_until_idle(&clerk);
    assert_int_equal(figure("petitions_received", WARD), 2);
    assert_int_equal(figure("petitions_resolved", WARD), 1);
}

/* The id of the clerk's import of file path (the newest one). */
static long import_id_of(const char *path)
{
    json_t *list = imports_json(&clerk);
    long id = -1;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_array_get(list, i);
        if (strcmp(json_string_value(json_object_get(item, "file")), path) == 0)
            id = (long)json_integer_value(json_object_get(item, "id"));
    }
    json_decref(list);
    assert_true(id > 0);
    return id;
}

static void withdraw_ok(const char *path)
{
    char id[24], *out = NULL;
    snprintf(id, sizeof id, "%ld", import_id_of(path));
    int rc = agent(&clerk, &out, "withdraw", id, NULL, NULL, NULL);
    if (rc != 0)
        fail_msg("withdraw %s: exit %d\n%s", id, rc, out);
    free(out);
}

static char *sessions_and_plans(void)
{
    return query_text(
        "SELECT concat_ws(E'\n', (SELECT string_agg(concat_ws('|', session, "
        "held_on, host_role, citizens, petitions, last_event_id), ';' ORDER BY "
        "session) FROM reception_sessions WHERE ward = '" WARD "'), "
        "(SELECT string_agg(concat_ws('|', survey, subject, status, due_on, "
        "last_event_id), ';' ORDER BY subject) FROM remediation_plans WHERE "
        "ward = '" WARD "'))");
}

/* A reception session corrected by the wrong file goes back to its
 * earlier version, one the wrong file made goes; the same for remediation
 * plans, whose completion date goes with the withdrawn completion. */
static void test_withdraw_puts_sessions_and_plans_back(void **state)
{
    (void)state;
    char good_r[600], good_m[600], wrong_r[600], wrong_m[600];
    static const char r_header[] =
        "session,held_on,host_role,mode,citizens,petitions\n";
    static const char m_header[] = "survey,subject,status,due_on,changed_on\n";
    char text[1024];
    snprintf(good_r, sizeof good_r, "%s/reception-good.csv", env.workdir);
    snprintf(text, sizeof text, "%s" WARD "-R01,2024-03-04,chair,regular,5,2\n",
             r_header);
    assert_int_equal(it_write_file(good_r, text), 0);
    import_ok(&clerk, "reception", good_r);
    snprintf(good_m, sizeof good_m, "%s/remediation-good.csv", env.workdir);
    snprintf(text, sizeof text,
             "%s" ROUND "," WARD "-S01,submitted,2024-04-30,2024-03-10\n",
             m_header);
    assert_int_equal(it_write_file(good_m, text), 0);
    import_ok(&clerk, "remediation", good_m);
    sync_until_idle(&clerk);
    char *before = figures(), *rows_before = sessions_and_plans();
    assert_int_equal(figure("reception_citizens", WARD), 5);

    snprintf(wrong_r, sizeof wrong_r, "%s/reception-wrong.csv", env.workdir);
    snprintf(text, sizeof text,
             "%s" WARD "-R01,2024-03-04,chair,regular,50,9\n" WARD
             "-R02,2024-03-11,chair,ad_hoc,3,1\n",
             r_header);
    assert_int_equal(it_write_file(wrong_r, text), 0);
    import_ok(&clerk, "reception", wrong_r);
    snprintf(wrong_m, sizeof wrong_m, "%s/remediation-wrong.csv", env.workdir);
    snprintf(text, sizeof text,
             "%s" ROUND "," WARD "-S01,completed,2024-04-30,2024-03-20\n" ROUND
             "," WARD "-S02,required,2024-05-31,2024-03-21\n",
             m_header);
    assert_int_equal(it_write_file(wrong_m, text), 0);
    import_ok(&clerk, "remediation", wrong_m);
    sync_until_idle(&clerk);
    assert_int_equal(figure("reception_citizens", WARD), 53);
    assert_int_equal(figure("reception_sessions", WARD), 2);
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM remediation_completions()"
                              " WHERE ward = '" WARD "'"),
        1);

    withdraw_ok(wrong_r);
    withdraw_ok(wrong_m);
    sync_until_idle(&clerk);
    char *after = figures(), *rows_after = sessions_and_plans();
    assert_string_equal(after, before);
    assert_string_equal(rows_after, rows_before);
    assert_int_equal(figure("reception_citizens", WARD), 5);
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM remediation_completions()"
                              " WHERE ward = '" WARD "'"),
        0);

    /* Withdrawn before it was ever sent: the events and their Withdrawal
     * reach the hub in one batch, and nothing of them counts. */
    char quick[600];
    snprintf(quick, sizeof quick, "%s/ballots-quick.csv", env.workdir);
    write_ballots(quick, WARD "-S02", 300, 10, true);
    import_ok(&clerk, "ballots", quick);
    withdraw_ok(quick);
    sync_until_idle(&clerk);
    free(after);
    after = figures();
    assert_string_equal(after, before);
    free(before);
    free(after);
    free(rows_before);
    free(rows_after);
}

/* Hand-made Withdrawals: one naming LB06's ballot is rejected with its
 * reason and nothing of LB06 moves; one naming an id never stored is
 * rejected; one naming events withdrawn already is accepted and changes
 * nothing. */
static void test_withdrawal_of_another_wards_event_is_refused(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/ballots-other.csv", env.workdir);
    write_ballots(path, OTHER "-S01", 0, 11, true);
    import_ok(&other, "ballots", path);
    sync_until_idle(&other);
    assert_int_equal(figure("ballots_received", OTHER), 11);
    assert_int_equal(figure("subjects_flagged", OTHER), 1);
    char *other_before = figures();
    char *victim =
        query_text("SELECT event_id FROM ballots WHERE ward = '" OTHER
                   "' ORDER BY event_id LIMIT 1");
    char *withdrawn =
        query_text("SELECT event_id FROM events WHERE ward = '" WARD
                   "' AND withdrawn_at IS NOT NULL LIMIT 1");

    char instance[WS_UUID_LEN + 1], ids[3][WS_UUID_LEN + 1];
    char unknown[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(instance), 0);
    assert_int_equal(ws_uuid4(unknown), 0);
    Wardsync__V1__Event events[3];
    Wardsync__V1__Withdrawal bodies[3];
    Wardsync__V1__Event *pointers[3];
    char *named[3][1] = {{victim}, {unknown}, {withdrawn}};
    for (int i = 0; i < 3; i++) {
        wardsync__v1__event__init(&events[i]);
        wardsync__v1__withdrawal__init(&bodies[i]);
        assert_int_equal(ws_uuid4(ids[i]), 0);
        bodies[i].event_ids = named[i];
        bodies[i].n_event_ids = 1;
        bodies[i].reason = "hand-made";
        events[i].seq = (uint64_t)i + 1;
        events[i].event_id = ids[i];
        events[i].occurred_at_ms = 1711000000000;
        events[i].queued_at_ms = 1711000000000;
        events[i].body_case = WARDSYNC__V1__EVENT__BODY_WITHDRAWAL;
        events[i].withdrawal = &bodies[i];
        pointers[i] = &events[i];
    }
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = instance;
    batch.ward = WARD;
    batch.events = pointers;
    batch.n_events = 3;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(endpoint, &batch, 10000, &ack), 0);
    assert_int_equal(ack->refusal, WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 2);
    assert_int_equal(ack->outcomes[0]->seq, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    if (!strstr(ack->outcomes[0]->reason,
                "was sent by another ward, not " WARD) ||
        !strstr(ack->outcomes[0]->reason, victim))
        fail_msg("reason: %s", ack->outcomes[0]->reason);
    assert_int_equal(ack->outcomes[1]->seq, 2);
    assert_int_equal(ack->outcomes[1]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    if (!strstr(ack->outcomes[1]->reason, "is not an event the hub stored"))
        fail_msg("reason: %s", ack->outcomes[1]->reason);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    char *other_after = figures();
    assert_string_equal(other_after, other_before);
    free(other_after);
    free(other_before);
    assert_int_equal(figure("ballots_received", OTHER), 11);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM events WHERE"
                                           " ward = '" OTHER "' AND"
                                           " withdrawn_at IS NOT NULL"),
                     0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rejected_events WHERE event_id = '%s'"
             " AND kind = 'withdrawal' AND reason LIKE '%%another ward%%'",
             ids[0]);
    assert_int_equal(it_query_long(env.db, sql), 1);
    /* The third, a no-op, is stored like any event. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM withdrawals WHERE event_id = '%s'"
             " AND named = 1 AND withdrawn = 0",
             ids[2]);
    assert_int_equal(it_query_long(env.db, sql), 1);
    free(victim);
    free(withdrawn);
}

/* A wrong inspections file and a wrong rotations file, taken back: the
 * records leave their tallies and every figure is what it was. */
static void test_withdraw_inspections_and_rotations(void **state)
{
    (void)state;
    char wrong_i[600], wrong_r[600];
    char *before = figures();
    json_t *list = imports_json(&clerk);
    long imports = (long)json_array_size(list);
    json_decref(list);
    snprintf(wrong_i, sizeof wrong_i, "%s/inspections-wrong.csv", env.workdir);
    assert_int_equal(it_write_file(wrong_i,
                                   "inspection,body,unit,held_on,kind,subjects,"
                                   "violations,note\n"
                                   "WR-01,UBKT,CB-1,2024-03-05,party,2,1,\n"
                                   "WR-02,KTCV-9,LB05-UBND,2024-03-06,"
                                   "unannounced,0,0,\n"),
                     0);
    import_ok(&clerk, "inspections", wrong_i);
    snprintf(wrong_r, sizeof wrong_r, "%s/rotations-wrong.csv", env.workdir);
    assert_int_equal(
        it_write_file(wrong_r, "cadre,post,unit,years_in_post,effective_on,"
                               "kind\n"
                               "C-1,chair," WARD ",9,2024-03-01,rotated\n"
                               "C-2,officer," WARD ",0,2024-03-02,appointed\n"),
        0);
    import_ok(&clerk, "rotations", wrong_r);
    sync_until_idle(&clerk);
    assert_int_equal(figure("inspections_held", WARD), 2);
    assert_int_equal(figure("inspection_violations", WARD), 1);
    assert_int_equal(figure("cadres_rotated", WARD), 1);
    assert_int_equal(figure("cadres_appointed", WARD), 1);

    char id[24];
    snprintf(id, sizeof id, "%ld", imports + 1);
    assert_int_equal(agent(&clerk, NULL, "withdraw", id, NULL, NULL, NULL), 0);
    snprintf(id, sizeof id, "%ld", imports + 2);
    assert_int_equal(agent(&clerk, NULL, "withdraw", id, NULL, NULL, NULL), 0);
    sync_until_idle(&clerk);
    assert_int_equal(figure("inspections_held", WARD), 0);
    assert_int_equal(figure("cadres_rotated", WARD), 0);
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM inspections WHERE ward = '"
                              "" WARD "'"),
        0);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT coalesce(sum(inspections), 0)"
                                   " FROM inspection_tallies"
                                   " WHERE ward = '" WARD "'"),
                     0);
    char *after = figures();
    assert_string_equal(after, before);
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_withdraw_takes_a_wrong_import_out_of_every_figure),
        cmocka_unit_test(test_withdraw_twice_and_import_again),
        cmocka_unit_test(test_withdraw_puts_sessions_and_plans_back),
        cmocka_unit_test(test_withdrawal_of_another_wards_event_is_refused),
        cmocka_unit_test(test_withdraw_inspections_and_rotations),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
