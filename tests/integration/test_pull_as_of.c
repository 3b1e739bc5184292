/*
 * test_pull_as_of.c - PullRequest.as_of (issue #10 "as_of in the pull")
 * and the petitions pull a page at a time (#13 item 4): a real hub with
 * CURVE, raw pull requests as city HN, and city-pull --as-of.
 *
 * Ward LB01 sends two complaints received on 2024-05-01: A accepted on
 * 2024-05-02 (legal due date 2024-06-01: acceptance + 30 days) and B
 * never accepted (held to its acceptance deadline, 2024-05-11). So, by
 * the rule of docs/DESIGN.md §6: as of 2024-05-05 neither is overdue, as
 * of 2024-05-31 only B, as of 2024-06-02 and today both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"
#include "wardsync/util.h"
#include "wardsync/v1/pull.pb-c.h"

static struct it_env env;
static char endpoint[128];
static char pull_endpoint[128];
static char hub_log[512];
static pid_t hub = -1;
static char city_secret[512];
static struct it_curve city;
static char instance[WS_UUID_LEN + 1];
static uint64_t next_seq = 1;

/* One petition event of LB01: complaint, received on 2024-05-01, the
 * event on day (midnight UTC). */
static void send_petition(const char *petition, int status, const char *day)
{
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__PetitionEvent p = WARDSYNC__V1__PETITION_EVENT__INIT;
    Wardsync__V1__Event *events[1] = {&event};
    char id[WS_UUID_LEN + 1];
    int32_t days;
    assert_int_equal(ws_uuid4(id), 0);
    assert_int_equal(ws_date_parse(day, &days), 0);
    p.petition = (char *)petition;
    p.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    p.channel = WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON;
    p.status = status;
    p.in_jurisdiction = true;
    p.received_on = "2024-05-01";
    p.due_on = "";
    p.note = "";
    event.seq = next_seq;
    event.event_id = id;
    event.occurred_at_ms = (int64_t)days * 86400000;
    event.queued_at_ms = event.occurred_at_ms;
    event.body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    event.petition = &p;
    batch.protocol = 1;
    batch.agent_instance = instance;
    batch.ward = "LB01";
    batch.n_events = 1;
    batch.events = events;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(endpoint, &batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, next_seq);
    if (ack->n_outcomes)
        fail_msg("petition refused: %s", ack->outcomes[0]->reason);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    next_seq++;
}

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_pull_as_of") != 0)
        return -1;
    hub = it_start_hub_mode(&env, NULL, false, endpoint, sizeof endpoint,
                            hub_log, sizeof hub_log);
    if (hub <= 0)
        return -1;
    char rest[256];
    if (it_wait_for_log(hub_log, "pull endpoint=", 20000, rest, sizeof rest) !=
        0)
        return -1;
    sscanf(rest, "%127s", pull_endpoint);
    if (it_principal_keys(&env, "city", "HN", &city, city_secret,
                          sizeof city_secret) != 0)
        return -1;
    ws_uuid4(instance);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

/* One page of dataset as city HN. */
static Wardsync__V1__PullPage *pull_page(const char *dataset, const char *since,
                                         unsigned page_size, const char *as_of)
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
    req.dataset = (char *)dataset;
    req.since = (char *)since;
    req.page_size = page_size;
    req.as_of = (char *)as_of;
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
    return page;
}

static int column_of(const Wardsync__V1__PullPage *page, const char *name)
{
    for (size_t c = 0; c < page->n_columns; c++)
        if (strcmp(page->columns[c], name) == 0)
            return (int)c;
    fail_msg("no column %s", name);
    return -1;
}

/* A whole pull of dataset from since, page_size rows a page, as a JSON
 * object key -> "op due_on overdue" (petitions) or "op value"
 * (indicators); the last cursor into cursor_out (may be NULL). */
