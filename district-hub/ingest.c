/*
 * ingest.c - batch admission, group commit and acknowledgements (contract
 * in ingest.h); no SQL (the writer is db/ingest.c), no socket set-up (that
 * is server.c).
 *
 * Each step reads what waits on the ROUTER, checks every batch's sender,
 * writes one group, and answers. A malformed frame is answered with an Ack
 * carrying a refusal code; a database failure answers the batches already
 * read "database unavailable" with retry_after_ms (nothing of them
 * acknowledged), and the server stops stepping until the connection is
 * back, so later batches wait in ZeroMQ's queue instead of being dropped.
 *
 * Group commit (docs/DESIGN.md §4): every batch already waiting on the
 * socket when a commit ends, and, once batches come faster than one commit
 * each, those arriving within group_commit_ms more, are written together by
 * db/ingest.c, at most COMMIT_MAX_EVENTS a transaction (a bigger batch in
 * slices); a gap or a refused batch is decided per batch before anything
 * is written, and a row the database refuses is decided inside
 * ingest_apply(), so neither disturbs the other batches. Every Ack is sent
 * after the COMMIT of its batch's last slice.
 *
 * A full hub (docs/DESIGN.md §4): the batches waiting for a commit hold
 * at most max_waiting_events events (a setting) and GROUP_MAX_BATCHES
 * batches. Past the first bound, a batch from an agent that already has
 * one waiting is answered "hub busy" with retry_after_ms, the time the
 * hub expects to need for what waits; a batch from an agent with nothing
 * waiting is still taken, up to twice the bound, so one ward's flood
 * never turns the others away. Past the hard bounds every batch is
 * answered busy. Either way the answer costs a decode, no memory and no
 * SQL, and the agent waits instead of timing out and sending again.
 */
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "envelope.h"
#include "metrics.h"
#include "core/principal.h"
#include "db/conn.h"
#include "db/ingest.h"
#include "db/reference.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"
#include "zap.h"

#define MODULE "ingest"

/* retry_after_ms of a "database unavailable" refusal: about the time a
 * reconnect attempt takes to come round. */
#define RETRY_AFTER_DATABASE_MS 1000
#define LOG_LIMIT_MS 10000
/* Bad frames are logged each, unless a peer floods us with them. */
#define FRAME_LOG_LIMIT_MS 1000
/* Routing id, optional empty delimiter (REQ peers), one message frame. */
/* Bounds of the batches waiting for a commit (memory: decoded batches
 * wait there), and of the events one transaction writes. The second is
 * what keeps one ward's big batch from delaying the others: a batch with
 * more events than a transaction takes is written in slices, one per
 * group, and the batches of other agents that arrive meanwhile go into the
 * next group beside the next slice (docs/DESIGN.md §4). Each slice commits
 * a prefix of the batch and its agent's mark; the Ack leaves after the
 * last. */
#define GROUP_MAX_BATCHES 256
/* Batches answered "hub busy" in one step at most, so the commit of what
 * waits is never put off by a flood of them; retry_after_ms of that
 * answer, between these bounds. */
#define BUSY_MAX_PER_STEP 256
#define RETRY_AFTER_BUSY_MIN_MS 20
#define RETRY_AFTER_BUSY_MAX_MS 10000
#define COMMIT_MAX_EVENTS 2000
/* What one batch may put into one transaction. Under load the
 * transaction still fills up with the batches of many wards; a ward whose
 * batch is far bigger (a whole outbox sent at once) gets its slices
 * written one transaction after another, and every other ward's batch
 * that arrives meanwhile waits for at most one slice of it. Measured with
 * bench/ingest/run.sh: slices of 2,000 events kept other wards waiting up
 * to 330 ms (p99) behind a 10,000-event batch. */
#define BATCH_SLICE_EVENTS 250
/* Known org units are looked up in the database at most this often: a
 * batch costs no round trip for it, and a unit added or changed by
 * "district-hub migrate" is seen within a minute. */
#define UNIT_CACHE_MS 60000
#define UNIT_CACHE_SIZE 64

struct pending;

