/*
 * replay.c - the hostile peer of the fault suite. Reads the first events
 * of a ward's outbox (already delivered) and sends the hub:
 *   1. the same acknowledged batch TIMES times: every answer must say
 *      committed_through >= last seq and "duplicate" for every event;
 *   2. a batch that skips ahead: refused with the current mark;
 *   3. one of those event ids with new content, from a new agent
 *      instance: answered "conflict" and kept for review.
 * Exit status 0 when the hub answered each as the contract says.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "wardsync/codec.h"
#include "wardsync/util.h"

#define MAX_EVENTS 50

static const char USAGE[] =
    "usage: chaos-replay --endpoint ENDPOINT [--times N] OUTBOX.db\n";

static void *sock;

static Wardsync__V1__Ack *exchange(const Wardsync__V1__Batch *batch)
{
    uint8_t *buf;
    size_t len;
    char err[256];
    Wardsync__V1__Ack *ack = NULL;
    if (ws_pack(&batch->base, &buf, &len) != 0)
        return NULL;
    int sent = zmq_send(sock, buf, len, 0);
    free(buf);
    if (sent < 0)
        return NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, 0) >= 0)
        ws_ack_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg),
                      WS_MAX_FRAME_DEFAULT, &ack, err, sizeof err);
    zmq_msg_close(&msg);
    if (!ack)
        fprintf(stderr, "chaos-replay: no answer from the hub\n");
    return ack;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"times", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *endpoint = NULL;
    long times = 20;
    int opt;
    while ((opt = getopt_long(argc, argv, "e:t:h", options, NULL)) != -1) {
        if (opt == 'e')
            endpoint = optarg;
        else if (opt == 't')
            times = strtol(optarg, NULL, 10);
        else {
            fputs(USAGE, opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!endpoint || optind + 1 != argc || times < 1 || times > 100000) {
        fputs(USAGE, stderr);
        return 2;
    }

    sqlite3 *ob = NULL;
    sqlite3_stmt *st = NULL;
    char instance[64] = "", ward[64] = "";
    Wardsync__V1__Event *events[MAX_EVENTS];
    size_t n = 0;
    int failures = 0;
    char err[256];

    if (sqlite3_open_v2(argv[optind], &ob, SQLITE_OPEN_READONLY, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(ob, "SELECT agent_instance, ward FROM meta", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        fprintf(stderr, "chaos-replay: could not read outbox: %s\n",
                sqlite3_errmsg(ob));
        return 3;
    }
    snprintf(instance, sizeof instance, "%s", sqlite3_column_text(st, 0));
    snprintf(ward, sizeof ward, "%s", sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    sqlite3_prepare_v2(ob, "SELECT payload FROM events ORDER BY seq LIMIT 50",
                       -1, &st, NULL);
    while (n < MAX_EVENTS && sqlite3_step(st) == SQLITE_ROW) {
        if (ws_event_unpack(
                sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
                WS_MAX_FRAME_DEFAULT, &events[n], err, sizeof err) != 0) {
            fprintf(stderr, "chaos-replay: outbox event: %s\n", err);
            return 3;
        }
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(ob);
    if (n < 2) {
        fprintf(stderr, "chaos-replay: outbox holds fewer than 2 events\n");
        return 3;
    }

    void *ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, timeout = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(sock, endpoint);

    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    batch.protocol = WS_PROTOCOL_VERSION;
    batch.agent_instance = instance;
    batch.ward = ward;
    batch.events = events;
    batch.n_events = n;
    uint64_t last = events[n - 1]->seq;

    /* 1. The acknowledged batch, again and again. */
    for (long i = 0; i < times; i++) {
        Wardsync__V1__Ack *ack = exchange(&batch);
        if (!ack)
            return 1;
        size_t dups = 0;
        for (size_t k = 0; k < ack->n_outcomes; k++)
            dups += ack->outcomes[k]->code ==
                    WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE;
        if (ack->committed_through < last || dups != n) {
            fprintf(stderr,
                    "chaos-replay: replay %ld: committed_through=%" PRIu64
                    " duplicates=%zu of %zu\n",
                    i, ack->committed_through, dups, n);
            failures++;
        }
        wardsync__v1__ack__free_unpacked(ack, NULL);
    }

    /* 2. A gap: the same events renumbered far above the mark. */
    uint64_t saved[MAX_EVENTS];
    for (size_t k = 0; k < n; k++) {
        saved[k] = events[k]->seq;
        events[k]->seq += 1000000;
    }
    Wardsync__V1__Ack *ack = exchange(&batch);
    if (!ack)
        return 1;
    if (!ack->error || !*ack->error || ack->committed_through >= 1000000) {
        fprintf(stderr, "chaos-replay: gap was not refused\n");
        failures++;
    }
    wardsync__v1__ack__free_unpacked(ack, NULL);
    for (size_t k = 0; k < n; k++)
        events[k]->seq = saved[k];

    /* 3. The first event id with new content, from a new instance. */
    char other[WS_UUID_LEN + 1];
    ws_uuid4(other);
    batch.agent_instance = other;
    events[0]->seq = 1;
    events[0]->occurred_at_ms += 86400000; /* new content, same id */
    batch.n_events = 1;
    ack = exchange(&batch);
    if (!ack)
        return 1;
    if (ack->n_outcomes != 1 ||
        ack->outcomes[0]->code != WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT) {
        fprintf(stderr, "chaos-replay: changed content was not a conflict\n");
        failures++;
    }
    wardsync__v1__ack__free_unpacked(ack, NULL);

    for (size_t k = 0; k < n; k++)
        wardsync__v1__event__free_unpacked(events[k], NULL);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    printf("chaos-replay: %ld replays, 1 gap, 1 conflict: %s\n", times,
           failures ? "FAILED" : "as contracted");
    return failures ? 1 : 0;
}