static json_t *pull_all(const char *dataset, const char *since,
                        unsigned page_size, const char *as_of, char *cursor_out,
                        size_t cursor_cap)
{
    json_t *rows = json_object();
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s", since);
    for (int pages = 0;; pages++) {
        assert_true(pages < 2000);
        Wardsync__V1__PullPage *page =
            pull_page(dataset, cursor, page_size, as_of);
        if (page->error[0])
            fail_msg("%s as of \"%s\": %s", dataset, as_of, page->error);
        bool petitions = strcmp(dataset, "petitions") == 0;
        int a = column_of(page, petitions ? "due_on" : "value");
        int b = petitions ? column_of(page, "overdue") : a;
        for (size_t r = 0; r < page->n_rows; r++) {
            const Wardsync__V1__Row *row = page->rows[r];
            const char *op =
                row->op == WARDSYNC__V1__ROW_OP__ROW_OP_INSERT   ? "insert"
                : row->op == WARDSYNC__V1__ROW_OP__ROW_OP_DELETE ? "delete"
                                                                 : "update";
            char text[256];
            if (petitions)
                snprintf(text, sizeof text, "%s %s %s", op, row->values[a],
                         row->values[b]);
            else
                snprintf(text, sizeof text, "%s %s", op, row->values[a]);
            json_object_set_new(rows, row->key, json_string(text));
        }
        snprintf(cursor, sizeof cursor, "%s", page->next_cursor);
        bool more = page->more;
        wardsync__v1__pull_page__free_unpacked(page, NULL);
        if (!more)
            break;
    }
    if (cursor_out)
        snprintf(cursor_out, cursor_cap, "%s", cursor);
    return rows;
}

static const char *row_text(json_t *rows, const char *key)
{
    json_t *v = json_object_get(rows, key);
    return v ? json_string_value(v) : "(absent)";
}

/* A and B, once, before the first test that needs them. */
static void send_a_and_b(void)
{
    static bool sent;
    if (sent)
        return;
    sent = true;
    send_petition("A", WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED,
                  "2024-05-01");
    send_petition("A", WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED,
                  "2024-05-02");
    send_petition("B", WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED,
                  "2024-05-01");
}

/* overdue is the state on the as-of day; the legal due date does not move
 * with it. */
