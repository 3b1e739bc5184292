/*
 * test_codec.c - the wire codec: round trips, malformed, truncated and
 * oversized frames, protocol versions, strings holding a NUL byte, Batch
 * frames built from packed events.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "samples.h"
#include "wardsync/codec.h"

/* Packs a batch of one event of every kind. */
static void pack_sample_batch(uint8_t **buf, size_t *len, uint32_t protocol,
                              const char *agent_instance)
{
    struct sample s[4];
    Wardsync__V1__Event *events[4];
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;

    sample_ballot(&s[0], 7);
    sample_petition(&s[1], 8);
    sample_reception(&s[2], 9);
    sample_remediation(&s[3], 10);
    for (int i = 0; i < 4; i++)
        events[i] = &s[i].event;
    batch.protocol = protocol;
    batch.agent_instance = (char *)agent_instance;
    batch.ward = "LB01";
    batch.n_events = 4;
    batch.events = events;
    batch.backlog = 123;
    assert_int_equal(ws_pack(&batch.base, buf, len), 0);
}

static void test_batch_round_trip(void **state)
{
    uint8_t *buf;
    size_t len;
    char err[200] = "";
    Wardsync__V1__Batch *got;
    struct sample expect;

    (void)state;
    pack_sample_batch(&buf, &len, WS_PROTOCOL_VERSION,
                      "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d");
    assert_int_equal(
        ws_batch_unpack(buf, len, WS_MAX_FRAME_DEFAULT, &got, err, sizeof(err)),
        0);
    assert_int_equal(got->protocol, 1);
    assert_string_equal(got->agent_instance,
                        "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d");
    assert_string_equal(got->ward, "LB01");
    assert_int_equal(got->backlog, 123);
    assert_int_equal(got->n_events, 4);

    /* Ballot. */
    sample_ballot(&expect, 7);
    assert_int_equal(got->events[0]->seq, 7);
    assert_string_equal(got->events[0]->event_id, expect.event.event_id);
    assert_int_equal(got->events[0]->occurred_at_ms,
                     expect.event.occurred_at_ms);
    assert_int_equal(got->events[0]->queued_at_ms, expect.event.queued_at_ms);
    assert_string_equal(ws_event_kind(got->events[0]), "ballot");
    assert_string_equal(got->events[0]->ballot->survey, "2023-R1");
    assert_string_equal(got->events[0]->ballot->form, "leadership");
    assert_string_equal(got->events[0]->ballot->subject, "LB01-S017");
    assert_int_equal(got->events[0]->ballot->respondent_group, 2);
    assert_int_equal(got->events[0]->ballot->n_levels, 41);
    assert_memory_equal(got->events[0]->ballot->levels, expect.levels,
                        41 * sizeof(uint32_t));

    /* Petition, with Vietnamese text and quotes in the note. */
    sample_petition(&expect, 8);
    assert_string_equal(ws_event_kind(got->events[1]), "petition");
    assert_int_equal(got->events[1]->seq, 8);
    assert_string_equal(got->events[1]->petition->petition, "LB01/2023/0042");
    assert_int_equal(got->events[1]->petition->kind, expect.petition.kind);
    assert_int_equal(got->events[1]->petition->channel,
                     expect.petition.channel);
    assert_int_equal(got->events[1]->petition->status, expect.petition.status);
    assert_true(got->events[1]->petition->in_jurisdiction);
    assert_string_equal(got->events[1]->petition->received_on, "2023-08-01");
    assert_string_equal(got->events[1]->petition->due_on, "2023-08-31");
    assert_string_equal(got->events[1]->petition->note, expect.note);

    /* Reception. */
    assert_string_equal(ws_event_kind(got->events[2]), "reception");
    assert_string_equal(got->events[2]->reception->session,
                        "LB01-TCD-2023-031");
    assert_string_equal(got->events[2]->reception->held_on, "2023-08-03");
    assert_int_equal(got->events[2]->reception->host_role,
                     WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR);
    assert_int_equal(got->events[2]->reception->mode,
                     WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR);
    assert_int_equal(got->events[2]->reception->citizens, 4);
    assert_int_equal(got->events[2]->reception->petitions, 2);

    /* Remediation. */
    assert_string_equal(ws_event_kind(got->events[3]), "remediation");
    assert_string_equal(got->events[3]->remediation->survey, "2023-R1");
    assert_string_equal(got->events[3]->remediation->subject, "LB01-S017");
    assert_int_equal(
        got->events[3]->remediation->status,
        WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_SUBMITTED);
    assert_string_equal(got->events[3]->remediation->due_on, "2023-10-31");

    wardsync__v1__batch__free_unpacked(got, NULL);
    free(buf);
}

