/*
 * test_indicators.c - the indicators against the raw rows, and the
 * publication rule against random tallies (issue 5).
 *
 * 1. A random mix of ballots (some for an unknown subject or another
 *    ward's subject, which the hub must reject), petition histories,
 *    reception sessions and remediation plans goes through real agents and
 *    a real hub; every indicator is then compared with a recomputation by
 *    plain SQL over the raw rows, written here independently of
 *    sql/001_baseline.sql.
 * 2. Property: for many random tallies, published.indicators and
 *    published.ballot_aggregates never show a cell under 10 ballots, and
 *    no suppressed cell can be derived by subtraction from the published
 *    totals (the sums district = wards, ward = subjects, subject = groups,
 *    eliminated until nothing changes).
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

#define ROUND "R-IT"
#define AS_OF "2024-06-30"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];

static uint64_t rng_state = 0x5eed1234abcdULL;
static int rnd(int lo, int hi) /* uniform enough for test data */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static void exec_ok(const char *sql, int n, const char *const *values)
{
    PGresult *r = PQexecParams(env.db, sql, n, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s\n-> %s", sql, PQresultErrorMessage(r));
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK ||
                PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
}

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&env, "wardsync_it_indicators") != 0)
        return -1;
    hub = it_start_hub(&env, NULL, endpoint, sizeof endpoint);
    return hub > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (hub > 0)
        it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

/* ------------------------------------------------ pipeline recomputation */

static const char *const WARDS[] = {"LB02", "LB03"};
#define N_WARDS 2
#define SUBJECTS_PER_WARD 3

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
    snprintf(home, sizeof home, "%s/ind-%s", env.workdir, ward);
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

static void import_and_send(const char *ward, const char *kind,
                            const char *path)
{
    assert_int_equal(agent_run(ward, "import", kind, path, NULL), 0);
}

/* Ballots of ward w; with_wrong: some for an unknown subject or the other
 * ward's, which the hub rejects. */
static void write_ballots(const char *path, int w, bool with_wrong)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= 41; i++)
        fprintf(f, ",i%02d", i);
    fputc('\n', f);
    int n = rnd(35, 60);
    for (int b = 0; b < n; b++) {
        int s = rnd(1, SUBJECTS_PER_WARD);
        char subject[32];
        int kind = rnd(0, 19);
        if (!with_wrong && kind <= 1)
            kind = 2;
        if (kind == 0) /* unknown subject: rejected */
            snprintf(subject, sizeof subject, "%s-S09", WARDS[w]);
        else if (kind == 1) /* the other ward's subject: rejected */
            snprintf(subject, sizeof subject, "%s-S01", WARDS[1 - w]);
        else
            snprintf(subject, sizeof subject, "%s-S%02d", WARDS[w], s);
        bool leadership = kind <= 1 || s == 1;
        /* Subject 2 of each ward leans to level 3 so that some flag. */
        int bias = s == 2 ? 35 : 8;
        fprintf(f, "%s,%s,%s,%d,2024-03-%02d", ROUND,
                leadership ? "leadership" : "staff", subject, rnd(1, 4),
                rnd(1, 28));
        for (int i = 1; i <= 41; i++) {
            if (!leadership && i > 36) {
                fputc(',', f);
                continue;
            }
            int r = rnd(0, 99);
            fprintf(f, ",%d", r < bias ? 3 : r < bias + 15 ? 2 : 1);
        }
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
}

