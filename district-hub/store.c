/*
 * store.c - migrations, org units and the catalogue; being moved under
 * db/ (the writer is db/ingest.c; the read side, rounds and indicators are
 * db/read.c, db/rounds.c and db/indicators.c).
 *
 * Values travel as parameters; never inside SQL text.
 */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/log.h"
#include "wardsync/names.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

#define MODULE "store"

/* An arbitrary constant: the advisory lock key every hub takes while
 * migrating ("wardsync" in ASCII). */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_lock(8599089707513213817)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(8599089707513213817)"

enum stmt_id {
    ST_MIGRATE_LOCK,
    ST_MIGRATE_UNLOCK,
    ST_MIGRATION_APPLIED,
    ST_MIGRATION_RECORD,
    ST_ORG_UNIT_UPSERT,
    ST_CATALOGUE_GROUP,
    ST_CATALOGUE_MANIFESTATION,
    ST_CATALOGUE_FORM,
    ST_CATALOGUE_ITEM,
    ST_CATALOGUE_LEVEL,
    ST_CATALOGUE_RESPONDENT_GROUP,
    ST_COUNT
};

struct statement {
    const char *name;
    int n_params;
    const char *sql;
};

/* One SQL statement per entry, laid out to be read, not reflowed. */
/* clang-format off */
static const struct statement STATEMENTS[ST_COUNT] = {
    [ST_MIGRATE_LOCK] = {"migrate_lock", 0, MIGRATE_LOCK_SQL},
    [ST_MIGRATE_UNLOCK] = {"migrate_unlock", 0, MIGRATE_UNLOCK_SQL},
    [ST_MIGRATION_APPLIED] =
        {"migration_applied", 1,
         "SELECT 1 FROM schema_migrations WHERE version = $1::integer"},
    [ST_MIGRATION_RECORD] = {"migration_record", 2,
                             "INSERT INTO schema_migrations (version, name)"
                             " VALUES ($1::integer, $2)"},
    [ST_ORG_UNIT_UPSERT] =
        {"org_unit_upsert", 4,
         "INSERT INTO org_units (code, name, kind, parent)"
         " VALUES ($1, $2, $3, NULLIF($4, ''))"
         " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
         " kind = EXCLUDED.kind, parent = EXCLUDED.parent"},
    [ST_CATALOGUE_GROUP] =
        {"catalogue_group", 2,
         "INSERT INTO catalogue_groups (code, label) VALUES ($1, $2)"
         " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"},
    [ST_CATALOGUE_MANIFESTATION] =
        {"catalogue_manifestation", 3,
         "INSERT INTO catalogue_manifestations (code, group_code, label)"
         " VALUES ($1, $2, $3) ON CONFLICT (code) DO UPDATE SET"
         " group_code = EXCLUDED.group_code, label = EXCLUDED.label"},
    [ST_CATALOGUE_FORM] =
        {"catalogue_form", 3,
         "INSERT INTO catalogue_forms (code, label, n_items)"
         " VALUES ($1, $2, $3::integer) ON CONFLICT (code) DO UPDATE SET"
         " label = EXCLUDED.label, n_items = EXCLUDED.n_items"},
    [ST_CATALOGUE_ITEM] =
        {"catalogue_item", 6,
         "INSERT INTO catalogue_items"
         " (form, number, code, manifestation, group_code, label)"
         " VALUES ($1, $2::integer, $3, $4, $5, $6)"
         " ON CONFLICT (form, number) DO UPDATE SET code = EXCLUDED.code,"
         " manifestation = EXCLUDED.manifestation,"
         " group_code = EXCLUDED.group_code, label = EXCLUDED.label"},
    [ST_CATALOGUE_LEVEL] =
        {"catalogue_level", 2,
         "INSERT INTO catalogue_levels (code, label) VALUES ($1, $2)"
         " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"},
    [ST_CATALOGUE_RESPONDENT_GROUP] =
        {"catalogue_respondent_group", 2,
         "INSERT INTO catalogue_respondent_groups (code, label)"
         " VALUES ($1, $2)"
         " ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label"},
};
/* clang-format on */

struct store {
    PGconn *conn;
    bool prepared[ST_COUNT];
    char sqlstate[6]; /* of the last statement that failed */
};

/* libpq's messages end with a newline; ours are one line. */
static void set_pq_error(char *err, size_t errlen, const char *what,
                         const char *message)
{
    snprintf(err, errlen, "%s: %s", what, message ? message : "");
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
        err[--len] = '\0';
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* Server notices ("relation already exists, skipping") are routine; keep
 * them out of the operator's log unless debugging, and one line each. */
static void log_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    set_pq_error(line, sizeof line, "server notice", message);
    ws_debug(MODULE, "%s", line);
}

