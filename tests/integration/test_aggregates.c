/*
 * test_aggregates.c - the ballot_aggregates snapshot refreshed part by
 * part (issue 13 item 4, docs/DESIGN.md §7, §8), against the real hub and
 * database, with raw city pulls.
 *
 * Ballots of one round leave every row of the other rounds with its change
 * number, and ballots of one ward the rows of its siblings, unless the
 * publication rule moves a sibling's decision: then the sibling's rows
 * change too. After every pull the snapshot equals the published view
 * computed whole, also after a withdrawal that takes a cell below k.
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

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];
static char pull_endpoint[128];
static struct it_curve city;

/* One outbox per ward: its instance and next seq. */
struct outbox {
    const char *ward;
    char instance[WS_UUID_LEN + 1];
    uint64_t next_seq;
};
static struct outbox boxes[] = {
    {.ward = "LB01"}, {.ward = "LB02"}, {.ward = "LB03"}, {.ward = "LB05"}};

static struct outbox *box_of(const char *ward)
{
    for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++)
        if (strcmp(boxes[i].ward, ward) == 0)
            return &boxes[i];
    fail_msg("no outbox for %s", ward);
    return NULL;
}

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Round code with the given wards, one subject "<ward>-S1" each on the
 * leadership form (41 items). */
static void make_round(const char *code, const char *const *wards, size_t n)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
             " VALUES ('%s', '2024-01-01', '2024-12-31', 'open')",
             code);
    exec_ok(sql);
    snprintf(sql, sizeof sql,
             "INSERT INTO survey_round_forms VALUES ('%s', 'lead',"
             " 'leadership')",
             code);
    exec_ok(sql);
    for (size_t i = 0; i < n; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO survey_round_wards VALUES ('%s', '%s', 20)", code,
                 wards[i]);
        exec_ok(sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO survey_round_subjects VALUES ('%s', '%s',"
                 " '%s-S1', 'lead')",
                 code, wards[i], wards[i]);
        exec_ok(sql);
    }
}

/* Sends n ballots of ward for its subject in round, respondent group 2,
 * every item at level 1 + (k % 3), as one batch; their event ids go to
 * ids (n of them) when ids is not NULL. */
static void send_ballots(const char *round, const char *ward, int n,
                         char (*ids)[WS_UUID_LEN + 1])
{
    struct outbox *box = box_of(ward);
    if (!box->instance[0]) {
        assert_int_equal(ws_uuid4(box->instance), 0);
        box->next_seq = 1;
    }
    Wardsync__V1__Event *events = calloc((size_t)n, sizeof *events);
    Wardsync__V1__Ballot *ballots = calloc((size_t)n, sizeof *ballots);
    Wardsync__V1__Event **pointers = calloc((size_t)n, sizeof *pointers);
    char(*own)[WS_UUID_LEN + 1] = calloc((size_t)n, sizeof *own);
    uint32_t levels[3][41];
    assert_non_null(events);
    assert_non_null(ballots);
    assert_non_null(pointers);
    assert_non_null(own);
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < 41; i++)
            levels[l][i] = (uint32_t)l + 1;
    char subject[32];
    snprintf(subject, sizeof subject, "%s-S1", ward);
    for (int k = 0; k < n; k++) {
        wardsync__v1__event__init(&events[k]);
        wardsync__v1__ballot__init(&ballots[k]);
        assert_int_equal(ws_uuid4(own[k]), 0);
        ballots[k].survey = (char *)round;
        ballots[k].form = "leadership";
        ballots[k].subject = subject;
        ballots[k].respondent_group = 2;
        ballots[k].n_levels = 41;
        ballots[k].levels = levels[k % 3];
        events[k].seq = box->next_seq + (uint64_t)k;
        events[k].event_id = own[k];
        events[k].occurred_at_ms = 1717200000000; /* 2024-06-01 */
        events[k].queued_at_ms = events[k].occurred_at_ms;
        events[k].body_case = WARDSYNC__V1__EVENT__BODY_BALLOT;
        events[k].ballot = &ballots[k];
        pointers[k] = &events[k];
        if (ids)
            memcpy(ids[k], own[k], sizeof own[k]);
    }
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = box->instance;
    batch.ward = (char *)ward;
    batch.n_events = (size_t)n;
    batch.events = pointers;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(endpoint, &batch, 20000, &ack), 0);
    if (ack->n_outcomes)
        fail_msg("ballot refused: %s", ack->outcomes[0]->reason);
    assert_int_equal(ack->committed_through, box->next_seq + (uint64_t)n - 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    box->next_seq += (uint64_t)n;
    free(own);
    free(pointers);
    free(ballots);
    free(events);
}