static void test_empty_batch_round_trip(void **state)
{
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    Wardsync__V1__Batch *got;
    uint8_t *buf;
    size_t len;
    char err[200];

    (void)state;
    batch.protocol = WS_PROTOCOL_VERSION;
    assert_int_equal(ws_pack(&batch.base, &buf, &len), 0);
    assert_int_equal(ws_batch_unpack(buf, len, 64, &got, err, sizeof(err)), 0);
    assert_int_equal(got->n_events, 0);
    assert_string_equal(got->agent_instance, "");
    wardsync__v1__batch__free_unpacked(got, NULL);
    free(buf);
}

static void test_ack_round_trip(void **state)
{
    Wardsync__V1__Ack ack = WARDSYNC__V1__ACK__INIT;
    Wardsync__V1__Outcome outcome[3] = {WARDSYNC__V1__OUTCOME__INIT,
                                        WARDSYNC__V1__OUTCOME__INIT,
                                        WARDSYNC__V1__OUTCOME__INIT};
    Wardsync__V1__Outcome *outcomes[3] = {&outcome[0], &outcome[1],
                                          &outcome[2]};
    Wardsync__V1__Ack *got;
    uint8_t *buf;
    size_t len;
    char err[200];

    (void)state;
    outcome[0].seq = 3;
    outcome[0].code = WARDSYNC__V1__OUTCOME__CODE__CODE_DUPLICATE;
    outcome[1].seq = 4;
    outcome[1].code = WARDSYNC__V1__OUTCOME__CODE__CODE_CONFLICT;
    outcome[1].reason = "event_id: same id, other payload";
    outcome[2].seq = 5;
    outcome[2].code = WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED;
    outcome[2].reason = "levels: item 7 has level 4, want 1..3";
    ack.agent_instance = "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d";
    ack.committed_through = 5;
    ack.n_outcomes = 3;
    ack.outcomes = outcomes;
    ack.retry_after_ms = 250;
    ack.error = "";

    assert_int_equal(ws_pack(&ack.base, &buf, &len), 0);
    assert_int_equal(ws_ack_unpack(buf, len, len, &got, err, sizeof(err)), 0);
    assert_string_equal(got->agent_instance, ack.agent_instance);
    assert_int_equal(got->committed_through, 5);
    assert_int_equal(got->retry_after_ms, 250);
    assert_int_equal(got->n_outcomes, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got->outcomes[i]->seq, outcome[i].seq);
        assert_int_equal(got->outcomes[i]->code, outcome[i].code);
    }
    assert_string_equal(got->outcomes[0]->reason, "");
    assert_string_equal(got->outcomes[2]->reason,
                        "levels: item 7 has level 4, want 1..3");
    wardsync__v1__ack__free_unpacked(got, NULL);
    free(buf);

    /* A refused batch carries the error text. */
    ack.n_outcomes = 0;
    ack.error = "gap: resend from 6";
    assert_int_equal(ws_pack(&ack.base, &buf, &len), 0);
    assert_int_equal(ws_ack_unpack(buf, len, len, &got, err, sizeof(err)), 0);
    assert_string_equal(got->error, "gap: resend from 6");
    wardsync__v1__ack__free_unpacked(got, NULL);
    free(buf);
}

