/*
 * test_pipeline.c - ward agent -> ZeroMQ -> district hub -> PostgreSQL, for
 * real: the programs as built, a real cluster, real sockets on loopback.
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
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "harness.h"
#include "wardsync/util.h"

static struct it_env env;
static char endpoint[128];
static pid_t hub = -1;

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_pipeline") != 0)
        return -1;
    /* Ballots are accepted only for an open round listing their subject
     * in their ward (sql/001_baseline.sql): the round the ballots below use. */
    PGresult *r = PQexec(
        env.db, "INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
                " VALUES ('2023-R1', '2023-10-01', '2023-10-31', 'open');"
                "INSERT INTO survey_round_forms VALUES"
                " ('2023-R1', 'leadership', 'leadership');"
                "INSERT INTO survey_round_wards VALUES ('2023-R1', 'LB01', 30);"
                "INSERT INTO survey_round_subjects VALUES"
                " ('2023-R1', 'LB01', 'LB01-S01', 'leadership'),"
                " ('2023-R1', 'LB01', 'LB01-S02', 'leadership'),"
                " ('2023-R1', 'LB01', 'LB01-S03', 'leadership')");
    bool round_ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!round_ok)
        fprintf(stderr, "could not create the round: %s",
                PQresultErrorMessage(r));
    PQclear(r);
    if (!round_ok)
        return -1;
    hub = it_start_hub(&env, NULL, endpoint, sizeof endpoint);
    return hub > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

/* The environment that gives ward's agent its enrolled CURVE key and the
 * hub's public key, followed by extra (may be NULL). */
struct agent_env {
    char secret[480], hub_key[400];
    const char *list[8];
};

static const char *const *agent_env_for(struct agent_env *ae, const char *ward,
                                        const char *const extra[])
{
    struct it_curve curve;
    char path[420];
    assert_int_equal(
        it_principal_keys(&env, "ward", ward, &curve, path, sizeof path), 0);
    snprintf(ae->secret, sizeof ae->secret, "WARDSYNC_AGENT_SECRET_KEY=%s",
             path);
    snprintf(ae->hub_key, sizeof ae->hub_key,
             "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s", env.hub_key);
    size_t n = 0;
    ae->list[n++] = ae->secret;
    ae->list[n++] = ae->hub_key;
    for (size_t i = 0; extra && extra[i] && n + 1 < 8; i++)
        ae->list[n++] = extra[i];
    ae->list[n] = NULL;
    return ae->list;
}

/* Runs ward-agent with its home under the work dir and the given args, as
 * the ward's enrolled CURVE identity. */
static int agent(const char *home, const char *ward, const char *hub_ep,
                 const char *const extra_env[], char **out, const char *a1,
                 const char *a2, const char *a3, const char *a4)
{
    char home_path[512];
    struct agent_env ae;
    snprintf(home_path, sizeof home_path, "%s/%s", env.workdir, home);
    const char *argv[] = {it_agent_bin, "--home", home_path, "--ward",
                          ward,         "--hub",  hub_ep,    a1,
                          a2,           a3,       a4,        NULL};
    return it_run(argv, agent_env_for(&ae, ward, extra_env), 60, out);
}

/* Reads one integer key of "ward-agent status --format json". */
static long agent_status(const char *home, const char *ward, const char *key)
{
    char *out = NULL;
    long v = -1;
    if (agent(home, ward, endpoint, NULL, &out, "status", "--format", "json",
              NULL) == 0) {
        json_error_t jerr;
        json_t *root = json_loads(out, 0, &jerr);
        json_t *val = root ? json_object_get(root, key) : NULL;
        if (json_is_integer(val))
            v = (long)json_integer_value(val);
        else
            fprintf(stderr, "status has no integer %s:\n%s\n", key, out);
        json_decref(root);
    }
    free(out);
    return v;
}

static void write_ballots(const char *path, const char *form, int n_items,
                          int rows)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= 41; i++)
        fprintf(f, ",i%02d", i);
    fputc('\n', f);
    for (int r = 0; r < rows; r++) {
        fprintf(f, "2023-R1,%s,LB01-S0%d,%d,2023-10-0%d", form, 1 + r % 3,
                1 + r % 4, 2 + r % 5);
        for (int i = 1; i <= 41; i++)
            fprintf(f, i <= n_items ? ",%d" : ",", 1 + (r + i) % 3);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
}

static long count(const char *sql)
{
    return it_query_long(env.db, sql);
}

static void test_ballot_arrives_exactly_once(void **state)
{
    (void)state;
    char csv[512];
    snprintf(csv, sizeof csv, "%s/ballots.csv", env.workdir);
    write_ballots(csv, "leadership", 41, 5);

    assert_int_equal(agent("a1", "LB01", endpoint, NULL, NULL, "import",
                           "ballots", csv, NULL),
                     0);
    assert_int_equal(agent_status("a1", "LB01", "queued"), 5);
    assert_int_equal(agent("a1", "LB01", endpoint, NULL, NULL, "run",
                           "--until-idle", "--max-seconds", "30"),
                     0);
    assert_int_equal(count("SELECT count(*) FROM ballots WHERE ward='LB01'"),
                     5);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB01' "
                           "AND kind='ballot'"),
                     5);

    /* Running again sends nothing new and stores nothing twice. */
    assert_int_equal(agent("a1", "LB01", endpoint, NULL, NULL, "run",
                           "--until-idle", "--max-seconds", "30"),
                     0);
    assert_int_equal(count("SELECT count(*) FROM ballots WHERE ward='LB01'"),
                     5);
    assert_int_equal(agent_status("a1", "LB01", "delivered"), 5);
    assert_int_equal(agent_status("a1", "LB01", "queued"), 0);
}

