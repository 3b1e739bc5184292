/*
 * test_indicator_rules.c - the indicator rules of docs/DESIGN.md §6 and §7,
 * each on a hand-made case through the real agents, hub and database
 * (issue 10): a petition resolved, reopened and resolved late; a withdrawn
 * petition; typed due dates earlier and later than the legal one; a
 * remediation plan completed on its due date and sent again; two agents
 * of one ward with different lags; a two-level org tree; --as-of moving an
 * open petition into "overdue"; the report's flagged subjects without a
 * plan; values rounded as published.
 *
 * Dates: complaints have 30 days from acceptance, extended by at most 15
 * (the default rule table). Every petition below is accepted 2024-04-01,
 * so its legal due date is 2024-05-01 (2024-05-16 at most when extended).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ROUND "R-RULES"
#define WARD "LB02"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK ||
                PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
}

/* The first column of the first row as text ("" when NULL or no row). */
static void query_text(const char *sql, char *out, size_t cap)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

/* indicator_values() as "district-hub indicators" calls it: the value
 * column of one cell, period "all" (or the round code for ballots). */
static void value_of(const char *code, const char *unit, const char *as_of,
                     char *out, size_t cap)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(value::text, '') FROM indicator_values(NULL, "
             "NULL, 'all', %s, 10, 0.30, 0.50, 5, 10)"
             " WHERE code = '%s' AND org_unit = '%s'",
             as_of, code, unit);
    query_text(sql, out, cap);
}

static void assert_value(const char *code, const char *unit, const char *as_of,
                         const char *want)
{
    char got[64];
    value_of(code, unit, as_of, got, sizeof got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "%s %s as of %s: got \"%s\", want \"%s\"\n", code, unit,
                as_of, got, want);
    assert_string_equal(got, want);
}

static int agent_run(const char *a1, const char *a2, const char *a3,
                     const char *a4)
{
    struct it_curve curve;
    char secret_path[420], secret[480], hub_key[400], home[512];
    assert_int_equal(it_principal_keys(&env, "ward", WARD, &curve, secret_path,
                                       sizeof secret_path),
                     0);
    snprintf(secret, sizeof secret, "WARDSYNC_AGENT_SECRET_KEY=%s",
             secret_path);
    snprintf(hub_key, sizeof hub_key, "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s",
             env.hub_key);
    snprintf(home, sizeof home, "%s/rules-%s", env.workdir, WARD);
    const char *extra[] = {secret, hub_key, NULL};
    const char *argv[] = {it_agent_bin, "--home", home, "--ward", WARD, "--hub",
                          endpoint,     a1,       a2,   a3,       a4,   NULL};
    char *out = NULL;
    int rc = it_run(argv, extra, 120, &out);
    if (rc != 0)
        fprintf(stderr, "ward-agent %s: exit %d\n%s\n", a1, rc, out ? out : "");
    free(out);
    return rc;
}

static void send_file(const char *kind, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", env.workdir, name);
    assert_int_equal(it_write_file(path, text), 0);
    assert_int_equal(agent_run("import", kind, path, NULL), 0);
    assert_int_equal(agent_run("run", "--until-idle", "--max-seconds", "60"),
                     0);
}

/* Runs "district-hub ARGS..." as the owner; returns its output. */
static char *hub_cli(const char *a1, const char *a2, const char *a3,
                     const char *a4, const char *a5, const char *a6)
{
    const char *argv[] = {it_hub_bin, "--database", env.conninfo, a1, a2,
                          a3,         a4,           a5,           a6, NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 60, &out);
    if (rc != 0)
        fprintf(stderr, "district-hub %s: exit %d\n%s\n", a1, rc,
                out ? out : "");
    assert_int_equal(rc, 0);
    return out;
}

/* The value field of "code,org_unit,period,numerator,denominator,value"
 * lines of a CSV output. */
