/*
 * test_inspections.c - inspections and job rotation end to end (issue
 * #15, docs/DESIGN.md §6, §7): CSV files through the district office's
 * real agent into the hub, the indicators of indicator_values() on
 * hand-computed cases, a corrected inspection moving its tally, the
 * report's two sections, a rotation the hub's shared validation rejects
 * alone, and the city's pull of the datasets inspections and rotations
 * into files and the warehouse (no cadre code).
 *
 * Rotation cases, period 2024 ([2024-01-01, 2025-01-01), as of its last
 * day 2024-12-31) and rotation_years 8:
 *   C-A appointed 2016-12-31: exactly 8 years on 2024-12-31, due;
 *   C-B appointed 2017-01-01: 8 years on 2025-01-01, not due;
 *   C-C appointed 2016-06-01, rotated 2024-12-31 after 8 years (the
 *     period's last day): rotated, counted, not due (due as of 12-30);
 *   C-D roster line 2024-06-30, 7 years: not due;
 *   C-E roster line 2023-01-15, 9 years: due;
 *   C-F rotated 2024-03-01 after 5 years: rotated, not after 8;
 *   C-G appointed 2024-05-01: appointed in the period.
 * So cadres_appointed 1, cadres_rotated 2, cadres_due_rotation 2 (C-A,
 * C-E), rotation_compliance 1 / (1 + 2) = 0.333.
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

#include "harness.h"
#include "wardsync/util.h"

#define OFFICE "LB"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];
static char hub_log[512];
static char pull_endpoint[128];
static char city_secret[512];

static void query_text(const char *sql, char *out, size_t cap)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

/* The value of one cell of indicator_values() over [from, to) as of
 * as_of (SQL literals or NULL), as "district-hub indicators" calls it. */
static void assert_cell(const char *code, const char *unit, const char *from,
                        const char *to, const char *as_of, const char *want)
{
    char sql[1024], got[64];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(value::text, '') FROM indicator_values(%s, %s,"
             " 'p', %s, 10, 0.30, 0.50, 5, 10)"
             " WHERE code = '%s' AND org_unit = '%s'",
             from, to, as_of, code, unit);
    query_text(sql, got, sizeof got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "%s %s [%s, %s) as of %s: got \"%s\", want \"%s\"\n",
                code, unit, from, to, as_of, got, want);
    assert_string_equal(got, want);
}

