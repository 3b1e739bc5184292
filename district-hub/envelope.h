/*
 * envelope.h - one message received on a ROUTER socket, and the reply to it.
 *
 * A DEALER peer's message arrives as [routing id][payload]; a REQ peer's as
 * [routing id][empty delimiter][payload]. Both hub endpoints (ingest and
 * pull) receive through envelope_recv and answer through envelope_reply,
 * which echoes the routing id and, for a REQ peer, the delimiter.
 */
#ifndef DISTRICT_HUB_ENVELOPE_H
#define DISTRICT_HUB_ENVELOPE_H

#include <stdbool.h>
#include <zmq.h>

#include <protobuf-c/protobuf-c.h>

#define ENVELOPE_MAX_PARTS 3

struct envelope {
    zmq_msg_t parts[ENVELOPE_MAX_PARTS];
    int n_parts;
    bool too_many; /* more parts arrived than fit: the message is refused */
    char peer[96]; /* for logs: peer address and routing id in hex */
};

/* Receives every part of the next message without blocking. Returns 0, or
 * -1 with errno set (EAGAIN when nothing is waiting); on -1 env holds
 * nothing. The caller closes env with envelope_close. */
int envelope_recv(void *socket, struct envelope *env);

/* Closes every part; env may be received into again. */
void envelope_close(struct envelope *env);

/* Moves every part of from into to; from is left empty. */
void envelope_move(struct envelope *to, struct envelope *from);

/* The payload frame, or NULL when the message has a shape no peer of ours
 * sends (too many parts, no payload). Owned by env. */
zmq_msg_t *envelope_payload(struct envelope *env);

/* Packs msg and sends it to the peer of env without blocking. Returns 0,
 * -ENOMEM, or -errno of the failed send (EHOSTUNREACH with
 * ZMQ_ROUTER_MANDATORY when the peer is gone, EAGAIN at its high-water
 * mark); the caller logs. */
int envelope_reply(void *socket, const struct envelope *env,
                   const ProtobufCMessage *msg);

#endif