static void test_event_round_trip(void **state)
{
    void (*makers[6])(struct sample *, uint64_t) = {
        sample_ballot,      sample_petition,   sample_reception,
        sample_remediation, sample_inspection, sample_rotation};
    static const char *const kinds[6] = {"ballot",     "petition",
                                         "reception",  "remediation",
                                         "inspection", "rotation"};

    (void)state;
    for (int i = 0; i < 6; i++) {
        struct sample s;
        Wardsync__V1__Event *got;
        uint8_t *buf, *again;
        size_t len, again_len;
        char err[200];

        makers[i](&s, 100 + (uint64_t)i);
        assert_int_equal(ws_pack(&s.event.base, &buf, &len), 0);
        assert_int_equal(ws_event_unpack(buf, len, len, &got, err, sizeof(err)),
                         0);
        assert_string_equal(ws_event_kind(got), kinds[i]);
        assert_int_equal(got->seq, 100 + (uint64_t)i);
        /* Re-packing the decoded event gives the same bytes. */
        assert_int_equal(ws_pack(&got->base, &again, &again_len), 0);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, buf, len);
        wardsync__v1__event__free_unpacked(got, NULL);
        free(again);
        free(buf);
    }
}

static void test_event_kind_none(void **state)
{
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;

    (void)state;
    assert_string_equal(ws_event_kind(&event), "none");
    assert_string_equal(ws_event_kind(NULL), "none");
}

static void test_malformed_bytes(void **state)
{
    /* Field 1 as varint with a varint that never ends; a length-delimited
     * field 2 claiming 100 bytes with 2 present; a wire type 7 tag. */
    static const uint8_t endless_varint[] = {
        0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t short_string[] = {0x12, 0x64, 'a', 'b'};
    static const uint8_t bad_wire_type[] = {0x0f, 0x01};
    static const uint8_t *const frames[] = {endless_varint, short_string,
                                            bad_wire_type};
    static const size_t lens[] = {sizeof(endless_varint), sizeof(short_string),
                                  sizeof(bad_wire_type)};
    char err[200];

    (void)state;
    for (int i = 0; i < 3; i++) {
        Wardsync__V1__Batch *batch = (void *)1;
        Wardsync__V1__Ack *ack = (void *)1;
        Wardsync__V1__Event *event = (void *)1;

        err[0] = '\0';
        assert_int_equal(
            ws_batch_unpack(frames[i], lens[i], 1024, &batch, err, sizeof(err)),
            -EBADMSG);
        assert_null(batch);
        assert_non_null(strstr(err, "malformed batch"));
        assert_int_equal(
            ws_ack_unpack(frames[i], lens[i], 1024, &ack, err, sizeof(err)),
            -EBADMSG);
        assert_null(ack);
        assert_int_equal(
            ws_event_unpack(frames[i], lens[i], 1024, &event, err, sizeof(err)),
            -EBADMSG);
        assert_null(event);
    }
}

/* Pseudo-random garbage: each decode either succeeds or fails cleanly. */
static void test_random_bytes(void **state)
{
    uint32_t x = 2463534242u;
    uint8_t buf[256];
    char err[200];
    int decoded = 0;

    (void)state;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 256);
        Wardsync__V1__Batch *batch;
        Wardsync__V1__Event *event;
        int rc;

        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (uint8_t)x;
        }
        rc = ws_batch_unpack(buf, len, sizeof(buf), &batch, err, sizeof(err));
        assert_true(rc == 0 || rc == -EBADMSG || rc == -EPROTO);
        if (rc == 0)
            wardsync__v1__batch__free_unpacked(batch, NULL);
        rc = ws_event_unpack(buf, len, sizeof(buf), &event, err, sizeof(err));
        assert_true(rc == 0 || rc == -EBADMSG);
        if (rc == 0) {
            decoded++;
            wardsync__v1__event__free_unpacked(event, NULL);
        }
    }
    (void)decoded;
}

static void test_truncated_batch(void **state)
{
    uint8_t *buf;
    size_t len;
    int failed = 0;

    (void)state;
    pack_sample_batch(&buf, &len, WS_PROTOCOL_VERSION, "instance-1");
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly cut bytes, so valgrind sees any overread. */
        uint8_t *prefix = malloc(cut > 0 ? cut : 1);
        Wardsync__V1__Batch *batch = NULL;
        char err[200] = "";
        int rc;

        assert_non_null(prefix);
        memcpy(prefix, buf, cut);
        rc = ws_batch_unpack(prefix, cut, WS_MAX_FRAME_DEFAULT, &batch, err,
                             sizeof(err));
        if (rc == 0) {
            assert_non_null(batch);
            assert_true(batch->n_events <= 4);
            wardsync__v1__batch__free_unpacked(batch, NULL);
        } else {
            assert_true(rc == -EBADMSG || rc == -EPROTO);
            assert_null(batch);
            assert_true(err[0] != '\0');
            failed++;
        }
        free(prefix);
    }
    /* Most cuts land inside a field and must have failed. */
    assert_true(failed > (int)len / 2);
    free(buf);
}

