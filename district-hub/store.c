/*
 * store.c - every conversation with PostgreSQL.
 *
 * All SQL of the hub lives in the statement table below, so a reader sees
 * in one place what the hub can do to its database, and so the indicator
 * query can later be swapped for a read of tally tables maintained in the
 * batch transaction (DESIGN §5) without touching the report code.
 *
 * Values travel as parameters, or as escaped COPY text into the ingest
 * stage (the group commit below); never inside SQL text. Text is checked
 * to be UTF-8 first (PostgreSQL would refuse invalid bytes), payloads go
 * in binary format or hex.
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

/* Milliseconds since the epoch, as a timestamptz, exactly (no float). */
#define MS_TO_TIMESTAMPTZ(p)                                                   \
    "(timestamptz 'epoch' + " p "::bigint * interval '1 millisecond')"

enum stmt_id {
    ST_ORG_UNIT_KIND,
    ST_STAGE_CREATE,
    ST_LOCK_AGENTS,
    ST_APPLY,
    ST_UPDATE_AGENTS,
    ST_EVENT_INSERT,
    ST_EVENT_SAME_PAYLOAD,
    ST_REJECTED_INSERT,
    ST_REJECTED_RANGE,
    ST_BALLOT_INSERT,
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
    [ST_ORG_UNIT_KIND] = {"org_unit_kind", 1,
                          "SELECT kind FROM org_units WHERE code = $1"},
    /* The group commit (sql/011_set_based_ingest.sql). */
    [ST_STAGE_CREATE] = {"stage_create", 0, "SELECT ingest_stage_create()"},
    [ST_LOCK_AGENTS] =
        {"lock_agents", 3,
         "SELECT ward, agent_instance, committed_through"
         " FROM ingest_lock_agents($1::text[], $2::text[], $3::boolean[])"},
    [ST_APPLY] = {"apply", 0, "SELECT ingest_apply()"},
    [ST_UPDATE_AGENTS] =
        {"update_agents", 8,
         "SELECT ingest_update_agents($1::text[], $2::text[], $3::bigint[],"
         " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],"
         " $8::bigint[])"},
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
    /* Resent events that were rejected the first time are answered with
     * their first outcome again, not as plain duplicates: the Ack holding
     * the rejection may have been lost on its way to the ward. */
    [ST_REJECTED_RANGE] =
        {"rejected_range", 4,
         "SELECT DISTINCT ON (seq) seq, reason FROM rejected_events"
         " WHERE ward = $1 AND agent_instance = $2"
         " AND seq BETWEEN $3::bigint AND $4::bigint ORDER BY seq, id"},
    [ST_BALLOT_INSERT] =
        {"ballot_insert", 8,
         "INSERT INTO ballots (event_id, ward, survey, form, subject,"
         " respondent_group, collected_on, levels)"
         " VALUES ($1::uuid, $2, $3, $4, $5, $6::smallint,"
         " (" MS_TO_TIMESTAMPTZ("$7") " AT TIME ZONE 'UTC')::date,"
         " $8::smallint[])"},
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

/* COPY text of the rows being staged: one line per row, columns separated
 * by tabs, \N for NULL; backslash, tab, newline and carriage return
 * escaped. oom: an append failed (the buffer is then not used). */
struct copy_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t col; /* columns written on the current line */
    bool oom;
};

struct store {
    PGconn *conn;
    bool prepared[ST_COUNT];
    bool stage_ready;      /* this session's ingest_stage exists */
    char sqlstate[6];      /* of the last statement that failed */
    struct copy_buf stage; /* COPY text of the group being staged */
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
    free((*st)->stage.data);
    free(*st);
    *st = NULL;
}

/* Runs a constant statement without parameters (BEGIN, COMMIT,
 * SAVEPOINT). Returns 0, or -EIO with the reason in err. */
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

/* SQLSTATE classes of errors that are the data's fault (22 data
 * exception, 23 integrity constraint, P0 raised by a trigger): the event
 * is rejected. Anything else (the server is short of disk or memory, a
 * deadlock, a lost connection) says nothing about the event: the group is
 * not committed and the agents resend it later. */
