/*
 * property.c - the auditor over many random small districts (docs/
 * DESIGN.md §7 "audit").
 *
 *   audit-property [--count N] [--seed S] [--max-seconds T] [--weaken]
 *
 * WARDSYNC_AUDIT_COUNT and WARDSYNC_AUDIT_SECONDS, when set, override
 * --count and --max-seconds ("make audit": thousands of districts);
 * WARDSYNC_AUDIT_KEEP=DIR copies the files of a district the auditor could
 * not solve into DIR.
 * In one scratch database (the integration harness: a fresh database of
 * the private cluster, migrated by "district-hub migrate"), for each
 * district: a random org tree (city -> wards, or city -> districts ->
 * wards, sometimes with ballots of a district's own office), one round
 * whose subjects are rated on two small test forms (2 and 3 items, so that
 * ratings differ per form as 36 and 41 do), and per subject and
 * respondent group 0, 1..9, exactly 10 or more ballots with random levels,
 * written straight into the tallies the published views read. The city
 * role then reads published.indicators, published.ballot_aggregates and
 * published.org_units as CSV (COPY), and the auditor solves them.
 *
 * --weaken replaces ballot_suppression_complementary() in the scratch
 * database by false, the rule without complementary suppression: the
 * auditor must then find leaks. Exit 0 when the outcome is the expected
 * one (no leak; with --weaken, some leak), 1 otherwise, 2 on a setup or
 * solver error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "harness.h"

static uint64_t rng;
static int rnd(int lo, int hi)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng >> 33) % (uint64_t)(hi - lo + 1));
}

static int exec_sql(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
             PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "audit-property: %s\n-> %s", sql,
                PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* COPY (query) TO STDOUT as CSV with a header, into path. */
static int copy_out(PGconn *db, const char *query, const char *path)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)",
             query);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        fprintf(stderr, "audit-property: %s\n-> %s", sql,
                PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char *buf;
    int n;
    while ((n = PQgetCopyData(db, &buf, 0)) > 0) {
        fwrite(buf, 1, (size_t)n, f);
        PQfreemem(buf);
    }
    fclose(f);
    r = PQgetResult(db);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(db)))
        PQclear(r);
    return ok ? 0 : -1;
}

/* Ballots of one respondent group: 0, 1..9, exactly 10, or more. */
static int group_ballots(void)
{
    int r = rnd(0, 99);
    if (r < 30)
        return 0;
    if (r < 70)
        return rnd(1, 9);
    if (r < 80)
        return 10;
    return rnd(11, 25);
}

/* Appends the SQL of one subject's tallies to sql. */
static void subject_sql(char *sql, size_t cap, const char *round,
                        const char *ward, const char *subject, int items)
{
    size_t len = strlen(sql);
    for (int g = 1; g <= 4; g++) {
        int n = group_ballots();
        if (n == 0)
            continue;
        char arr[3][128] = {"", "", ""};
        for (int i = 0; i < items; i++) {
            int a = rnd(0, n), b = rnd(0, n - a), c = n - a - b;
            int v[3] = {a, b, c};
            for (int l = 0; l < 3; l++) {
                size_t al = strlen(arr[l]);
                snprintf(arr[l] + al, sizeof arr[l] - al, "%s%d", i ? "," : "",
                         v[l]);
            }
        }
        len += (size_t)snprintf(
            sql + len, cap - len,
            "INSERT INTO ballot_counts (survey, ward, subject, form,"
            " respondent_group, ballots) VALUES ('%s', '%s', '%s',"
            " 'audit_%d', %d, %d);"
            "INSERT INTO ballot_level_counts VALUES ('%s', '%s', '%s', %d,"
            " '{%s}', '{%s}', '{%s}');",
            round, ward, subject, items, g, n, round, ward, subject, g, arr[0],
            arr[1], arr[2]);
    }
}

