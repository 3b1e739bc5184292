/*
 * db/conn.c - the hub's one connection type (contract in db/conn.h).
 */
#include "db/conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/log.h"
#include "wardsync/util.h"

#define MODULE "db"

/* Statements prepared on one session; the hub has a few dozen. */
#define DB_MAX_PREPARED 128
#define DB_RECONNECT_MIN_MS 100
#define DB_RECONNECT_MAX_MS 5000
#define DB_LOG_LIMIT_MS 10000

struct db {
    PGconn *conn;
    const struct db_statement *prepared[DB_MAX_PREPARED];
    size_t n_prepared;
    char sqlstate[6];
};

/* libpq's messages end with a newline and may span lines; ours are one
 * line: "what: message". */
static void format_error(char *err, size_t errlen, const char *what,
                         const char *message)
{
    if (!err || errlen == 0)
        return;
    snprintf(err, errlen, "%s: %s", what, message ? message : "");
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
        err[--len] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* Records the SQLSTATE of a failed result and formats its reason: the
 * server's primary message ("value too long for type ...") reads best in
 * a rejection reason, libpq's own when there is none. */
static void result_error(struct db *db, const PGresult *res, const char *what,
                         char *err, size_t errlen)
{
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    ws_strlcpy(db->sqlstate, code ? code : "", sizeof db->sqlstate);
    const char *primary =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    format_error(err, errlen, what,
                 primary ? primary
                 : res   ? PQresultErrorMessage(res)
                         : PQerrorMessage(db->conn));
}

/* Server notices ("relation already exists, skipping") are routine: debug
 * level, one line each. */
static void log_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    format_error(line, sizeof line, "server notice", message);
    ws_debug(MODULE, "%s", line);
}

int db_open(const char *conninfo, const char *who, struct db **out, char *err,
            size_t errlen)
{
    *out = NULL;
    struct db *db = calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {conninfo, who ? who : "district-hub", NULL};
    /* expand_dbname: conninfo is a full connection string. */
    db->conn = PQconnectdbParams(keys, values, 1);
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        format_error(err, errlen, "could not connect to the database",
                     db->conn ? PQerrorMessage(db->conn) : "out of memory");
        goto fail_conn;
    }
    PQsetNoticeProcessor(db->conn, log_notice, NULL);
    /* Names and labels are UTF-8 whatever the client locale says. */
    if (PQsetClientEncoding(db->conn, "UTF8") != 0) {
        format_error(err, errlen, "could not set client encoding",
                     PQerrorMessage(db->conn));
        goto fail_conn;
    }
    /* Timestamps cross the wire in UTC; district dates are computed in
     * SQL with an explicit time zone (docs/DESIGN.md §6). */
    if (db_command(db, "SET TIME ZONE 'UTC'", err, errlen) < 0)
        goto fail_conn;
    *out = db;
    return 0;

fail_conn:
    PQfinish(db->conn);
    free(db);
    return -EIO;
}

void db_close(struct db **db)
{
    if (!db || !*db)
        return;
    PQfinish((*db)->conn);
    free(*db);
    *db = NULL;
}

bool db_ok(const struct db *db)
{
    return db && PQstatus(db->conn) == CONNECTION_OK;
}

const char *db_sqlstate(const struct db *db)
{
    return db ? db->sqlstate : "";
}

bool db_data_error(const char *sqlstate)
{
    return sqlstate &&
           (strncmp(sqlstate, "22", 2) == 0 ||
            strncmp(sqlstate, "23", 2) == 0 || strncmp(sqlstate, "P0", 2) == 0);
}

int db_command(struct db *db, const char *sql, char *err, size_t errlen)
{
    db->sqlstate[0] = '\0';
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
        status != PGRES_EMPTY_QUERY) {
        result_error(db, res, "statement failed", err, errlen);
        rc = -EIO;
    }
    PQclear(res);
    return rc;
}

int db_commit(struct db *db, char *err, size_t errlen)
{
    db->sqlstate[0] = '\0';
    PGresult *res = PQexec(db->conn, "COMMIT");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        result_error(db, res, "commit failed", err, errlen);
        rc = -EIO;
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(err, errlen, "commit failed: transaction was rolled back");
        rc = -EIO;
    }
    PQclear(res);
    return rc;
}

