/*
 * db/conn.h - the hub's one connection type: the only code that calls
 * libpq directly, for every file under district-hub/db/.
 *
 * A struct db is one PostgreSQL session. It owns connecting (UTF-8, time
 * zone UTC, both checked), preparing each statement once per session,
 * running statements with bound parameters, pipelines, COPY, the SQLSTATE
 * of the last failure, one error formatter and the COMMIT check. No SQL is
 * ever built from input: statements are constants (struct db_statement)
 * and values are bound parameters or escaped COPY text.
 *
 * A struct db_link adds reconnecting with back-off for the long-running
 * server threads: db_link_get() hands out the connection or, while the
 * database is away, NULL (retrying when its back-off has passed).
 *
 * Errors: functions that act return 0 or a negative errno, with the reason
 * in the caller's err buffer (one line, PostgreSQL's own words). -EIO means
 * the statement failed: db_sqlstate() tells whether it was the data's fault
 * (db_data_error) or the server's, and db_ok() whether the session is still
 * usable. Results are returned as PGresult only to the modules of db/;
 * every other module sees plain C types.
 */
#ifndef DISTRICT_HUB_DB_CONN_H
#define DISTRICT_HUB_DB_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* A prepared statement: declared once, static const, by the module whose
 * domain it belongs to. name must be unique in the hub. */
struct db_statement {
    const char *name;
    int n_params;
    const char *sql;
};

/* Connects with a libpq conninfo string; application_name is who (e.g.
 * "district-hub ingest"). Sets client encoding UTF8 and time zone UTC, and
 * checks both. Returns 0 and a new session in *out, or a negative errno
 * with the reason in err (the failed connection is finished). */
int db_open(const char *conninfo, const char *who, struct db **out, char *err,
            size_t errlen);

/* Closes the session and frees it; sets *db to NULL; NULL-safe. */
void db_close(struct db **db);

/* Whether the session is still connected. */
bool db_ok(const struct db *db);

/* The SQLSTATE of the last failed statement, "" when none. */
const char *db_sqlstate(const struct db *db);

/* Whether sqlstate is the data's fault: class 22 (data exception), 23
 * (integrity constraint) or P0 (raised by PL/pgSQL). Anything else (disk
 * full, a deadlock, a lost connection) says nothing about the data. */
bool db_data_error(const char *sqlstate);

/* Runs constant SQL without parameters: BEGIN, ROLLBACK, SAVEPOINT, or a
 * trusted migration file of several statements. Returns 0 or -EIO. */
int db_command(struct db *db, const char *sql, char *err, size_t errlen);

/* COMMIT, and checks that the server really committed (a failed
 * transaction answers COMMIT with "ROLLBACK" and no error). */
int db_commit(struct db *db, char *err, size_t errlen);

/* Best effort: leaves no transaction open on a session that is kept. */
void db_rollback(struct db *db);

/* Runs statement with values (values[i] NULL is SQL NULL; lengths and
 * formats may be NULL: all text). Prepares it first on this session.
 * Returns 0 and the result in *res (the caller PQclear()s it; res may be
 * NULL when the rows are not wanted), or -EIO with the reason in err. */
int db_exec(struct db *db, const struct db_statement *statement,
            const char *const *values, const int *lengths, const int *formats,
            PGresult **res, char *err, size_t errlen);

/* The same with text values only and no rows wanted. */
int db_run(struct db *db, const struct db_statement *statement,
           const char *const *values, char *err, size_t errlen);

/* One statement of a pipeline: a prepared statement with its values, or a
 * constant command (BEGIN, COMMIT) when command is set. */
struct db_pipe_stmt {
    const struct db_statement *statement;
    const char *const *values;
    const char *command;
};

/* Sends n statements as one pipeline (one round trip) and reads their
 * results into res[i] (the caller PQclear()s them; NULL for statements
 * the server skipped). Returns 0 when every statement succeeded, 1 when
 * one failed (*failed is its index, its reason in err, its SQLSTATE in
 * db_sqlstate; the transaction is then aborted), or -EIO when the
 * pipeline itself broke (every res[i] is then NULL). */
int db_pipeline(struct db *db, const struct db_pipe_stmt *stmts, size_t n,
                PGresult **res, size_t *failed, char *err, size_t errlen);

/* COPY ... FROM STDIN with copy_sql (a constant) and data (COPY text
 * format, already escaped). Returns 0, 1 when the server refused the data
 * (reason in err, SQLSTATE in db_sqlstate), or -EIO. */
int db_copy_in(struct db *db, const char *copy_sql, const char *data,
               size_t len, char *err, size_t errlen);

/* Writes into out (cap bytes) the SCRAM-SHA-256 verifier of password for
 * role, hashed here so that the server never sees the password. Returns
 * 0, -ENOSPC when out is too small, or -EIO with the reason in err. */
int db_password_verifier(struct db *db, const char *role, const char *password,
                         char *out, size_t cap, char *err, size_t errlen);

/* Whether role can log in with password to the database of conninfo: a
 * probe that connects and closes at once. */
bool db_login_works(const char *conninfo, const char *role,
                    const char *password);

/* Reconnecting with back-off, for the server's threads. Zero-initialise,
 * then db_link_init. */
struct db_link {
    const char *conninfo; /* borrowed */
    const char *who;      /* borrowed */
    const char *module;   /* for the log lines */
    struct db *db;        /* NULL while the database is unreachable */
    uint64_t generation;  /* bumped on every new session: per-session
                             state (a temporary table) is made again */
    int64_t retry_at_ms;
    int64_t backoff_ms;
    int64_t down_since_ms;
    int64_t limit_last_ms; /* rate limit of the "unavailable" line */
    uint64_t limit_suppressed;
};

void db_link_init(struct db_link *link, const char *conninfo, const char *who,
                  const char *module);

/* The connection, or NULL while the database is away; when the back-off
 * has passed it tries to connect again first (and logs the outcome, rate
 * limited). */
struct db *db_link_get(struct db_link *link);

/* Milliseconds until db_link_get next tries to connect (0 when up). */
int64_t db_link_retry_in_ms(const struct db_link *link);

/* After -EIO with !db_ok (or any failure that leaves the session in doubt):
 * closes the connection; the next db_link_get reconnects after back-off. */
void db_link_drop(struct db_link *link);

void db_link_close(struct db_link *link);

#endif
