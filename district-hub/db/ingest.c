/*
 * db/ingest.c - the writer's side in C (contract in db/ingest.h).
 *
 * Four round trips a group, whatever its size:
 *
 *   1. BEGIN and ingest_lock_agents(), pipelined: the agents' rows are
 *      locked and their marks read;
 *   2-3. the marks decide here what is a duplicate, a gap or new; new
 *      events are checked with the shared validation and sent with one
 *      COPY, as text, into the session's temporary ingest_stage;
 *   4. ingest_apply(), ingest_update_agents() and COMMIT, pipelined.
 *
 * ingest_apply() (sql/002_one_writer.sql; its ingest_store() as
 * sql/006_inspections_rotations.sql extends it) is the only code that writes
 * events and their typed tables. It returns the rows whose outcome the
 * database decided (a ballot outside its round, an event_id stored
 * before, a row the database refused), which are answered in the Ack;
 * ingest_update_agents() counts the outcomes from the stage itself, so
 * nothing decided by the database needs another round trip.
 *
 * COPY into a stage beat a pipeline of prepared statements (issue #3)
 * because the server's work per statement, not the network, was what
 * cost: executor start-up per statement, and every statement trigger
 * firing once per event.
 */
#include "db/ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/copytext.h"
#include "wardsync/log.h"
#include "wardsync/names.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

#define MODULE "ingest"

/* The stage buffer is kept between groups unless it grew above this. */
#define STAGE_KEEP_BYTES (64u << 20)

static const struct db_statement UNIT_KIND = {
    "ingest_unit_kind", 1, "SELECT kind FROM org_units WHERE code = $1"};
static const struct db_statement STAGE_CREATE = {
    "ingest_stage_create", 0, "SELECT ingest_stage_create()"};
static const struct db_statement LOCK_AGENTS = {
    "ingest_lock_agents", 3,
    "SELECT ward, agent_instance, committed_through"
    " FROM ingest_lock_agents($1::text[], $2::text[], $3::boolean[])"};
static const struct db_statement APPLY = {
    "ingest_apply", 0, "SELECT ord, outcome, reason FROM ingest_apply()"};
static const struct db_statement UPDATE_AGENTS = {
    "ingest_update_agents", 5,
    "SELECT ingest_update_agents($1::text[], $2::text[], $3::bigint[],"
    " $4::bigint[], $5::bigint[])"};
/* Resent events that were rejected the first time are answered with
 * their first outcome again, not as plain duplicates: the Ack holding the
 * rejection may have been lost on its way to the ward. */
static const struct db_statement REJECTED_RANGE = {
    "ingest_rejected_range", 4,
    "SELECT DISTINCT ON (seq) seq, code, reason FROM rejected_events"
    " WHERE ward = $1 AND agent_instance = $2"
    " AND seq BETWEEN $3::bigint AND $4::bigint ORDER BY seq, id"};

/* The columns of ingest_stage the hub writes, in the order of stage_event
 * (sql/002_one_writer.sql defines the table). */
#define STAGE_COPY_SQL                                                         \
    "COPY ingest_stage (batch, ord, ward, agent_instance, seq, raw_event_id,"  \
    " kind, outcome, reason, occurred_ms, queued_ms, payload, survey, form,"   \
    " subject, respondent_group, levels, petition, petition_kind, channel,"    \
    " status, in_jurisdiction, received_on, due_on, note, session, held_on,"   \
    " host_role, mode, citizens, petitions, inspection, body, unit,"           \
    " inspection_kind, subjects, violations, cadre, post, rotation_kind,"      \
    " years_in_post, effective_on, event_ids) FROM STDIN"

/* The typed columns of the stage, from survey to event_ids. */
#define STAGE_TYPED_COLUMNS 31

void db_ingest_writer_clear(struct db_ingest_writer *w)
{
    free(w->stage);
    memset(w, 0, sizeof *w);
}

void db_ingest_result_clear(struct db_ingest_result *result)
{
    free(result->outcomes);
    memset(result, 0, sizeof *result);
}

