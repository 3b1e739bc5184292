/*
 * envelope.c - see envelope.h.
 */
#include "envelope.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/codec.h"

void envelope_close(struct envelope *env)
{
    for (int i = 0; i < env->n_parts; i++)
        zmq_msg_close(&env->parts[i]);
    env->n_parts = 0;
}

void envelope_move(struct envelope *to, struct envelope *from)
{
    memset(to, 0, sizeof *to);
    for (int i = 0; i < from->n_parts; i++) {
        zmq_msg_init(&to->parts[i]);
        zmq_msg_move(&to->parts[i], &from->parts[i]);
        zmq_msg_close(&from->parts[i]);
    }
    to->n_parts = from->n_parts;
    to->too_many = from->too_many;
    memcpy(to->peer, from->peer, sizeof to->peer);
    from->n_parts = 0;
}

/* Whether the peer is a REQ socket, whose reply needs the delimiter. */
static bool has_delimiter(const struct envelope *env)
{
    return env->n_parts == 3 && zmq_msg_size((zmq_msg_t *)&env->parts[1]) == 0;
}

zmq_msg_t *envelope_payload(struct envelope *env)
{
    if (env->too_many)
        return NULL;
    if (env->n_parts == 2)
        return &env->parts[1];
    if (has_delimiter(env))
        return &env->parts[2];
    return NULL;
}

static void describe_peer(struct envelope *env)
{
    /* Metadata rides on the data frames, not on the routing id ROUTER
     * prepends. */
    const char *address =
        zmq_msg_gets(&env->parts[env->n_parts - 1], "Peer-Address");
    size_t id_len = zmq_msg_size(&env->parts[0]);
    const unsigned char *id = zmq_msg_data(&env->parts[0]);
    int o =
        snprintf(env->peer, sizeof env->peer, "%s/", address ? address : "?");
    for (size_t i = 0; i < id_len && o + 3 < (int)sizeof env->peer; i++)
        o += snprintf(env->peer + o, sizeof env->peer - (size_t)o, "%02x",
                      id[i]);
}

int envelope_recv(void *socket, struct envelope *env)
{
    memset(env, 0, sizeof *env);
    int more;
    do {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
            int saved = errno;
            zmq_msg_close(&msg);
            envelope_close(env);
            errno = saved;
            return -1;
        }
        more = zmq_msg_more(&msg);
        if (env->n_parts < ENVELOPE_MAX_PARTS) {
            env->parts[env->n_parts++] = msg;
        } else {
            env->too_many = true;
            zmq_msg_close(&msg);
        }
    } while (more);
    describe_peer(env);
    return 0;
}

int envelope_reply(void *socket, const struct envelope *env,
                   const ProtobufCMessage *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ws_pack(msg, &buf, &len) < 0)
        return -ENOMEM;
    zmq_msg_t *id = (zmq_msg_t *)&env->parts[0];
    int rc = zmq_send(socket, zmq_msg_data(id), zmq_msg_size(id),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0 && has_delimiter(env))
        rc = zmq_send(socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(socket, buf, len, ZMQ_DONTWAIT);
    int saved = errno;
    free(buf);
    return rc < 0 ? -saved : 0;
}