static void csv_value(const char *csv, const char *code, const char *unit,
                      char *out, size_t cap)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "\n%s,%s,", code, unit);
    const char *line = strstr(csv, prefix);
    out[0] = '\0';
    if (!line)
        return;
    const char *end = strchr(line + 1, '\n');
    const char *comma = NULL;
    for (const char *p = line + 1; p < end; p++)
        if (*p == ',')
            comma = p;
    if (comma)
        snprintf(out, cap, "%.*s", (int)(end - comma - 1), comma + 1);
}

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_rules") != 0)
        return -1;
    hub = it_start_hub(&env, NULL, endpoint, sizeof endpoint);
    if (hub <= 0)
        return -1;
    /* The round: S01 and S02 (leadership form) lean to level 3 and flag,
     * S03 (staff form) does not. */
    exec_ok(
        "INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
        " VALUES ('" ROUND "', '2024-03-01', '2024-03-31', 'open');"
        "INSERT INTO survey_round_forms VALUES ('" ROUND
        "', 'lead', 'leadership'), ('" ROUND "', 'staff', 'staff');"
        "INSERT INTO survey_round_wards VALUES ('" ROUND "', '" WARD "', 70);"
        "INSERT INTO survey_round_subjects VALUES ('" ROUND "', '" WARD
        "', '" WARD "-S01', 'lead'), ('" ROUND "', '" WARD "', '" WARD
        "-S02', 'lead'), ('" ROUND "', '" WARD "', '" WARD "-S03', 'staff')");
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

static void test_ballots_and_remediation(void **state)
{
    (void)state;
    char buf[16384];
    size_t len = (size_t)snprintf(
        buf, sizeof buf, "survey,form,subject,respondent_group,collected_on");
    for (int i = 1; i <= 41; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, ",i%02d", i);
    len += (size_t)snprintf(buf + len, sizeof buf - len, "\n");
    for (int s = 1; s <= 3; s++)
        for (int b = 0; b < 12; b++) {
            len += (size_t)snprintf(buf + len, sizeof buf - len,
                                    ROUND ",%s," WARD "-S%02d,%d,2024-03-%02d",
                                    s == 3 ? "staff" : "leadership", s,
                                    b % 4 + 1, b + 1);
            for (int i = 1; i <= 41; i++)
                len += (size_t)snprintf(buf + len, sizeof buf - len, ",%s",
                                        s == 3 && i > 36 ? ""
                                        : s == 3         ? "1"
                                                         : "3");
            len += (size_t)snprintf(buf + len, sizeof buf - len, "\n");
        }
    send_file("ballots", "rules-ballots.csv", buf);
    assert_value("subjects_flagged", WARD, "NULL", "2");

    /* Rounded as published: 36 / 70 = 0.514285..., written 0.514. */
    assert_value("ballot_completeness", WARD, "NULL", "0.514");

    /* S01: completed on its due date, then sent again unchanged five days
     * later (the same batch). Before: completion = the last row, 05-20,
     * late (remediation_on_time 0/2). Now: 05-15, on time (1/2). */
    send_file("remediation", "rules-remediation.csv",
              "survey,subject,status,due_on,changed_on\n" ROUND "," WARD
              "-S01,completed,2024-05-15,2024-05-15\n" ROUND "," WARD
              "-S01,completed,2024-05-15,2024-05-20\n");
    assert_value("remediation_on_time", WARD, "NULL", "0.500");
    assert_value("remediation_missing", WARD, "NULL", "1");

    /* Reopened, then completed again on 2024-06-01: the later completion,
     * late. */
    send_file("remediation", "rules-remediation-2.csv",
              "survey,subject,status,due_on,changed_on\n" ROUND "," WARD
              "-S01,submitted,2024-05-15,2024-05-25\n" ROUND "," WARD
              "-S01,completed,2024-05-15,2024-06-01\n");
    assert_value("remediation_on_time", WARD, "NULL", "0.000");
    char completed[16];
    query_text("SELECT completed_on FROM remediation_completions()"
               " WHERE subject = '" WARD "-S01'",
               completed, sizeof completed);
    assert_string_equal(completed, "2024-06-01");
    /* As it stood on each day (010): on 05-20 completed on time (05-15);
     * on 05-28 reopened, past its due date, so overdue; before its first
     * change no plan at all. Before, every day saw the plan of today. */
    assert_value("remediation_on_time", WARD, "'2024-05-20'", "0.500");
    assert_value("remediation_overdue", WARD, "'2024-05-28'", "1");
    assert_value("remediation_on_time", WARD, "'2024-05-28'", "0.000");
    query_text("SELECT plan_status || '/' || coalesce(completed_on::text, '-')"
               "  FROM flagged_subjects(NULL, NULL, '2024-05-28', 10, 0.30,"
               "                        0.50) WHERE subject = '" WARD "-S01'",
               completed, sizeof completed);
    assert_string_equal(completed, "submitted/-");
    query_text("SELECT plan_status FROM flagged_subjects(NULL, NULL,"
               " '2024-05-01', 10, 0.30, 0.50) WHERE subject = '" WARD "-S01'",
               completed, sizeof completed);
    assert_string_equal(completed, "none");

    /* The report lists the flagged subject without a plan (S02); before,
     * it listed only subjects that had a plan. */
    char path[512];
    snprintf(path, sizeof path, "%s/rules-report.html", env.workdir);
    free(hub_cli("report", "-o", path, "--as-of", "2024-06-30", NULL));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char html[1 << 20];
    size_t n = fread(html, 1, sizeof html - 1, f);
    html[n] = '\0';
    fclose(f);
    const char *table = strstr(html, "<table class=\"flagged\">");
    assert_non_null(table);
    assert_non_null(strstr(table, WARD "-S02"));
    assert_non_null(strstr(table, "no plan"));
    assert_non_null(strstr(html, "2024-06-30"));
    /* The district's ballots (36) are shown as a number, not "<10". */
    assert_null(strstr(html, "<th>LB Long Biên</th><td>&lt;"));
}

