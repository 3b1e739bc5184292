/*
 * test_pull.c - the city pulls (issue 6): a real hub with CURVE, a real
 * city-pull, and raw pull requests with ward and city identities.
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
#include <unistd.h>
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
static char instance[WS_UUID_LEN + 1];
static uint64_t next_seq = 1;

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_pull") != 0)
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
    struct it_curve city;
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

/* Sends one petition change of ward LB01 and expects it accepted within
 * timeout_ms. */
static void send_petition_within(const char *petition, int status,
                                 const char *note, int timeout_ms)
{
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__PetitionEvent p = WARDSYNC__V1__PETITION_EVENT__INIT;
    Wardsync__V1__Event *events[1] = {&event};
    char id[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(id), 0);
    p.petition = (char *)petition;
    p.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    p.channel = WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON;
    p.status = status;
    p.in_jurisdiction = true;
    p.received_on = "2026-10-01";
    p.due_on = status == WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED
                   ? ""
                   : "2026-11-10";
    p.note = (char *)note;
    event.seq = next_seq;
    event.event_id = id;
    event.occurred_at_ms = 1759276800000 + (int64_t)next_seq * 86400000;
    event.queued_at_ms = event.occurred_at_ms;
    event.body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    event.petition = &p;
    batch.protocol = 1;
    batch.agent_instance = instance;
    batch.ward = "LB01";
    batch.n_events = 1;
    batch.events = events;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(endpoint, &batch, timeout_ms, &ack), 0);
    assert_int_equal(ack->committed_through, next_seq);
    assert_int_equal(ack->n_outcomes, 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    next_seq++;
}

static void send_petition(const char *petition, int status, const char *note)
{
    send_petition_within(petition, status, note, 10000);
}

/* Opens round R1 for subject S01 of LB01 (as the owner) and sends n
 * ballots for it, all at level 1: fewer than 10, so every published cell
 * of S01 must be suppressed. */
static void send_few_ballots(int n)
{
    static const char *const setup[] = {
        "INSERT INTO survey_rounds (code, opens_on, closes_on, state) "
        "VALUES ('R1', '2025-01-01', '2026-12-31', 'open')",
        "INSERT INTO survey_round_forms VALUES ('R1', 'leadership', "
        "'leadership')",
        "INSERT INTO survey_round_wards VALUES ('R1', 'LB01', 20)",
        "INSERT INTO survey_round_subjects VALUES ('R1', 'LB01', 'S01', "
        "'leadership')"};
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        PGresult *r = PQexec(env.db, setup[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("%s: %s", setup[i], PQerrorMessage(env.db));
        PQclear(r);
    }
    uint32_t levels[41];
    for (int i = 0; i < 41; i++)
        levels[i] = 1;
    for (int k = 0; k < n; k++) {
        Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
        Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
        Wardsync__V1__Ballot ballot = WARDSYNC__V1__BALLOT__INIT;
        Wardsync__V1__Event *events[1] = {&event};
        char id[WS_UUID_LEN + 1];
        assert_int_equal(ws_uuid4(id), 0);
        ballot.survey = "R1";
        ballot.form = "leadership";
        ballot.subject = "S01";
        ballot.respondent_group = 2;
        ballot.n_levels = 41;
        ballot.levels = levels;
        event.seq = next_seq;
        event.event_id = id;
        event.occurred_at_ms = 1759276800000; /* 2025-10-01 */
        event.queued_at_ms = event.occurred_at_ms;
        event.body_case = WARDSYNC__V1__EVENT__BODY_BALLOT;
        event.ballot = &ballot;
        batch.protocol = 1;
        batch.agent_instance = instance;
        batch.ward = "LB01";
        batch.n_events = 1;
        batch.events = events;
        Wardsync__V1__Ack *ack = NULL;
        assert_int_equal(it_send_batch(endpoint, &batch, 10000, &ack), 0);
        assert_int_equal(ack->committed_through, next_seq);
        if (ack->n_outcomes)
            fail_msg("ballot refused: %s", ack->outcomes[0]->reason);
        wardsync__v1__ack__free_unpacked(ack, NULL);
        next_seq++;
    }
}

/* One raw pull request with the given CURVE identity. Returns the page
 * (caller frees) or NULL when the hub did not answer. */
/* Connects a DEALER with curve to the pull endpoint and sends one request
 * (page_size 0: the hub's default). */
static void *pull_send(void *ctx, const struct it_curve *curve,
                       const char *dataset, const char *scope,
                       const char *since, unsigned page_size)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve->server_z85, 41);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve->public_z85, 41);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve->secret_z85, 41);
    assert_int_equal(zmq_connect(s, pull_endpoint), 0);
    Wardsync__V1__PullRequest req = WARDSYNC__V1__PULL_REQUEST__INIT;
    req.protocol = 1;
    req.dataset = (char *)dataset;
    req.scope = (char *)scope;
    req.since = (char *)since;
    req.page_size = page_size;
    size_t len = wardsync__v1__pull_request__get_packed_size(&req);
    uint8_t *buf = malloc(len + 1);
    wardsync__v1__pull_request__pack(&req, buf);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    free(buf);
    return s;
}

