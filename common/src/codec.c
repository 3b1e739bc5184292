/*
 * codec.c - the wire codec: size limit, protobuf-c, protocol version,
 * strings that hold a NUL byte, and Batch frames built from packed events.
 *
 * The order of checks matters: the frame length is compared with the limit
 * before protobuf-c allocates anything for it, and only a message that
 * parsed is looked at further.
 *
 * NUL bytes (docs/DESIGN.md §4): protobuf-c hands every string over as a
 * NUL-terminated C string and keeps no wire length, so "before\0after"
 * arrives as "before" and nothing after decoding can tell. The only place
 * the truth is left is the frame itself, so after protobuf-c has parsed it
 * the frame's bytes are walked once more (find_nul), field by field, with
 * the message descriptors protobuf-c generated: every length-delimited
 * field whose descriptor says PROTOBUF_C_TYPE_STRING is searched for a NUL
 * and every PROTOBUF_C_TYPE_MESSAGE field is walked in turn. Walking the
 * descriptors rather than comparing strlen with hand-listed fields means a
 * string field added to the .proto files is covered without an edit here.
 * A NUL anywhere refuses the whole frame (a truncated string cannot be
 * rejected as one event: after decoding it looks valid). UTF-8 is not part
 * of the walk: a string that is not UTF-8 survives decoding whole, so the
 * shared validation sees it and rejects its event alone.
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

/* Wire types of the protobuf encoding. */
enum {
    WIRE_VARINT = 0,
    WIRE_FIXED64 = 1,
    WIRE_LENGTH = 2,
    WIRE_FIXED32 = 5,
};

/* Reads a varint at *p (before end) into *value and moves *p past it.
 * Returns false when it runs past end or over ten bytes. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *value)
{
    uint64_t v = 0;

    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = v;
            return true;
        }
    }
    return false;
}

/* Appends varint v at buf and returns its length (at most 10 bytes). */
static size_t write_varint(uint64_t v, uint8_t *buf)
{
    size_t n = 0;

    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        buf[n++] = v ? (byte | 0x80) : byte;
    } while (v);
    return n;
}

/* One field of an encoded message: its number, wire type and, for a
 * length-delimited field, its bytes. */
struct wire_field {
    uint32_t number;
    unsigned wire_type;
    const uint8_t *data;
    size_t len;
};

/* Reads the next field at *p and moves *p past it. Returns 1 with *field
 * set, 0 at the end of the message, -1 on bytes that are not a message
 * (a group, a length past the end). */
static int next_field(const uint8_t **p, const uint8_t *end,
                      struct wire_field *field)
{
    uint64_t tag, len;

    if (*p >= end)
        return 0;
    if (!read_varint(p, end, &tag) || (tag >> 3) == 0 ||
        (tag >> 3) > UINT32_MAX)
        return -1;
    field->number = (uint32_t)(tag >> 3);
    field->wire_type = (unsigned)(tag & 7);
    field->data = NULL;
    field->len = 0;
    switch (field->wire_type) {
    case WIRE_VARINT:
        return read_varint(p, end, &len) ? 1 : -1;
    case WIRE_FIXED64:
        if (end - *p < 8)
            return -1;
        *p += 8;
        return 1;
    case WIRE_FIXED32:
        if (end - *p < 4)
            return -1;
        *p += 4;
        return 1;
    case WIRE_LENGTH:
        if (!read_varint(p, end, &len) || len > (uint64_t)(end - *p))
            return -1;
        field->data = *p;
        field->len = (size_t)len;
        *p += len;
        return 1;
    default:
        return -1;
    }
}

/* Walks an encoded message of type desc (len bytes at data) and finds the
 * first string field holding a NUL byte, in sub-messages too. Returns 0
 * when there is none; -EBADMSG with the field's dotted path ("petition.note",
 * under prefix when not empty) and what is wrong in err otherwise. */
static int find_nul(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                    size_t len, const char *prefix, char *err, size_t errlen)
{
    const uint8_t *p = data, *end = data + len;
    struct wire_field field;
    int more;

    while ((more = next_field(&p, end, &field)) > 0) {
        const ProtobufCFieldDescriptor *fd;
        char path[128];

        if (field.wire_type != WIRE_LENGTH)
            continue;
        fd = protobuf_c_message_descriptor_get_field(desc, field.number);
        if (fd == NULL)
            continue; /* unknown field: protobuf-c keeps it as bytes */
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "",
                 fd->name);
        if (fd->type == PROTOBUF_C_TYPE_STRING &&
            memchr(field.data, '\0', field.len) != NULL) {
            set_err(err, errlen, "%s: contains a NUL byte", path);
            return -EBADMSG;
        }
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            int rc = find_nul(fd->descriptor, field.data, field.len, path, err,
                              errlen);
            if (rc < 0)
                return rc;
        }
    }
    if (more < 0) {
        set_err(err, errlen, "%s%smalformed field", prefix,
                prefix[0] ? ": " : "");
        return -EBADMSG;
    }
    return 0;
}

/* find_nul for a Batch, naming the event by its place in the batch and its
 * seq: "event 3 (seq 9): petition.note: contains a NUL byte". batch is the
 * same frame as decoded by protobuf-c, whose events are in wire order. */