int db_ingest_unit_kind(struct db *db, const char *code, const char **kind,
                        char *err, size_t errlen)
{
    *kind = NULL;
    const char *values[] = {code};
    PGresult *res;
    if (db_exec(db, &UNIT_KIND, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    if (PQntuples(res) == 1) {
        const char *k = PQgetvalue(res, 0, 0);
        *kind = strcmp(k, "ward") == 0       ? "ward"
                : strcmp(k, "district") == 0 ? "district"
                : strcmp(k, "city") == 0     ? "city"
                                             : NULL;
    }
    PQclear(res);
    return 0;
}

/* Copies text into out for a text column: unchanged when it is valid UTF-8
 * without control bytes and fits, otherwise with every doubtful byte
 * written as \xNN, truncated to fit. Network input must not be able to make
 * the row that records it fail. */
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

static void add_outcome(struct db_ingest_result *result, uint64_t seq, int code,
                        const char *reason)
{
    struct db_ingest_outcome *o = &result->outcomes[result->n_outcomes++];
    o->seq = seq;
    o->code = code;
    safe_text(reason, o->reason, sizeof o->reason);
}

/* Appends one event above its agent's mark to the stage: reason not NULL
 * stages it for rejected_events with the event as received, otherwise the
 * fact and its typed columns. Returns 0 or -ENOMEM. */
static int stage_event(struct copytext *b, size_t batch, size_t ord,
                       const char *ward, const char *agent_instance,
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

    copytext_int(b, (int64_t)batch);
    copytext_int(b, (int64_t)ord);
    copytext_text(b, ward);
    copytext_text(b, agent_instance);
    copytext_int(b, (int64_t)ev->seq);
    if (reason) {
        char event_id[128], safe_reason[512];
        safe_text(ev->event_id, event_id, sizeof event_id);
        safe_text(reason, safe_reason, sizeof safe_reason);
        copytext_text(b, event_id);
        copytext_text(b, ws_event_kind(ev));
        copytext_text(b, "rejected");
        copytext_text(b, safe_reason);
        copytext_null(b);
        copytext_null(b);
        copytext_bytea(b, payload, payload_len);
        for (int i = 0; i < STAGE_TYPED_COLUMNS; i++)
            copytext_null(b);
        copytext_end_row(b);
        free(payload);
        return b->oom ? -ENOMEM : 0;
    }

    copytext_text(b, ev->event_id);
    copytext_text(b, ws_event_kind(ev));
    copytext_null(b);
    copytext_null(b);
    copytext_int(b, ev->occurred_at_ms);
    copytext_int(b, ev->queued_at_ms);
    copytext_bytea(b, payload, payload_len);
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
    const Wardsync__V1__Inspection *in = ev->inspection;
    const Wardsync__V1__Rotation *ro = ev->rotation;
    bool is_inspection = ev->body_case == WARDSYNC__V1__EVENT__BODY_INSPECTION;
    bool is_rotation = ev->body_case == WARDSYNC__V1__EVENT__BODY_ROTATION;
    const Wardsync__V1__Withdrawal *wd = ev->withdrawal;
    bool is_withdrawal = ev->body_case == WARDSYNC__V1__EVENT__BODY_WITHDRAWAL;

    /* survey, form, subject, respondent_group, levels */
    copytext_text(b, is_ballot        ? ballot->survey
                     : is_remediation ? m->survey
                                      : NULL);
    copytext_text(b, is_ballot ? ballot->form : NULL);
    copytext_text(b, is_ballot        ? ballot->subject
                     : is_remediation ? m->subject
                                      : NULL);
    if (is_ballot) {
        copytext_int(b, ballot->respondent_group);
        copytext_uint_array(b, ballot->levels, ballot->n_levels);
    } else {
        copytext_null(b);
        copytext_null(b);
    }
    /* petition, petition_kind, channel, status, in_jurisdiction,
     * received_on, due_on, note */
    if (is_petition) {
        copytext_text(b, p->petition);
        copytext_text(b, ws_petition_kind_name(p->kind));
        copytext_text(b, ws_petition_channel_name(p->channel));
        copytext_text(b, ws_petition_status_name(p->status));
        copytext_text(b, p->in_jurisdiction ? "t" : "f");
        copytext_text_or_null(b, p->received_on);
        copytext_text_or_null(b, p->due_on);
        copytext_text(b, p->note);
    } else {
        for (int i = 0; i < 3; i++)
            copytext_null(b);
        copytext_text(b, is_remediation ? ws_remediation_status_name(m->status)
                                        : NULL);
        copytext_null(b);
        copytext_null(b);
        copytext_text_or_null(b, is_remediation ? m->due_on : NULL);
        /* note: an inspection's, or a withdrawal's reason */
        copytext_text(b, is_inspection   ? in->note
                         : is_withdrawal ? wd->reason
                                         : NULL);
    }
    /* session, held_on, host_role, mode, citizens, petitions */
    if (is_reception) {
        copytext_text(b, r->session);
        copytext_text_or_null(b, r->held_on);
        copytext_text(b, ws_host_role_name(r->host_role));
        copytext_text(b, ws_reception_mode_name(r->mode));
        copytext_int(b, r->citizens);
        copytext_int(b, r->petitions);
    } else {
        copytext_null(b);
        copytext_text_or_null(b, is_inspection ? in->held_on : NULL);
        for (int i = 0; i < 4; i++)
            copytext_null(b);
    }
    /* inspection, body, unit, inspection_kind, subjects, violations */
    if (is_inspection) {
        copytext_text(b, in->inspection);
        copytext_text(b, in->body);
        copytext_text(b, in->unit);
        copytext_text(b, ws_inspection_kind_name(in->kind));
        copytext_int(b, in->subjects);
        copytext_int(b, in->violations);
    } else {
        copytext_null(b);
        copytext_null(b);
        copytext_text(b, is_rotation ? ro->unit : NULL);
        for (int i = 0; i < 3; i++)
            copytext_null(b);
    }
    /* cadre, post, rotation_kind, years_in_post, effective_on */
    if (is_rotation) {
        copytext_text(b, ro->cadre);
        copytext_text(b, ro->post);
        copytext_text(b, ws_rotation_kind_name(ro->kind));
        copytext_int(b, ro->years_in_post);
        copytext_text_or_null(b, ro->effective_on);
    } else {
        for (int i = 0; i < 5; i++)
            copytext_null(b);
    }
    /* event_ids: validated UUIDs, so the array literal needs no more
     * escaping than copytext_text gives every column */
    if (is_withdrawal) {
        char *ids = copytext_text_array((const char *const *)wd->event_ids,
                                        sizeof *wd->event_ids, wd->n_event_ids);
        if (!ids)
            return -ENOMEM;
        copytext_text(b, ids);
        free(ids);
    } else {
        copytext_null(b);
    }
    copytext_end_row(b);
    return b->oom ? -ENOMEM : 0;
}

/* An outbox of the group: its row is locked for the whole transaction. */
struct group_agent {
    const char *ward;
    const char *agent_instance;
    int64_t mark; /* its mark as the batches of the group move it */
    int64_t backlog;
    int64_t repeated; /* events at or below the mark, answered again */
    bool taken;       /* a batch of it was not refused as a whole */
    bool create;      /* a batch of it may start a new outbox (seq 1) */
};

/* Where each staged row came from, to answer what the database decided. */
struct staged {
    size_t batch;
    uint64_t seq;
};

/* The seqs of a batch must be consecutive and fit PostgreSQL's bigint.
 * Returns true, or false with the refusal in result->error. */
static bool batch_seqs_ok(const Wardsync__V1__Batch *batch,
                          struct db_ingest_result *result)
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
static int repeat_outcomes(struct db *db, const char *ward,
                           const Wardsync__V1__Batch *batch, uint64_t mark,
                           struct db_ingest_result *result, int64_t *repeated,
                           char *err, size_t errlen)
{
    uint64_t first = batch->events[0]->seq;
    uint64_t last = first + batch->n_events - 1;
    if (last > mark)
        last = mark;
    char from[24], to[24];
    snprintf(from, sizeof from, "%" PRIu64, first);
    snprintf(to, sizeof to, "%" PRIu64, last);
    const char *values[] = {ward, batch->agent_instance, from, to};
    PGresult *res;
    if (db_exec(db, &REJECTED_RANGE, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    int rows = PQntuples(res), row = 0;
    for (uint64_t seq = first; seq <= last; seq++) {
        uint64_t rejected_seq = 0;
        while (row < rows && (rejected_seq = strtoull(PQgetvalue(res, row, 0),
                                                      NULL, 10)) < seq)
            row++;
        if (row < rows && rejected_seq == seq) {
            bool conflict = strcmp(PQgetvalue(res, row, 1), "conflict") == 0;
            add_outcome(result, seq,
                        conflict ? WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT
                                 : WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED,
                        PQgetvalue(res, row, 2));
        } else {
            add_outcome(result, seq,
                        WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE,
                        "already committed");
            result->duplicates++;
        }
        (*repeated)++;
    }
    PQclear(res);
    return 0;
}

/* The parameters of LOCK_AGENTS: wards, instances and create flags. */
static int lock_params(const struct group_agent *agents, size_t n_agents,
                       char *params[3])
{
    params[0] = copytext_text_array(&agents[0].ward, sizeof *agents, n_agents);
    params[1] = copytext_text_array(&agents[0].agent_instance, sizeof *agents,
                                    n_agents);
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
static int begin_and_lock(struct db *db, struct group_agent *agents,
                          size_t n_agents, char *err, size_t errlen)
{
    char *params[3] = {NULL, NULL, NULL};
    int rc = lock_params(agents, n_agents, params);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    const struct db_pipe_stmt stmts[] = {
        {.command = "BEGIN"},
        {.statement = &LOCK_AGENTS, .values = (const char *const *)params},
    };
    PGresult *res[2];
    size_t failed;
    rc = db_pipeline(db, stmts, 2, res, &failed, err, errlen);
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

/* The parameters of UPDATE_AGENTS, for the agents that had a batch taken.
 * Sets *n_taken; returns 0 or -ENOMEM. */
static int update_params(const struct group_agent *agents, size_t n_agents,
                         char *params[5], size_t *n_taken)
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
        params[0] = copytext_text_array(&taken[0].ward, stride, n);
        params[1] = copytext_text_array(&taken[0].agent_instance, stride, n);
        params[2] = copytext_int_array(&taken[0].mark, stride, n);
        params[3] = copytext_int_array(&taken[0].backlog, stride, n);
        params[4] = copytext_int_array(&taken[0].repeated, stride, n);
        for (int i = 0; i < 5; i++)
            if (!params[i])
                rc = -ENOMEM;
    }
    free(taken);
    return rc;
}

/* Decides, for one batch, what its agent's mark makes of it and answers
 * the events sent again; then stages the new ones. Returns 0 or -EIO /
 * -ENOMEM. */
static int take_batch(struct db *db, struct copytext *stage,
                      struct db_ingest_batch *g, size_t batch_index,
                      struct group_agent *agent, const struct ws_catalogue *cat,
                      struct staged *staged, size_t *ord, char *err,
                      size_t errlen)
{
    const Wardsync__V1__Batch *batch = g->batch;
    struct db_ingest_result *result = &g->result;
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
        repeat_outcomes(db, g->ward, batch, mark, result, &agent->repeated, err,
                        errlen) < 0)
        return -EIO;

    uint64_t last = batch->events[batch->n_events - 1]->seq;
    if (last > mark)
        agent->mark = (int64_t)last;
    result->committed_through = (uint64_t)agent->mark;

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
        staged[*ord] = (struct staged){.batch = batch_index, .seq = ev->seq};
        if (stage_event(stage, batch_index, (*ord)++, g->ward,
                        batch->agent_instance, ev, rejected) < 0) {
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

/* Answers the rows whose outcome ingest_apply() decided: each was counted
 * as accepted when it was staged. */
static void take_decisions(PGresult *res, const struct staged *staged,
                           size_t n_staged, struct db_ingest_batch *group)
{
    for (int r = 0; r < PQntuples(res); r++) {
        size_t ord = strtoul(PQgetvalue(res, r, 0), NULL, 10);
        if (ord >= n_staged)
            continue;
        const char *outcome = PQgetvalue(res, r, 1);
        struct db_ingest_result *result = &group[staged[ord].batch].result;
        int code = WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED;
        if (strcmp(outcome, "duplicate") == 0) {
            code = WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE;
            result->duplicates++;
        } else if (strcmp(outcome, "conflict") == 0) {
            code = WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT;
            result->conflicts++;
        } else {
            result->rejected++;
        }
        if (result->accepted > 0)
            result->accepted--;
        add_outcome(result, staged[ord].seq, code, PQgetvalue(res, r, 2));
    }
}

/* Sends the stage with COPY. A refusal cannot be the data's fault (every
 * value that could fail a cast travels as text or bigint and is cast by
 * ingest_apply), so any failure fails the group. */
static int copy_stage(struct db *db, const struct copytext *stage, char *err,
                      size_t errlen)
{
    int rc =
        db_copy_in(db, STAGE_COPY_SQL, stage->data, stage->len, err, errlen);
    return rc == 0 ? 0 : -EIO;
}

int db_ingest_commit_group(struct db *db, struct db_ingest_writer *w,
                           uint64_t generation, struct db_ingest_batch *group,
                           size_t n, const struct ws_catalogue *cat, char *err,
                           size_t errlen)
{
    int rc = -ENOMEM;
    size_t *agent_of = calloc(n ? n : 1, sizeof *agent_of);
    struct group_agent *agents = calloc(n ? n : 1, sizeof *agents);
    size_t n_events = 0, n_agents = 0;
    for (size_t i = 0; i < n; i++)
        n_events += group[i].batch->n_events;
    struct staged *staged = calloc(n_events ? n_events : 1, sizeof *staged);
    struct copytext stage = {.data = w->stage, .cap = w->stage_cap};
    char *params[5] = {NULL};
    if (!agent_of || !agents || !staged)
        goto out_nomem;
    for (size_t i = 0; i < n; i++) {
        struct db_ingest_result *result = &group[i].result;
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

    /* The session's stage table, made once per session, outside any
     * transaction (a rolled-back transaction would take it away again). */
    if (w->stage_session != db || w->stage_generation != generation) {
        if (db_run(db, &STAGE_CREATE, NULL, err, errlen) < 0) {
            rc = -EIO;
            goto out;
        }
        w->stage_session = db;
        w->stage_generation = generation;
    }

    rc = begin_and_lock(db, agents, n_agents, err, errlen);
    size_t ord = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = take_batch(db, &stage, &group[i], i, &agents[agent_of[i]], cat,
                        staged, &ord, err, errlen);
    if (rc == 0 && ord > 0)
        rc = copy_stage(db, &stage, err, errlen);

    /* ingest_apply(), the agents' marks and COMMIT: one round trip. */
    size_t n_taken = 0;
    if (rc == 0 && update_params(agents, n_agents, params, &n_taken) < 0) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    if (rc == 0) {
        struct db_pipe_stmt stmts[3];
        size_t k = 0;
        if (ord > 0)
            stmts[k++] = (struct db_pipe_stmt){.statement = &APPLY};
        if (n_taken > 0)
            stmts[k++] =
                (struct db_pipe_stmt){.statement = &UPDATE_AGENTS,
                                      .values = (const char *const *)params};
        stmts[k++] = (struct db_pipe_stmt){.command = "COMMIT"};
        PGresult *res[3];
        size_t failed;
        rc = db_pipeline(db, stmts, k, res, &failed, err, errlen);
        if (rc == 1)
            rc = -EIO; /* ingest_apply catches what is the data's fault */
        if (rc == 0 && strcmp(PQcmdStatus(res[k - 1]), "COMMIT") != 0) {
            snprintf(err, errlen, "commit failed: transaction was rolled back");
            rc = -EIO;
        }
        if (rc == 0 && ord > 0)
            take_decisions(res[0], staged, ord, group);
        for (size_t i = 0; i < k; i++)
            PQclear(res[i]);
    }
    if (rc != 0)
        db_rollback(db);
    goto out;

out_nomem:
    snprintf(err, errlen, "out of memory");
out:
    for (int i = 0; i < 5; i++)
        free(params[i]);
    copytext_reset(&stage, STAGE_KEEP_BYTES);
    w->stage = stage.data;
    w->stage_cap = stage.cap;
    free(staged);
    free(agent_of);
    free(agents);
    return rc;
}
