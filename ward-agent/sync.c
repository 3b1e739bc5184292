/*
 * sync.c - the ward agent's sync loop.
 *
 * One DEALER socket talks to the hub's ROUTER. The loop sends a Batch of
 * consecutive events starting at the hub's mark + 1, waits for the Ack and
 * records it in the outbox. The hub's committed_through is the only truth
 * about what it holds: an Ack is applied by that mark, never by "the batch
 * we sent last", so a late Ack for an older batch is harmless, and a gap
 * answer (Ack.refusal REFUSAL_GAP) sends the loop back to
 * committed_through + 1 (go back N). Every decision is taken by the Ack's
 * codes (refusal, outcome code), never by its text; a refusal that does not
 * carry the mark (identity, database unavailable, ...) leaves it as it
 * was. A missing Ack means resending the same seqs after a backoff; the hub
 * answers events it already holds as duplicates.
 *
 * Up to `window` batches are in flight at once (they reach the hub in
 * order on the one connection). An Ack retires every flight its mark
 * covers and restarts the ack timeout of the oldest one left, so a busy
 * hub that keeps committing never sees a resend storm; only a hub silent
 * for ack_timeout_ms sends the loop back to its mark, after a backoff with
 * jitter.
 *
 * Reference data (docs/DESIGN.md §4): on connect and every
 * REFERENCE_INTERVAL_MS after, the loop sends a Batch without events that
 * carries a ReferenceRequest with the version it holds; the Ack that
 * answers it carries the Reference (all of it, or "unchanged"), which is
 * kept in the outbox (reference.h) and touches nothing of the batches in
 * flight. "run --until-idle" waits for that answer, at most
 * ack_timeout_ms after start, before it stops.
 */
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <zmq.h>

#include "inbox.h"
#include "outbox.h"
#include "reference.h"
#include "settings.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/keys.h"
#include "wardsync/log.h"
#include "wardsync/util.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_CAP_MS 5000
#define SOCKET_HWM 1000
#define HEARTBEAT_IVL_MS 5000
#define HEARTBEAT_TIMEOUT_MS 15000
#define HEARTBEAT_TTL_MS 15000
/* Longest wait a hub's retry_after_ms can impose before the next try. */
#define RETRY_AFTER_MAX_MS 60000
/* How often the reference data is asked for again while connected. */
#define REFERENCE_INTERVAL_MS (5 * 60 * 1000)
/* Room left in a frame for the Batch's own fields. */
#define BATCH_OVERHEAD 4096

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* A batch waiting for its Ack. */
struct flight {
    uint64_t first;
    uint64_t last;
    int64_t deadline_ms; /* monotonic */
};

struct sync_state {
    const struct agent_settings *settings;
    struct outbox *outbox;
    void *zmq_ctx;
    void *socket;
    uint64_t hub_mark; /* highest seq the hub said it committed */
    uint64_t next_seq; /* first seq of the next batch to send */
    struct flight flights[SETTINGS_WINDOW_MAX]; /* oldest first */
    size_t n_flights;
    unsigned failures;     /* consecutive timeouts / refusals */
    int64_t not_before_ms; /* monotonic: backoff or retry_after */
    bool hub_silent;       /* last attempt went unanswered */
    bool flight_sent_once; /* a batch has left the socket */
    /* Reference data: when to ask next, the deadline of the request in
     * flight (0: none), whether this run was answered. */
    int64_t reference_next_ms;
    int64_t reference_deadline_ms;
    bool reference_answered;
};

/* Exponential backoff with jitter: half the step fixed, half random, so
 * fourteen wards restarted together do not knock in step. */
static int64_t backoff_ms(unsigned failures)
{
    unsigned shift = failures > 10 ? 10 : failures;
    int64_t step = (int64_t)BACKOFF_FIRST_MS << shift;
    if (step > BACKOFF_CAP_MS)
        step = BACKOFF_CAP_MS;
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)ws_monotonic_ms();
    return step / 2 + (int64_t)(r % (uint32_t)(step / 2 + 1));
}