/* Makes district number i, its round "Q<i>". */
static int make_district(PGconn *db, int i)
{
    static char sql[1 << 18];
    char round[32], city[32];
    snprintf(round, sizeof round, "Q%d", i);
    snprintf(city, sizeof city, "A%d", i);
    size_t len = (size_t)snprintf(
        sql, sizeof sql,
        "BEGIN;"
        "INSERT INTO org_units VALUES ('%s', 'city %d', 'city', NULL);"
        "INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
        " VALUES ('%s', '2020-01-01', '2099-12-31', 'open');"
        "INSERT INTO survey_round_forms VALUES ('%s', 'ca', 'audit_2'),"
        " ('%s', 'cb', 'audit_3');",
        city, i, round, round, round);
    bool three = rnd(0, 1);
    int n_parents = three ? rnd(1, 3) : 1;
    for (int d = 0; d < n_parents; d++) {
        char parent[48];
        if (three) {
            snprintf(parent, sizeof parent, "%s-D%d", city, d);
            len += (size_t)snprintf(sql + len, sizeof sql - len,
                                    "INSERT INTO org_units VALUES ('%s', '%s',"
                                    " 'district', '%s');",
                                    parent, parent, city);
        } else {
            snprintf(parent, sizeof parent, "%s", city);
        }
        int n_wards = rnd(1, 4);
        for (int w = -1; w < n_wards; w++) {
            char ward[64];
            if (w < 0) {
                /* The district's own office reports sometimes. */
                if (!three || rnd(0, 2) != 0)
                    continue;
                snprintf(ward, sizeof ward, "%s", parent);
            } else {
                snprintf(ward, sizeof ward, "%s-W%d", parent, w);
                len += (size_t)snprintf(sql + len, sizeof sql - len,
                                        "INSERT INTO org_units VALUES ('%s',"
                                        " '%s', 'ward', '%s');",
                                        ward, ward, parent);
            }
            len += (size_t)snprintf(sql + len, sizeof sql - len,
                                    "INSERT INTO survey_round_wards VALUES"
                                    " ('%s', '%s', 40);",
                                    round, ward);
            int n_subjects = rnd(0, 3);
            for (int s = 0; s < n_subjects; s++) {
                char subject[80];
                snprintf(subject, sizeof subject, "%s-S%d", ward, s);
                int items = rnd(2, 3);
                len += (size_t)snprintf(sql + len, sizeof sql - len,
                                        "INSERT INTO survey_round_subjects"
                                        " VALUES ('%s', '%s', '%s', '%s');",
                                        round, ward, subject,
                                        items == 2 ? "ca" : "cb");
                subject_sql(sql, sizeof sql, round, ward, subject, items);
                len = strlen(sql);
            }
        }
    }
    snprintf(sql + len, sizeof sql - len, "COMMIT;");
    return exec_sql(db, sql);
}

static int drop_district(PGconn *db, int i)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "DELETE FROM ballot_counts WHERE survey = 'Q%d';"
             "DELETE FROM ballot_level_counts WHERE survey = 'Q%d';"
             "DELETE FROM survey_rounds WHERE code = 'Q%d';"
             "DELETE FROM org_units WHERE code LIKE 'A%d-%%' AND kind = 'ward';"
             "DELETE FROM org_units WHERE code LIKE 'A%d-%%';"
             "DELETE FROM org_units WHERE code = 'A%d';"
             "COMMIT;",
             i, i, i, i, i, i);
    return exec_sql(db, sql);
}

/* The two test forms and their items, on existing catalogue codes. */
static const char FORMS_SQL[] =
    "INSERT INTO catalogue_forms VALUES ('audit_2', 'audit 2', 2),"
    " ('audit_3', 'audit 3', 3);"
    "INSERT INTO catalogue_items (form, number, code, manifestation,"
    " group_code, label)"
    " SELECT f.form, n, 'I' || n, m.code, m.group_code, 'item ' || n"
    "   FROM (VALUES ('audit_2', 2), ('audit_3', 3)) f (form, items)"
    "  CROSS JOIN generate_series(1, 3) n"
    "  CROSS JOIN (SELECT code, group_code FROM catalogue_manifestations"
    "               ORDER BY code LIMIT 1) m"
    "  WHERE n <= f.items";

/* The one place every production path reads whether rule 3 applies
 * (sql/012_incremental_aggregates.sql). */
static const char WEAKEN_SQL[] =
    "CREATE OR REPLACE FUNCTION ballot_suppression_complementary()"
    " RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT false $$";