/* Sends one Withdrawal of ward naming the n events ids. */
static void send_withdrawal(const char *ward, char (*ids)[WS_UUID_LEN + 1],
                            size_t n)
{
    struct outbox *box = box_of(ward);
    char **named = calloc(n, sizeof *named);
    assert_non_null(named);
    for (size_t i = 0; i < n; i++)
        named[i] = ids[i];
    char id[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(id), 0);
    Wardsync__V1__Withdrawal body = WARDSYNC__V1__WITHDRAWAL__INIT;
    body.event_ids = named;
    body.n_event_ids = n;
    body.reason = "wrong file";
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    event.seq = box->next_seq;
    event.event_id = id;
    event.occurred_at_ms = 1717286400000;
    event.queued_at_ms = event.occurred_at_ms;
    event.body_case = WARDSYNC__V1__EVENT__BODY_WITHDRAWAL;
    event.withdrawal = &body;
    Wardsync__V1__Event *pointers[1] = {&event};
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = box->instance;
    batch.ward = (char *)ward;
    batch.n_events = 1;
    batch.events = pointers;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(endpoint, &batch, 20000, &ack), 0);
    if (ack->n_outcomes)
        fail_msg("withdrawal refused: %s", ack->outcomes[0]->reason);
    assert_int_equal(ack->committed_through, box->next_seq);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    box->next_seq++;
    free(named);
}

/* One page of ballot_aggregates after cursor, as the city. */
static Wardsync__V1__PullPage *pull_page(const char *since)
{
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
    req.dataset = "ballot_aggregates";
    req.scope = "";
    req.since = (char *)since;
    req.page_size = 5000;
    size_t len = wardsync__v1__pull_request__get_packed_size(&req);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    wardsync__v1__pull_request__pack(&req, buf);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    free(buf);
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
    if (page->error[0])
        fail_msg("pull: %s", page->error);
    return page;
}

/* A whole pull from the start: {key: change} of the rows not deleted. */
static json_t *pull_changes(void)
{
    json_t *changes = json_object();
    char cursor[64] = "";
    for (int pages = 0;; pages++) {
        assert_true(pages < 1000);
        Wardsync__V1__PullPage *page = pull_page(cursor);
        for (size_t r = 0; r < page->n_rows; r++) {
            const Wardsync__V1__Row *row = page->rows[r];
            if (row->op == WARDSYNC__V1__ROW_OP__ROW_OP_DELETE)
                json_object_del(changes, row->key);
            else
                json_object_set_new(changes, row->key,
                                    json_integer((json_int_t)row->change));
        }
        snprintf(cursor, sizeof cursor, "%s", page->next_cursor);
        bool more = page->more;
        wardsync__v1__pull_page__free_unpacked(page, NULL);
        if (!more)
            break;
    }
    return changes;
}

/* The snapshot equals published.ballot_aggregates computed whole: the
 * same keys, the same data, nothing more. */
static void assert_snapshot_is_the_view(void)
{
    long differ = it_query_long(
        env.db,
        "WITH s AS (SELECT row_key, row_data FROM pull_snapshot"
        "            WHERE dataset = 'ballot_aggregates' AND NOT deleted),"
        " v AS (SELECT concat_ws('/', survey, ward, subject, form,"
        "                        item::text, respondent_group) AS row_key,"
        "              to_jsonb(b) AS row_data"
        "         FROM published.ballot_aggregates b)"
        " SELECT (SELECT count(*) FROM (SELECT * FROM s EXCEPT ALL"
        "                               SELECT * FROM v) x)"
        "      + (SELECT count(*) FROM (SELECT * FROM v EXCEPT ALL"
        "                               SELECT * FROM s) y)");
    assert_int_equal(differ, 0);
    assert_true(it_query_long(env.db, "SELECT count(*) FROM pull_snapshot"
                                      " WHERE dataset = 'ballot_aggregates'"
                                      " AND NOT deleted") > 0);
}