static int set_int_option(void *socket, int option, int value, const char *name)
{
    if (zmq_setsockopt(socket, option, &value, sizeof(value)) < 0) {
        ws_error("sync", "could not set %s: %s", name, zmq_strerror(errno));
        return -EIO;
    }
    return 0;
}

static int open_socket(struct sync_state *state)
{
    const struct agent_settings *settings = state->settings;
    int64_t max_frame = settings->max_frame;

    state->zmq_ctx = zmq_ctx_new();
    if (!state->zmq_ctx) {
        ws_error("sync", "could not create zmq context: %s",
                 zmq_strerror(errno));
        return -EIO;
    }
    state->socket = zmq_socket(state->zmq_ctx, ZMQ_DEALER);
    if (!state->socket) {
        ws_error("sync", "could not create socket: %s", zmq_strerror(errno));
        return -EIO;
    }
    /* ZMQ_IMMEDIATE: do not queue batches for a hub that is not connected;
     * the send fails and the loop backs off instead. */
    if (set_int_option(state->socket, ZMQ_LINGER, 0, "ZMQ_LINGER") < 0 ||
        set_int_option(state->socket, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE") < 0 ||
        set_int_option(state->socket, ZMQ_SNDHWM, SOCKET_HWM, "ZMQ_SNDHWM") <
            0 ||
        set_int_option(state->socket, ZMQ_RCVHWM, SOCKET_HWM, "ZMQ_RCVHWM") <
            0 ||
        set_int_option(state->socket, ZMQ_HEARTBEAT_IVL, HEARTBEAT_IVL_MS,
                       "ZMQ_HEARTBEAT_IVL") < 0 ||
        set_int_option(state->socket, ZMQ_HEARTBEAT_TIMEOUT,
                       HEARTBEAT_TIMEOUT_MS, "ZMQ_HEARTBEAT_TIMEOUT") < 0 ||
        set_int_option(state->socket, ZMQ_HEARTBEAT_TTL, HEARTBEAT_TTL_MS,
                       "ZMQ_HEARTBEAT_TTL") < 0 ||
        set_int_option(state->socket, ZMQ_RECONNECT_IVL, 100,
                       "ZMQ_RECONNECT_IVL") < 0 ||
        set_int_option(state->socket, ZMQ_RECONNECT_IVL_MAX, BACKOFF_CAP_MS,
                       "ZMQ_RECONNECT_IVL_MAX") < 0)
        return -EIO;
    if (zmq_setsockopt(state->socket, ZMQ_MAXMSGSIZE, &max_frame,
                       sizeof(max_frame)) < 0) {
        ws_error("sync", "could not set ZMQ_MAXMSGSIZE: %s",
                 zmq_strerror(errno));
        return -EIO;
    }
    if (settings->secret_key) {
        /* CURVE client: our key pair, and the hub's public key, which
         * authenticates the hub to us. */
        struct ws_keypair own, hub;
        char err[512];
        if (ws_keys_read_secret(settings->secret_key, &own, err, sizeof err) <
                0 ||
            ws_keys_read_public(settings->hub_public_key, &hub, err,
                                sizeof err) < 0) {
            ws_error("sync", "%s", err);
            ws_keys_wipe(&own);
            return -EINVAL;
        }
        int rc = zmq_setsockopt(state->socket, ZMQ_CURVE_SERVERKEY,
                                hub.public_z85, WS_KEY_Z85_LEN);
        if (rc == 0)
            rc = zmq_setsockopt(state->socket, ZMQ_CURVE_PUBLICKEY,
                                own.public_z85, WS_KEY_Z85_LEN);
        if (rc == 0)
            rc = zmq_setsockopt(state->socket, ZMQ_CURVE_SECRETKEY,
                                own.secret_z85, WS_KEY_Z85_LEN);
        ws_keys_wipe(&own);
        if (rc != 0) {
            ws_error("sync", "could not set CURVE keys: %s",
                     zmq_strerror(errno));
            return -EIO;
        }
    } else {
        ws_warn("sync", "no CURVE keys configured (secret_key, "
                        "hub_public_key): connecting without encryption, "
                        "which only a hub run --insecure accepts");
    }
    if (zmq_connect(state->socket, settings->hub) < 0) {
        ws_error("sync", "could not connect to hub endpoint \"%s\": %s",
                 settings->hub, zmq_strerror(errno));
        return -EINVAL;
    }
    ws_info("sync", "connecting to hub endpoint=%s ward=%s agent_instance=%s",
            settings->hub, outbox_ward(state->outbox),
            outbox_agent_instance(state->outbox));
    return 0;
}

static void close_socket(struct sync_state *state)
{
    if (state->socket) {
        int zero = 0;
        zmq_setsockopt(state->socket, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(state->socket);
        state->socket = NULL;
    }
    if (state->zmq_ctx) {
        zmq_ctx_term(state->zmq_ctx);
        state->zmq_ctx = NULL;
    }
}

/* The hub did not answer (or could not be reached): try the same seqs
 * again after a backoff. */
static void schedule_retry(struct sync_state *state, int64_t now,
                           const char *why)
{
    static struct ws_log_limit limit;
    int64_t delay = backoff_ms(state->failures);
    state->failures++;
    state->n_flights = 0;
    state->next_seq = state->hub_mark + 1;
    state->not_before_ms = now + delay;
    state->hub_silent = true;
    /* The first failed send right after start is the connection still
     * being set up: not worth a warning. */
    bool quiet = state->failures == 1 && !state->flight_sent_once;
    if (quiet)
        ws_debug("sync", "%s, sending from seq=%llu in %lld ms", why,
                 (unsigned long long)state->next_seq, (long long)delay);
    else
        ws_log_limited(&limit, 30000, WS_LOG_WARN, "sync",
                       "%s, resending from seq=%llu in %lld ms endpoint=%s",
                       why, (unsigned long long)state->next_seq,
                       (long long)delay, state->settings->hub);
}

/* Sends the next batch from state->next_seq. The stored events are the
 * packed Event records as they were queued: they are framed into the
 * Batch as they are (ws_batch_pack_events), never decoded and encoded
 * again. Returns 0 when a batch was sent (or a retry scheduled), 1 when
 * there is nothing to send, or a negative errno on an outbox error. */
static int send_next_batch(struct sync_state *state, int64_t now)
{
    const struct agent_settings *settings = state->settings;
    struct outbox_row *rows = NULL;
    size_t n_rows = 0;
    struct ws_packed_event *events = NULL;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    uint64_t last_seq = 0;
    int rc;

    rc = outbox_read(
        state->outbox, state->next_seq, (size_t)settings->batch_size,
        (size_t)settings->max_frame - BATCH_OVERHEAD, &rows, &n_rows);
    if (rc < 0)
        return rc;
    if (n_rows == 0)
        return 1;
    events = calloc(n_rows, sizeof(*events));
    if (!events) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].seq != state->next_seq + i) {
            ws_error("sync",
                     "outbox has a gap: want seq=%llu, found "
                     "seq=%llu",
                     (unsigned long long)(state->next_seq + i),
                     (unsigned long long)rows[i].seq);
            rc = -EIO;
            goto done;
        }
        events[i].data = rows[i].payload;
        events[i].len = rows[i].payload_len;
    }
    uint64_t first = rows[0].seq;
    uint64_t last = rows[n_rows - 1].seq;
    /* The backlog is every seq queued after this batch: last_seq is one
     * row of meta, where counting the queued events would read them all on
     * every batch. It differs from that count only after the hub lost its
     * mark, when the events above it were delivered once and must be sent
     * again: from the hub's side they are backlog too. */
    if ((rc = outbox_last_seq(state->outbox, &last_seq)) < 0)
        goto done;
    uint64_t backlog = last_seq > last ? last_seq - last : 0;

    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = (char *)outbox_agent_instance(state->outbox);
    batch.ward = (char *)outbox_ward(state->outbox);
    batch.backlog = backlog;
    if ((rc = ws_batch_pack_events(&batch, events, n_rows, &frame,
                                   &frame_len)) < 0)
        goto done;

    if (zmq_send(state->socket, frame, frame_len, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN) {
            schedule_retry(state, now, "hub not connected");
            rc = 0;
        } else if (errno == EINTR) {
            rc = 0; /* try again on the next turn */
        } else {
            ws_error("sync", "could not send batch: %s", zmq_strerror(errno));
            schedule_retry(state, now, "send failed");
            rc = 0;
        }
        goto done;
    }
    state->flight_sent_once = true;
    struct flight *f = &state->flights[state->n_flights++];
    f->first = first;
    f->last = last;
    f->deadline_ms = now + settings->ack_timeout_ms;
    state->next_seq = last + 1;
    ws_debug("sync",
             "batch sent first_seq=%llu last_seq=%llu events=%zu "
             "bytes=%zu backlog=%llu",
             (unsigned long long)first, (unsigned long long)last, n_rows,
             frame_len, (unsigned long long)backlog);
    rc = 0;

