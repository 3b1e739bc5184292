/*
 * agent_outbox.c - the ward agent's SQLite outbox: seqs without gaps,
 * acknowledgements by mark, the stored payload is the packed Event, an
 * import taken back by Withdrawals (withdraw.c).
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

#include <sqlite3.h>
#include <sys/stat.h>

#include "outbox.h"
#include "withdraw.h"
#include "wardsync/codec.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

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

static char rejected_name[256];

static void keep_rejected(const struct outbox_rejected_event *ev, void *arg)
{
    struct outbox_rejected_event *out = arg;
    *out = *ev;
    snprintf(rejected_name, sizeof(rejected_name), "%s", ev->file);
    out->file = rejected_name;
    out->kind = "";
    out->reason = "";
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

/* An outbox made by the first ward-agents (schema 1), with a queued and a
 * delivered event and the import they came from, is migrated forward:
 * every event is kept, byte for byte, and finds its import. */
static void test_migrates_schema_1_keeping_events(void **state)
{
    struct fixture *f = *state;
    struct outbox_new_event ev[2];
    char path[160];
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/old.db", f->dir);
    make_event(&ev[0], "R-1");
    make_event(&ev[1], "R-2");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " agent_instance TEXT NOT NULL, ward TEXT NOT NULL,"
            " next_seq INTEGER NOT NULL CHECK (next_seq >= 1),"
            " last_contact_ms INTEGER, hub_mark INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE events (seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
            " event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
            " payload BLOB NOT NULL, state TEXT NOT NULL DEFAULT 'queued'"
            " CHECK (state IN ('queued', 'delivered', 'rejected')),"
            " reason TEXT, queued_at_ms INTEGER NOT NULL);"
            "CREATE INDEX events_state ON events (state, seq);"
            "CREATE TABLE imports (name TEXT NOT NULL, size INTEGER NOT NULL,"
            " mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,"
            " first_seq INTEGER, last_seq INTEGER,"
            " imported_at_ms INTEGER NOT NULL,"
            " PRIMARY KEY (name, size, mtime_ns, inode));"
            "INSERT INTO meta VALUES (1, "
            "'0b5d3c1e-7a4f-4c41-9d5e-1f2a3b4c5d6e',"
            " 'LB01', 3, 1000, 1);"
            "INSERT INTO imports VALUES ('reception.csv', 10, 20, 30, 1, 2, 5);"
            "PRAGMA user_version = 1;",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_stmt *insert = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "INSERT INTO events (seq, event_id, kind, payload,"
                           " state, queued_at_ms) VALUES (?1, ?2, 'reception',"
                           " ?3, ?4, 1)",
                           -1, &insert, NULL),
        SQLITE_OK);
    for (int i = 0; i < 2; i++) {
        sqlite3_bind_int(insert, 1, i + 1);
        sqlite3_bind_text(insert, 2, ev[i].event_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 3, ev[i].body, (int)ev[i].body_len,
                          SQLITE_STATIC);
        sqlite3_bind_text(insert, 4, i == 0 ? "delivered" : "queued", -1,
                          SQLITE_STATIC);
        assert_int_equal(sqlite3_step(insert), SQLITE_DONE);
        sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);

    struct outbox *old = NULL;
    assert_int_equal(outbox_open(path, "LB01", false, &old), 0);
    struct outbox_counts c;
    assert_int_equal(outbox_get_counts(old, &c), 0);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(c.queued, 1);
    assert_int_equal(c.last_seq, 2);
    assert_string_equal(outbox_agent_instance(old),
                        "0b5d3c1e-7a4f-4c41-9d5e-1f2a3b4c5d6e");
    struct outbox_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(outbox_read(old, 2, 10, 1 << 20, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].payload_len, ev[1].body_len);
    assert_memory_equal(rows[0].payload, ev[1].body, ev[1].body_len);
    outbox_rows_free(&rows, n);

    /* The drop-folder identity still says "already imported". */
    struct outbox_source source = {"reception.csv", 10, 20, 30};
    bool imported = false;
    assert_int_equal(outbox_source_imported(old, &source, &imported), 0);
    assert_true(imported);

    /* A rejection of an old event names the file it came from. */
    struct outbox_refusal refusal = {2, "held_on: bad"};
    assert_int_equal(outbox_apply_ack(old, 2, &refusal, 1, 2000), 0);
    struct outbox_rejected_event got = {0};
    assert_int_equal(outbox_list_rejected(old, 5, keep_rejected, &got), 0);
    assert_int_equal(got.seq, 2);
    assert_int_equal(got.import_id, 1);
    assert_string_equal(rejected_name, "reception.csv");
    outbox_close(&old);

    /* Opened again: already at the current version, nothing changes. */
    assert_int_equal(outbox_open(path, "LB01", false, &old), 0);
    assert_int_equal(outbox_get_counts(old, &c), 0);
    assert_int_equal(c.rejected, 1);
    outbox_close(&old);
    for (int i = 0; i < 2; i++)
        free(ev[i].body);
}