/* A hand-made batch of reception sessions seq first..first+n-1. */
struct raw_batch {
    Wardsync__V1__Batch batch;
    Wardsync__V1__Event events[8];
    Wardsync__V1__Event *event_ptrs[8];
    Wardsync__V1__ReceptionSession sessions[8];
    char ids[8][WS_UUID_LEN + 1];
    char names[8][32];
};

static void raw_batch_init(struct raw_batch *rb, const char *instance,
                           const char *ward, uint64_t first, size_t n)
{
    wardsync__v1__batch__init(&rb->batch);
    rb->batch.protocol = WS_PROTOCOL_VERSION;
    rb->batch.agent_instance = (char *)instance;
    rb->batch.ward = (char *)ward;
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__Event *e = &rb->events[i];
        Wardsync__V1__ReceptionSession *s = &rb->sessions[i];
        wardsync__v1__event__init(e);
        wardsync__v1__reception_session__init(s);
        assert_int_equal(ws_uuid4(rb->ids[i]), 0);
        snprintf(rb->names[i], sizeof rb->names[i], "TCD-%llu",
                 (unsigned long long)(first + i));
        s->session = rb->names[i];
        s->held_on = "2023-10-05";
        s->host_role = WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR;
        s->mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
        s->citizens = 3;
        e->seq = first + i;
        e->event_id = rb->ids[i];
        e->occurred_at_ms = 1696464000000;
        e->queued_at_ms = 1696464000000;
        e->body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
        e->reception = s;
        rb->event_ptrs[i] = e;
    }
    rb->batch.n_events = n;
    rb->batch.events = rb->event_ptrs;
}

static void test_batch_sent_twice_is_stored_once(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1];
    struct raw_batch rb;
    Wardsync__V1__Ack *ack = NULL;

    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&rb, instance, "LB02", 1, 3);

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 3);
    for (size_t i = 0; i < ack->n_outcomes; i++)
        assert_int_equal(ack->outcomes[i]->code,
                         WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(
        count("SELECT count(*) FROM reception_sessions WHERE ward='LB02'"), 3);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB02'"), 3);
}

static void test_gap_is_refused(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1];
    struct raw_batch first, gap;
    Wardsync__V1__Ack *ack = NULL;

    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&first, instance, "LB03", 1, 1);
    raw_batch_init(&gap, instance, "LB03", 3, 2);

    assert_int_equal(it_send_batch(endpoint, &first.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(it_send_batch(endpoint, &gap.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    assert_int_equal(ack->refusal, WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP);
    assert_string_equal(ack->agent_instance, instance);
    assert_non_null(ack->error);
    assert_true(strlen(ack->error) > 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB03'"), 1);
    assert_int_equal(
        count("SELECT committed_through FROM agents WHERE ward='LB03'"), 1);
}

static void test_malformed_frame_is_answered_and_hub_keeps_serving(void **s)
{
    (void)s;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    Wardsync__V1__Ack *ack = NULL;

    assert_int_equal(
        it_send_raw(endpoint, garbage, sizeof garbage, 10000, &ack), 0);
    assert_int_equal(ack->refusal,
                     WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED);
    assert_non_null(ack->error);
    assert_true(strlen(ack->error) > 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    /* Still serving. */
    char instance[WS_UUID_LEN + 1];
    struct raw_batch rb;
    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&rb, instance, "LB04", 1, 1);
    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);
}

/* The writer receives events as COPY text: a note with
 * tabs, line breaks, backslashes and "\." must arrive byte for byte, and a
 * rejected event whose id holds a tab must be kept as sent without
 * upsetting the rest of the group. */
static void test_text_survives_the_stage_exactly(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1];
    struct raw_batch rb;
    Wardsync__V1__Ack *ack = NULL;

    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&rb, instance, "LB10", 1, 3);
    Wardsync__V1__PetitionEvent p = WARDSYNC__V1__PETITION_EVENT__INIT;
    p.petition = "TXT-1";
    p.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    p.channel = WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST;
    p.status = WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED;
    p.in_jurisdiction = true;
    p.received_on = "2023-10-05";
    p.due_on = "";
    p.note = "tab\there\nline two\\back\\.slash\r\n\\.\nđơn thư";
    rb.events[0].body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    rb.events[0].petition = &p;
    rb.events[1].event_id = "not-a-uuid\twith a tab";

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->seq, 2);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(
        count("SELECT count(*) FROM petitions WHERE ward = 'LB10'"
              " AND petition = 'TXT-1' AND note = 'tab' || chr(9) || 'here'"
              " || chr(10) || 'line two\\back\\.slash' || chr(13)"
              " || chr(10) || '\\.' || chr(10) || 'đơn thư'"),
        1);
    assert_int_equal(
        count("SELECT count(*) FROM petition_history WHERE ward = 'LB10'"
              " AND note LIKE 'tab%đơn thư'"),
        1);
    assert_int_equal(
        count("SELECT count(*) FROM rejected_events WHERE ward = 'LB10'"
              " AND seq = 2"
              " AND event_id = 'not-a-uuid' || chr(9) || 'with a tab'"),
        1);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward = 'LB10'"),
                     2);
}