static void test_petitions_overdue_as_of(void **state)
{
    (void)state;
    send_a_and_b();
    static const struct {
        const char *as_of, *a, *b;
    } cases[] = {
        {"2024-05-05", "insert 2024-06-01 false", "insert 2024-05-11 false"},
        {"2024-05-31", "insert 2024-06-01 false", "insert 2024-05-11 true"},
        {"2024-06-02", "insert 2024-06-01 true", "insert 2024-05-11 true"},
        {"", "insert 2024-06-01 true", "insert 2024-05-11 true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *rows = pull_all("petitions", "", 500, cases[i].as_of, NULL, 0);
        if (strcmp(row_text(rows, "LB01/A"), cases[i].a) != 0 ||
            strcmp(row_text(rows, "LB01/B"), cases[i].b) != 0)
            fail_msg("as of \"%s\": A \"%s\" (want \"%s\"), B \"%s\" (want "
                     "\"%s\")",
                     cases[i].as_of, row_text(rows, "LB01/A"), cases[i].a,
                     row_text(rows, "LB01/B"), cases[i].b);
        json_decref(rows);
    }
}

/* petitions_overdue_open of LB01 counts the open petitions received by
 * the as-of day whose legal due date is before it; each day has its own
 * snapshot, so pulling another day's indicators leaves today's cursor
 * with nothing new. */
static void test_indicators_as_of(void **state)
{
    (void)state;
    send_a_and_b();
    char today_cursor[64];
    json_t *today =
        pull_all("indicators", "", 500, "", today_cursor, sizeof today_cursor);
    assert_string_equal(row_text(today, "petitions_overdue_open/LB01/all"),
                        "insert 2");
    static const struct {
        const char *as_of, *want;
    } cases[] = {
        {"2024-04-30", "insert 0"}, /* neither received yet */
        {"2024-05-05", "insert 0"},
        {"2024-05-31", "insert 1"},
        {"2024-06-02", "insert 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cursor[64];
        json_t *rows =
            pull_all("indicators", "", 500, cases[i].as_of, cursor, 64);
        const char *got = row_text(rows, "petitions_overdue_open/LB01/all");
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("petitions_overdue_open/LB01/all as of %s: \"%s\", want "
                     "\"%s\"",
                     cases[i].as_of, got, cases[i].want);
        /* The same day again from its cursor: nothing changed. */
        json_t *again =
            pull_all("indicators", cursor, 500, cases[i].as_of, NULL, 0);
        assert_int_equal(json_object_size(again), 0);
        json_decref(again);
        json_decref(rows);
    }
    /* Today's snapshot was not touched by the other days'. */
    json_t *after = pull_all("indicators", today_cursor, 500, "", NULL, 0);
    if (json_object_size(after) != 0) {
        char *text = json_dumps(after, JSON_INDENT(1));
        fail_msg("today's indicators changed by as-of pulls:\n%s", text);
    }
    json_decref(after);
    json_decref(today);
}

/* A bad as_of is refused, naming the value, on every dataset. */
static void test_bad_as_of_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"2024-02-30", "31/05/2024", "today",
                                      "2024-05-31x"};
    static const char *const datasets[] = {"petitions", "indicators",
                                           "sync_status"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (size_t d = 0; d < 3; d++) {
            Wardsync__V1__PullPage *page =
                pull_page(datasets[d], "", 10, bad[i]);
            char want[128];
            snprintf(want, sizeof want, "bad as_of \"%s\"", bad[i]);
            if (!strstr(page->error, want))
                fail_msg("%s as of \"%s\": error \"%s\", want \"%s...\"",
                         datasets[d], bad[i], page->error, want);
            assert_int_equal(page->n_rows, 0);
            wardsync__v1__pull_page__free_unpacked(page, NULL);
        }
}

/* The page's rows are chosen before their due dates are read: a pull in
 * pages of one row gives the same rows (op, due date, overdue) as one
 * page of 1000, tombstones included. */
static void test_petition_pages_same_rows(void **state)
{
    (void)state;
    send_a_and_b();
    static const char *const more[] = {"C", "D", "E", "F", "G"};
    for (size_t i = 0; i < 5; i++)
        send_petition(more[i],
                      WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED,
                      "2024-05-01");
    send_petition("C", WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED,
                  "2024-05-20");
    send_petition("E",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_IN_PROGRESS,
                  "2024-05-03");
    /* A petition gone (as a withdrawal of its only event leaves it): a
     * tombstone between the rows. */
    PGresult *r = PQexec(env.db, "DELETE FROM petitions WHERE petition = 'D'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    send_petition("G", WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED,
                  "2024-05-09");
    static const char *const days[] = {"2024-05-31", "2024-06-15", ""};
    for (size_t d = 0; d < 3; d++) {
        json_t *one = pull_all("petitions", "", 1000, days[d], NULL, 0);
        json_t *paged = pull_all("petitions", "", 1, days[d], NULL, 0);
        char *a = json_dumps(one, JSON_SORT_KEYS | JSON_INDENT(1));
        char *b = json_dumps(paged, JSON_SORT_KEYS | JSON_INDENT(1));
        if (strcmp(a, b) != 0)
            fail_msg("as of \"%s\": one page:\n%s\npages of one row:\n%s",
                     days[d], a, b);
        assert_string_equal(row_text(one, "LB01/D"), "delete  ");
        /* C accepted on 2024-05-20: due 2024-06-19. */
        assert_string_equal(row_text(one, "LB01/C"),
                            d == 2 ? "insert 2024-06-19 true"
                                   : "insert 2024-06-19 false");
        free(a);
        free(b);
        json_decref(one);
        json_decref(paged);
    }
}

/* Runs city-pull into workdir/out as JSON, with --as-of when as_of. */
static void city_pull(const char *out, const char *as_of)
{
    char dir[512], hubspec[1024];
    snprintf(dir, sizeof dir, "%s/%s", env.workdir, out);
    snprintf(hubspec, sizeof hubspec, "LB=%s key=%s", pull_endpoint,
             env.hub_key);
    const char *argv[] = {WS_CITY_PULL_BIN,
                          "--hub",
                          hubspec,
                          "--secret-key",
                          city_secret,
                          "--output",
                          dir,
                          "--format",
                          "json",
                          "--dataset",
                          "indicators,petitions",
                          as_of ? "--as-of" : NULL,
                          as_of,
                          NULL};
    char *output = NULL;
    int rc = it_run(argv, NULL, 120, &output);
    if (rc != 0)
        fail_msg("city-pull exited %d:\n%s", rc, output ? output : "");
    free(output);
}

/* The value (as JSON text) of column of the row with key in
 * workdir/out/dataset.json. */
static char *file_value(const char *out, const char *dataset, const char *key,
                        const char *column)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s.json", env.workdir, out, dataset);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    size_t i;
    json_t *row;
    char *value = NULL;
    json_array_foreach(json_object_get(doc, "rows"), i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "key")), key) == 0)
            value = json_dumps(
                json_object_get(json_object_get(row, "values"), column),
                JSON_ENCODE_ANY | JSON_COMPACT);
    }
    if (!value) {
        char *text = json_dumps(doc, JSON_COMPACT);
        fail_msg("%s: no row %s in %.2000s", path, key, text);
    }
    json_decref(doc);
    return value;
}

static void assert_file_value(const char *dataset, const char *key,
                              const char *column, const char *want)
{
    char *got = file_value("city", dataset, key, column);
    if (strcmp(got, want) != 0)
        fail_msg("%s %s %s: %s, want %s", dataset, key, column, got, want);
    free(got);
}