struct ingest {
    const struct hub_settings *settings;
    const struct ws_catalogue *cat;
    void *socket;
    bool insecure;
    struct zap *zap;     /* NULL when insecure */
    struct db_link link; /* the writer's session, reconnected with back-off */
    struct db_ingest_writer writer;
    struct ws_log_limit db_limit;
    struct ws_log_limit frame_limit;
    struct ws_log_limit send_limit;
    /* Kinds of the org units batches came from lately. */
    struct unit_kind {
        char code[80];
        const char *kind; /* "ward", "district" or "city" */
        int64_t expires_ms;
    } units[UNIT_CACHE_SIZE];
    size_t n_units;
    /* Batches decoded and checked, waiting for the group's COMMIT. */
    struct pending *group;
    struct db_ingest_batch *items; /* the group as db_ingest_commit_group
                                      takes it */
    Wardsync__V1__Batch *slices;   /* the part of each batch a group takes */
    size_t n_group;
    size_t group_events;   /* events of the waiting batches not yet written */
    bool busy;             /* the last group held more than one batch */
    size_t n_refused_busy; /* batches answered "hub busy" this step */
    double events_per_ms;  /* commit rate, moving average; 0: none yet */
    uint64_t jitter;       /* state of the retry_after_ms jitter */
    struct ws_log_limit busy_limit;
};

/* A batch waiting for a COMMIT, with what its Ack needs. */
struct pending {
    struct envelope env; /* moved from the received message */
    Wardsync__V1__Batch *batch;
    char ward[80];
    char reject[512];
    int64_t received_us;           /* when its frame was read */
    size_t done;                   /* events written by earlier groups */
    bool taken;                    /* some group has written a slice */
    struct db_ingest_result total; /* of the slices written so far */
};

/* Sends the ack to the peer of env. Failing to send is not fatal: the batch
 * is committed and the agent will resend it and get a duplicate's ack. */
static void send_ack(struct ingest *in, struct envelope *env,
                     const Wardsync__V1__Ack *ack)
{
    int rc = envelope_reply(in->socket, env, &ack->base);
    if (rc == -ENOMEM)
        ws_error(MODULE, "could not encode ack peer=%s: out of memory",
                 env->peer);
    else if (rc == -EHOSTUNREACH)
        /* The agent left (stopped, or reconnected under a new routing id)
         * after sending: it gets the same answer when it sends again. */
        ws_log_limited(&in->send_limit, LOG_LIMIT_MS, WS_LOG_INFO, MODULE,
                       "ack not sent, peer gone peer=%s", env->peer);
    else if (rc < 0)
        ws_log_limited(&in->send_limit, LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
                       "could not send ack peer=%s: %s", env->peer,
                       zmq_strerror(-rc));
}

/* Answers a batch refused as a whole: refusal is what the agent decides
 * by (docs/DESIGN.md §4), error the text for its log. agent_instance is the
 * batch's whenever it was decoded (NULL only when it was not); the mark is
 * not sent here, since only a gap or bad seqs (answer_batch) know it. */
static void send_error_ack(struct ingest *in, struct envelope *env,
                           const char *agent_instance,
                           Wardsync__V1__Ack__Refusal refusal,
                           uint32_t retry_after_ms, const char *error)
{
    Wardsync__V1__Ack ack = WARDSYNC__V1__ACK__INIT;
    ack.agent_instance = (char *)(agent_instance ? agent_instance : "");
    ack.refusal = refusal;
    ack.retry_after_ms = retry_after_ms;
    ack.error = (char *)error;
    metrics_batch_refused((int)refusal);
    send_ack(in, env, &ack);
}

/* After a failure that leaves the session in doubt: the next group
 * reconnects, after back-off. */
static void drop_store(struct ingest *in)
{
    db_link_drop(&in->link);
}

/* Decides whose batch this is. The ward is the authenticated User-Id's
 * (docs/DESIGN.md §4), and the connection's key (key_z85) must still be
 * active; only under --insecure (user_id NULL) the ward the batch names.
 * Returns the ward, or NULL when the batch is refused (answered here;
 * "database unavailable" with retry_after_ms when the key could not be
 * checked). A batch naming another ward than its sender's is not refused:
 * its events are stored as rejected under the sender's ward, with *reject
 * set, so the attempt is on record. */
