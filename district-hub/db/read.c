/*
 * db/read.c - read-only queries for pulls, status and the report, and the
 * snapshots of derived datasets (contract in db/read.h).
 *
 * Change numbers come from one sequence (sql/010_pull_changes.sql); every
 * transaction that draws one first takes the change-number lock
 * (sql/003_pull_thread.sql), so transactions that draw numbers commit in
 * the order of their numbers and a page never hands out a cursor past a
 * number still in flight.
 */
#include "db/read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn.h"

const char *db_table_get(const struct db_table *t, size_t row, size_t column)
{
    return t->cells[row * t->n_columns + column];
}

int db_table_column(const struct db_table *t, const char *name)
{
    for (size_t c = 0; c < t->n_columns; c++)
        if (strcmp(t->columns[c], name) == 0)
            return (int)c;
    return -1;
}

void db_table_clear(struct db_table *t)
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

/* Copies res into out. Does not clear res. */
static int table_from_result(const PGresult *res, struct db_table *out,
                             char *err, size_t errlen)
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
    db_table_clear(out);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
}

static int query_table(struct db *db, const struct db_statement *s,
                       const char *const *values, struct db_table *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    PGresult *res = NULL;
    int rc = db_exec(db, s, values, NULL, NULL, &res, err, errlen);
    if (rc < 0)
        return rc;
    rc = table_from_result(res, out, err, errlen);
    PQclear(res);
    return rc;
}

/* The first cell of the first row of s into out. */
static int query_text(struct db *db, const struct db_statement *s,
                      const char *const *values, char *out, size_t cap,
                      char *err, size_t errlen)
{
    PGresult *res = NULL;
    int rc = db_exec(db, s, values, NULL, NULL, &res, err, errlen);
    if (rc < 0)
        return rc;
    if (PQntuples(res) < 1 || PQnfields(res) < 1) {
        snprintf(err, errlen, "%s: no row", s->name);
        PQclear(res);
        return -EIO;
    }
    snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static const struct db_statement RELATION_EXISTS = {
    "read_relation_exists", 1, "SELECT to_regclass($1) IS NOT NULL"};

int db_read_relation_exists(struct db *db, const char *name, bool *exists,
                            char *err, size_t errlen)
{
    const char *values[] = {name};
    char text[8];
    int rc = query_text(db, &RELATION_EXISTS, values, text, sizeof text, err,
                        errlen);
    if (rc == 0)
        *exists = strcmp(text, "t") == 0;
    return rc;
}

/* ---- pull ---- */

int db_read_page_begin(struct db *db, char *err, size_t errlen)
{
    return db_command(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                      err, errlen);
}

int db_read_page_end(struct db *db, char *err, size_t errlen)
{
    return db_commit(db, err, errlen);
}

/* $1 since, $2 scope, $3 limit, $4 start (the op is decided against it),
 * $5 the as-of day ("" = the district's today). The page's rows are chosen
 * first, by change and limit in each branch and over both (the petitions
 * and their tombstones), from the change-number indexes; only then are
 * the due dates and histories of those rows read: petition_due_dates_of()
 * over the page's petitions (sql/011_petition_pages.sql), the one rule
 * every output shows. due_on is the legal due date, typed_due_on the
 * office's typed date where it differs, overdue the state on the as-of day
 * (docs/DESIGN.md §6). */
static const struct db_statement PULL_PETITIONS = {
    "read_pull_petitions", 5,
    "WITH page AS ("
    "  SELECT * FROM ("
    "    (SELECT false AS deleted, p.ward || '/' || p.petition AS key,"
    "            p.change_seq AS change, p.created_seq,"
    "            p.ward, p.petition, p.kind, p.channel, p.status,"
    "            p.in_jurisdiction, p.received_on, p.due_on, p.note,"
    "            p.updated_at AS at"
    "       FROM petitions p"
    "      WHERE p.change_seq > $1::bigint AND ($2 = '' OR p.ward = $2)"
    "      ORDER BY p.change_seq LIMIT $3::integer)"
    "    UNION ALL"
    "    (SELECT true, t.row_key, t.change_seq, NULL, t.ward,"
    "            split_part(t.row_key, '/', 2), NULL, NULL, NULL, NULL, NULL,"
    "            NULL, NULL, t.deleted_at"
    "       FROM pull_tombstones t"
    "      WHERE t.dataset = 'petitions' AND t.change_seq > $1::bigint"
    "        AND ($2 = '' OR t.ward = $2)"
    "      ORDER BY t.change_seq LIMIT $3::integer)) x"
    "   ORDER BY change LIMIT $3::integer"
    "), dd AS ("
    "  SELECT * FROM petition_due_dates_of("
    "      coalesce(nullif($5, '')::date, district_today()),"
    "      ARRAY(SELECT ward FROM page WHERE NOT deleted ORDER BY change),"
    "      ARRAY(SELECT petition FROM page WHERE NOT deleted ORDER BY change))"
    ")"
    "SELECT CASE WHEN pg.deleted THEN 'delete'"
    "            WHEN pg.created_seq > $4::bigint THEN 'insert'"
    "            ELSE 'update' END AS op,"
    "       pg.key, pg.change,"
    "       pg.ward, pg.petition, pg.kind, pg.channel, pg.status,"
    "       pg.in_jurisdiction::text AS in_jurisdiction,"
    "       pg.received_on::text AS received_on,"
    "       dd.due::text AS due_on,"
    "       CASE WHEN pg.due_on IS DISTINCT FROM dd.due"
    "            THEN pg.due_on::text END AS typed_due_on,"
    "       (dd.state = 'overdue')::text AS overdue,"
    "       pg.note,"
    "       to_char(pg.at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS updated_at,"
    "       CASE WHEN NOT pg.deleted THEN"
    "         (SELECT json_agg(json_build_object("
    "                     'status', h.status, 'due_on', h.due_on,"
    "                     'in_jurisdiction', h.in_jurisdiction,"
    "                     'at', to_char(h.occurred_at,"
    "                                   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "                     'note', h.note)"
    "                     ORDER BY h.occurred_at, h.event_id)::text"
    "            FROM petition_history h"
    "           WHERE h.ward = pg.ward AND h.petition = pg.petition)"
    "       END AS history"
    "  FROM page pg"
    "  LEFT JOIN dd ON NOT pg.deleted AND dd.ward = pg.ward"
    "              AND dd.petition = pg.petition"
    " ORDER BY pg.change"};

