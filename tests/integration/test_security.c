/*
 * test_security.c - only the right ward can speak (DESIGN §4, §5, §9):
 * CURVE and the ZAP handler against real sockets, identity attribution,
 * revocation without restart, the database roles, and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"
#include "wardsync/keys.h"
#include "wardsync/util.h"

static struct it_env env;
static char endpoint[128];
static char hub_log[512];
static pid_t hub = -1;

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_security") != 0)
        return -1;
    /* "connection accepted" is a debug line (quiet at scale). */
    setenv("WARDSYNC_LOG", "debug", 1);
    hub = it_start_hub_mode(&env, NULL, false, endpoint, sizeof endpoint,
                            hub_log, sizeof hub_log);
    return hub > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

static long count(const char *sql)
{
    return it_query_long(env.db, sql);
}

/* One reception session event of ward, seq first.. of one batch. */
struct one_batch {
    Wardsync__V1__Batch batch;
    Wardsync__V1__Event event;
    Wardsync__V1__Event *events[1];
    Wardsync__V1__ReceptionSession session;
    Wardsync__V1__PetitionEvent petition;
    char id[WS_UUID_LEN + 1];
    char instance[WS_UUID_LEN + 1];
};

static void one_batch_init(struct one_batch *b, const char *ward,
                           const char *session)
{
    memset(b, 0, sizeof *b);
    wardsync__v1__batch__init(&b->batch);
    wardsync__v1__event__init(&b->event);
    wardsync__v1__reception_session__init(&b->session);
    wardsync__v1__petition_event__init(&b->petition);
    assert_int_equal(ws_uuid4(b->id), 0);
    assert_int_equal(ws_uuid4(b->instance), 0);
    b->session.session = (char *)session;
    b->session.held_on = "2023-10-05";
    b->session.host_role = WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR;
    b->session.mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
    b->session.citizens = 2;
    b->event.seq = 1;
    b->event.event_id = b->id;
    b->event.occurred_at_ms = 1696464000000;
    b->event.queued_at_ms = 1696464000000;
    b->event.body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
    b->event.reception = &b->session;
    b->events[0] = &b->event;
    b->batch.protocol = WS_PROTOCOL_VERSION;
    b->batch.agent_instance = b->instance;
    b->batch.ward = (char *)ward;
    b->batch.n_events = 1;
    b->batch.events = b->events;
}

/* Makes the event a petition carrying note. */
static void one_batch_petition(struct one_batch *b, const char *note)
{
    b->petition.petition = "P-1";
    b->petition.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    b->petition.channel = WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST;
    b->petition.status =
        WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED;
    b->petition.received_on = "2023-10-02";
    b->petition.due_on = "";
    b->petition.note = (char *)note;
    b->event.body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    b->event.petition = &b->petition;
}

static int exchange(const struct it_curve *curve, const struct one_batch *b,
                    int timeout_ms, Wardsync__V1__Ack **ack)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(ws_pack(&b->batch.base, &buf, &len), 0);
    int rc = it_exchange(endpoint, curve, buf, len, timeout_ms, ack);
    free(buf);
    return rc;
}

static void ward_curve(const char *ward, struct it_curve *curve)
{
    assert_int_equal(it_principal_keys(&env, "ward", ward, curve, NULL, 0), 0);
}

/* Where the hub's log stood when the running test began: a test looks
 * only at the lines written since, never at an earlier test's. */
static struct it_log_cursor test_start;

static int mark_log(void **state)
{
    (void)state;
    it_log_cursor_at_end(hub_log, &test_start);
    return 0;
}

/* Waits for needle in what the hub logged during this test (several
 * needles may sit on one line). */
static void expect_log(const char *needle)
{
    struct it_log_cursor from = test_start;
    if (it_log_wait(&from, needle, 20000, NULL, 0) != 0)
        fail_msg("hub log %s lacks \"%s\" since the test began", hub_log,
                 needle);
}