static void test_petitions(void **state)
{
    (void)state;
    send_file(
        "petitions", "rules-petitions.csv",
        "petition,kind,channel,status,in_jurisdiction,received_on,due_on,"
        "changed_on,note\n"
        /* P1: resolved early, reopened, resolved again after the due date */
        "P1,complaint,post,received,yes,2024-04-01,,2024-04-01,\n"
        "P1,complaint,post,accepted,yes,2024-04-01,,2024-04-01,\n"
        "P1,complaint,post,resolved,yes,2024-04-01,,2024-04-10,\n"
        "P1,complaint,post,in_progress,yes,2024-04-01,,2024-04-12,\n"
        "P1,complaint,post,resolved,yes,2024-04-01,,2024-05-20,\n"
        /* P2: withdrawn */
        "P2,complaint,post,received,yes,2024-04-01,,2024-04-01,\n"
        "P2,complaint,post,accepted,yes,2024-04-01,,2024-04-01,\n"
        "P2,complaint,post,withdrawn,yes,2024-04-01,,2024-04-05,\n"
        /* P3: typed due date earlier than the legal one, resolved between */
        "P3,complaint,post,received,yes,2024-04-01,,2024-04-01,\n"
        "P3,complaint,post,accepted,yes,2024-04-01,2024-04-20,2024-04-01,\n"
        "P3,complaint,post,resolved,yes,2024-04-01,2024-04-20,2024-04-25,\n"
        /* P4: typed due date later than the allowed extension, open */
        "P4,complaint,post,received,yes,2024-04-01,,2024-04-01,\n"
        "P4,complaint,post,accepted,yes,2024-04-01,2024-06-30,2024-04-01,\n"
        /* P5: open, no typed due date */
        "P5,complaint,post,received,yes,2024-04-01,,2024-04-01,\n"
        "P5,complaint,post,accepted,yes,2024-04-01,,2024-04-01,\n");

    /* Withdrawn out of jurisdiction: 4 (P1, P3, P4, P5), not 5; the rate
     * 2/4, not 2/5. */
    assert_value("petitions_in_jurisdiction", WARD, "NULL", "4");
    assert_value("petitions_in_progress", WARD, "NULL", "2");
    assert_value("petition_resolution_rate", WARD, "NULL", "0.500");
    /* P1 judged on its last resolution (05-20 > 05-01): on time 1/2 (P3),
     * not 2/2; days to resolve 49 and 24, median 36.5 (not 16.5). */
    assert_value("petition_on_time_rate", WARD, "'2024-06-30'", "0.500");
    assert_value("petition_days_to_resolve_p50", WARD, "'2024-06-30'", "36.5");

    /* One legal due date beside the typed one. */
    char due[64];
    query_text("SELECT due || '/' || coalesce(typed_due_on::text, '')"
               "  FROM petition_due_dates('2024-04-15') WHERE petition = 'P3'",
               due, sizeof due);
    assert_string_equal(due, "2024-05-01/2024-04-20");
    query_text("SELECT due || '/' || coalesce(typed_due_on::text, '')"
               "  FROM petition_due_dates('2024-04-15') WHERE petition = 'P4'",
               due, sizeof due);
    assert_string_equal(due, "2024-05-16/2024-06-30");

    /* --as-of moves P5 (due 05-01) from not overdue to overdue, and P4
     * (due 05-16) later; before, the as-of day was always today. */
    char *csv =
        hub_cli("indicators", "--format", "csv", "--as-of", "2024-04-30", NULL);
    char v[32];
    csv_value(csv, "petitions_overdue_open", WARD, v, sizeof v);
    assert_string_equal(v, "0");
    csv_value(csv, "petition_backlog_age_16_30", WARD, v, sizeof v);
    assert_string_equal(v, "2");
    free(csv);
    csv =
        hub_cli("indicators", "--format", "csv", "--as-of", "2024-05-10", NULL);
    csv_value(csv, "petitions_overdue_open", WARD, v, sizeof v);
    assert_string_equal(v, "1");
    free(csv);
    csv =
        hub_cli("indicators", "--format", "csv", "--as-of", "2024-05-20", NULL);
    csv_value(csv, "petitions_overdue_open", WARD, v, sizeof v);
    assert_string_equal(v, "2");
    free(csv);

    /* JSON numbers read as the CSV's decimals (#10.7): 0.3, not
     * 0.29999999999999999; 36.5 stays 36.5. */
    char *json = hub_cli("indicators", "--format", "json", "--as-of",
                         "2024-06-30", NULL);
    assert_non_null(strstr(json, "0.3"));
    assert_non_null(strstr(json, "36.5"));
    assert_null(strstr(json, "99999"));
    assert_null(strstr(json, "00001"));
    free(json);
}

