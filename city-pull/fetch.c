/*
 * fetch.c - request/response over a DEALER, one request in flight.
 *
 * A DEALER rather than a REQ: after a timeout a REQ is stuck waiting; a
 * DEALER is simply closed and the hub reported as not answering.
 */
#include "fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "wardsync/codec.h"

/* A page of 5000 rows of long petition histories stays far below this. */
#define FETCH_MAX_PAGE (256 * 1024 * 1024)

struct fetch_client {
    void *socket;
    int timeout_ms;
};

/* Every option of the client socket, in one place. */
static int client_socket_setup(void *socket, const struct ws_keypair *own,
                               const char *server_public)
{
    int zero = 0;
    int64_t max = FETCH_MAX_PAGE;
    if (zmq_setsockopt(socket, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0)
        return -1;
    if (own && server_public &&
        (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_public,
                        WS_KEY_Z85_LEN + 1) != 0 ||
         zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, own->public_z85,
                        WS_KEY_Z85_LEN + 1) != 0 ||
         zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, own->secret_z85,
                        WS_KEY_Z85_LEN + 1) != 0))
        return -1;
    return 0;
}

int fetch_open(void *ctx, const char *endpoint, const struct ws_keypair *own,
               const char *server_public, int timeout_ms,
               struct fetch_client **out, char *err, size_t errlen)
{
    *out = NULL;
    struct fetch_client *fc = calloc(1, sizeof *fc);
    if (!fc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    fc->timeout_ms = timeout_ms;
    fc->socket = zmq_socket(ctx, ZMQ_DEALER);
    if (!fc->socket ||
        client_socket_setup(fc->socket, own, server_public) != 0 ||
        zmq_connect(fc->socket, endpoint) != 0) {
        snprintf(err, errlen, "could not connect to %s: %s", endpoint,
                 zmq_strerror(errno));
        fetch_close(&fc);
        return -1;
    }
    *out = fc;
    return 0;
}

void fetch_close(struct fetch_client **fc)
{
    if (!fc || !*fc)
        return;
    if ((*fc)->socket)
        zmq_close((*fc)->socket); /* ZMQ_LINGER 0: set at creation */
    free(*fc);
    *fc = NULL;
}

int fetch_page(struct fetch_client *fc, const char *dataset, const char *scope,
               const char *as_of, const char *since, unsigned page_size,
               Wardsync__V1__PullPage **page, char *err, size_t errlen)
{
    *page = NULL;
    Wardsync__V1__PullRequest req = WARDSYNC__V1__PULL_REQUEST__INIT;
    req.protocol = 1;
    req.dataset = (char *)dataset;
    req.scope = (char *)(scope ? scope : "");
    req.since = (char *)(since ? since : "");
    req.page_size = page_size;
    req.as_of = (char *)(as_of ? as_of : "");
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ws_pack(&req.base, &buf, &len) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = zmq_send(fc->socket, buf, len, 0);
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "could not send: %s", zmq_strerror(errno));
        return -1;
    }
    zmq_pollitem_t item = {fc->socket, 0, ZMQ_POLLIN, 0};
    rc = zmq_poll(&item, 1, fc->timeout_ms);
    if (rc <= 0) {
        snprintf(err, errlen, "no answer within %d ms", fc->timeout_ms);
        return -1;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, fc->socket, 0) < 0) {
        snprintf(err, errlen, "could not receive: %s", zmq_strerror(errno));
        zmq_msg_close(&msg);
        return -1;
    }
    *page = wardsync__v1__pull_page__unpack(NULL, zmq_msg_size(&msg),
                                            zmq_msg_data(&msg));
    bool more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
    if (!*page || more) {
        if (*page)
            wardsync__v1__pull_page__free_unpacked(*page, NULL);
        *page = NULL;
        snprintf(err, errlen, "malformed answer");
        return -1;
    }
    return 0;
}