/* The page the hub answers on s within timeout_ms, or NULL. */
static Wardsync__V1__PullPage *pull_recv(void *s, int timeout_ms)
{
    Wardsync__V1__PullPage *page = NULL;
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) == 1) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, 0) >= 0)
            page = wardsync__v1__pull_page__unpack(NULL, zmq_msg_size(&msg),
                                                   zmq_msg_data(&msg));
        zmq_msg_close(&msg);
    }
    return page;
}

static Wardsync__V1__PullPage *pull_page(const struct it_curve *curve,
                                         const char *dataset, const char *scope,
                                         const char *since, unsigned page_size)
{
    void *ctx = zmq_ctx_new();
    void *s = pull_send(ctx, curve, dataset, scope, since, page_size);
    Wardsync__V1__PullPage *page = pull_recv(s, 60000);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return page;
}

static Wardsync__V1__PullPage *pull_raw(const struct it_curve *curve,
                                        const char *dataset, const char *scope,
                                        const char *since)
{
    return pull_page(curve, dataset, scope, since, 0);
}

/* Runs city-pull as city HN into workdir/out (JSON unless csv). */
static int city_pull(const char *out, bool csv, bool full, char **output)
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
                          csv ? "csv" : "json",
                          full ? "--full" : NULL,
                          NULL};
    return it_run(argv, NULL, 120, output);
}

static json_t *load_rows(const char *out, const char *dataset)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s/%s.json", env.workdir, out, dataset);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    json_t *rows = json_incref(json_object_get(doc, "rows"));
    json_decref(doc);
    assert_true(json_is_array(rows));
    return rows;
}

/* The row of rows with key, or NULL. */
static json_t *row_with_key(json_t *rows, const char *key)
{
    size_t i;
    json_t *row;
    json_array_foreach(
        rows, i, row) if (strcmp(json_string_value(json_object_get(row, "key")),
                                 key) == 0) return row;
    return NULL;
}

static const char *row_op(json_t *rows, const char *key)
{
    json_t *row = row_with_key(rows, key);
    return row ? json_string_value(json_object_get(row, "op")) : "(absent)";
}

