/*
 * test_clerk_reference.c - reference data at the ward (issue 11 item 3,
 * docs/DESIGN.md §4), as a clerk meets it, against the real hub and
 * database: before the agent ever reached the hub an import says it was
 * checked with the shared rules only; once it synced, the hub stopped, a
 * ballots file with a row for another ward's subject and one for a closed
 * round is refused at import with FILE:LINE:COLUMN in Vietnamese, and the
 * good rows are queued once the clerk takes the bad ones out; "ward-agent
 * status" shows the reference version and its age; a round closed on the
 * hub reaches the agent on its next contact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WARD "LB05"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];
static char home[512];
static char secret_env[480], hub_key_env[400], locale_env[600];

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
    if (it_env_setup(&env, "wardsync_it_reference") != 0)
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
    snprintf(locale_env, sizeof locale_env, "WARDSYNC_LOCALE_DIR=%s",
             WS_LOCALE_DIR);
    snprintf(home, sizeof home, "%s/reference-home", env.workdir);
    /* R-OPEN covers LB05 and LB06; R-SHUT covers LB05 and is closed. */
    exec_ok("INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
            " VALUES ('R-OPEN', '2024-03-01', '2024-03-31', 'open'),"
            "        ('R-SHUT', '2024-01-01', '2024-01-31', 'closed')");
    exec_ok("INSERT INTO survey_round_forms VALUES"
            " ('R-OPEN', 'staff', 'staff'), ('R-SHUT', 'staff', 'staff')");
    exec_ok("INSERT INTO survey_round_wards VALUES ('R-OPEN', 'LB05', 20),"
            " ('R-OPEN', 'LB06', 20), ('R-SHUT', 'LB05', 20)");
    exec_ok("INSERT INTO survey_round_subjects VALUES"
            " ('R-OPEN', 'LB05', 'LB05-S01', 'staff'),"
            " ('R-OPEN', 'LB06', 'LB06-S01', 'staff'),"
            " ('R-SHUT', 'LB05', 'LB05-S01', 'staff')");
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

/* Runs ward-agent with the arguments (NULL-terminated, at most 6), in
 * English, or in the default language (Vietnamese) when vi. The output
 * goes to *out when out is not NULL. Returns the exit status. */
static int agent_in(bool vi, char **out, const char *a1, const char *a2,
                    const char *a3, const char *a4, const char *a5,
                    const char *a6)
{
    const char *extra[] = {secret_env,
                           hub_key_env,
                           locale_env,
                           vi ? "WARDSYNC_AGENT_LANGUAGE="
                              : "WARDSYNC_AGENT_LANGUAGE=en",
                           "LANGUAGE=",
                           "LC_ALL=",
                           "LC_MESSAGES=",
                           "LANG=C.UTF-8",
                           NULL};
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

#define agent(...) agent_in(false, __VA_ARGS__)
#define agent_vi(...) agent_in(true, __VA_ARGS__)

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

/* One ballot row of form staff: 36 items, levels 1. */
static void ballot_row(FILE *f, const char *survey, const char *subject,
                       const char *day)
{
    fprintf(f, "%s,staff,%s,1,%s", survey, subject, day);
    for (int i = 1; i <= 41; i++)
        fputs(i > 36 ? "," : ",1", f);
    fputc('\n', f);
}

/* Writes a ballots file; rows is a list of "survey subject day" triples
 * ending with NULL. */
static void write_ballots(const char *path, const char *const *rows)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= 41; i++)
        fprintf(f, ",i%02d", i);
    fputc('\n', f);
    for (size_t r = 0; rows[r]; r += 3)
        ballot_row(f, rows[r], rows[r + 1], rows[r + 2]);
    assert_int_equal(fclose(f), 0);
}

/* "ward-agent status --format json", parsed. */
static json_t *status_json(void)
{
    char *out = NULL;
    assert_int_equal(
        agent(&out, "status", "--format", "json", NULL, NULL, NULL), 0);
    json_error_t jerr;
    json_t *status =
        json_loads(strstr(out, "{") ? strstr(out, "{") : out, 0, &jerr);
    if (!status)
        fail_msg("status is not json:\n%s", out);
    free(out);
    return status;
}

static long hub_ballots(void)
{
    return it_query_long(env.db, "SELECT count(*) FROM ballots"
                                 " WHERE ward = '" WARD "'");
}