/* How many keys starting with prefix have the same change in both pulls
 * (*same) and how many moved (*moved); every key of one is in the other. */
static void compare_changes(json_t *before, json_t *after, const char *prefix,
                            int *same, int *moved)
{
    *same = *moved = 0;
    const char *key;
    json_t *value;
    json_object_foreach(before, key, value)
    {
        if (strncmp(key, prefix, strlen(prefix)) != 0)
            continue;
        json_t *now = json_object_get(after, key);
        if (!now)
            fail_msg("%s vanished", key);
        if (json_integer_value(now) == json_integer_value(value))
            (*same)++;
        else
            (*moved)++;
    }
}

/* Whether the published row of ward's subject, item 1, group 'all' in
 * round is suppressed (1), published (0), or missing (-1). */
static long suppressed(const char *round, const char *ward)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT (row_data->>'suppressed')::boolean::int"
             "  FROM pull_snapshot WHERE dataset = 'ballot_aggregates'"
             "   AND NOT deleted AND row_key = '%s/%s/%s-S1/leadership/1/all'),"
             " -1)",
             round, ward, ward);
    return it_query_long(env.db, sql);
}

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_aggregates") != 0)
        return -1;
    char hub_log[512], rest[256];
    hub = it_start_hub_mode(&env, NULL, false, endpoint, sizeof endpoint,
                            hub_log, sizeof hub_log);
    if (hub <= 0 ||
        it_wait_for_log(hub_log, "pull endpoint=", 20000, rest, sizeof rest) !=
            0 ||
        sscanf(rest, "%127s", pull_endpoint) != 1 ||
        it_principal_keys(&env, "city", "HN", &city, NULL, 0) != 0)
        return -1;
    for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++) {
        struct it_curve ward;
        if (it_principal_keys(&env, "ward", boxes[i].ward, &ward, NULL, 0) != 0)
            return -1;
    }
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

/* (a) Ballots of one round change only that round's rows, and ballots of
 * one ward whose siblings' decisions stay put only that ward's rows. */
static void test_only_the_written_part_changes(void **state)
{
    (void)state;
    static const char *const two[] = {"LB01", "LB02"};
    make_round("RA", two, 2);
    make_round("RB", two, 1);
    send_ballots("RA", "LB01", 12, NULL);
    send_ballots("RA", "LB02", 12, NULL);
    send_ballots("RB", "LB01", 12, NULL);
    json_t *first = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(suppressed("RA", "LB01"), 0);
    assert_int_equal(suppressed("RB", "LB01"), 0);

    /* More ballots for RB only: the writer notes RB's LB01 as changed,
     * and RA's rows keep their change numbers. */
    send_ballots("RB", "LB01", 3, NULL);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM"
                                   " ballot_aggregates_dirty"
                                   " WHERE survey IS DISTINCT FROM 'RB'"
                                   "    OR ward IS DISTINCT FROM 'LB01'"),
                     0);
    assert_true(
        it_query_long(env.db, "SELECT count(*) FROM ballot_aggregates_dirty") >
        0);
    json_t *second = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM ballot_aggregates_dirty"),
        0);
    int same, moved;
    compare_changes(first, second, "RA/", &same, &moved);
    assert_int_equal(same, 2 * 5 * 41);
    assert_int_equal(moved, 0);
    compare_changes(first, second, "RB/", &same, &moved);
    /* Group 2 and 'all' of all 41 items moved (ballots, counts, shares);
     * groups 1, 3 and 4 hold no ballot and stay 0. */
    assert_int_equal(moved, 2 * 41);
    assert_int_equal(same, 3 * 41);

    /* More ballots of RA's LB01: LB02's rows of RA do not move. */
    send_ballots("RA", "LB01", 2, NULL);
    json_t *third = pull_changes();
    assert_snapshot_is_the_view();
    compare_changes(second, third, "RA/LB02/", &same, &moved);
    assert_int_equal(moved, 0);
    assert_int_equal(same, 5 * 41);
    compare_changes(second, third, "RA/LB01/", &same, &moved);
    assert_int_equal(moved, 2 * 41);
    compare_changes(second, third, "RB/", &same, &moved);
    assert_int_equal(moved, 0);
    json_decref(first);
    json_decref(second);
    json_decref(third);
}