static void write_petitions(const char *path, int w)
{
    static const char *const kinds[] = {"complaint", "denunciation",
                                        "recommendation", "reflection"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("petition,kind,channel,status,in_jurisdiction,received_on,due_on,"
          "changed_on,note\n",
          f);
    int n = rnd(12, 25);
    for (int p = 0; p < n; p++) {
        char id[32], received[11], accepted[11], resolved[11], due[11];
        snprintf(id, sizeof id, "%s-P%03d", WARDS[w], p + 1);
        int d0 = rnd(1, 20);
        snprintf(received, sizeof received, "2024-04-%02d", d0);
        snprintf(accepted, sizeof accepted, "2024-04-%02d", d0 + rnd(0, 10));
        snprintf(resolved, sizeof resolved, "2024-05-%02d", rnd(1, 28));
        snprintf(due, sizeof due, "2024-05-%02d", rnd(10, 31));
        const char *kind = kinds[rnd(0, 3)];
        int fate = rnd(0, 9);
        bool in_jur = fate != 0;
        fprintf(f, "%s,%s,post,received,%s,%s,,%s,\n", id, kind,
                in_jur ? "yes" : "no", received, received);
        if (!in_jur) {
            fprintf(f, "%s,%s,post,transferred,no,%s,,%s,\n", id, kind,
                    received, accepted);
            continue;
        }
        if (fate == 1)
            continue; /* received, never accepted */
        fprintf(f, "%s,%s,post,accepted,yes,%s,%s,%s,\n", id, kind, received,
                fate == 2 ? due : "", accepted);
        if (fate <= 4)
            continue; /* open */
        if (fate == 5) {
            fprintf(f, "%s,%s,post,withdrawn,yes,%s,,%s,\n", id, kind, received,
                    resolved);
            continue;
        }
        fprintf(f, "%s,%s,post,resolved,yes,%s,%s,%s,\n", id, kind, received,
                fate == 6 ? due : "", resolved);
    }
    assert_int_equal(fclose(f), 0);
}

static void write_reception(const char *path, int w)
{
    static const char *const roles[] = {"chair", "vice_chair", "officer"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("session,held_on,host_role,mode,citizens,petitions\n", f);
    int n = rnd(5, 15);
    for (int s = 0; s < n; s++)
        fprintf(f, "%s-R%02d,2024-0%d-%02d,%s,regular,%d,%d\n", WARDS[w], s + 1,
                rnd(3, 5), rnd(1, 28), roles[rnd(0, 2)], rnd(0, 9), rnd(0, 2));
    assert_int_equal(fclose(f), 0);
}

static void write_remediation(const char *path, int w)
{
    static const char *const statuses[] = {"required", "submitted",
                                           "completed"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,subject,status,due_on,changed_on\n", f);
    for (int s = 1; s <= SUBJECTS_PER_WARD; s++) {
        if (rnd(0, 3) == 0)
            continue; /* no plan */
        fprintf(f, "%s,%s-S%02d,%s,2024-05-15,2024-05-%02d\n", ROUND, WARDS[w],
                s, statuses[rnd(0, 2)], rnd(1, 31));
    }
    assert_int_equal(fclose(f), 0);
}

/* The same indicators computed from the raw rows with plain GROUP BYs,
 * for the two wards and the district LB (the office has no data here). */
static const char RECOUNT_SQL[] =
    "WITH b AS ("
    "  SELECT ward, count(*) AS n FROM ballots WHERE survey = 'R-IT'"
    "   GROUP BY ward"
    "), lv AS ("
    "  SELECT b.ward, sum(l.level) AS s, count(*) AS n"
    "    FROM ballots b JOIN ballot_levels l USING (event_id)"
    "   WHERE b.survey = 'R-IT' GROUP BY b.ward"
    "), per_item AS ("
    "  SELECT b.ward, b.subject, l.item, count(*) AS n,"
    "         count(*) FILTER (WHERE l.level = 3) AS c3,"
    "         count(*) FILTER (WHERE l.level >= 2) AS c23"
    "    FROM ballots b JOIN ballot_levels l USING (event_id)"
    "   WHERE b.survey = 'R-IT' GROUP BY b.ward, b.subject, l.item"
    "), flagged AS ("
    "  SELECT ward, subject FROM per_item"
    "   GROUP BY ward, subject"
    "  HAVING (SELECT count(*) FROM ballots x WHERE x.survey = 'R-IT'"
    "           AND x.ward = per_item.ward AND x.subject = per_item.subject)"
    "         >= 10"
    "     AND bool_or(10 * c3 >= 3 * n OR 2 * c23 >= n)"
    "), fl AS ("
    "  SELECT f.ward, count(*) AS n,"
    "    count(*) FILTER (WHERE p.status = 'completed'"
    "      AND (p.updated_at AT TIME ZONE 'UTC')::date <= p.due_on) AS on_time,"
    "    count(*) FILTER (WHERE p.status <> 'completed'"
    "      AND p.due_on < DATE '" AS_OF "') AS overdue,"
    "    count(*) FILTER (WHERE p.status IS NULL) AS missing"
    "    FROM flagged f LEFT JOIN remediation_plans p"
    "      ON p.survey = 'R-IT' AND p.ward = f.ward AND p.subject = f.subject"
    "   GROUP BY f.ward"
    "), pe AS ("
    "  SELECT ward, count(*) AS received,"
    "    count(*) FILTER (WHERE in_jurisdiction"
    "                     AND status IN ('accepted', 'in_progress',"
    "                                    'resolved'))"
    "        AS in_jur,"
    "    count(*) FILTER (WHERE in_jurisdiction AND status = 'resolved')"
    "      AS resolved,"
    "    count(*) FILTER (WHERE in_jurisdiction AND status IN"
    "      ('accepted', 'in_progress')) AS open"
    "    FROM petitions GROUP BY ward"
    "), rs AS ("
    "  SELECT ward, count(*) AS sessions, sum(citizens) AS citizens,"
    "    count(DISTINCT date_trunc('week', held_on))"
    "      FILTER (WHERE host_role = 'chair') AS chair_weeks"
    "    FROM reception_sessions GROUP BY ward"
    "), rj AS ("
    "  SELECT ward, count(*) AS n FROM rejected_events WHERE kind = 'ballot'"
    "   GROUP BY ward"
    "), per_ward (code, ward, num, den) AS ("
    "  SELECT 'ballots_received', w.ward, coalesce(b.n, 0), NULL::numeric"
    "    FROM survey_round_wards w LEFT JOIN b USING (ward)"
    "   WHERE w.round = 'R-IT'"
    "  UNION ALL SELECT 'ballot_completeness', w.ward, coalesce(b.n, 0),"
    "         w.expected_ballots"
    "    FROM survey_round_wards w LEFT JOIN b USING (ward)"
    "   WHERE w.round = 'R-IT'"
    "  UNION ALL SELECT 'subject_score', ward, s, n FROM lv"
    "  UNION ALL SELECT 'subjects_flagged', w.ward, coalesce(fl.n, 0), NULL"
    "    FROM survey_round_wards w LEFT JOIN fl USING (ward)"
    "   WHERE w.round = 'R-IT'"
    "  UNION ALL SELECT 'remediation_on_time', w.ward, coalesce(fl.on_time, 0),"
    "         coalesce(fl.n, 0)"
    "    FROM survey_round_wards w LEFT JOIN fl USING (ward)"
    "   WHERE w.round = 'R-IT'"
    "  UNION ALL SELECT 'remediation_overdue', w.ward, coalesce(fl.overdue, 0),"
    "         NULL FROM survey_round_wards w LEFT JOIN fl USING (ward)"
    "   WHERE w.round = 'R-IT'"
    "  UNION ALL SELECT 'remediation_missing', w.ward, coalesce(fl.missing, 0),"
    "         NULL FROM survey_round_wards w LEFT JOIN fl USING (ward)"
    "   WHERE w.round = 'R-IT'"
    "  UNION ALL SELECT 'petitions_received', ward, received, NULL FROM pe"
    "  UNION ALL SELECT 'petitions_in_jurisdiction', ward, in_jur, NULL FROM pe"
    "  UNION ALL SELECT 'petitions_resolved', ward, resolved, NULL FROM pe"
    "  UNION ALL SELECT 'petitions_in_progress', ward, open, NULL FROM pe"
    "  UNION ALL SELECT 'petition_resolution_rate', ward, resolved, in_jur"
    "    FROM pe"
    "  UNION ALL SELECT 'reception_sessions', ward, sessions, NULL FROM rs"
    "  UNION ALL SELECT 'reception_citizens', ward, citizens, NULL FROM rs"
    "  UNION ALL SELECT 'citizens_per_session', ward, citizens, sessions"
    "    FROM rs"
    "  UNION ALL SELECT 'chair_reception_weeks', ward, chair_weeks, NULL"
    "    FROM rs"
    "  UNION ALL SELECT 'ballots_rejected', ward, n, NULL FROM rj"
    "), recount AS ("
    "  SELECT code, ward AS org_unit, num, den FROM per_ward"
    "  UNION ALL"
    "  SELECT code, 'LB', sum(num), sum(den) FROM per_ward GROUP BY code"
    "), hub AS ("
    "  SELECT code, org_unit, numerator AS num, denominator AS den"
    "    FROM indicator_values(NULL, NULL, 'all', DATE '" AS_OF "', 10,"
    "                          0.30, 0.50, 5, 1)"
    "   WHERE period IN ('all', 'R-IT')"
    ")"
    "SELECT r.code || ' ' || r.org_unit || ': recount ' ||"
    "       coalesce(r.num::text, 'null') || '/' || coalesce(r.den::text, '-')"
    "       || ', hub ' || coalesce(h.num::text, 'no row') || '/' ||"
    "       coalesce(h.den::text, '-')"
    "  FROM recount r LEFT JOIN hub h USING (code, org_unit)"
    " WHERE h.num IS DISTINCT FROM r.num"
    "    OR (r.code <> 'chair_reception_weeks'"
    "        AND h.den IS DISTINCT FROM r.den)";

static void test_indicators_equal_raw_recount(void **state)
{
    (void)state;
    /* The round: three subjects per ward, subject 1 on the leadership
     * form, the others on the staff form. */
    exec_ok("INSERT INTO survey_rounds (code, opens_on, closes_on, state)"
            " VALUES ('" ROUND "', '2024-03-01', '2024-03-31', 'open')",
            0, NULL);
    exec_ok("INSERT INTO survey_round_forms VALUES ('" ROUND
            "', 'lead', 'leadership'), ('" ROUND "', 'staff', 'staff')",
            0, NULL);
    for (int w = 0; w < N_WARDS; w++) {
        const char *v[] = {WARDS[w]};
        exec_ok("INSERT INTO survey_round_wards VALUES ('" ROUND "', $1, 60)",
                1, v);
        for (int s = 1; s <= SUBJECTS_PER_WARD; s++) {
            char subject[32];
            snprintf(subject, sizeof subject, "%s-S%02d", WARDS[w], s);
            const char *sv[] = {WARDS[w], subject, s == 1 ? "lead" : "staff"};
            exec_ok("INSERT INTO survey_round_subjects VALUES ('" ROUND
                    "', $1, $2, $3)",
                    3, sv);
        }
    }

    for (int w = 0; w < N_WARDS; w++) {
        char path[512];
        snprintf(path, sizeof path, "%s/ind-ballots-%d.csv", env.workdir, w);
        write_ballots(path, w, true);
        import_and_send(WARDS[w], "ballots", path);
        snprintf(path, sizeof path, "%s/ind-petitions-%d.csv", env.workdir, w);
        write_petitions(path, w);
        import_and_send(WARDS[w], "petitions", path);
        snprintf(path, sizeof path, "%s/ind-reception-%d.csv", env.workdir, w);
        write_reception(path, w);
        import_and_send(WARDS[w], "reception", path);
        snprintf(path, sizeof path, "%s/ind-remediation-%d.csv", env.workdir,
                 w);
        write_remediation(path, w);
        import_and_send(WARDS[w], "remediation", path);
        assert_int_equal(
            agent_run(WARDS[w], "run", "--until-idle", "--max-seconds", "60"),
            0);
    }

    /* The hub rejected the ballots for subjects outside the round or the
     * ward, with the reason. */
    long wrong =
        it_query_long(env.db, "SELECT count(*) FROM rejected_events"
                              " WHERE kind = 'ballot' AND (reason LIKE "
                              "'%unknown subject%' OR reason LIKE "
                              "'%is not a subject of ward%')");
    long rejected = it_query_long(
        env.db, "SELECT count(*) FROM rejected_events WHERE kind = 'ballot'");
    assert_true(rejected >= 0);
    assert_int_equal(wrong, rejected);
    assert_true(it_query_long(env.db, "SELECT count(*) FROM ballots") > 40);
    assert_true(it_query_long(env.db, "SELECT count(*) FROM petitions") > 20);

    PGresult *r = PQexec(env.db, RECOUNT_SQL);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(stderr, "mismatch: %s\n", PQgetvalue(r, i, 0));
    int mismatches = PQntuples(r);
    PQclear(r);
    assert_int_equal(mismatches, 0);

    /* Some subject is flagged and some is not: the comparison saw both. */
    long flagged = it_query_long(
        env.db, "SELECT numerator FROM indicator_values(NULL, NULL, 'all',"
                " DATE '" AS_OF "', 10, 0.30, 0.50, 5, 1)"
                " WHERE code = 'subjects_flagged' AND org_unit = 'LB'");
    assert_true(flagged >= 1 && flagged < N_WARDS * SUBJECTS_PER_WARD);

    /* A closed round takes no more ballots: the late ballot is rejected.
     * The agent has not been told yet (its reference data says open), so
     * the hub's check is what refuses them; rows of a wrong subject the
     * agent would refuse at import itself (test_clerk_reference.c). */
    exec_ok("UPDATE survey_rounds SET state = 'closed' WHERE code = '" ROUND
            "'",
            0, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/ind-late.csv", env.workdir);
    write_ballots(path, 0, false);
    long before = it_query_long(env.db, "SELECT count(*) FROM ballots");
    import_and_send(WARDS[0], "ballots", path);
    assert_int_equal(
        agent_run(WARDS[0], "run", "--until-idle", "--max-seconds", "60"), 0);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM ballots"),
                     before);
    assert_true(it_query_long(env.db, "SELECT count(*) FROM rejected_events"
                                      " WHERE reason LIKE '%closed%'") > 0);
}

/* ------------------------------------------------ publication property */

#define MAX_W 5
#define MAX_S 4

struct cell {
    long n;         /* true ballots */
    int suppressed; /* -1 unknown (no row), 0 published, 1 suppressed */
    long shown;     /* published number, -1 when none */
    int known;      /* for the derivation fixpoint */
};

struct world {
    int n_wards;
    char ward[MAX_W][8];
    int n_subjects[MAX_W];
    struct cell district, wards[MAX_W], subjects[MAX_W][MAX_S],
        groups[MAX_W][MAX_S][4];
};

/* Derives by subtraction until nothing changes: in every sum
 * parent = children, a single unknown term is known. */
static void derive(struct world *w)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (int pass = 0; pass < 3; pass++) {
            int outer = pass == 0 ? 1 : w->n_wards;
            for (int i = 0; i < outer; i++) {
                int inner = pass == 2 ? w->n_subjects[i] : 1;
                for (int j = 0; j < inner; j++) {
                    struct cell *parent;
                    struct cell *kids[MAX_W + MAX_S + 4];
                    int nk;
                    if (pass == 0) {
                        parent = &w->district;
                        nk = w->n_wards;
                        for (int k = 0; k < nk; k++)
                            kids[k] = &w->wards[k];
                    } else if (pass == 1) {
                        parent = &w->wards[i];
                        nk = w->n_subjects[i];
                        for (int k = 0; k < nk; k++)
                            kids[k] = &w->subjects[i][k];
                    } else {
                        parent = &w->subjects[i][j];
                        nk = 4;
                        for (int k = 0; k < nk; k++)
                            kids[k] = &w->groups[i][j][k];
                    }
                    int unknown = !parent->known;
                    struct cell *last = parent->known ? NULL : parent;
                    for (int k = 0; k < nk; k++)
                        if (!kids[k]->known) {
                            unknown++;
                            last = kids[k];
                        }
                    if (unknown == 1) {
                        last->known = 1;
                        changed = true;
                    }
                }
            }
        }
    }
}

/* Cells seen published and suppressed over all rounds: the property
 * must have met both. */
static long seen_published, seen_suppressed;

static void check_cell(const struct cell *c, const char *what)
{
    if (c->suppressed == 0)
        seen_published++;
    else
        seen_suppressed++;
    if (c->suppressed == 0) {
        /* 0 is published where its parent is (docs/DESIGN.md §7). */
        if ((c->n > 0 && c->n < 10) || c->shown != c->n)
            fprintf(stderr, "%s: published %ld, true %ld\n", what, c->shown,
                    c->n);
        assert_true(c->n == 0 || c->n >= 10);
        assert_int_equal(c->shown, c->n);
    } else {
        assert_int_equal(c->suppressed, 1);
        assert_int_equal(c->shown, -1);
        if (c->known)
            fprintf(stderr, "%s: suppressed but derivable (true %ld)\n", what,
                    c->n);
        assert_false(c->known);
    }
}

static void property_round(int iteration)
{
    static const char *const all_wards[] = {"LB01", "LB04", "LB05", "LB06",
                                            "LB07", "LB08", "LB09"};
    struct world w;
    memset(&w, 0, sizeof w);
    char code[16];
    snprintf(code, sizeof code, "P%03d", iteration);
    const char *cv[] = {code};
    exec_ok("INSERT INTO survey_rounds (code, opens_on, closes_on)"
            " VALUES ($1, '2025-01-01', '2025-01-31')",
            1, cv);
    exec_ok("INSERT INTO survey_round_forms VALUES ($1, 'c', 'leadership')", 1,
            cv);
    w.n_wards = rnd(1, MAX_W);
    int first = rnd(0, 7 - w.n_wards);
    /* Mostly small numbers, sometimes large: both sides of 10 often. */
    int scale = rnd(0, 2);
    for (int i = 0; i < w.n_wards; i++) {
        snprintf(w.ward[i], sizeof w.ward[i], "%s", all_wards[first + i]);
        const char *wv[] = {code, w.ward[i]};
        exec_ok("INSERT INTO survey_round_wards VALUES ($1, $2, 50)", 2, wv);
        w.n_subjects[i] = rnd(1, MAX_S);
        for (int j = 0; j < w.n_subjects[i]; j++) {
            char subject[32];
            snprintf(subject, sizeof subject, "%s-X%d", w.ward[i], j);
            const char *sv[] = {code, w.ward[i], subject};
            exec_ok("INSERT INTO survey_round_subjects VALUES ($1, $2, $3,"
                    " 'c')",
                    3, sv);
            long total = 0;
            for (int g = 0; g < 4; g++) {
                long n = rnd(0, 3) == 0 ? 0 : rnd(0, 6 + 8 * scale);
                w.groups[i][j][g].n = n;
                total += n;
                if (n == 0)
                    continue;
                char gt[8], nt[24];
                snprintf(gt, sizeof gt, "%d", g + 1);
                snprintf(nt, sizeof nt, "%ld", n);
                const char *bv[] = {code, w.ward[i], subject, gt, nt};
                exec_ok("INSERT INTO ballot_counts (survey, ward, subject,"
                        " form, respondent_group, ballots)"
                        " VALUES ($1, $2, $3, 'leadership', $4::smallint,"
                        " $5::bigint)",
                        5, bv);
            }
            w.subjects[i][j].n = total;
            w.wards[i].n += total;
            char nt[24];
            snprintf(nt, sizeof nt, "%ld", total);
            const char *iv[] = {code, w.ward[i], subject, nt};
            exec_ok("INSERT INTO ballot_level_counts (survey, ward, subject,"
                    " respondent_group, n1, n2, n3)"
                    " VALUES ($1, $2, $3, 1, ARRAY[$4::bigint], '{0}', '{0}')",
                    4, iv);
        }
        w.district.n += w.wards[i].n;
    }

    /* What the city reads. */
    w.district.suppressed = -1;
    PGresult *r =
        PQexecParams(env.db,
                     "SELECT org_unit, suppressed, coalesce(numerator, -1)"
                     "  FROM published.indicators"
                     " WHERE code = 'ballots_received' AND period = $1",
                     1, NULL, cv, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int row = 0; row < PQntuples(r); row++) {
        const char *unit = PQgetvalue(r, row, 0);
        struct cell *c = NULL;
        /* The city's total: the same ballots as LB's here. */
        if (strcmp(unit, "HN") == 0)
            continue;
        if (strcmp(unit, "LB") == 0)
            c = &w.district;
        for (int i = 0; i < w.n_wards; i++)
            if (strcmp(unit, w.ward[i]) == 0)
                c = &w.wards[i];
        assert_non_null(c);
        c->suppressed = PQgetvalue(r, row, 1)[0] == 't';
        c->shown = strtol(PQgetvalue(r, row, 2), NULL, 10);
    }
    PQclear(r);
    r = PQexecParams(env.db,
                     "SELECT ward, subject, respondent_group, suppressed,"
                     "       coalesce(ballots, -1)"
                     "  FROM published.ballot_aggregates"
                     " WHERE survey = $1 AND item = 1",
                     1, NULL, cv, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < w.n_wards; i++)
        for (int j = 0; j < w.n_subjects[i]; j++) {
            w.subjects[i][j].suppressed = -1;
            for (int g = 0; g < 4; g++)
                w.groups[i][j][g].suppressed = -1;
        }
    for (int row = 0; row < PQntuples(r); row++) {
        int i = -1, j = -1;
        for (int k = 0; k < w.n_wards; k++)
            if (strcmp(PQgetvalue(r, row, 0), w.ward[k]) == 0)
                i = k;
        assert_true(i >= 0);
        const char *subject = PQgetvalue(r, row, 1);
        j = subject[strlen(subject) - 1] - '0';
        assert_true(j >= 0 && j < w.n_subjects[i]);
        const char *g = PQgetvalue(r, row, 2);
        struct cell *c = strcmp(g, "all") == 0 ? &w.subjects[i][j]
                                               : &w.groups[i][j][g[0] - '1'];
        c->suppressed = PQgetvalue(r, row, 3)[0] == 't';
        c->shown = strtol(PQgetvalue(r, row, 4), NULL, 10);
    }
    PQclear(r);

    /* Every cell has a row; derive what subtraction gives. */
    struct cell *all[1 + MAX_W + MAX_W * MAX_S * 5];
    int n_all = 0;
    all[n_all++] = &w.district;
    for (int i = 0; i < w.n_wards; i++) {
        all[n_all++] = &w.wards[i];
        for (int j = 0; j < w.n_subjects[i]; j++) {
            all[n_all++] = &w.subjects[i][j];
            for (int g = 0; g < 4; g++)
                all[n_all++] = &w.groups[i][j][g];
        }
    }
    for (int k = 0; k < n_all; k++) {
        assert_true(all[k]->suppressed >= 0);
        all[k]->known = all[k]->suppressed == 0;
    }
    derive(&w);
    char what[64];
    snprintf(what, sizeof what, "round %s", code);
    for (int k = 0; k < n_all; k++)
        check_cell(all[k], what);

    exec_ok("DELETE FROM ballot_counts WHERE survey = $1", 1, cv);
    exec_ok("DELETE FROM ballot_level_counts WHERE survey = $1", 1, cv);
    exec_ok("DELETE FROM survey_rounds WHERE code = $1", 1, cv);
}

static void test_publication_rule_property(void **state)
{
    (void)state;
    for (int i = 0; i < 40; i++)
        property_round(i);
    assert_true(seen_published > 40);
    assert_true(seen_suppressed > 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indicators_equal_raw_recount),
        cmocka_unit_test(test_publication_rule_property),
    };
    return cmocka_run_group_tests_name("integration_indicators", tests,
                                       group_setup, group_teardown);
}
