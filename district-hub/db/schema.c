/*
 * db/schema.c - the migration runner's SQL and the seed data upserts
 * (contract in db/schema.h).
 */
#include "db/schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/util.h"

/* An arbitrary constant: the advisory lock key every hub takes while
 * migrating ("wardsync" in ASCII). */
#define MIGRATE_LOCK_KEY "8599089707513213817"

/* sha256: hex of the file's bytes as applied (docs/DESIGN.md §5): a file
 * edited after it was applied no longer matches its record. */
static const char CREATE_MIGRATIONS_SQL[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* clang-format off */
static const struct db_statement MIGRATE_LOCK = {
    "schema_migrate_lock", 0,
    "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"};
static const struct db_statement MIGRATE_UNLOCK = {
    "schema_migrate_unlock", 0,
    "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"};
/* Whether schema_migrations exists, and whether it has the sha256 column
 * (a database migrated before the baseline has the table without it). */
static const struct db_statement MIGRATIONS_SHAPE = {
    "schema_migrations_shape", 0,
    "SELECT to_regclass('schema_migrations') IS NOT NULL,"
    "       EXISTS (SELECT 1 FROM pg_attribute"
    "                WHERE attrelid = to_regclass('schema_migrations')"
    "                  AND attname = 'sha256' AND NOT attisdropped)"};
static const struct db_statement MIGRATIONS_APPLIED = {
    "schema_migrations_applied", 0,
    "SELECT version, name, sha256 FROM schema_migrations ORDER BY version"};
static const struct db_statement MIGRATION_RECORD = {
    "schema_migration_record", 3,
    "INSERT INTO schema_migrations (version, name, sha256)"
    " VALUES ($1::integer, $2, $3)"};
static const struct db_statement ORG_UNIT_UPSERT = {
    "schema_org_unit_upsert", 4,
    "INSERT INTO org_units (code, name, kind, parent)"
    " VALUES ($1, $2, $3, NULLIF($4, ''))"
    " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
    " kind = EXCLUDED.kind, parent = EXCLUDED.parent"};
static const struct db_statement CATALOGUE_GROUP = {
    "schema_catalogue_group", 2,
    "INSERT INTO catalogue_groups (code, label) VALUES ($1, $2)"
    " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"};
static const struct db_statement CATALOGUE_MANIFESTATION = {
    "schema_catalogue_manifestation", 3,
    "INSERT INTO catalogue_manifestations (code, group_code, label)"
    " VALUES ($1, $2, $3) ON CONFLICT (code) DO UPDATE SET"
    " group_code = EXCLUDED.group_code, label = EXCLUDED.label"};
static const struct db_statement CATALOGUE_FORM = {
    "schema_catalogue_form", 3,
    "INSERT INTO catalogue_forms (code, label, n_items)"
    " VALUES ($1, $2, $3::integer) ON CONFLICT (code) DO UPDATE SET"
    " label = EXCLUDED.label, n_items = EXCLUDED.n_items"};
static const struct db_statement CATALOGUE_ITEM = {
    "schema_catalogue_item", 6,
    "INSERT INTO catalogue_items"
    " (form, number, code, manifestation, group_code, label)"
    " VALUES ($1, $2::integer, $3, $4, $5, $6)"
    " ON CONFLICT (form, number) DO UPDATE SET code = EXCLUDED.code,"
    " manifestation = EXCLUDED.manifestation,"
    " group_code = EXCLUDED.group_code, label = EXCLUDED.label"};
static const struct db_statement CATALOGUE_LEVEL = {
    "schema_catalogue_level", 2,
    "INSERT INTO catalogue_levels (code, label) VALUES ($1, $2)"
    " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"};
static const struct db_statement CATALOGUE_RESPONDENT_GROUP = {
    "schema_catalogue_respondent_group", 2,
    "INSERT INTO catalogue_respondent_groups (code, label)"
    " VALUES ($1, $2)"
    " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"};
/* clang-format on */

int schema_lock(struct db *db, char *err, size_t errlen)
{
    if (db_run(db, &MIGRATE_LOCK, NULL, err, errlen) < 0)
        return -EIO;
    return db_command(db, CREATE_MIGRATIONS_SQL, err, errlen);
}

int schema_unlock(struct db *db, char *err, size_t errlen)
{
    return db_run(db, &MIGRATE_UNLOCK, NULL, err, errlen);
}

int schema_applied_read(struct db *db, struct schema_applied_list *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    PGresult *res = NULL;
    int rc =
        db_exec(db, &MIGRATIONS_SHAPE, NULL, NULL, NULL, &res, err, errlen);
    if (rc < 0)
        return rc;
    out->exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    out->checksummed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    if (!out->exists || !out->checksummed)
        return 0;

    rc = db_exec(db, &MIGRATIONS_APPLIED, NULL, NULL, NULL, &res, err, errlen);
    if (rc < 0)
        return rc;
    int rows = PQntuples(res);
    if (rows > 0) {
        out->items = calloc((size_t)rows, sizeof *out->items);
        if (!out->items) {
            snprintf(err, errlen, "out of memory");
            PQclear(res);
            return -ENOMEM;
        }
    }
    for (int i = 0; i < rows; i++) {
        struct schema_applied *a = &out->items[i];
        a->version = atoi(PQgetvalue(res, i, 0));
        ws_strlcpy(a->name, PQgetvalue(res, i, 1), sizeof a->name);
        ws_strlcpy(a->sha256, PQgetvalue(res, i, 2), sizeof a->sha256);
    }
    out->n = (size_t)rows;
    PQclear(res);
    return 0;
}

void schema_applied_list_clear(struct schema_applied_list *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

int schema_apply(struct db *db, int version, const char *name,
                 const char *sha256, const char *sql, char *err, size_t errlen)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *values[] = {v, name, sha256};

    if (db_command(db, "BEGIN", err, errlen) < 0)
        return -EIO;
    if (db_command(db, sql, err, errlen) < 0)
        goto fail_rollback;
    if (db_run(db, &MIGRATION_RECORD, values, err, errlen) < 0)
        goto fail_rollback;
    return db_commit(db, err, errlen);

fail_rollback:
    db_rollback(db);
    return -EIO;
}

int schema_org_units_upsert(struct db *db, const struct schema_org_unit *units,
                            size_t n, char *err, size_t errlen)
{
    if (db_command(db, "BEGIN", err, errlen) < 0)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        const char *values[] = {units[i].code, units[i].name, units[i].kind,
                                units[i].parent ? units[i].parent : ""};
        char detail[512];
        if (db_run(db, &ORG_UNIT_UPSERT, values, detail, sizeof detail) < 0) {
            snprintf(err, errlen, "org unit %s: %s", units[i].code, detail);
            goto fail_rollback;
        }
    }
    return db_commit(db, err, errlen);

fail_rollback:
    db_rollback(db);
    return -EIO;
}