/* A ward that nobody wrote to is recomputed when the rule moves its
 * decision: LB03's 3 ballots make LB01 their partner under LB (rule 3),
 * and LB01 is published again once LB03 holds k. */
static void test_sibling_decision_moves_with_the_rule(void **state)
{
    (void)state;
    static const char *const three[] = {"LB01", "LB02", "LB03"};
    make_round("RC", three, 3);
    send_ballots("RC", "LB01", 12, NULL);
    send_ballots("RC", "LB02", 12, NULL);
    send_ballots("RC", "LB03", 3, NULL);
    json_t *first = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(suppressed("RC", "LB03"), 1);
    assert_int_equal(suppressed("RC", "LB01"), 1);
    assert_int_equal(suppressed("RC", "LB02"), 0);

    send_ballots("RC", "LB03", 9, NULL);
    json_t *second = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(suppressed("RC", "LB03"), 0);
    assert_int_equal(suppressed("RC", "LB01"), 0);
    int same, moved;
    compare_changes(first, second, "RC/LB01/", &same, &moved);
    assert_int_equal(moved, 5 * 41);
    compare_changes(first, second, "RC/LB02/", &same, &moved);
    assert_int_equal(moved, 0);
    json_decref(first);
    json_decref(second);
}

/* (b) A withdrawal that takes a ward below k suppresses its cells in the
 * pull, as the view computed whole has them; one that leaves it above k
 * moves its numbers. */
static void test_withdrawal_moves_and_suppresses_cells(void **state)
{
    (void)state;
    static const char *const one[] = {"LB05"};
    make_round("RD", one, 1);
    char ids[14][WS_UUID_LEN + 1];
    send_ballots("RD", "LB05", 14, ids);
    json_t *first = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(suppressed("RD", "LB05"), 0);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT (row_data->>'ballots')::int"
                                   "  FROM pull_snapshot"
                                   " WHERE dataset = 'ballot_aggregates'"
                                   "   AND row_key = "
                                   "'RD/LB05/LB05-S1/leadership/1/all'"),
                     14);

    /* 14 - 3 = 11: still published, with the new count. */
    send_withdrawal("LB05", ids, 3);
    json_t *second = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(suppressed("RD", "LB05"), 0);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT (row_data->>'ballots')::int"
                                   "  FROM pull_snapshot"
                                   " WHERE dataset = 'ballot_aggregates'"
                                   "   AND row_key = "
                                   "'RD/LB05/LB05-S1/leadership/1/all'"),
                     11);
    int same, moved;
    compare_changes(first, second, "RD/", &same, &moved);
    assert_int_equal(moved, 2 * 41);

    /* 11 - 4 = 7: below k, every cell of LB05 suppressed, no number. */
    send_withdrawal("LB05", ids + 3, 4);
    json_t *third = pull_changes();
    assert_snapshot_is_the_view();
    assert_int_equal(suppressed("RD", "LB05"), 1);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM pull_snapshot"
                                   " WHERE dataset = 'ballot_aggregates'"
                                   "   AND NOT deleted"
                                   "   AND row_data->>'survey' = 'RD'"
                                   "   AND (NOT (row_data->>'suppressed')"
                                   "             ::boolean"
                                   "        OR row_data->>'ballots'"
                                   "           IS NOT NULL)"),
                     0);
    compare_changes(second, third, "RD/", &same, &moved);
    assert_int_equal(moved, 5 * 41);
    json_decref(first);
    json_decref(second);
    json_decref(third);
}

/* A round's subject removed: its rows are deleted from the pull, the
 * others of the round stay. */
static void test_removed_subject_is_deleted(void **state)
{
    (void)state;
    static const char *const two[] = {"LB01", "LB02"};
    make_round("RE", two, 2);
    send_ballots("RE", "LB01", 12, NULL);
    json_t *first = pull_changes();
    assert_snapshot_is_the_view();
    assert_non_null(json_object_get(first, "RE/LB02/LB02-S1/leadership/1/all"));
    exec_ok("DELETE FROM survey_round_subjects WHERE round = 'RE'"
            " AND ward = 'LB02'");
    json_t *second = pull_changes();
    assert_snapshot_is_the_view();
    assert_null(json_object_get(second, "RE/LB02/LB02-S1/leadership/1/all"));
    int same, moved;
    compare_changes(first, second, "RE/LB01/", &same, &moved);
    assert_int_equal(moved, 0);
    assert_int_equal(same, 5 * 41);
    json_decref(first);
    json_decref(second);
}