static void test_reference_at_the_ward(void **state)
{
    (void)state;
    char path[600], *out = NULL;
    json_t *status, *ref;

    /* Never reached the hub: an import says it had no reference, and
     * so does status. */
    snprintf(path, sizeof path, "%s/ballots-first.csv", env.workdir);
    write_ballots(
        path, (const char *const[]){"R-OPEN", "LB05-S01", "2024-03-04", NULL});
    assert_int_equal(agent(&out, "import", "ballots", path, NULL, NULL, NULL),
                     0);
    if (!strstr(out, "no reference data from the hub yet"))
        fail_msg("import does not say it had no reference:\n%s", out);
    free(out);

    status = status_json();
    assert_true(json_is_null(json_object_get(status, "reference")));
    json_decref(status);
    assert_int_equal(agent(&out, "status", NULL, NULL, NULL, NULL, NULL), 0);
    if (!strstr(out, "reference       none yet"))
        fail_msg("status does not say there is no reference:\n%s", out);
    free(out);

    /* One contact brings the reference. */
    sync_until_idle();
    assert_int_equal(hub_ballots(), 1);
    status = status_json();
    ref = json_object_get(status, "reference");
    assert_true(json_is_object(ref));
    char version[80];
    snprintf(version, sizeof version, "%s",
             json_string_value(json_object_get(ref, "version")));
    assert_int_equal(strlen(version), 64);
    json_int_t checked =
        json_integer_value(json_object_get(ref, "checked_at_ms"));
    assert_true(json_integer_value(json_object_get(ref, "age_s")) < 60);
    json_decref(status);

    /* The hub stops; the clerk imports a file with a ballot for another
     * ward's subject (line 3) and one for a closed round (line 4). */
    it_stop(hub);
    hub = -1;
    snprintf(path, sizeof path, "%s/ballots-mixed.csv", env.workdir);
    write_ballots(
        path, (const char *const[]){"R-OPEN", "LB05-S01", "2024-03-05",
                                    "R-OPEN", "LB06-S01", "2024-03-05",
                                    "R-SHUT", "LB05-S01", "2024-01-10",
                                    "R-OPEN", "LB05-S01", "2024-03-06", NULL});
    assert_int_equal(
        agent_vi(&out, "import", "ballots", path, NULL, NULL, NULL), 1);
    char want[800];
    snprintf(want, sizeof want,
             "%s:3:subject: LB06-S01 không phải là đối tượng của phường LB05 "
             "trong đợt R-OPEN",
             path);
    if (!strstr(out, want))
        fail_msg("no refusal of line 3 in Vietnamese (%s):\n%s", want, out);
    snprintf(want, sizeof want, "%s:4:survey: đợt R-SHUT đã đóng", path);
    if (!strstr(out, want))
        fail_msg("no refusal of line 4 in Vietnamese (%s):\n%s", want, out);
    if (strstr(out, ":2:") || strstr(out, ":5:"))
        fail_msg("a good row was reported:\n%s", out);
    free(out);

    /* The clerk takes the two rows out: the good rows are queued, still
     * offline. */
    write_ballots(path, (const char *const[]){"R-OPEN", "LB05-S01",
                                              "2024-03-05", "R-OPEN",
                                              "LB05-S01", "2024-03-06", NULL});
    assert_int_equal(agent(&out, "import", "ballots", path, NULL, NULL, NULL),
                     0);
    if (!strstr(out, "queued 2 ballots events"))
        fail_msg("good rows not queued:\n%s", out);
    if (strstr(out, "no reference data"))
        fail_msg("import claims no reference:\n%s", out);
    free(out);

    /* Status, offline, shows the version held and how old it is. */
    assert_int_equal(agent(&out, "status", NULL, NULL, NULL, NULL, NULL), 0);
    snprintf(want, sizeof want, "reference       %.12s (confirmed by the hub",
             version);
    if (!strstr(out, want) || !strstr(out, " ago)"))
        fail_msg("status does not show the reference (%s):\n%s", want, out);
    free(out);
    assert_int_equal(agent_vi(&out, "status", NULL, NULL, NULL, NULL, NULL), 0);
    snprintf(want, sizeof want, "tham chiếu     %.12s (máy chủ quận xác nhận",
             version);
    if (!strstr(out, want))
        fail_msg("status in Vietnamese does not show the reference (%s):\n%s",
                 want, out);
    free(out);
    status = status_json();
    ref = json_object_get(status, "reference");
    assert_string_equal(json_string_value(json_object_get(ref, "version")),
                        version);
    assert_true(json_integer_value(json_object_get(ref, "age_s")) >= 0);
    assert_int_equal(json_integer_value(json_object_get(ref, "checked_at_ms")),
                     checked);
    json_decref(status);

    /* The hub is back: the queued rows go, the reference is confirmed
     * unchanged (same version, checked later). */
    hub = it_start_hub(&env, NULL, endpoint, sizeof endpoint);
    assert_true(hub > 0);
    sync_until_idle();
    assert_int_equal(hub_ballots(), 3);
    status = status_json();
    ref = json_object_get(status, "reference");
    assert_string_equal(json_string_value(json_object_get(ref, "version")),
                        version);
    assert_true(json_integer_value(json_object_get(ref, "checked_at_ms")) >
                checked);
    json_decref(status);

    /* The district closes R-OPEN: the next contact brings it, and a ballot
     * for R-OPEN is then refused at import. */
    exec_ok("UPDATE survey_rounds SET state = 'closed', closed_at = now()"
            " WHERE code = 'R-OPEN'");
    sync_until_idle();
    status = status_json();
    ref = json_object_get(status, "reference");
    assert_string_not_equal(json_string_value(json_object_get(ref, "version")),
                            version);
    json_decref(status);
    snprintf(path, sizeof path, "%s/ballots-late.csv", env.workdir);
    write_ballots(
        path, (const char *const[]){"R-OPEN", "LB05-S01", "2024-03-07", NULL});
    assert_int_equal(agent(&out, "import", "ballots", path, NULL, NULL, NULL),
                     1);
    snprintf(want, sizeof want, "%s:2:survey: round R-OPEN is closed", path);
    if (!strstr(out, want))
        fail_msg("ballot for the closed round not refused (%s):\n%s", want,
                 out);
    free(out);
    assert_int_equal(hub_ballots(), 3);
}