static PGconn *connect_city(const struct it_env *env)
{
    const char *file = getenv("WARDSYNC_TEST_CITY_PASSWORD_FILE");
    char password[256] = "", conninfo[1400];
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f || !fgets(password, sizeof password, f)) {
        fprintf(stderr, "audit-property: set WARDSYNC_TEST_CITY_PASSWORD_FILE"
                        " to the city role's password file\n");
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    password[strcspn(password, "\r\n")] = '\0';
    /* The city role's password is the cluster's: migrate sets it. */
    char pw_env[600];
    snprintf(pw_env, sizeof pw_env, "WARDSYNC_HUB_CITY_ROLE_PASSWORD_FILE=%s",
             file);
    const char *extra[] = {pw_env, NULL};
    const char *argv[] = {it_hub_bin, "--database", env->conninfo, "migrate",
                          NULL};
    if (it_run(argv, extra, 120, NULL) != 0) {
        fprintf(stderr, "audit-property: district-hub migrate failed\n");
        return NULL;
    }
    snprintf(conninfo, sizeof conninfo, "%s user=wardsync_city password=%s",
             env->conninfo, password);
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "audit-property: city role: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"max-seconds", required_argument, NULL, 't'},
        {"weaken", no_argument, NULL, 'w'},
        {NULL, 0, NULL, 0}};
    long count = 200, max_seconds = 150;
    uint64_t seed = 1;
    bool weaken = false;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'n')
            count = atol(optarg);
        else if (c == 's')
            seed = strtoull(optarg, NULL, 10);
        else if (c == 't')
            max_seconds = atol(optarg);
        else if (c == 'w')
            weaken = true;
        else {
            fputs("usage: audit-property [--count N] [--seed S]"
                  " [--max-seconds T] [--weaken]\n",
                  stderr);
            return 2;
        }
    }
    /* make audit: the long version. */
    if (!weaken && getenv("WARDSYNC_AUDIT_COUNT"))
        count = atol(getenv("WARDSYNC_AUDIT_COUNT"));
    if (!weaken && getenv("WARDSYNC_AUDIT_SECONDS"))
        max_seconds = atol(getenv("WARDSYNC_AUDIT_SECONDS"));
    rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    struct it_env env;
    if (it_env_setup(&env, weaken ? "wardsync_audit_weak" : "wardsync_audit") !=
        0)
        return 2;
    int status = 2;
    PGconn *city = NULL;
    city = connect_city(&env);
    if (!city || exec_sql(env.db, FORMS_SQL) != 0 ||
        (weaken && exec_sql(env.db, WEAKEN_SQL) != 0))
        goto teardown;
    char ind[600], ba[600], units[600];
    snprintf(ind, sizeof ind, "%s/indicators.csv", env.workdir);
    snprintf(ba, sizeof ba, "%s/ballot_aggregates.csv", env.workdir);
    snprintf(units, sizeof units, "%s/org_units.csv", env.workdir);
    time_t start = time(NULL);
    long done = 0, leaky = 0, cells = 0, groups = 0, leaks = 0, undecided = 0;
    for (long i = 0; i < count && time(NULL) - start < max_seconds; i++) {
        char q[256];
        if (make_district(env.db, (int)i) != 0)
            goto teardown;
        snprintf(q, sizeof q,
                 "SELECT * FROM published.indicators WHERE period = 'Q%ld'", i);
        if (copy_out(city, q, ind) != 0)
            goto teardown;
        snprintf(q, sizeof q,
                 "SELECT * FROM published.ballot_aggregates"
                 " WHERE survey = 'Q%ld'",
                 i);
        if (copy_out(city, q, ba) != 0 ||
            copy_out(city, "SELECT * FROM published.org_units", units) != 0)
            goto teardown;
        struct audit_files files = {ind, ba, units};
        struct audit_result res;
        char err[512];
        char label[64];
        snprintf(label, sizeof label, "district %ld (seed %llu)", i,
                 (unsigned long long)seed);
        if (audit_run(&files, 10, 10, weaken ? NULL : stdout, &res, err,
                      sizeof err) < 0) {
            fprintf(stderr, "audit-property: %s: %s\n", label, err);
            if (getenv("WARDSYNC_AUDIT_KEEP")) {
                char cmd[2000];
                snprintf(cmd, sizeof cmd, "cp %s %s %s %s", ind, ba, units,
                         getenv("WARDSYNC_AUDIT_KEEP"));
                if (system(cmd) != 0)
                    fprintf(stderr, "audit-property: %s failed\n", cmd);
            }
            goto teardown;
        }
        if (res.leaks) {
            leaky++;
            if (!weaken)
                printf("  in %s\n", label);
        }
        cells += res.cells;
        groups += res.groups;
        leaks += res.leaks;
        undecided += res.undecided;
        done++;
        if (drop_district(env.db, (int)i) != 0)
            goto teardown;
    }
    printf("audit-property%s: %ld random districts (seed %llu, %lds),"
           " %ld suppressed cells and %ld sums checked: %ld leaks in %ld"
           " districts, %ld undecided\n",
           weaken ? " --weaken" : "", done, (unsigned long long)seed,
           (long)(time(NULL) - start), cells, groups, leaks, leaky, undecided);
    status = weaken ? (leaks > 0 ? 0 : 1) : (leaks + undecided > 0 ? 1 : 0);
    if (weaken && leaks == 0)
        printf("the weakened rule leaked nothing the auditor could find\n");
teardown:
    if (city)
        PQfinish(city);
    it_env_teardown(&env);
    return status;
}