/* The rule in two halves (012) is 005's one-pass rule: 005's own text,
 * read from its file and created under other names, against 012's
 * functions on random districts of two districts and two rounds (cells of
 * 0 to 24 ballots), k 3 and 10, with and without rule 3, and the published
 * rows. In one transaction, rolled back. */
static const char TRIAL_SQL[] =
    "CREATE FUNCTION pg_temp.trial(seed float8) RETURNS text"
    " LANGUAGE plpgsql AS $f$"
    " DECLARE d bigint; kk int; comp boolean;"
    " BEGIN"
    "  PERFORM setseed(seed);"
    "  DELETE FROM ballot_level_counts; DELETE FROM ballot_counts;"
    "  DELETE FROM survey_round_subjects; DELETE FROM survey_round_wards;"
    "  DELETE FROM survey_round_forms; DELETE FROM survey_rounds;"
    "  INSERT INTO survey_rounds (code, opens_on, closes_on, state) VALUES"
    "   ('T1', '2025-01-01', '2025-12-31', 'open'),"
    "   ('T2', '2025-01-01', '2025-12-31', 'open');"
    "  INSERT INTO survey_round_forms VALUES ('T1', 'lead', 'leadership'),"
    "   ('T1', 'staff', 'staff'), ('T2', 'lead', 'leadership');"
    "  INSERT INTO survey_round_wards SELECT r, code, 10 FROM org_units"
    "   CROSS JOIN (VALUES ('T1'), ('T2')) v (r)"
    "   WHERE kind <> 'city' AND random() < 0.7;"
    "  INSERT INTO survey_round_subjects SELECT w.round, w.ward, 'S' || s,"
    "   CASE WHEN w.round = 'T1' AND s % 2 = 0 THEN 'staff' ELSE 'lead' END"
    "   FROM survey_round_wards w CROSS JOIN generate_series(1, 4) s"
    "   WHERE random() < 0.6;"
    "  INSERT INTO ballot_counts (survey, ward, subject, form,"
    "                             respondent_group, ballots)"
    "  SELECT s.round, s.ward, s.subject, f.form, g, n"
    "    FROM survey_round_subjects s JOIN survey_round_forms f"
    "      ON f.round = s.round AND f.category = s.category"
    "   CROSS JOIN generate_series(1, 4) g"
    "   CROSS JOIN LATERAL (SELECT floor(random() * random() * 25)::bigint"
    "                              + 0 * g AS n) x"
    "   WHERE random() < 0.8 AND n > 0;"
    "  INSERT INTO ballot_level_counts (survey, ward, subject,"
    "                                   respondent_group, n1, n2, n3)"
    "  SELECT c.survey, c.ward, c.subject, c.respondent_group,"
    "         array_agg(a ORDER BY i), array_agg(b ORDER BY i),"
    "         array_agg(c.ballots - a - b ORDER BY i)"
    "    FROM ballot_counts c JOIN catalogue_forms f ON f.code = c.form"
    "   CROSS JOIN LATERAL generate_series(1, f.n_items) i"
    "   CROSS JOIN LATERAL (SELECT floor(random() * (c.ballots + 1))::bigint"
    "                              + 0 * i AS a) x"
    "   CROSS JOIN LATERAL (SELECT floor(random() * (c.ballots - x.a + 1))"
    "                              ::bigint + 0 * i AS b) y"
    "   GROUP BY 1, 2, 3, 4;"
    "  ANALYZE ballot_counts; ANALYZE ballot_level_counts;"
    "  ANALYZE survey_round_subjects; ANALYZE survey_round_wards;"
    "  FOREACH kk IN ARRAY ARRAY[3, 10] LOOP"
    "   FOREACH comp IN ARRAY ARRAY[true, false] LOOP"
    "    SELECT count(*) INTO d FROM ("
    "     (SELECT * FROM test_005_pattern(kk, comp) EXCEPT ALL"
    "      SELECT * FROM ballot_suppression_pattern(kk, comp)) UNION ALL"
    "     (SELECT * FROM ballot_suppression_pattern(kk, comp) EXCEPT ALL"
    "      SELECT * FROM test_005_pattern(kk, comp))) z;"
    "    IF d > 0 THEN RETURN format('seed %s k %s complementary %s: %s"
    " cells differ', seed, kk, comp, d); END IF;"
    "   END LOOP;"
    "  END LOOP;"
    "  SELECT count(*) INTO d FROM ("
    "   (SELECT * FROM test_005_rows(10) EXCEPT ALL"
    "    SELECT * FROM published_ballot_rows()) UNION ALL"
    "   (SELECT * FROM published_ballot_rows() EXCEPT ALL"
    "    SELECT * FROM test_005_rows(10))) z;"
    "  IF d > 0 THEN RETURN format('seed %s: %s rows differ', seed, d);"
    "  END IF;"
    "  RETURN format('ok %s', (SELECT count(*) FILTER (WHERE suppressed)"
    "                            FROM test_005_pattern(10, true)));"
    " END $f$";

