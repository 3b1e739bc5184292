/*
 * store.c - every conversation with PostgreSQL.
 *
 * All SQL of the hub lives in the statement table below, so a reader sees
 * in one place what the hub can do to its database, and so the indicator
 * query can later be swapped for a read of tally tables maintained in the
 * batch transaction (DESIGN §5) without touching the report code.
 *
 * Values travel as parameters only. Text parameters are checked to be
 * UTF-8 first (PostgreSQL would refuse invalid bytes and abort the batch),
 * payloads go in binary format.
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

/* Milliseconds since the epoch, as a timestamptz, exactly (no float). */
#define MS_TO_TIMESTAMPTZ(p)                                                   \
    "(timestamptz 'epoch' + " p "::bigint * interval '1 millisecond')"

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
    ST_ORG_UNIT_KIND,
    ST_AGENT_ENSURE,
    ST_AGENT_LOCK,
    ST_AGENT_UPDATE,
    ST_EVENT_INSERT,
    ST_EVENT_SAME_PAYLOAD,
    ST_REJECTED_INSERT,
    ST_REJECTED_LOOKUP,
    ST_BALLOT_INSERT,
    ST_BALLOT_LEVELS_INSERT,
    ST_PETITION_HISTORY_INSERT,
    ST_PETITION_UPSERT,
    ST_RECEPTION_UPSERT,
    ST_REMEDIATION_UPSERT,
    ST_INDICATOR_COUNTS,
    ST_COUNT
};

struct statement {
    const char *name;
    int n_params;
    const char *sql;
};

/* The indicator counts (DESIGN §7), one statement. Scope rows: each ward
 * counts itself; "<district>-office" counts the district office's own
 * events (its agent uses the district code as ward); "<district>" is the
 * rollup over the office and all its wards. Period filters: ballots by
 * collected_on, petitions by received_on (a cohort: in_jurisdiction =
 * resolved + in_progress + withdrawn + transferred ones), reception by
 * held_on; $1 and $2 bound [from, to), NULL meaning unbounded. */