static void test_truncated_event_and_ack(void **state)
{
    struct sample s;
    Wardsync__V1__Ack ack = WARDSYNC__V1__ACK__INIT;
    Wardsync__V1__Outcome outcome = WARDSYNC__V1__OUTCOME__INIT;
    Wardsync__V1__Outcome *outcomes[1] = {&outcome};
    uint8_t *ev_buf, *ack_buf;
    size_t ev_len, ack_len;

    (void)state;
    sample_petition(&s, 1);
    assert_int_equal(ws_pack(&s.event.base, &ev_buf, &ev_len), 0);
    outcome.seq = 9;
    outcome.code = WARDSYNC__V1__OUTCOME__CODE__CODE_REJECTED;
    outcome.reason = "note: not valid UTF-8";
    ack.agent_instance = "instance-1";
    ack.committed_through = 9;
    ack.n_outcomes = 1;
    ack.outcomes = outcomes;
    assert_int_equal(ws_pack(&ack.base, &ack_buf, &ack_len), 0);

    for (size_t cut = 0; cut < ev_len; cut++) {
        uint8_t *prefix = malloc(cut > 0 ? cut : 1);
        Wardsync__V1__Event *event = NULL;
        char err[200];
        int rc;

        memcpy(prefix, ev_buf, cut);
        rc = ws_event_unpack(prefix, cut, ev_len, &event, err, sizeof(err));
        assert_true(rc == 0 || rc == -EBADMSG);
        if (rc == 0)
            wardsync__v1__event__free_unpacked(event, NULL);
        else
            assert_null(event);
        free(prefix);
    }
    for (size_t cut = 0; cut < ack_len; cut++) {
        uint8_t *prefix = malloc(cut > 0 ? cut : 1);
        Wardsync__V1__Ack *got = NULL;
        char err[200];
        int rc;

        memcpy(prefix, ack_buf, cut);
        rc = ws_ack_unpack(prefix, cut, ack_len, &got, err, sizeof(err));
        assert_true(rc == 0 || rc == -EBADMSG);
        if (rc == 0)
            wardsync__v1__ack__free_unpacked(got, NULL);
        free(prefix);
    }
    free(ev_buf);
    free(ack_buf);
}

static void test_oversized_frame(void **state)
{
    uint8_t *buf;
    size_t len;
    char err[200] = "";
    Wardsync__V1__Batch *batch = (void *)1;
    Wardsync__V1__Ack *ack = (void *)1;
    Wardsync__V1__Event *event = (void *)1;

    (void)state;
    pack_sample_batch(&buf, &len, WS_PROTOCOL_VERSION, "instance-1");
    assert_int_equal(
        ws_batch_unpack(buf, len, len - 1, &batch, err, sizeof(err)),
        -EMSGSIZE);
    assert_null(batch);
    assert_non_null(strstr(err, "exceeds the limit"));
    /* Exactly at the limit is fine. */
    assert_int_equal(ws_batch_unpack(buf, len, len, &batch, err, sizeof(err)),
                     0);
    wardsync__v1__batch__free_unpacked(batch, NULL);
    assert_int_equal(ws_ack_unpack(buf, len, 10, &ack, err, sizeof(err)),
                     -EMSGSIZE);
    assert_null(ack);
    assert_int_equal(ws_event_unpack(buf, len, 10, &event, err, sizeof(err)),
                     -EMSGSIZE);
    assert_null(event);
    free(buf);

    /* The limit is checked before parsing: a huge length over garbage is
     * refused for its size, not its content. */
    static const uint8_t garbage[64] = {0xff};
    assert_int_equal(
        ws_batch_unpack(garbage, sizeof(garbage), 16, &batch, err, sizeof(err)),
        -EMSGSIZE);
}