/* $1 since, $2 scope, $3 limit, $4 start, $5 whether the counts are
 * shown (pull_authorise): without them the columns are there, NULL. */
static const struct db_statement PULL_SYNC_STATUS = {
    "read_pull_sync_status", 5,
    "SELECT op, key, change, ward, agent_instance,"
    "       CASE WHEN $5::boolean THEN committed_through END"
    "           AS committed_through,"
    "       first_contact, last_contact, lag_seconds,"
    "       CASE WHEN $5::boolean THEN backlog END AS backlog,"
    "       CASE WHEN $5::boolean THEN accepted END AS accepted,"
    "       CASE WHEN $5::boolean THEN duplicate END AS duplicate,"
    "       CASE WHEN $5::boolean THEN conflict END AS conflict,"
    "       CASE WHEN $5::boolean THEN rejected END AS rejected"
    "  FROM ("
    "  SELECT CASE WHEN a.created_seq > $4::bigint THEN 'insert'"
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
    " ORDER BY change LIMIT $3::integer"};

/* $1 dataset, $2 since, $3 scope, $4 limit, $5 start. */
static const struct db_statement PULL_SNAPSHOT = {
    "read_pull_snapshot", 5,
    "SELECT CASE WHEN deleted THEN 'delete'"
    "            WHEN created_seq > $5::bigint THEN 'insert'"
    "            ELSE 'update' END AS op,"
    "       row_key AS key, change_seq AS change, ward, row_data::text AS data"
    "  FROM pull_snapshot"
    " WHERE dataset = $1 AND change_seq > $2::bigint"
    "   AND ($3 = '' OR ward = $3)"
    " ORDER BY change_seq LIMIT $4::integer"};