static void test_invalid_event_is_kept_with_reason(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1];
    struct raw_batch rb;
    Wardsync__V1__Ack *ack = NULL;

    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&rb, instance, "LB05", 1, 2);
    rb.sessions[1].host_role = 0; /* not a host role */

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 2);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->seq, 2);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    assert_non_null(strstr(ack->outcomes[0]->reason, "host_role"));
    wardsync__v1__ack__free_unpacked(ack, NULL);

    /* The ack may be lost: sent again, the rejection is repeated, not
     * turned into a duplicate, and nothing is stored twice. */
    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 2);
    assert_int_equal(ack->n_outcomes, 2);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE);
    assert_int_equal(ack->outcomes[1]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    assert_non_null(strstr(ack->outcomes[1]->reason, "host_role"));
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(
        count("SELECT count(*) FROM rejected_events WHERE ward='LB05' "
              "AND seq=2 AND reason LIKE '%host_role%'"),
        1);
    assert_int_equal(
        count("SELECT count(*) FROM reception_sessions WHERE ward='LB05'"), 1);
}

/* The agent's catalogue knows a form the hub's does not (an out-of-date
 * catalogue at the district): the agent queues, the hub rejects, and the
 * ward sees the rejection with its reason. */
static void test_agent_shows_hub_rejection(void **state)
{
    (void)state;
    char catalogue[512], csv[512], envvar[600], cmd[1200];
    snprintf(catalogue, sizeof catalogue, "%s/catalogue-pilot.csv",
             env.workdir);
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && printf 'form,,pilot,,Pilot form\\n"
             "item,pilot,P01,M01,Pilot item 1\\nitem,pilot,P02,M02,"
             "Pilot item 2\\n' >> '%s'",
             WS_CATALOGUE_PATH, catalogue, catalogue);
    assert_int_equal(system(cmd), 0);
    snprintf(envvar, sizeof envvar, "WARDSYNC_AGENT_CATALOGUE=%s", catalogue);
    const char *extra[] = {envvar, NULL};

    snprintf(csv, sizeof csv, "%s/ballots-pilot.csv", env.workdir);
    write_ballots(csv, "pilot", 2, 2);
    assert_int_equal(agent("a6", "LB06", endpoint, extra, NULL, "import",
                           "ballots", csv, NULL),
                     0);
    assert_int_equal(agent("a6", "LB06", endpoint, extra, NULL, "run",
                           "--until-idle", "--max-seconds", "30"),
                     0);

    assert_int_equal(count("SELECT count(*) FROM ballots WHERE ward='LB06'"),
                     0);
    assert_int_equal(
        count("SELECT count(*) FROM rejected_events WHERE ward='LB06' "
              "AND reason LIKE '%form%'"),
        2);
    assert_int_equal(agent_status("a6", "LB06", "rejected"), 2);

    char *out = NULL;
    assert_int_equal(
        agent("a6", "LB06", endpoint, extra, &out, "status", NULL, NULL, NULL),
        0);
    assert_non_null(strstr(out, "form"));
    free(out);
}

static void test_agent_queues_while_hub_is_down(void **state)
{
    (void)state;
    char ep[128], started_ep[128], csv[512], home[512], log[512];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", it_free_port());
    snprintf(csv, sizeof csv, "%s/reception.csv", env.workdir);
    assert_int_equal(
        it_write_file(csv, "session,held_on,host_role,mode,citizens,petitions\n"
                           "S1,2023-10-02,chair,regular,4,1\n"
                           "S2,2023-10-09,vice_chair,regular,2,0\n"
                           "\"S3\",2023-10-11,officer,ad_hoc,1,1\n"),
        0);
    assert_int_equal(
        agent("a7", "LB07", ep, NULL, NULL, "import", "reception", csv, NULL),
        0);

    snprintf(home, sizeof home, "%s/a7", env.workdir);
    snprintf(log, sizeof log, "%s/agent-a7.log", env.workdir);
    const char *argv[] = {it_agent_bin, "--home", home,  "--ward", "LB07",
                          "--hub",      ep,       "run", NULL};
    struct agent_env ae;
    pid_t a = it_spawn(argv, agent_env_for(&ae, "LB07", NULL), log);
    assert_true(a > 0);
    usleep(1500 * 1000);
    assert_int_equal(agent_status("a7", "LB07", "queued"), 3);
    /* A second "run" on the same home is refused while the first lives. */
    char *second_out = NULL;
    assert_int_equal(agent("a7", "LB07", ep, NULL, &second_out, "run",
                           "--until-idle", "--max-seconds", "5"),
                     3);
    assert_non_null(strstr(second_out, "another ward-agent run"));
    free(second_out);
    assert_int_equal(
        count("SELECT count(*) FROM reception_sessions WHERE ward='LB07'"), 0);

    pid_t second = it_start_hub(&env, ep, started_ep, sizeof started_ep);
    assert_true(second > 0);
    long queued = -1;
    for (int i = 0; i < 300 && queued != 0; i++) {
        usleep(100 * 1000);
        queued = agent_status("a7", "LB07", "queued");
    }
    it_stop(a);
    it_stop(second);
    assert_int_equal(queued, 0);
    assert_int_equal(
        count("SELECT count(*) FROM reception_sessions WHERE ward='LB07'"), 3);
    assert_int_equal(count("SELECT sum(citizens) FROM reception_sessions WHERE "
                           "ward='LB07'"),
                     7);
}