done:
    free(events);
    free(frame);
    outbox_rows_free(&rows, n_rows);
    return rc;
}

/* Asks the hub for the reference data when it is time (see the top of
 * this file). A hub not connected yet is asked again soon. Returns 0 or
 * a negative errno on an outbox error. */
static int send_reference_request(struct sync_state *state, int64_t now)
{
    if (state->reference_deadline_ms || now < state->reference_next_ms)
        return 0;
    struct outbox_reference_info held;
    int rc = outbox_reference_load(state->outbox, &held, NULL, NULL);
    if (rc < 0)
        return rc;
    Wardsync__V1__ReferenceRequest request =
        WARDSYNC__V1__REFERENCE_REQUEST__INIT;
    request.version = held.present ? held.version : "";
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = (char *)outbox_agent_instance(state->outbox);
    batch.ward = (char *)outbox_ward(state->outbox);
    batch.reference_request = &request;
    uint8_t *frame = NULL;
    size_t len = 0;
    if ((rc = ws_pack(&batch.base, &frame, &len)) < 0)
        return rc;
    if (zmq_send(state->socket, frame, len, ZMQ_DONTWAIT) < 0) {
        /* Not connected yet (ZMQ_IMMEDIATE): soon again. */
        state->reference_next_ms = now + backoff_ms(2);
    } else {
        state->reference_deadline_ms = now + state->settings->ack_timeout_ms;
        state->reference_next_ms = now + REFERENCE_INTERVAL_MS;
        ws_debug("sync", "reference requested version=%s",
                 held.present ? held.version : "(none)");
    }
    free(frame);
    return 0;
}