/* Runs s with $1 since, $2 scope, $3 limit, $4 start and $5 counts. */
static int pull_query(struct db *db, const struct db_statement *s,
                      uint64_t start, uint64_t since, const char *scope,
                      bool counts, unsigned limit, struct db_table *out,
                      char *err, size_t errlen)
{
    char since_text[24], start_text[24], limit_text[16];
    snprintf(since_text, sizeof since_text, "%" PRIu64, since);
    snprintf(start_text, sizeof start_text, "%" PRIu64, start);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *values[] = {since_text, scope ? scope : "", limit_text,
                            start_text, counts ? "true" : "false"};
    return query_table(db, s, values, out, err, errlen);
}

int db_read_pull_petitions(struct db *db, uint64_t start, uint64_t since,
                           const char *scope, const char *as_of, unsigned limit,
                           struct db_table *out, char *err, size_t errlen)
{
    char since_text[24], start_text[24], limit_text[16];
    snprintf(since_text, sizeof since_text, "%" PRIu64, since);
    snprintf(start_text, sizeof start_text, "%" PRIu64, start);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *values[] = {since_text, scope ? scope : "", limit_text,
                            start_text, as_of ? as_of : ""};
    return query_table(db, &PULL_PETITIONS, values, out, err, errlen);
}

int db_read_pull_sync_status(struct db *db, uint64_t start, uint64_t since,
                             const char *scope, bool counts, unsigned limit,
                             struct db_table *out, char *err, size_t errlen)
{
    return pull_query(db, &PULL_SYNC_STATUS, start, since, scope, counts, limit,
                      out, err, errlen);
}

int db_read_pull_snapshot(struct db *db, const char *dataset, uint64_t start,
                          uint64_t since, const char *scope, unsigned limit,
                          struct db_table *out, char *err, size_t errlen)
{
    char since_text[24], start_text[24], limit_text[16];
    snprintf(since_text, sizeof since_text, "%" PRIu64, since);
    snprintf(start_text, sizeof start_text, "%" PRIu64, start);
    snprintf(limit_text, sizeof limit_text, "%u", limit);
    const char *values[] = {dataset, since_text, scope ? scope : "", limit_text,
                            start_text};
    return query_table(db, &PULL_SNAPSHOT, values, out, err, errlen);
}

/* Before the first change number of the refresh transaction: see
 * sql/003_pull_thread.sql. */
static const struct db_statement CHANGE_LOCK = {"read_change_lock", 0,
                                                "SELECT pull_change_lock()"};

/* New rows start with created_seq 0 and get their own change number right
 * after; an existing row is touched only when its data changed or it comes
 * back from deletion. */
static const struct db_statement SNAPSHOT_UPSERT = {
    "read_snapshot_upsert", 2,
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
    " WHERE s.row_data IS DISTINCT FROM EXCLUDED.row_data OR s.deleted"};

static const struct db_statement SNAPSHOT_CREATED = {
    "read_snapshot_created", 1,
    "UPDATE pull_snapshot SET created_seq = change_seq"
    " WHERE dataset = $1 AND created_seq = 0"};

static const struct db_statement SNAPSHOT_DELETE = {
    "read_snapshot_delete", 2,
    "UPDATE pull_snapshot SET deleted = true,"
    "       change_seq = nextval('pull_change_seq')"
    " WHERE dataset = $1 AND NOT deleted"
    "   AND row_key NOT IN (SELECT e->>'key'"
    "                         FROM jsonb_array_elements($2::jsonb) e)"};

/* The view's rows as the JSON array the snapshot statements take: a JSON
 * array of {"key":…, "ward":…, "data":{…}}. One constant statement per
 * view: a relation name is never a parameter. A row's key is its natural
 * key in the view, so that a changed figure is an update of the same key;
 * rows the view repeats under one natural key get their contents' hash
 * appended. */
#define VIEW_ROWS_SQL(natural_key, view)                                       \
    "SELECT coalesce(jsonb_agg(jsonb_build_object("                            \
    "           'key', k || CASE WHEN n > 1 THEN '#' || md5(j::text)"          \
    "                            ELSE '' END,"                                 \
    "           'ward', coalesce(j->>'ward', j->>'org_unit', ''),"             \
    "           'data', j)), '[]')::text"                                      \
    "  FROM (SELECT j, k, count(*) OVER (PARTITION BY k) AS n"                 \
    "          FROM (SELECT to_jsonb(v) AS j, " natural_key " AS k"            \
    "                  FROM " view " v) x) y"