void db_rollback(struct db *db)
{
    if (!db_ok(db) || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
        return;
    PGresult *res = PQexec(db->conn, "ROLLBACK");
    PQclear(res);
}

/* Prepares statement on this session unless it already is. */
static int prepare(struct db *db, const struct db_statement *statement,
                   char *err, size_t errlen)
{
    for (size_t i = 0; i < db->n_prepared; i++)
        if (db->prepared[i] == statement)
            return 0;
    if (db->n_prepared == DB_MAX_PREPARED) {
        snprintf(err, errlen, "too many prepared statements (%d)",
                 DB_MAX_PREPARED);
        return -ENOMEM;
    }
    PGresult *res = PQprepare(db->conn, statement->name, statement->sql,
                              statement->n_params, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[96];
        snprintf(what, sizeof what, "could not prepare \"%s\"",
                 statement->name);
        result_error(db, res, what, err, errlen);
        PQclear(res);
        return -EIO;
    }
    PQclear(res);
    db->prepared[db->n_prepared++] = statement;
    return 0;
}

int db_exec(struct db *db, const struct db_statement *statement,
            const char *const *values, const int *lengths, const int *formats,
            PGresult **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    db->sqlstate[0] = '\0';
    int rc = prepare(db, statement, err, errlen);
    if (rc < 0)
        return rc == -ENOMEM ? -ENOMEM : -EIO;
    PGresult *res =
        PQexecPrepared(db->conn, statement->name, statement->n_params, values,
                       lengths, formats, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        result_error(db, res, statement->name, err, errlen);
        PQclear(res);
        return -EIO;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

int db_run(struct db *db, const struct db_statement *statement,
           const char *const *values, char *err, size_t errlen)
{
    return db_exec(db, statement, values, NULL, NULL, NULL, err, errlen);
}

int db_pipeline(struct db *db, const struct db_pipe_stmt *stmts, size_t n,
                PGresult **res, size_t *failed, char *err, size_t errlen)
{
    *failed = n;
    db->sqlstate[0] = '\0';
    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    for (size_t i = 0; i < n; i++)
        if (!stmts[i].command && prepare(db, stmts[i].statement, err, errlen))
            return -EIO;
    if (PQenterPipelineMode(db->conn) != 1) {
        format_error(err, errlen, "could not enter pipeline mode",
                     PQerrorMessage(db->conn));
        return -EIO;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct db_statement *s = stmts[i].statement;
        int sent = stmts[i].command
                       ? PQsendQueryParams(db->conn, stmts[i].command, 0, NULL,
                                           NULL, NULL, NULL, 0)
                       : PQsendQueryPrepared(db->conn, s->name, s->n_params,
                                             stmts[i].values, NULL, NULL, 0);
        if (sent != 1) {
            format_error(err, errlen, "could not send",
                         PQerrorMessage(db->conn));
            rc = -EIO;
        }
    }
    if (rc == 0 && PQpipelineSync(db->conn) != 1) {
        format_error(err, errlen, "could not sync pipeline",
                     PQerrorMessage(db->conn));
        rc = -EIO;
    }
    /* Each statement's result is followed by a NULL; the Sync's result
     * ends the pipeline. Two NULLs in a row mean the connection broke. */
    size_t next = 0;
    int nulls = 0;
    while (rc >= 0) {
        PGresult *r = PQgetResult(db->conn);
        if (!r) {
            if (++nulls > 1 || PQstatus(db->conn) != CONNECTION_OK) {
                format_error(err, errlen, "pipeline broken",
                             PQerrorMessage(db->conn));
                rc = -EIO;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType status = PQresultStatus(r);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
            status != PGRES_PIPELINE_ABORTED && rc == 0) {
            size_t at = next < n ? next : n - 1;
            result_error(db, r,
                         stmts[at].command ? stmts[at].command
                                           : stmts[at].statement->name,
                         err, errlen);
            *failed = at;
            rc = 1;
        }
        if (next < n && !res[next] &&
            (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK))
            res[next] = r;
        else
            PQclear(r);
        next++;
    }
    if (PQexitPipelineMode(db->conn) != 1 && rc >= 0) {
        format_error(err, errlen, "could not leave pipeline mode",
                     PQerrorMessage(db->conn));
        rc = -EIO;
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++) {
            PQclear(res[i]);
            res[i] = NULL;
        }
    return rc;
}

int db_copy_in(struct db *db, const char *copy_sql, const char *data,
               size_t len, char *err, size_t errlen)
{
    db->sqlstate[0] = '\0';
    PGresult *res = PQexec(db->conn, copy_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        result_error(db, res, "could not start COPY", err, errlen);
        PQclear(res);
        return db_ok(db) ? 1 : -EIO;
    }
    PQclear(res);
    /* In blocking mode PQputCopyData queues, flushing as it needs. */
    const size_t chunk = 1 << 20;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (PQputCopyData(db->conn, data + off, (int)n) != 1) {
            format_error(err, errlen, "COPY failed", PQerrorMessage(db->conn));
            return -EIO;
        }
    }
    if (PQputCopyEnd(db->conn, NULL) != 1) {
        format_error(err, errlen, "COPY failed", PQerrorMessage(db->conn));
        return -EIO;
    }
    int rc = 0;
    while ((res = PQgetResult(db->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            result_error(db, res, "COPY refused", err, errlen);
            rc = 1;
        }
        PQclear(res);
    }
    if (!db_ok(db)) {
        format_error(err, errlen, "connection lost", PQerrorMessage(db->conn));
        return -EIO;
    }
    return rc;
}

int db_password_verifier(struct db *db, const char *role, const char *password,
                         char *out, size_t cap, char *err, size_t errlen)
{
    char *verifier =
        PQencryptPasswordConn(db->conn, password, role, "scram-sha-256");
    if (!verifier) {
        format_error(err, errlen, "could not hash the password",
                     PQerrorMessage(db->conn));
        return -EIO;
    }
    int rc = strlen(verifier) < cap ? 0 : -ENOSPC;
    if (rc == 0)
        ws_strlcpy(out, verifier, cap);
    else
        snprintf(err, errlen, "password verifier too long");
    PQfreemem(verifier);
    return rc;
}

bool db_login_works(const char *conninfo, const char *role,
                    const char *password)
{
    /* Later keywords override the expanded conninfo's. */
    const char *keys[] = {"dbname", "user", "password", NULL};
    const char *values[] = {conninfo, role, password, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    bool ok = PQstatus(conn) == CONNECTION_OK;
    PQfinish(conn);
    return ok;
}

void db_link_init(struct db_link *link, const char *conninfo, const char *who,
                  const char *module)
{
    memset(link, 0, sizeof *link);
    link->conninfo = conninfo;
    link->who = who;
    link->module = module ? module : MODULE;
    link->backoff_ms = DB_RECONNECT_MIN_MS;
}

struct db *db_link_get(struct db_link *link)
{
    if (link->db)
        return link->db;
    int64_t now = ws_monotonic_ms();
    if (now < link->retry_at_ms)
        return NULL;
    char err[1024];
    if (db_open(link->conninfo, link->who, &link->db, err, sizeof err) == 0) {
        if (link->down_since_ms)
            ws_info(link->module,
                    "database connection restored after_ms=%" PRId64,
                    now - link->down_since_ms);
        link->down_since_ms = 0;
        link->generation++;
        link->backoff_ms = DB_RECONNECT_MIN_MS;
        return link->db;
    }
    if (!link->down_since_ms)
        link->down_since_ms = now;
    struct ws_log_limit limit = {link->limit_last_ms, link->limit_suppressed};
    ws_log_limited(&limit, DB_LOG_LIMIT_MS, WS_LOG_ERROR, link->module,
                   "database unavailable: %s retry_ms=%" PRId64, err,
                   link->backoff_ms);
    link->limit_last_ms = limit.last_ms;
    link->limit_suppressed = limit.suppressed;
    link->retry_at_ms = now + link->backoff_ms;
    link->backoff_ms *= 2;
    if (link->backoff_ms > DB_RECONNECT_MAX_MS)
        link->backoff_ms = DB_RECONNECT_MAX_MS;
    return NULL;
}

int64_t db_link_retry_in_ms(const struct db_link *link)
{
    if (link->db)
        return 0;
    int64_t left = link->retry_at_ms - ws_monotonic_ms();
    return left > 0 ? left : 0;
}

void db_link_drop(struct db_link *link)
{
    db_close(&link->db);
    int64_t now = ws_monotonic_ms();
    if (!link->down_since_ms)
        link->down_since_ms = now;
    link->backoff_ms = DB_RECONNECT_MIN_MS;
    link->retry_at_ms = now;
}

void db_link_close(struct db_link *link)
{
    db_close(&link->db);
}