static const char INDICATOR_SQL[] =
    "WITH scope (org_unit, name, unit_kind, sort_key, member) AS ("
    "  SELECT u.code, u.name, 'ward', coalesce(u.parent, '') || '/0/' ||"
    "         u.code, u.code"
    "    FROM org_units u WHERE u.kind = 'ward'"
    "  UNION ALL"
    "  SELECT d.code || '-office', d.name, 'office', d.code || '/1', d.code"
    "    FROM org_units d WHERE d.kind = 'district'"
    "  UNION ALL"
    "  SELECT d.code, d.name, 'rollup', d.code || '/2', m.code"
    "    FROM org_units d JOIN org_units m"
    "      ON m.code = d.code OR (m.parent = d.code AND m.kind = 'ward')"
    "   WHERE d.kind = 'district'"
    "), codes (code, ord) AS ("
    "  VALUES ('ballots_received', 1), ('petitions_received', 2),"
    "         ('petitions_in_jurisdiction', 3), ('petitions_resolved', 4),"
    "         ('petitions_in_progress', 5), ('reception_sessions', 6),"
    "         ('reception_citizens', 7)"
    "), counts (code, ward, n) AS ("
    "  SELECT 'ballots_received', b.ward, count(*)"
    "    FROM ballots b"
    "   WHERE ($1::date IS NULL OR b.collected_on >= $1::date)"
    "     AND ($2::date IS NULL OR b.collected_on < $2::date)"
    "   GROUP BY b.ward"
    "  UNION ALL"
    "  SELECT v.code, p.ward, v.n"
    "    FROM (SELECT ward, count(*) AS received,"
    "                 count(*) FILTER (WHERE in_jurisdiction) AS in_jur,"
    "                 count(*) FILTER (WHERE in_jurisdiction"
    "                                    AND status = 'resolved') AS resolved,"
    "                 count(*) FILTER (WHERE in_jurisdiction AND status NOT IN"
    "                   ('resolved', 'withdrawn', 'transferred')) AS open"
    "            FROM petitions"
    "           WHERE ($1::date IS NULL OR received_on >= $1::date)"
    "             AND ($2::date IS NULL OR received_on < $2::date)"
    "           GROUP BY ward) p"
    "   CROSS JOIN LATERAL (VALUES ('petitions_received', p.received),"
    "                              ('petitions_in_jurisdiction', p.in_jur),"
    "                              ('petitions_resolved', p.resolved),"
    "                              ('petitions_in_progress', p.open)) v (code, "
    "n)"
    "  UNION ALL"
    "  SELECT v.code, r.ward, v.n"
    "    FROM (SELECT ward, count(*) AS sessions, sum(citizens) AS citizens"
    "            FROM reception_sessions"
    "           WHERE ($1::date IS NULL OR held_on >= $1::date)"
    "             AND ($2::date IS NULL OR held_on < $2::date)"
    "           GROUP BY ward) r"
    "   CROSS JOIN LATERAL (VALUES ('reception_sessions', r.sessions),"
    "                              ('reception_citizens', r.citizens))"
    "         v (code, n)"
    ")"
    "SELECT c.code, s.org_unit, s.name, s.unit_kind,"
    "       coalesce(sum(n.n), 0)::bigint"
    "  FROM codes c CROSS JOIN scope s"
    "  LEFT JOIN counts n ON n.code = c.code AND n.ward = s.member"
    " GROUP BY c.code, c.ord, s.org_unit, s.name, s.unit_kind, s.sort_key"
    " ORDER BY c.ord, s.sort_key";

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
    [ST_ORG_UNIT_KIND] = {"org_unit_kind", 1,
                          "SELECT kind FROM org_units WHERE code = $1"},
    [ST_AGENT_ENSURE] = {"agent_ensure", 2,
                         "INSERT INTO agents (ward, agent_instance)"
                         " VALUES ($1, $2) ON CONFLICT DO NOTHING"},
    [ST_AGENT_LOCK] = {"agent_lock", 2,
                       "SELECT committed_through FROM agents"
                       " WHERE ward = $1 AND agent_instance = $2"
                       " FOR UPDATE"},
    [ST_AGENT_UPDATE] = {"agent_update", 8,
                         "UPDATE agents SET committed_through = $3::bigint,"
                         " last_contact = now(), backlog = $4::bigint,"
                         " accepted = accepted + $5::bigint,"
                         " duplicate = duplicate + $6::bigint,"
                         " conflict = conflict + $7::bigint,"
                         " rejected = rejected + $8::bigint"
                         " WHERE ward = $1 AND agent_instance = $2"},
    [ST_EVENT_INSERT] =
        {"event_insert", 8,
         "INSERT INTO events (event_id, ward, agent_instance, seq, kind,"
         " occurred_at, queued_at, payload, payload_sha256)"
         " VALUES ($1::uuid, $2, $3, $4::bigint, $5,"
         " " MS_TO_TIMESTAMPTZ("$6") ","
         " " MS_TO_TIMESTAMPTZ("$7") ","
         " $8::bytea, sha256($8::bytea))"
         " ON CONFLICT (event_id) DO NOTHING RETURNING 1"},
    [ST_EVENT_SAME_PAYLOAD] =
        {"event_same_payload", 2,
         "SELECT payload_sha256 = sha256($2::bytea) FROM events"
         " WHERE event_id = $1::uuid"},
    [ST_REJECTED_INSERT] =
        {"rejected_insert", 7,
         "INSERT INTO rejected_events"
         " (ward, agent_instance, seq, event_id, kind, reason, payload)"
         " VALUES ($1, $2, $3::bigint, $4, $5, $6, $7::bytea)"},
    /* A resent event that was rejected the first time is answered with
     * its first outcome again, not as a plain duplicate: the Ack holding
     * the rejection may have been lost on its way to the ward. */
    [ST_REJECTED_LOOKUP] =
        {"rejected_lookup", 3,
         "SELECT reason FROM rejected_events"
         " WHERE ward = $1 AND agent_instance = $2 AND seq = $3::bigint"
         " ORDER BY id LIMIT 1"},
    [ST_BALLOT_INSERT] =
        {"ballot_insert", 7,
         "INSERT INTO ballots (event_id, ward, survey, form, subject,"
         " respondent_group, collected_on)"
         " VALUES ($1::uuid, $2, $3, $4, $5, $6::smallint,"
         " (" MS_TO_TIMESTAMPTZ("$7") " AT TIME ZONE 'UTC')::date)"},
    [ST_BALLOT_LEVELS_INSERT] =
        {"ballot_levels_insert", 2,
         "INSERT INTO ballot_levels (event_id, item, level)"
         " SELECT $1::uuid, t.item, t.level"
         " FROM unnest($2::smallint[]) WITH ORDINALITY AS t (level, item)"},
    [ST_PETITION_HISTORY_INSERT] =
        {"petition_history_insert", 11,
         "INSERT INTO petition_history (event_id, ward, petition, kind,"
         " channel, status, in_jurisdiction, received_on, due_on, note,"
         " occurred_at)"
         " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::boolean, $8::date,"
         " NULLIF($9, '')::date, $10, " MS_TO_TIMESTAMPTZ("$11") ")"},
    /* The current state moves only forward: an event older (by occurred_at,
     * then seq) than the stored state is history, not state. */
    [ST_PETITION_UPSERT] =
        {"petition_upsert", 12,
         "INSERT INTO petitions (ward, petition, kind, channel, status,"
         " in_jurisdiction, received_on, due_on, note, updated_at, last_seq,"
         " last_event_id)"
         " VALUES ($2, $3, $4, $5, $6, $7::boolean, $8::date,"
         " NULLIF($9, '')::date, $10, " MS_TO_TIMESTAMPTZ(
             "$11") ","
                    " $12::bigint, $1::uuid)"
                    " ON CONFLICT (ward, petition) DO UPDATE SET kind = "
                    "EXCLUDED.kind,"
                    " channel = EXCLUDED.channel, status = EXCLUDED.status,"
                    " in_jurisdiction = EXCLUDED.in_jurisdiction,"
                    " received_on = EXCLUDED.received_on, due_on = "
                    "EXCLUDED.due_on,"
                    " note = EXCLUDED.note, updated_at = EXCLUDED.updated_at,"
                    " last_seq = EXCLUDED.last_seq,"
                    " last_event_id = EXCLUDED.last_event_id"
                    " WHERE (petitions.updated_at, petitions.last_seq)"
                    "     < (EXCLUDED.updated_at, EXCLUDED.last_seq)"},
    [ST_RECEPTION_UPSERT] =
        {"reception_upsert", 10,
         "INSERT INTO reception_sessions (ward, session, held_on, host_role,"
         " mode, citizens, petitions, updated_at, last_seq, last_event_id)"
         " VALUES ($2, $3, $4::date, $5, $6, $7::integer, $8::integer,"
         " " MS_TO_TIMESTAMPTZ(
             "$9") ", $10::bigint, $1::uuid)"
                   " ON CONFLICT (ward, session) DO UPDATE SET"
                   " held_on = EXCLUDED.held_on, host_role = "
                   "EXCLUDED.host_role,"
                   " mode = EXCLUDED.mode, citizens = EXCLUDED.citizens,"
                   " petitions = EXCLUDED.petitions, updated_at = "
                   "EXCLUDED.updated_at,"
                   " last_seq = EXCLUDED.last_seq,"
                   " last_event_id = EXCLUDED.last_event_id"
                   " WHERE (reception_sessions.updated_at, "
                   "reception_sessions.last_seq)"
                   "     < (EXCLUDED.updated_at, EXCLUDED.last_seq)"},
    [ST_REMEDIATION_UPSERT] =
        {"remediation_upsert", 8,
         "INSERT INTO remediation_plans (ward, survey, subject, status,"
         " due_on, updated_at, last_seq, last_event_id)"
         " VALUES ($2, $3, $4, $5, NULLIF($6, '')::date,"
         " " MS_TO_TIMESTAMPTZ(
             "$7") ", $8::bigint, $1::uuid)"
                   " ON CONFLICT (ward, survey, subject) DO UPDATE SET"
                   " status = EXCLUDED.status, due_on = EXCLUDED.due_on,"
                   " updated_at = EXCLUDED.updated_at, last_seq = "
                   "EXCLUDED.last_seq,"
                   " last_event_id = EXCLUDED.last_event_id"
                   " WHERE (remediation_plans.updated_at, "
                   "remediation_plans.last_seq)"
                   "     < (EXCLUDED.updated_at, EXCLUDED.last_seq)"},
    [ST_INDICATOR_COUNTS] = {"indicator_counts", 2, INDICATOR_SQL},
};
/* clang-format on */