static void test_wrong_protocol(void **state)
{
    uint32_t versions[] = {0, 2, 99, UINT32_MAX};
    char want[64];

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        uint8_t *buf;
        size_t len;
        char err[200] = "";
        Wardsync__V1__Batch *batch = (void *)1;

        pack_sample_batch(&buf, &len, versions[i], "instance-1");
        assert_int_equal(ws_batch_unpack(buf, len, WS_MAX_FRAME_DEFAULT, &batch,
                                         err, sizeof(err)),
                         -EPROTO);
        assert_null(batch);
        snprintf(want, sizeof(want), "unknown protocol version %u",
                 versions[i]);
        assert_non_null(strstr(err, want));
        free(buf);
    }
    /* An empty frame is a batch of protocol 0. */
    {
        Wardsync__V1__Batch *batch;
        char err[200];

        assert_int_equal(ws_batch_unpack(NULL, 0, 10, &batch, err, sizeof(err)),
                         -EPROTO);
    }
}

static void test_batch_bad_utf8_envelope(void **state)
{
    uint8_t *buf;
    size_t len;
    char err[200];
    Wardsync__V1__Batch *batch = (void *)1;

    (void)state;
    pack_sample_batch(&buf, &len, WS_PROTOCOL_VERSION, "inst\xff\xfe");
    assert_int_equal(ws_batch_unpack(buf, len, WS_MAX_FRAME_DEFAULT, &batch,
                                     err, sizeof(err)),
                     -EBADMSG);
    assert_null(batch);
    assert_non_null(strstr(err, "UTF-8"));
    free(buf);
}

static void test_pack_arguments(void **state)
{
    uint8_t *buf;
    size_t len;
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;

    (void)state;
    assert_int_equal(ws_pack(NULL, &buf, &len), -EINVAL);
    assert_int_equal(ws_pack(&event.base, NULL, &len), -EINVAL);
    /* An all-default message packs to zero bytes and a freeable buffer. */
    assert_int_equal(ws_pack(&event.base, &buf, &len), 0);
    assert_int_equal(len, 0);
    free(buf);
}

/* ---- hand-built frames: a writer of the protobuf encoding, so a test can
 * put bytes on the wire that protobuf-c's packer never would ---- */

struct wire {
    uint8_t buf[4096];
    size_t len;
};

