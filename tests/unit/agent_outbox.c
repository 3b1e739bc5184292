/*
 * agent_outbox.c - the ward agent's SQLite outbox: seqs without gaps,
 * acknowledgements by mark, the stored payload is the packed Event.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "outbox.h"
#include "wardsync/codec.h"
#include "wardsync/util.h"

struct fixture {
    char dir[64];
    char path[128];
    struct outbox *outbox;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/agent_outbox.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/outbox.db", f->dir);
    assert_int_equal(outbox_open(f->path, "LB01", true, &f->outbox), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    outbox_close(&f->outbox);
    assert_null(f->outbox);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A reception event packed without seq, as import.c hands it over. */
static void make_event(struct outbox_new_event *ev, const char *session)
{
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__ReceptionSession body = WARDSYNC__V1__RECEPTION_SESSION__INIT;
    memset(ev, 0, sizeof(*ev));
    assert_int_equal(ws_uuid4(ev->event_id), 0);
    body.session = (char *)session;
    body.held_on = "2023-09-04";
    body.host_role = WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR;
    body.mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
    body.citizens = 3;
    event.event_id = ev->event_id;
    event.occurred_at_ms = 1693785600000;
    event.queued_at_ms = 1693785600123;
    event.body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
    event.reception = &body;
    ev->kind = "reception";
    ev->queued_at_ms = event.queued_at_ms;
    assert_int_equal(ws_pack(&event.base, &ev->body, &ev->body_len), 0);
}

static void test_new_outbox_is_empty(void **state)
{
    struct fixture *f = *state;
    struct outbox_counts c;
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.queued + c.delivered + c.rejected, 0);
    assert_int_equal(c.last_seq, 0);
    assert_int_equal(c.last_contact_ms, -1);
    assert_true(ws_uuid_valid(outbox_agent_instance(f->outbox)));
    assert_string_equal(outbox_ward(f->outbox), "LB01");
}

static void test_seqs_are_contiguous_across_appends(void **state)
{
    struct fixture *f = *state;
    struct outbox_new_event ev[5];
    uint64_t first, last;
    for (int i = 0; i < 5; i++)
        make_event(&ev[i], "R-1");
    assert_int_equal(outbox_append(f->outbox, ev, 2, NULL, &first, &last), 0);
    assert_int_equal(first, 1);
    assert_int_equal(last, 2);
    assert_int_equal(outbox_append(f->outbox, ev + 2, 3, NULL, &first, &last),
                     0);
    assert_int_equal(first, 3);
    assert_int_equal(last, 5);

    struct outbox_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(outbox_read(f->outbox, 2, 10, 1 << 20, &rows, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__Event *back = NULL;
        char err[128];
        assert_int_equal(rows[i].seq, 2 + i);
        assert_int_equal(ws_event_unpack(rows[i].payload, rows[i].payload_len,
                                         1 << 20, &back, err, sizeof(err)),
                         0);
        /* The stored payload carries the seq the outbox gave. */
        assert_int_equal(back->seq, rows[i].seq);
        assert_string_equal(back->event_id, ev[1 + i].event_id);
        wardsync__v1__event__free_unpacked(back, NULL);
    }
    outbox_rows_free(&rows, n);
    assert_null(rows);
    for (int i = 0; i < 5; i++)
        free(ev[i].body);
}

/* The outbox prefixes the seq field; that must be byte for byte what
 * protobuf-c makes of the same Event with seq set. */
static void test_payload_is_canonical_encoding(void **state)
{
    struct fixture *f = *state;
    struct outbox_new_event ev;
    struct outbox_row *rows = NULL;
    size_t n = 0;
    char err[128];
    make_event(&ev, "R-9");
    assert_int_equal(outbox_append(f->outbox, &ev, 1, NULL, NULL, NULL), 0);
    assert_int_equal(outbox_read(f->outbox, 1, 1, 1 << 20, &rows, &n), 0);
    assert_int_equal(n, 1);

    Wardsync__V1__Event *back = NULL;
    assert_int_equal(ws_event_unpack(rows[0].payload, rows[0].payload_len,
                                     1 << 20, &back, err, sizeof(err)),
                     0);
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(ws_pack(&back->base, &again, &again_len), 0);
    assert_int_equal(again_len, rows[0].payload_len);
    assert_memory_equal(again, rows[0].payload, again_len);
    free(again);
    wardsync__v1__event__free_unpacked(back, NULL);
    outbox_rows_free(&rows, n);
    free(ev.body);
}

static void test_ack_marks_delivered_and_rejected(void **state)
{
    struct fixture *f = *state;
    struct outbox_new_event ev[4];
    struct outbox_counts c;
    for (int i = 0; i < 4; i++)
        make_event(&ev[i], "R-2");
    assert_int_equal(outbox_append(f->outbox, ev, 4, NULL, NULL, NULL), 0);

    struct outbox_refusal refusals[] = {
        {2, "held_on: round closed"},
        {4, "beyond the mark: ignored"},
    };
    assert_int_equal(outbox_apply_ack(f->outbox, 3, refusals, 2, 1234), 0);
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.delivered, 2);
    assert_int_equal(c.rejected, 1);
    assert_int_equal(c.queued, 1);
    assert_int_equal(c.hub_mark, 3);
    assert_int_equal(c.last_contact_ms, 1234);

    uint64_t backlog = 99;
    assert_int_equal(outbox_count_queued_after(f->outbox, 3, &backlog), 0);
    assert_int_equal(backlog, 1);

    /* The last seq the sync loop reads on every batch and ack: from meta,
     * whatever the events' states. */
    uint64_t last_seq = 0;
    assert_int_equal(outbox_last_seq(f->outbox, &last_seq), 0);
    assert_int_equal(last_seq, 4);
    struct outbox_new_event fifth;
    make_event(&fifth, "R-3");
    assert_int_equal(outbox_append(f->outbox, &fifth, 1, NULL, NULL, NULL), 0);
    free(fifth.body);
    assert_int_equal(outbox_last_seq(f->outbox, &last_seq), 0);
    assert_int_equal(last_seq, 5);

    /* A late ack for an older batch changes nothing already settled. */
    assert_int_equal(outbox_apply_ack(f->outbox, 2, NULL, 0, 2000), 0);
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.rejected, 1);
    assert_int_equal(c.delivered, 2);
    for (int i = 0; i < 4; i++)
        free(ev[i].body);
}

static void test_reopen_keeps_identity_and_checks_ward(void **state)
{
    struct fixture *f = *state;
    char instance[WS_UUID_LEN + 1];
    struct outbox *other = NULL;
    ws_strlcpy(instance, outbox_agent_instance(f->outbox), sizeof(instance));
    outbox_close(&f->outbox);

    assert_int_equal(outbox_open(f->path, "LB02", true, &other), -EINVAL);
    assert_null(other);
    assert_int_equal(outbox_open(f->path, NULL, false, &f->outbox), 0);
    assert_string_equal(outbox_agent_instance(f->outbox), instance);
}

static void test_status_open_does_not_create(void **state)
{
    struct fixture *f = *state;
    char path[160];
    struct outbox *none = NULL;
    snprintf(path, sizeof(path), "%s/missing.db", f->dir);
    assert_int_equal(outbox_open(path, "LB01", false, &none), -ENOENT);
    assert_null(none);
    assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_outbox_is_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_seqs_are_contiguous_across_appends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_is_canonical_encoding,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_marks_delivered_and_rejected,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_reopen_keeps_identity_and_checks_ward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_open_does_not_create, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