static const char *batch_ward(struct ingest *in, struct envelope *env,
                              const Wardsync__V1__Batch *batch,
                              const char *user_id, const char *key_z85,
                              struct principal *who, char *reject,
                              size_t rejectlen)
{
    char reason[256];
    if (in->insecure)
        return batch->ward;
    if (principal_parse(user_id, who) < 0 || !key_z85) {
        ws_warn(MODULE,
                "batch refused peer=%s reason=no authenticated "
                "identity",
                env->peer);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_IDENTITY, 0,
                       "refused: no authenticated identity");
        return NULL;
    }
    if (who->kind != PRINCIPAL_WARD) {
        ws_warn(MODULE,
                "batch refused peer=%s identity=%s reason=a city key "
                "may not ingest",
                env->peer, user_id);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_IDENTITY, 0,
                       "refused: a city key may not ingest");
        return NULL;
    }
    int active = zap_key_active(in->zap, user_id, key_z85);
    if (active < 0) {
        ws_log_limited(&in->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                       "batch not accepted peer=%s identity=%s "
                       "reason=database unavailable retry_after_ms=%d",
                       env->peer, user_id, RETRY_AFTER_DATABASE_MS);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE,
                       RETRY_AFTER_DATABASE_MS, "database unavailable");
        return NULL;
    }
    if (!active) {
        ws_warn(MODULE,
                "batch refused peer=%s identity=%s key=%s reason=key revoked",
                env->peer, user_id, key_z85);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_KEY_REVOKED, 0,
                       "refused: key revoked");
        return NULL;
    }
    if (batch->ward[0] && strcmp(batch->ward, who->code) != 0) {
        bool printable =
            ws_validate_code("ward", batch->ward, reason, sizeof reason) == 0;
        snprintf(reject, rejectlen,
                 "ward claim mismatch: batch names ward %s, sender is "
                 "authenticated as %s",
                 printable ? batch->ward : "(not a code)", user_id);
        ws_warn(MODULE,
                "ward claim rejected peer=%s identity=%s claimed=%s "
                "events=%zu",
                env->peer, user_id, printable ? batch->ward : "(not a code)",
                batch->n_events);
    }
    return who->code;
}

/* Sets *kind to the kind of org unit code, or NULL when it is unknown:
 * from the cache while fresh, else from the database. Returns 0 or -EIO. */
static int unit_kind(struct ingest *in, const char *code, const char **kind,
                     char *err, size_t errlen)
{
    int64_t now = ws_monotonic_ms();
    struct unit_kind *slot = NULL;
    for (size_t i = 0; i < in->n_units; i++) {
        if (strcmp(in->units[i].code, code) != 0)
            continue;
        if (in->units[i].expires_ms > now) {
            *kind = in->units[i].kind;
            return 0;
        }
        slot = &in->units[i];
    }
    struct db *db = db_link_get(&in->link);
    if (!db) {
        snprintf(err, errlen, "database unavailable");
        return -EIO;
    }
    if (db_ingest_unit_kind(db, code, kind, err, errlen) < 0)
        return -EIO;
    if (!*kind || strlen(code) >= sizeof in->units[0].code)
        return 0; /* unknown units are asked again: they may be added */
    if (!slot && in->n_units < UNIT_CACHE_SIZE)
        slot = &in->units[in->n_units++];
    if (slot) {
        ws_strlcpy(slot->code, code, sizeof slot->code);
        slot->kind = *kind;
        slot->expires_ms = now + UNIT_CACHE_MS;
    }
    return 0;
}

/* Whether the waiting batches have room for one more from (ward, the
 * batch's agent_instance): see "A full hub" above. */
static bool room_for(const struct ingest *in, const char *ward,
                     const Wardsync__V1__Batch *batch)
{
    size_t soft = (size_t)in->settings->max_waiting_events;
    if (in->n_group >= GROUP_MAX_BATCHES || in->group_events >= 2 * soft)
        return false;
    if (in->group_events < soft)
        return true;
    for (size_t i = 0; i < in->n_group; i++)
        if (strcmp(in->group[i].ward, ward) == 0 &&
            strcmp(in->group[i].batch->agent_instance, batch->agent_instance) ==
                0)
            return false;
    return true;
}

/* retry_after_ms of a "hub busy" answer: the time the measured commit rate
 * needs for the events waiting, within the bounds above, spread by up to a
 * quarter more so the agents told to wait do not all come back at once. */