static int agent_run(const char *a1, const char *a2, const char *a3,
                     const char *a4)
{
    struct it_curve curve;
    char secret_path[420], secret[480], hub_key[400], home[512];
    assert_int_equal(it_principal_keys(&env, "ward", OFFICE, &curve,
                                       secret_path, sizeof secret_path),
                     0);
    snprintf(secret, sizeof secret, "WARDSYNC_AGENT_SECRET_KEY=%s",
             secret_path);
    snprintf(hub_key, sizeof hub_key, "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s",
             env.hub_key);
    snprintf(home, sizeof home, "%s/work-%s", env.workdir, OFFICE);
    const char *extra[] = {secret, hub_key, NULL};
    const char *argv[] = {it_agent_bin, "--home", home,     "--ward",
                          OFFICE,       "--hub",  endpoint, a1,
                          a2,           a3,       a4,       NULL};
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

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_work") != 0)
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

#define INSPECTION_HEADER                                                      \
    "inspection,body,unit,held_on,kind,subjects,violations,note\n"

static void test_inspections(void **state)
{
    (void)state;
    send_file("inspections", "inspections-2024.csv",
              INSPECTION_HEADER
              "KT-01,UBKT,CB-LB04-1,2024-03-05,party,1,0,\n"
              "KT-02,UBKT,CB-LB09-1,2024-03-06,party,2,1,một vi phạm\n"
              "KTCV1-01,KTCV-1,LB-VP,2024-04-01,planned,3,0,\n"
              "KTCV2-01,KTCV-2,LB01-DU,2024-04-02,planned,0,0,\n"
              "KTCV2-02,KTCV-2,LB02-DU,2024-04-03,planned,0,0,\n"
              "DX-01,KTCV-2,LB01-UBND,2024-05-02,unannounced,4,0,\n"
              "DX-02,KTCV-3,LB01-UBND,2024-06-30,unannounced,2,2,\n");
    /* Every period: the rollup LB and the office's own row. */
    assert_cell("inspections_held", OFFICE, "NULL", "NULL", "NULL", "7");
    assert_cell("inspections_held", OFFICE "-office", "NULL", "NULL", "NULL",
                "7");
    assert_cell("inspections_held", "LB01", "NULL", "NULL", "NULL", "0");
    assert_cell("inspections_held_party", OFFICE, "NULL", "NULL", "NULL", "2");
    assert_cell("inspections_held_planned", OFFICE, "NULL", "NULL", "NULL",
                "3");
    assert_cell("inspections_held_unannounced", OFFICE, "NULL", "NULL", "NULL",
                "2");
    /* KTCV-1, KTCV-2, KTCV-3; UBKT is not a public-service team. */
    assert_cell("inspection_teams", OFFICE, "NULL", "NULL", "NULL", "3");
    /* LB01-UBND inspected twice counts once. */
    assert_cell("units_inspected", OFFICE, "NULL", "NULL", "NULL", "6");
    assert_cell("units_inspected_party", OFFICE, "NULL", "NULL", "NULL", "2");
    assert_cell("units_inspected_planned", OFFICE, "NULL", "NULL", "NULL", "3");
    assert_cell("units_inspected_unannounced", OFFICE, "NULL", "NULL", "NULL",
                "1");
    assert_cell("party_members_inspected", OFFICE, "NULL", "NULL", "NULL", "3");
    assert_cell("inspection_violations", OFFICE, "NULL", "NULL", "NULL", "3");
    /* Q2 2024, [04-01, 07-01): DX-02 on the last day counts. */
    assert_cell("inspections_held", OFFICE, "'2024-04-01'", "'2024-07-01'",
                "NULL", "5");
    assert_cell("inspection_violations", OFFICE, "'2024-04-01'", "'2024-07-01'",
                "NULL", "2");
    assert_cell("inspections_held", OFFICE, "'2024-04-01'", "'2024-06-30'",
                "NULL", "4");

    /* A correction of KT-02 (no violation after all) replaces it, and its
     * tally moves with it in the same transaction. */
    send_file("inspections", "inspections-fix.csv",
              INSPECTION_HEADER
              "KT-02,UBKT,CB-LB09-1,2024-03-06,party,2,0,đã sửa\n");
    assert_cell("inspection_violations", OFFICE, "NULL", "NULL", "NULL", "2");
    assert_cell("inspections_held_party", OFFICE, "NULL", "NULL", "NULL", "2");
    assert_int_equal(
        it_query_long(env.db, "SELECT sum(violations) FROM inspection_tallies"),
        it_query_long(env.db, "SELECT sum(violations) FROM inspections"));
}

#define ROTATION_HEADER "cadre,post,unit,years_in_post,effective_on,kind\n"

static void test_rotations(void **state)
{
    (void)state;
    send_file("rotations", "rotations.csv",
              ROTATION_HEADER "C-A,chair,LB01,0,2016-12-31,appointed\n"
                              "C-B,chair,LB02,0,2017-01-01,appointed\n"
                              "C-C,vice_chair,LB03,0,2016-06-01,appointed\n"
                              "C-C,vice_chair,LB03,8,2024-12-31,rotated\n"
                              "C-D,cadastral,LB04,7,2024-06-30,due\n"
                              "C-E,cadastral,LB05,9,2023-01-15,due\n"
                              "C-F,chair,LB06,5,2024-03-01,rotated\n"
                              "C-G,chair,LB07,0,2024-05-01,appointed\n");
    const char *from = "'2024-01-01'", *to = "'2025-01-01'";
    assert_cell("cadres_appointed", OFFICE, from, to, "NULL", "1");
    assert_cell("cadres_rotated", OFFICE, from, to, "NULL", "2");
    assert_cell("cadres_due_rotation", OFFICE, from, to, "NULL", "2");
    assert_cell("rotation_compliance", OFFICE, from, to, "NULL", "0.333");
    /* A day earlier: C-A is a day short of 8 years, and C-C's rotation
     * has not happened yet, so C-C (8.5 years) is due. */
    assert_cell("cadres_due_rotation", OFFICE, from, to, "'2024-12-30'", "2");
    char sql[512], got[64];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM rotations r WHERE r.cadre = 'C-A'");
    query_text(sql, got, sizeof got);
    assert_string_equal(got, "1");
    /* The rule is written next to the figure, with the threshold. */
    char rule[1024];
    query_text("SELECT rule FROM indicator_values('2024-01-01', '2025-01-01',"
               " 'p', NULL, 10, 0.30, 0.50, 5, 10)"
               " WHERE code = 'cadres_due_rotation' AND org_unit = 'LB'",
               rule, sizeof rule);
    assert_non_null(
        strstr(rule, "8 years or more in one post, as of 2024-12-31"));
    /* The threshold is a setting: at 9 years only C-E is due. */
    PQclear(PQexec(env.db, "UPDATE indicator_settings SET rotation_years = 9"));
    assert_cell("cadres_due_rotation", OFFICE, from, to, "NULL", "1");
    assert_cell("rotation_compliance", OFFICE, from, to, "NULL", "0.000");
    PQclear(PQexec(env.db, "UPDATE indicator_settings SET rotation_years = 8"));
    /* One row per new code and unit, per period. */
    assert_int_equal(
        it_query_long(env.db,
                      "SELECT count(*) FROM indicator_values(NULL, NULL,"
                      " 'all', NULL, 10, 0.30, 0.50, 5, 10) v"
                      " JOIN indicator_definitions d USING (code)"
                      " WHERE v.org_unit = 'LB' AND d.ord BETWEEN 28 AND 42"),
        15);
}

/* The report's two sections: a table and a chart each, from the same
 * indicator_values() rows. */
static void test_report(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/work-report.html", env.workdir);
    const char *argv[] = {it_hub_bin, "--database", env.conninfo,
                          "report",   "-o",         path,
                          "--as-of",  "2024-12-31", NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 60, &out);
    if (rc != 0)
        fail_msg("district-hub report: exit %d\n%s", rc, out ? out : "");
    free(out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char html[1 << 20];
    size_t n = fread(html, 1, sizeof html - 1, f);
    html[n] = '\0';
    fclose(f);
    const char *t = strstr(html, "<table class=\"inspections\">");
    assert_non_null(t);
    assert_non_null(strstr(t, "(party)</th><td>2</td><td>2</td>"));
    assert_non_null(strstr(t, "(unannounced)</th><td>2</td><td>1</td>"));
    assert_non_null(strstr(t, "<code>inspection_teams</code>): 3"));
    assert_non_null(strstr(html, "id=\"chart-inspections\" data-bars=\"3\""));
    t = strstr(html, "<table class=\"rotations\">");
    assert_non_null(t);
    assert_non_null(strstr(t, "<code>cadres_due_rotation</code></th><td>2<"));
    assert_non_null(strstr(t, "<code>cadres_rotated</code></th><td>2<"));
    assert_non_null(strstr(html, "id=\"chart-rotations\" data-bars=\"3\""));
    /* No cadre code in the report either. */
    assert_null(strstr(html, "C-A"));
}

/* A hand-made batch of the hub's own client (ward LB01): a rotation the
 * shared validation refuses at the hub is rejected alone, with its
 * reason, and stored in rejected_events; the good inspection beside it
 * is stored. */
static void test_hub_rejects_bad_rotation(void **state)
{
    (void)state;
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    Wardsync__V1__Event good = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__Event bad = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__Inspection in = WARDSYNC__V1__INSPECTION__INIT;
    Wardsync__V1__Rotation ro = WARDSYNC__V1__ROTATION__INIT;
    Wardsync__V1__Event *events[2] = {&good, &bad};
    char instance[WS_UUID_LEN + 1], id1[WS_UUID_LEN + 1], id2[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(instance), 0);
    assert_int_equal(ws_uuid4(id1), 0);
    assert_int_equal(ws_uuid4(id2), 0);
    in.inspection = "W-DX-01";
    in.body = "KTCV-9";
    in.unit = "LB01-UBND";
    in.held_on = "2024-07-01";
    in.kind = WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_UNANNOUNCED;
    in.note = "";
    good.seq = 1;
    good.event_id = id1;
    good.occurred_at_ms = 1719792000000; /* 2024-07-01 */
    good.queued_at_ms = good.occurred_at_ms;
    good.body_case = WARDSYNC__V1__EVENT__BODY_INSPECTION;
    good.inspection = &in;
    ro.cadre = "W-C-1";
    ro.post = "chair";
    ro.unit = "LB01";
    ro.years_in_post = 101; /* the rotations CHECK would refuse it */
    ro.effective_on = "2024-07-01";
    ro.kind = WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_ROTATED;
    bad = good;
    bad.seq = 2;
    bad.event_id = id2;
    bad.body_case = WARDSYNC__V1__EVENT__BODY_ROTATION;
    bad.rotation = &ro;
    batch.protocol = 1;
    batch.agent_instance = instance;
    batch.ward = "LB01";
    batch.n_events = 2;
    batch.events = events;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(endpoint, &batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, 2);
    assert_int_equal(ack->n_outcomes, 1);
    assert_int_equal(ack->outcomes[0]->seq, 2);
    assert_int_equal(ack->outcomes[0]->code,
                     WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED);
    assert_non_null(strstr(ack->outcomes[0]->reason,
                           "years_in_post: 101 is more than 100"));
    wardsync__v1__ack__free_unpacked(ack, NULL);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM rejected_events"
                                   " WHERE kind = 'rotation'"),
                     1);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM rotations"
                                           " WHERE cadre = 'W-C-1'"),
                     0);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM inspections"
                                           " WHERE ward = 'LB01'"),
                     1);
    /* Counted under the sender LB01, not under the district office. */
    assert_cell("inspections_held_unannounced", "LB01", "NULL", "NULL", "NULL",
                "1");
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