/* ballot_aggregates is refreshed in SQL, part by part: only the rounds and
 * wards whose inputs changed since the last refresh are recomputed and
 * merged, under the change-number lock it takes itself after computing
 * them (sql/012_incremental_aggregates.sql). */
static const struct db_statement REFRESH_BALLOT_AGGREGATES = {
    "read_refresh_ballot_aggregates", 0,
    "SELECT parts, changed FROM ballot_aggregates_refresh()"};

static const struct db_statement VIEW_INDICATORS = {
    "read_view_indicators", 0,
    VIEW_ROWS_SQL("concat_ws('/', to_jsonb(v)->>'code', "
                  "to_jsonb(v)->>'org_unit', to_jsonb(v)->>'period')",
                  "published.indicators")};

/* An inspection is named by its sender and code; a rotation fact by its
 * sender and row id (the cadre's code is not in the view). */
static const struct db_statement VIEW_INSPECTIONS = {
    "read_view_inspections", 0,
    VIEW_ROWS_SQL("concat_ws('/', to_jsonb(v)->>'ward', "
                  "to_jsonb(v)->>'inspection')",
                  "published.inspections")};

static const struct db_statement VIEW_ROTATIONS = {
    "read_view_rotations", 0,
    VIEW_ROWS_SQL("concat_ws('/', to_jsonb(v)->>'ward', "
                  "to_jsonb(v)->>'record')",
                  "published.rotations")};

/* Reads the rows of rows_stmt (VIEW_ROWS_SQL, with values) and makes the
 * snapshot of dataset equal to them. The view first, outside the lock:
 * computing it is the slow part, and an ingest transaction waits for the
 * lock. */
static int snapshot_store(struct db *db, const char *dataset,
                          const struct db_statement *rows_stmt,
                          const char *const *rows_values, char *err,
                          size_t errlen)
{
    PGresult *res = NULL;
    int rc = db_exec(db, rows_stmt, rows_values, NULL, NULL, &res, err, errlen);
    if (rc < 0)
        return rc;
    const char *values[] = {dataset, PQgetvalue(res, 0, 0)};
    rc = db_command(db, "BEGIN", err, errlen);
    if (rc == 0)
        rc = db_run(db, &CHANGE_LOCK, NULL, err, errlen);
    if (rc == 0)
        rc = db_run(db, &SNAPSHOT_UPSERT, values, err, errlen);
    if (rc == 0)
        rc = db_run(db, &SNAPSHOT_CREATED, values, err, errlen);
    if (rc == 0)
        rc = db_run(db, &SNAPSHOT_DELETE, values, err, errlen);
    if (rc == 0)
        rc = db_commit(db, err, errlen);
    else
        db_rollback(db);
    PQclear(res);
    return rc;
}

int db_read_snapshot_refresh(struct db *db, const char *dataset,
                             const char *view, char *err, size_t errlen)
{
    /* NULL: ballot_aggregates, refreshed in SQL. */
    const struct db_statement *rows_stmt = NULL;
    if (strcmp(view, "published.indicators") == 0)
        rows_stmt = &VIEW_INDICATORS;
    else if (strcmp(view, "published.inspections") == 0)
        rows_stmt = &VIEW_INSPECTIONS;
    else if (strcmp(view, "published.rotations") == 0)
        rows_stmt = &VIEW_ROTATIONS;
    else if (strcmp(view, "published.ballot_aggregates") != 0) {
        snprintf(err, errlen, "unknown view \"%s\"", view);
        return -EINVAL;
    }
    bool exists = false;
    int rc = db_read_relation_exists(db, view, &exists, err, errlen);
    if (rc < 0)
        return rc;
    if (!exists) {
        snprintf(err, errlen, "%s does not exist", view);
        return -ENOENT;
    }
    if (!rows_stmt)
        return db_run(db, &REFRESH_BALLOT_AGGREGATES, NULL, err, errlen);
    return snapshot_store(db, dataset, rows_stmt, NULL, err, errlen);
}

/* published.indicators as of day $1 (sql/011_petition_pages.sql). */
static const struct db_statement VIEW_INDICATORS_AS_OF = {
    "read_view_indicators_as_of", 1,
    VIEW_ROWS_SQL("concat_ws('/', to_jsonb(v)->>'code', "
                  "to_jsonb(v)->>'org_unit', to_jsonb(v)->>'period')",
                  "published_indicator_rows($1::date)")};

