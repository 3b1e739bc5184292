/*
 * db/indicators.c - indicator values, settings and petition deadline rules
 * (contract in db/indicators.h).
 */
#include "db/indicators.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn.h"
#include "wardsync/util.h"

static const struct db_statement IND_SETTINGS_WRITE = {
    "ind_settings_write", 5,
    "UPDATE indicator_settings SET"
    " flag_min_ballots = $1::integer,"
    " flag_level3_share = $2::numeric,"
    " flag_level23_share = $3::numeric,"
    " suppress_below = $4::integer, due_soon_days = $5::integer"};

static const struct db_statement IND_PETITION_RULE = {
    "ind_petition_rule", 7,
    "INSERT INTO petition_deadline_rules (kind, effective_from,"
    " accept_days, resolve_days, extension_days, max_extensions,"
    " source) VALUES ($1, $2::date, $3::integer, $4::integer,"
    " $5::integer, $6::integer, $7)"
    " ON CONFLICT (kind, effective_from) DO UPDATE SET"
    " accept_days = EXCLUDED.accept_days,"
    " resolve_days = EXCLUDED.resolve_days,"
    " extension_days = EXCLUDED.extension_days,"
    " max_extensions = EXCLUDED.max_extensions,"
    " source = EXCLUDED.source"};

static const struct db_statement IND_VALUES = {
    "ind_values", 9,
    "SELECT code, org_unit, name, unit_kind, period,"
    "       coalesce(numerator::text, ''), coalesce(denominator::text, ''),"
    "       coalesce(value::text, ''), suppressed, rule"
    "  FROM indicator_values($1::date, $2::date, $3, $4::date,"
    "                        $5::integer, $6::numeric, $7::numeric,"
    "                        $8::integer, $9::integer)"
    " ORDER BY ord, period, sort_key"};

static const struct db_statement IND_SETTINGS_READ = {
    "ind_settings_read", 0,
    "SELECT flag_min_ballots, flag_level3_share::text,"
    "       flag_level23_share::text, suppress_below, due_soon_days"
    "  FROM indicator_settings"};

static const struct db_statement IND_FLAGGED = {
    "ind_flagged", 4,
    "SELECT survey, ward, subject, plan_status,"
    "       coalesce(due_on::text, ''), coalesce(completed_on::text, ''),"
    "       on_time, overdue"
    "  FROM flagged_subjects(NULL, NULL,"
    "                        coalesce($1::date, district_today()),"
    "                        $2::integer, $3::numeric, $4::numeric)"
    " ORDER BY ward, survey, subject"};

static int failure(struct db *db)
{
    return db_data_error(db_sqlstate(db)) ? -EINVAL : -EIO;
}

int db_ind_settings_write(struct db *db, const struct ind_thresholds *t,
                          char *err, size_t errlen)
{
    char min_ballots[24], suppress[24], due_soon[24];
    snprintf(min_ballots, sizeof min_ballots, "%" PRId64, t->min_ballots);
    snprintf(suppress, sizeof suppress, "%" PRId64, t->suppress_below);
    snprintf(due_soon, sizeof due_soon, "%" PRId64, t->due_soon_days);
    const char *values[] = {min_ballots, t->level3_share, t->level23_share,
                            suppress, due_soon};
    return db_run(db, &IND_SETTINGS_WRITE, values, err, errlen) < 0
               ? failure(db)
               : 0;
}

int db_ind_petition_rule(struct db *db, const char *const fields[7], char *err,
                         size_t errlen)
{
    return db_run(db, &IND_PETITION_RULE, fields, err, errlen) < 0 ? failure(db)
                                                                   : 0;
}

int db_ind_values(struct db *db, const char *from, const char *to,
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
    PGresult *res = NULL;
    if (db_exec(db, &IND_VALUES, values, NULL, NULL, &res, err, errlen) < 0)
        return failure(db);
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

int db_ind_settings_read(struct db *db, struct ind_thresholds *t, char *err,
                         size_t errlen)
{
    PGresult *res = NULL;
    memset(t, 0, sizeof *t);
    if (db_exec(db, &IND_SETTINGS_READ, NULL, NULL, NULL, &res, err, errlen) <
        0)
        return failure(db);
    int n_rows = PQntuples(res);
    if (n_rows != 1) {
        PQclear(res);
        snprintf(err, errlen, "indicator_settings holds %d rows, want 1",
                 n_rows);
        return -EIO;
    }
    t->min_ballots = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    ws_strlcpy(t->level3_share, PQgetvalue(res, 0, 1), sizeof t->level3_share);
    ws_strlcpy(t->level23_share, PQgetvalue(res, 0, 2),
               sizeof t->level23_share);
    t->suppress_below = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    t->due_soon_days = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    PQclear(res);
    return 0;
}

int db_ind_flagged(struct db *db, const char *as_of,
                   const struct ind_thresholds *t, struct ind_flagged **rows,
                   size_t *n, char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    char min_ballots[24];
    snprintf(min_ballots, sizeof min_ballots, "%" PRId64, t->min_ballots);
    const char *values[] = {as_of, min_ballots, t->level3_share,
                            t->level23_share};
    PGresult *res = NULL;
    if (db_exec(db, &IND_FLAGGED, values, NULL, NULL, &res, err, errlen) < 0)
        return failure(db);
    int n_rows = PQntuples(res);
    struct ind_flagged *out =
        calloc(n_rows > 0 ? (size_t)n_rows : 1, sizeof *out);
    if (!out) {
        PQclear(res);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < n_rows; i++) {
        struct ind_flagged *r = &out[i];
        ws_strlcpy(r->survey, PQgetvalue(res, i, 0), sizeof r->survey);
        ws_strlcpy(r->ward, PQgetvalue(res, i, 1), sizeof r->ward);
        ws_strlcpy(r->subject, PQgetvalue(res, i, 2), sizeof r->subject);
        ws_strlcpy(r->plan_status, PQgetvalue(res, i, 3),
                   sizeof r->plan_status);
        ws_strlcpy(r->due_on, PQgetvalue(res, i, 4), sizeof r->due_on);
        ws_strlcpy(r->completed_on, PQgetvalue(res, i, 5),
                   sizeof r->completed_on);
        r->on_time = PQgetvalue(res, i, 6)[0] == 't';
        r->overdue = PQgetvalue(res, i, 7)[0] == 't';
    }
    PQclear(res);
    *rows = out;
    *n = (size_t)n_rows;
    return 0;
}