/* Keeps the reference data of an Ack that answers a reference request. */
static int handle_reference(struct sync_state *state,
                            const Wardsync__V1__Reference *ref)
{
    state->reference_deadline_ms = 0;
    state->reference_answered = true;
    state->hub_silent = false;
    int rc = reference_keep(state->outbox, outbox_ward(state->outbox), ref,
                            ws_now_ms());
    /* Not kept (logged): asked again at the usual interval. */
    return rc == -EINVAL ? 0 : rc;
}

static const char *outcome_name(Wardsync__V1__Outcome__Code code)
{
    switch (code) {
    case WARDSYNC__V1__OUTCOME__CODE__CODE_ACCEPTED:
        return "accepted";
    case WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE:
        return "duplicate";
    case WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT:
        return "conflict";
    case WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED:
        return "rejected";
    default:
        return "unspecified";
    }
}

/* The refusals that carry the hub's mark in committed_through
 * (transport.proto): for every other one the mark is not known. */
static bool refusal_carries_mark(int refusal)
{
    return refusal == WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP ||
           refusal == WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BAD_SEQS;
}

/* The refusals after which the hub says how long to wait. */
static bool refusal_says_when(int refusal)
{
    return refusal ==
               WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE ||
           refusal == WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BUSY;
}

static const char *refusal_name(int refusal)
{
    const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value(
        &wardsync__v1__ack__refusal__descriptor, refusal);
    return value ? value->name : "unknown";
}

