/*
 * test_metrics.c - what an operator's monitoring and journal see (issue
 * 14): the hub's Prometheus endpoint scraped over a real HTTP connection
 * while a real agent and hand-made batches go through a CURVE hub, the
 * text checked by promtool when it is installed, the summary line at
 * info with no per-batch line, and the listen backlog of both endpoints
 * as the kernel reports it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "harness.h"
#include "wardsync/util.h"
#include "wardsync/v1/pull.pb-c.h"

/* Below any kernel's net.core.somaxconn, and not libzmq's default 100. */
#define TEST_BACKLOG "123"

static struct it_env env;
static char endpoint[128];
static char pull_endpoint[128];
static char hub_log[512];
static int metrics_port;
static pid_t hub = -1;

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_metrics") != 0)
        return -1;
    /* A summary a second instead of a minute; the hub inherits these. */
    setenv("WARDSYNC_HUB_SUMMARY_INTERVAL_S", "1", 1);
    setenv("WARDSYNC_HUB_LISTEN_BACKLOG", TEST_BACKLOG, 1);
    hub = it_start_hub_mode(&env, NULL, false, endpoint, sizeof endpoint,
                            hub_log, sizeof hub_log);
    if (hub <= 0)
        return -1;
    char rest[256];
    if (it_wait_for_log(hub_log, "pull endpoint=", 20000, rest, sizeof rest) !=
            0 ||
        sscanf(rest, "%127s", pull_endpoint) != 1)
        return -1;
    if (it_wait_for_log(hub_log, "metrics endpoint=http://127.0.0.1:", 20000,
                        rest, sizeof rest) != 0 ||
        sscanf(rest, "%d", &metrics_port) != 1 || metrics_port <= 0) {
        fprintf(stderr, "no metrics endpoint in %s\n", hub_log);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

/* ------------------------------------------------------------ scraping */

/* GETs path from the metrics endpoint over a plain TCP connection
 * (HTTP/1.0: the server closes when done). Returns the status code and
 * the body in *body (malloc'd), or -1. */
static int http_get(const char *path, char **body)
{
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)metrics_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    char request[256];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, request, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap + 1);
    ssize_t got;
    while (buf && (got = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)got;
        if (len == cap) {
            char *grown = realloc(buf, 2 * cap + 1);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    close(fd);
    if (!buf)
        return -1;
    buf[len] = '\0';
    int status = -1;
    char *start = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !start) {
        free(buf);
        return -1;
    }
    *body = strdup(start + 4);
    free(buf);
    return *body ? status : -1;
}

static char *scrape(void)
{
    char *body = NULL;
    assert_int_equal(http_get("/metrics", &body), 200);
    return body;
}

/* The value of the sample named series (name and labels exactly as the
 * hub prints them), or -1 when the text has no such line. */
static double sample(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

/* Scrapes until series has value want (up to 10 s); returns the last
 * value seen. */
static double wait_sample(const char *series, double want)
{
    double v = -1;
    for (int i = 0; i < 100; i++) {
        char *text = scrape();
        v = sample(text, series);
        free(text);
        if (v == want)
            break;
        usleep(100 * 1000);
    }
    return v;
}

/* ------------------------------------------------------ hand-made batches */

/* One reception session event. */
struct one_batch {
    Wardsync__V1__Batch batch;
    Wardsync__V1__Event event;
    Wardsync__V1__Event *events[1];
    Wardsync__V1__ReceptionSession session;
    char id[WS_UUID_LEN + 1];
};

static void one_batch_init(struct one_batch *b, const char *instance,
                           const char *ward, uint64_t seq, const char *session)
{
    memset(b, 0, sizeof *b);
    wardsync__v1__batch__init(&b->batch);
    wardsync__v1__event__init(&b->event);
    wardsync__v1__reception_session__init(&b->session);
    assert_int_equal(ws_uuid4(b->id), 0);
    b->session.session = (char *)session;
    b->session.held_on = "2023-10-05";
    b->session.host_role = WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR;
    b->session.mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
    b->session.citizens = 2;
    b->event.seq = seq;
    b->event.event_id = b->id;
    b->event.occurred_at_ms = 1696464000000;
    b->event.queued_at_ms = 1696464000000;
    b->event.body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
    b->event.reception = &b->session;
    b->events[0] = &b->event;
    b->batch.protocol = WS_PROTOCOL_VERSION;
    b->batch.agent_instance = (char *)instance;
    b->batch.ward = (char *)ward;
    b->batch.n_events = 1;
    b->batch.events = b->events;
}

/* A DEALER that stays connected as a CURVE client (its connection is what
 * the connections gauge counts). */
static void *dealer(void *ctx, const struct it_curve *curve, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve->server_z85, 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve->public_z85, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve->secret_z85, 40);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* The next message on s within 10 s: its bytes in *data (malloc'd). */
static size_t receive(void *s, uint8_t **data)
{
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&item, 1, 10000), 1);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, s, 0) >= 0);
    size_t len = zmq_msg_size(&msg);
    *data = malloc(len ? len : 1);
    memcpy(*data, zmq_msg_data(&msg), len);
    zmq_msg_close(&msg);
    return len;
}

