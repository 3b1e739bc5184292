/*
 * warehouse.h - the city warehouse in PostgreSQL (docs/DESIGN.md §8, §10;
 * city-pull/sql/). The only module of city-pull that speaks libpq.
 *
 * One struct warehouse is one connection, used by one thread.
 */
#ifndef CITY_PULL_WAREHOUSE_H
#define CITY_PULL_WAREHOUSE_H

#include <stddef.h>

struct warehouse;

/* Connects with conninfo (application_name city-pull). Returns 0 or -1
 * with err; *out NULL on failure. */
int warehouse_open(const char *conninfo, struct warehouse **out, char *err,
                   size_t errlen);

/* Closes the connection; NULL-safe, clears *w. */
void warehouse_close(struct warehouse **w);

/* Brings the warehouse to the migrations built in (migrations.h), under an
 * advisory lock so that loaders started together migrate once. Each
 * migration runs in its own transaction with its record in
 * city.schema_migrations (version, name, sha256 of its bytes). Refused,
 * before anything is applied, when a recorded migration's checksum
 * differs from the built-in one (edited after it was applied), a recorded
 * version is unknown to this program (a newer city-pull migrated it), or
 * a new migration is numbered below the newest applied. Returns 0 or -1
 * with err. */
int warehouse_migrate(struct warehouse *w, char *err, size_t errlen);

/* The saved cursor of district's dataset into out ("" when none).
 * Returns 0 or -1 with err. */
int warehouse_cursor(struct warehouse *w, const char *district,
                     const char *dataset, char *out, size_t cap, char *err,
                     size_t errlen);

/* Applies one page (rows_json: the JSON array city.apply_page takes) and
 * moves the cursor from `from` to `to`, in one transaction. *loaded: rows
 * inserted or replaced. Returns 0 or -1 with err. */
int warehouse_apply_page(struct warehouse *w, const char *dataset,
                         const char *district, const char *rows_json,
                         const char *from, const char *to, long long *loaded,
                         char *err, size_t errlen);

/* A query's result as text: cells[row * n_columns + column], NULL for
 * SQL NULL; everything owned by the table. */
struct warehouse_table {
    size_t n_rows, n_columns;
    char **names;
    char **cells;
};

/* What the city report reads (city-pull/report.c). */
enum warehouse_report_query {
    /* city.district_figures (loaded_at as "YYYY-MM-DD HH:MM", UTC), with
     * age_s (seconds since the oldest cursor of the district moved),
     * ordered by district. */
    WAREHOUSE_REPORT_DISTRICTS,
    /* Every district's own rollup row of city.indicators, one per
     * district, code and period: the row of the unit whose code is the
     * district's, else the district's first rollup by unit code (a hub
     * also publishes the city above its district, and a city → ward hub
     * has no district). Columns district, code, period, value,
     * suppressed; by code, period, district. */
    WAREHOUSE_REPORT_HEADLINES,
    WAREHOUSE_REPORT_N
};

/* Runs one report query into *out. Returns 0 or -1 with err. */
int warehouse_report(struct warehouse *w, enum warehouse_report_query q,
                     struct warehouse_table *out, char *err, size_t errlen);

/* The cell (NULL for SQL NULL or out of range) of column name. */
const char *warehouse_cell(const struct warehouse_table *t, size_t row,
                           const char *name);

/* Frees the cells and zeroes *t; NULL-safe. */
void warehouse_table_clear(struct warehouse_table *t);

#endif