static bool data_error(const char *sqlstate)
{
    return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
           strncmp(sqlstate, "P0", 2) == 0;
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

/* Runs a statement of an event's on the careful path. Returns 0, or -EIO
 * with the reason in err. */
static int event_stmt(struct event_ctx *ctx, enum stmt_id id,
                      const char *const *values, const int *lengths,
                      const int *formats, char *err, size_t errlen)
{
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
    /* "{1,2,3,...}": one digit each (levels were validated to be 1..3). */
    char *levels = malloc(3 + 2 * b->n_levels);
    if (!levels) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t o = 0;
    levels[o++] = '{';
    for (size_t i = 0; i < b->n_levels; i++) {
        if (i)
            levels[o++] = ',';
        levels[o++] = (char)('0' + b->levels[i]);
    }
    levels[o++] = '}';
    levels[o] = '\0';
    const char *values[] = {ctx->event_id, ctx->ward, b->survey,        b->form,
                            b->subject,    group,     ctx->occurred_ms, levels};
    int rc = event_stmt(ctx, ST_BALLOT_INSERT, values, NULL, NULL, err, errlen);
    free(levels);
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
    /* The current state first, then the history: its trigger gives the
     * petition a new change number only when this event did not. */
    if (event_stmt(ctx, ST_PETITION_UPSERT, values, NULL, NULL, err, errlen) <
        0)
        return -EIO;
    return event_stmt(ctx, ST_PETITION_HISTORY_INSERT, values, NULL, NULL, err,
                      errlen);
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
        /* Only the data's fault rejects the event; a server in trouble
         * (no disk, a deadlock, a lost connection) fails the group, which
         * is not acknowledged and comes again. */
        if (PQstatus(ctx->st->conn) != CONNECTION_OK ||
            !data_error(ctx->st->sqlstate)) {
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

/* ------------------------------------------------------------------ */
/* group commit                                                        */

/* Why this path (issue #3). A group of batches is written in four round
 * trips, whatever its size:
 *
 *   1. BEGIN and ingest_lock_agents(), pipelined: the agents' rows are
 *      locked and their marks read;
 *   2-3. the marks decide in C what is a duplicate, a gap or new; new
 *      events are validated in C and sent with one COPY, as text, into the
 *      session's temporary ingest_stage;
 *   4. ingest_apply() (one INSERT per table, the tallies by statement
 *      triggers), ingest_update_agents() and COMMIT, pipelined.
 *
 * COPY into a stage was taken over a libpq pipeline of prepared
 * statements (the path before) because the server's work per statement,
 * not the network, was what cost: executor start-up per statement, and
 * every statement trigger firing once per event. Measured with
 * bench/ingest/run.sh --events 10000 (150,000 events, a third of them
 * ballots): 1,016 events/s with the pipeline (ballots, whose tally
 * trigger rescanned the ballots table, dominated), about 20,000 events/s
 * with this path; ack p50 2.8-3.7 ms against a database commit p50 of
 * 0.3-0.7 ms on this 2-core machine.
 *
 * The fast path cannot commit anything the careful path (one event at a
 * time, each in its own savepoint) would not: the stage is checked by the
 * same C validation, and ingest_apply() writes all or nothing. When the
 * database refuses a row, or an event_id is already stored (a duplicate
 * or a conflict), the transaction is rolled back and the whole group is
 * redone on the careful path, so each event gets its own outcome. */

static bool copy_reserve(struct copy_buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (more <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->oom = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

/* Starts the next column of the line. */
static void copy_sep(struct copy_buf *b)
{
    if (b->col++ > 0 && copy_reserve(b, 1))
        b->data[b->len++] = '\t';
}

static void copy_null(struct copy_buf *b)
{
    copy_sep(b);
    if (copy_reserve(b, 2)) {
        memcpy(b->data + b->len, "\\N", 2);
        b->len += 2;
    }
}

/* A text column; NULL writes \N. */
static void copy_text(struct copy_buf *b, const char *s)
{
    if (!s) {
        copy_null(b);
        return;
    }
    copy_sep(b);
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 2 || !copy_reserve(b, 2 * n))
        return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char esc = c == '\\'   ? '\\'
                   : c == '\t' ? 't'
                   : c == '\n' ? 'n'
                   : c == '\r' ? 'r'
                               : 0;
        if (esc) {
            *o++ = '\\';
            *o++ = esc;
        } else {
            *o++ = c;
        }
    }
    b->len = (size_t)(o - b->data);
}

/* A date column: "" (no date) is NULL. */
static void copy_date(struct copy_buf *b, const char *s)
{
    copy_text(b, s && s[0] ? s : NULL);
}

static void copy_int(struct copy_buf *b, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    copy_text(b, text);
}

/* A bytea column in hex form (\x..., its backslash escaped for COPY). */
static void copy_bytea(struct copy_buf *b, const uint8_t *data, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    copy_sep(b);
    if (n > (SIZE_MAX - 3) / 2 || !copy_reserve(b, 3 + 2 * n))
        return;
    char *o = b->data + b->len;
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = HEX[data[i] >> 4];
        *o++ = HEX[data[i] & 15];
    }
    b->len = (size_t)(o - b->data);
}

/* A smallint[] column of levels 1..3 (validated): "{1,2,3,...}". */
static void copy_levels(struct copy_buf *b, const Wardsync__V1__Ballot *ballot)
{
    copy_sep(b);
    size_t n = ballot->n_levels;
    if (n > (SIZE_MAX - 2) / 2 || !copy_reserve(b, 2 + 2 * n))
        return;
    char *o = b->data + b->len;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = (char)('0' + ballot->levels[i]);
    }
    *o++ = '}';
    b->len = (size_t)(o - b->data);
}

static void copy_end_row(struct copy_buf *b)
{
    if (copy_reserve(b, 1))
        b->data[b->len++] = '\n';
    b->col = 0;
}

/* The columns of ingest_stage the hub writes, in the order of stage_event
 * (sql/011_set_based_ingest.sql defines the table). */
#define STAGE_COPY_SQL                                                         \
    "COPY ingest_stage (ord, ward, agent_instance, seq, raw_event_id, kind,"   \
    " reason, occurred_ms, queued_ms, payload, survey, form, subject,"         \
    " respondent_group, levels, petition, petition_kind, channel, status,"     \
    " in_jurisdiction, received_on, due_on, note, session, held_on,"           \
    " host_role, mode, citizens, petitions) FROM STDIN"

/* The typed columns of the stage, from survey to petitions. */
#define STAGE_TYPED_COLUMNS 19

/* Appends one event above its agent's mark to the stage: reason not NULL
 * stages it for rejected_events with the event as received, otherwise the
 * fact and its typed columns. Returns 0 or -ENOMEM. */
static int stage_event(struct copy_buf *b, size_t ord, const char *ward,
                       const char *agent_instance,
                       const Wardsync__V1__Event *ev, const char *reason)
{
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    Wardsync__V1__Event fact = *ev;
    if (!reason) {
        /* The stored payload is the fact, not its place in an outbox. */
        fact.seq = 0;
        fact.queued_at_ms = 0;
    }
    if (ws_pack(&fact.base, &payload, &payload_len) < 0)
        return -ENOMEM;

    copy_int(b, (int64_t)ord);
    copy_text(b, ward);
    copy_text(b, agent_instance);
    copy_int(b, (int64_t)ev->seq);
    if (reason) {
        char event_id[128], safe_reason[512];
        safe_text(ev->event_id, event_id, sizeof event_id);
        safe_text(reason, safe_reason, sizeof safe_reason);
        copy_text(b, event_id);
        copy_text(b, ws_event_kind(ev));
        copy_text(b, safe_reason);
        copy_null(b);
        copy_null(b);
        copy_bytea(b, payload, payload_len);
        for (int i = 0; i < STAGE_TYPED_COLUMNS; i++)
            copy_null(b);
        copy_end_row(b);
        free(payload);
        return b->oom ? -ENOMEM : 0;
    }

    copy_text(b, ev->event_id);
    copy_text(b, ws_event_kind(ev));
    copy_null(b);
    copy_int(b, ev->occurred_at_ms);
    copy_int(b, ev->queued_at_ms);
    copy_bytea(b, payload, payload_len);
    free(payload);

    const Wardsync__V1__Ballot *ballot = ev->ballot;
    const Wardsync__V1__PetitionEvent *p = ev->petition;
    const Wardsync__V1__ReceptionSession *r = ev->reception;
    const Wardsync__V1__RemediationUpdate *m = ev->remediation;
    bool is_ballot = ev->body_case == WARDSYNC__V1__EVENT__BODY_BALLOT;
    bool is_petition = ev->body_case == WARDSYNC__V1__EVENT__BODY_PETITION;
    bool is_reception = ev->body_case == WARDSYNC__V1__EVENT__BODY_RECEPTION;
    bool is_remediation =
        ev->body_case == WARDSYNC__V1__EVENT__BODY_REMEDIATION;

    /* survey, form, subject, respondent_group, levels */
    copy_text(b, is_ballot        ? ballot->survey
                 : is_remediation ? m->survey
                                  : NULL);
    copy_text(b, is_ballot ? ballot->form : NULL);
    copy_text(b, is_ballot        ? ballot->subject
                 : is_remediation ? m->subject
                                  : NULL);
    if (is_ballot) {
        copy_int(b, ballot->respondent_group);
        copy_levels(b, ballot);
    } else {
        copy_null(b);
        copy_null(b);
    }
    /* petition, petition_kind, channel, status, in_jurisdiction,
     * received_on, due_on, note */
    if (is_petition) {
        copy_text(b, p->petition);
        copy_text(b, ws_petition_kind_name(p->kind));
        copy_text(b, ws_petition_channel_name(p->channel));
        copy_text(b, ws_petition_status_name(p->status));
        copy_text(b, p->in_jurisdiction ? "t" : "f");
        copy_date(b, p->received_on);
        copy_date(b, p->due_on);
        copy_text(b, p->note);
    } else {
        for (int i = 0; i < 3; i++)
            copy_null(b);
        copy_text(b, is_remediation ? ws_remediation_status_name(m->status)
                                    : NULL);
        copy_null(b);
        copy_null(b);
        copy_date(b, is_remediation ? m->due_on : NULL);
        copy_null(b);
    }
    /* session, held_on, host_role, mode, citizens, petitions */
    if (is_reception) {
        copy_text(b, r->session);
        copy_date(b, r->held_on);
        copy_text(b, ws_host_role_name(r->host_role));
        copy_text(b, ws_reception_mode_name(r->mode));
        copy_int(b, r->citizens);
        copy_int(b, r->petitions);
    } else {
        for (int i = 0; i < 6; i++)
            copy_null(b);
    }
    copy_end_row(b);
    return b->oom ? -ENOMEM : 0;
}

/* Sends the stage with COPY. Returns 0 when the server took it, 1 when it
 * refused it (the transaction is then aborted: the caller rolls back to
 * its savepoint), or -EIO when the connection broke. */
static int copy_stage(struct store *st, char *err, size_t errlen)
{
    PGresult *res = PQexec(st->conn, STAGE_COPY_SQL);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        const char *code =
            res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        ws_strlcpy(st->sqlstate, code ? code : "", sizeof st->sqlstate);
        set_pq_error(err, errlen, "could not start COPY",
                     res ? PQresultErrorMessage(res)
                         : PQerrorMessage(st->conn));
        PQclear(res);
        return PQstatus(st->conn) == CONNECTION_OK ? 1 : -EIO;
    }
    PQclear(res);
    /* In blocking mode PQputCopyData queues, flushing as it needs. */
    const size_t chunk = 1 << 20;
    for (size_t off = 0; off < st->stage.len; off += chunk) {
        size_t n = st->stage.len - off < chunk ? st->stage.len - off : chunk;
        if (PQputCopyData(st->conn, st->stage.data + off, (int)n) != 1) {
            set_pq_error(err, errlen, "COPY failed", PQerrorMessage(st->conn));
            return -EIO;
        }
    }
    if (PQputCopyEnd(st->conn, NULL) != 1) {
        set_pq_error(err, errlen, "COPY failed", PQerrorMessage(st->conn));
        return -EIO;
    }
    int rc = 0;
    while ((res = PQgetResult(st->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            ws_strlcpy(st->sqlstate, code ? code : "", sizeof st->sqlstate);
            set_pq_error(err, errlen, "COPY refused",
                         PQresultErrorMessage(res));
            rc = 1;
        }
        PQclear(res);
    }
    if (PQstatus(st->conn) != CONNECTION_OK) {
        set_pq_error(err, errlen, "connection lost", PQerrorMessage(st->conn));
        return -EIO;
    }
    return rc;
}

/* A text[] literal of n strings, each double-quoted with " and \
 * escaped. Returns a malloc'd string or NULL. */
static char *text_array(const char *const *items, size_t stride, size_t n)
{
    struct copy_buf b = {0};
    copy_reserve(&b, 3);
    if (!b.oom)
        b.data[b.len++] = '{';
    for (size_t i = 0; i < n && !b.oom; i++) {
        const char *s =
            *(const char *const *)((const char *)items + i * stride);
        size_t len = strlen(s);
        if (!copy_reserve(&b, 4 + 2 * len))
            break;
        if (i)
            b.data[b.len++] = ',';
        b.data[b.len++] = '"';
        for (size_t k = 0; k < len; k++) {
            if (s[k] == '"' || s[k] == '\\')
                b.data[b.len++] = '\\';
            b.data[b.len++] = s[k];
        }
        b.data[b.len++] = '"';
    }
    if (!copy_reserve(&b, 2)) {
        free(b.data);
        return NULL;
    }
    b.data[b.len++] = '}';
    b.data[b.len] = '\0';
    return b.data;
}

/* A bigint[] literal of n values at stride bytes apart. */
static char *int_array(const int64_t *values, size_t stride, size_t n)
{
    char *out = malloc(3 + n * 21);
    if (!out)
        return NULL;
    size_t o = 0;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        int64_t v = *(const int64_t *)((const char *)values + i * stride);
        o += (size_t)sprintf(out + o, "%s%" PRId64, i ? "," : "", v);
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}

/* An outbox of the group: its row is locked for the whole transaction. */
struct group_agent {
    const char *ward;
    const char *agent_instance;
    int64_t mark; /* its mark as the batches of the group move it */
    int64_t backlog;
    int64_t accepted, duplicates, conflicts, rejected;
    bool taken;  /* a batch of it was not refused as a whole */
    bool create; /* a batch of it may start a new outbox (seq 1) */
};

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

/* Answers the events of a batch at or below its agent's mark (sent again,
 * usually because an Ack was lost): with their first rejection or
 * conflict when they had one, else "duplicate", in one query. */
static int repeat_outcomes(struct store *st, const char *ward,
                           const Wardsync__V1__Batch *batch, uint64_t mark,
                           struct store_batch_result *result, char *err,
                           size_t errlen)
{
    uint64_t first = batch->events[0]->seq;
    uint64_t last = first + batch->n_events - 1;
    if (last > mark)
        last = mark;
    char from[24], to[24];
    snprintf(from, sizeof from, "%" PRIu64, first);
    snprintf(to, sizeof to, "%" PRIu64, last);
    const char *values[] = {ward, batch->agent_instance, from, to};
    PGresult *res =
        exec_stmt(st, ST_REJECTED_RANGE, values, NULL, NULL, err, errlen);
    if (!res)
        return -EIO;
    int rows = PQntuples(res), row = 0;
    for (uint64_t seq = first; seq <= last; seq++) {
        uint64_t rejected_seq = 0;
        while (row < rows && (rejected_seq = strtoull(PQgetvalue(res, row, 0),
                                                      NULL, 10)) < seq)
            row++;
        if (row < rows && rejected_seq == seq) {
            const char *reason = PQgetvalue(res, row, 1);
            bool conflict = strncmp(reason, "conflict:", 9) == 0;
            add_outcome(result, seq,
                        conflict ? WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT
                                 : WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED,
                        reason);
        } else {
            add_outcome(result, seq,
                        WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE,
                        "already committed");
            result->duplicates++;
        }
    }
    PQclear(res);
    return 0;
}

/* One statement of a pipeline: a prepared statement with its values, or a
 * constant command when command is set. */
struct pipe_stmt {
    enum stmt_id id;
    const char *const *values;
    const char *command;
};

/* Sends n statements as one pipeline (one round trip) and reads their
 * results into res[i] (the caller PQclear()s them; NULL for those the
 * server skipped after a failure). Returns 0 when every statement
 * succeeded, 1 when one failed (*failed is its index, its reason in err,
 * its SQLSTATE in st->sqlstate; the transaction is then aborted), or
 * -EIO. */
static int pipeline_run(struct store *st, const struct pipe_stmt *stmts,
                        size_t n, PGresult **res, size_t *failed, char *err,
                        size_t errlen)
{
    *failed = n;
    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    for (size_t i = 0; i < n; i++)
        if (!stmts[i].command && prepare_stmt(st, stmts[i].id, err, errlen) < 0)
            return -EIO;
    if (PQenterPipelineMode(st->conn) != 1) {
        set_pq_error(err, errlen, "could not enter pipeline mode",
                     PQerrorMessage(st->conn));
        return -EIO;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct statement *s = &STATEMENTS[stmts[i].id];
        int sent = stmts[i].command
                       ? PQsendQueryParams(st->conn, stmts[i].command, 0, NULL,
                                           NULL, NULL, NULL, 0)
                       : PQsendQueryPrepared(st->conn, s->name, s->n_params,
                                             stmts[i].values, NULL, NULL, 0);
        if (sent != 1) {
            set_pq_error(err, errlen, "could not send",
                         PQerrorMessage(st->conn));
            rc = -EIO;
        }
    }
    if (rc == 0 && PQpipelineSync(st->conn) != 1) {
        set_pq_error(err, errlen, "could not sync pipeline",
                     PQerrorMessage(st->conn));
        rc = -EIO;
    }
    /* Each statement's result is followed by a NULL; the Sync's result
     * ends the pipeline. Two NULLs in a row mean the connection broke. */
    size_t next = 0;
    int nulls = 0;
    while (rc >= 0) {
        PGresult *r = PQgetResult(st->conn);
        if (!r) {
            if (++nulls > 1 || PQstatus(st->conn) != CONNECTION_OK) {
                set_pq_error(err, errlen, "pipeline broken",
                             PQerrorMessage(st->conn));
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
            const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            const char *primary =
                PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            size_t at = next < n ? next : n - 1;
            ws_strlcpy(st->sqlstate, code ? code : "", sizeof st->sqlstate);
            set_pq_error(err, errlen,
                         stmts[at].command ? stmts[at].command
                                           : STATEMENTS[stmts[at].id].name,
                         primary ? primary : PQresultErrorMessage(r));
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
    if (PQexitPipelineMode(st->conn) != 1 && rc >= 0) {
        set_pq_error(err, errlen, "could not leave pipeline mode",
                     PQerrorMessage(st->conn));
        rc = -EIO;
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++) {
            PQclear(res[i]);
            res[i] = NULL;
        }
    return rc;
}

/* The parameters of ST_LOCK_AGENTS: wards, instances and create flags. */
static int lock_params(const struct group_agent *agents, size_t n_agents,
                       char *params[3])
{
    params[0] = text_array(&agents[0].ward, sizeof *agents, n_agents);
    params[1] = text_array(&agents[0].agent_instance, sizeof *agents, n_agents);
    params[2] = malloc(2 * n_agents + 2);
    if (!params[0] || !params[1] || !params[2])
        return -ENOMEM;
    size_t o = 0;
    params[2][o++] = '{';
    for (size_t a = 0; a < n_agents; a++) {
        if (a)
            params[2][o++] = ',';
        params[2][o++] = agents[a].create ? 't' : 'f';
    }
    params[2][o++] = '}';
    params[2][o] = '\0';
    return 0;
}

/* BEGIN, then lock the agents of the group (creating the new ones that
 * may start at seq 1) and read their marks: one round trip. Returns 0 or
 * -EIO / -ENOMEM. */
static int begin_and_lock(struct store *st, struct group_agent *agents,
                          size_t n_agents, char *err, size_t errlen)
{
    char *params[3] = {NULL, NULL, NULL};
    int rc = lock_params(agents, n_agents, params);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const struct pipe_stmt stmts[] = {
        {.command = "BEGIN"},
        {.id = ST_LOCK_AGENTS, .values = (const char *const *)params},
    };
    PGresult *res[2];
    size_t failed;
    rc = pipeline_run(st, stmts, 2, res, &failed, err, errlen);
    if (rc != 0) {
        if (rc == 1) {
            PQclear(res[0]);
            PQclear(res[1]);
        }
        rc = -EIO; /* nothing in BEGIN or the lock is the data's fault */
        goto out;
    }
    for (int r = 0; r < PQntuples(res[1]); r++)
        for (size_t a = 0; a < n_agents; a++)
            if (strcmp(agents[a].ward, PQgetvalue(res[1], r, 0)) == 0 &&
                strcmp(agents[a].agent_instance, PQgetvalue(res[1], r, 1)) == 0)
                agents[a].mark = strtoll(PQgetvalue(res[1], r, 2), NULL, 10);
    PQclear(res[0]);
    PQclear(res[1]);
out:
    for (int i = 0; i < 3; i++)
        free(params[i]);
    return rc;
}

/* The parameters of ST_UPDATE_AGENTS, for the agents that had a batch
 * taken. Sets *n_taken; returns 0 or -ENOMEM. */
static int update_params(const struct group_agent *agents, size_t n_agents,
                         char *params[8], size_t *n_taken)
{
    struct group_agent *taken = calloc(n_agents ? n_agents : 1, sizeof *taken);
    if (!taken)
        return -ENOMEM;
    size_t n = 0;
    for (size_t a = 0; a < n_agents; a++)
        if (agents[a].taken)
            taken[n++] = agents[a];
    *n_taken = n;
    int rc = 0;
    if (n > 0) {
        const size_t stride = sizeof *taken;
        params[0] = text_array(&taken[0].ward, stride, n);
        params[1] = text_array(&taken[0].agent_instance, stride, n);
        params[2] = int_array(&taken[0].mark, stride, n);
        params[3] = int_array(&taken[0].backlog, stride, n);
        params[4] = int_array(&taken[0].accepted, stride, n);
        params[5] = int_array(&taken[0].duplicates, stride, n);
        params[6] = int_array(&taken[0].conflicts, stride, n);
        params[7] = int_array(&taken[0].rejected, stride, n);
        for (int i = 0; i < 8; i++)
            if (!params[i])
                rc = -ENOMEM;
    }
    free(taken);
    return rc;
}

/* Answers one batch taken on the careful path: every event above the mark
 * in its own savepoint (commit_one_event). */
static int commit_batch_carefully(struct store *st, struct store_group_batch *g,
                                  uint64_t mark, const struct ws_catalogue *cat,
                                  char *err, size_t errlen)
{
    struct event_ctx ctx = {
        .st = st, .ward = g->ward, .agent_instance = g->batch->agent_instance};
    for (size_t i = 0; i < g->batch->n_events; i++) {
        const Wardsync__V1__Event *ev = g->batch->events[i];
        if (ev->seq <= mark)
            continue;
        ctx.event = ev;
        snprintf(ctx.seq, sizeof ctx.seq, "%" PRIu64, ev->seq);
        snprintf(ctx.occurred_ms, sizeof ctx.occurred_ms, "%" PRId64,
                 ev->occurred_at_ms);
        snprintf(ctx.queued_ms, sizeof ctx.queued_ms, "%" PRId64,
                 ev->queued_at_ms);
        ctx.event_id[0] = '\0';
        int rc = commit_one_event(&ctx, cat, g->reject_reason, &g->result, err,
                                  errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Decides, for one batch, what its agent's mark makes of it and answers
 * the events sent again; then stages the new ones (fast path) or stores
 * them one at a time (careful path). Returns 0 or -EIO / -ENOMEM. */
static int take_batch(struct store *st, struct store_group_batch *g,
                      struct group_agent *agent, bool careful,
                      const struct ws_catalogue *cat, size_t *ord, char *err,
                      size_t errlen)
{
    const Wardsync__V1__Batch *batch = g->batch;
    struct store_batch_result *result = &g->result;
    uint64_t mark = (uint64_t)agent->mark;
    result->committed_through = mark;
    if (!batch_seqs_ok(batch, result))
        return 0;
    if (batch->n_events > 0 && batch->events[0]->seq > mark + 1) {
        result->gap = true;
        snprintf(result->error, sizeof result->error,
                 "gap: expected seq %" PRIu64 ", got %" PRIu64, mark + 1,
                 batch->events[0]->seq);
        return 0;
    }
    agent->taken = true;
    agent->backlog = batch->backlog > (uint64_t)INT64_MAX
                         ? INT64_MAX
                         : (int64_t)batch->backlog;
    if (batch->n_events == 0)
        return 0;
    if (batch->events[0]->seq <= mark &&
        repeat_outcomes(st, g->ward, batch, mark, result, err, errlen) < 0)
        return -EIO;

    uint64_t last = batch->events[batch->n_events - 1]->seq;
    if (last > mark)
        agent->mark = (int64_t)last;
    result->committed_through = (uint64_t)agent->mark;
    if (careful)
        return commit_batch_carefully(st, g, mark, cat, err, errlen);

    for (size_t i = 0; i < batch->n_events; i++) {
        const Wardsync__V1__Event *ev = batch->events[i];
        if (ev->seq <= mark)
            continue;
        char reason[512];
        const char *rejected = NULL;
        if (g->reject_reason)
            rejected = g->reject_reason;
        else if (ws_validate_event(ev, cat, reason, sizeof reason) != 0)
            rejected = reason;
        if (stage_event(&st->stage, (*ord)++, g->ward, batch->agent_instance,
                        ev, rejected) < 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        if (rejected) {
            add_outcome(result, ev->seq,
                        WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED, rejected);
            result->rejected++;
        } else {
            result->accepted++;
        }
    }
    return 0;
}

/* One attempt at committing the group: the fast path (careful false) or
 * the careful one. Returns 0 once committed, 1 when the database refused
 * the fast path's data (the transaction is rolled back; the caller tries
 * again carefully), or -EIO / -ENOMEM (rolled back too). */
static int try_group(struct store *st, struct store_group_batch *group,
                     size_t n, struct group_agent *agents, size_t n_agents,
                     size_t *agent_of, bool careful,
                     const struct ws_catalogue *cat, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        struct store_batch_result *r = &group[i].result;
        struct store_outcome *outcomes = r->outcomes;
        memset(r, 0, sizeof *r);
        r->outcomes = outcomes;
    }
    for (size_t a = 0; a < n_agents; a++) {
        agents[a].mark = agents[a].backlog = 0;
        agents[a].accepted = agents[a].duplicates = 0;
        agents[a].conflicts = agents[a].rejected = 0;
        agents[a].taken = false;
    }
    st->stage.len = 0;
    st->stage.col = 0;
    st->stage.oom = false;

    int rc = begin_and_lock(st, agents, n_agents, err, errlen);
    size_t ord = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = take_batch(st, &group[i], &agents[agent_of[i]], careful, cat, &ord,
                        err, errlen);
    if (rc == 0 && ord > 0) {
        rc = copy_stage(st, err, errlen);
        if (rc == 1 && !data_error(st->sqlstate))
            rc = -EIO;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct group_agent *a = &agents[agent_of[i]];
        const struct store_batch_result *r = &group[i].result;
        a->accepted += (int64_t)r->accepted;
        a->duplicates += (int64_t)r->duplicates;
        a->conflicts += (int64_t)r->conflicts;
        a->rejected += (int64_t)r->rejected;
    }

    /* ingest_apply(), the agents' marks and COMMIT: one round trip. */
    char *params[8] = {NULL};
    size_t n_taken = 0;
    if (rc == 0 && update_params(agents, n_agents, params, &n_taken) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0) {
        struct pipe_stmt stmts[3];
        size_t k = 0;
        if (ord > 0)
            stmts[k++] = (struct pipe_stmt){.id = ST_APPLY};
        if (n_taken > 0)
            stmts[k++] = (struct pipe_stmt){
                .id = ST_UPDATE_AGENTS, .values = (const char *const *)params};
        stmts[k++] = (struct pipe_stmt){.command = "COMMIT"};
        PGresult *res[3];
        size_t failed;
        rc = pipeline_run(st, stmts, k, res, &failed, err, errlen);
        if (rc == 1 && !(ord > 0 && failed == 0 && data_error(st->sqlstate)))
            rc = -EIO; /* only ingest_apply may refuse the data */
        if (rc == 0 && strcmp(PQcmdStatus(res[k - 1]), "COMMIT") != 0) {
            snprintf(err, errlen, "commit failed: transaction was rolled back");
            rc = -EIO;
        }
        for (size_t i = 0; i < k; i++)
            PQclear(res[i]);
    }
    for (int i = 0; i < 8; i++)
        free(params[i]);
    if (rc != 0)
        rollback_quietly(st);
    return rc;
}

int store_commit_group(struct store *st, struct store_group_batch *group,
                       size_t n, const struct ws_catalogue *cat, char *err,
                       size_t errlen)
{
    int rc = -ENOMEM;
    size_t *agent_of = calloc(n ? n : 1, sizeof *agent_of);
    struct group_agent *agents = calloc(n ? n : 1, sizeof *agents);
    size_t n_agents = 0;
    if (!agent_of || !agents)
        goto out_nomem;
    for (size_t i = 0; i < n; i++) {
        struct store_batch_result *result = &group[i].result;
        memset(result, 0, sizeof *result);
        const Wardsync__V1__Batch *batch = group[i].batch;
        result->outcomes = calloc(batch->n_events ? batch->n_events : 1,
                                  sizeof *result->outcomes);
        if (!result->outcomes)
            goto out_nomem;
        size_t a = 0;
        while (a < n_agents &&
               (strcmp(agents[a].ward, group[i].ward) != 0 ||
                strcmp(agents[a].agent_instance, batch->agent_instance) != 0))
            a++;
        if (a == n_agents) {
            agents[a].ward = group[i].ward;
            agents[a].agent_instance = batch->agent_instance;
            n_agents++;
        }
        agent_of[i] = a;
        if (batch_seqs_ok(batch, result) &&
            (batch->n_events == 0 || batch->events[0]->seq == 1))
            agents[a].create = true;
    }

    /* The session's stage table, created once, outside any transaction
     * (a rolled-back transaction would take it away again). */
    if (!st->stage_ready) {
        if (run_stmt(st, ST_STAGE_CREATE, NULL, err, errlen) < 0) {
            rc = -EIO;
            goto out;
        }
        st->stage_ready = true;
    }
    rc = try_group(st, group, n, agents, n_agents, agent_of, false, cat, err,
                   errlen);
    if (rc == 1) {
        /* Routine for a duplicate or a row the database refuses, but
         * an operator should see it if it happens for every group. */
        ws_info(MODULE,
                "group redone one event at a time, the database refused "
                "the fast path: %s",
                err);
        rc = try_group(st, group, n, agents, n_agents, agent_of, true, cat, err,
                       errlen);
    }
    goto out;

out_nomem:
    snprintf(err, errlen, "out of memory");
out:
    /* The stage buffer is kept for the next group, unless it grew large. */
    if (st->stage.cap > (64u << 20)) {
        free(st->stage.data);
        st->stage = (struct copy_buf){0};
    }
    free(agent_of);
    free(agents);
    return rc == 1 ? -EIO : rc;
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