static void test_outbox_is_owner_only(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
    /* An outbox made world-readable before is made owner-only again. */
    outbox_close(&f->outbox);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(outbox_open(f->path, "LB01", false, &f->outbox), 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
}

/* A natural key: the same row again is a no-op, other content is a
 * correction, and a row the hub rejected may be queued again. */
static void test_natural_key_claims(void **state)
{
    struct fixture *f = *state;
    struct outbox_appender *a = NULL;
    struct outbox_new_event ev;
    uint8_t same[OUTBOX_FINGERPRINT_LEN] = {1};
    uint8_t other[OUTBOX_FINGERPRINT_LEN] = {2};
    bool repeated = true;
    uint64_t earlier = 99;
    make_event(&ev, "R-1");

    assert_int_equal(outbox_append_begin(f->outbox, NULL, &a), 0);
    assert_int_equal(outbox_append_claim(a, "reception", "R-1", 3, same, 1,
                                         &repeated, &earlier),
                     0);
    assert_false(repeated);
    assert_int_equal(earlier, 0);
    assert_int_equal(outbox_append_put(a, &ev, 1), 0);
    assert_int_equal(outbox_append_commit(&a, 1), 0);

    assert_int_equal(outbox_append_begin(f->outbox, NULL, &a), 0);
    assert_int_equal(outbox_append_claim(a, "reception", "R-1", 3, same, 2,
                                         &repeated, &earlier),
                     0);
    assert_true(repeated);
    assert_int_equal(earlier, 1);
    /* The same key of another kind is another fact. */
    assert_int_equal(outbox_append_claim(a, "petition", "R-1", 3, same, 2,
                                         &repeated, &earlier),
                     0);
    assert_false(repeated);
    outbox_append_abort(&a);

    assert_int_equal(outbox_append_begin(f->outbox, NULL, &a), 0);
    assert_int_equal(outbox_append_claim(a, "reception", "R-1", 3, other, 2,
                                         &repeated, &earlier),
                     0);
    assert_false(repeated);
    outbox_append_abort(&a);

    struct outbox_refusal refusal = {1, "held_on: round closed"};
    assert_int_equal(outbox_apply_ack(f->outbox, 1, &refusal, 1, 1), 0);
    assert_int_equal(outbox_append_begin(f->outbox, NULL, &a), 0);
    assert_int_equal(outbox_append_claim(a, "reception", "R-1", 3, same, 2,
                                         &repeated, &earlier),
                     0);
    assert_false(repeated);
    outbox_append_abort(&a);
    free(ev.body);
}

static void keep_info(const struct outbox_import_info *info, void *arg)
{
    struct outbox_import_info *out = arg;
    *out = *info;
    out->name = out->kind = out->withdraw_reason = NULL;
    static char reason[64];
    snprintf(reason, sizeof reason, "%s", info->withdraw_reason);
    out->withdraw_reason = reason;
}

/* "ward-agent withdraw": one transaction queues Withdrawals of every event
 * of the import the hub did not reject, 1000 ids at most each, and marks
 * the import; again is a no-op; its rows stop being repeats. */
static void test_withdraw_import(void **state)
{
    enum { N = 2501 };
    struct fixture *f = *state;
    struct outbox_import import = {
        .name = "reception.csv", .kind = "reception", .rows = N};
    struct outbox_appender *a = NULL;
    static struct outbox_new_event ev[N];
    uint8_t hash[OUTBOX_FINGERPRINT_LEN] = {7};
    bool repeated = true;
    uint64_t earlier = 0;
    assert_int_equal(outbox_append_begin(f->outbox, &import, &a), 0);
    for (size_t i = 0; i < N; i++) {
        make_event(&ev[i], "R-1");
        assert_int_equal(outbox_append_put(a, &ev[i], 1 + i), 0);
    }
    assert_int_equal(outbox_append_claim(a, "reception", "R-1", 3, hash, 1,
                                         &repeated, &earlier),
                     0);
    assert_int_equal(outbox_append_commit(&a, N), 0);
    struct outbox_refusal refusal = {2, "held_on: round closed"};
    assert_int_equal(outbox_apply_ack(f->outbox, 100, &refusal, 1, 1), 0);

    struct withdraw_result r;
    char err[256];
    static char too_long[2100];
    memset(too_long, 'x', sizeof too_long - 1);
    assert_int_equal(
        withdraw_import(f->outbox, 1, too_long, &r, err, sizeof err), -EINVAL);
    assert_string_equal(err, "--reason: longer than 2000 bytes");
    assert_int_equal(withdraw_import(f->outbox, 9, NULL, &r, err, sizeof err),
                     -ENOENT);
    uint64_t last = 0;
    assert_int_equal(outbox_last_seq(f->outbox, &last), 0);
    assert_int_equal(last, N);

    assert_int_equal(
        withdraw_import(f->outbox, 1, "wrong file", &r, err, sizeof err), 0);
    assert_false(r.already);
    assert_string_equal(r.name, "reception.csv");
    assert_int_equal(r.events, N - 1);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(r.withdrawals, 3);
    assert_int_equal(r.first_seq, N + 1);
    assert_int_equal(r.last_seq, N + 3);

    struct outbox_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(outbox_read(f->outbox, N + 1, 10, 1 << 22, &rows, &n), 0);
    assert_int_equal(n, 3);
    size_t want[3] = {1000, 1000, 500};
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__Event *got = NULL;
        assert_int_equal(ws_event_unpack(rows[i].payload, rows[i].payload_len,
                                         1 << 22, &got, err, sizeof err),
                         0);
        assert_int_equal(got->seq, N + 1 + i);
        assert_int_equal(ws_validate_event(got, NULL, err, sizeof err), 0);
        assert_string_equal(ws_event_kind(got), "withdrawal");
        assert_int_equal(got->withdrawal->n_event_ids, want[i]);
        assert_string_equal(got->withdrawal->reason, "wrong file");
        if (i == 0) {
            /* seq 1, then seq 3: the rejected seq 2 is not named. */
            assert_string_equal(got->withdrawal->event_ids[0], ev[0].event_id);
            assert_string_equal(got->withdrawal->event_ids[1], ev[2].event_id);
        }
        if (i == 2)
            assert_string_equal(got->withdrawal->event_ids[499],
                                ev[N - 1].event_id);
        wardsync__v1__event__free_unpacked(got, NULL);
    }
    outbox_rows_free(&rows, n);

    struct outbox_import_info info;
    memset(&info, 0, sizeof info);
    assert_int_equal(
        outbox_list_imports(f->outbox, NULL, true, keep_info, &info), 0);
    assert_true(info.withdrawn_at_ms > 0);
    assert_string_equal(info.withdraw_reason, "wrong file");
    assert_int_equal(info.withdrawals, 3);
    assert_int_equal(info.withdrawals_queued, 3);
    assert_int_equal(info.events, N);

    /* Again: nothing queued, said so. */
    assert_int_equal(withdraw_import(f->outbox, 1, NULL, &r, err, sizeof err),
                     0);
    assert_true(r.already);
    assert_int_equal(r.withdrawals, 0);
    assert_int_equal(outbox_last_seq(f->outbox, &last), 0);
    assert_int_equal(last, N + 3);

    /* A Withdrawal the hub rejects is shown with the import it takes
     * back, and counted as such. */
    struct outbox_refusal refused = {N + 2, "event_ids: id 1 ..."};
    assert_int_equal(outbox_apply_ack(f->outbox, N + 3, &refused, 1, 2), 0);
    struct outbox_rejected_event got = {0};
    assert_int_equal(outbox_list_rejected(f->outbox, 1, keep_rejected, &got),
                     0);
    assert_int_equal(got.seq, N + 2);
    assert_int_equal(got.import_id, 1);
    assert_string_equal(rejected_name, "reception.csv");
    assert_int_equal(
        outbox_list_imports(f->outbox, NULL, true, keep_info, &info), 0);
    assert_int_equal(info.withdrawals_rejected, 1);
    assert_int_equal(info.withdrawals_queued, 0);

    /* A row of the withdrawn import is no longer a repeat. */
    assert_int_equal(outbox_append_begin(f->outbox, NULL, &a), 0);
    assert_int_equal(outbox_append_claim(a, "reception", "R-1", 3, hash, N + 4,
                                         &repeated, &earlier),
                     0);
    assert_false(repeated);
    assert_int_equal(earlier, 1);
    outbox_append_abort(&a);
    for (size_t i = 0; i < N; i++)
        free(ev[i].body);
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
        cmocka_unit_test_setup_teardown(test_migrates_schema_1_keeping_events,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_is_owner_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_natural_key_claims, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