static uint32_t busy_retry_ms(struct ingest *in)
{
    double ms = in->events_per_ms > 0
                    ? (double)in->group_events / in->events_per_ms
                    : RETRY_AFTER_DATABASE_MS;
    if (ms < RETRY_AFTER_BUSY_MIN_MS)
        ms = RETRY_AFTER_BUSY_MIN_MS;
    if (ms > RETRY_AFTER_BUSY_MAX_MS)
        ms = RETRY_AFTER_BUSY_MAX_MS;
    /* xorshift64: spreading needs no better randomness. */
    if (in->jitter == 0)
        in->jitter = (uint64_t)ws_monotonic_us() | 1;
    in->jitter ^= in->jitter << 13;
    in->jitter ^= in->jitter >> 7;
    in->jitter ^= in->jitter << 17;
    return (uint32_t)(ms + ms * (double)(in->jitter % 1024) / 4096.0);
}

/* The checks every batch passes before anything else, a reference
 * request too (what names the kind of batch in the log lines): whose it
 * is (batch_ward), that its agent_instance and ward are codes, and that
 * the ward is a known unit that may send (not the city). Returns the
 * ward, or NULL when the batch was refused (answered here). */
static const char *sender_ward(struct ingest *in, struct envelope *env,
                               const Wardsync__V1__Batch *batch,
                               const char *user_id, const char *key_z85,
                               struct principal *who, char *reject,
                               size_t rejectlen, const char *what)
{
    char reason[512], err[1024];
    const char *ward =
        batch_ward(in, env, batch, user_id, key_z85, who, reject, rejectlen);
    if (!ward)
        return NULL;
    if (ws_validate_code("agent_instance", batch->agent_instance, reason,
                         sizeof reason) != 0 ||
        ws_validate_code("ward", ward, reason, sizeof reason) != 0) {
        ws_log_limited(&in->frame_limit, FRAME_LOG_LIMIT_MS, WS_LOG_WARN,
                       MODULE, "%s refused peer=%s reason=%s", what, env->peer,
                       reason);
        /* An agent_instance that is not a code is sent back as it came:
         * the agent compares it with its own. */
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_IDENTITY, 0, reason);
        return NULL;
    }
    const char *kind = NULL;
    if (unit_kind(in, ward, &kind, err, sizeof err) < 0) {
        ws_log_limited(&in->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                       "database error, %s refused peer=%s: %s", what,
                       env->peer, err);
        drop_store(in);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE,
                       RETRY_AFTER_DATABASE_MS, "database unavailable");
        return NULL;
    }
    if (!kind || strcmp(kind, "city") == 0) {
        snprintf(reason, sizeof reason, "unknown ward %s", ward);
        ws_warn(MODULE, "%s refused peer=%s agent_instance=%s reason=%s", what,
                env->peer, batch->agent_instance, reason);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_UNKNOWN_WARD, 0,
                       reason);
        return NULL;
    }
    return ward;
}

/* Checks the sender of a decoded batch and adds it to the group (taking
 * the batch and the envelope's parts), or answers a refusal at once. */
static void admit_batch(struct ingest *in, struct envelope *env,
                        Wardsync__V1__Batch **batch_in, const char *user_id,
                        const char *key_z85, int64_t received_us)
{
    const Wardsync__V1__Batch *batch = *batch_in;
    char reject[512] = "";
    struct principal who;
    const char *ward = sender_ward(in, env, batch, user_id, key_z85, &who,
                                   reject, sizeof reject, "batch");
    if (!ward)
        return;

    if (!room_for(in, ward, batch)) {
        uint32_t retry = busy_retry_ms(in);
        ws_log_limited(&in->busy_limit, LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
                       "hub busy, batch refused ward=%s agent_instance=%s "
                       "events=%zu waiting_events=%zu retry_after_ms=%u",
                       ward, batch->agent_instance, batch->n_events,
                       in->group_events, retry);
        in->n_refused_busy++;
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BUSY, retry,
                       "hub busy");
        return;
    }

    struct pending *p = &in->group[in->n_group++];
    memset(p, 0, sizeof *p);
    envelope_move(&p->env, env);
    p->batch = *batch_in;
    *batch_in = NULL;
    ws_strlcpy(p->ward, ward, sizeof p->ward);
    ws_strlcpy(p->reject, reject, sizeof p->reject);
    p->received_us = received_us;
    in->group_events += batch->n_events;
    metrics_unit_contact(ward, batch->backlog);
}