int db_read_snapshot_refresh_indicators_as_of(struct db *db,
                                              const char *dataset,
                                              const char *as_of, char *err,
                                              size_t errlen)
{
    const char *values[] = {as_of};
    return snapshot_store(db, dataset, &VIEW_INDICATORS_AS_OF, values, err,
                          errlen);
}

static const struct db_statement SOURCE_SIGNATURE = {
    "read_source_signature", 0,
    "SELECT version || '/' || current_date FROM pull_published_version"};

int db_read_source_signature(struct db *db, char *out, size_t cap, char *err,
                             size_t errlen)
{
    return query_text(db, &SOURCE_SIGNATURE, NULL, out, cap, err, errlen);
}

static const struct db_statement ANALYZE_STALE = {
    "read_analyze_stale", 0, "SELECT array_to_string(analyze_stale(), ',')"};

int db_read_analyze_stale(struct db *db, char *out, size_t cap, char *err,
                          size_t errlen)
{
    return query_text(db, &ANALYZE_STALE, NULL, out, cap, err, errlen);
}

static const struct db_statement VIEW_COLUMNS = {
    "read_view_columns", 1,
    "SELECT column_name::text AS name"
    "  FROM information_schema.columns"
    " WHERE table_schema = 'published' AND table_name = $1"
    " ORDER BY ordinal_position"};

int db_read_view_columns(struct db *db, const char *view_name,
                         struct db_table *out, char *err, size_t errlen)
{
    const char *values[] = {view_name};
    return query_table(db, &VIEW_COLUMNS, values, out, err, errlen);
}

static const struct db_statement PULL_VERSION = {
    "read_pull_version", 0,
    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
    "  FROM pull_change_seq"};

int db_read_pull_version(struct db *db, uint64_t *version, char *err,
                         size_t errlen)
{
    char text[24];
    int rc =
        query_text(db, &PULL_VERSION, NULL, text, sizeof text, err, errlen);
    if (rc == 0)
        *version = strtoull(text, NULL, 10);
    return rc;
}

/* ---- status ---- */

/* Every unit that should report: the wards and district offices of the
 * org-unit file, every ward key enrolled and not revoked, every outbox
 * seen. One row per unit and agent instance, the unit's current instance
 * first (the newest that delivered anything, else the newest); a unit
 * never seen has one row without an instance. state: NEVER, SILENT (no
 * contact from any of its instances for $1 seconds), ok, RETIRED (an
 * older instance, once a newer one delivered) or NEW (a newer instance
 * that has not delivered yet). silent: the unit counts as silent (its
 * first row only). */
static const struct db_statement STATUS_AGENTS = {
    "read_status_agents", 1,
    "WITH units (ward) AS ("
    "  SELECT code FROM org_units WHERE kind IN ('ward', 'district')"
    "  UNION SELECT substr(principal, 6) FROM principal_keys"
    "         WHERE principal LIKE 'ward:%' AND revoked_at IS NULL"
    "  UNION SELECT ward FROM agents"
    "), instances AS ("
    "  SELECT a.*,"
    "         row_number() OVER (PARTITION BY a.ward"
    "                            ORDER BY a.committed_through > 0 DESC,"
    "                                     a.first_contact DESC,"
    "                                     a.agent_instance) AS rank,"
    "         max(a.last_contact) OVER (PARTITION BY a.ward) AS unit_contact,"
    "         max(a.first_contact) FILTER (WHERE a.committed_through > 0)"
    "             OVER (PARTITION BY a.ward) AS newest_delivering"
    "    FROM agents a"
    ")"
    "SELECT u.ward, coalesce(o.name, '') AS name,"
    "       coalesce(i.agent_instance, '') AS agent_instance,"
    "       coalesce(i.committed_through, 0) AS committed_through,"
    "       to_char(i.first_contact, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "           AS first_contact,"
    "       to_char(i.last_contact, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    "           AS last_contact,"
    "       floor(extract(epoch FROM now() - i.last_contact))::bigint"
    "           AS lag_seconds,"
    "       coalesce(i.backlog, 0) AS backlog,"
    "       coalesce(i.accepted, 0) AS accepted,"
    "       coalesce(i.duplicate, 0) AS duplicate,"
    "       coalesce(i.conflict, 0) AS conflict,"
    "       coalesce(i.rejected, 0) AS rejected,"
    "       CASE WHEN i.ward IS NULL THEN 'NEVER'"
    "            WHEN i.rank > 1 AND i.first_contact < i.newest_delivering"
    "                 THEN 'RETIRED'"
    "            WHEN i.rank > 1 THEN 'NEW'"
    "            WHEN now() - i.unit_contact"
    "                 > make_interval(secs => $1::bigint) THEN 'SILENT'"
    "            ELSE 'ok' END AS state,"
    "       (i.ward IS NULL OR (i.rank = 1 AND now() - i.unit_contact"
    "                           > make_interval(secs => $1::bigint)))"
    "           AS silent"
    "  FROM units u"
    "  LEFT JOIN org_units o ON o.code = u.ward"
    "  LEFT JOIN instances i ON i.ward = u.ward"
    " ORDER BY u.ward, i.rank"};

