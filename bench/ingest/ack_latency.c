/*
 * ack_latency.c - acknowledgement latency at a steady, light load.
 *
 * 15 DEALER clients (one per ward code of the seed district) each send a
 * one-event batch RATE times a second for SECONDS seconds, as a ward agent
 * with a trickle of work would, and time each batch from send to the
 * hub's Ack (which leaves only after COMMIT).
 *
 * Prints: ack_samples=N unacked=U ack_p50_ms=X ack_p99_ms=Y ack_max_ms=Z
 * (U batches had no answer by the end; each counts with the time it had
 * waited then, a lower bound)
 *
 * With --bad-batch N, the first client (LB01) is the badly behaved ward
 * instead: every two seconds it sends one batch of N events of which one
 * reuses, with another payload, the event_id of the first event it ever
 * sent (a conflict only the database can see); the latency is then that
 * of the 14 well-behaved wards, and the line starts with bad_batch=N.
 */
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "wardsync/codec.h"
#include "wardsync/util.h"

#define CLIENTS 15
#define MAX_PENDING 4096

static const char *const WARDS[CLIENTS] = {
    "LB01", "LB02", "LB03", "LB04", "LB05", "LB06", "LB07", "LB08",
    "LB09", "LB10", "LB11", "LB12", "LB13", "LB14", "LB"};