int store_open(const char *conninfo, struct store **out, char *err,
               size_t errlen)
{
    *out = NULL;
    struct store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    st->conn = PQconnectdb(conninfo);
    if (!st->conn || PQstatus(st->conn) != CONNECTION_OK) {
        set_pq_error(err, errlen, "could not connect to the database",
                     st->conn ? PQerrorMessage(st->conn) : "out of memory");
        goto fail_conn;
    }
    PQsetNoticeProcessor(st->conn, log_notice, NULL);
    /* Names and labels are UTF-8 whatever the client locale says. */
    if (PQsetClientEncoding(st->conn, "UTF8") != 0) {
        set_pq_error(err, errlen, "could not set client encoding",
                     PQerrorMessage(st->conn));
        goto fail_conn;
    }
    *out = st;
    return 0;

fail_conn:
    PQfinish(st->conn);
    free(st);
    return -EIO;
}

void store_close(struct store **st)
{
    if (!st || !*st)
        return;
    PQfinish((*st)->conn);
    free(*st);
    *st = NULL;
}

/* Runs a constant statement without parameters (BEGIN, COMMIT, SAVEPOINT,
 * a migration file). Returns 0, or -EIO with the reason in err. */
static int exec_simple(struct store *st, const char *sql, char *err,
                       size_t errlen)
{
    PGresult *res = PQexec(st->conn, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
        status != PGRES_EMPTY_QUERY) {
        set_pq_error(err, errlen, "statement failed",
                     res ? PQresultErrorMessage(res)
                         : PQerrorMessage(st->conn));
        rc = -EIO;
    }
    PQclear(res);
    return rc;
}

/* COMMIT of a transaction that had failed answers "ROLLBACK" without an
 * error; only a real "COMMIT" counts. */
static int exec_commit(struct store *st, char *err, size_t errlen)
{
    PGresult *res = PQexec(st->conn, "COMMIT");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_pq_error(err, errlen, "commit failed",
                     res ? PQresultErrorMessage(res)
                         : PQerrorMessage(st->conn));
        rc = -EIO;
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        snprintf(err, errlen, "commit failed: transaction was rolled back");
        rc = -EIO;
    }
    PQclear(res);
    return rc;
}

/* Best effort: leave no transaction open on a connection we keep. */
static void rollback_quietly(struct store *st)
{
    if (PQstatus(st->conn) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(st->conn) == PQTRANS_IDLE)
        return;
    PGresult *res = PQexec(st->conn, "ROLLBACK");
    PQclear(res);
}

/* Prepares statement id on this connection unless it already is. Returns 0,
 * or -EIO with the reason in err. */
static int prepare_stmt(struct store *st, enum stmt_id id, char *err,
                        size_t errlen)
{
    const struct statement *s = &STATEMENTS[id];
    if (st->prepared[id])
        return 0;
    PGresult *res = PQprepare(st->conn, s->name, s->sql, s->n_params, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char what[96];
        snprintf(what, sizeof what, "could not prepare \"%s\"", s->name);
        set_pq_error(err, errlen, what,
                     res ? PQresultErrorMessage(res)
                         : PQerrorMessage(st->conn));
        PQclear(res);
        return -EIO;
    }
    PQclear(res);
    st->prepared[id] = true;
    return 0;
}

/* Executes a prepared statement, preparing it first on this connection.
 * values[i] NULL is SQL NULL; formats may be NULL (all text). Returns the
 * result of a successful command (caller PQclear()s it), or NULL with the
 * reason in err. */