static void test_enrolled_ward_is_served(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB01", &curve);
    one_batch_init(&b, "LB01", "OK-1");
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    assert_int_equal(ack->n_outcomes, 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM reception_sessions "
                           "WHERE ward='LB01' AND session='OK-1'"),
                     1);
    expect_log("connection accepted");
    expect_log("principal=ward:LB01");
}

static void test_client_without_curve_is_refused(void **state)
{
    (void)state;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    one_batch_init(&b, "LB02", "NOCURVE");
    assert_int_equal(exchange(NULL, &b, 3000, &ack), -1);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB02'"), 0);
    /* The server sees the mismatch, or the client hanging up on seeing
     * it first (EPIPE): logged as a refused handshake either way. */
    expect_log("handshake refused socket=ingest");
}

static void test_wrong_server_key_is_refused(void **state)
{
    (void)state;
    struct it_curve curve;
    struct ws_keypair other;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB02", &curve);
    assert_int_equal(ws_keys_generate(&other), 0);
    memcpy(curve.server_z85, other.public_z85, sizeof curve.server_z85);
    one_batch_init(&b, "LB02", "WRONGSERVER");
    assert_int_equal(exchange(&curve, &b, 3000, &ack), -1);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB02'"), 0);
    expect_log("cryptographic error");
}

static void test_unregistered_key_is_refused(void **state)
{
    (void)state;
    struct it_curve curve;
    struct ws_keypair pair;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(ws_keys_generate(&pair), 0);
    memcpy(curve.public_z85, pair.public_z85, sizeof curve.public_z85);
    memcpy(curve.secret_z85, pair.secret_z85, sizeof curve.secret_z85);
    memcpy(curve.server_z85, env.hub_public_z85, sizeof curve.server_z85);
    one_batch_init(&b, "LB02", "UNREGISTERED");
    assert_int_equal(exchange(&curve, &b, 3000, &ack), -1);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB02'"), 0);
    char needle[128];
    snprintf(needle, sizeof needle, "key=%s reason=key not registered",
             pair.public_z85);
    expect_log(needle);
}

static void test_revoked_key_is_refused_without_restart(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB09", &curve);
    one_batch_init(&b, "LB09", "BEFORE-REVOKE");
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    const char *argv[] = {it_hub_bin, "--database", env.conninfo, "revoke",
                          "--ward",   "LB09",       NULL};
    assert_int_equal(it_run(argv, NULL, 30, NULL), 0);
    /* Revoking again finds nothing active: bad input. */
    assert_int_equal(it_run(argv, NULL, 30, NULL), 1);

    one_batch_init(&b, "LB09", "AFTER-REVOKE");
    assert_int_equal(exchange(&curve, &b, 3000, &ack), -1);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB09'"), 1);
    expect_log("reason=key revoked principal=ward:LB09");
}

static void test_ward_claiming_another_ward_is_rejected(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB03", &curve);
    one_batch_init(&b, "LB07", "CLAIM-7");
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    assert_non_null(strstr(ack->outcomes[0]->reason, "ward claim mismatch"));
    wardsync__v1__ack__free_unpacked(ack, NULL);

    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB07'"), 0);
    assert_int_equal(
        count("SELECT count(*) FROM reception_sessions WHERE ward='LB07'"), 0);
    assert_int_equal(count("SELECT count(*) FROM rejected_events WHERE "
                           "ward='LB07'"),
                     0);
    assert_int_equal(
        count("SELECT count(*) FROM rejected_events WHERE ward='LB03' AND "
              "reason LIKE 'ward claim mismatch%ward:LB03%'"),
        1);
    expect_log("ward claim rejected");
    expect_log("identity=ward:LB03 claimed=LB07");
}