/* Answers one batch of a committed group. */
static void answer_batch(struct ingest *in, struct pending *p,
                         const struct db_ingest_result *result)
{
    const Wardsync__V1__Batch *batch = p->batch;
    const char *ward = p->ward;
    Wardsync__V1__Ack ack = WARDSYNC__V1__ACK__INIT;
    ack.agent_instance = batch->agent_instance;
    ack.committed_through = result->committed_through;
    ack.error = (char *)result->error;
    /* The store refuses a whole batch for two reasons only, both with the
     * agent's mark in committed_through. */
    if (result->gap)
        ack.refusal = WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP;
    else if (result->error[0])
        ack.refusal = WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BAD_SEQS;
    Wardsync__V1__Outcome *outcomes =
        calloc(result->n_outcomes ? result->n_outcomes : 1, sizeof *outcomes);
    Wardsync__V1__Outcome **pointers =
        calloc(result->n_outcomes ? result->n_outcomes : 1, sizeof *pointers);
    if (!outcomes || !pointers) {
        /* Committed but cannot answer: the agent's resend gets duplicates
         * acknowledged, so nothing is lost. */
        ws_error(MODULE, "out of memory building ack ward=%s", ward);
        goto out;
    }
    for (size_t i = 0; i < result->n_outcomes; i++) {
        wardsync__v1__outcome__init(&outcomes[i]);
        outcomes[i].seq = result->outcomes[i].seq;
        outcomes[i].code = result->outcomes[i].code;
        outcomes[i].reason = result->outcomes[i].reason;
        pointers[i] = &outcomes[i];
    }
    ack.n_outcomes = result->n_outcomes;
    ack.outcomes = pointers;

    /* Per batch: debug only, the summary line of server.c says how many
     * at info (a line a batch is gigabytes a day at 600 agents). */
    if (result->error[0]) {
        ws_warn(MODULE,
                "batch refused ward=%s agent_instance=%s events=%zu "
                "committed_through=%" PRIu64 " reason=%s",
                ward, batch->agent_instance, batch->n_events,
                result->committed_through, result->error);
        metrics_batch_refused((int)ack.refusal);
    } else {
        ws_debug(MODULE,
                 "batch committed ward=%s agent_instance=%s events=%zu "
                 "accepted=%zu duplicate=%zu conflict=%zu rejected=%zu "
                 "committed_through=%" PRIu64,
                 ward, batch->agent_instance, batch->n_events, result->accepted,
                 result->duplicates, result->conflicts, result->rejected,
                 result->committed_through);
        metrics_batch_committed(result->accepted, result->duplicates,
                                result->conflicts, result->rejected);
    }
    send_ack(in, &p->env, &ack);
    if (!result->error[0])
        metrics_ack_latency(ws_monotonic_us() - p->received_us);

out:
    free(pointers);
    free(outcomes);
}

/* Adds the outcome of one slice to its batch's total. Returns 0 or
 * -ENOMEM. */