static void wire_varint(struct wire *w, uint64_t v)
{
    do {
        assert_true(w->len < sizeof w->buf);
        w->buf[w->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void wire_uint(struct wire *w, uint32_t field, uint64_t v)
{
    wire_varint(w, (uint64_t)field << 3); /* wire type 0 */
    wire_varint(w, v);
}

/* A length-delimited field: a string, bytes or a sub-message. */
static void wire_bytes(struct wire *w, uint32_t field, const void *data,
                       size_t len)
{
    wire_varint(w, (uint64_t)field << 3 | 2);
    wire_varint(w, len);
    assert_true(w->len + len <= sizeof w->buf);
    memcpy(w->buf + w->len, data, len);
    w->len += len;
}

/* A string written with its wire length, so it may hold a NUL. */
#define WIRE_STR(w, field, literal)                                            \
    wire_bytes((w), (field), (literal), sizeof(literal) - 1)

/* An Event with a petition whose note is the given bytes. */
static void wire_petition_event(struct wire *w, uint64_t seq, const void *note,
                                size_t note_len)
{
    struct wire petition = {.len = 0};

    WIRE_STR(&petition, 1, "P-1");
    wire_uint(&petition, 2, 1); /* complaint */
    wire_uint(&petition, 3, 1); /* in person */
    wire_uint(&petition, 4, 1); /* received */
    WIRE_STR(&petition, 6, "2023-08-01");
    wire_bytes(&petition, 8, note, note_len);
    w->len = 0;
    wire_uint(w, 1, seq);
    WIRE_STR(w, 2, "0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51");
    wire_uint(w, 3, 1691366400000);
    wire_bytes(w, 11, petition.buf, petition.len);
}

/* Bug 2 of issue #12: two outboxes "X\0first" and "X\0second" were one
 * stream "X" to the hub. Such a batch is refused, naming the field. */
static void test_batch_agent_instance_with_nul(void **state)
{
    struct wire w = {.len = 0};
    Wardsync__V1__Batch *batch = (void *)1;
    char err[200] = "";

    (void)state;
    wire_uint(&w, 1, WS_PROTOCOL_VERSION);
    WIRE_STR(&w, 2, "X\0first");
    WIRE_STR(&w, 3, "LB01");
    /* protobuf-c alone cuts the string at the NUL: what the check is for. */
    Wardsync__V1__Batch *raw = wardsync__v1__batch__unpack(NULL, w.len, w.buf);
    assert_non_null(raw);
    assert_string_equal(raw->agent_instance, "X");
    wardsync__v1__batch__free_unpacked(raw, NULL);

    assert_int_equal(ws_batch_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &batch,
                                     err, sizeof err),
                     -EBADMSG);
    assert_null(batch);
    assert_string_equal(err, "batch: agent_instance: contains a NUL byte");

    /* The same frame without the NUL is a batch. */
    w.len = 0;
    wire_uint(&w, 1, WS_PROTOCOL_VERSION);
    WIRE_STR(&w, 2, "X-first");
    assert_int_equal(ws_batch_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &batch,
                                     err, sizeof err),
                     0);
    assert_string_equal(batch->agent_instance, "X-first");
    wardsync__v1__batch__free_unpacked(batch, NULL);
}

/* The walk covers the new messages without an edit (docs/DESIGN.md §4):
 * a NUL in a rotation's cadre code (Event field 15) refuses the event,
 * naming the field. */
static void test_rotation_string_with_nul(void **state)
{
    struct wire w = {.len = 0}, rotation = {.len = 0};
    Wardsync__V1__Event *got = (void *)1;
    char err[200] = "";

    (void)state;
    wire_bytes(&rotation, 1, "C-1\0x", 5);
    WIRE_STR(&rotation, 2, "chair");
    WIRE_STR(&rotation, 5, "2023-08-07");
    wire_uint(&rotation, 6, 2); /* rotated */
    wire_uint(&w, 1, 3);
    WIRE_STR(&w, 2, "0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51");
    wire_bytes(&w, 15, rotation.buf, rotation.len);
    assert_int_equal(ws_event_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &got,
                                     err, sizeof err),
                     -EBADMSG);
    assert_null(got);
    assert_string_equal(err, "event: rotation.cadre: contains a NUL byte");
}

/* Bug 2 of issue #12: "before\0after" was stored as "before". The batch
 * is refused with the event's place, its seq and the field's path. */
static void test_batch_event_string_with_nul(void **state)
{
    struct wire w = {.len = 0}, event = {.len = 0};
    struct sample first;
    uint8_t *packed;
    size_t packed_len;
    Wardsync__V1__Batch *batch = (void *)1;
    char err[200] = "";

    (void)state;
    sample_ballot(&first, 8);
    assert_int_equal(ws_pack(&first.event.base, &packed, &packed_len), 0);
    wire_uint(&w, 1, WS_PROTOCOL_VERSION);
    WIRE_STR(&w, 2, "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d");
    wire_bytes(&w, 4, packed, packed_len);
    wire_petition_event(&event, 9, "before\0after", 12);
    wire_bytes(&w, 4, event.buf, event.len);
    free(packed);

    assert_int_equal(ws_batch_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &batch,
                                     err, sizeof err),
                     -EBADMSG);
    assert_null(batch);
    assert_string_equal(err,
                        "event 2 (seq 9): petition.note: contains a NUL byte");

    /* A NUL at the very end of a string is caught as well. */
    wire_petition_event(&event, 9, "after\0", 6);
    Wardsync__V1__Event *got = (void *)1;
    assert_int_equal(ws_event_unpack(event.buf, event.len, WS_MAX_FRAME_DEFAULT,
                                     &got, err, sizeof err),
                     -EBADMSG);
    assert_null(got);
    assert_string_equal(err, "event: petition.note: contains a NUL byte");

    /* Without the NUL the same event decodes with its whole note. */
    wire_petition_event(&event, 9, "before after", 12);
    assert_int_equal(ws_event_unpack(event.buf, event.len, WS_MAX_FRAME_DEFAULT,
                                     &got, err, sizeof err),
                     0);
    assert_string_equal(got->petition->note, "before after");
    wardsync__v1__event__free_unpacked(got, NULL);
}

