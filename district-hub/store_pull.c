/*
 * store_pull.c - read-only queries for pulls, status and the report, and
 * the snapshots of derived datasets (store_pull.h).
 *
 * A separate connection from the ingest store: a pull never runs inside a
 * batch's transaction. Change numbers come from one sequence
 * (sql/010_pull_changes.sql). The hub serves pulls from the same thread as
 * ingest, between batches, so no batch transaction is in flight while a
 * pull reads: a row can never commit with a change number below one a pull
 * has already handed out.
 */
#include "store_pull.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_reader {
    PGconn *conn;
};

const char *store_table_get(const struct store_table *t, size_t row,
                            size_t column)
{
    return t->cells[row * t->n_columns + column];
}

int store_table_column(const struct store_table *t, const char *name)
{
    for (size_t c = 0; c < t->n_columns; c++)
        if (strcmp(t->columns[c], name) == 0)
            return (int)c;
    return -1;
}

void store_table_clear(struct store_table *t)
{
    if (t->cells)
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
            free(t->cells[i]);
    if (t->columns)
        for (size_t c = 0; c < t->n_columns; c++)
            free(t->columns[c]);
    free(t->cells);
    free(t->columns);
    memset(t, 0, sizeof *t);
}

static void set_error(struct store_reader *rd, char *err, size_t errlen,
                      const char *what)
{
    const char *msg = PQerrorMessage(rd->conn);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    snprintf(err, errlen, "%s: %.*s", what, (int)len, msg);
}

/* Copies res into out. Does not clear res. */
static int table_from_result(PGresult *res, struct store_table *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t rows = (size_t)PQntuples(res), cols = (size_t)PQnfields(res);
    out->columns = calloc(cols ? cols : 1, sizeof *out->columns);
    out->cells = calloc(rows * cols > 0 ? rows * cols : 1, sizeof *out->cells);
    if (!out->columns || !out->cells)
        goto fail;
    out->n_columns = cols;
    for (size_t c = 0; c < cols; c++)
        if (!(out->columns[c] = strdup(PQfname(res, (int)c))))
            goto fail;
    out->n_rows = rows;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            if (PQgetisnull(res, (int)r, (int)c))
                continue;
            if (!(out->cells[r * cols + c] =
                      strdup(PQgetvalue(res, (int)r, (int)c))))
                goto fail;
        }
    return 0;
fail:
    store_table_clear(out);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

/* Runs a constant statement with text parameters. Returns the result or
 * NULL (err set); the caller clears it. */
static PGresult *run(struct store_reader *rd, const char *sql, int n,
                     const char *const *values, ExecStatusType want, char *err,
                     size_t errlen)
{
    PGresult *res = PQexecParams(rd->conn, sql, n, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) == want)
        return res;
    set_error(rd, err, errlen, "query failed");
    PQclear(res);
    return NULL;
}