/* The label column is NOT NULL; a catalogue entry may have none. */
static const char *label_of(const char *label)
{
    return label ? label : "";
}

int schema_catalogue_upsert(struct db *db, const struct ws_catalogue *cat,
                            char *err, size_t errlen)
{
    if (db_command(db, "BEGIN", err, errlen) < 0)
        return -EIO;
    for (size_t i = 0; i < cat->n_groups; i++) {
        const struct ws_catalogue_entry *g = &cat->groups[i];
        const char *values[] = {g->code, label_of(g->label)};
        if (db_run(db, &CATALOGUE_GROUP, values, err, errlen) < 0)
            goto fail_rollback;
    }
    for (size_t i = 0; i < cat->n_manifestations; i++) {
        const struct ws_catalogue_entry *m = &cat->manifestations[i];
        const char *values[] = {m->code, m->parent, label_of(m->label)};
        if (db_run(db, &CATALOGUE_MANIFESTATION, values, err, errlen) < 0)
            goto fail_rollback;
    }
    for (size_t i = 0; i < cat->n_forms; i++) {
        const struct ws_catalogue_form *f = &cat->forms[i];
        char n_items[24];
        snprintf(n_items, sizeof n_items, "%zu", f->n_items);
        const char *form_values[] = {f->code, label_of(f->label), n_items};
        if (db_run(db, &CATALOGUE_FORM, form_values, err, errlen) < 0)
            goto fail_rollback;
        for (size_t j = 0; j < f->n_items; j++) {
            const struct ws_catalogue_item *it = &f->items[j];
            char number[16];
            snprintf(number, sizeof number, "%d", it->number);
            const char *values[] = {f->code,   number,
                                    it->code,  it->manifestation,
                                    it->group, label_of(it->label)};
            if (db_run(db, &CATALOGUE_ITEM, values, err, errlen) < 0)
                goto fail_rollback;
        }
    }
    for (size_t i = 0; i < cat->n_levels; i++) {
        const struct ws_catalogue_entry *l = &cat->levels[i];
        const char *values[] = {l->code, label_of(l->label)};
        if (db_run(db, &CATALOGUE_LEVEL, values, err, errlen) < 0)
            goto fail_rollback;
    }
    for (size_t i = 0; i < cat->n_respondent_groups; i++) {
        const struct ws_catalogue_entry *r = &cat->respondent_groups[i];
        const char *values[] = {r->code, label_of(r->label)};
        if (db_run(db, &CATALOGUE_RESPONDENT_GROUP, values, err, errlen) < 0)
            goto fail_rollback;
    }
    return db_commit(db, err, errlen);

fail_rollback:
    db_rollback(db);
    return -EIO;
}