/* The hub's retry_after_ms, bounded: a hub that asks for an hour is
 * asked again within RETRY_AFTER_MAX_MS, one that asks for nothing after
 * the usual backoff. */
static int64_t retry_delay_ms(const struct sync_state *state, uint32_t asked)
{
    if (asked == 0)
        return backoff_ms(state->failures);
    return asked > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : (int64_t)asked;
}

/* Applies a refusal that does not carry the hub's mark (identity, key
 * revoked, database unavailable, ...): nothing of the batch was stored and
 * the mark stays what it was; every flight is sent again from the mark
 * after retry_after_ms or a backoff. Returns 0 or a negative errno. */
static int handle_refusal_without_mark(struct sync_state *state,
                                       const Wardsync__V1__Ack *ack,
                                       int64_t now)
{
    static struct ws_log_limit limit;
    int refusal = (int)ack->refusal;
    int64_t delay;
    int rc;

    if (refusal_says_when(refusal)) {
        delay = retry_delay_ms(state, ack->retry_after_ms);
    } else {
        delay = backoff_ms(state->failures);
        state->failures++;
    }
    ws_log_limited(&limit, 30000,
                   refusal_says_when(refusal) ? WS_LOG_INFO : WS_LOG_WARN,
                   "sync",
                   "hub refused batch refusal=%s: %s, resending from "
                   "seq=%llu in %lld ms",
                   refusal_name(refusal), ack->error,
                   (unsigned long long)(state->hub_mark + 1), (long long)delay);
    rc = outbox_touch(state->outbox, state->hub_mark, ws_now_ms());
    state->hub_silent = false;
    state->n_flights = 0;
    state->next_seq = state->hub_mark + 1;
    state->not_before_ms = now + delay;
    return rc;
}

/* Applies one Ack. Every decision is taken by its codes (refusal, outcome
 * code), never by its text. Returns 0, or a negative errno on an outbox
 * error. */