static int query_table(struct store_reader *rd, const char *sql, int n,
                       const char *const *values, struct store_table *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    PGresult *res = run(rd, sql, n, values, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -EIO;
    int rc = table_from_result(res, out, err, errlen);
    PQclear(res);
    return rc;
}

static int command(struct store_reader *rd, const char *sql, int n,
                   const char *const *values, char *err, size_t errlen)
{
    PGresult *res = run(rd, sql, n, values, PGRES_COMMAND_OK, err, errlen);
    if (!res)
        return -EIO;
    PQclear(res);
    return 0;
}

int store_reader_open(const char *conninfo, struct store_reader **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    struct store_reader *rd = calloc(1, sizeof *rd);
    if (!rd) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rd->conn = PQconnectdb(conninfo);
    if (PQstatus(rd->conn) != CONNECTION_OK) {
        set_error(rd, err, errlen, "could not connect to database");
        store_reader_close(&rd);
        return -EIO;
    }
    PGresult *res = PQexec(rd->conn, "SET TIME ZONE 'UTC'");
    PQclear(res);
    *out = rd;
    return 0;
}

void store_reader_close(struct store_reader **rd)
{
    if (!rd || !*rd)
        return;
    PQfinish((*rd)->conn);
    free(*rd);
    *rd = NULL;
}

bool store_reader_ok(const struct store_reader *rd)
{
    return rd && PQstatus(rd->conn) == CONNECTION_OK;
}

int store_reader_relation_exists(struct store_reader *rd, const char *name,
                                 bool *exists, char *err, size_t errlen)
{
    const char *values[] = {name};
    PGresult *res = run(rd, "SELECT to_regclass($1) IS NOT NULL", 1, values,
                        PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -EIO;
    *exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}

/* ---- pull ---- */

static const char SQL_PULL_PETITIONS[] =
    "SELECT op, key, change, ward, petition, kind, channel, status,"
    "       in_jurisdiction, received_on, due_on, overdue, note, updated_at,"
    "       history"
    "  FROM ("
    "  SELECT CASE WHEN p.created_seq > $1::bigint THEN 'insert'"
    "              ELSE 'update' END AS op,"
    "         p.ward || '/' || p.petition AS key, p.change_seq AS change,"
    "         p.ward, p.petition, p.kind, p.channel, p.status,"
    "         p.in_jurisdiction::text AS in_jurisdiction,"
    "         p.received_on::text AS received_on, p.due_on::text AS due_on,"
    "         (p.due_on IS NOT NULL AND p.due_on < current_date"
    "          AND p.status NOT IN ('resolved', 'withdrawn', 'transferred'))"
    "             ::text AS overdue,"
    "         p.note,"
    "         to_char(p.updated_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "             AS updated_at,"
    "         (SELECT json_agg(json_build_object("
    "                     'status', h.status, 'due_on', h.due_on,"
    "                     'in_jurisdiction', h.in_jurisdiction,"
    "                     'at', to_char(h.occurred_at,"
    "                                   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "                     'note', h.note)"
    "                     ORDER BY h.occurred_at, h.event_id)::text"
    "            FROM petition_history h"
    "           WHERE h.ward = p.ward AND h.petition = p.petition) AS history"
    "    FROM petitions p"
    "   WHERE p.change_seq > $1::bigint AND ($2 = '' OR p.ward = $2)"
    "  UNION ALL"
    "  SELECT 'delete', t.row_key, t.change_seq, t.ward,"
    "         split_part(t.row_key, '/', 2), NULL, NULL, NULL, NULL, NULL,"
    "         NULL, NULL, NULL,"
    "         to_char(t.deleted_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), NULL"
    "    FROM pull_tombstones t"
    "   WHERE t.dataset = 'petitions' AND t.change_seq > $1::bigint"
    "     AND ($2 = '' OR t.ward = $2)) x"
    " ORDER BY change LIMIT $3::integer";

static const char SQL_PULL_SYNC_STATUS[] =
    "SELECT op, key, change, ward, agent_instance, committed_through,"
    "       first_contact, last_contact, lag_seconds, backlog, accepted,"
    "       duplicate, conflict, rejected"
    "  FROM ("
    "  SELECT CASE WHEN a.created_seq > $1::bigint THEN 'insert'"
    "              ELSE 'update' END AS op,"
    "         a.ward || '/' || a.agent_instance AS key, a.change_seq AS change,"
    "         a.ward, a.agent_instance,"
    "         a.committed_through::text AS committed_through,"
    "         to_char(a.first_contact, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "             AS first_contact,"
    "         to_char(a.last_contact, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "             AS last_contact,"
    "         floor(extract(epoch FROM now() - a.last_contact))::bigint::text"
    "             AS lag_seconds,"
    "         a.backlog::text AS backlog, a.accepted::text AS accepted,"
    "         a.duplicate::text AS duplicate, a.conflict::text AS conflict,"
    "         a.rejected::text AS rejected"
    "    FROM agents a"
    "   WHERE a.change_seq > $1::bigint AND ($2 = '' OR a.ward = $2)"
    "  UNION ALL"
    "  SELECT 'delete', t.row_key, t.change_seq, t.ward,"
    "         split_part(t.row_key, '/', 2), NULL, NULL, NULL, NULL, NULL,"
    "         NULL, NULL, NULL, NULL"
    "    FROM pull_tombstones t"
    "   WHERE t.dataset = 'sync_status' AND t.change_seq > $1::bigint"
    "     AND ($2 = '' OR t.ward = $2)) x"
    " ORDER BY change LIMIT $3::integer";

static const char SQL_PULL_SNAPSHOT[] =
    "SELECT CASE WHEN deleted THEN 'delete'"
    "            WHEN created_seq > $2::bigint THEN 'insert'"
    "            ELSE 'update' END AS op,"
    "       row_key AS key, change_seq AS change, ward, row_data::text AS data"
    "  FROM pull_snapshot"
    " WHERE dataset = $1 AND change_seq > $2::bigint"
    "   AND ($3 = '' OR ward = $3)"
    " ORDER BY change_seq LIMIT $4::integer";

static int pull_query(struct store_reader *rd, const char *sql, uint64_t since,
                      const char *scope, unsigned limit,
                      struct store_table *out, char *err, size_t errlen)
{
    char since_text[24], limit_text[16];
    snprintf(since_text, sizeof since_text, "%" PRIu64, since);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *values[] = {since_text, scope ? scope : "", limit_text};
    return query_table(rd, sql, 3, values, out, err, errlen);
}

int store_pull_petitions(struct store_reader *rd, uint64_t since,
                         const char *scope, unsigned limit,
                         struct store_table *out, char *err, size_t errlen)
{
    return pull_query(rd, SQL_PULL_PETITIONS, since, scope, limit, out, err,
                      errlen);
}

int store_pull_sync_status(struct store_reader *rd, uint64_t since,
                           const char *scope, unsigned limit,
                           struct store_table *out, char *err, size_t errlen)
{
    return pull_query(rd, SQL_PULL_SYNC_STATUS, since, scope, limit, out, err,
                      errlen);
}

int store_pull_snapshot(struct store_reader *rd, const char *dataset,
                        uint64_t since, const char *scope, unsigned limit,
                        struct store_table *out, char *err, size_t errlen)
{
    char since_text[24], limit_text[16];
    snprintf(since_text, sizeof since_text, "%" PRIu64, since);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *values[] = {dataset, since_text, scope ? scope : "",
                            limit_text};
    return query_table(rd, SQL_PULL_SNAPSHOT, 4, values, out, err, errlen);
}

/* New rows start with created_seq 0 and get their own change number right
 * after; an existing row is touched only when its data changed or it comes
 * back from deletion. */
static const char SQL_SNAPSHOT_UPSERT[] =
    "INSERT INTO pull_snapshot AS s"
    "       (dataset, row_key, ward, row_data, change_seq, created_seq)"
    "SELECT $1, e->>'key', coalesce(e->>'ward', ''), e->'data',"
    "       nextval('pull_change_seq'), 0"
    "  FROM jsonb_array_elements($2::jsonb) e "
    "ON CONFLICT (dataset, row_key) DO UPDATE"
    "   SET row_data = EXCLUDED.row_data, ward = EXCLUDED.ward,"
    "       change_seq = EXCLUDED.change_seq, deleted = false,"
    "       created_seq = CASE WHEN s.deleted THEN EXCLUDED.change_seq"
    "                          ELSE s.created_seq END"
    " WHERE s.row_data IS DISTINCT FROM EXCLUDED.row_data OR s.deleted";

static const char SQL_SNAPSHOT_CREATED[] =
    "UPDATE pull_snapshot SET created_seq = change_seq"
    " WHERE dataset = $1 AND created_seq = 0";

static const char SQL_SNAPSHOT_DELETE[] =
    "UPDATE pull_snapshot SET deleted = true,"
    "       change_seq = nextval('pull_change_seq')"
    " WHERE dataset = $1 AND NOT deleted"
    "   AND row_key NOT IN (SELECT e->>'key'"
    "                         FROM jsonb_array_elements($2::jsonb) e)";

static int snapshot_apply(struct store_reader *rd, const char *dataset,
                          const char *rows_json, char *err, size_t errlen)
{
    const char *values[] = {dataset, rows_json};
    int rc = command(rd, "BEGIN", 0, NULL, err, errlen);
    if (rc == 0)
        rc = command(rd, SQL_SNAPSHOT_UPSERT, 2, values, err, errlen);
    if (rc == 0)
        rc = command(rd, SQL_SNAPSHOT_CREATED, 1, values, err, errlen);
    if (rc == 0)
        rc = command(rd, SQL_SNAPSHOT_DELETE, 2, values, err, errlen);
    if (rc == 0)
        return command(rd, "COMMIT", 0, NULL, err, errlen);
    PGresult *res = PQexec(rd->conn, "ROLLBACK");
    PQclear(res);
    return rc;
}

int store_pull_snapshot_replace(struct store_reader *rd, const char *dataset,
                                const char *rows_json, char *err, size_t errlen)
{
    return snapshot_apply(rd, dataset, rows_json, err, errlen);
}

/* The view's rows as the JSON array snapshot_apply takes. One constant
 * statement per view: a relation name is never a parameter. */
/* A row's key is its natural key in the view, so that a changed figure is
 * an update of the same key; rows the view repeats under one natural key
 * get their contents' hash appended. */
#define VIEW_ROWS_SQL(natural_key, view)                                       \
    "SELECT coalesce(jsonb_agg(jsonb_build_object("                            \
    "           'key', k || CASE WHEN n > 1 THEN '#' || md5(j::text)"          \
    "                            ELSE '' END,"                                 \
    "           'ward', coalesce(j->>'ward', j->>'org_unit', ''),"             \
    "           'data', j)), '[]')::text"                                      \
    "  FROM (SELECT j, k, count(*) OVER (PARTITION BY k) AS n"                 \
    "          FROM (SELECT to_jsonb(v) AS j, " natural_key " AS k"            \
    "                  FROM " view " v) x) y"

static const char SQL_VIEW_BALLOT_AGGREGATES[] =
    VIEW_ROWS_SQL("concat_ws('/', to_jsonb(v)->>'survey', "
                  "to_jsonb(v)->>'ward', to_jsonb(v)->>'subject', "
                  "to_jsonb(v)->>'form', to_jsonb(v)->>'item', "
                  "to_jsonb(v)->>'respondent_group')",
                  "published.ballot_aggregates");

static const char SQL_VIEW_INDICATORS[] =
    VIEW_ROWS_SQL("concat_ws('/', to_jsonb(v)->>'code', "
                  "to_jsonb(v)->>'org_unit', to_jsonb(v)->>'period')",
                  "published.indicators");

int store_pull_snapshot_from_view(struct store_reader *rd, const char *dataset,
                                  const char *view, char *err, size_t errlen)
{
    const char *sql;
    if (strcmp(view, "published.ballot_aggregates") == 0)
        sql = SQL_VIEW_BALLOT_AGGREGATES;
    else if (strcmp(view, "published.indicators") == 0)
        sql = SQL_VIEW_INDICATORS;
    else {
        snprintf(err, errlen, "unknown view %s", view);
        return -EINVAL;
    }
    bool exists = false;
    int rc = store_reader_relation_exists(rd, view, &exists, err, errlen);
    if (rc < 0)
        return rc;
    if (!exists) {
        snprintf(err, errlen, "%s does not exist", view);
        return -ENOENT;
    }
    PGresult *res = run(rd, sql, 0, NULL, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -EIO;
    rc = snapshot_apply(rd, dataset, PQgetvalue(res, 0, 0), err, errlen);
    PQclear(res);
    return rc;
}

int store_pull_source_signature(struct store_reader *rd, char *out, size_t cap,
                                char *err, size_t errlen)
{
    PGresult *res = run(
        rd,
        "SELECT count(*) || '/' || coalesce(sum(committed_through), 0) || '/'"
        "       || coalesce(sum(rejected), 0) || '/'"
        "       || coalesce(max(last_contact)::text, '') || '/' || current_date"
        "  FROM agents",
        0, NULL, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -EIO;
    snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int store_pull_view_columns(struct store_reader *rd, const char *view_name,
                            struct store_table *out, char *err, size_t errlen)
{
    const char *values[] = {view_name};
    return query_table(rd,
                       "SELECT column_name::text AS name"
                       "  FROM information_schema.columns"
                       " WHERE table_schema = 'published' AND table_name = $1"
                       " ORDER BY ordinal_position",
                       1, values, out, err, errlen);
}

int store_pull_version(struct store_reader *rd, uint64_t *version, char *err,
                       size_t errlen)
{
    PGresult *res = run(rd,
                        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                        "  FROM pull_change_seq",
                        0, NULL, PGRES_TUPLES_OK, err, errlen);
    if (!res)
        return -EIO;
    *version = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* ---- status ---- */

static const char SQL_STATUS_AGENTS[] =
    "SELECT a.ward, coalesce(u.name, '') AS name, a.agent_instance,"
    "       a.committed_through,"
    "       to_char(a.first_contact, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "           AS first_contact,"
    "       to_char(a.last_contact, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "           AS last_contact,"
    "       floor(extract(epoch FROM now() - a.last_contact))::bigint"
    "           AS lag_seconds,"
    "       a.backlog, a.accepted, a.duplicate, a.conflict, a.rejected,"
    "       (now() - a.last_contact > make_interval(secs => $1::bigint))"
    "           AS silent"
    "  FROM agents a LEFT JOIN org_units u ON u.code = a.ward"
    " ORDER BY a.ward, a.last_contact DESC, a.agent_instance";

int store_status_agents(struct store_reader *rd, long silent_after_s,
                        struct store_table *out, char *err, size_t errlen)
{
    char secs[24];
    snprintf(secs, sizeof secs, "%ld", silent_after_s);
    const char *values[] = {secs};
    return query_table(rd, SQL_STATUS_AGENTS, 1, values, out, err, errlen);
}

/* ---- report ---- */

static const char *const REPORT_SQL[STORE_REPORT_N_QUERIES] = {
    [STORE_REPORT_WARDS] = "SELECT code, name, kind FROM org_units"
                           " WHERE kind IN ('ward', 'district')"
                           " ORDER BY kind DESC, code",
    /* Answers per content group and level over every ballot; ballots is
     * the number of distinct ballots behind the cell, for suppression. */
    [STORE_REPORT_BALLOT_LEVELS] =
        "SELECT i.group_code, g.label, l.level,"
        "       count(*) AS answers, count(DISTINCT l.event_id) AS ballots"
        "  FROM ballot_levels l"
        "  JOIN ballots b ON b.event_id = l.event_id"
        "  JOIN catalogue_items i ON i.form = b.form AND i.number = l.item"
        "  JOIN catalogue_groups g ON g.code = i.group_code"
        " GROUP BY i.group_code, g.label, l.level"
        " ORDER BY i.group_code, l.level",
    [STORE_REPORT_FLAGGED] =
        "SELECT ward, survey, subject, status, due_on::text AS due_on,"
        "       (status <> 'completed' AND due_on < current_date)::text"
        "           AS overdue"
        "  FROM remediation_plans ORDER BY ward, survey, subject",
    [STORE_REPORT_PETITION_AGE] =
        "SELECT b.bucket, count(p.petition) AS n"
        "  FROM (VALUES (1, '0–15'), (2, '16–30'), (3, '31–45'),"
        "               (4, '> 45')) b (ord, bucket)"
        "  LEFT JOIN petitions p"
        "    ON p.status IN ('received', 'accepted', 'in_progress')"
        "   AND CASE WHEN current_date - p.received_on <= 15 THEN 1"
        "            WHEN current_date - p.received_on <= 30 THEN 2"
        "            WHEN current_date - p.received_on <= 45 THEN 3"
        "            ELSE 4 END = b.ord"
        " GROUP BY b.ord, b.bucket ORDER BY b.ord",
    /* On time: resolved no later than the due date of the resolving
     * change (no due date counts as on time). */
    [STORE_REPORT_ON_TIME] =
        "SELECT p.ward, count(*) AS resolved,"
        "       count(*) FILTER (WHERE p.due_on IS NULL"
        "                        OR p.updated_at::date <= p.due_on)"
        "           AS on_time"
        "  FROM petitions p WHERE p.status = 'resolved'"
        " GROUP BY p.ward ORDER BY p.ward",
    [STORE_REPORT_RECEPTION_WEEKS] =
        "SELECT to_char(date_trunc('week', held_on), 'IYYY-\"W\"IW') AS week,"
        "       count(*) AS sessions, sum(citizens) AS citizens"
        "  FROM reception_sessions"
        " GROUP BY 1 ORDER BY 1",
};

int store_report_query(struct store_reader *rd, enum store_report_query q,
                       struct store_table *out, char *err, size_t errlen)
{
    if ((int)q < 0 || q >= STORE_REPORT_N_QUERIES) {
        snprintf(err, errlen, "unknown report query");
        return -EINVAL;
    }
    return query_table(rd, REPORT_SQL[q], 0, NULL, out, err, errlen);
}