/* Sends b on s and returns its Ack (caller frees). */
static Wardsync__V1__Ack *send_batch(void *s, const struct one_batch *b)
{
    uint8_t *buf, *answer;
    size_t len;
    assert_int_equal(ws_pack(&b->batch.base, &buf, &len), 0);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    free(buf);
    len = receive(s, &answer);
    Wardsync__V1__Ack *ack = NULL;
    char err[256];
    assert_int_equal(
        ws_ack_unpack(answer, len, WS_MAX_FRAME_DEFAULT, &ack, err, sizeof err),
        0);
    free(answer);
    return ack;
}

/* Runs the real agent of ward on a reception CSV of three sessions until
 * it has nothing left to send. */
static void agent_sends_three(const char *ward)
{
    char csv[512], home[512], secret_env[600], hub_key_env[600], secret[420];
    struct it_curve curve;
    assert_int_equal(
        it_principal_keys(&env, "ward", ward, &curve, secret, sizeof secret),
        0);
    snprintf(csv, sizeof csv, "%s/reception.csv", env.workdir);
    snprintf(home, sizeof home, "%s/agent-%s", env.workdir, ward);
    assert_int_equal(
        it_write_file(csv, "session,held_on,host_role,mode,citizens,petitions\n"
                           "R01,2024-03-04,chair,regular,5,2\n"
                           "R02,2024-03-11,chair,regular,3,1\n"
                           "R03,2024-03-18,officer,regular,1,0\n"),
        0);
    snprintf(secret_env, sizeof secret_env, "WARDSYNC_AGENT_SECRET_KEY=%s",
             secret);
    snprintf(hub_key_env, sizeof hub_key_env,
             "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s", env.hub_key);
    const char *extra[] = {secret_env, hub_key_env, NULL};
    const char *import[] = {it_agent_bin, "--home", home,     "--ward",
                            ward,         "--hub",  endpoint, "import",
                            "reception",  csv,      NULL};
    assert_int_equal(it_run(import, extra, 60, NULL), 0);
    const char *run[] = {it_agent_bin,   "--home",        home,     "--ward",
                         ward,           "--hub",         endpoint, "run",
                         "--until-idle", "--max-seconds", "60",     NULL};
    char *out = NULL;
    int rc = it_run(run, extra, 90, &out);
    if (rc != 0)
        fail_msg("ward-agent run exited %d:\n%s", rc, out ? out : "");
    free(out);
}

/* --------------------------------------------------------------- tests */

#define BATCHES(outcome) "wardsync_hub_batches_total{outcome=\"" outcome "\"}"
#define EVENTS(outcome) "wardsync_hub_events_total{outcome=\"" outcome "\"}"
#define ACKS "wardsync_hub_ack_latency_seconds_count"
#define COMMITS "wardsync_hub_group_commit_seconds_count"
#define INGEST_CONNECTIONS "wardsync_hub_connections{socket=\"ingest\"}"