/* Batches sent back to back on one connection, as an agent's window does,
 * are committed in one group; a gap among them (another agent instance)
 * is refused alone and leaves nothing behind, not even its agent row. */
static void test_window_and_gap_share_a_group(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1], other[WS_UUID_LEN + 1];
    struct raw_batch a, gap, b;
    struct it_curve curve;
    assert_int_equal(ws_uuid4(instance), 0);
    assert_int_equal(ws_uuid4(other), 0);
    raw_batch_init(&a, instance, "LB08", 1, 2);
    raw_batch_init(&gap, other, "LB08", 4, 1);
    raw_batch_init(&b, instance, "LB08", 3, 2);
    assert_int_equal(it_principal_keys(&env, "ward", "LB08", &curve, NULL, 0),
                     0);

    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, timeout_ms = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve.server_z85, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve.public_z85, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve.secret_z85, 40);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    const Wardsync__V1__Batch *batches[] = {&a.batch, &gap.batch, &b.batch};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(ws_pack(&batches[i]->base, &buf, &len), 0);
        assert_true(zmq_send(s, buf, len, 0) >= 0);
        free(buf);
    }
    uint64_t through = 0;
    int refused = 0;
    for (int i = 0; i < 3; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        assert_true(zmq_msg_recv(&msg, s, 0) >= 0);
        Wardsync__V1__Ack *ack = NULL;
        char err[256];
        assert_int_equal(ws_ack_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                       WS_MAX_FRAME_DEFAULT, &ack, err,
                                       sizeof err),
                         0);
        zmq_msg_close(&msg);
        if (strcmp(ack->agent_instance, other) == 0) {
            assert_int_equal(ack->refusal,
                             WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP);
            assert_int_equal(ack->committed_through, 0);
            refused++;
        } else {
            assert_int_equal(ack->refusal,
                             WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE);
            assert_true(!ack->error || !ack->error[0]);
            if (ack->committed_through > through)
                through = ack->committed_through;
        }
        wardsync__v1__ack__free_unpacked(ack, NULL);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    assert_int_equal(refused, 1);
    assert_int_equal(through, 4);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB08'"), 4);
    assert_int_equal(count("SELECT count(*) FROM agents WHERE ward='LB08'"), 1);
}

/* An event_id already stored with another payload, in the middle of a
 * batch: the writer keeps the conflict for review and stores the other
 * events. */
static void test_conflict_in_a_batch_spares_the_rest(void **state)
{
    (void)state;
    char first_instance[WS_UUID_LEN + 1], instance[WS_UUID_LEN + 1];
    struct raw_batch first, rb;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(ws_uuid4(first_instance), 0);
    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&first, first_instance, "LB09", 1, 1);
    raw_batch_init(&rb, instance, "LB09", 1, 3);
    memcpy(rb.ids[1], first.ids[0], sizeof rb.ids[1]);

    assert_int_equal(it_send_batch(endpoint, &first.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->seq, 2);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB09'"), 3);
    assert_int_equal(count("SELECT count(*) FROM rejected_events WHERE "
                           "ward='LB09' AND code = 'conflict'"),
                     1);
}

/* Runs one constant SQL text on the owner's connection; fails the test
 * when the server refuses it. */
static void sql_ok(const char *sql)
{
    PGresult *res = PQexec(env.db, sql);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
}

/* The one writer, ingest_apply(), given a group in which one row of one
 * batch is refused by the database itself (a date the cast refuses: the
 * shared validation is not what is tested here): only that row is
 * rejected, with the database's reason, and every other row of both
 * batches is stored; the outcome comes back to the hub as a row. */
static void test_writer_refuses_one_row_not_the_group(void **state)
{
    (void)state;
    sql_ok("SELECT ingest_stage_create()");
    sql_ok("BEGIN");
    sql_ok("INSERT INTO agents (ward, agent_instance) VALUES"
           " ('LB11', 'writer-test-0'), ('LB12', 'writer-test-1')");
    sql_ok("INSERT INTO ingest_stage (batch, ord, ward, agent_instance, seq,"
           " raw_event_id, kind, occurred_ms, queued_ms, payload, session,"
           " held_on, host_role, mode, citizens, petitions)"
           " SELECT b, o, CASE b WHEN 0 THEN 'LB11' ELSE 'LB12' END,"
           "        'writer-test-' || b, o + 1, md5('w' || o)::uuid::text,"
           "        'reception', 1696118400000, 0, ('\\x0' || o)::bytea,"
           "        'WR-' || o,"
           "        CASE o WHEN 5 THEN '2023-02-30' ELSE '2023-10-02' END,"
           "        'chair', 'regular', 2, 1"
           "   FROM generate_series(0, 7) o, LATERAL (SELECT o / 4 AS b) x");
    PGresult *res = PQexec(env.db, "SELECT ord, outcome, reason"
                                   " FROM ingest_apply()");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "5");
    assert_string_equal(PQgetvalue(res, 0, 1), "rejected");
    assert_non_null(strstr(PQgetvalue(res, 0, 2), "store: "));
    assert_non_null(strstr(PQgetvalue(res, 0, 2), "2023-02-30"));
    PQclear(res);
    assert_int_equal(count("SELECT count(*) FROM reception_sessions"
                           " WHERE session LIKE 'WR-%'"),
                     7);
    assert_int_equal(
        count("SELECT count(*) FROM rejected_events WHERE ward = 'LB12'"
              " AND seq = 6 AND code = 'rejected'"),
        1);
    sql_ok("ROLLBACK");
}