static void test_event_id_and_ack_with_nul(void **state)
{
    struct wire w = {.len = 0}, outcome = {.len = 0};
    Wardsync__V1__Event *event = (void *)1;
    Wardsync__V1__Ack *ack = (void *)1;
    char err[200] = "";

    (void)state;
    wire_uint(&w, 1, 3);
    WIRE_STR(&w, 2, "0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51\0junk");
    assert_int_equal(ws_event_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &event,
                                     err, sizeof err),
                     -EBADMSG);
    assert_null(event);
    assert_string_equal(err, "event: event_id: contains a NUL byte");

    /* The agent reads acks through the same walk: a reason in an outcome
     * (a repeated sub-message) is searched too. */
    wire_uint(&outcome, 1, 4);
    wire_uint(&outcome, 2, 4);
    WIRE_STR(&outcome, 3, "note\0hidden");
    w.len = 0;
    WIRE_STR(&w, 1, "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d");
    wire_uint(&w, 2, 4);
    wire_bytes(&w, 3, outcome.buf, outcome.len);
    assert_int_equal(ws_ack_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &ack,
                                   err, sizeof err),
                     -EBADMSG);
    assert_null(ack);
    assert_string_equal(err, "ack: outcomes.reason: contains a NUL byte");
}

/* A Withdrawal round-trips with its ids in order, is named "withdrawal",
 * and a NUL inside one of its repeated event_ids refuses the frame: the
 * descriptor walk reaches repeated strings of the new body without an
 * edit of the codec. */
static void test_withdrawal_round_trip_and_nul(void **state)
{
    static char *ids[] = {"0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51",
                          "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d"};
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__Withdrawal withdrawal = WARDSYNC__V1__WITHDRAWAL__INIT;
    Wardsync__V1__Event *got = NULL;
    uint8_t *buf;
    size_t len;
    char err[200] = "";

    (void)state;
    event.seq = 7;
    event.event_id = "9a1d7c3e-0b2f-4e6a-8d5c-3f1e2a4b6c70";
    withdrawal.event_ids = ids;
    withdrawal.n_event_ids = 2;
    withdrawal.reason = "tệp của phường khác";
    event.body_case = WARDSYNC__V1__EVENT__BODY_WITHDRAWAL;
    event.withdrawal = &withdrawal;
    assert_int_equal(ws_pack(&event.base, &buf, &len), 0);
    assert_int_equal(
        ws_event_unpack(buf, len, WS_MAX_FRAME_DEFAULT, &got, err, sizeof err),
        0);
    free(buf);
    assert_string_equal(ws_event_kind(got), "withdrawal");
    assert_int_equal(got->withdrawal->n_event_ids, 2);
    assert_string_equal(got->withdrawal->event_ids[1], ids[1]);
    assert_string_equal(got->withdrawal->reason, "tệp của phường khác");
    wardsync__v1__event__free_unpacked(got, NULL);

    struct wire body = {.len = 0}, w = {.len = 0};
    WIRE_STR(&body, 1, "0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51");
    WIRE_STR(&body, 1, "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d\0x");
    wire_uint(&w, 1, 7);
    WIRE_STR(&w, 2, "9a1d7c3e-0b2f-4e6a-8d5c-3f1e2a4b6c70");
    wire_bytes(&w, 16, body.buf, body.len);
    got = (void *)1;
    assert_int_equal(ws_event_unpack(w.buf, w.len, WS_MAX_FRAME_DEFAULT, &got,
                                     err, sizeof err),
                     -EBADMSG);
    assert_null(got);
    assert_string_equal(err,
                        "event: withdrawal.event_ids: contains a NUL byte");
}

/* ws_batch_pack_events gives the bytes protobuf-c gives for the same
 * Batch, from events packed one by one (as the outbox stores them). */