static int batch_find_nul(const Wardsync__V1__Batch *batch, const uint8_t *data,
                          size_t len, char *err, size_t errlen)
{
    const uint8_t *p = data, *end = data + len;
    struct wire_field field;
    size_t n_events = 0;
    char reason[256];
    int more;

    while ((more = next_field(&p, end, &field)) > 0) {
        if (field.wire_type != WIRE_LENGTH)
            continue;
        if (field.number == 4) {
            n_events++;
            if (find_nul(&wardsync__v1__event__descriptor, field.data,
                         field.len, "", reason, sizeof reason) < 0) {
                uint64_t seq = n_events <= batch->n_events
                                   ? batch->events[n_events - 1]->seq
                                   : 0;
                set_err(err, errlen, "event %zu (seq %llu): %s", n_events,
                        (unsigned long long)seq, reason);
                return -EBADMSG;
            }
            continue;
        }
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(
                &wardsync__v1__batch__descriptor, field.number);
        if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
            find_nul(fd->descriptor, field.data, field.len, fd->name, reason,
                     sizeof reason) < 0) {
            set_err(err, errlen, "batch: %s", reason);
            return -EBADMSG;
        }
        if (fd != NULL && fd->type == PROTOBUF_C_TYPE_STRING &&
            memchr(field.data, '\0', field.len) != NULL) {
            set_err(err, errlen, "batch: %s: contains a NUL byte", fd->name);
            return -EBADMSG;
        }
    }
    if (more < 0) {
        set_err(err, errlen, "malformed batch frame of %zu bytes", len);
        return -EBADMSG;
    }
    return 0;
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
    if (!text_ok(batch->agent_instance) || !text_ok(batch->ward) ||
        (batch->reference_request &&
         !text_ok(batch->reference_request->version))) {
        set_err(err, errlen,
                "batch: agent_instance, ward or reference_request.version "
                "is not UTF-8");
        wardsync__v1__batch__free_unpacked(batch, NULL);
        return -EBADMSG;
    }
    if ((rc = batch_find_nul(batch, data, len, err, errlen)) < 0) {
        wardsync__v1__batch__free_unpacked(batch, NULL);
        return rc;
    }
    *out = batch;
    return 0;
}

/* Every string of a Reference is UTF-8: the agent stores and prints them. */
static bool reference_text_ok(const Wardsync__V1__Reference *ref)
{
    bool ok = text_ok(ref->version) && text_ok(ref->ward) &&
              text_ok(ref->catalogue_version);
    for (size_t i = 0; ok && i < ref->n_rounds; i++)
        ok = text_ok(ref->rounds[i]->code) && text_ok(ref->rounds[i]->label) &&
             text_ok(ref->rounds[i]->opens_on) &&
             text_ok(ref->rounds[i]->closes_on);
    for (size_t i = 0; ok && i < ref->n_subjects; i++)
        ok = text_ok(ref->subjects[i]->round) &&
             text_ok(ref->subjects[i]->subject) &&
             text_ok(ref->subjects[i]->category) &&
             text_ok(ref->subjects[i]->form);
    for (size_t i = 0; ok && i < ref->n_deadline_rules; i++)
        ok = text_ok(ref->deadline_rules[i]->effective_from);
    return ok;
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
    if (ok && ack->reference)
        ok = reference_text_ok(ack->reference);
    if (!ok) {
        set_err(err, errlen, "ack: a text field is not UTF-8");
        wardsync__v1__ack__free_unpacked(ack, NULL);
        return -EBADMSG;
    }
    char reason[256];
    if (find_nul(&wardsync__v1__ack__descriptor, data, len, "", reason,
                 sizeof reason) < 0) {
        set_err(err, errlen, "ack: %s", reason);
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
    char reason[256];
    if (find_nul(&wardsync__v1__event__descriptor, data, len, "", reason,
                 sizeof reason) < 0) {
        set_err(err, errlen, "event: %s", reason);
        wardsync__v1__event__free_unpacked(event, NULL);
        return -EBADMSG;
    }
    *out = event;
    return 0;
}

int ws_batch_pack_events(const Wardsync__V1__Batch *head,
                         const struct ws_packed_event *events, size_t n,
                         uint8_t **out, size_t *len)
{
    Wardsync__V1__Batch front, back = WARDSYNC__V1__BATCH__INIT;
    size_t front_len, back_len, size;
    uint8_t *buf, *pos;

    if (head == NULL || out == NULL || len == NULL || (n > 0 && !events) ||
        head->n_events != 0)
        return -EINVAL;
    /* protobuf-c writes fields in field-number order: 1..3 (front), the
     * events (4), then backlog (5, back). Packing the two ends apart and
     * putting the records between them gives the bytes protobuf-c would
     * have written for the whole Batch. */
    front = *head;
    front.backlog = 0;
    back.backlog = head->backlog;
    front_len = protobuf_c_message_get_packed_size(&front.base);
    back_len = protobuf_c_message_get_packed_size(&back.base);
    size = front_len + back_len;
    for (size_t i = 0; i < n; i++) {
        uint8_t scratch[10];
        if (events[i].data == NULL && events[i].len > 0)
            return -EINVAL;
        size += 1 + write_varint(events[i].len, scratch) + events[i].len;
    }
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return -ENOMEM;
    pos = buf + protobuf_c_message_pack(&front.base, buf);
    for (size_t i = 0; i < n; i++) {
        *pos++ = (4 << 3) | WIRE_LENGTH; /* field 4 (events) */
        pos += write_varint(events[i].len, pos);
        if (events[i].len > 0)
            memcpy(pos, events[i].data, events[i].len);
        pos += events[i].len;
    }
    pos += protobuf_c_message_pack(&back.base, pos);
    if ((size_t)(pos - buf) != size) {
        free(buf);
        return -EINVAL; /* not a well-formed head: a programming error */
    }
    *out = buf;
    *len = size;
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
    case WARDSYNC__V1__EVENT__BODY_INSPECTION:
        return "inspection";
    case WARDSYNC__V1__EVENT__BODY_ROTATION:
        return "rotation";
    case WARDSYNC__V1__EVENT__BODY_WITHDRAWAL:
        return "withdrawal";
    default:
        return "none";
    }
}