/* city-pull --as-of passes the day in every request; a cursor saved for
 * one day is not used for another (nor for today), so the files always
 * hold one day's figures. */
static void test_city_pull_as_of(void **state)
{
    (void)state;
    send_a_and_b();
    city_pull("city", "2024-05-31");
    assert_file_value("indicators", "petitions_overdue_open/LB01/all", "value",
                      "1");
    assert_file_value("petitions", "LB01/A", "overdue", "false");
    assert_file_value("petitions", "LB01/B", "overdue", "true");
    city_pull("city", NULL);
    assert_file_value("indicators", "petitions_overdue_open/LB01/all", "value",
                      "2");
    assert_file_value("petitions", "LB01/A", "overdue", "true");
    city_pull("city", "2024-05-31");
    assert_file_value("indicators", "petitions_overdue_open/LB01/all", "value",
                      "1");
    assert_file_value("petitions", "LB01/A", "overdue", "false");
    /* The same day again: from its cursor, nothing moves. */
    city_pull("city", "2024-05-31");
    assert_file_value("indicators", "petitions_overdue_open/LB01/all", "value",
                      "1");
    const char *argv[] = {WS_CITY_PULL_BIN,       "--hub",
                          "LB=tcp://127.0.0.1:1", "--as-of",
                          "2024-13-01",           NULL};
    char *output = NULL;
    assert_int_equal(it_run(argv, NULL, 30, &output), 2);
    assert_non_null(strstr(output, "2024-13-01"));
    free(output);
}

/* env.conninfo with dbname replaced by name. */
static void conninfo_for(const char *name, char *out, size_t cap)
{
    const char *at = strstr(env.conninfo, "dbname=");
    assert_non_null(at);
    const char *end = strchr(at, ' ');
    snprintf(out, cap, "%.*sdbname=%s%s", (int)(at - env.conninfo),
             env.conninfo, name, end ? end : "");
}

static void warehouse_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* "value of petitions_overdue_open/LB01/all|overdue of LB01/A" in the
 * warehouse. */
static char *warehouse_figures(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(
        c, "SELECT (SELECT value FROM city.indicators WHERE district = 'LB'"
           "          AND row_key = 'petitions_overdue_open/LB01/all')"
           "       || '|' || (SELECT overdue FROM city.petitions"
           "                   WHERE district = 'LB' AND row_key = 'LB01/A')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQgetisnull(r, 0, 0))
        fail_msg("warehouse: %s", PQerrorMessage(c));
    char *text = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return text;
}

static void warehouse_pull(const char *conninfo, const char *as_of,
                           const char *want)
{
    char hubspec[1024];
    snprintf(hubspec, sizeof hubspec, "LB=%s key=%s", pull_endpoint,
             env.hub_key);
    const char *argv[] = {WS_CITY_PULL_BIN,
                          "--hub",
                          hubspec,
                          "--secret-key",
                          city_secret,
                          "--into",
                          conninfo,
                          "--dataset",
                          "indicators,petitions",
                          as_of ? "--as-of" : NULL,
                          as_of,
                          NULL};
    char *output = NULL;
    int rc = it_run(argv, NULL, 120, &output);
    if (rc != 0)
        fail_msg("city-pull --into exited %d:\n%s", rc, output ? output : "");
    free(output);
    char *got = warehouse_figures(conninfo);
    if (strcmp(got, want) != 0)
        fail_msg("warehouse as of %s: %s, want %s", as_of ? as_of : "today",
                 got, want);
    free(got);
}

/* The same with --into: the warehouse keeps each cursor with its day, and
 * a run for another day replaces the hub's rows. */
static void test_warehouse_as_of(void **state)
{
    (void)state;
    send_a_and_b();
    char name[96], admin[1024], wh[1024];
    snprintf(name, sizeof name, "%s_wh", env.dbname);
    conninfo_for("postgres", admin, sizeof admin);
    conninfo_for(name, wh, sizeof wh);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    warehouse_exec(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    warehouse_exec(admin, sql);
    warehouse_pull(wh, "2024-05-31", "1|false");
    warehouse_pull(wh, "2024-05-31", "1|false");
    warehouse_pull(wh, NULL, "2|true");
    warehouse_pull(wh, "2024-05-31", "1|false");
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", name);
    warehouse_exec(admin, sql);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_petitions_overdue_as_of),
        cmocka_unit_test(test_indicators_as_of),
        cmocka_unit_test(test_bad_as_of_is_refused),
        cmocka_unit_test(test_city_pull_as_of),
        cmocka_unit_test(test_warehouse_as_of),
        cmocka_unit_test(test_petition_pages_same_rows),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
