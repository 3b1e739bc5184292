/*
 * warehouse.c - libpq for city-pull: connect, migrate, read a cursor,
 * apply a page (warehouse.h). Every PGresult is cleared in the function
 * that made it; every statement text is a constant, values go as
 * parameters.
 */
#include "warehouse.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrations.h"

/* "wardsync-city-migrate" as a key of its own. */
#define MIGRATE_LOCK "7301293857230184113"

struct warehouse {
    PGconn *conn;
};

/* err = what + the server's message, without its final newline. */
static void db_error(struct warehouse *w, const PGresult *res, const char *what,
                     char *err, size_t errlen)
{
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!msg || !msg[0])
        msg = PQerrorMessage(w->conn);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "warehouse: %s: %.*s", what, (int)n, msg);
}

/* Runs sql with text parameters; want_rows: a query. Returns the result
 * (caller clears) or NULL with err. */
static PGresult *run(struct warehouse *w, const char *what, const char *sql,
                     int n, const char *const *values, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(w->conn, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    db_error(w, res, what, err, errlen);
    PQclear(res);
    return NULL;
}

static int run_command(struct warehouse *w, const char *what, const char *sql,
                       int n, const char *const *values, char *err,
                       size_t errlen)
{
    PGresult *res = run(w, what, sql, n, values, err, errlen);
    PQclear(res);
    return res ? 0 : -1;
}

int warehouse_open(const char *conninfo, struct warehouse **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    struct warehouse *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {conninfo, "city-pull", NULL};
    w->conn = PQconnectdbParams(keys, values, 1);
    if (!w->conn || PQstatus(w->conn) != CONNECTION_OK) {
        if (w->conn)
            db_error(w, NULL, "could not connect", err, errlen);
        else
            snprintf(err, errlen, "warehouse: out of memory");
        warehouse_close(&w);
        return -1;
    }
    PGresult *res = PQexec(w->conn, "SET client_min_messages = warning");
    PQclear(res);
    *out = w;
    return 0;
}

void warehouse_close(struct warehouse **w)
{
    if (!w || !*w)
        return;
    PQfinish((*w)->conn); /* also after a failed connect */
    free(*w);
    *w = NULL;
}

static const char MIGRATIONS_SCHEMA[] = "CREATE SCHEMA IF NOT EXISTS city";
static const char MIGRATIONS_TABLE[] =
    "CREATE TABLE IF NOT EXISTS city.schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static const char APPLIED[] =
    "SELECT m.version, m.name, m.sha256,"
    "       m.sha256 = encode(sha256(convert_to(f.sql, 'UTF8')), 'hex')"
    "  FROM city.schema_migrations m"
    "  LEFT JOIN unnest($1::int[], $2::text[]) AS f (version, sql)"
    "    ON f.version = m.version"
    " ORDER BY m.version";

static const char RECORD[] =
    "INSERT INTO city.schema_migrations (version, name, sha256)"
    " VALUES ($1::integer, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))";

/* The built-in migrations as two PostgreSQL array literals (versions and
 * texts), malloc'd. */
static int migration_arrays(char **versions, char **texts)
{
    size_t vcap = 16 + N_MIGRATIONS * 12, tcap = 16;
    for (size_t i = 0; i < N_MIGRATIONS; i++)
        tcap += 3 + 2 * strlen(MIGRATIONS[i].sql);
    *versions = malloc(vcap);
    *texts = malloc(tcap);
    if (!*versions || !*texts) {
        free(*versions);
        free(*texts);
        return -1;
    }
    char *v = *versions, *t = *texts;
    *v++ = '{';
    *t++ = '{';
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        v += sprintf(v, "%s%d", i ? "," : "", MIGRATIONS[i].version);
        if (i)
            *t++ = ',';
        *t++ = '"';
        for (const char *p = MIGRATIONS[i].sql; *p; p++) {
            if (*p == '"' || *p == '\\')
                *t++ = '\\';
            *t++ = *p;
        }
        *t++ = '"';
    }
    strcpy(v, "}");
    strcpy(t, "}");
    return 0;
}