static const char *const counters[] = {
    BATCHES("committed"),
    BATCHES("gap"),
    BATCHES("malformed"),
    EVENTS("accepted"),
    EVENTS("duplicate"),
    EVENTS("conflict"),
    EVENTS("rejected"),
    ACKS,
    COMMITS,
};
#define N_COUNTERS (sizeof counters / sizeof counters[0])

static void read_counters(double *values)
{
    char *text = scrape();
    for (size_t i = 0; i < N_COUNTERS; i++) {
        values[i] = sample(text, counters[i]);
        if (values[i] < 0)
            fail_msg("no %s in:\n%s", counters[i], text);
    }
    free(text);
}

static double delta(const double *before, const double *after,
                    const char *series)
{
    for (size_t i = 0; i < N_COUNTERS; i++)
        if (strcmp(counters[i], series) == 0)
            return after[i] - before[i];
    fail_msg("not a counter of this test: %s", series);
    return 0;
}

/* Every kind of batch outcome, each moving its counter by exactly what it
 * did; the gauges of units, connections and the database. */
static void test_counters_move_by_what_happened(void **state)
{
    (void)state;
    double before[N_COUNTERS], after[N_COUNTERS];
    read_counters(before);
    time_t started = time(NULL);

    /* A real agent: three events, in as many batches as it likes. */
    agent_sends_three("LB01");

    /* Hand-made batches of ward LB02 on one connection kept open. */
    void *ctx = zmq_ctx_new();
    struct it_curve lb02;
    assert_int_equal(it_principal_keys(&env, "ward", "LB02", &lb02, NULL, 0),
                     0);
    void *s = dealer(ctx, &lb02, endpoint);
    char instance[WS_UUID_LEN + 1], other[WS_UUID_LEN + 1],
        third[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(instance), 0);
    assert_int_equal(ws_uuid4(other), 0);
    assert_int_equal(ws_uuid4(third), 0);
    struct one_batch a, conflict, gap, claim;
    one_batch_init(&a, instance, "LB02", 1, "M-1");
    Wardsync__V1__Ack *ack = send_batch(s, &a); /* accepted */
    assert_int_equal(ack->committed_through, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    ack = send_batch(s, &a); /* the same again: a duplicate */
    assert_int_equal(ack->n_outcomes, 1);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    /* Another agent, a stored event_id with another payload: a conflict. */
    one_batch_init(&conflict, other, "LB02", 1, "M-2");
    memcpy(conflict.id, a.id, sizeof conflict.id);
    ack = send_batch(s, &conflict);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    /* Seq 5 after mark 1: refused whole as a gap. */
    one_batch_init(&gap, instance, "LB02", 5, "M-5");
    ack = send_batch(s, &gap);
    assert_int_equal(ack->refusal, WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    /* Naming another ward: stored as rejected, with a backlog of 7. */
    one_batch_init(&claim, third, "LB07", 1, "M-7");
    claim.batch.backlog = 7;
    ack = send_batch(s, &claim);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    /* Two frames in one message: malformed. */
    assert_true(zmq_send(s, "x", 1, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(s, "y", 1, 0) >= 0);
    uint8_t *answer;
    receive(s, &answer);
    free(answer);

    read_counters(after);
    assert_int_equal(delta(before, after, EVENTS("accepted")), 3 + 1);
    assert_int_equal(delta(before, after, EVENTS("duplicate")), 1);
    assert_int_equal(delta(before, after, EVENTS("conflict")), 1);
    assert_int_equal(delta(before, after, EVENTS("rejected")), 1);
    assert_int_equal(delta(before, after, BATCHES("gap")), 1);
    assert_int_equal(delta(before, after, BATCHES("malformed")), 1);
    /* The agent's batches (at least one) and the four hand-made ones;
     * every committed batch's ack is timed, and each took a commit. */
    double committed = delta(before, after, BATCHES("committed"));
    assert_true(committed >= 1 + 4);
    assert_int_equal(delta(before, after, ACKS), committed);
    assert_true(delta(before, after, COMMITS) >= 1);

    char *text = scrape();
    assert_int_equal(sample(text, "wardsync_hub_database_up"), 1);
    double contact = sample(
        text,
        "wardsync_hub_unit_last_contact_timestamp_seconds{unit=\"LB01\"}");
    assert_true(contact >= (double)started - 1 &&
                contact <= (double)time(NULL) + 1);
    assert_int_equal(
        sample(text, "wardsync_hub_unit_backlog_events{unit=\"LB02\"}"), 7);
    assert_int_equal(
        sample(text, "wardsync_hub_unit_backlog_events{unit=\"LB01\"}"), 0);
    free(text);

    /* The agent has gone; this connection stays, and one that fails its
     * handshake (a key nobody enrolled) is never counted. */
    assert_int_equal(wait_sample(INGEST_CONNECTIONS, 1), 1);
    struct it_curve stranger;
    assert_int_equal(
        zmq_curve_keypair(stranger.public_z85, stranger.secret_z85), 0);
    memcpy(stranger.server_z85, lb02.server_z85, sizeof stranger.server_z85);
    void *refused = dealer(ctx, &stranger, endpoint);
    struct it_log_cursor cursor;
    it_log_cursor_at_end(hub_log, &cursor);
    assert_int_equal(
        it_log_wait(&cursor, "handshake refused socket=ingest", 10000, NULL, 0),
        0);
    zmq_close(refused);
    usleep(300 * 1000);
    assert_int_equal(wait_sample(INGEST_CONNECTIONS, 1), 1);
    zmq_close(s);
    zmq_ctx_term(ctx);
    assert_int_equal(wait_sample(INGEST_CONNECTIONS, 0), 0);
}

/* A pull request is counted under its dataset. */
static void test_pull_requests_by_dataset(void **state)
{
    (void)state;
    struct it_curve city;
    assert_int_equal(it_principal_keys(&env, "city", "HN", &city, NULL, 0), 0);
    const char *series =
        "wardsync_hub_pull_requests_total{dataset=\"sync_status\"}";
    char *text = scrape();
    double before = sample(text, series);
    free(text);
    void *ctx = zmq_ctx_new();
    void *s = dealer(ctx, &city, pull_endpoint);
    Wardsync__V1__PullRequest req = WARDSYNC__V1__PULL_REQUEST__INIT;
    req.protocol = 1;
    req.dataset = "sync_status";
    req.scope = "";
    req.since = "";
    size_t len = wardsync__v1__pull_request__get_packed_size(&req);
    uint8_t *buf = malloc(len + 1), *answer;
    wardsync__v1__pull_request__pack(&req, buf);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    free(buf);
    len = receive(s, &answer);
    Wardsync__V1__PullPage *page =
        wardsync__v1__pull_page__unpack(NULL, len, answer);
    free(answer);
    assert_non_null(page);
    assert_string_equal(page->error, "");
    wardsync__v1__pull_page__free_unpacked(page, NULL);
    zmq_close(s);
    zmq_ctx_term(ctx);
    text = scrape();
    assert_int_equal(sample(text, series), (before < 0 ? 0 : before) + 1);
    free(text);
}

/* The text is valid exposition format: Prometheus' own linter, when the
 * machine has it (Debian package prometheus, scripts/install-deps.sh). */
static void test_promtool_accepts_the_text(void **state)
{
    (void)state;
    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "promtool not installed: text format not linted\n");
        skip();
    }
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.txt", env.workdir);
    char *text = scrape();
    assert_int_equal(it_write_file(path, text), 0);
    free(text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", path);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 60, &out);
    if (rc != 0)
        fail_msg("promtool check metrics exit %d:\n%s", rc, out ? out : "");
    free(out);
}

/* Only /metrics, only GET. */
static void test_other_paths_are_not_found(void **state)
{
    (void)state;
    char *body = NULL;
    assert_int_equal(http_get("/", &body), 404);
    free(body);
}

/* The hub's log as it is now (malloc'd). */
static char *read_hub_log(void)
{
    FILE *f = fopen(hub_log, "r");
    assert_non_null(f);
    static const size_t cap = 1 << 22;
    char *text = malloc(cap + 1);
    size_t n = fread(text, 1, cap, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* Quiet at scale: the batches above appear in an info summary line, and
 * neither a per-batch nor a per-connection line is logged at info. */
static void test_summary_line_instead_of_batch_lines(void **state)
{
    (void)state;
    const char *needle = "INFO server: summary seconds=1 batches=";
    char *line = NULL;
    /* Some second's summary counted the batches of the first test. */
    for (int i = 0; i < 50 && !line; i++) {
        char *text = read_hub_log();
        for (char *hit = strstr(text, needle); hit && !line;
             hit = strstr(hit + 1, needle))
            if (strtol(hit + strlen(needle), NULL, 10) > 0)
                line = strndup(hit, strcspn(hit, "\n"));
        free(text);
        if (!line)
            usleep(100 * 1000);
    }
    if (!line)
        fail_msg("no summary line with batches in %s", hub_log);
    for (const char *key = "events=\0duplicates=\0conflicts=\0rejected=\0"
                           "refused_batches=\0slowest_commit_ms=\0agents=\0";
         *key; key += strlen(key) + 1)
        if (!strstr(line, key))
            fail_msg("summary line lacks %s: %s", key, line);
    free(line);
    char *text = read_hub_log();
    assert_null(strstr(text, "INFO ingest: batch committed"));
    assert_null(strstr(text, "INFO zap: connection accepted"));
    assert_non_null(strstr(text, "backlog=" TEST_BACKLOG));
    free(text);
}

/* hub.listen_backlog reaches both listening sockets: ss shows a listener's
 * backlog as its Send-Q. */
static void test_listen_backlog_on_both_endpoints(void **state)
{
    (void)state;
    const char *eps[] = {endpoint, pull_endpoint};
    for (size_t i = 0; i < 2; i++) {
        const char *colon = strrchr(eps[i], ':');
        assert_non_null(colon);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "ss -Hltn 'sport = :%s'", colon + 1);
        const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        char *out = NULL;
        assert_int_equal(it_run(argv, NULL, 30, &out), 0);
        char st[32];
        long recv_q = -1, send_q = -1;
        if (!out || sscanf(out, "%31s %ld %ld", st, &recv_q, &send_q) != 3)
            fail_msg("cannot read ss output for %s: %s", eps[i],
                     out ? out : "");
        assert_int_equal(send_q, strtol(TEST_BACKLOG, NULL, 10));
        free(out);
    }
}

/* Runs a second hub (insecure, no pull endpoint) with the given metrics
 * endpoint and returns its exit status; its output in *out. */
static int second_hub(const char *metrics, char **out)
{
    char setting[128];
    snprintf(setting, sizeof setting, "WARDSYNC_HUB_METRICS_ENDPOINT=%s",
             metrics);
    const char *extra[] = {setting, "WARDSYNC_HUB_PULL=none", NULL};
    const char *argv[] = {
        it_hub_bin,   "--database", env.hub_conninfo,    "run",
        "--insecure", "--ingest",   "tcp://127.0.0.1:*", NULL};
    return it_run(argv, extra, 60, out);
}

/* A metrics port already taken stops the start (no hub whose monitoring
 * would scrape another process); an endpoint that is not HOST:PORT is a
 * usage error naming the setting. */
static void test_bad_metrics_endpoint_stops_the_start(void **state)
{
    (void)state;
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", metrics_port);
    char *out = NULL;
    assert_int_equal(second_hub(taken, &out), 3);
    if (!strstr(out, "could not serve metrics on hub.metrics_endpoint"))
        fail_msg("unexpected output:\n%s", out);
    free(out);
    out = NULL;
    assert_int_equal(second_hub("localhost:9741", &out), 2);
    if (!strstr(out, "hub.metrics_endpoint \"localhost:9741\""))
        fail_msg("unexpected output:\n%s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_move_by_what_happened),
        cmocka_unit_test(test_pull_requests_by_dataset),
        cmocka_unit_test(test_promtool_accepts_the_text),
        cmocka_unit_test(test_other_paths_are_not_found),
        cmocka_unit_test(test_summary_line_instead_of_batch_lines),
        cmocka_unit_test(test_listen_backlog_on_both_endpoints),
        cmocka_unit_test(test_bad_metrics_endpoint_stops_the_start),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