/* A routing id of the hub stand-in's ROUTER. */
struct peer_id {
    uint8_t bytes[256];
    size_t len;
};

/* Receives one batch on router (routing id, then the frame), checks that
 * the codec reads it, and returns it (free_unpacked by the caller). */
/* The next batch of events the agent sends; its reference requests
 * (docs/DESIGN.md §4) are left unanswered, as an older hub would. */
static Wardsync__V1__Batch *fake_hub_receive(void *router, struct peer_id *id)
{
    zmq_msg_t part;
    Wardsync__V1__Batch *batch = NULL;
    char err[256];
again:
    zmq_msg_init(&part);
    assert_true(zmq_msg_recv(&part, router, 0) >= 0);
    assert_true(zmq_msg_more(&part));
    assert_true(zmq_msg_size(&part) <= sizeof id->bytes);
    id->len = zmq_msg_size(&part);
    memcpy(id->bytes, zmq_msg_data(&part), id->len);
    zmq_msg_close(&part);
    zmq_msg_init(&part);
    assert_true(zmq_msg_recv(&part, router, 0) >= 0);
    if (ws_batch_unpack(zmq_msg_data(&part), zmq_msg_size(&part),
                        WS_MAX_FRAME_DEFAULT, &batch, err, sizeof err) < 0)
        fail_msg("agent sent a batch the codec refuses: %s", err);
    zmq_msg_close(&part);
    if (batch->reference_request) {
        assert_int_equal(batch->n_events, 0);
        wardsync__v1__batch__free_unpacked(batch, NULL);
        batch = NULL;
        goto again;
    }
    return batch;
}

static void fake_hub_answer(void *router, const struct peer_id *id,
                            const Wardsync__V1__Ack *ack)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(ws_pack(&ack->base, &buf, &len), 0);
    assert_true(zmq_send(router, id->bytes, id->len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(router, buf, len, 0) >= 0);
    free(buf);
}

/* The agent decides by Ack.refusal, never by the text: a "database
 * unavailable" refusal (whose text even starts with "gap:") keeps the
 * agent's mark and delays the resend by retry_after_ms; a gap refusal
 * (whose text does not) takes the hub's mark. Against a hub stand-in, so
 * the test chooses every answer. */
static void test_agent_decides_by_refusal_code(void **state)
{
    (void)state;
    char csv[512], home[512], log[512], ep[128];
    snprintf(csv, sizeof csv, "%s/reception-refusals.csv", env.workdir);
    assert_int_equal(
        it_write_file(csv, "session,held_on,host_role,mode,citizens,petitions\n"
                           "R1,2023-10-02,chair,regular,4,1\n"
                           "R2,2023-10-09,chair,regular,2,0\n"
                           "R3,2023-10-16,chair,regular,1,1\n"),
        0);
    assert_int_equal(agent("a20", "LB14", "tcp://127.0.0.1:1", NULL, NULL,
                           "import", "reception", csv, NULL),
                     0);

    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int timeout = 10000, zero = 0;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    size_t ep_len = sizeof ep;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &ep_len), 0);

    /* No CURVE keys: the stand-in is a plain ROUTER. */
    snprintf(home, sizeof home, "%s/a20", env.workdir);
    snprintf(log, sizeof log, "%s/agent-a20.log", env.workdir);
    const char *argv[] = {it_agent_bin,   "--home",        home, "--ward",
                          "LB14",         "--hub",         ep,   "run",
                          "--until-idle", "--max-seconds", "30", NULL};
    pid_t a = it_spawn(argv, NULL, log);
    assert_true(a > 0);

    struct peer_id id;
    char instance[WS_UUID_LEN + 1];
    Wardsync__V1__Ack ack = WARDSYNC__V1__ACK__INIT;
    Wardsync__V1__Batch *batch = fake_hub_receive(router, &id);
    ws_strlcpy(instance, batch->agent_instance, sizeof instance);
    assert_int_equal(batch->n_events, 3);
    assert_int_equal(batch->events[0]->seq, 1);
    assert_string_equal(batch->events[2]->reception->session, "R3");
    wardsync__v1__batch__free_unpacked(batch, NULL);

    /* The hub has committed seq 1 only ... */
    ack.agent_instance = instance;
    ack.committed_through = 1;
    fake_hub_answer(router, &id, &ack);
    /* ... and then cannot reach its database: the mark is not known (0)
     * and must not move the agent's. */
    int64_t refused_at = ws_monotonic_ms();
    ack.committed_through = 0;
    ack.refusal = WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE;
    ack.retry_after_ms = 700;
    ack.error = "gap: this text decides nothing";
    fake_hub_answer(router, &id, &ack);

    batch = fake_hub_receive(router, &id);
    int64_t waited = ws_monotonic_ms() - refused_at;
    assert_int_equal(batch->events[0]->seq, 2);
    assert_int_equal(batch->n_events, 2);
    wardsync__v1__batch__free_unpacked(batch, NULL);
    if (waited < 600)
        fail_msg("agent resent after %lld ms, retry_after_ms was 700",
                 (long long)waited);

    /* A gap refusal carries the mark, whatever its text: the hub lost
     * everything, so the agent goes back to seq 1. */
    ack.refusal = WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP;
    ack.retry_after_ms = 0;
    ack.committed_through = 0;
    ack.error = "the hub's mark is 0";
    fake_hub_answer(router, &id, &ack);
    batch = fake_hub_receive(router, &id);
    assert_int_equal(batch->events[0]->seq, 1);
    assert_int_equal(batch->n_events, 3);
    wardsync__v1__batch__free_unpacked(batch, NULL);

    /* Committed at last: the agent is idle and exits 0. */
    ack.refusal = WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE;
    ack.committed_through = 3;
    ack.error = "";
    fake_hub_answer(router, &id, &ack);
    int status = -1;
    for (int i = 0; i < 100; i++) {
        pid_t done = waitpid(a, &status, WNOHANG);
        if (done == a)
            break;
        status = -1;
        usleep(100 * 1000);
    }
    if (status == -1)
        it_stop(a);
    zmq_close(router);
    zmq_ctx_term(ctx);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(agent_status("a20", "LB14", "queued"), 0);
    assert_int_equal(agent_status("a20", "LB14", "delivered"), 3);
}