/* Which built-in migrations are applied (applied[i]); refuses a record
 * the built-in files disagree with. */
static int check_applied(struct warehouse *w, bool *applied, char *err,
                         size_t errlen)
{
    char *versions = NULL, *texts = NULL;
    if (migration_arrays(&versions, &texts) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *values[] = {versions, texts};
    PGresult *res = run(w, "could not read city.schema_migrations", APPLIED, 2,
                        values, err, errlen);
    free(versions);
    free(texts);
    if (!res)
        return -1;
    int rc = 0, newest = 0;
    for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
        int version = atoi(PQgetvalue(res, r, 0));
        if (PQgetisnull(res, r, 3)) {
            snprintf(err, errlen,
                     "warehouse: migration %d (%s) was applied by a newer "
                     "city-pull: this one does not know it",
                     version, PQgetvalue(res, r, 1));
            rc = -1;
        } else if (strcmp(PQgetvalue(res, r, 3), "t") != 0) {
            snprintf(err, errlen,
                     "warehouse: migration %d (%s) differs from the one "
                     "applied (sha256 %s): migrations are never edited once "
                     "applied; write the next number",
                     version, PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
            rc = -1;
        }
        for (size_t i = 0; i < N_MIGRATIONS; i++)
            if (MIGRATIONS[i].version == version)
                applied[i] = true;
        if (version > newest)
            newest = version;
    }
    PQclear(res);
    for (size_t i = 0; i < N_MIGRATIONS && rc == 0; i++)
        if (!applied[i] && MIGRATIONS[i].version < newest) {
            snprintf(err, errlen,
                     "warehouse: migration %s is numbered below the newest "
                     "applied (%d): number it above",
                     MIGRATIONS[i].name, newest);
            rc = -1;
        }
    return rc;
}

int warehouse_migrate(struct warehouse *w, char *err, size_t errlen)
{
    if (run_command(w, "could not take the migration lock",
                    "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", 0, NULL, err,
                    errlen) < 0)
        return -1;
    bool applied[64] = {false};
    int rc = N_MIGRATIONS > 64 ? -1 : 0;
    if (rc < 0)
        snprintf(err, errlen, "too many migrations");
    if (rc == 0)
        rc = run_command(w, "could not create schema city", MIGRATIONS_SCHEMA,
                         0, NULL, err, errlen);
    if (rc == 0)
        rc = run_command(w, "could not create city.schema_migrations",
                         MIGRATIONS_TABLE, 0, NULL, err, errlen);
    if (rc == 0)
        rc = check_applied(w, applied, err, errlen);
    for (size_t i = 0; i < N_MIGRATIONS && rc == 0; i++) {
        if (applied[i])
            continue;
        char version[16], what[160];
        snprintf(version, sizeof version, "%d", MIGRATIONS[i].version);
        snprintf(what, sizeof what, "migration %s failed", MIGRATIONS[i].name);
        const char *values[] = {version, MIGRATIONS[i].name, MIGRATIONS[i].sql};
        PGresult *res;
        rc = run_command(w, what, "BEGIN", 0, NULL, err, errlen);
        if (rc == 0) {
            /* Simple query protocol: a migration is many statements. */
            res = PQexec(w->conn, MIGRATIONS[i].sql);
            if (PQresultStatus(res) != PGRES_COMMAND_OK &&
                PQresultStatus(res) != PGRES_TUPLES_OK) {
                db_error(w, res, what, err, errlen);
                rc = -1;
            }
            PQclear(res);
        }
        if (rc == 0)
            rc = run_command(w, what, RECORD, 3, values, err, errlen);
        if (rc == 0)
            rc = run_command(w, what, "COMMIT", 0, NULL, err, errlen);
        if (rc < 0) {
            res = PQexec(w->conn, "ROLLBACK");
            PQclear(res);
        }
    }
    PGresult *res =
        PQexec(w->conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
    PQclear(res);
    return rc;
}

int warehouse_cursor(struct warehouse *w, const char *district,
                     const char *dataset, char *out, size_t cap, char *err,
                     size_t errlen)
{
    const char *values[] = {district, dataset};
    PGresult *res = run(w, "could not read the cursor",
                        "SELECT cursor FROM city.cursors"
                        " WHERE district = $1 AND dataset = $2",
                        2, values, err, errlen);
    if (!res)
        return -1;
    snprintf(out, cap, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return 0;
}

int warehouse_apply_page(struct warehouse *w, const char *dataset,
                         const char *district, const char *rows_json,
                         const char *from, const char *to, long long *loaded,
                         char *err, size_t errlen)
{
    /* One statement: its own transaction, rows and cursor together. */
    const char *values[] = {dataset, district, rows_json, from, to};
    char what[160];
    snprintf(what, sizeof what, "could not load %s of %s", dataset, district);
    PGresult *res =
        run(w, what, "SELECT city.apply_page($1, $2, $3::jsonb, $4, $5)", 5,
            values, err, errlen);
    if (!res)
        return -1;
    *loaded = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

static const char *const REPORT_SQL[WAREHOUSE_REPORT_N] = {
    [WAREHOUSE_REPORT_DISTRICTS] =
        "SELECT d.district, d.wards, d.petitions_received,"
        "       d.petitions_resolved, d.petitions_in_progress,"
        "       d.petitions_overdue, d.ballots_received, d.max_lag_seconds,"
        "       to_char(d.loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
        "           AS loaded_at,"
        "       floor(extract(epoch FROM now() - d.loaded_at))::bigint"
        "           AS age_s"
        "  FROM city.district_figures d ORDER BY d.district",
    /* A district's own figure: its rollup row for the unit named like the
     * district when the hub has one (a hub whose tree is city → district →
     * wards also publishes the city above it, with the same totals),
     * else the hub's first rollup (a city → ward tree has no district). */
    [WAREHOUSE_REPORT_HEADLINES] =
        "SELECT district, code, period, value, suppressed"
        "  FROM (SELECT DISTINCT ON (district, code, period)"
        "               district, code, period, value, suppressed"
        "          FROM city.indicators WHERE unit_kind = 'rollup'"
        "         ORDER BY district, code, period, org_unit = district DESC,"
        "                  org_unit) r"
        " ORDER BY code, period, district",
};

int warehouse_report(struct warehouse *w, enum warehouse_report_query q,
                     struct warehouse_table *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    PGresult *res = run(w, "could not read the warehouse", REPORT_SQL[q], 0,
                        NULL, err, errlen);
    if (!res)
        return -1;
    size_t rows = (size_t)PQntuples(res), cols = (size_t)PQnfields(res);
    out->names = calloc(cols + 1, sizeof *out->names);
    out->cells = calloc(rows * cols + 1, sizeof *out->cells);
    int rc = out->names && out->cells ? 0 : -1;
    out->n_columns = cols;
    out->n_rows = rows;
    for (size_t c = 0; rc == 0 && c < cols; c++)
        if (!(out->names[c] = strdup(PQfname(res, (int)c))))
            rc = -1;
    for (size_t r = 0; rc == 0 && r < rows; r++)
        for (size_t c = 0; rc == 0 && c < cols; c++)
            if (!PQgetisnull(res, (int)r, (int)c) &&
                !(out->cells[r * cols + c] =
                      strdup(PQgetvalue(res, (int)r, (int)c))))
                rc = -1;
    PQclear(res);
    if (rc < 0) {
        warehouse_table_clear(out);
        snprintf(err, errlen, "out of memory");
    }
    return rc;
}

const char *warehouse_cell(const struct warehouse_table *t, size_t row,
                           const char *name)
{
    if (row >= t->n_rows)
        return NULL;
    for (size_t c = 0; c < t->n_columns; c++)
        if (strcmp(t->names[c], name) == 0)
            return t->cells[row * t->n_columns + c];
    return NULL;
}

void warehouse_table_clear(struct warehouse_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->cells && i < t->n_rows * t->n_columns; i++)
        free(t->cells[i]);
    for (size_t c = 0; t->names && c < t->n_columns; c++)
        free(t->names[c]);
    free(t->cells);
    free(t->names);
    memset(t, 0, sizeof *t);
}