static int total_add(struct db_ingest_result *total,
                     const struct db_ingest_result *slice)
{
    if (slice->n_outcomes > 0) {
        struct db_ingest_outcome *grown =
            realloc(total->outcomes,
                    (total->n_outcomes + slice->n_outcomes) * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        memcpy(grown + total->n_outcomes, slice->outcomes,
               slice->n_outcomes * sizeof *grown);
        total->outcomes = grown;
        total->n_outcomes += slice->n_outcomes;
    }
    total->gap = slice->gap;
    memcpy(total->error, slice->error, sizeof total->error);
    total->committed_through = slice->committed_through;
    total->accepted += slice->accepted;
    total->duplicates += slice->duplicates;
    total->conflicts += slice->conflicts;
    total->rejected += slice->rejected;
    return 0;
}

static void pending_close(struct pending *p)
{
    db_ingest_result_clear(&p->total);
    wardsync__v1__batch__free_unpacked(p->batch, NULL);
    envelope_close(&p->env);
}

/* Whether pending i must wait: an earlier batch of its agent is not
 * written whole by this group so far (its seqs would then be a gap). */
static bool pending_blocked(const struct ingest *in, size_t i,
                            const size_t *take, size_t n)
{
    const struct pending *p = &in->group[i];
    for (size_t k = 0; k < i; k++) {
        const struct pending *q = &in->group[k];
        if (strcmp(q->ward, p->ward) != 0 ||
            strcmp(q->batch->agent_instance, p->batch->agent_instance) != 0)
            continue;
        bool whole = false;
        for (size_t t = 0; t < n && !whole; t++)
            whole = take[t] == k &&
                    q->done + in->slices[t].n_events == q->batch->n_events;
        if (!whole)
            return true;
    }
    return false;
}

/* Chooses what this group writes, at most COMMIT_MAX_EVENTS events and
 * BATCH_SLICE_EVENTS of any one batch: first the batches no group has
 * touched yet (so a ward's small batch never waits behind another's big
 * one), then the next slices of the batches begun earlier. Fills in->items and
 * in->slices; returns how many, with item t taken from pending take[t]. */
static size_t choose_group(struct ingest *in, size_t *take)
{
    size_t n = 0, room = COMMIT_MAX_EVENTS;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < in->n_group; i++) {
            struct pending *p = &in->group[i];
            if (p->taken != (pass == 1) || pending_blocked(in, i, take, n))
                continue;
            size_t left = p->batch->n_events - p->done;
            if (left > 0 && room == 0)
                continue;
            size_t part = left < room ? left : room;
            if (part > BATCH_SLICE_EVENTS)
                part = BATCH_SLICE_EVENTS;
            room -= part;
            in->slices[n] = *p->batch;
            in->slices[n].events = p->batch->events + p->done;
            in->slices[n].n_events = part;
            /* The backlog reported with a slice counts the rest of its
             * batch. */
            in->slices[n].backlog = p->batch->backlog + (left - part);
            in->items[n] = (struct db_ingest_batch){
                .ward = p->ward,
                .batch = &in->slices[n],
                .reject_reason = p->reject[0] ? p->reject : NULL,
            };
            take[n++] = i;
        }
    return n;
}

/* Writes one group in one transaction and, once it has committed, answers
 * every batch it finished; batches with events left wait for the next
 * group. When the transaction fails every waiting batch is answered
 * "database unavailable" (or "hub busy"): the agents resend from their
 * marks, and what earlier slices wrote comes back as duplicates. */
static void commit_group(struct ingest *in)
{
    if (in->n_group == 0)
        return;
    char err[1024];
    size_t take[GROUP_MAX_BATCHES];
    size_t n = choose_group(in, take), events = 0;
    for (size_t t = 0; t < n; t++)
        events += in->slices[t].n_events;
    int rc = -EIO;
    int64_t started_us = ws_monotonic_us();
    struct db *db = db_link_get(&in->link);
    if (db)
        rc = db_ingest_commit_group(db, &in->writer, in->link.generation,
                                    in->items, n, in->cat, err, sizeof err);
    else
        snprintf(err, sizeof err, "database connection lost");
    int64_t took_us = ws_monotonic_us() - started_us;
    if (rc == 0)
        metrics_commit_time(took_us);
    for (size_t t = 0; rc == 0 && t < n; t++) {
        struct pending *p = &in->group[take[t]];
        const struct db_ingest_result *r = &in->items[t].result;
        if (total_add(&p->total, r) < 0) {
            snprintf(err, sizeof err, "out of memory");
            rc = -ENOMEM;
            break;
        }
        /* A refused batch (gap, bad seqs) is finished: nothing of it is
         * written. */
        p->done =
            r->error[0] ? p->batch->n_events : p->done + in->slices[t].n_events;
        p->taken = true;
    }
    for (size_t t = 0; t < n; t++)
        db_ingest_result_clear(&in->items[t].result);
    if (rc < 0) {
        ws_log_limited(&in->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                       "could not commit group, not acknowledged batches=%zu: "
                       "%s",
                       in->n_group, err);
        if (rc == -EIO && db && !db_ok(db))
            drop_store(in);
        /* Nothing of this group is known to be committed: the agents
         * resend from their marks after retry_after_ms (a COMMIT that did
         * land makes the resend duplicates, nothing is lost). */
        for (size_t i = 0; i < in->n_group; i++) {
            send_error_ack(
                in, &in->group[i].env, in->group[i].batch->agent_instance,
                rc == -EIO
                    ? WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE
                    : WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BUSY,
                RETRY_AFTER_DATABASE_MS,
                rc == -EIO ? "database unavailable" : "hub busy");
            pending_close(&in->group[i]);
        }
        in->busy = false;
        in->n_group = 0;
        in->group_events = 0;
        return;
    }
    ws_debug(MODULE, "group committed batches=%zu events=%zu ms=%.2f", n,
             events, (double)took_us / 1000.0);
    if (events > 0 && took_us > 0) {
        double rate = (double)events * 1000.0 / (double)took_us;
        in->events_per_ms =
            in->events_per_ms > 0 ? 0.8 * in->events_per_ms + 0.2 * rate : rate;
    }
    /* Answer the finished batches; keep the others, in order. */
    size_t kept = 0;
    in->group_events = 0;
    for (size_t i = 0; i < in->n_group; i++) {
        struct pending *p = &in->group[i];
        if (p->taken && p->done == p->batch->n_events) {
            answer_batch(in, p, &p->total);
            pending_close(p);
            continue;
        }
        in->group_events += p->batch->n_events - p->done;
        if (kept != i)
            in->group[kept] = *p;
        kept++;
    }
    in->busy = n > 1 || kept > 0;
    in->n_group = kept;
}