/* Bug 1 of issue #12: a timestamp of 2^62 passed the shared validation
 * and PostgreSQL refused it in the middle of the group, which was then
 * redone one event at a time. Now the validation rejects that event alone
 * (the reason is the validation's, not the database's) and its neighbours
 * are stored. */
static void test_time_postgresql_would_refuse_is_rejected_alone(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1];
    struct raw_batch rb;
    Wardsync__V1__Ack *ack = NULL;

    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&rb, instance, "LB13", 1, 3);
    rb.events[1].occurred_at_ms = (int64_t)1 << 62;

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->refusal, WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->seq, 2);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    assert_non_null(strstr(ack->outcomes[0]->reason,
                           "occurred_at_ms: 4611686018427387904 is after"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB13'"), 2);
    assert_int_equal(count("SELECT count(*) FROM rejected_events WHERE "
                           "ward='LB13' AND seq=2"),
                     1);
}

/* A DEALER connected to the hub as the enrolled identity of ward. */
static void *ward_socket(void *ctx, const char *ward)
{
    struct it_curve curve;
    assert_int_equal(it_principal_keys(&env, "ward", ward, &curve, NULL, 0), 0);
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve.server_z85, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve.public_z85, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve.secret_z85, 40);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void send_packed(void *s, const Wardsync__V1__Batch *batch)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(ws_pack(&batch->base, &buf, &len), 0);
    assert_true(zmq_send(s, buf, len, 0) == (int)len);
    free(buf);
}

static Wardsync__V1__Ack *recv_ack(void *s)
{
    zmq_msg_t msg;
    char err[256];
    Wardsync__V1__Ack *ack = NULL;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, s, 0) >= 0);
    assert_int_equal(ws_ack_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                   WS_MAX_FRAME_DEFAULT, &ack, err, sizeof err),
                     0);
    zmq_msg_close(&msg);
    return ack;
}

/* One ward's batch bigger than a transaction takes is written in slices,
 * and another ward's small batch sent just after it is answered first
 * instead of waiting for the whole big batch (docs/DESIGN.md §4); the big
 * batch is still answered once, with the outcomes of all its slices, and
 * stored exactly once. */
