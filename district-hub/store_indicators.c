/*
 * store_indicators.c - rounds and indicator reads (store_indicators.h).
 *
 * The indicator arithmetic lives in the database (006_indicators.sql),
 * where the published views use the very same function; this file only
 * passes the period and thresholds as parameters and copies rows out.
 */
#include "store_indicators.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/util.h"

struct ind_store {
    PGconn *conn;
};

static void set_error(char *err, size_t errlen, const char *what,
                      const char *message)
{
    snprintf(err, errlen, "%s: %s", what, message ? message : "");
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
        err[--len] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

int ind_store_open(const char *conninfo, struct ind_store **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    struct ind_store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->conn = PQconnectdb(conninfo);
    if (!st->conn || PQstatus(st->conn) != CONNECTION_OK ||
        PQsetClientEncoding(st->conn, "UTF8") != 0) {
        set_error(err, errlen, "could not connect to the database",
                  st->conn ? PQerrorMessage(st->conn) : "out of memory");
        PQfinish(st->conn);
        free(st);
        return -EIO;
    }
    *out = st;
    return 0;
}

void ind_store_close(struct ind_store **st)
{
    if (!st || !*st)
        return;
    PQfinish((*st)->conn);
    free(*st);
    *st = NULL;
}

/* Runs one parameterised statement. Returns the result (caller clears) or
 * NULL with the server's primary message in err; a check violation
 * (a refused value) sets *refused when refused is not NULL. */
static PGresult *exec_params(struct ind_store *st, const char *sql, int n,
                             const char *const *values, bool *refused,
                             char *err, size_t errlen)
{
    PGresult *res = PQexecParams(st->conn, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return res;
    const char *primary =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (refused)
        *refused = state && strncmp(state, "23", 2) == 0; /* integrity */
    set_error(err, errlen, "statement failed",
              primary ? primary
              : res   ? PQresultErrorMessage(res)
                      : PQerrorMessage(st->conn));
    PQclear(res);
    return NULL;
}

/* exec_params for commands: 0, -EINVAL (refused value) or -EIO. */
static int run(struct ind_store *st, const char *sql, int n,
               const char *const *values, char *err, size_t errlen)
{
    bool refused = false;
    PGresult *res = exec_params(st, sql, n, values, &refused, err, errlen);
    if (!res)
        return refused ? -EINVAL : -EIO;
    PQclear(res);
    return 0;
}

int ind_store_begin(struct ind_store *st, char *err, size_t errlen)
{
    return run(st, "BEGIN", 0, NULL, err, errlen);
}

int ind_store_commit(struct ind_store *st, char *err, size_t errlen)
{
    PGresult *res = PQexec(st->conn, "COMMIT");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK ||
        strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        set_error(err, errlen, "commit failed",
                  res ? PQresultErrorMessage(res) : PQerrorMessage(st->conn));
        rc = -EIO;
    }
    PQclear(res);
    return rc;
}

void ind_store_rollback(struct ind_store *st)
{
    if (PQstatus(st->conn) == CONNECTION_OK &&
        PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        PQclear(PQexec(st->conn, "ROLLBACK"));
}

int ind_store_settings_write(struct ind_store *st,
                             const struct ind_thresholds *t, char *err,
                             size_t errlen)
{
    char min_ballots[24], suppress[24], due_soon[24];
    snprintf(min_ballots, sizeof min_ballots, "%" PRId64, t->min_ballots);
    snprintf(suppress, sizeof suppress, "%" PRId64, t->suppress_below);
    snprintf(due_soon, sizeof due_soon, "%" PRId64, t->due_soon_days);
    const char *values[] = {min_ballots, t->level3_share, t->level23_share,
                            suppress, due_soon};
    return run(st,
               "UPDATE indicator_settings SET"
               " flag_min_ballots = $1::integer,"
               " flag_level3_share = $2::numeric,"
               " flag_level23_share = $3::numeric,"
               " suppress_below = $4::integer, due_soon_days = $5::integer",
               5, values, err, errlen);
}

int ind_store_petition_rule(struct ind_store *st, const char *const fields[7],
                            char *err, size_t errlen)
{
    return run(st,
               "INSERT INTO petition_deadline_rules (kind, effective_from,"
               " accept_days, resolve_days, extension_days, max_extensions,"
               " source) VALUES ($1, $2::date, $3::integer, $4::integer,"
               " $5::integer, $6::integer, $7)"
               " ON CONFLICT (kind, effective_from) DO UPDATE SET"
               " accept_days = EXCLUDED.accept_days,"
               " resolve_days = EXCLUDED.resolve_days,"
               " extension_days = EXCLUDED.extension_days,"
               " max_extensions = EXCLUDED.max_extensions,"
               " source = EXCLUDED.source",
               7, fields, err, errlen);
}

int ind_store_values(struct ind_store *st, const char *from, const char *to,
                     const char *label, const char *as_of,
                     const struct ind_thresholds *t, struct ind_row **rows,
                     size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    char min_ballots[24], suppress[24], due_soon[24];
    snprintf(min_ballots, sizeof min_ballots, "%" PRId64, t->min_ballots);
    snprintf(suppress, sizeof suppress, "%" PRId64, t->suppress_below);
    snprintf(due_soon, sizeof due_soon, "%" PRId64, t->due_soon_days);
    const char *values[] = {from,
                            to,
                            label,
                            as_of,
                            min_ballots,
                            t->level3_share,
                            t->level23_share,
                            due_soon,
                            suppress};
    PGresult *res = exec_params(
        st,
        "SELECT code, org_unit, name, unit_kind, period,"
        "       coalesce(numerator::text, ''), coalesce(denominator::text, ''),"
        "       coalesce(value::text, ''), suppressed, rule"
        "  FROM indicator_values($1::date, $2::date, $3, $4::date,"
        "                        $5::integer, $6::numeric, $7::numeric,"
        "                        $8::integer, $9::integer)"
        " ORDER BY ord, period, sort_key",
        9, values, NULL, err, errlen);
    if (!res)
        return -EIO;
    int n_rows = PQntuples(res);
    struct ind_row *out = calloc(n_rows > 0 ? (size_t)n_rows : 1, sizeof *out);
    if (!out) {
        PQclear(res);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < n_rows; i++) {
        struct ind_row *r = &out[i];
        ws_strlcpy(r->code, PQgetvalue(res, i, 0), sizeof r->code);
        ws_strlcpy(r->org_unit, PQgetvalue(res, i, 1), sizeof r->org_unit);
        ws_strlcpy(r->name, PQgetvalue(res, i, 2), sizeof r->name);
        ws_strlcpy(r->kind, PQgetvalue(res, i, 3), sizeof r->kind);
        ws_strlcpy(r->period, PQgetvalue(res, i, 4), sizeof r->period);
        ws_strlcpy(r->numerator, PQgetvalue(res, i, 5), sizeof r->numerator);
        ws_strlcpy(r->denominator, PQgetvalue(res, i, 6),
                   sizeof r->denominator);
        ws_strlcpy(r->value, PQgetvalue(res, i, 7), sizeof r->value);
        r->suppressed = PQgetvalue(res, i, 8)[0] == 't';
        ws_strlcpy(r->rule, PQgetvalue(res, i, 9), sizeof r->rule);
    }
    PQclear(res);
    *rows = out;
    *n = (size_t)n_rows;
    return 0;
}

int ind_store_round_upsert(struct ind_store *st, const char *code,
                           const char *opens_on, const char *closes_on,
                           const char *label, char *err, size_t errlen)
{
    const char *values[] = {code, opens_on, closes_on, label ? label : ""};
    bool refused = false;
    PGresult *res = exec_params(
        st,
        "INSERT INTO survey_rounds (code, opens_on, closes_on, label)"
        " VALUES ($1, $2::date, $3::date, $4)"
        " ON CONFLICT (code) DO UPDATE SET opens_on = EXCLUDED.opens_on,"
        " closes_on = EXCLUDED.closes_on, label = EXCLUDED.label"
        " WHERE survey_rounds.state = 'draft'"
        " OR (survey_rounds.opens_on, survey_rounds.closes_on,"
        "     survey_rounds.label)"
        "  = (EXCLUDED.opens_on, EXCLUDED.closes_on, EXCLUDED.label)"
        " RETURNING state",
        4, values, &refused, err, errlen);
    if (!res)
        return refused ? -EINVAL : -EIO;
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

int ind_store_round_form(struct ind_store *st, const char *round,
                         const char *category, const char *form, char *err,
                         size_t errlen)
{
    const char *values[] = {round, category, form};
    return run(st,
               "INSERT INTO survey_round_forms (round, category, form)"
               " VALUES ($1, $2, $3) ON CONFLICT (round, category)"
               " DO UPDATE SET form = EXCLUDED.form",
               3, values, err, errlen);
}

int ind_store_round_ward(struct ind_store *st, const char *round,
                         const char *ward, const char *expected, char *err,
                         size_t errlen)
{
    const char *values[] = {round, ward, expected};
    return run(st,
               "INSERT INTO survey_round_wards (round, ward, expected_ballots)"
               " SELECT $1, code, $3::integer FROM org_units"
               "  WHERE code = $2 AND kind IN ('ward', 'district')"
               " ON CONFLICT (round, ward)"
               " DO UPDATE SET expected_ballots = EXCLUDED.expected_ballots",
               3, values, err, errlen);
}

int ind_store_round_subject(struct ind_store *st, const char *round,
                            const char *ward, const char *subject,
                            const char *category, char *err, size_t errlen)
{
    const char *values[] = {round, ward, subject, category};
    return run(st,
               "INSERT INTO survey_round_subjects"
               " (round, ward, subject, category) VALUES ($1, $2, $3, $4)"
               " ON CONFLICT (round, ward, subject)"
               " DO UPDATE SET category = EXCLUDED.category",
               4, values, err, errlen);
}

int ind_store_round_set_state(struct ind_store *st, const char *code,
                              const char *state, char *err, size_t errlen)
{
    const char *values[] = {code, state};
    PGresult *res = exec_params(
        st,
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
        " SELECT (SELECT state FROM old), (SELECT state FROM upd)",
        2, values, NULL, err, errlen);
    if (!res)
        return -EIO;
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

int ind_store_round_show(struct ind_store *st, const char *code,
                         ind_round_fn fn, void *ctx, char *err, size_t errlen)
{
    const char *values[] = {code};
    PGresult *res = exec_params(
        st,
        "SELECT r.code, r.label, r.opens_on::text, r.closes_on::text, r.state,"
        "  (SELECT count(*) FROM survey_round_wards w WHERE w.round = r.code),"
        "  (SELECT count(*) FROM survey_round_subjects s"
        "    WHERE s.round = r.code),"
        "  (SELECT coalesce(sum(expected_ballots), 0) FROM survey_round_wards w"
        "    WHERE w.round = r.code),"
        "  (SELECT coalesce(sum(ballots), 0) FROM ballot_counts c"
        "    WHERE c.survey = r.code)"
        "  FROM survey_rounds r WHERE $1::text IS NULL OR r.code = $1"
        " ORDER BY r.opens_on, r.code",
        1, values, NULL, err, errlen);
    if (!res)
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