static void test_city_pulls_every_dataset(void **state)
{
    (void)state;
    send_petition("P-1",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED,
                  "Đơn của công dân phường Bồ Đề");
    send_petition("P-2",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    send_petition("P-1",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED,
                  "thụ lý, đang xem xét");
    char *out = NULL;
    int rc = city_pull("city", false, false, &out);
    if (rc != 0)
        fail_msg("city-pull exit %d:\n%s", rc, out ? out : "");
    free(out);

    json_t *p = load_rows("city", "petitions");
    assert_int_equal(json_array_size(p), 2);
    assert_string_equal(row_op(p, "LB01/P-1"), "insert");
    json_t *values = json_object_get(row_with_key(p, "LB01/P-1"), "values");
    assert_string_equal(json_string_value(json_object_get(values, "status")),
                        "accepted");
    /* due_on is the legal due date (docs/DESIGN.md §6), the one every
     * output shows; the date the ward typed is beside it, since it
     * differs. */
    assert_non_null(json_string_value(json_object_get(values, "due_on")));
    assert_string_not_equal(
        json_string_value(json_object_get(values, "due_on")), "2026-11-10");
    assert_string_equal(
        json_string_value(json_object_get(values, "typed_due_on")),
        "2026-11-10");
    /* The history holds both changes, with the ward's own words, as a
     * JSON array (not JSON inside a string). */
    json_t *history = json_object_get(values, "history");
    assert_true(json_is_array(history));
    assert_int_equal(json_array_size(history), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(history, 0), "note")),
        "Đơn của công dân phường Bồ Đề");
    assert_true(json_is_true(json_object_get(values, "in_jurisdiction")));
    json_decref(p);

    json_t *s = load_rows("city", "sync_status");
    assert_int_equal(json_array_size(s), 1);
    json_t *sv = json_object_get(json_array_get(s, 0), "values");
    assert_string_equal(json_string_value(json_object_get(sv, "ward")), "LB01");
    /* The city sees when each agent was last heard from, not its event
     * counts: accepted minus the petitions published beside it would be
     * the ward's ballot count, which the publication rule hides. */
    assert_true(json_is_string(json_object_get(sv, "last_contact")));
    assert_true(json_is_integer(json_object_get(sv, "lag_seconds")));
    static const char *const hidden[] = {"committed_through", "backlog",
                                         "accepted",          "duplicate",
                                         "conflict",          "rejected"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        if (!json_is_null(json_object_get(sv, hidden[i])))
            fail_msg("the city's sync_status shows %s", hidden[i]);
    json_decref(s);

    json_t *ind = load_rows("city", "indicators");
    assert_true(json_array_size(ind) > 0);
    json_decref(ind);
    json_t *ba = load_rows("city", "ballot_aggregates");
    json_decref(ba);
}

/* The second run fetches only the changes, and the file still holds the
 * whole dataset with them applied (docs/DESIGN.md §8). */
static void test_second_pull_keeps_whole_dataset(void **state)
{
    (void)state;
    send_petition("P-2",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RESOLVED,
                  "đã giải quyết");
    send_petition("P-3",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    char *out = NULL;
    assert_int_equal(city_pull("city", false, false, &out), 0);
    free(out);
    json_t *p = load_rows("city", "petitions");
    assert_int_equal(json_array_size(p), 3);
    assert_string_equal(row_op(p, "LB01/P-2"), "update");
    assert_string_equal(row_op(p, "LB01/P-3"), "insert");
    assert_string_equal(row_op(p, "LB01/P-1"), "insert");
    json_decref(p);
    json_t *s = load_rows("city", "sync_status");
    assert_int_equal(json_array_size(s), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(s, 0), "op")),
        "update");
    json_decref(s);

    /* Nothing new: the file stays whole. */
    assert_int_equal(city_pull("city", false, false, &out), 0);
    assert_non_null(strstr(out, "petitions          0 rows in 1 pages"));
    free(out);
    p = load_rows("city", "petitions");
    assert_int_equal(json_array_size(p), 3);
    json_decref(p);

    /* A deletion is pulled as such. */
    PGresult *r = PQexec(env.db, "DELETE FROM petitions WHERE ward = 'LB01' "
                                 "AND petition = 'P-3'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(city_pull("city", false, false, &out), 0);
    free(out);
    p = load_rows("city", "petitions");
    if (json_array_size(p) != 2) {
        char *dump = json_dumps(p, JSON_INDENT(1));
        fail_msg("want P-3 removed, got:\n%s", dump);
    }
    assert_null(row_with_key(p, "LB01/P-3"));
    json_decref(p);
}

