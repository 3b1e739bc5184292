/*
 * codec.c - the wire codec: size limit, protobuf-c, protocol version.
 *
 * The order of checks matters: the frame length is compared with the limit
 * before protobuf-c allocates anything for it, and only a message that
 * parsed is looked at further.
 */
#include "wardsync/codec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/util.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ws_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t size;
    uint8_t *buf;

    if (msg == NULL || out == NULL || len == NULL)
        return -EINVAL;
    size = protobuf_c_message_get_packed_size(msg);
    /* An all-default message packs to zero bytes; malloc(0) may be NULL. */
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return -ENOMEM;
    if (protobuf_c_message_pack(msg, buf) != size) {
        free(buf);
        return -EINVAL; /* not a well-formed message: a programming error */
    }
    *out = buf;
    *len = size;
    return 0;
}

/* The checks every unpack makes before protobuf-c sees the bytes. */
static int check_frame(const void *data, size_t len, size_t max_frame,
                       const char *what, char *err, size_t errlen)
{
    if (data == NULL && len > 0) {
        set_err(err, errlen, "%s: no data", what);
        return -EINVAL;
    }
    if (len > max_frame) {
        set_err(err, errlen, "%s frame of %zu bytes exceeds the limit of %zu",
                what, len, max_frame);
        return -EMSGSIZE;
    }
    return 0;
}

/* protobuf-c does not check that proto3 strings are UTF-8; the envelope's
 * strings are checked here (event bodies are checked by validate.c, so that
 * one bad event is rejected alone instead of its whole batch). */
static bool text_ok(const char *s)
{
    return s == NULL || ws_utf8_valid(s, strlen(s));
}

int ws_batch_unpack(const void *data, size_t len, size_t max_frame,
                    Wardsync__V1__Batch **out, char *err, size_t errlen)
{
    Wardsync__V1__Batch *batch;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    rc = check_frame(data, len, max_frame, "batch", err, errlen);
    if (rc < 0)
        return rc;
    batch = wardsync__v1__batch__unpack(NULL, len, data);
    if (batch == NULL) {
        set_err(err, errlen, "malformed batch frame of %zu bytes", len);
        return -EBADMSG;
    }
    if (batch->protocol != WS_PROTOCOL_VERSION) {
        set_err(err, errlen, "unknown protocol version %u (want %u)",
                batch->protocol, WS_PROTOCOL_VERSION);
        wardsync__v1__batch__free_unpacked(batch, NULL);
        return -EPROTO;
    }
    if (!text_ok(batch->agent_instance) || !text_ok(batch->ward)) {
        set_err(err, errlen, "batch: agent_instance or ward is not UTF-8");
        wardsync__v1__batch__free_unpacked(batch, NULL);
        return -EBADMSG;
    }
    *out = batch;
    return 0;
}

int ws_ack_unpack(const void *data, size_t len, size_t max_frame,
                  Wardsync__V1__Ack **out, char *err, size_t errlen)
{
    Wardsync__V1__Ack *ack;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    rc = check_frame(data, len, max_frame, "ack", err, errlen);
    if (rc < 0)
        return rc;
    ack = wardsync__v1__ack__unpack(NULL, len, data);
    if (ack == NULL) {
        set_err(err, errlen, "malformed ack frame of %zu bytes", len);
        return -EBADMSG;
    }
    bool ok = text_ok(ack->agent_instance) && text_ok(ack->error);
    for (size_t i = 0; ok && i < ack->n_outcomes; i++)
        ok = text_ok(ack->outcomes[i]->reason);
    if (!ok) {
        set_err(err, errlen, "ack: a text field is not UTF-8");
        wardsync__v1__ack__free_unpacked(ack, NULL);
        return -EBADMSG;
    }
    *out = ack;
    return 0;
}

int ws_event_unpack(const void *data, size_t len, size_t max_frame,
                    Wardsync__V1__Event **out, char *err, size_t errlen)
{
    Wardsync__V1__Event *event;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    rc = check_frame(data, len, max_frame, "event", err, errlen);
    if (rc < 0)
        return rc;
    event = wardsync__v1__event__unpack(NULL, len, data);
    if (event == NULL) {
        set_err(err, errlen, "malformed event frame of %zu bytes", len);
        return -EBADMSG;
    }
    *out = event;
    return 0;
}

const char *ws_event_kind(const Wardsync__V1__Event *event)
{
    if (event == NULL)
        return "none";
    switch (event->body_case) {
    case WARDSYNC__V1__EVENT__BODY_BALLOT:
        return "ballot";
    case WARDSYNC__V1__EVENT__BODY_PETITION:
        return "petition";
    case WARDSYNC__V1__EVENT__BODY_RECEPTION:
        return "reception";
    case WARDSYNC__V1__EVENT__BODY_REMEDIATION:
        return "remediation";
    default:
        return "none";
    }
}