/* Answers a batch that carries a reference_request (transport.proto) at
 * once, outside the group: the reference data of the sender's
 * authenticated ward (never the ward the batch names, except under
 * --insecure), all of it when the agent's version differs, "unchanged"
 * when it is the same (docs/DESIGN.md §4). Refusals are those of a batch:
 * identity, key revoked, unknown ward, database unavailable; a request
 * that also carries events is malformed. */
static void answer_reference(struct ingest *in, struct envelope *env,
                             const Wardsync__V1__Batch *batch,
                             const char *user_id, const char *key_z85)
{
    char err[1024], reject[512] = "";
    struct principal who;
    if (batch->n_events > 0) {
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED, 0,
                       "malformed batch: a reference_request carries no "
                       "events");
        return;
    }
    const char *ward = sender_ward(in, env, batch, user_id, key_z85, &who,
                                   reject, sizeof reject, "reference request");
    if (!ward)
        return;
    Wardsync__V1__Reference *ref = NULL;
    struct db *db = db_link_get(&in->link);
    snprintf(err, sizeof err, "database unavailable");
    if (!db || db_reference_load(db, ward, &ref, err, sizeof err) < 0) {
        ws_log_limited(&in->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                       "database error, reference request not answered "
                       "peer=%s: %s",
                       env->peer, err);
        if (!db || !db_ok(db))
            drop_store(in);
        send_error_ack(in, env, batch->agent_instance,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE,
                       RETRY_AFTER_DATABASE_MS, "database unavailable");
        return;
    }
    const char *asked = batch->reference_request->version;
    bool unchanged = strcmp(asked, ref->version) == 0;
    Wardsync__V1__Reference same = WARDSYNC__V1__REFERENCE__INIT;
    same.version = ref->version;
    same.ward = ref->ward;
    same.unchanged = true;
    Wardsync__V1__Ack ack = WARDSYNC__V1__ACK__INIT;
    ack.agent_instance = batch->agent_instance;
    ack.reference = unchanged ? &same : ref;
    ws_debug(MODULE,
             "reference answered ward=%s version=%s unchanged=%s rounds=%zu "
             "subjects=%zu",
             ward, ref->version, unchanged ? "yes" : "no", ref->n_rounds,
             ref->n_subjects);
    send_ack(in, env, &ack);
    wardsync__v1__reference__free_unpacked(ref, NULL);
}

/* Receives one message and answers it or adds its batch to the group.
 * Returns 1 when a message was read, 0 when none was waiting. */