static void test_csv_is_utf8_with_header(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(city_pull("city-csv", true, true, &out), 0);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/city-csv/petitions.csv", env.workdir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_memory_equal(buf, "\xEF\xBB\xBFhub,op,key,change,ward,petition,",
                        33);
    assert_non_null(strstr(buf, "Đơn của công dân phường Bồ Đề"));
    assert_non_null(strstr(buf, "\"thụ lý, đang xem xét\""));
}

static bool is_number(const char *s);

static void test_ward_key_cannot_pull(void **state)
{
    (void)state;
    struct it_curve ward;
    assert_int_equal(it_principal_keys(&env, "ward", "LB02", &ward, NULL, 0),
                     0);
    static const char *const refused[][2] = {{"indicators", ""},
                                             {"ballot_aggregates", ""},
                                             {"petitions", "LB01"},
                                             {"sync_status", "LB01"}};
    for (size_t i = 0; i < 4; i++) {
        Wardsync__V1__PullPage *page =
            pull_raw(&ward, refused[i][0], refused[i][1], "");
        assert_non_null(page);
        if (strstr(page->error, "not allowed") == NULL)
            fail_msg("ward LB02 pulled %s scope=%s: error \"%s\", %zu rows",
                     refused[i][0], refused[i][1], page->error, page->n_rows);
        assert_int_equal(page->n_rows, 0);
        wardsync__v1__pull_page__free_unpacked(page, NULL);
    }
    /* Its own petitions: allowed, and LB01's rows are not among them. */
    Wardsync__V1__PullPage *page = pull_raw(&ward, "petitions", "", "");
    assert_non_null(page);
    assert_string_equal(page->error, "");
    assert_int_equal(page->n_rows, 0);
    wardsync__v1__pull_page__free_unpacked(page, NULL);

    /* LB01's own sync_status carries its counts (the city's does not). */
    struct it_curve lb01;
    assert_int_equal(it_principal_keys(&env, "ward", "LB01", &lb01, NULL, 0),
                     0);
    page = pull_raw(&lb01, "sync_status", "", "");
    assert_non_null(page);
    assert_string_equal(page->error, "");
    assert_true(page->n_rows >= 1);
    size_t through = page->n_columns;
    for (size_t c = 0; c < page->n_columns; c++)
        if (strcmp(page->columns[c], "committed_through") == 0)
            through = c;
    assert_true(through < page->n_columns);
    for (size_t r = 0; r < page->n_rows; r++) {
        assert_non_null(strstr(page->rows[r]->key, "LB01/"));
        assert_true(is_number(page->rows[r]->values[through]));
    }
    wardsync__v1__pull_page__free_unpacked(page, NULL);
}

static bool is_number(const char *s)
{
    if (!s || !*s)
        return false;
    char *end;
    strtod(s, &end);
    return *end == '\0';
}

/* Whatever the city pulls of ballot-derived data, a suppressed row carries
 * no number and no ballot count under 10 shows. */
static void test_city_never_sees_suppressed_numbers(void **state)
{
    (void)state;
    struct it_curve city;
    assert_int_equal(it_principal_keys(&env, "city", "HN", &city, NULL, 0), 0);
    send_few_ballots(3);
    size_t n_suppressed = 0;
    static const char *const datasets[] = {"ballot_aggregates", "indicators"};
    for (size_t d = 0; d < 2; d++) {
        Wardsync__V1__PullPage *page = pull_raw(&city, datasets[d], "", "");
        assert_non_null(page);
        if (strstr(page->error, "not available yet")) {
            wardsync__v1__pull_page__free_unpacked(page, NULL);
            continue;
        }
        assert_string_equal(page->error, "");
        int suppressed = -1, ballots = -1;
        for (size_t c = 0; c < page->n_columns; c++) {
            if (strcmp(page->columns[c], "suppressed") == 0)
                suppressed = (int)c;
            if (strcmp(page->columns[c], "ballots") == 0)
                ballots = (int)c;
        }
        for (size_t r = 0; r < page->n_rows; r++) {
            Wardsync__V1__Row *row = page->rows[r];
            if (suppressed >= 0 && strcmp(row->values[suppressed], "true") == 0)
                n_suppressed++;
            if (suppressed >= 0 && strcmp(row->values[suppressed], "true") == 0)
                for (size_t c = 0; c < row->n_values; c++)
                    if (is_number(row->values[c]) &&
                        strcmp(page->columns[c], "item") != 0 &&
                        strcmp(page->columns[c], "respondent_group") != 0)
                        fail_msg("%s row %s: suppressed but %s=%s", datasets[d],
                                 row->key, page->columns[c], row->values[c]);
            if (ballots >= 0 && is_number(row->values[ballots]) &&
                atof(row->values[ballots]) > 0 &&
                atof(row->values[ballots]) < 10)
                fail_msg("%s row %s: ballots=%s", datasets[d], row->key,
                         row->values[ballots]);
        }
        wardsync__v1__pull_page__free_unpacked(page, NULL);
    }
    /* The three ballots were stored: the rule had something to hide. */
    assert_true(n_suppressed > 0);
}