struct store {
    PGconn *conn;
    bool prepared[ST_COUNT];
    /* Pipeline mode (store_commit_batch's fast path): statements sent but
     * not yet read, and for each whether it must return exactly one row. */
    bool pipelined;
    size_t n_queued;
    size_t cap_queued;
    bool *queued_wants_row;
    bool pipeline_refused; /* a queued statement failed or had no row */
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
    free((*st)->queued_wants_row);
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
/* pipeline: the fast path of a batch                                  */

/* Statements sent before their results are read. Bounded so that neither
 * side can block writing while the other is not reading (libpq's warning
 * about pipelines in blocking mode): a few hundred small results fit in
 * the socket buffers with room to spare. */
#define PIPELINE_CHUNK 256

/* Sends a Sync and reads the result of every statement queued since the
 * last one, in order. A statement that failed, or that should have
 * returned one row and did not, sets st->pipeline_refused (the caller then
 * rolls back and takes the careful path). Returns 0, or -EIO when the
 * connection broke. */
static int pipeline_drain(struct store *st, char *err, size_t errlen)
{
    if (PQpipelineSync(st->conn) != 1) {
        set_pq_error(err, errlen, "could not sync pipeline",
                     PQerrorMessage(st->conn));
        return -EIO;
    }
    size_t next = 0;
    int nulls = 0;
    for (;;) {
        PGresult *res = PQgetResult(st->conn);
        if (!res) {
            /* One NULL ends each statement's results; two in a row before
             * the Sync means nothing more will come. */
            if (++nulls > 1 || PQstatus(st->conn) != CONNECTION_OK) {
                set_pq_error(err, errlen, "pipeline broken",
                             PQerrorMessage(st->conn));
                return -EIO;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
        if (ok && next < st->n_queued && st->queued_wants_row[next] &&
            PQntuples(res) != 1)
            ok = false;
        if (!ok && !st->pipeline_refused) {
            const char *primary =
                PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            ws_debug(MODULE, "fast path refused, redoing batch carefully: %s",
                     primary ? primary : "an event_id is already stored");
            st->pipeline_refused = true;
        }
        next++;
        PQclear(res);
    }
    st->n_queued = 0;
    if (PQstatus(st->conn) != CONNECTION_OK) {
        set_pq_error(err, errlen, "connection lost", PQerrorMessage(st->conn));
        return -EIO;
    }
    return 0;
}

/* Sends a prepared statement into the pipeline without waiting for it.
 * Returns 0, or -EIO / -ENOMEM. */
static int pipeline_queue(struct store *st, enum stmt_id id,
                          const char *const *values, const int *lengths,
                          const int *formats, bool wants_row, char *err,
                          size_t errlen)
{
    if (st->n_queued == st->cap_queued) {
        size_t cap = st->cap_queued ? st->cap_queued * 2 : PIPELINE_CHUNK;
        bool *grown = realloc(st->queued_wants_row, cap * sizeof *grown);
        if (!grown) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        st->queued_wants_row = grown;
        st->cap_queued = cap;
    }
    const struct statement *s = &STATEMENTS[id];
    if (PQsendQueryPrepared(st->conn, s->name, s->n_params, values, lengths,
                            formats, 0) != 1) {
        set_pq_error(err, errlen, s->name, PQerrorMessage(st->conn));
        return -EIO;
    }
    st->queued_wants_row[st->n_queued++] = wants_row;
    if (st->n_queued >= PIPELINE_CHUNK)
        return pipeline_drain(st, err, errlen);
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

/* ------------------------------------------------------------------ */
/* ingest                                                              */

int store_org_unit_kind(struct store *st, const char *code, const char **kind,
                        char *err, size_t errlen)
{
    const char *values[] = {code};
    *kind = NULL;
    PGresult *res =
        exec_stmt(st, ST_ORG_UNIT_KIND, values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    if (PQntuples(res) == 1) {
        const char *k = PQgetvalue(res, 0, 0);
        if (strcmp(k, "ward") == 0)
            *kind = "ward";
        else if (strcmp(k, "district") == 0)
            *kind = "district";
        else if (strcmp(k, "city") == 0)
            *kind = "city";
    }
    PQclear(res);
    return 0;
}

/* Copies text into out for a text column: unchanged when it is valid UTF-8
 * without control bytes and fits, otherwise with every doubtful byte
 * written as \xNN, truncated to fit. Network input must not be able to make
 * the INSERT that records it fail. */
static void safe_text(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    bool clean = len < cap && ws_utf8_valid(in, len);
    for (size_t i = 0; clean && i < len; i++)
        if ((unsigned char)in[i] < 0x20 && in[i] != '\t')
            clean = false;
    if (clean) {
        memcpy(out, in, len + 1);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

struct event_ctx {
    struct store *st;
    const char *ward;
    const char *agent_instance;
    const Wardsync__V1__Event *event;
    char seq[24];
    char occurred_ms[24];
    char queued_ms[24];
    char event_id[WS_UUID_LEN + 1];
};

/* Runs a statement of an event's: at once on the careful path, queued in
 * the pipeline on the fast path (where its failure shows at the drain).
 * Returns 0, or -EIO / -ENOMEM with the reason in err. */
static int event_stmt(struct event_ctx *ctx, enum stmt_id id,
                      const char *const *values, const int *lengths,
                      const int *formats, char *err, size_t errlen)
{
    if (ctx->st->pipelined)
        return pipeline_queue(ctx->st, id, values, lengths, formats, false, err,
                              errlen);
    PGresult *res =
        exec_stmt(ctx->st, id, values, lengths, formats, err, errlen);
    if (!res)
        return -EIO;
    PQclear(res);
    return 0;
}

/* Records the event in rejected_events with reason; the whole event as
 * received (with its seq) is kept as payload for review. */
static int store_rejected(struct event_ctx *ctx, const char *reason, char *err,
                          size_t errlen)
{
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (ws_pack(&ctx->event->base, &raw, &raw_len) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char event_id[128], safe_reason[512];
    safe_text(ctx->event->event_id, event_id, sizeof event_id);
    safe_text(reason, safe_reason, sizeof safe_reason);
    const char *values[] = {
        ctx->ward,        ctx->agent_instance,       ctx->seq,
        event_id,         ws_event_kind(ctx->event), safe_reason,
        (const char *)raw};
    const int lengths[] = {0, 0, 0, 0, 0, 0, (int)raw_len};
    const int formats[] = {0, 0, 0, 0, 0, 0, 1};
    int rc = event_stmt(ctx, ST_REJECTED_INSERT, values, lengths, formats, err,
                        errlen);
    free(raw);
    return rc;
}

static int store_ballot(struct event_ctx *ctx, char *err, size_t errlen)
{
    const Wardsync__V1__Ballot *b = ctx->event->ballot;
    char group[16];
    snprintf(group, sizeof group, "%" PRIu32, b->respondent_group);
    const char *values[] = {ctx->event_id, ctx->ward, b->survey,       b->form,
                            b->subject,    group,     ctx->occurred_ms};
    if (event_stmt(ctx, ST_BALLOT_INSERT, values, NULL, NULL, err, errlen) < 0)
        return -EIO;

    /* "{1,2,3,...}": digits only (levels were validated to be 1..3). */
    size_t cap = 3 + b->n_levels * 12;
    char *array = malloc(cap);
    if (!array) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t o = 0;
    array[o++] = '{';
    for (size_t i = 0; i < b->n_levels; i++)
        o += (size_t)snprintf(array + o, cap - o, "%s%" PRIu32, i ? "," : "",
                              b->levels[i]);
    array[o++] = '}';
    array[o] = '\0';
    const char *level_values[] = {ctx->event_id, array};
    int rc = event_stmt(ctx, ST_BALLOT_LEVELS_INSERT, level_values, NULL, NULL,
                        err, errlen);
    free(array);
    return rc;
}

static int store_petition(struct event_ctx *ctx, char *err, size_t errlen)
{
    const Wardsync__V1__PetitionEvent *p = ctx->event->petition;
    const char *values[] = {ctx->event_id,
                            ctx->ward,
                            p->petition,
                            ws_petition_kind_name(p->kind),
                            ws_petition_channel_name(p->channel),
                            ws_petition_status_name(p->status),
                            p->in_jurisdiction ? "true" : "false",
                            p->received_on,
                            p->due_on,
                            p->note,
                            ctx->occurred_ms,
                            ctx->seq};
    if (event_stmt(ctx, ST_PETITION_HISTORY_INSERT, values, NULL, NULL, err,
                   errlen) < 0)
        return -EIO;
    return event_stmt(ctx, ST_PETITION_UPSERT, values, NULL, NULL, err, errlen);
}

static int store_reception(struct event_ctx *ctx, char *err, size_t errlen)
{
    const Wardsync__V1__ReceptionSession *r = ctx->event->reception;
    char citizens[16], petitions[16];
    snprintf(citizens, sizeof citizens, "%" PRIu32, r->citizens);
    snprintf(petitions, sizeof petitions, "%" PRIu32, r->petitions);
    const char *values[] = {ctx->event_id,
                            ctx->ward,
                            r->session,
                            r->held_on,
                            ws_host_role_name(r->host_role),
                            ws_reception_mode_name(r->mode),
                            citizens,
                            petitions,
                            ctx->occurred_ms,
                            ctx->seq};
    return event_stmt(ctx, ST_RECEPTION_UPSERT, values, NULL, NULL, err,
                      errlen);
}

static int store_remediation(struct event_ctx *ctx, char *err, size_t errlen)
{
    const Wardsync__V1__RemediationUpdate *r = ctx->event->remediation;
    const char *values[] = {ctx->event_id,
                            ctx->ward,
                            r->survey,
                            r->subject,
                            ws_remediation_status_name(r->status),
                            r->due_on,
                            ctx->occurred_ms,
                            ctx->seq};
    return event_stmt(ctx, ST_REMEDIATION_UPSERT, values, NULL, NULL, err,
                      errlen);
}

enum event_fate {
    FATE_STORED,
    FATE_SAME_PAYLOAD, /* event_id already stored with this payload */
    FATE_CONFLICT,     /* event_id already stored with another payload */
};

/* Inserts the event into events and its typed table. Returns a fate, or
 * -EIO / -ENOMEM with the reason in err (the caller rolls back to its
 * savepoint). */
static int insert_event(struct event_ctx *ctx, char *err, size_t errlen)
{
    const Wardsync__V1__Event *ev = ctx->event;

    /* The stored payload is the fact, not its place in an outbox. */
    Wardsync__V1__Event fact = *ev;
    fact.seq = 0;
    fact.queued_at_ms = 0;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    if (ws_pack(&fact.base, &payload, &payload_len) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }

    int rc;
    const char *values[] = {ctx->event_id,       ctx->ward,
                            ctx->agent_instance, ctx->seq,
                            ws_event_kind(ev),   ctx->occurred_ms,
                            ctx->queued_ms,      (const char *)payload};
    const int lengths[] = {0, 0, 0, 0, 0, 0, 0, (int)payload_len};
    const int formats[] = {0, 0, 0, 0, 0, 0, 0, 1};
    if (ctx->st->pipelined) {
        /* Fast path: the insert must return its row (the event_id is new);
         * if it does not, the drain sends the batch to the careful path,
         * which sorts out duplicates and conflicts. */
        rc = pipeline_queue(ctx->st, ST_EVENT_INSERT, values, lengths, formats,
                            true, err, errlen);
        if (rc < 0)
            goto out_payload;
        goto typed;
    }
    PGresult *res = exec_stmt(ctx->st, ST_EVENT_INSERT, values, lengths,
                              formats, err, errlen);
    if (!res) {
        rc = -EIO;
        goto out_payload;
    }
    bool inserted = PQntuples(res) == 1;
    PQclear(res);

    if (!inserted) {
        const char *same_values[] = {ctx->event_id, (const char *)payload};
        const int same_lengths[] = {0, (int)payload_len};
        const int same_formats[] = {0, 1};
        res = exec_stmt(ctx->st, ST_EVENT_SAME_PAYLOAD, same_values,
                        same_lengths, same_formats, err, errlen);
        if (!res) {
            rc = -EIO;
            goto out_payload;
        }
        bool same = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        rc = same ? FATE_SAME_PAYLOAD : FATE_CONFLICT;
        goto out_payload;
    }

typed:
    switch (ev->body_case) {
    case WARDSYNC__V1__EVENT__BODY_BALLOT:
        rc = store_ballot(ctx, err, errlen);
        break;
    case WARDSYNC__V1__EVENT__BODY_PETITION:
        rc = store_petition(ctx, err, errlen);
        break;
    case WARDSYNC__V1__EVENT__BODY_RECEPTION:
        rc = store_reception(ctx, err, errlen);
        break;
    case WARDSYNC__V1__EVENT__BODY_REMEDIATION:
        rc = store_remediation(ctx, err, errlen);
        break;
    default:
        snprintf(err, errlen, "body: not set");
        rc = -EINVAL;
        break;
    }
    if (rc == 0)
        rc = FATE_STORED;

out_payload:
    free(payload);
    return rc;
}

static void add_outcome(struct store_batch_result *result, uint64_t seq,
                        int code, const char *reason)
{
    struct store_outcome *o = &result->outcomes[result->n_outcomes++];
    o->seq = seq;
    o->code = code;
    safe_text(reason, o->reason, sizeof o->reason);
}

/* One event above the mark, inside the batch transaction. Returns 0 with
 * the outcome recorded in result, or -EIO / -ENOMEM when the transaction
 * cannot go on. */
static int commit_one_event(struct event_ctx *ctx,
                            const struct ws_catalogue *cat,
                            const char *reject_reason,
                            struct store_batch_result *result, char *err,
                            size_t errlen)
{
    const Wardsync__V1__Event *ev = ctx->event;
    char reason[512];

    if (reject_reason)
        ws_strlcpy(reason, reject_reason, sizeof reason);
    if (reject_reason ||
        ws_validate_event(ev, cat, reason, sizeof reason) != 0) {
        if (store_rejected(ctx, reason, err, errlen) < 0)
            return -EIO;
        add_outcome(result, ev->seq, WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED,
                    reason);
        result->rejected++;
        return 0;
    }
    /* Valid events have a canonical UUID: copy for the uuid parameters. */
    ws_strlcpy(ctx->event_id, ev->event_id, sizeof ctx->event_id);

    /* A savepoint per event, so that a row the database refuses (a check
     * constraint, a date out of range) rejects that event, not the batch. */
    if (exec_simple(ctx->st, "SAVEPOINT event", err, errlen) < 0)
        return -EIO;
    char detail[480];
    int fate = insert_event(ctx, detail, sizeof detail);
    if (fate == -ENOMEM) {
        snprintf(err, errlen, "%s", detail);
        return -ENOMEM;
    }
    if (fate < 0) {
        if (PQstatus(ctx->st->conn) != CONNECTION_OK) {
            snprintf(err, errlen, "%s", detail);
            return -EIO;
        }
        if (exec_simple(ctx->st, "ROLLBACK TO SAVEPOINT event", err, errlen) <
            0)
            return -EIO;
        snprintf(reason, sizeof reason, "store: %s", detail);
        if (store_rejected(ctx, reason, err, errlen) < 0)
            return -EIO;
        add_outcome(result, ev->seq, WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED,
                    reason);
        result->rejected++;
        return 0;
    }
    if (exec_simple(ctx->st, "RELEASE SAVEPOINT event", err, errlen) < 0)
        return -EIO;

    switch (fate) {
    case FATE_STORED:
        result->accepted++;
        break;
    case FATE_SAME_PAYLOAD:
        add_outcome(result, ev->seq,
                    WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE,
                    "event_id already stored with the same payload");
        result->duplicates++;
        break;
    default: {
        const char *why =
            "conflict: event_id already stored with another payload";
        if (store_rejected(ctx, why, err, errlen) < 0)
            return -EIO;
        add_outcome(result, ev->seq, WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT,
                    why);
        result->conflicts++;
        break;
    }
    }
    return 0;
}

/* Why this path (issue #3). A batch used to cost five round trips per
 * event (SAVEPOINT, INSERT events, one or two typed INSERTs, RELEASE),
 * each waiting for the server. bench/ingest/run.sh --build build-perf
 * --events 10000 --latency-seconds 10 (15 agents, 150,000 petition and
 * reception events, bare COPY ~190,000 events/s, one-row commit p99
 * 0.8-1.3 ms):
 *
 *   per-event savepoints, one statement at a time   2,410 events/s
 *     ack p50 77 ms, p99 692 ms (agents resent on their 5 s timeout)
 *   validated in C, one libpq pipeline per batch    7,860 events/s
 *     without savepoints; careful path on refusal   ack p99 10.8 ms
 *   + group commit (ingest.c), window 4 (agent)     8,330 events/s
 *                                                   ack p99 4.6 ms
 *
 * The pipeline keeps every guarantee of the careful path because it
 * cannot commit anything the careful path would not: it runs inside the
 * batch's savepoint, every result is checked before the caller commits,
 * and any surprise (a row the database refuses, an event_id already
 * stored, so a duplicate or a conflict) rolls back to the savepoint and
 * the careful path redoes the batch one event at a time. Set-based
 * inserts (one INSERT ... SELECT FROM unnest per table) were not taken:
 * the petition and reception tally triggers (004_tallies.sql) are row
 * level, so the per-row server work stays, and two changes of one
 * petition in one batch would make ON CONFLICT DO UPDATE touch a row
 * twice, an error, sending such batches to the slow path. */

/* The statements the fast path may queue: prepared before the pipeline
 * starts, since a pipeline cannot wait for a PQprepare. */
static const enum stmt_id FAST_PATH_STMTS[] = {
    ST_EVENT_INSERT,         ST_REJECTED_INSERT,         ST_BALLOT_INSERT,
    ST_BALLOT_LEVELS_INSERT, ST_PETITION_HISTORY_INSERT, ST_PETITION_UPSERT,
    ST_RECEPTION_UPSERT,     ST_REMEDIATION_UPSERT,
};

/* Fast path of the events above the mark (see store_commit_batch):
 * validated here in C, sent as one pipeline without a savepoint per event
 * and without waiting per statement. Returns 0 when the database took
 * every statement as expected (outcomes in result), 1 when it refused one
 * or an event_id was already stored (the caller rolls back to its
 * savepoint and redoes the batch carefully), or -EIO / -ENOMEM. */
static int commit_events_fast(struct event_ctx *ctx,
                              const Wardsync__V1__Batch *batch, uint64_t mark,
                              const struct ws_catalogue *cat,
                              const char *reject_reason,
                              struct store_batch_result *result, char *err,
                              size_t errlen)
{
    struct store *st = ctx->st;
    for (size_t i = 0; i < sizeof FAST_PATH_STMTS / sizeof FAST_PATH_STMTS[0];
         i++)
        if (prepare_stmt(st, FAST_PATH_STMTS[i], err, errlen) < 0)
            return -EIO;
    if (PQenterPipelineMode(st->conn) != 1) {
        set_pq_error(err, errlen, "could not enter pipeline mode",
                     PQerrorMessage(st->conn));
        return -EIO;
    }
    st->pipelined = true;
    st->n_queued = 0;
    st->pipeline_refused = false;

    int rc = 0;
    for (size_t i = 0; i < batch->n_events && rc == 0; i++) {
        const Wardsync__V1__Event *ev = batch->events[i];
        if (ev->seq <= mark)
            continue;
        ctx->event = ev;
        snprintf(ctx->seq, sizeof ctx->seq, "%" PRIu64, ev->seq);
        snprintf(ctx->occurred_ms, sizeof ctx->occurred_ms, "%" PRId64,
                 ev->occurred_at_ms);
        snprintf(ctx->queued_ms, sizeof ctx->queued_ms, "%" PRId64,
                 ev->queued_at_ms);
        ctx->event_id[0] = '\0';
        char reason[512];
        if (reject_reason)
            ws_strlcpy(reason, reject_reason, sizeof reason);
        if (reject_reason ||
            ws_validate_event(ev, cat, reason, sizeof reason) != 0) {
            rc = store_rejected(ctx, reason, err, errlen);
            if (rc == 0) {
                add_outcome(result, ev->seq,
                            WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED, reason);
                result->rejected++;
            }
            continue;
        }
        ws_strlcpy(ctx->event_id, ev->event_id, sizeof ctx->event_id);
        rc = insert_event(ctx, err, errlen);
        if (rc >= 0) {
            rc = 0;
            result->accepted++;
        }
    }
    char drain_err[256];
    int drained = pipeline_drain(st, rc < 0 ? drain_err : err,
                                 rc < 0 ? sizeof drain_err : errlen);
    st->pipelined = false;
    if (PQexitPipelineMode(st->conn) != 1 && rc == 0 && drained == 0) {
        set_pq_error(err, errlen, "could not leave pipeline mode",
                     PQerrorMessage(st->conn));
        return -EIO;
    }
    if (rc < 0)
        return rc;
    if (drained < 0)
        return -EIO;
    return st->pipeline_refused ? 1 : 0;
}

/* The outcome of an event at or below the mark, sent again: its first
 * rejection or conflict when it had one, else "duplicate". */
static int repeat_outcome(struct store *st, const char *ward,
                          const char *agent_instance, uint64_t seq,
                          struct store_batch_result *result, char *err,
                          size_t errlen)
{
    char seq_text[24];
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, seq);
    const char *values[] = {ward, agent_instance, seq_text};
    PGresult *res =
        exec_stmt(st, ST_REJECTED_LOOKUP, values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    if (PQntuples(res) == 1) {
        const char *reason = PQgetvalue(res, 0, 0);
        bool conflict = strncmp(reason, "conflict:", 9) == 0;
        add_outcome(result, seq,
                    conflict ? WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT
                             : WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED,
                    reason);
    } else {
        add_outcome(result, seq, WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE,
                    "already committed");
        result->duplicates++;
    }
    PQclear(res);
    return 0;
}

/* The seqs of a batch must be consecutive and fit PostgreSQL's bigint.
 * Returns true, or false with the refusal in result->error. */
static bool batch_seqs_ok(const Wardsync__V1__Batch *batch,
                          struct store_batch_result *result)
{
    for (size_t i = 0; i < batch->n_events; i++) {
        uint64_t seq = batch->events[i]->seq;
        if (seq == 0 || seq > (uint64_t)INT64_MAX) {
            snprintf(result->error, sizeof result->error,
                     "batch: seq %" PRIu64 " out of range 1..%" PRId64, seq,
                     INT64_MAX);
            return false;
        }
        if (i > 0 && seq != batch->events[i - 1]->seq + 1) {
            snprintf(result->error, sizeof result->error,
                     "batch: seq %" PRIu64 " follows %" PRIu64
                     ", want consecutive seqs",
                     seq, batch->events[i - 1]->seq);
            return false;
        }
    }
    return true;
}

int store_stage_batch(struct store *st, const char *ward,
                      const Wardsync__V1__Batch *batch,
                      const struct ws_catalogue *cat, const char *reject_reason,
                      struct store_batch_result *result, char *err,
                      size_t errlen)
{
    memset(result, 0, sizeof *result);
    result->outcomes =
        calloc(batch->n_events ? batch->n_events : 1, sizeof *result->outcomes);
    if (!result->outcomes) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    bool seqs_ok = batch_seqs_ok(batch, result);

    const char *agent_values[] = {ward, batch->agent_instance};
    /* A batch refused as a whole (gap, bad seqs) leaves nothing behind in
     * the group's transaction. */
    if (exec_simple(st, "SAVEPOINT batch", err, errlen) < 0)
        return -EIO;
    if (run_stmt(st, ST_AGENT_ENSURE, agent_values, err, errlen) < 0)
        return -EIO;
    PGresult *res =
        exec_stmt(st, ST_AGENT_LOCK, agent_values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    uint64_t mark =
        PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    result->committed_through = mark;

    if (!seqs_ok)
        return exec_simple(st, "ROLLBACK TO SAVEPOINT batch", err, errlen);
    if (batch->n_events > 0 && batch->events[0]->seq > mark + 1) {
        result->gap = true;
        snprintf(result->error, sizeof result->error,
                 "gap: expected seq %" PRIu64 ", got %" PRIu64, mark + 1,
                 batch->events[0]->seq);
        return exec_simple(st, "ROLLBACK TO SAVEPOINT batch", err, errlen);
    }

    struct event_ctx ctx = {
        .st = st, .ward = ward, .agent_instance = batch->agent_instance};
    size_t above_mark = 0;
    for (size_t i = 0; i < batch->n_events; i++) {
        const Wardsync__V1__Event *ev = batch->events[i];
        if (ev->seq > mark) {
            above_mark++;
            continue;
        }
        if (repeat_outcome(st, ward, batch->agent_instance, ev->seq, result,
                           err, errlen) < 0)
            return -EIO;
    }

    /* Fast path first; the careful path (a savepoint per event) only when
     * the database refused something the C checks let through. */
    bool careful = false;
    if (above_mark > 0) {
        struct store_batch_result before = *result;
        if (exec_simple(st, "SAVEPOINT batch_fast", err, errlen) < 0)
            return -EIO;
        int fast = commit_events_fast(&ctx, batch, mark, cat, reject_reason,
                                      result, err, errlen);
        if (fast < 0)
            return fast;
        if (fast == 1) {
            if (exec_simple(st, "ROLLBACK TO SAVEPOINT batch_fast", err,
                            errlen) < 0)
                return -EIO;
            result->n_outcomes = before.n_outcomes;
            result->accepted = before.accepted;
            result->duplicates = before.duplicates;
            result->conflicts = before.conflicts;
            result->rejected = before.rejected;
            careful = true;
        }
    }
    for (size_t i = 0; careful && i < batch->n_events; i++) {
        const Wardsync__V1__Event *ev = batch->events[i];
        if (ev->seq <= mark)
            continue;
        ctx.event = ev;
        snprintf(ctx.seq, sizeof ctx.seq, "%" PRIu64, ev->seq);
        snprintf(ctx.occurred_ms, sizeof ctx.occurred_ms, "%" PRId64,
                 ev->occurred_at_ms);
        snprintf(ctx.queued_ms, sizeof ctx.queued_ms, "%" PRId64,
                 ev->queued_at_ms);
        ctx.event_id[0] = '\0';
        int rc =
            commit_one_event(&ctx, cat, reject_reason, result, err, errlen);
        if (rc < 0)
            return rc;
    }

    uint64_t last =
        batch->n_events ? batch->events[batch->n_events - 1]->seq : 0;
    uint64_t new_mark = last > mark ? last : mark;
    char mark_text[24], backlog[24], accepted[24], duplicates[24],
        conflicts[24], rejected[24];
    snprintf(mark_text, sizeof mark_text, "%" PRIu64, new_mark);
    snprintf(backlog, sizeof backlog, "%" PRIu64,
             batch->backlog > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX
                                                  : batch->backlog);
    snprintf(accepted, sizeof accepted, "%zu", result->accepted);
    snprintf(duplicates, sizeof duplicates, "%zu", result->duplicates);
    snprintf(conflicts, sizeof conflicts, "%zu", result->conflicts);
    snprintf(rejected, sizeof rejected, "%zu", result->rejected);
    const char *update_values[] = {ward,      batch->agent_instance,
                                   mark_text, backlog,
                                   accepted,  duplicates,
                                   conflicts, rejected};
    if (run_stmt(st, ST_AGENT_UPDATE, update_values, err, errlen) < 0)
        return -EIO;
    if (exec_simple(st, "RELEASE SAVEPOINT batch", err, errlen) < 0)
        return -EIO;
    result->committed_through = new_mark;
    return 0;
}

int store_begin(struct store *st, char *err, size_t errlen)
{
    return exec_simple(st, "BEGIN", err, errlen);
}

int store_commit(struct store *st, char *err, size_t errlen)
{
    if (exec_commit(st, err, errlen) < 0) {
        rollback_quietly(st);
        return -EIO;
    }
    return 0;
}

void store_rollback(struct store *st)
{
    rollback_quietly(st);
}

int store_commit_batch(struct store *st, const char *ward,
                       const Wardsync__V1__Batch *batch,
                       const struct ws_catalogue *cat,
                       const char *reject_reason,
                       struct store_batch_result *result, char *err,
                       size_t errlen)
{
    memset(result, 0, sizeof *result);
    if (store_begin(st, err, errlen) < 0)
        return -EIO;
    int rc = store_stage_batch(st, ward, batch, cat, reject_reason, result, err,
                               errlen);
    if (rc < 0) {
        rollback_quietly(st);
        return rc;
    }
    return store_commit(st, err, errlen);
}

void store_batch_result_clear(struct store_batch_result *result)
{
    free(result->outcomes);
    memset(result, 0, sizeof *result);
}

/* ------------------------------------------------------------------ */
/* indicators                                                          */

int store_indicator_counts(struct store *st, const char *from, const char *to,
                           struct store_indicator_row **rows, size_t *n,
                           char *err, size_t errlen)
{
    *rows = NULL;
    *n = 0;
    const char *values[] = {from, to};
    PGresult *res =
        exec_stmt(st, ST_INDICATOR_COUNTS, values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    int n_rows = PQntuples(res);
    struct store_indicator_row *out =
        calloc(n_rows > 0 ? (size_t)n_rows : 1, sizeof *out);
    if (!out) {
        PQclear(res);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < n_rows; i++) {
        ws_strlcpy(out[i].code, PQgetvalue(res, i, 0), sizeof out[i].code);
        ws_strlcpy(out[i].org_unit, PQgetvalue(res, i, 1),
                   sizeof out[i].org_unit);
        ws_strlcpy(out[i].name, PQgetvalue(res, i, 2), sizeof out[i].name);
        ws_strlcpy(out[i].kind, PQgetvalue(res, i, 3), sizeof out[i].kind);
        out[i].count = strtoll(PQgetvalue(res, i, 4), NULL, 10);
    }
    PQclear(res);
    *rows = out;
    *n = (size_t)n_rows;
    return 0;
}