static void test_big_batch_does_not_hold_up_another_ward(void **state)
{
    (void)state;
    enum { BIG = 5000 };
    char big_instance[WS_UUID_LEN + 1], small_instance[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(big_instance), 0);
    assert_int_equal(ws_uuid4(small_instance), 0);
    char(*ids)[WS_UUID_LEN + 1] = calloc(BIG, sizeof *ids);
    char(*names)[32] = calloc(BIG, sizeof *names);
    Wardsync__V1__ReceptionSession *rs = calloc(BIG, sizeof *rs);
    Wardsync__V1__Event *ev = calloc(BIG, sizeof *ev);
    Wardsync__V1__Event **evs = calloc(BIG, sizeof *evs);
    assert_true(ids && names && rs && ev && evs);
    for (size_t i = 0; i < BIG; i++) {
        wardsync__v1__reception_session__init(&rs[i]);
        wardsync__v1__event__init(&ev[i]);
        assert_int_equal(ws_uuid4(ids[i]), 0);
        snprintf(names[i], sizeof names[i], "BIG-%zu", i);
        rs[i].session = names[i];
        rs[i].held_on = "2023-10-05";
        /* Two events the validation rejects, in the first and the last
         * slice. */
        rs[i].host_role = (i == 10 || i == BIG - 10)
                              ? 0
                              : WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR;
        rs[i].mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
        rs[i].citizens = 1;
        ev[i].seq = i + 1;
        ev[i].event_id = ids[i];
        ev[i].occurred_at_ms = 1696464000000;
        ev[i].queued_at_ms = 1696464000000;
        ev[i].body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
        ev[i].reception = &rs[i];
        evs[i] = &ev[i];
    }
    Wardsync__V1__Batch big = WARDSYNC__V1__BATCH__INIT;
    big.protocol = WS_PROTOCOL_VERSION;
    big.agent_instance = big_instance;
    big.ward = "LB07";
    big.events = evs;
    big.n_events = BIG;
    struct raw_batch small;
    raw_batch_init(&small, small_instance, "LB06", 1, 1);

    void *ctx = zmq_ctx_new();
    void *big_socket = ward_socket(ctx, "LB07");
    void *small_socket = ward_socket(ctx, "LB06");
    send_packed(big_socket, &big);
    send_packed(small_socket, &small.batch);

    zmq_pollitem_t items[2] = {{big_socket, 0, ZMQ_POLLIN, 0},
                               {small_socket, 0, ZMQ_POLLIN, 0}};
    int first = -1;
    Wardsync__V1__Ack *big_ack = NULL, *small_ack = NULL;
    for (int round = 0; round < 600 && (!big_ack || !small_ack); round++) {
        if (zmq_poll(items, 2, 100) <= 0)
            continue;
        if (!big_ack && (items[0].revents & ZMQ_POLLIN)) {
            big_ack = recv_ack(big_socket);
            if (first < 0)
                first = 0;
        }
        if (!small_ack && (items[1].revents & ZMQ_POLLIN)) {
            small_ack = recv_ack(small_socket);
            if (first < 0)
                first = 1;
        }
    }
    assert_non_null(big_ack);
    assert_non_null(small_ack);
    assert_int_equal(first, 1);
    assert_int_equal(small_ack->committed_through, 1);
    assert_int_equal(big_ack->refusal,
                     WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE);
    assert_int_equal(big_ack->committed_through, BIG);
    assert_int_equal(big_ack->n_outcomes, 2);
    assert_int_equal(big_ack->outcomes[0]->seq, 11);
    assert_int_equal(big_ack->outcomes[1]->seq, BIG - 9);
    wardsync__v1__ack__free_unpacked(big_ack, NULL);
    wardsync__v1__ack__free_unpacked(small_ack, NULL);
    zmq_close(big_socket);
    zmq_close(small_socket);
    zmq_ctx_term(ctx);

    assert_int_equal(count("SELECT count(*) FROM reception_sessions"
                           " WHERE ward = 'LB07' AND session LIKE 'BIG-%'"),
                     BIG - 2);
    assert_int_equal(count("SELECT count(*) FROM agents WHERE ward = 'LB07'"
                           " AND committed_through = 5000 AND accepted = 4998"
                           " AND rejected = 2"),
                     1);
    free(ids);
    free(names);
    free(rs);
    free(ev);
    free(evs);
}

/* A full hub answers "hub busy" with retry_after_ms instead of holding
 * batches without limit (docs/DESIGN.md §4), and the agent waits and sends
 * again: with room for almost nothing (max_waiting_events = 1) and an
 * agent sending eight batches at a time, every session still arrives
 * exactly once, and both logs say what happened. */
static void test_full_hub_answers_busy_and_nothing_is_lost(void **state)
{
    (void)state;
    enum { ROWS = 300 };
    char ep[128], hub_log[512], csv[512], *text = malloc(ROWS * 64 + 128);
    assert_non_null(text);
    int n =
        sprintf(text, "session,held_on,host_role,mode,citizens,petitions\n");
    for (int i = 0; i < ROWS; i++)
        n += sprintf(text + n, "BUSY-%03d,2023-10-%02d,chair,regular,1,0\n", i,
                     2 + i % 20);
    snprintf(csv, sizeof csv, "%s/reception-busy.csv", env.workdir);
    assert_int_equal(it_write_file(csv, text), 0);
    free(text);

    assert_int_equal(setenv("WARDSYNC_HUB_MAX_WAITING_EVENTS", "1", 1), 0);
    pid_t small = it_start_hub_mode(&env, NULL, false, ep, sizeof ep, hub_log,
                                    sizeof hub_log);
    unsetenv("WARDSYNC_HUB_MAX_WAITING_EVENTS");
    assert_true(small > 0);
    struct it_log_cursor cursor;
    it_log_cursor_at_end(hub_log, &cursor);

    const char *extra[] = {"WARDSYNC_AGENT_BATCH_SIZE=20",
                           "WARDSYNC_AGENT_WINDOW=8", NULL};
    assert_int_equal(
        agent("a14", "LB14", ep, extra, NULL, "import", "reception", csv, NULL),
        0);
    char *out = NULL;
    int rc = agent("a14", "LB14", ep, extra, &out, "run", "--until-idle",
                   "--max-seconds", "60");
    bool agent_waited = out && strstr(out, "REFUSAL_BUSY");
    if (rc != 0 || !agent_waited)
        fprintf(stderr, "agent said:\n%s\n", out ? out : "(nothing)");
    free(out);
    int busy = it_log_wait(&cursor, "hub busy, batch refused ward=LB14", 5000,
                           NULL, 0);
    it_stop(small);

    assert_int_equal(rc, 0);
    assert_int_equal(busy, 0);
    assert_true(agent_waited);
    assert_int_equal(agent_status("a14", "LB14", "queued"), 0);
    assert_int_equal(count("SELECT count(*) FROM reception_sessions"
                           " WHERE ward = 'LB14' AND session LIKE 'BUSY-%'"),
                     ROWS);
    /* One agent instance, each seq committed once and accepted once. */
    assert_int_equal(count("SELECT count(*) FROM agents a WHERE"
                           " a.agent_instance = (SELECT e.agent_instance"
                           " FROM events e JOIN reception_sessions r"
                           " ON e.event_id = r.last_event_id"
                           " WHERE r.session = 'BUSY-000')"
                           " AND a.committed_through = 300"
                           " AND a.accepted = 300"),
                     1);
}