static void test_unreachable_hub_is_reported(void **state)
{
    (void)state;
    char dir[512], dead[128], hubspec[1024];
    snprintf(dir, sizeof dir, "%s/city-dead", env.workdir);
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", it_free_port());
    snprintf(hubspec, sizeof hubspec, "LB=%s key=%s", pull_endpoint,
             env.hub_key);
    char deadspec[1024];
    snprintf(deadspec, sizeof deadspec, "XX=%s key=%s", dead, env.hub_key);
    const char *argv[] = {
        WS_CITY_PULL_BIN, "--hub",        deadspec,   "--hub", hubspec,
        "--secret-key",   city_secret,    "--output", dir,     "--dataset",
        "petitions",      "--timeout-ms", "1500",     NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 60, &out);
    assert_int_equal(rc, 4);
    assert_non_null(strstr(out, "hub XX does not answer"));
    assert_non_null(strstr(out, "LB         petitions"));
    free(out);
}

/* Every page of one pull of dataset from "" with page_size, as "key=op"
 * lines in change order (a row seen twice keeps its last op). */
static char *ops_of_pull(const struct it_curve *curve, const char *dataset,
                         unsigned page_size)
{
    json_t *ops = json_object();
    char cursor[64] = "";
    for (int pages = 0;; pages++) {
        assert_true(pages < 1000);
        Wardsync__V1__PullPage *page =
            pull_page(curve, dataset, "", cursor, page_size);
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
        snprintf(cursor, sizeof cursor, "%s", page->next_cursor);
        bool more = page->more;
        wardsync__v1__pull_page__free_unpacked(page, NULL);
        if (!more)
            break;
    }
    char *text = json_dumps(ops, JSON_SORT_KEYS | JSON_INDENT(1));
    json_decref(ops);
    return text;
}

/* Bug 5 of issue 12: a row created after the pull's start is an insert
 * whatever the page size; before, a paged pull called Q-1 an update
 * because its creation was below the current page's cursor. */
