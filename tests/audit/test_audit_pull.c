/*
 * test_audit_pull.c - the auditor on what a city really receives: a
 * district sent through the real ward agents and hub, pulled by the real
 * city-pull into a folder (every dataset, CSV), audited on those files
 * (docs/DESIGN.md §7 "audit"). Then the same district under a weakened
 * rule (no complementary suppression, in this scratch database only): the
 * auditor must find the leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "harness.h"
#include "wardsync/csv.h"

#define ROUND "R-AUD"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128], pull_endpoint[128], hub_log[512];
static char city_secret[512];

static uint64_t rng_state = 0xa0d17ULL;
static int rnd(int lo, int hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(env.db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s\n-> %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* The district: per unit, its subjects, each with its form and the
 * ballots of respondent groups 1..4. Cells of 0, 1..9, exactly 10 and
 * more; a ward of 9 ballots; a subject never rated; the district office's
 * own subject. */
struct planned {
    const char *ward, *subject, *form;
    int groups[4];
};

static const struct planned PLAN[] = {
    {"LB01", "LB01-S1", "leadership", {12, 3, 0, 0}},
    {"LB01", "LB01-S2", "staff", {2, 1, 0, 0}},
    {"LB01", "LB01-S3", "leadership", {10, 0, 0, 0}},
    {"LB02", "LB02-S1", "staff", {5, 4, 0, 0}},
    {"LB03", "LB03-S1", "leadership", {0, 0, 0, 0}},
    {"LB03", "LB03-S2", "staff", {6, 6, 6, 6}},
    {"LB04", "LB04-S1", "leadership", {1, 0, 0, 0}},
    {"LB04", "LB04-S2", "leadership", {30, 2, 1, 0}},
    {"LB", "LB-S1", "staff", {4, 4, 3, 0}},
};
#define N_PLAN (sizeof PLAN / sizeof PLAN[0])
static const char *const UNITS[] = {"LB01", "LB02", "LB03", "LB04", "LB"};
#define N_UNITS 5

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_audit") != 0)
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
    return it_principal_keys(&env, "city", "HN", &city, city_secret,
                             sizeof city_secret);
}

static int group_teardown(void **state)
{
    (void)state;
    if (hub > 0)
        it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

static int agent_run(const char *ward, const char *a1, const char *a2,
                     const char *a3, const char *a4)
{
    struct it_curve curve;
    char secret_path[420], secret[480], hub_key[400], home[512];
    assert_int_equal(it_principal_keys(&env, "ward", ward, &curve, secret_path,
                                       sizeof secret_path),
                     0);
    snprintf(secret, sizeof secret, "WARDSYNC_AGENT_SECRET_KEY=%s",
             secret_path);
    snprintf(hub_key, sizeof hub_key, "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s",
             env.hub_key);
    snprintf(home, sizeof home, "%s/agent-%s", env.workdir, ward);
    const char *extra[] = {secret, hub_key, NULL};
    const char *argv[] = {it_agent_bin, "--home", home, "--ward", ward, "--hub",
                          endpoint,     a1,       a2,   a3,       a4,   NULL};
    char *out = NULL;
    int rc = it_run(argv, extra, 120, &out);
    if (rc != 0)
        fprintf(stderr, "ward-agent %s %s: exit %d\n%s\n", ward, a1, rc,
                out ? out : "");
    free(out);
    return rc;
}

/* The round, and every unit's ballots through its own agent. */
static long send_district(void)
{
    exec_ok("INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
            " VALUES ('" ROUND "', '2020-01-01', '2099-12-31', 'open');"
            "INSERT INTO survey_round_forms VALUES"
            " ('" ROUND "', 'leadership', 'leadership'),"
            " ('" ROUND "', 'staff', 'staff')");
    char sql[512];
    for (int u = 0; u < N_UNITS; u++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO survey_round_wards VALUES ('" ROUND
                 "', '%s', 40)",
                 UNITS[u]);
        exec_ok(sql);
    }
    for (size_t p = 0; p < N_PLAN; p++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO survey_round_subjects VALUES ('" ROUND
                 "', '%s', '%s', '%s')",
                 PLAN[p].ward, PLAN[p].subject, PLAN[p].form);
        exec_ok(sql);
    }
    long total = 0;
    for (int u = 0; u < N_UNITS; u++) {
        char path[600];
        snprintf(path, sizeof path, "%s/ballots-%s.csv", env.workdir, UNITS[u]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("survey,form,subject,respondent_group,collected_on", f);
        for (int i = 1; i <= 41; i++)
            fprintf(f, ",i%02d", i);
        fputc('\n', f);
        for (size_t p = 0; p < N_PLAN; p++) {
            if (strcmp(PLAN[p].ward, UNITS[u]) != 0)
                continue;
            bool staff = strcmp(PLAN[p].form, "staff") == 0;
            for (int g = 0; g < 4; g++)
                for (int b = 0; b < PLAN[p].groups[g]; b++) {
                    fprintf(f, ROUND ",%s,%s,%d,2026-11-%02d", PLAN[p].form,
                            PLAN[p].subject, g + 1, rnd(1, 28));
                    for (int i = 1; i <= 41; i++) {
                        if (staff && i > 36)
                            fputc(',', f);
                        else
                            fprintf(f, ",%d", rnd(1, 3));
                    }
                    fputc('\n', f);
                    total++;
                }
        }
        fclose(f);
        assert_int_equal(agent_run(UNITS[u], "import", "ballots", path, NULL),
                         0);
        assert_int_equal(
            agent_run(UNITS[u], "run", "--until-idle", "--max-seconds", "60"),
            0);
    }
    return total;
}

/* city-pull, every dataset, CSV, into workdir/out. */
static void city_pull(const char *out)
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
                          "csv",
                          "--full",
                          NULL};
    char *output = NULL;
    int rc = it_run(argv, NULL, 120, &output);
    if (rc != 0)
        fail_msg("city-pull exit %d:\n%s", rc, output ? output : "");
    free(output);
}

