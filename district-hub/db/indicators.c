/*
 * db/indicators.c - indicator values, settings and petition deadline rules
 * (contract in db/indicators.h).
 */
#include "db/indicators.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

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