/* Two events of one batch with one event_id: the first is stored, the
 * second (another payload) kept as a conflict, and nothing is undone. */
static void test_same_event_id_twice_in_a_batch(void **state)
{
    (void)state;
    char instance[WS_UUID_LEN + 1];
    struct raw_batch rb;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(ws_uuid4(instance), 0);
    raw_batch_init(&rb, instance, "LB05", 1, 3);
    memcpy(rb.ids[2], rb.ids[1], sizeof rb.ids[2]);

    assert_int_equal(it_send_batch(endpoint, &rb.batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 3);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->seq, 3);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE agent_instance = '%s'",
             instance);
    assert_int_equal(count(sql), 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rejected_events WHERE agent_instance = '%s'"
             " AND seq = 3 AND code = 'conflict'",
             instance);
    assert_int_equal(count(sql), 1);
}

/* Last, after every test above sent its events, conflicts and refusals:
 * the typed rows have their events though no foreign key checks it (the
 * one writer writes both, sql/014_writer_speed.sql), and what the keys
 * refused is refused still, even to the owner. */
static void test_every_row_has_its_event_and_events_stay(void **state)
{
    (void)state;
    assert_true(count("SELECT count(*) FROM events") > 0);
    assert_true(count("SELECT count(*) FROM ballots") > 0);
    const char *orphans[] = {
        "SELECT count(*) FROM ballots b WHERE NOT EXISTS"
        " (SELECT 1 FROM events e WHERE e.event_id = b.event_id"
        "     AND e.ward = b.ward AND e.kind = 'ballot')",
        "SELECT count(*) FROM petition_history h WHERE NOT EXISTS"
        " (SELECT 1 FROM events e WHERE e.event_id = h.event_id"
        "     AND e.ward = h.ward AND e.kind = 'petition')",
        "SELECT count(*) FROM reception_history h WHERE NOT EXISTS"
        " (SELECT 1 FROM events e WHERE e.event_id = h.event_id"
        "     AND e.ward = h.ward AND e.kind = 'reception')",
        "SELECT count(*) FROM events e WHERE NOT EXISTS"
        " (SELECT 1 FROM agents a WHERE a.ward = e.ward"
        "     AND a.agent_instance = e.agent_instance)",
        "SELECT count(*) FROM rejected_events r WHERE r.code = 'rejected'"
        "   AND EXISTS (SELECT 1 FROM ballots b"
        "                WHERE b.event_id::text = r.event_id)",
    };
    for (size_t i = 0; i < sizeof orphans / sizeof orphans[0]; i++) {
        if (count(orphans[i]) != 0)
            fail_msg("rows without their event: %s", orphans[i]);
    }

    const char *refused[] = {
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
        "UPDATE events SET seq = seq + 1000000",
        "UPDATE events SET ward = 'LB02' WHERE ward = 'LB01'",
        "DELETE FROM agents WHERE ward = 'LB01'",
        "UPDATE agents SET agent_instance = agent_instance || '-x'"
        " WHERE ward = 'LB01'",
        "TRUNCATE agents CASCADE",
    };
    long before = count("SELECT count(*) FROM events");
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        PGresult *r = PQexec(env.db, refused[i]);
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) != PGRES_FATAL_ERROR || !code ||
            strcmp(code, "23001") != 0)
            fail_msg("\"%s\" was not refused as a restrict violation: %s",
                     refused[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    assert_int_equal(count("SELECT count(*) FROM events"), before);
    /* What the writer and the operator do to agents still works. */
    PGresult *r = PQexec(env.db, "UPDATE agents SET last_contact = now()"
                                 " WHERE ward = 'LB01'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ballot_arrives_exactly_once),
        cmocka_unit_test(test_batch_sent_twice_is_stored_once),
        cmocka_unit_test(test_gap_is_refused),
        cmocka_unit_test(
            test_malformed_frame_is_answered_and_hub_keeps_serving),
        cmocka_unit_test(test_invalid_event_is_kept_with_reason),
        cmocka_unit_test(test_text_survives_the_stage_exactly),
        cmocka_unit_test(test_agent_shows_hub_rejection),
        cmocka_unit_test(test_agent_queues_while_hub_is_down),
        cmocka_unit_test(test_window_and_gap_share_a_group),
        cmocka_unit_test(test_conflict_in_a_batch_spares_the_rest),
        cmocka_unit_test(test_writer_refuses_one_row_not_the_group),
        cmocka_unit_test(test_big_batch_does_not_hold_up_another_ward),
        cmocka_unit_test(test_full_hub_answers_busy_and_nothing_is_lost),
        cmocka_unit_test(test_same_event_id_twice_in_a_batch),
        cmocka_unit_test(test_agent_decides_by_refusal_code),
        cmocka_unit_test(test_time_postgresql_would_refuse_is_rejected_alone),
        cmocka_unit_test(test_every_row_has_its_event_and_events_stay),
    };
    return cmocka_run_group_tests_name("integration_pipeline", tests,
                                       group_setup, group_teardown);
}