int db_read_status_agents(struct db *db, long silent_after_s,
                          struct db_table *out, char *err, size_t errlen)
{
    char secs[24];
    snprintf(secs, sizeof secs, "%ld", silent_after_s);
    const char *values[] = {secs};
    return query_table(db, &STATUS_AGENTS, values, out, err, errlen);
}

/* ---- report ---- */

static const struct db_statement REPORT[DB_REPORT_N_QUERIES] = {
    [DB_REPORT_WARDS] = {"read_report_wards", 0,
                         "SELECT code, name, kind FROM org_units"
                         " WHERE kind IN ('ward', 'district')"
                         " ORDER BY kind DESC, code"},
    /* Answers per content group and level over every ballot, from the
     * rating tallies (a read of a few hundred rows, not of every rating);
     * ballots is the number of ballots behind the cell (those on a form
     * with items in the group), for suppression. */
    [DB_REPORT_BALLOT_LEVELS] =
        {"read_report_ballot_levels", 0,
         "WITH cells AS ("
         "  SELECT i.group_code, x.level,"
         "         sum(CASE x.level WHEN 1 THEN u.n1 WHEN 2 THEN u.n2"
         "             ELSE u.n3 END) AS answers"
         "    FROM ballot_level_counts c"
         "    JOIN ballot_counts bc USING (survey, ward, subject,"
         "                                 respondent_group)"
         "   CROSS JOIN LATERAL unnest(c.n1, c.n2, c.n3) WITH ORDINALITY"
         "         AS u (n1, n2, n3, item)"
         "    JOIN catalogue_items i ON i.form = bc.form AND i.number = u.item"
         "   CROSS JOIN (VALUES (1), (2), (3)) AS x (level)"
         "   GROUP BY i.group_code, x.level"
         "), ballots AS ("
         "  SELECT f.group_code, sum(bc.ballots) AS ballots"
         "    FROM ballot_counts bc"
         "    JOIN (SELECT DISTINCT form, group_code FROM catalogue_items) f"
         "      ON f.form = bc.form"
         "   GROUP BY f.group_code"
         ")"
         "SELECT c.group_code, g.label, c.level, c.answers, b.ballots"
         "  FROM cells c"
         "  JOIN catalogue_groups g ON g.code = c.group_code"
         "  JOIN ballots b ON b.group_code = c.group_code"
         " WHERE c.answers > 0"
         " ORDER BY c.group_code, c.level"},
    [DB_REPORT_RECEPTION_WEEKS] =
        {"read_report_reception_weeks", 0,
         "SELECT to_char(date_trunc('week', held_on), 'IYYY-\"W\"IW') AS week,"
         "       count(*) AS sessions, sum(citizens) AS citizens"
         "  FROM reception_sessions"
         " GROUP BY 1 ORDER BY 1"},
};

int db_read_report(struct db *db, enum db_report_query q, struct db_table *out,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if ((int)q < 0 || q >= DB_REPORT_N_QUERIES) {
        snprintf(err, errlen, "unknown report query %d", (int)q);
        return -EINVAL;
    }
    return query_table(db, &REPORT[q], NULL, out, err, errlen);
}