/* The text of 005's function that starts with head, up to its "$$;",
 * with the replacements (pairs, NULL-terminated) made. Caller frees. */
static char *function_of_005(const char *sql, const char *head,
                             const char *const *replace)
{
    const char *start = strstr(sql, head);
    assert_non_null(start);
    const char *end = strstr(start, "\n$$;");
    assert_non_null(end);
    size_t len = (size_t)(end - start) + 4;
    char *text = strndup(start, len);
    assert_non_null(text);
    for (size_t i = 0; replace[i]; i += 2) {
        char *at = strstr(text, replace[i]);
        if (!at)
            fail_msg("005 no longer says \"%s\"", replace[i]);
        size_t before = (size_t)(at - text), from = strlen(replace[i]);
        size_t to = strlen(replace[i + 1]);
        char *next = malloc(strlen(text) - from + to + 1);
        assert_non_null(next);
        memcpy(next, text, before);
        memcpy(next + before, replace[i + 1], to);
        strcpy(next + before + to, at + from);
        free(text);
        text = next;
    }
    return text;
}

static void test_rule_in_two_halves_is_005s(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/005_publication.sql", WS_HUB_SQL_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char sql[65536];
    size_t n = fread(sql, 1, sizeof sql - 1, f);
    fclose(f);
    sql[n] = '\0';
    static const char *const pattern_names[] = {
        "FUNCTION ballot_suppression_pattern", "FUNCTION test_005_pattern",
        NULL};
    static const char *const rows_names[] = {
        "FUNCTION published_ballot_rows()",
        "FUNCTION test_005_rows(kk integer)",
        "SELECT suppress_below AS k FROM indicator_settings",
        "SELECT kk AS k",
        "ballot_suppression(settings.k)",
        "test_005_pattern(settings.k, true)",
        NULL};
    char *pattern = function_of_005(
        sql, "CREATE OR REPLACE FUNCTION ballot_suppression_pattern",
        pattern_names);
    char *rows = function_of_005(
        sql, "CREATE OR REPLACE FUNCTION published_ballot_rows", rows_names);
    exec_ok("BEGIN");
    exec_ok(pattern);
    exec_ok(rows);
    exec_ok(TRIAL_SQL);
    /* A second district of three wards: a tree of two levels of units. */
    exec_ok("INSERT INTO org_units VALUES ('TC', 'Other', 'district', 'HN'),"
            " ('TC01', 'c1', 'ward', 'TC'), ('TC02', 'c2', 'ward', 'TC'),"
            " ('TC03', 'c3', 'ward', 'TC')");
    PGresult *r = PQexec(env.db, "SELECT pg_temp.trial(s / 97.0)"
                                 "  FROM generate_series(1, 25) s");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("trials: %s", PQresultErrorMessage(r));
    long suppressed_cells = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *outcome = PQgetvalue(r, i, 0);
        if (strncmp(outcome, "ok ", 3) != 0)
            fail_msg("%s", outcome);
        suppressed_cells += atol(outcome + 3);
    }
    PQclear(r);
    /* The districts had cells to suppress. */
    assert_true(suppressed_cells > 100);
    exec_ok("ROLLBACK");
    free(pattern);
    free(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_the_written_part_changes),
        cmocka_unit_test(test_sibling_decision_moves_with_the_rule),
        cmocka_unit_test(test_withdrawal_moves_and_suppresses_cells),
        cmocka_unit_test(test_removed_subject_is_deleted),
        cmocka_unit_test(test_rule_in_two_halves_is_005s),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