static int handle_message(struct ingest *in)
{
    struct envelope env;
    if (envelope_recv(in->socket, &env) < 0) {
        if (errno != EAGAIN && errno != EINTR)
            ws_warn(MODULE, "could not receive: %s", zmq_strerror(errno));
        return 0;
    }
    int64_t received_us = ws_monotonic_us();
    zmq_msg_t *payload = envelope_payload(&env);
    if (!payload) {
        ws_log_limited(
            &in->frame_limit, FRAME_LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
            "malformed message peer=%s reason=want one frame "
            "per message, got %d%s",
            env.peer, env.n_parts - 1, env.too_many ? " or more" : "");
        send_error_ack(in, &env, NULL,
                       WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED, 0,
                       "malformed message: want exactly one frame");
        goto out_env;
    }

    Wardsync__V1__Batch *batch = NULL;
    char reason[512];
    int unpacked = ws_batch_unpack(zmq_msg_data(payload), zmq_msg_size(payload),
                                   (size_t)in->settings->max_frame, &batch,
                                   reason, sizeof reason);
    if (unpacked < 0) {
        ws_log_limited(&in->frame_limit, FRAME_LOG_LIMIT_MS, WS_LOG_WARN,
                       MODULE, "malformed frame peer=%s bytes=%zu reason=%s",
                       env.peer, zmq_msg_size(payload), reason);
        char error[600];
        snprintf(error, sizeof error, "malformed frame: %s", reason);
        send_error_ack(in, &env, NULL,
                       unpacked == -EPROTO
                           ? WARDSYNC__V1__ACK__REFUSAL__REFUSAL_PROTOCOL
                           : WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED,
                       0, error);
        goto out_env;
    }
    /* Metadata of the connection rides on every frame it sent. */
    if (batch->reference_request) {
        answer_reference(
            in, &env, batch,
            in->insecure ? NULL : zmq_msg_gets(payload, "User-Id"),
            in->insecure ? NULL : zmq_msg_gets(payload, ZAP_PROPERTY_KEY));
        wardsync__v1__batch__free_unpacked(batch, NULL);
        goto out_env;
    }
    admit_batch(in, &env, &batch,
                in->insecure ? NULL : zmq_msg_gets(payload, "User-Id"),
                in->insecure ? NULL : zmq_msg_gets(payload, ZAP_PROPERTY_KEY),
                received_us);
    if (batch)
        wardsync__v1__batch__free_unpacked(batch, NULL);

out_env:
    envelope_close(&env);
    return 1;
}

/* Gathers a group: every message already waiting, and, while the hub is
 * busy, those arriving within group_commit_ms of the first (a batch
 * without room is answered "hub busy", at most BUSY_MAX_PER_STEP a step);
 * then commits it. */
static void ingest_group(struct ingest *in)
{
    int64_t deadline = 0;
    in->n_refused_busy = 0;
    while (in->link.db && in->n_refused_busy < BUSY_MAX_PER_STEP) {
        if (handle_message(in))
            continue;
        if (!in->busy || in->settings->group_commit_ms <= 0 || in->n_group == 0)
            break;
        int64_t now = ws_monotonic_ms();
        if (deadline == 0)
            deadline = now + in->settings->group_commit_ms;
        if (now >= deadline)
            break;
        zmq_pollitem_t item = {in->socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)(deadline - now)) <= 0)
            break;
    }
    commit_group(in);
}

int ingest_open(const struct hub_settings *settings,
                const struct ws_catalogue *cat, void *socket, struct zap *zap,
                bool insecure, struct ingest **out)
{
    *out = NULL;
    struct ingest *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->settings = settings;
    in->cat = cat;
    in->socket = socket;
    in->zap = zap;
    in->insecure = insecure;
    in->group = calloc(GROUP_MAX_BATCHES, sizeof *in->group);
    in->items = calloc(GROUP_MAX_BATCHES, sizeof *in->items);
    in->slices = calloc(GROUP_MAX_BATCHES, sizeof *in->slices);
    if (!in->group || !in->items || !in->slices) {
        ingest_close(&in);
        return -ENOMEM;
    }
    db_link_init(&in->link, settings->database, "district-hub ingest", MODULE);
    if (!db_link_get(&in->link)) {
        ingest_close(&in); /* the reason is logged */
        return -EIO;
    }
    *out = in;
    return 0;
}

void ingest_close(struct ingest **in_p)
{
    struct ingest *in = in_p ? *in_p : NULL;
    if (!in)
        return;
    /* Batches still waiting are not acknowledged: their agents send them
     * again to the next hub run, and what was written comes back as
     * duplicates. */
    for (size_t i = 0; in->group && i < in->n_group; i++)
        pending_close(&in->group[i]);
    db_link_close(&in->link);
    db_ingest_writer_clear(&in->writer);
    free(in->group);
    free(in->items);
    free(in->slices);
    free(in);
    *in_p = NULL;
}

bool ingest_database_up(struct ingest *in)
{
    return db_link_get(&in->link) != NULL;
}

int64_t ingest_database_retry_ms(const struct ingest *in)
{
    return db_link_retry_in_ms(&in->link);
}

bool ingest_pending(const struct ingest *in)
{
    return in->n_group > 0;
}

void ingest_step(struct ingest *in)
{
    ingest_group(in);
}
