/*
 * db/reference.c - the reference data of one ward (contract in
 * db/reference.h).
 */
#include "db/reference.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reference.h"
#include "db/conn.h"
#include "wardsync/names.h"

static const struct db_statement REFERENCE_ROUNDS = {
    "reference_rounds", 1,
    "SELECT r.code, r.label, r.opens_on::text, r.closes_on::text, r.state"
    "  FROM survey_rounds r JOIN survey_round_wards w ON w.round = r.code"
    " WHERE w.ward = $1 ORDER BY r.code COLLATE \"C\""};

static const struct db_statement REFERENCE_SUBJECTS = {
    "reference_subjects", 1,
    "SELECT s.round, s.subject, s.category, f.form"
    "  FROM survey_round_subjects s JOIN survey_round_forms f"
    "    ON f.round = s.round AND f.category = s.category"
    " WHERE s.ward = $1"
    " ORDER BY s.round COLLATE \"C\", s.subject COLLATE \"C\""};

static const struct db_statement REFERENCE_RULES = {
    "reference_rules", 0,
    "SELECT kind, effective_from::text, accept_days, resolve_days,"
    "       extension_days, max_extensions"
    "  FROM petition_deadline_rules"
    " ORDER BY kind COLLATE \"C\", effective_from"};

/* The catalogue's version: SHA-256 of its forms and items in code order. */
static const struct db_statement REFERENCE_CATALOGUE = {
    "reference_catalogue", 0,
    "SELECT encode(sha256(convert_to("
    "  coalesce((SELECT string_agg(code || ' ' || n_items, E'\\n'"
    "             ORDER BY code COLLATE \"C\") FROM catalogue_forms), '')"
    "  || E'\\n\\n' ||"
    "  coalesce((SELECT string_agg(form || ' ' || number || ' ' || code"
    "             || ' ' || manifestation || ' ' || group_code, E'\\n'"
    "             ORDER BY form COLLATE \"C\", number)"
    "            FROM catalogue_items), ''), 'UTF8')), 'hex')"};

static Wardsync__V1__ReferenceRound__State round_state(const char *state)
{
    if (strcmp(state, "draft") == 0)
        return WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_DRAFT;
    if (strcmp(state, "open") == 0)
        return WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_OPEN;
    if (strcmp(state, "closed") == 0)
        return WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_CLOSED;
    return WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_UNSPECIFIED;
}

/* Copies cell (row, col) of res; NULL when out of memory. */
static char *cell(const PGresult *res, int row, int col)
{
    return strdup(PQgetvalue(res, row, col));
}

static uint32_t cell_uint(const PGresult *res, int row, int col)
{
    return (uint32_t)strtoul(PQgetvalue(res, row, col), NULL, 10);
}

/* Allocates n message pointers (at least one, so calloc never answers
 * NULL for nothing). */
static void **alloc_array(size_t n)
{
    return calloc(n ? n : 1, sizeof(void *));
}

static int fill_rounds(Wardsync__V1__Reference *ref, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    ref->rounds = (Wardsync__V1__ReferenceRound **)alloc_array(n);
    if (!ref->rounds)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__ReferenceRound *r = malloc(sizeof *r);
        if (!r)
            return -ENOMEM;
        wardsync__v1__reference_round__init(r);
        ref->rounds[ref->n_rounds++] = r;
        int row = (int)i;
        if (!(r->code = cell(res, row, 0)) || !(r->label = cell(res, row, 1)) ||
            !(r->opens_on = cell(res, row, 2)) ||
            !(r->closes_on = cell(res, row, 3)))
            return -ENOMEM;
        r->state = round_state(PQgetvalue(res, row, 4));
    }
    return 0;
}

static int fill_subjects(Wardsync__V1__Reference *ref, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    ref->subjects = (Wardsync__V1__ReferenceSubject **)alloc_array(n);
    if (!ref->subjects)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__ReferenceSubject *s = malloc(sizeof *s);
        if (!s)
            return -ENOMEM;
        wardsync__v1__reference_subject__init(s);
        ref->subjects[ref->n_subjects++] = s;
        int row = (int)i;
        if (!(s->round = cell(res, row, 0)) ||
            !(s->subject = cell(res, row, 1)) ||
            !(s->category = cell(res, row, 2)) ||
            !(s->form = cell(res, row, 3)))
            return -ENOMEM;
    }
    return 0;
}

static int fill_rules(Wardsync__V1__Reference *ref, const PGresult *res)
{
    size_t n = (size_t)PQntuples(res);
    ref->deadline_rules =
        (Wardsync__V1__ReferenceDeadlineRule **)alloc_array(n);
    if (!ref->deadline_rules)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__ReferenceDeadlineRule *d = malloc(sizeof *d);
        if (!d)
            return -ENOMEM;
        wardsync__v1__reference_deadline_rule__init(d);
        ref->deadline_rules[ref->n_deadline_rules++] = d;
        int row = (int)i;
        int kind = ws_petition_kind_parse(PQgetvalue(res, row, 0));
        d->kind = kind > 0 ? (Wardsync__V1__PetitionKind)kind : 0;
        if (!(d->effective_from = cell(res, row, 1)))
            return -ENOMEM;
        d->accept_days = cell_uint(res, row, 2);
        d->resolve_days = cell_uint(res, row, 3);
        d->extension_days = cell_uint(res, row, 4);
        d->max_extensions = cell_uint(res, row, 5);
    }
    return 0;
}

int db_reference_load(struct db *db, const char *ward,
                      Wardsync__V1__Reference **out, char *err, size_t errlen)
{
    const char *values[] = {ward};
    PGresult *rounds = NULL, *subjects = NULL, *rules = NULL, *cat = NULL;
    int rc = -EIO;

    *out = NULL;
    Wardsync__V1__Reference *ref = malloc(sizeof *ref);
    if (!ref)
        return -ENOMEM;
    wardsync__v1__reference__init(ref);
    if (db_exec(db, &REFERENCE_ROUNDS, values, NULL, NULL, &rounds, err,
                errlen) < 0 ||
        db_exec(db, &REFERENCE_SUBJECTS, values, NULL, NULL, &subjects, err,
                errlen) < 0 ||
        db_exec(db, &REFERENCE_RULES, NULL, NULL, NULL, &rules, err, errlen) <
            0 ||
        db_exec(db, &REFERENCE_CATALOGUE, NULL, NULL, NULL, &cat, err, errlen) <
            0)
        goto free_results;
    rc = -ENOMEM;
    if (!(ref->ward = strdup(ward)) ||
        !(ref->catalogue_version =
              strdup(PQntuples(cat) == 1 ? PQgetvalue(cat, 0, 0) : "")) ||
        fill_rounds(ref, rounds) < 0 || fill_subjects(ref, subjects) < 0 ||
        fill_rules(ref, rules) < 0 ||
        !(ref->version = malloc(REFERENCE_VERSION_LEN + 1))) {
        snprintf(err, errlen, "out of memory reading reference data");
        goto free_results;
    }
    reference_version(ref, ref->version);
    *out = ref;
    ref = NULL;
    rc = 0;

free_results:
    PQclear(rounds);
    PQclear(subjects);
    PQclear(rules);
    PQclear(cat);
    if (ref)
        wardsync__v1__reference__free_unpacked(ref, NULL);
    return rc;
}