static void test_city_key_cannot_ingest(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_principal_keys(&env, "city", "HN", &curve, NULL, 0), 0);
    one_batch_init(&b, "LB04", "CITY");
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->refusal,
                     WARDSYNC__V1__ACK__REFUSAL__REFUSAL_IDENTITY);
    assert_string_equal(ack->agent_instance, b.batch.agent_instance);
    assert_non_null(strstr(ack->error, "city key may not ingest"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB04'"), 0);
    assert_int_equal(count("SELECT count(*) FROM agents WHERE ward='LB04'"), 0);
    expect_log("identity=city:HN reason=a city key may not ingest");
}

static void test_enroll_refuses_unknown_ward(void **state)
{
    (void)state;
    char path[400];
    struct it_curve curve;
    ward_curve("LB05", &curve); /* makes the files */
    snprintf(path, sizeof path, "%s/ward-LB05.key", env.workdir);
    const char *argv[] = {it_hub_bin, "--database", env.conninfo,
                          "enroll",   "--ward",     "NOPE",
                          "--key",    path,         NULL};
    assert_int_equal(it_run(argv, NULL, 30, NULL), 1);
    assert_int_equal(count("SELECT count(*) FROM principal_keys WHERE "
                           "principal='ward:NOPE'"),
                     0);
}

static void test_secret_key_readable_by_others_is_refused(void **state)
{
    (void)state;
    char base[400], secret[420], cmd[1000], envvar[500];
    snprintf(base, sizeof base, "%s/loose.key", env.workdir);
    snprintf(secret, sizeof secret, "%s_secret", base);
    const char *keygen[] = {it_hub_bin, "keygen", base, NULL};
    assert_int_equal(it_run(keygen, NULL, 30, NULL), 0);
    struct stat st;
    assert_int_equal(stat(secret, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Asked again, keygen keeps the existing pair. */
    assert_int_equal(it_run(keygen, NULL, 30, NULL), 2);
    snprintf(cmd, sizeof cmd, "chmod 644 '%s'", secret);
    assert_int_equal(system(cmd), 0);

    snprintf(envvar, sizeof envvar, "WARDSYNC_HUB_SECRET_KEY=%s", secret);
    const char *extra[] = {envvar, NULL};
    const char *run[] = {it_hub_bin, "--database", env.hub_conninfo,
                         "run",      "--ingest",   "tcp://127.0.0.1:*",
                         NULL};
    char *out = NULL;
    assert_int_not_equal(it_run(run, extra, 30, &out), 0);
    assert_non_null(strstr(out, "accessible to others"));
    free(out);
}

static void test_insecure_mode_warns(void **state)
{
    (void)state;
    char ep[128], log[512];
    pid_t p =
        it_start_hub_mode(&env, NULL, true, ep, sizeof ep, log, sizeof log);
    assert_true(p > 0);
    assert_int_equal(
        it_wait_for_log(log, "WARN server: insecure mode", 5000, NULL, 0), 0);
    it_stop(p);
    /* Back to the CURVE hub for the it_send_* helpers. */
    assert_int_equal(it_wait_for_log(hub_log, "curve=on", 1000, NULL, 0), 0);
}

/* Runs sql as role (password from file) and returns the SQLSTATE of the
 * failure, or "" when it succeeded. */
static void run_as(const char *role, const char *password_file, const char *sql,
                   char *state, size_t cap)
{
    char password[256] = "", conninfo[1400];
    FILE *f = fopen(password_file, "r");
    assert_non_null(f);
    assert_non_null(fgets(password, sizeof password, f));
    fclose(f);
    password[strcspn(password, "\r\n")] = '\0';
    snprintf(conninfo, sizeof conninfo, "%s user=%s password=%s", env.conninfo,
             role, password);
    PGconn *c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        snprintf(state, cap, "%s", "");
    else
        snprintf(state, cap, "%s",
                 PQresultErrorField(r, PG_DIAG_SQLSTATE)
                     ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                     : "?");
    PQclear(r);
    PQfinish(c);
}

static void expect_denied(const char *role, const char *file, const char *sql)
{
    char state[16];
    run_as(role, file, sql, state, sizeof state);
    /* 42501 insufficient_privilege */
    if (strcmp(state, "42501") != 0)
        fail_msg("%s: \"%s\" gave SQLSTATE \"%s\", want 42501", role, sql,
                 state);
}

static void expect_allowed(const char *role, const char *file, const char *sql)
{
    char state[16];
    run_as(role, file, sql, state, sizeof state);
    if (state[0])
        fail_msg("%s: \"%s\" failed with SQLSTATE %s", role, sql, state);
}

static void test_hub_role_has_least_privilege(void **state)
{
    (void)state;
    const char *pw = getenv("WARDSYNC_TEST_HUB_PASSWORD_FILE");
    assert_non_null(pw);
    expect_allowed("wardsync_hub", pw, "SELECT count(*) FROM events");
    expect_allowed("wardsync_hub", pw, "SELECT count(*) FROM principal_keys");
    expect_denied("wardsync_hub", pw, "DELETE FROM events");
    expect_denied("wardsync_hub", pw, "DELETE FROM rejected_events");
    expect_denied("wardsync_hub", pw, "TRUNCATE agents");
    expect_denied("wardsync_hub", pw, "DROP TABLE events");
    expect_denied("wardsync_hub", pw, "ALTER TABLE events ADD COLUMN x int");
    expect_denied("wardsync_hub", pw, "CREATE TABLE intruder (x int)");
    expect_denied("wardsync_hub", pw,
                  "UPDATE principal_keys SET revoked_at = NULL");
    expect_denied("wardsync_hub", pw,
                  "INSERT INTO principal_keys (public_key, principal) VALUES "
                  "('0000000000000000000000000000000000000000', 'ward:LB01')");
    expect_denied("wardsync_hub", pw, "UPDATE org_units SET name = 'x'");
    expect_denied("wardsync_hub", pw, "DELETE FROM schema_migrations");
}

static void test_city_role_reads_published_views_only(void **state)
{
    (void)state;
    const char *pw = getenv("WARDSYNC_TEST_CITY_PASSWORD_FILE");
    assert_non_null(pw);
    char pw_env[600];
    snprintf(pw_env, sizeof pw_env, "WARDSYNC_HUB_CITY_ROLE_PASSWORD_FILE=%s",
             pw);
    const char *extra[] = {pw_env, NULL};
    const char *argv[] = {it_hub_bin, "--database", env.conninfo, "migrate",
                          NULL};
    assert_int_equal(it_run(argv, extra, 120, NULL), 0);

    expect_allowed("wardsync_city", pw,
                   "SELECT count(*) FROM published.org_units");
    expect_denied("wardsync_city", pw, "SELECT count(*) FROM public.events");
    expect_denied("wardsync_city", pw, "SELECT count(*) FROM public.ballots");
    expect_denied("wardsync_city", pw,
                  "SELECT count(*) FROM public.principal_keys");
    expect_denied("wardsync_city", pw,
                  "INSERT INTO public.org_units VALUES ('X','X','ward','LB')");
    expect_denied("wardsync_city", pw, "CREATE TABLE published.x (x int)");
}

/* ---- hostile input, over CURVE as an enrolled ward ---- */

static void test_oversized_frame_disconnects_and_hub_keeps_serving(void **s)
{
    (void)s;
    struct it_curve curve;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB10", &curve);
    size_t big = 17u * 1024 * 1024; /* above the 16 MiB max_frame */
    uint8_t *junk = calloc(1, big);
    assert_non_null(junk);
    assert_int_equal(it_exchange(endpoint, &curve, junk, big, 3000, &ack), -1);
    free(junk);

    struct one_batch b;
    one_batch_init(&b, "LB10", "AFTER-BIG");
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);
}

static void test_sql_injection_text_is_stored_verbatim(void **state)
{
    (void)state;
    static const char note[] =
        "'); DROP TABLE events; -- \" OR 1=1; DELETE FROM agents; --";
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    long tables = count("SELECT count(*) FROM pg_tables WHERE "
                        "schemaname='public'");
    ward_curve("LB11", &curve);
    one_batch_init(&b, "LB11", "unused");
    one_batch_petition(&b, note);
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    assert_int_equal(ack->n_outcomes, 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    PGresult *r = PQexec(env.db, "SELECT note FROM petitions WHERE "
                                 "ward='LB11' AND petition='P-1'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), note);
    PQclear(r);
    assert_int_equal(count("SELECT count(*) FROM pg_tables WHERE "
                           "schemaname='public'"),
                     tables);
    assert_true(count("SELECT count(*) FROM agents") > 0);
}

/* Replaces the first occurrence of marker in the packed batch. */
static int send_patched(const struct it_curve *curve, const struct one_batch *b,
                        const char *marker, const char *with, size_t with_len,
                        Wardsync__V1__Ack **ack)
{
    uint8_t *buf;
    size_t len, mlen = strlen(marker);
    assert_int_equal(ws_pack(&b->batch.base, &buf, &len), 0);
    assert_int_equal(mlen, with_len);
    uint8_t *hit = memmem(buf, len, marker, mlen);
    assert_non_null(hit);
    memcpy(hit, with, with_len);
    int rc = it_exchange(endpoint, curve, buf, len, 10000, ack);
    free(buf);
    return rc;
}

static void test_nul_bytes_and_invalid_utf8_are_rejected(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB12", &curve);

    /* A NUL inside the note (bug 2 of issue #12: "before\0after" was
     * stored as "before"): the batch is refused as malformed, naming the
     * field, nothing is stored, and the hub keeps serving. */
    one_batch_init(&b, "LB12", "unused");
    one_batch_petition(&b, "before-XX-after");
    assert_int_equal(send_patched(&curve, &b, "XX", "\0\0", 2, &ack), 0);
    assert_int_equal(ack->refusal,
                     WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED);
    assert_int_equal(ack->committed_through, 0);
    assert_non_null(strstr(ack->error, "petition.note: contains a NUL byte"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB12'"), 0);

    /* Two outboxes "X\0first" and "X\0second" were one stream "X" and the
     * second one's event was answered as a duplicate: each is refused. */
    static const char *const instances[] = {"X-first", "X-second"};
    for (int i = 0; i < 2; i++) {
        struct one_batch x;
        one_batch_init(&x, "LB12", "unused");
        x.batch.agent_instance = (char *)instances[i];
        one_batch_petition(&x, "same-stream");
        assert_int_equal(send_patched(&curve, &x, "X-", "X\0", 2, &ack), 0);
        assert_int_equal(ack->refusal,
                         WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED);
        assert_non_null(
            strstr(ack->error, "agent_instance: contains a NUL byte"));
        wardsync__v1__ack__free_unpacked(ack, NULL);
    }
    assert_int_equal(count("SELECT count(*) FROM agents WHERE ward='LB12'"), 0);

    /* Invalid UTF-8 in the note: that event is rejected with a reason. */
    struct one_batch c;
    one_batch_init(&c, "LB12", "unused");
    one_batch_petition(&c, "bad-YY-utf8");
    assert_int_equal(send_patched(&curve, &c, "YY", "\xff\xfe", 2, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM rejected_events WHERE "
                           "ward='LB12' AND seq=1"),
                     1);
}

static void test_megabyte_field_is_rejected(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    size_t size = 1024 * 1024;
    char *note = malloc(size + 1);
    assert_non_null(note);
    memset(note, 'a', size);
    note[size] = '\0';
    ward_curve("LB13", &curve);
    one_batch_init(&b, "LB13", "unused");
    one_batch_petition(&b, note);
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    free(note);
    assert_int_equal(ack->committed_through, 1);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    assert_non_null(strstr(ack->outcomes[0]->reason, "note"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM petitions WHERE ward='LB13'"),
                     0);
}

static void test_replayed_batch_and_unknown_protocol(void **state)
{
    (void)state;
    struct it_curve curve;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB14", &curve);
    one_batch_init(&b, "LB14", "REPLAY");
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    /* The same batch again, later: a duplicate, stored once. */
    assert_int_equal(exchange(&curve, &b, 10000, &ack), 0);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB14'"), 1);

    struct one_batch v;
    one_batch_init(&v, "LB14", "V2");
    v.batch.protocol = 2;
    assert_int_equal(exchange(&curve, &v, 10000, &ack), 0);
    assert_non_null(strstr(ack->error, "unknown protocol version"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM events WHERE ward='LB14'"), 1);
}

/* A DEALER kept open across batches: one connection, hence one handshake
 * and one key, as an agent has. */
struct client {
    void *ctx;
    void *socket;
};

static void client_open(struct client *c, const char *to,
                        const struct it_curve *curve)
{
    int linger = 0;
    c->ctx = zmq_ctx_new();
    assert_non_null(c->ctx);
    c->socket = zmq_socket(c->ctx, ZMQ_DEALER);
    assert_non_null(c->socket);
    zmq_setsockopt(c->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->socket, ZMQ_CURVE_SERVERKEY, curve->server_z85, 40);
    zmq_setsockopt(c->socket, ZMQ_CURVE_PUBLICKEY, curve->public_z85, 40);
    zmq_setsockopt(c->socket, ZMQ_CURVE_SECRETKEY, curve->secret_z85, 40);
    assert_int_equal(zmq_connect(c->socket, to), 0);
}

static void client_close(struct client *c)
{
    zmq_close(c->socket);
    zmq_ctx_term(c->ctx);
}

/* Sends b on the client's connection and waits up to timeout_ms for the
 * Ack of b's agent_instance (a late Ack of an earlier try is skipped).
 * Returns 0 and *ack, or -1. */
static int client_exchange(struct client *c, const struct one_batch *b,
                           int timeout_ms, Wardsync__V1__Ack **ack)
{
    uint8_t *buf;
    size_t len;
    char err[256];
    assert_int_equal(ws_pack(&b->batch.base, &buf, &len), 0);
    int sent = zmq_send(c->socket, buf, len, 0);
    free(buf);
    if (sent < 0)
        return -1;
    int64_t deadline = ws_monotonic_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - ws_monotonic_ms();
        zmq_pollitem_t item = {c->socket, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, (long)left) <= 0)
            return -1;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int rc = -1;
        if (zmq_msg_recv(&msg, c->socket, 0) >= 0 &&
            ws_ack_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg),
                          WS_MAX_FRAME_DEFAULT, ack, err, sizeof err) == 0)
            rc = 0;
        zmq_msg_close(&msg);
        if (rc == 0 && (strcmp((*ack)->agent_instance, b->instance) == 0 ||
                        !(*ack)->agent_instance[0]))
            return 0;
        if (rc == 0)
            wardsync__v1__ack__free_unpacked(*ack, NULL);
    }
}

/* A second key pair for ward, made and enrolled here (the harness keeps
 * one per principal). */
static void second_key(const char *ward, struct it_curve *curve)
{
    char path[400], secret[420], err[512];
    snprintf(path, sizeof path, "%s/ward-%s-second.key", env.workdir, ward);
    const char *keygen[] = {it_agent_bin, "keygen", path, NULL};
    const char *enroll[] = {it_hub_bin, "--database", env.conninfo,
                            "enroll",   "--ward",     ward,
                            "--key",    path,         NULL};
    assert_int_equal(it_run(keygen, NULL, 30, NULL), 0);
    assert_int_equal(it_run(enroll, NULL, 30, NULL), 0);
    struct ws_keypair pair;
    snprintf(secret, sizeof secret, "%s_secret", path);
    assert_int_equal(ws_keys_read_secret(secret, &pair, err, sizeof err), 0);
    memcpy(curve->public_z85, pair.public_z85, sizeof curve->public_z85);
    memcpy(curve->secret_z85, pair.secret_z85, sizeof curve->secret_z85);
    memcpy(curve->server_z85, env.hub_public_z85, sizeof curve->server_z85);
}

/* A connection is bound to its key (docs/DESIGN.md §4): revoking one of a
 * ward's two keys stops that key's open connection at its next batch,
 * while the other key goes on. */
static void test_revoking_one_key_stops_its_open_connection(void **state)
{
    (void)state;
    struct it_curve key_a, key_b;
    struct client a, b;
    struct one_batch batch;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB10", &key_a);
    second_key("LB10", &key_b);
    client_open(&a, endpoint, &key_a);
    client_open(&b, endpoint, &key_b);

    one_batch_init(&batch, "LB10", "KEY-A-1");
    assert_int_equal(client_exchange(&a, &batch, 10000, &ack), 0);
    assert_string_equal(ack->error, "");
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    const char *revoke[] = {it_hub_bin, "--database", env.conninfo, "revoke",
                            "--key",    NULL,         NULL};
    char path[400];
    snprintf(path, sizeof path, "%s/ward-LB10.key", env.workdir);
    revoke[5] = path;
    assert_int_equal(it_run(revoke, NULL, 30, NULL), 0);

    /* The same connection, its key now revoked. */
    struct one_batch again;
    one_batch_init(&again, "LB10", "KEY-A-2");
    memcpy(again.instance, batch.instance, sizeof again.instance);
    again.event.seq = 2;
    assert_int_equal(client_exchange(&a, &again, 10000, &ack), 0);
    assert_non_null(strstr(ack->error, "key revoked"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM reception_sessions "
                           "WHERE ward='LB10' AND session='KEY-A-2'"),
                     0);

    /* The ward's other key still works. */
    struct one_batch other;
    one_batch_init(&other, "LB10", "KEY-B-1");
    assert_int_equal(client_exchange(&b, &other, 10000, &ack), 0);
    assert_string_equal(ack->error, "");
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(count("SELECT count(*) FROM reception_sessions "
                           "WHERE ward='LB10' AND session='KEY-B-1'"),
                     1);
    char needle[160];
    snprintf(needle, sizeof needle,
             "identity=ward:LB10 key=%s reason=key revoked", key_a.public_z85);
    expect_log(needle);
    client_close(&a);
    client_close(&b);
}

/* Refused handshakes on the pull endpoint are logged as such, like the
 * ingest endpoint's. */
static void test_pull_endpoint_logs_refused_handshakes(void **state)
{
    (void)state;
    char pull[128], pull_endpoint[160];
    assert_int_equal(
        it_wait_for_log(hub_log, "pull endpoint=", 5000, pull, sizeof pull), 0);
    snprintf(pull_endpoint, sizeof pull_endpoint, "%s", pull);
    struct it_curve stranger;
    struct ws_keypair pair;
    assert_int_equal(ws_keys_generate(&pair), 0);
    memcpy(stranger.public_z85, pair.public_z85, sizeof stranger.public_z85);
    memcpy(stranger.secret_z85, pair.secret_z85, sizeof stranger.secret_z85);
    memcpy(stranger.server_z85, env.hub_public_z85, sizeof stranger.server_z85);
    struct client c;
    client_open(&c, pull_endpoint, &stranger);
    assert_int_equal(zmq_send(c.socket, "x", 1, 0), 1);
    expect_log("handshake refused socket=pull");
    client_close(&c);
}

/* Runs sql as the owner from the maintenance database: ALTER DATABASE
 * cannot lock out the database it runs in. */
static int maintenance_exec(const char *sql)
{
    char conninfo[1200];
    snprintf(conninfo, sizeof conninfo, "%s dbname=postgres", env.conninfo);
    PGconn *c = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
        PQclear(r);
    }
    if (rc < 0)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQfinish(c);
    return rc;
}

/* Lets the hub connect to its database again (also after a failure). */
static int allow_hub_connections(void **state)
{
    (void)state;
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true",
             env.dbname);
    return maintenance_exec(sql);
}

/* While the database is unreachable the hub answers "database
 * unavailable" with retry_after_ms, never "key revoked" (docs/DESIGN.md
 * §4); the batch is delivered once the database is back. The hub's
 * database is this suite's own: no connection may open to it and the
 * hub's are ended, while the test keeps its own. */
static void test_database_down_is_not_key_revoked(void **state)
{
    (void)state;
    struct it_curve curve;
    struct client c;
    struct one_batch b;
    Wardsync__V1__Ack *ack = NULL;
    ward_curve("LB11", &curve);
    client_open(&c, endpoint, &curve);
    one_batch_init(&b, "LB11", "DOWN-1");
    assert_int_equal(client_exchange(&c, &b, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    char sql[512];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS false",
             env.dbname);
    assert_int_equal(maintenance_exec(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE datname = '%s' AND usename = 'wardsync_hub'",
             env.dbname);
    assert_int_equal(maintenance_exec(sql), 0);

    struct one_batch next;
    one_batch_init(&next, "LB11", "DOWN-2");
    memcpy(next.instance, b.instance, sizeof next.instance);
    next.event.seq = 2;
    assert_int_equal(client_exchange(&c, &next, 10000, &ack), 0);
    if (!strstr(ack->error, "database unavailable"))
        fail_msg("want \"database unavailable\", got \"%s\"", ack->error);
    assert_null(strstr(ack->error, "revoked"));
    assert_true(ack->retry_after_ms > 0);
    assert_string_equal(ack->agent_instance, b.instance);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    expect_log("reason=database unavailable");

    assert_int_equal(allow_hub_connections(NULL), 0);
    /* Resent as an agent does, until it is committed. */
    int64_t deadline = ws_monotonic_ms() + 60000;
    uint64_t through = 0;
    while (through < 2 && ws_monotonic_ms() < deadline) {
        if (client_exchange(&c, &next, 3000, &ack) != 0)
            continue;
        through = ack->committed_through;
        if (through < 2) {
            assert_null(strstr(ack->error, "revoked"));
            usleep(
                (useconds_t)(ack->retry_after_ms ? ack->retry_after_ms : 200) *
                1000);
        }
        wardsync__v1__ack__free_unpacked(ack, NULL);
    }
    assert_int_equal(through, 2);
    assert_int_equal(count("SELECT count(*) FROM reception_sessions "
                           "WHERE ward='LB11' AND session='DOWN-2'"),
                     1);
    client_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_enrolled_ward_is_served, mark_log),
        cmocka_unit_test_setup(test_client_without_curve_is_refused, mark_log),
        cmocka_unit_test_setup(test_wrong_server_key_is_refused, mark_log),
        cmocka_unit_test_setup(test_unregistered_key_is_refused, mark_log),
        cmocka_unit_test_setup(test_revoked_key_is_refused_without_restart,
                               mark_log),
        cmocka_unit_test_setup(test_ward_claiming_another_ward_is_rejected,
                               mark_log),
        cmocka_unit_test_setup(test_city_key_cannot_ingest, mark_log),
        cmocka_unit_test_setup(test_enroll_refuses_unknown_ward, mark_log),
        cmocka_unit_test_setup(test_secret_key_readable_by_others_is_refused,
                               mark_log),
        cmocka_unit_test_setup(test_insecure_mode_warns, mark_log),
        cmocka_unit_test_setup(test_hub_role_has_least_privilege, mark_log),
        cmocka_unit_test_setup(test_city_role_reads_published_views_only,
                               mark_log),
        cmocka_unit_test_setup(
            test_oversized_frame_disconnects_and_hub_keeps_serving, mark_log),
        cmocka_unit_test_setup(test_sql_injection_text_is_stored_verbatim,
                               mark_log),
        cmocka_unit_test_setup(test_nul_bytes_and_invalid_utf8_are_rejected,
                               mark_log),
        cmocka_unit_test_setup(test_megabyte_field_is_rejected, mark_log),
        cmocka_unit_test_setup(test_replayed_batch_and_unknown_protocol,
                               mark_log),
        cmocka_unit_test_setup(test_revoking_one_key_stops_its_open_connection,
                               mark_log),
        cmocka_unit_test_setup(test_pull_endpoint_logs_refused_handshakes,
                               mark_log),
        cmocka_unit_test_setup_teardown(test_database_down_is_not_key_revoked,
                                        mark_log, allow_hub_connections),
    };
    return cmocka_run_group_tests_name("integration_security", tests,
                                       group_setup, group_teardown);
}