static int handle_ack(struct sync_state *state, const void *data, size_t len,
                      int64_t now)
{
    static struct ws_log_limit bad_limit;
    static struct ws_log_limit busy_limit;
    Wardsync__V1__Ack *ack = NULL;
    struct outbox_refusal *refusals = NULL;
    size_t n_refusals = 0;
    uint64_t last_seq;
    char err[256];
    int rc;

    rc = ws_ack_unpack(data, len, (size_t)state->settings->max_frame, &ack, err,
                       sizeof(err));
    if (rc < 0) {
        ws_log_limited(&bad_limit, 10000, WS_LOG_WARN, "sync",
                       "ignoring malformed ack: %s", err);
        return 0;
    }
    int refusal = (int)ack->refusal;
    bool refused = refusal != WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE;
    if (strcmp(ack->agent_instance, outbox_agent_instance(state->outbox)) !=
        0) {
        /* A batch the hub could not decode is refused without an
         * agent_instance; the DEALER only hears answers to its own frames,
         * so such a refusal is ours. */
        bool undecoded = refused && ack->agent_instance[0] == '\0' &&
                         !refusal_carries_mark(refusal);
        if (!undecoded) {
            ws_log_limited(&bad_limit, 10000, WS_LOG_WARN, "sync",
                           "ignoring ack for another agent_instance=%.40s",
                           ack->agent_instance);
            goto done;
        }
    }
    if (ack->reference && !refused) {
        rc = handle_reference(state, ack->reference);
        goto done;
    }
    if (refused && !refusal_carries_mark(refusal)) {
        rc = handle_refusal_without_mark(state, ack, now);
        goto done;
    }
    /* The outbox's last seq is one row of meta, not a count of events. */
    if ((rc = outbox_last_seq(state->outbox, &last_seq)) < 0)
        goto done;
    uint64_t through = ack->committed_through;
    if (through > last_seq) {
        ws_log_limited(&bad_limit, 10000, WS_LOG_ERROR, "sync",
                       "ignoring ack: hub claims committed_through=%llu "
                       "but the last queued seq is %llu",
                       (unsigned long long)through,
                       (unsigned long long)last_seq);
        goto done;
    }
    /* A late ack for an older batch carries an older mark: it never moves
     * the mark back. A gap or bad-seqs refusal does: the hub says what it
     * holds. */
    uint64_t mark =
        refused || through > state->hub_mark ? through : state->hub_mark;

    refusals = calloc(ack->n_outcomes ? ack->n_outcomes : 1, sizeof(*refusals));
    if (!refusals) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < ack->n_outcomes; i++) {
        const Wardsync__V1__Outcome *outcome = ack->outcomes[i];
        if (outcome->code != WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED &&
            outcome->code != WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT)
            continue;
        if (outcome->seq == 0 || outcome->seq > through)
            continue;
        refusals[n_refusals].seq = outcome->seq;
        refusals[n_refusals].reason = outcome->reason && outcome->reason[0]
                                          ? outcome->reason
                                          : outcome_name(outcome->code);
        n_refusals++;
        ws_warn("sync", "event %s by hub seq=%llu reason=\"%s\"",
                outcome_name(outcome->code), (unsigned long long)outcome->seq,
                refusals[n_refusals - 1].reason);
    }
    if ((rc = outbox_apply_ack(state->outbox, mark, refusals, n_refusals,
                               ws_now_ms())) < 0)
        goto done;
    if (state->hub_silent)
        ws_info("sync", "hub answered committed_through=%llu",
                (unsigned long long)through);
    state->hub_silent = false;
    state->hub_mark = mark;
    ws_debug("sync", "ack committed_through=%llu outcomes=%zu rejected=%zu",
             (unsigned long long)through, ack->n_outcomes, n_refusals);

    if (refused) {
        /* A gap is fixed by resending from the hub's mark at once; bad
         * seqs would repeat, so back off. */
        bool gap = refusal == WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP;
        if (gap && state->n_flights > 0 &&
            state->flights[0].first == through + 1) {
            /* The answer to a batch sent before we went back to the mark:
             * the batch that starts at the mark is already on its way. */
            ws_debug("sync", "ignoring stale gap answer committed_through=%llu",
                     (unsigned long long)through);
            goto done;
        }
        ws_warn("sync",
                "hub refused batch refusal=%s: %s committed_through=%llu",
                refusal_name(refusal), ack->error, (unsigned long long)through);
        state->n_flights = 0;
        state->next_seq = through + 1;
        if (!gap) {
            state->not_before_ms = now + backoff_ms(state->failures);
            state->failures++;
        }
    }
    if (ack->retry_after_ms) {
        int64_t delay = retry_delay_ms(state, ack->retry_after_ms);
        ws_log_limited(&busy_limit, 30000, WS_LOG_INFO, "sync",
                       "hub busy, waiting retry_after_ms=%lld",
                       (long long)delay);
        state->n_flights = 0;
        state->next_seq = state->hub_mark + 1;
        state->not_before_ms = now + delay;
    } else if (!refused) {
        size_t done_n = 0;
        while (done_n < state->n_flights && state->flights[done_n].last <= mark)
            done_n++;
        if (done_n > 0) {
            memmove(state->flights, state->flights + done_n,
                    (state->n_flights - done_n) * sizeof state->flights[0]);
            state->n_flights -= done_n;
            state->failures = 0;
            /* The hub is committing: give the next batch a full timeout
             * from now, however long it waited in the hub's queue. */
            if (state->n_flights > 0 &&
                state->flights[0].deadline_ms <
                    now + state->settings->ack_timeout_ms)
                state->flights[0].deadline_ms =
                    now + state->settings->ack_timeout_ms;
        }
        if (state->n_flights == 0 && state->next_seq <= mark)
            state->next_seq = mark + 1;
    }