/* A reference request by hand: the data of the key's ward, whatever
 * ward the batch names; the same version again is "unchanged"; a request
 * that also carries events is refused as malformed. */
static void test_reference_request_on_the_wire(void **state)
{
    (void)state;
    struct it_curve curve;
    uint8_t *frame = NULL;
    size_t len = 0;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_principal_keys(&env, "ward", WARD, &curve, NULL, 0), 0);

    Wardsync__V1__ReferenceRequest request =
        WARDSYNC__V1__REFERENCE_REQUEST__INIT;
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = "6b1c1f9e-2f0a-4d55-9a53-3c2b1d0e9f11";
    batch.ward = "LB06"; /* a claim: the key is LB05's */
    batch.reference_request = &request;
    assert_int_equal(ws_pack(&batch.base, &frame, &len), 0);
    assert_int_equal(it_exchange(endpoint, &curve, frame, len, 10000, &ack), 0);
    free(frame);
    assert_int_equal(ack->refusal, WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE);
    assert_string_equal(ack->agent_instance, batch.agent_instance);
    assert_non_null(ack->reference);
    const Wardsync__V1__Reference *ref = ack->reference;
    assert_string_equal(ref->ward, WARD);
    assert_false(ref->unchanged);
    assert_int_equal(strlen(ref->version), 64);
    assert_int_equal(strlen(ref->catalogue_version), 64);
    assert_int_equal(ref->n_rounds, 2);
    assert_string_equal(ref->rounds[0]->code, "R-OPEN");
    assert_string_equal(ref->rounds[1]->code, "R-SHUT");
    assert_int_equal(ref->rounds[1]->state,
                     WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_CLOSED);
    assert_string_equal(ref->rounds[1]->opens_on, "2024-01-01");
    /* LB05's subjects only, never LB06's. */
    assert_int_equal(ref->n_subjects, 2);
    for (size_t i = 0; i < ref->n_subjects; i++) {
        assert_string_equal(ref->subjects[i]->subject, "LB05-S01");
        assert_string_equal(ref->subjects[i]->form, "staff");
    }
    assert_int_equal(ref->n_deadline_rules, 4);
    char version[80];
    snprintf(version, sizeof version, "%s", ref->version);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    request.version = version;
    assert_int_equal(ws_pack(&batch.base, &frame, &len), 0);
    assert_int_equal(it_exchange(endpoint, &curve, frame, len, 10000, &ack), 0);
    free(frame);
    assert_non_null(ack->reference);
    assert_true(ack->reference->unchanged);
    assert_string_equal(ack->reference->version, version);
    assert_int_equal(ack->reference->n_rounds, 0);
    wardsync__v1__ack__free_unpacked(ack, NULL);

    /* With an event beside it: malformed, nothing answered but that. */
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__Event *events[] = {&event};
    event.seq = 1;
    event.event_id = "0d7d2b3e-3a43-4f0e-8f3c-0b8f3f6b7a21";
    batch.events = events;
    batch.n_events = 1;
    assert_int_equal(ws_pack(&batch.base, &frame, &len), 0);
    assert_int_equal(it_exchange(endpoint, &curve, frame, len, 10000, &ack), 0);
    free(frame);
    assert_int_equal(ack->refusal,
                     WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED);
    assert_null(ack->reference);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM events"
                                           " WHERE event_id ="
                                           " '0d7d2b3e-3a43-4f0e-8f3c-"
                                           "0b8f3f6b7a21'"),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_at_the_ward),
        cmocka_unit_test(test_reference_request_on_the_wire),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