/* The org units, as published (public knowledge), as CSV. */
static void write_org_units(const char *path)
{
    PGresult *r = PQexec(env.db, "SELECT code, name, kind, coalesce(parent,"
                                 " '') FROM published.org_units");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("code,name,kind,parent\n", f);
    for (int i = 0; i < PQntuples(r); i++) {
        for (int c = 0; c < 4; c++) {
            if (c)
                fputc(',', f);
            ws_csv_write_field(f, PQgetvalue(r, i, c));
        }
        fputc('\n', f);
    }
    fclose(f);
    PQclear(r);
}

static void audit_pull(const char *out, struct audit_result *res)
{
    char ind[600], ba[600], units[600];
    snprintf(ind, sizeof ind, "%s/%s/indicators.csv", env.workdir, out);
    snprintf(ba, sizeof ba, "%s/%s/ballot_aggregates.csv", env.workdir, out);
    snprintf(units, sizeof units, "%s/org_units.csv", env.workdir);
    write_org_units(units);
    struct audit_files files = {ind, ba, units};
    char err[512];
    if (audit_run(&files, 10, 10, stdout, res, err, sizeof err) != 0)
        fail_msg("audit of %s: %s", out, err);
    printf("audit of city-pull's %s: %ld suppressed cells and %ld sums"
           " checked (%ld unknowns, %ld equations): %ld leaks, %ld"
           " undecided\n",
           out, res->cells, res->groups, res->vars, res->rows, res->leaks,
           res->undecided);
}

static void test_city_files_reveal_no_suppressed_cell(void **state)
{
    (void)state;
    long sent = send_district();
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM ballots"),
                     sent);
    city_pull("city");
    struct audit_result res;
    audit_pull("city", &res);
    /* The district has suppressed cells to audit, and none leaks. */
    assert_true(res.cells >= 10);
    assert_true(res.groups >= 3);
    assert_int_equal(res.leaks, 0);
    assert_int_equal(res.undecided, 0);

    /* The rule without complementary suppression, in this database only:
     * e.g. the ward of 9 ballots is the district total minus the others. */
    exec_ok("CREATE OR REPLACE FUNCTION ballot_suppression_complementary()"
            " RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT false $$;"
            "UPDATE pull_published_version SET version = version + 1;"
            "INSERT INTO ballot_aggregates_dirty VALUES (NULL, NULL)");
    city_pull("city-weak");
    audit_pull("city-weak", &res);
    assert_true(res.leaks > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_city_files_reveal_no_suppressed_cell),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
