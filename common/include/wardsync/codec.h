/*
 * codec.h - the wire codec: one ZeroMQ frame carries one protobuf message.
 *
 * Decoding is where untrusted bytes enter; these functions check the size
 * limit before protobuf-c sees the bytes and turn every malformed or
 * truncated frame into an error with a reason, never a crash.
 *
 * Ownership: a message returned by ws_*_unpack belongs to the caller, who
 * frees it with the matching wardsync__v1__*__free_unpacked(msg, NULL) in the
 * same function. Buffers returned by ws_pack belong to the caller (free()).
 */
#ifndef WARDSYNC_CODEC_H
#define WARDSYNC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "wardsync/v1/events.pb-c.h"
#include "wardsync/v1/transport.pb-c.h"

#define WS_PROTOCOL_VERSION 1u

/* Default largest frame either side accepts (also set as ZMQ_MAXMSGSIZE). */
#define WS_MAX_FRAME_DEFAULT (16u * 1024u * 1024u)

/* Packs any protobuf-c message into a new malloc'd buffer. Returns 0 and
 * sets *out and *len, or -ENOMEM. */
int ws_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/* One event already packed (a wardsync.v1.Event, as stored in an outbox).
 * The bytes belong to whoever filled the struct. */
struct ws_packed_event {
    const uint8_t *data;
    size_t len;
};

/* Packs a Batch whose events are n already-packed Event records, without
 * decoding them: head gives the other fields (protocol, agent_instance,
 * ward, backlog) and must have no events (n_events 0). The output is the
 * bytes ws_pack would give for head with those events decoded and set,
 * since a repeated message field is its records one after another, each
 * as tag, length, bytes. The records are not checked: the caller vouches
 * that each is a packed Event. Returns 0 and sets *out (malloc'd, the
 * caller frees it) and *len, or -EINVAL or -ENOMEM. */
int ws_batch_pack_events(const Wardsync__V1__Batch *head,
                         const struct ws_packed_event *events, size_t n,
                         uint8_t **out, size_t *len);

/* Decodes a Batch from len bytes at data. Refuses frames longer than
 * max_frame, frames protobuf-c cannot parse, and batches whose protocol is
 * not WS_PROTOCOL_VERSION. Returns 0 and sets *out, or -EMSGSIZE, -EBADMSG
 * or -EPROTO with a reason in err (errlen bytes). The batch's own strings
 * (agent_instance, ward, reference_request.version) must be UTF-8
 * (-EBADMSG otherwise); a string
 * anywhere in the frame that holds a NUL byte refuses the frame (-EBADMSG,
 * the reason names the event and the field, e.g. "event 3 (seq 9):
 * petition.note: contains a NUL byte"), because decoding would silently cut
 * it; the UTF-8 of event bodies is left to ws_validate_event so that one
 * bad event is rejected alone. */
int ws_batch_unpack(const void *data, size_t len, size_t max_frame,
                    Wardsync__V1__Batch **out, char *err, size_t errlen);

/* Same contract for an Ack (no protocol field to check; its strings, those
 * of its Reference included, must be UTF-8 and hold no NUL byte). */
int ws_ack_unpack(const void *data, size_t len, size_t max_frame,
                  Wardsync__V1__Ack **out, char *err, size_t errlen);

/* Same contract for a single Event (as stored in an outbox): a string
 * holding a NUL byte is -EBADMSG; UTF-8 is left to ws_validate_event. */
int ws_event_unpack(const void *data, size_t len, size_t max_frame,
                    Wardsync__V1__Event **out, char *err, size_t errlen);

/* Short name of an event's body: "ballot", "petition", "reception",
 * "remediation", "inspection", "rotation", "withdrawal", or "none" when
 * the oneof is not set. */
const char *ws_event_kind(const Wardsync__V1__Event *event);

#endif
