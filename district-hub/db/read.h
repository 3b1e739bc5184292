/*
 * db/read.h - the read side of the hub's database, on the hub's one
 * connection type (db/conn.h): the queries behind the pull endpoint, the
 * snapshots of derived datasets, "district-hub status" and
 * "district-hub report".
 *
 * Every statement is a constant with parameters; no SQL text is built
 * from input. Results are copied out into a db_table, so that callers
 * never touch libpq.
 *
 * Errors: 0 or a negative errno with the reason in err: -EIO (the
 * statement failed; db_ok() says whether the session is still usable),
 * -ENOMEM, -EINVAL (a name this module does not know), -ENOENT (the
 * dataset's source does not exist yet).
 */
#ifndef DISTRICT_HUB_DB_READ_H
#define DISTRICT_HUB_DB_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* A copied query result: n_rows x n_columns cells, NULL for SQL NULL. */
struct db_table {
    size_t n_rows, n_columns;
    char **columns; /* column names */
    char **cells;   /* row-major; cells[r * n_columns + c] */
};

/* The cell at (row, column), NULL for SQL NULL. */
const char *db_table_get(const struct db_table *t, size_t row, size_t column);

/* Index of the named column, or -1. */
int db_table_column(const struct db_table *t, const char *name);

/* Frees every cell; safe on a zeroed table; leaves it zeroed. */
void db_table_clear(struct db_table *t);

/* Whether a relation (e.g. "published.ballot_aggregates") exists. */
int db_read_relation_exists(struct db *db, const char *name, bool *exists,
                            char *err, size_t errlen);

/* ---- pull (pull.c) ----
 *
 * A page is read in one transaction, so that its rows, its columns and
 * its version come from one consistent snapshot: db_read_page_begin opens
 * it (REPEATABLE READ, READ ONLY), db_read_page_end commits it. After a
 * failure in between, the caller rolls back (db_rollback) or drops the
 * connection.
 *
 * Every pull query returns the columns op, key and change first, then the
 * dataset's own columns, for the rows whose change is above since, in
 * change order, at most limit rows. op is decided against start, the
 * cursor the client started its pull from (start <= since): "insert" for
 * a row created after start, "update" for one that existed at start (a
 * correction), "delete" for a deletion; so the op of a row does not depend
 * on how the pull was cut into pages. scope "" means every ward. */

int db_read_page_begin(struct db *db, char *err, size_t errlen);
int db_read_page_end(struct db *db, char *err, size_t errlen);

/* as_of: the district date ("YYYY-MM-DD", checked by the caller; "" or
 * NULL: the district's today) the columns due_on and overdue are judged
 * on (docs/DESIGN.md §6 Petitions). */
int db_read_pull_petitions(struct db *db, uint64_t start, uint64_t since,
                           const char *scope, const char *as_of, unsigned limit,
                           struct db_table *out, char *err, size_t errlen);

int db_read_pull_sync_status(struct db *db, uint64_t start, uint64_t since,
                             const char *scope, bool counts, unsigned limit,
                             struct db_table *out, char *err, size_t errlen);

/* Rows of a snapshotted dataset: op, key, change, ward, data (a JSON
 * object as text). */
int db_read_pull_snapshot(struct db *db, const char *dataset, uint64_t start,
                          uint64_t since, const char *scope, unsigned limit,
                          struct db_table *out, char *err, size_t errlen);

/* Recomputes the snapshot of dataset from view (published.ballot_aggregates,
 * published.indicators, ...), each row keyed by its natural key in the view:
 * a row whose data changed (or came back) gets a new change number, a row
 * that is gone is marked deleted. The view is read first; the writes then
 * run in their own short transaction, which takes the change-number lock
 * (pull_change_lock(), sql/003_pull_thread.sql) before drawing a number.
 * ballot_aggregates is refreshed in SQL instead, only the rounds and wards
 * whose inputs changed since the last refresh, in one transaction that
 * takes the lock after computing them (ballot_aggregates_refresh(),
 * sql/012_incremental_aggregates.sql). -ENOENT when the view does not
 * exist. Runs outside any transaction. */
int db_read_snapshot_refresh(struct db *db, const char *dataset,
                             const char *view, char *err, size_t errlen);

/* The same for the snapshot dataset (e.g. "indicators@2024-05-31") of
 * published.indicators as of day as_of ("YYYY-MM-DD", checked by the
 * caller): published_indicator_rows(as_of), sql/011_petition_pages.sql.
 * Each as-of day has its own snapshot, so its change numbers and deletions
 * are its own. */
int db_read_snapshot_refresh_indicators_as_of(struct db *db,
                                              const char *dataset,
                                              const char *as_of, char *err,
                                              size_t errlen);

/* Analyses the tables the published views read whose rows changed by
 * more than autovacuum's analyse threshold since they were last analysed
 * (sql/007_planner_statistics.sql), so a snapshot computed right after a
 * bulk load is planned on current statistics. Writes the names analysed,
 * comma-separated ("" when none), to out. Returns 0 or a negative errno. */
int db_read_analyze_stale(struct db *db, char *out, size_t cap, char *err,
                          size_t errlen);

/* A short text that changes whenever the data behind the published views
 * changes (a counter the writers of those tables bump in their own
 * transaction, sql/003_pull_thread.sql) or the day changes; an agent that
 * merely reports in does not change it. Read it before
 * db_read_snapshot_refresh: a snapshot is then never older than the
 * signature it is recorded with. */
int db_read_source_signature(struct db *db, char *out, size_t cap, char *err,
                             size_t errlen);

/* The columns of a view of schema published, in their order. */
int db_read_view_columns(struct db *db, const char *view_name,
                         struct db_table *out, char *err, size_t errlen);

/* The newest change number of any dataset. */
int db_read_pull_version(struct db *db, uint64_t *version, char *err,
                         size_t errlen);

/* ---- status (status.c) ---- */

/* One row per unit that should report (org-unit file wards and district
 * offices, enrolled ward keys, outboxes seen) and agent instance, the
 * unit's current instance first: ward, name, agent_instance ("" when never
 * seen), committed_through, first_contact, last_contact (ISO 8601 UTC,
 * NULL when never seen), lag_seconds, backlog, accepted, duplicate,
 * conflict, rejected, state (NEVER, SILENT, ok, RETIRED, NEW), silent
 * ("t" on a unit's first row when it is never seen or none of its
 * instances made contact for silent_after_s seconds). Units in code
 * order. */
int db_read_status_agents(struct db *db, long silent_after_s,
                          struct db_table *out, char *err, size_t errlen);

/* ---- report (report.c) ----
 *
 * Read-only queries for the HTML report's charts that are not indicators
 * (the indicators come from db/indicators.h); each names its columns. */
enum db_report_query {
    DB_REPORT_WARDS,           /* code, name, kind */
    DB_REPORT_BALLOT_LEVELS,   /* group_code, label, level, answers,
                                  ballots */
    DB_REPORT_RECEPTION_WEEKS, /* week, sessions, citizens */
    DB_REPORT_N_QUERIES
};

int db_read_report(struct db *db, enum db_report_query q, struct db_table *out,
                   char *err, size_t errlen);

#endif