/* The city pulls both datasets: every inspection, every rotation fact,
 * and no cadre code anywhere. */
static void test_city_pull(void **state)
{
    (void)state;
    char dir[512], hubspec[1024];
    snprintf(dir, sizeof dir, "%s/city", env.workdir);
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
                          "inspections,rotations",
                          NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 120, &out);
    if (rc != 0)
        fail_msg("city-pull exit %d:\n%s", rc, out ? out : "");
    free(out);

    /* The district office's seven and LB01's one. */
    json_t *rows = load_rows("city", "inspections");
    assert_int_equal(json_array_size(rows), 8);
    size_t i;
    json_t *row;
    bool found = false;
    json_array_foreach(rows, i, row)
    {
        json_t *v = json_object_get(row, "values");
        if (strcmp(json_string_value(json_object_get(v, "inspection")),
                   "KT-02") != 0)
            continue;
        found = true;
        assert_string_equal(json_string_value(json_object_get(v, "unit")),
                            "CB-LB09-1");
        assert_string_equal(json_string_value(json_object_get(v, "kind")),
                            "party");
        assert_string_equal(json_string_value(json_object_get(v, "note")),
                            "đã sửa");
    }
    assert_true(found);
    json_decref(rows);

    rows = load_rows("city", "rotations");
    assert_int_equal(json_array_size(rows), 8);
    char *text = json_dumps(rows, 0);
    assert_non_null(text);
    assert_null(strstr(text, "cadre"));
    assert_null(strstr(text, "C-A"));
    assert_non_null(strstr(text, "vice_chair"));
    free(text);
    json_decref(rows);

    /* The city role reads the views, not the register. */
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM information_schema"
                                   ".columns WHERE table_schema = 'published'"
                                   " AND table_name = 'rotations'"
                                   " AND column_name = 'cadre'"),
                     0);
    assert_int_equal(
        it_query_long(env.db, "SELECT count(*) FROM pg_roles WHERE rolname ="
                              " 'wardsync_city' AND has_table_privilege("
                              "oid, 'public.rotations', 'SELECT')"),
        0);
}