static PGresult *exec_stmt(struct store *st, enum stmt_id id,
                           const char *const *values, const int *lengths,
                           const int *formats, char *err, size_t errlen)
{
    const struct statement *s = &STATEMENTS[id];
    if (prepare_stmt(st, id, err, errlen) < 0)
        return NULL;
    PGresult *res = PQexecPrepared(st->conn, s->name, s->n_params, values,
                                   lengths, formats, 0);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char *code =
            res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        ws_strlcpy(st->sqlstate, code ? code : "", sizeof st->sqlstate);
        /* The server's primary message ("value too long for type ...")
         * reads best in a rejection reason; libpq's own otherwise. */
        const char *primary =
            res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        set_pq_error(err, errlen, s->name,
                     primary ? primary
                     : res   ? PQresultErrorMessage(res)
                             : PQerrorMessage(st->conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* exec_stmt for statements whose rows we do not read. */
static int run_stmt(struct store *st, enum stmt_id id,
                    const char *const *values, char *err, size_t errlen)
{
    PGresult *res = exec_stmt(st, id, values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    PQclear(res);
    return 0;
}

/* ------------------------------------------------------------------ */
/* migrations                                                          */

int store_migrate_lock(struct store *st, char *err, size_t errlen)
{
    if (run_stmt(st, ST_MIGRATE_LOCK, NULL, err, errlen) < 0)
        return -EIO;
    return exec_simple(st,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " version integer PRIMARY KEY,"
                       " name text NOT NULL,"
                       " applied_at timestamptz NOT NULL DEFAULT now())",
                       err, errlen);
}

int store_migrate_unlock(struct store *st, char *err, size_t errlen)
{
    return run_stmt(st, ST_MIGRATE_UNLOCK, NULL, err, errlen);
}

int store_migration_applied(struct store *st, int version, bool *applied,
                            char *err, size_t errlen)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *values[] = {v};
    PGresult *res =
        exec_stmt(st, ST_MIGRATION_APPLIED, values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    *applied = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

int store_migration_apply(struct store *st, int version, const char *name,
                          const char *sql, char *err, size_t errlen)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *values[] = {v, name};

    if (exec_simple(st, "BEGIN", err, errlen) < 0)
        return -EIO;
    if (exec_simple(st, sql, err, errlen) < 0)
        goto fail_rollback;
    if (run_stmt(st, ST_MIGRATION_RECORD, values, err, errlen) < 0)
        goto fail_rollback;
    return exec_commit(st, err, errlen);

fail_rollback:
    rollback_quietly(st);
    return -EIO;
}

int store_org_units_upsert(struct store *st, const struct store_org_unit *units,
                           size_t n, char *err, size_t errlen)
{
    if (exec_simple(st, "BEGIN", err, errlen) < 0)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        const char *values[] = {units[i].code, units[i].name, units[i].kind,
                                units[i].parent ? units[i].parent : ""};
        char detail[512];
        if (run_stmt(st, ST_ORG_UNIT_UPSERT, values, detail, sizeof detail) <
            0) {
            snprintf(err, errlen, "org unit %s: %s", units[i].code, detail);
            goto fail_rollback;
        }
    }
    return exec_commit(st, err, errlen);

fail_rollback:
    rollback_quietly(st);
    return -EIO;
}

int store_catalogue_upsert(struct store *st, const struct ws_catalogue *cat,
                           char *err, size_t errlen)
{
    if (exec_simple(st, "BEGIN", err, errlen) < 0)
        return -EIO;
    for (size_t i = 0; i < cat->n_groups; i++) {
        const struct ws_catalogue_entry *g = &cat->groups[i];
        const char *values[] = {g->code, g->label ? g->label : ""};
        if (run_stmt(st, ST_CATALOGUE_GROUP, values, err, errlen) < 0)
            goto fail_rollback;
    }
    for (size_t i = 0; i < cat->n_manifestations; i++) {
        const struct ws_catalogue_entry *m = &cat->manifestations[i];
        const char *values[] = {m->code, m->parent, m->label ? m->label : ""};
        if (run_stmt(st, ST_CATALOGUE_MANIFESTATION, values, err, errlen) < 0)
            goto fail_rollback;
    }
    for (size_t i = 0; i < cat->n_forms; i++) {
        const struct ws_catalogue_form *f = &cat->forms[i];
        char n_items[24];
        snprintf(n_items, sizeof n_items, "%zu", f->n_items);
        const char *form_values[] = {f->code, f->label ? f->label : "",
                                     n_items};
        if (run_stmt(st, ST_CATALOGUE_FORM, form_values, err, errlen) < 0)
            goto fail_rollback;
        for (size_t j = 0; j < f->n_items; j++) {
            const struct ws_catalogue_item *it = &f->items[j];
            char number[16];
            snprintf(number, sizeof number, "%d", it->number);
            const char *values[] = {f->code,   number,
                                    it->code,  it->manifestation,
                                    it->group, it->label ? it->label : ""};
            if (run_stmt(st, ST_CATALOGUE_ITEM, values, err, errlen) < 0)
                goto fail_rollback;
        }
    }
    for (size_t i = 0; i < cat->n_levels; i++) {
        const struct ws_catalogue_entry *l = &cat->levels[i];
        const char *values[] = {l->code, l->label ? l->label : ""};
        if (run_stmt(st, ST_CATALOGUE_LEVEL, values, err, errlen) < 0)
            goto fail_rollback;
    }
    for (size_t i = 0; i < cat->n_respondent_groups; i++) {
        const struct ws_catalogue_entry *r = &cat->respondent_groups[i];
        const char *values[] = {r->code, r->label ? r->label : ""};
        if (run_stmt(st, ST_CATALOGUE_RESPONDENT_GROUP, values, err, errlen) <
            0)
            goto fail_rollback;
    }
    return exec_commit(st, err, errlen);

fail_rollback:
    rollback_quietly(st);
    return -EIO;
}