done:
    free(refusals);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    return rc;
}

/* Reads every message waiting on the socket. */
static int drain_socket(struct sync_state *state, int64_t now)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, state->socket, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&msg);
            if (e == EAGAIN || e == EINTR)
                return 0;
            ws_error("sync", "could not receive: %s", zmq_strerror(e));
            return 0;
        }
        int more = zmq_msg_more(&msg);
        int rc = handle_ack(state, zmq_msg_data(&msg), zmq_msg_size(&msg), now);
        zmq_msg_close(&msg);
        /* The hub sends single-frame acks; skip the rest of anything else. */
        while (more) {
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, state->socket, ZMQ_DONTWAIT) < 0)
                more = 0;
            else
                more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        if (rc < 0)
            return rc;
    }
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: zmq_poll must return EINTR so the loop sees it. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int64_t min_positive(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Two "run" processes on one home would send the same outbox twice over
 * (each with its own view of what is in flight): the first holds an
 * exclusive lock on home/run.lock until it exits, even by kill -9 (the
 * kernel drops the lock with the process). Returns the lock's fd, or -1
 * after logging who holds it. */
static int lock_home(const char *home)
{
    char path[4096], holder[32] = "";
    snprintf(path, sizeof path, "%s/run.lock", home);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        ws_error("agent", "could not open \"%s\": %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        ws_error("agent",
                 "another ward-agent run is using this home home=%s pid=%s",
                 home, holder[0] ? holder : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        ws_warn("agent", "could not write the pid to \"%s\": %s", path,
                strerror(errno));
    return fd;
}

int sync_command(const struct agent_settings *settings,
                 const struct sync_run_options *options)
{
    struct sync_state state;
    struct ws_catalogue *cat = NULL;
    struct inbox *inbox = NULL;
    struct outbox_counts counts;
    int code = EXIT_IO;
    int rc;

    memset(&state, 0, sizeof(state));
    state.settings = settings;
    install_signal_handlers();

    if (settings_make_home(settings) < 0)
        return EXIT_IO;
    int lock_fd = lock_home(settings->home);
    if (lock_fd < 0)
        return EXIT_IO;
    rc =
        outbox_open(settings->outbox_path, settings->ward, true, &state.outbox);
    if (rc < 0) {
        close(lock_fd);
        return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
    }
    if (settings_load_catalogue(settings, &cat) < 0)
        goto close;
    if (inbox_new(settings->home, settings->inbox_settle_ms, &inbox) < 0)
        goto close;
    if ((rc = open_socket(&state)) < 0) {
        code = rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
        goto close;
    }
    if (outbox_get_counts(state.outbox, &counts) < 0)
        goto close;
    state.hub_mark = counts.hub_mark;
    state.next_seq = counts.hub_mark + 1;
    ws_info("agent", "running ward=%s queued=%llu hub_mark=%llu home=%s",
            outbox_ward(state.outbox), (unsigned long long)counts.queued,
            (unsigned long long)counts.hub_mark, settings->home);

    int64_t start = ws_monotonic_ms();
    int64_t give_up_at =
        options->max_seconds > 0 ? start + options->max_seconds * 1000 : 0;
    int64_t next_inbox_scan = start;
    bool inbox_empty = false;

    while (!stop_requested) {
        int64_t now = ws_monotonic_ms();
        if (give_up_at && now >= give_up_at) {
            ws_error("agent", "giving up after max_seconds=%lld",
                     (long long)options->max_seconds);
            code = EXIT_IO;
            goto close;
        }
        if (now >= next_inbox_scan) {
            struct inbox_scan_result scan;
            rc = inbox_scan(inbox, state.outbox, cat, &scan);
            inbox_empty = rc == 0 && scan.waiting == 0;
            next_inbox_scan = now + settings->inbox_poll_ms;
        }
        if (state.n_flights > 0 && now >= state.flights[0].deadline_ms)
            schedule_retry(&state, now, "no ack from hub");
        if (state.reference_deadline_ms && now >= state.reference_deadline_ms) {
            ws_debug("sync", "no answer to the reference request");
            state.reference_deadline_ms = 0;
            state.reference_next_ms = now + backoff_ms(state.failures);
        }
        if (send_reference_request(&state, now) < 0)
            goto close;

        bool nothing_to_send = false;
        while (state.n_flights < (size_t)settings->window &&
               now >= state.not_before_ms) {
            size_t before = state.n_flights;
            rc = send_next_batch(&state, now);
            if (rc < 0)
                goto close;
            nothing_to_send = rc == 1;
            if (rc != 0 || state.n_flights == before)
                break;
        }
        /* The reference data is waited for, but not for ever. */
        bool reference_done =
            state.reference_answered || now >= start + settings->ack_timeout_ms;
        if (nothing_to_send && options->until_idle && inbox_empty &&
            reference_done) {
            /* Every event at or below the hub's mark is delivered or
             * rejected and every one above it is queued, so "nothing
             * queued" is "the mark is the last seq": one row of meta, not
             * a count of the outbox on every idle turn. */
            uint64_t last_seq;
            if (outbox_last_seq(state.outbox, &last_seq) < 0)
                goto close;
            if (last_seq <= state.hub_mark) {
                if (outbox_get_counts(state.outbox, &counts) < 0)
                    goto close;
                ws_info("agent",
                        "idle: nothing queued, inbox empty "
                        "delivered=%llu rejected=%llu",
                        (unsigned long long)counts.delivered,
                        (unsigned long long)counts.rejected);
                code = EXIT_OK;
                goto close;
            }
        }

        /* Sleep until the next thing to do, or a message. */
        int64_t wake = next_inbox_scan;
        bool window_full = state.n_flights >= (size_t)settings->window;
        if (state.n_flights > 0)
            wake = min_positive(wake, state.flights[0].deadline_ms);
        wake = min_positive(wake, state.reference_deadline_ms
                                      ? state.reference_deadline_ms
                                      : state.reference_next_ms);
        if (options->until_idle && !reference_done)
            wake = min_positive(wake, start + settings->ack_timeout_ms);
        if (!window_full) {
            if (state.not_before_ms > now)
                wake = min_positive(wake, state.not_before_ms);
            else if (!nothing_to_send && state.n_flights == 0)
                wake = now;
        }
        if (give_up_at)
            wake = min_positive(wake, give_up_at);
        long timeout = wake > now ? (long)(wake - now) : 0;

        zmq_pollitem_t item = {state.socket, 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll(&item, 1, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            ws_error("sync", "poll failed: %s", zmq_strerror(errno));
            goto close;
        }
        if (ready > 0 && (item.revents & ZMQ_POLLIN)) {
            if (drain_socket(&state, ws_monotonic_ms()) < 0)
                goto close;
        }
    }
    ws_info("agent", "stopping on signal");
    code = EXIT_OK;

close:
    close_socket(&state);
    inbox_destroy(&inbox);
    ws_catalogue_destroy(&cat);
    outbox_close(&state.outbox);
    close(lock_fd);
    return code;
}