struct client {
    void *sock;
    char instance[WS_UUID_LEN + 1];
    char first_id[WS_UUID_LEN + 1]; /* the event_id of seq 1 */
    uint64_t next_seq;
    double sent_at[MAX_PENDING]; /* by seq % MAX_PENDING */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sends one batch of n reception events; with conflict, the middle one
 * reuses the event_id of the client's first event with another payload. */
static int send_batch(struct client *c, const char *ward, size_t n,
                      bool conflict)
{
    char(*ids)[WS_UUID_LEN + 1] = calloc(n, sizeof *ids);
    char(*sessions)[64] = calloc(n, sizeof *sessions);
    Wardsync__V1__ReceptionSession *rs = calloc(n, sizeof *rs);
    Wardsync__V1__Event *ev = calloc(n, sizeof *ev);
    Wardsync__V1__Event **evs = calloc(n, sizeof *evs);
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    int rc = -1;
    if (!ids || !sessions || !rs || !ev || !evs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        wardsync__v1__reception_session__init(&rs[i]);
        wardsync__v1__event__init(&ev[i]);
        ws_uuid4(ids[i]);
        uint64_t seq = c->next_seq + i;
        if (seq == 1)
            memcpy(c->first_id, ids[i], sizeof c->first_id);
        if (conflict && i == n / 2 && c->first_id[0])
            memcpy(ids[i], c->first_id, sizeof ids[i]);
        snprintf(sessions[i], sizeof sessions[i], "BENCH-%" PRIu64, seq);
        rs[i].session = sessions[i];
        rs[i].held_on = "2023-10-05";
        rs[i].host_role = WARDSYNC__V1__HOST_ROLE__HOST_ROLE_OFFICER;
        rs[i].mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
        rs[i].citizens = 2;
        ev[i].seq = seq;
        ev[i].event_id = ids[i];
        ev[i].occurred_at_ms = 1696464000000;
        ev[i].queued_at_ms = 1696464000000;
        ev[i].body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
        ev[i].reception = &rs[i];
        evs[i] = &ev[i];
    }
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = c->instance;
    batch.ward = (char *)ward;
    batch.events = evs;
    batch.n_events = n;

    uint8_t *buf;
    size_t len;
    if (ws_pack(&batch.base, &buf, &len) != 0)
        goto out;
    c->sent_at[(c->next_seq + n - 1) % MAX_PENDING] = now_ms();
    rc = zmq_send(c->sock, buf, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    free(buf);
    c->next_seq += n;
out:
    free(ids);
    free(sessions);
    free(rs);
    free(ev);
    free(evs);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"seconds", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'r'},
        {"bad-batch", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *endpoint = NULL;
    int seconds = 20, rate = 10, bad_batch = 0, opt;
    while ((opt = getopt_long(argc, argv, "e:s:r:b:h", options, NULL)) != -1) {
        if (opt == 'e')
            endpoint = optarg;
        else if (opt == 's')
            seconds = atoi(optarg);
        else if (opt == 'r')
            rate = atoi(optarg);
        else if (opt == 'b')
            bad_batch = atoi(optarg);
        else {
            printf("usage: ack-latency --endpoint E [--seconds N] "
                   "[--rate PER_CLIENT_PER_S] [--bad-batch N]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!endpoint || seconds < 1 || seconds > 3600 || rate < 1 || rate > 1000 ||
        bad_batch < 0 || bad_batch > 100000) {
        fprintf(stderr, "ack-latency: --endpoint is required; seconds "
                        "1..3600, rate 1..1000, bad-batch 0..100000\n");
        return 2;
    }

    void *ctx = zmq_ctx_new();
    static struct client clients[CLIENTS];
    zmq_pollitem_t items[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];
        int linger = 0;
        c->sock = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(c->sock, endpoint);
        ws_uuid4(c->instance);
        c->next_seq = 1;
        items[i] = (zmq_pollitem_t){c->sock, 0, ZMQ_POLLIN, 0};
    }

    size_t cap = (size_t)CLIENTS * (size_t)rate * (size_t)seconds + 16;
    double *lat = calloc(cap, sizeof *lat);
    size_t n_lat = 0;
    double interval = 1000.0 / rate, start = now_ms();
    double end_send = start + seconds * 1000.0, deadline = end_send + 10000;
    double next_send[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        next_send[i] = start + interval * i / CLIENTS;
    uint64_t acked[CLIENTS] = {0};

    while (now_ms() < deadline) {
        double t = now_ms(), wait = 50;
        int outstanding = 0;
        for (int i = 0; i < CLIENTS; i++) {
            bool bad = bad_batch > 0 && i == 0;
            if (next_send[i] <= t && t < end_send) {
                /* The bad ward's first batch is one good event, so that
                 * a later batch has a stored event_id to reuse. */
                if (bad && clients[i].next_seq > 1)
                    send_batch(&clients[i], WARDS[i], (size_t)bad_batch, true);
                else
                    send_batch(&clients[i], WARDS[i], 1, false);
                next_send[i] += bad ? 2000.0 : interval;
            }
            if (next_send[i] - t < wait)
                wait = next_send[i] - t;
            if (!bad)
                outstanding += acked[i] + 1 < clients[i].next_seq;
        }
        if (t >= end_send && !outstanding)
            break;
        zmq_poll(items, CLIENTS, wait > 1 ? (long)wait : 1);
        for (int i = 0; i < CLIENTS; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            char err[128];
            Wardsync__V1__Ack *ack = NULL;
            if (zmq_msg_recv(&msg, clients[i].sock, ZMQ_DONTWAIT) >= 0 &&
                ws_ack_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg),
                              WS_MAX_FRAME_DEFAULT, &ack, err,
                              sizeof err) == 0) {
                double at = now_ms();
                for (uint64_t s = acked[i] + 1;
                     !(bad_batch > 0 && i == 0) &&
                     s <= ack->committed_through && n_lat < cap;
                     s++)
                    lat[n_lat++] = at - clients[i].sent_at[s % MAX_PENDING];
                if (ack->committed_through > acked[i])
                    acked[i] = ack->committed_through;
                wardsync__v1__ack__free_unpacked(ack, NULL);
            }
            zmq_msg_close(&msg);
        }
    }
    /* Batches never answered within the run count with the time they
     * had waited by its end (a lower bound), so that a stalled hub
     * cannot look fast by answering only a few. */
    size_t unacked = 0;
    double stopped = now_ms();
    for (int i = bad_batch > 0 ? 1 : 0; i < CLIENTS; i++)
        for (uint64_t s = acked[i] + 1; s < clients[i].next_seq && n_lat < cap;
             s++) {
            lat[n_lat++] = stopped - clients[i].sent_at[s % MAX_PENDING];
            unacked++;
        }
    for (int i = 0; i < CLIENTS; i++)
        zmq_close(clients[i].sock);
    zmq_ctx_term(ctx);
    if (n_lat == 0) {
        fprintf(stderr, "ack-latency: no acknowledgement received\n");
        free(lat);
        return 1;
    }
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    if (bad_batch > 0)
        printf("bad_batch=%d ", bad_batch);
    printf("ack_samples=%zu unacked=%zu ack_p50_ms=%.3f ack_p99_ms=%.3f "
           "ack_max_ms=%.3f\n",
           n_lat, unacked, lat[n_lat / 2], lat[n_lat * 99 / 100],
           lat[n_lat - 1]);
    free(lat);
    return 0;
}