static void test_batch_pack_events_matches_protobuf_c(void **state)
{
    struct sample s[5];
    Wardsync__V1__Event *events[5];
    struct ws_packed_event packed[5];
    uint8_t *bufs[5];
    uint8_t *want, *got;
    size_t want_len, got_len;

    (void)state;
    sample_ballot(&s[0], 7);
    sample_petition(&s[1], 8);
    sample_reception(&s[2], 9);
    sample_remediation(&s[3], 10);
    sample_petition(&s[4], 11);
    /* A record longer than 127 bytes: its length takes two varint bytes. */
    memset(s[4].note, 'a', WS_NOTE_MAX);
    s[4].note[WS_NOTE_MAX] = '\0';
    for (size_t backlog = 0; backlog <= 300; backlog += 300) {
        Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
        Wardsync__V1__Batch head = WARDSYNC__V1__BATCH__INIT;

        for (int i = 0; i < 5; i++) {
            events[i] = &s[i].event;
            assert_int_equal(
                ws_pack(&s[i].event.base, &bufs[i], &packed[i].len), 0);
            packed[i].data = bufs[i];
        }
        batch.protocol = head.protocol = WS_PROTOCOL_VERSION;
        batch.agent_instance = head.agent_instance =
            "5d0c2a71-3b9e-4f4a-8c61-0e7f1a2b3c4d";
        batch.ward = head.ward = "LB01";
        batch.backlog = head.backlog = backlog;
        batch.n_events = 5;
        batch.events = events;
        assert_int_equal(ws_pack(&batch.base, &want, &want_len), 0);
        assert_int_equal(ws_batch_pack_events(&head, packed, 5, &got, &got_len),
                         0);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);

        /* And it decodes to the same batch. */
        Wardsync__V1__Batch *back;
        char err[200];
        assert_int_equal(ws_batch_unpack(got, got_len, WS_MAX_FRAME_DEFAULT,
                                         &back, err, sizeof err),
                         0);
        assert_int_equal(back->n_events, 5);
        assert_int_equal(back->events[4]->seq, 11);
        assert_int_equal(strlen(back->events[4]->petition->note), WS_NOTE_MAX);
        assert_int_equal(back->backlog, backlog);
        wardsync__v1__batch__free_unpacked(back, NULL);
        free(got);
        free(want);
        for (int i = 0; i < 5; i++)
            free(bufs[i]);
    }
}

static void test_batch_pack_events_edges(void **state)
{
    Wardsync__V1__Batch head = WARDSYNC__V1__BATCH__INIT;
    Wardsync__V1__Event *one[1] = {NULL};
    uint8_t *want, *got;
    size_t want_len, got_len;

    (void)state;
    /* No events: the same bytes as ws_pack of the head. */
    head.protocol = WS_PROTOCOL_VERSION;
    head.backlog = 5;
    assert_int_equal(ws_pack(&head.base, &want, &want_len), 0);
    assert_int_equal(ws_batch_pack_events(&head, NULL, 0, &got, &got_len), 0);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    free(got);
    free(want);

    /* A head that already has events is a programming error. */
    head.n_events = 1;
    head.events = one;
    assert_int_equal(ws_batch_pack_events(&head, NULL, 0, &got, &got_len),
                     -EINVAL);
    head.n_events = 0;
    assert_int_equal(ws_batch_pack_events(NULL, NULL, 0, &got, &got_len),
                     -EINVAL);
    assert_int_equal(ws_batch_pack_events(&head, NULL, 1, &got, &got_len),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_round_trip),
        cmocka_unit_test(test_empty_batch_round_trip),
        cmocka_unit_test(test_ack_round_trip),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_event_kind_none),
        cmocka_unit_test(test_malformed_bytes),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_truncated_batch),
        cmocka_unit_test(test_truncated_event_and_ack),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_wrong_protocol),
        cmocka_unit_test(test_batch_bad_utf8_envelope),
        cmocka_unit_test(test_pack_arguments),
        cmocka_unit_test(test_batch_agent_instance_with_nul),
        cmocka_unit_test(test_batch_event_string_with_nul),
        cmocka_unit_test(test_rotation_string_with_nul),
        cmocka_unit_test(test_event_id_and_ack_with_nul),
        cmocka_unit_test(test_withdrawal_round_trip_and_nul),
        cmocka_unit_test(test_batch_pack_events_matches_protobuf_c),
        cmocka_unit_test(test_batch_pack_events_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