static void test_sync_lag_stalest_agent(void **state)
{
    (void)state;
    /* Two agents of LB03: 100 s and 5000 s since their last contact.
     * Before: the freshest (100); now the stalest (5000). */
    exec_ok("INSERT INTO agents (ward, agent_instance, last_contact) VALUES"
            " ('LB03', 'fresh', now() - interval '100 seconds'),"
            " ('LB03', 'stale', now() - interval '5000 seconds')");
    char v[32];
    value_of("sync_lag", "LB03", "NULL", v, sizeof v);
    long lag = strtol(v, NULL, 10);
    assert_true(lag >= 5000 && lag < 5100);
}

static void test_two_level_city(void **state)
{
    (void)state;
    /* A city serving its communes directly: org units file with
     * city -> wards, loaded by "district-hub migrate". */
    char path[512];
    snprintf(path, sizeof path, "%s/rules-units.csv", env.workdir);
    assert_int_equal(it_write_file(path, "code,name,kind,parent\n"
                                         "C2,City Two,city,\n"
                                         "C2W1,Commune One,ward,C2\n"
                                         "C2W2,Commune Two,ward,C2\n"),
                     0);
    char units_env[600];
    snprintf(units_env, sizeof units_env, "WARDSYNC_HUB_ORG_UNITS=%s", path);
    const char *extra[] = {units_env, NULL};
    const char *argv[] = {it_hub_bin, "--database", env.conninfo, "migrate",
                          NULL};
    char *out = NULL;
    int rc = it_run(argv, extra, 60, &out);
    if (rc != 0)
        fprintf(stderr, "migrate: %s\n", out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM org_units WHERE parent = "
                              "'C2' AND kind = 'ward'"),
        2);
    exec_ok("INSERT INTO petitions (ward, petition, kind, channel, status,"
            " in_jurisdiction, received_on, updated_at, last_seq,"
            " last_event_id) VALUES"
            " ('C2W1', 'Q1', 'complaint', 'post', 'in_progress', true,"
            "  '2024-04-01', now(), 1, gen_random_uuid()),"
            " ('C2W2', 'Q2', 'complaint', 'post', 'resolved', true,"
            "  '2024-04-01', now(), 1, gen_random_uuid()),"
            " ('C2W2', 'Q3', 'complaint', 'post', 'in_progress', true,"
            "  '2024-04-01', now(), 2, gen_random_uuid())");
    /* Before: no total at all for a city without districts. */
    assert_value("petitions_received", "C2W1", "NULL", "1");
    assert_value("petitions_received", "C2W2", "NULL", "2");
    assert_value("petitions_received", "C2", "NULL", "3");
    assert_value("petitions_received", "C2-office", "NULL", "0");
    /* The three levels of Long Biên stay: LB over its wards, HN over LB. */
    char lb[32], hn[32];
    value_of("petitions_received", "LB", "NULL", lb, sizeof lb);
    value_of("petitions_received", "HN", "NULL", hn, sizeof hn);
    assert_string_equal(lb, "5");
    assert_string_equal(hn, "5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ballots_and_remediation),
        cmocka_unit_test(test_petitions),
        cmocka_unit_test(test_sync_lag_stalest_agent),
        cmocka_unit_test(test_two_level_city),
    };
    return cmocka_run_group_tests_name("integration_indicator_rules", tests,
                                       group_setup, group_teardown);
}
