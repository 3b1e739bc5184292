/*
 * db/rounds.c - survey rounds (contract in db/rounds.h).
 */
#include "db/rounds.h"

#include <errno.h>
#include <stdio.h>

#include "db/conn.h"

static const struct db_statement ROUND_UPSERT = {
    "round_upsert", 4,
    "INSERT INTO survey_rounds (code, opens_on, closes_on, label)"
    " VALUES ($1, $2::date, $3::date, $4)"
    " ON CONFLICT (code) DO UPDATE SET opens_on = EXCLUDED.opens_on,"
    " closes_on = EXCLUDED.closes_on, label = EXCLUDED.label"
    " WHERE survey_rounds.state = 'draft'"
    " OR (survey_rounds.opens_on, survey_rounds.closes_on,"
    "     survey_rounds.label)"
    "  = (EXCLUDED.opens_on, EXCLUDED.closes_on, EXCLUDED.label)"
    " RETURNING state"};

static const struct db_statement ROUND_FORM = {
    "round_form", 3,
    "INSERT INTO survey_round_forms (round, category, form)"
    " VALUES ($1, $2, $3) ON CONFLICT (round, category)"
    " DO UPDATE SET form = EXCLUDED.form"};

static const struct db_statement ROUND_WARD = {
    "round_ward", 3,
    "INSERT INTO survey_round_wards (round, ward, expected_ballots)"
    " SELECT $1, code, $3::integer FROM org_units"
    "  WHERE code = $2 AND kind IN ('ward', 'district')"
    " ON CONFLICT (round, ward)"
    " DO UPDATE SET expected_ballots = EXCLUDED.expected_ballots"};

static const struct db_statement ROUND_SUBJECT = {
    "round_subject", 4,
    "INSERT INTO survey_round_subjects"
    " (round, ward, subject, category) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (round, ward, subject)"
    " DO UPDATE SET category = EXCLUDED.category"};

/* old: the state before (NULL: no such round); new: after (NULL: the move
 * was not allowed). */
static const struct db_statement ROUND_SET_STATE = {
    "round_set_state", 2,
    "WITH old AS (SELECT state FROM survey_rounds WHERE code = $1"
    "              FOR UPDATE),"
    " upd AS (UPDATE survey_rounds SET state = $2,"
    "          opened_at = CASE WHEN $2 = 'open' THEN"
    "                      coalesce(opened_at, now()) ELSE opened_at END,"
    "          closed_at = CASE WHEN $2 = 'closed' THEN now()"
    "                      ELSE closed_at END"
    "         WHERE code = $1 AND (state = $2 OR state = 'draft'"
    "               OR (state = 'open' AND $2 = 'closed'))"
    "         RETURNING state)"
    " SELECT (SELECT state FROM old), (SELECT state FROM upd)"};

static const struct db_statement ROUND_SHOW = {
    "round_show", 1,
    "SELECT r.code, r.label, r.opens_on::text, r.closes_on::text, r.state,"
    "  (SELECT count(*) FROM survey_round_wards w WHERE w.round = r.code),"
    "  (SELECT count(*) FROM survey_round_subjects s"
    "    WHERE s.round = r.code),"
    "  (SELECT coalesce(sum(expected_ballots), 0) FROM survey_round_wards w"
    "    WHERE w.round = r.code),"
    "  (SELECT coalesce(sum(ballots), 0) FROM ballot_counts c"
    "    WHERE c.survey = r.code)"
    "  FROM survey_rounds r WHERE $1::text IS NULL OR r.code = $1"
    " ORDER BY r.opens_on, r.code"};

/* A failed statement: the operator's value (-EINVAL) or the database. */
static int failure(struct db *db)
{
    return db_data_error(db_sqlstate(db)) ? -EINVAL : -EIO;
}

static int run(struct db *db, const struct db_statement *s,
               const char *const *values, char *err, size_t errlen)
{
    return db_run(db, s, values, err, errlen) < 0 ? failure(db) : 0;
}

int db_round_upsert(struct db *db, const char *code, const char *opens_on,
                    const char *closes_on, const char *label, char *err,
                    size_t errlen)
{
    const char *values[] = {code, opens_on, closes_on, label ? label : ""};
    PGresult *res = NULL;
    if (db_exec(db, &ROUND_UPSERT, values, NULL, NULL, &res, err, errlen) < 0)
        return failure(db);
    int rows = PQntuples(res);
    PQclear(res);
    if (rows == 0) {
        snprintf(err, errlen,
                 "round %s is no longer a draft: its dates and label cannot "
                 "change",
                 code);
        return -EINVAL;
    }
    return 0;
}

int db_round_form(struct db *db, const char *round, const char *category,
                  const char *form, char *err, size_t errlen)
{
    const char *values[] = {round, category, form};
    return run(db, &ROUND_FORM, values, err, errlen);
}

int db_round_ward(struct db *db, const char *round, const char *ward,
                  const char *expected, char *err, size_t errlen)
{
    const char *values[] = {round, ward, expected};
    return run(db, &ROUND_WARD, values, err, errlen);
}

int db_round_subject(struct db *db, const char *round, const char *ward,
                     const char *subject, const char *category, char *err,
                     size_t errlen)
{
    const char *values[] = {round, ward, subject, category};
    return run(db, &ROUND_SUBJECT, values, err, errlen);
}

int db_round_set_state(struct db *db, const char *code, const char *state,
                       char *err, size_t errlen)
{
    const char *values[] = {code, state};
    PGresult *res = NULL;
    if (db_exec(db, &ROUND_SET_STATE, values, NULL, NULL, &res, err, errlen) <
        0)
        return failure(db);
    int rc = 0;
    if (PQgetisnull(res, 0, 0)) {
        snprintf(err, errlen, "unknown round \"%s\"", code);
        rc = -ENOENT;
    } else if (PQgetisnull(res, 0, 1)) {
        snprintf(err, errlen, "round %s is %s: it cannot be made %s", code,
                 PQgetvalue(res, 0, 0), state);
        rc = -EINVAL;
    }
    PQclear(res);
    return rc;
}

int db_round_show(struct db *db, const char *code, db_round_fn fn, void *ctx,
                  char *err, size_t errlen)
{
    const char *values[] = {code};
    PGresult *res = NULL;
    if (db_exec(db, &ROUND_SHOW, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *fields[9];
        for (int f = 0; f < 9; f++)
            fields[f] = PQgetvalue(res, i, f);
        fn(ctx, fields);
    }
    PQclear(res);
    if (code && n == 0) {
        snprintf(err, errlen, "unknown round \"%s\"", code);
        return -ENOENT;
    }
    return 0;
}
