/*
 * store_pull.h - the read side of the hub's store: the queries behind the
 * pull endpoint, "district-hub status" and "district-hub report".
 *
 * Like store.c, every statement is a constant with parameters; no SQL text
 * is built from input. Results are copied out of the PGresult into a
 * store_table, so that every PGresult is cleared in the function that made
 * it and callers never touch libpq.
 *
 * Errors: 0 or a negative errno (-EIO: the connection is unusable, close
 * it and reconnect; -ENOMEM; -ENOENT: the dataset's source does not exist
 * yet), with the reason in err.
 */
#ifndef DISTRICT_HUB_STORE_PULL_H
#define DISTRICT_HUB_STORE_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_reader;

/* A copied query result: n_rows x n_columns cells, NULL for SQL NULL. */
struct store_table {
    size_t n_rows, n_columns;
    char **columns; /* column names */
    char **cells;   /* row-major; cells[r * n_columns + c] */
};

/* The cell at (row, column), NULL for SQL NULL. */
const char *store_table_get(const struct store_table *t, size_t row,
                            size_t column);

/* Index of the named column, or -1. */
int store_table_column(const struct store_table *t, const char *name);

/* Frees every cell; safe on a zeroed table; leaves it zeroed. */
void store_table_clear(struct store_table *t);

/* Connects with a libpq conninfo. The failed connection is finished. */
int store_reader_open(const char *conninfo, struct store_reader **out,
                      char *err, size_t errlen);

/* Closes the connection, frees the reader, sets *rd to NULL; NULL-safe. */
void store_reader_close(struct store_reader **rd);

/* Whether the connection still works (for reconnecting callers). */
bool store_reader_ok(const struct store_reader *rd);

/* Whether a relation (e.g. "published.ballot_aggregates") exists. */
int store_reader_relation_exists(struct store_reader *rd, const char *name,
                                 bool *exists, char *err, size_t errlen);

/* ---- pull (pull.c) ----
 *
 * Every pull query returns the columns op ("insert", "update", "delete"),
 * key and change first, then the dataset's own columns, for the rows whose
 * change is above since, in change order, at most limit rows. scope ""
 * means every ward. */

int store_pull_petitions(struct store_reader *rd, uint64_t since,
                         const char *scope, unsigned limit,
                         struct store_table *out, char *err, size_t errlen);

int store_pull_sync_status(struct store_reader *rd, uint64_t since,
                           const char *scope, unsigned limit,
                           struct store_table *out, char *err, size_t errlen);

/* Rows of a snapshotted dataset: op, key, change, ward, data (a JSON
 * object as text). */
int store_pull_snapshot(struct store_reader *rd, const char *dataset,
                        uint64_t since, const char *scope, unsigned limit,
                        struct store_table *out, char *err, size_t errlen);

/* Replaces the snapshot of dataset with rows_json, a JSON array of
 * {"key":…, "ward":…, "data":{…}}, in one transaction: a row whose data
 * changed (or came back) gets a new change number, a row that is gone is
 * marked deleted. */
int store_pull_snapshot_replace(struct store_reader *rd, const char *dataset,
                                const char *rows_json, char *err,
                                size_t errlen);

/* The same, with the rows of the view published.ballot_aggregates or
 * published.indicators (view is one of those two names); each row keyed
 * by the hash of its contents. -ENOENT when the view does not exist. */
int store_pull_snapshot_from_view(struct store_reader *rd, const char *dataset,
                                  const char *view, char *err, size_t errlen);

/* A short text that changes whenever an agent commits a batch or the day
 * changes: derived datasets need recomputing only when it has changed. */
int store_pull_source_signature(struct store_reader *rd, char *out, size_t cap,
                                char *err, size_t errlen);

/* The columns of a view of schema published, in their order. */
int store_pull_view_columns(struct store_reader *rd, const char *view_name,
                            struct store_table *out, char *err, size_t errlen);

/* The newest change number of any dataset. */
int store_pull_version(struct store_reader *rd, uint64_t *version, char *err,
                       size_t errlen);

/* ---- status (status.c) ---- */

/* One row per agent: ward, name, agent_instance, committed_through,
 * first_contact, last_contact (ISO 8601 UTC), lag_seconds, backlog,
 * accepted, duplicate, conflict, rejected, silent ("t"/"f": no contact
 * for more than silent_after_s seconds). Wards in code order. */
int store_status_agents(struct store_reader *rd, long silent_after_s,
                        struct store_table *out, char *err, size_t errlen);

/* ---- report (report.c) ----
 *
 * Read-only queries for the HTML report; each names its columns. */
enum store_report_query {
    STORE_REPORT_WARDS,           /* code, name, kind */
    STORE_REPORT_BALLOT_LEVELS,   /* group_code, label, level, ballots_items */
    STORE_REPORT_FLAGGED,         /* ward, survey, subject, status, due_on,
                                     overdue */
    STORE_REPORT_PETITION_AGE,    /* bucket, n */
    STORE_REPORT_ON_TIME,         /* ward, resolved, on_time */
    STORE_REPORT_RECEPTION_WEEKS, /* week, sessions, citizens */
    STORE_REPORT_N_QUERIES
};

int store_report_query(struct store_reader *rd, enum store_report_query q,
                       struct store_table *out, char *err, size_t errlen);

#endif