/* city-pull --into: the warehouse gets both datasets, typed, through its
 * migration 002 (city-pull/sql). */
static void test_warehouse(void **state)
{
    (void)state;
    char name[64], sql[256], wh[1200], hubspec[1024];
    snprintf(name, sizeof name, "wardsync_it_work_wh_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(env.db, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(env.db, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    /* A later keyword wins in a conninfo string. */
    snprintf(wh, sizeof wh, "%s dbname=%s", env.conninfo, name);
    snprintf(hubspec, sizeof hubspec, "LB=%s key=%s", pull_endpoint,
             env.hub_key);
    const char *argv[] = {WS_CITY_PULL_BIN,
                          "--hub",
                          hubspec,
                          "--secret-key",
                          city_secret,
                          "--into",
                          wh,
                          "--dataset",
                          "inspections,rotations",
                          NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 120, &out);
    if (rc != 0)
        fail_msg("city-pull --into exit %d:\n%s", rc, out ? out : "");
    free(out);
    PGconn *w = PQconnectdb(wh);
    assert_int_equal(PQstatus(w), CONNECTION_OK);
    assert_int_equal(it_query_long(w, "SELECT count(*) FROM city.inspections"),
                     8);
    assert_int_equal(
        it_query_long(w, "SELECT sum(violations) FROM city.inspections"), 2);
    assert_int_equal(
        it_query_long(w, "SELECT count(*) FROM city.rotations"
                         " WHERE kind = 'rotated' AND years_in_post >= 8"),
        1);
    assert_int_equal(
        it_query_long(w, "SELECT count(*) FROM information_schema.columns"
                         " WHERE table_schema = 'city'"
                         " AND table_name = 'rotations'"
                         " AND column_name = 'cadre'"),
        0);
    PQfinish(w);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PQclear(PQexec(env.db, sql));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspections),
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_hub_rejects_bad_rotation),
        cmocka_unit_test(test_city_pull),
        cmocka_unit_test(test_warehouse),
    };
    return cmocka_run_group_tests_name("integration_inspections", tests,
                                       group_setup, group_teardown);
}