static void test_op_does_not_depend_on_page_size(void **state)
{
    (void)state;
    struct it_curve city;
    assert_int_equal(it_principal_keys(&env, "city", "HN", &city, NULL, 0), 0);
    send_petition("Q-1",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    send_petition("Q-2",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    send_petition("Q-1",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED, "");
    static const char *const datasets[] = {"petitions", "sync_status",
                                           "ballot_aggregates", "indicators"};
    for (size_t d = 0; d < 4; d++) {
        char *big = ops_of_pull(&city, datasets[d], 5000);
        char *paged = ops_of_pull(&city, datasets[d], 1);
        if (strcmp(big, paged) != 0)
            fail_msg("%s: one page:\n%s\npages of one row:\n%s", datasets[d],
                     big, paged);
        if (d == 0)
            assert_non_null(strstr(paged, "\"LB01/Q-1\": \"insert\""));
        free(big);
        free(paged);
    }
}

/* The pull endpoint has its own thread and connection: a pull that waits
 * on the database does not hold up an ack. */
static void test_pull_does_not_delay_acks(void **state)
{
    (void)state;
    struct it_curve city;
    assert_int_equal(it_principal_keys(&env, "city", "HN", &city, NULL, 0), 0);
    /* A change to the published data, and every round of the ballot
     * aggregates to recompute (sql/012_incremental_aggregates.sql), so that
     * the next first page of ballot_aggregates recomputes them, which reads
     * indicator_settings. */
    send_petition("Q-3",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    PGresult *r = PQexec(env.db, "INSERT INTO ballot_aggregates_dirty"
                                 " VALUES (NULL, NULL)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexec(env.db, "BEGIN; LOCK TABLE indicator_settings IN "
                       "ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    void *ctx = zmq_ctx_new();
    void *s = pull_send(ctx, &city, "ballot_aggregates", "", "", 0);
    /* The pull is now stuck behind the lock; no page yet. */
    Wardsync__V1__PullPage *page = pull_recv(s, 500);
    assert_null(page);
    send_petition_within(
        "Q-3", WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED, "",
        3000);
    r = PQexec(env.db, "ROLLBACK");
    PQclear(r);
    page = pull_recv(s, 30000);
    assert_non_null(page);
    assert_string_equal(page->error, "");
    wardsync__v1__pull_page__free_unpacked(page, NULL);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* A transaction that draws a change number holds the change-number lock
 * until it ends (sql/003_pull_thread.sql), so numbers commit in order. */
static void test_change_numbers_drawn_under_one_lock(void **state)
{
    (void)state;
    PGconn *other = PQconnectdb(env.conninfo);
    assert_int_equal(PQstatus(other), CONNECTION_OK);
    PGresult *r = PQexec(other, "BEGIN; UPDATE petitions SET note = 'sửa'"
                                " WHERE petition = 'Q-2'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
             " AND granted AND pid = %d",
             PQbackendPID(other));
    assert_int_equal(it_query_long(env.db, sql), 1);
    long before = it_query_long(
        env.db, "SELECT change_seq FROM petitions WHERE petition = 'Q-2'");
    r = PQexec(other, "COMMIT");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(it_query_long(env.db, sql), 0);
    long after = it_query_long(
        env.db, "SELECT change_seq FROM petitions WHERE petition = 'Q-2'");
    assert_true(after > before);
    PQfinish(other);
}

/* The snapshot signature moves with the published data only: an agent
 * reporting in (its row in agents) leaves it, a petition or a setting
 * moves it (issue 13: pages recomputed the snapshot at every batch). */
static void test_signature_ignores_agent_contact(void **state)
{
    (void)state;
    static const char version[] = "SELECT version FROM pull_published_version";
    long v0 = it_query_long(env.db, version);
    PGresult *r = PQexec(env.db, "UPDATE agents SET last_contact = now(),"
                                 " committed_through = committed_through");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(it_query_long(env.db, version), v0);
    send_petition("Q-4",
                  WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    long v1 = it_query_long(env.db, version);
    assert_true(v1 > v0);
    r = PQexec(env.db,
               "UPDATE indicator_settings SET due_soon_days = due_soon_days");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_true(it_query_long(env.db, version) > v1);
}

/* district-hub status: every unit, as json and as a table, with a
 * silence threshold (the wards of the org-unit file that never sent make
 * it exit 1; test_city.c covers NEVER and reinstalls). */
static void test_status_shows_every_agent(void **state)
{
    (void)state;
    char *out = NULL;
    const char *json_argv[] = {it_hub_bin, "--database", env.conninfo, "status",
                               "--format", "json",       NULL};
    assert_int_equal(it_run(json_argv, NULL, 30, &out), 1);
    json_error_t jerr;
    const char *start = strchr(out, '{');
    json_t *root = start ? json_loads(start, 0, &jerr) : NULL;
    if (!root)
        fail_msg("status is not json:\n%s", out);
    json_t *agents = json_object_get(root, "agents");
    json_t *a = NULL;
    for (size_t i = 0; i < json_array_size(agents); i++)
        if (strcmp(json_string_value(
                       json_object_get(json_array_get(agents, i), "ward")),
                   "LB01") == 0)
            a = json_array_get(agents, i);
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "ok");
    assert_int_equal(
        json_integer_value(json_object_get(a, "committed_through")),
        (json_int_t)(next_seq - 1));
    assert_int_equal(json_integer_value(json_object_get(a, "accepted")),
                     (json_int_t)(next_seq - 1));
    assert_int_equal(json_integer_value(json_object_get(a, "rejected")), 0);
    assert_false(json_is_true(json_object_get(a, "silent")));
    json_decref(root);
    free(out);

    /* Make the agent's last contact old: it is then marked silent. */
    PGresult *r = PQexec(env.db, "UPDATE agents SET last_contact = now() - "
                                 "interval '2 hours'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *table_argv[] = {it_hub_bin, "--database",     env.conninfo,
                                "status",   "--silent-after", "3600",
                                NULL};
    assert_int_equal(it_run(table_argv, NULL, 30, &out), 1);
    assert_non_null(strstr(out, "LB01"));
    assert_non_null(strstr(out, "SILENT"));
    if (!strstr(out, "15 units, 15 silent for more than 3600s or never seen"))
        fail_msg("want 15 units all silent or never seen:\n%s", out);
    free(out);
}

/* A bulk load that autovacuum has not analysed yet is analysed by the
 * pull before it computes a published snapshot (issue #13): with
 * autovacuum off for petitions, 120 new petitions leave its statistics
 * stale; the next city pull refreshes them and says so in the log. */
static void test_pull_refreshes_stale_statistics(void **state)
{
    (void)state;
    PGresult *r = PQexec(env.db, "ALTER TABLE petitions"
                                 " SET (autovacuum_enabled = false)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    struct it_log_cursor cursor;
    it_log_cursor_at_end(hub_log, &cursor);
    for (int i = 0; i < 120; i++) {
        char code[32];
        snprintf(code, sizeof code, "BULK-%03d", i);
        send_petition(
            code, WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "");
    }
    /* The hub's session reports its counts when it goes idle. */
    long stale = 0;
    for (int i = 0; i < 100 && stale < 120; i++) {
        usleep(100 * 1000);
        stale = it_query_long(env.db, "SELECT n_mod_since_analyze"
                                      "  FROM pg_stat_user_tables"
                                      " WHERE relname = 'petitions'");
    }
    assert_true(stale >= 120);

    struct it_curve city;
    assert_int_equal(it_principal_keys(&env, "city", "HN", &city, NULL, 0), 0);
    Wardsync__V1__PullPage *page = pull_raw(&city, "indicators", "", "");
    assert_non_null(page);
    assert_string_equal(page->error, "");
    wardsync__v1__pull_page__free_unpacked(page, NULL);
    char rest[512];
    assert_int_equal(it_log_wait(&cursor,
                                 "planner statistics refreshed tables=", 10000,
                                 rest, sizeof rest),
                     0);
    assert_non_null(strstr(rest, "petitions"));
    assert_int_equal(it_query_long(env.db, "SELECT count(*)"
                                           "  FROM pg_stat_user_tables"
                                           " WHERE relname = 'petitions'"
                                           "   AND last_analyze IS NOT NULL"),
                     1);
    r = PQexec(env.db, "ALTER TABLE petitions RESET (autovacuum_enabled)");
    PQclear(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_city_pulls_every_dataset),
        cmocka_unit_test(test_second_pull_keeps_whole_dataset),
        cmocka_unit_test(test_csv_is_utf8_with_header),
        cmocka_unit_test(test_ward_key_cannot_pull),
        cmocka_unit_test(test_city_never_sees_suppressed_numbers),
        cmocka_unit_test(test_unreachable_hub_is_reported),
        cmocka_unit_test(test_op_does_not_depend_on_page_size),
        cmocka_unit_test(test_pull_does_not_delay_acks),
        cmocka_unit_test(test_change_numbers_drawn_under_one_lock),
        cmocka_unit_test(test_signature_ignores_agent_contact),
        cmocka_unit_test(test_status_shows_every_agent),
        cmocka_unit_test(test_pull_refreshes_stale_statistics),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
