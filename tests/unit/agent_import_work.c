/*
 * agent_import_work.c - CSV import of inspections and rotations
 * (docs/contracts.md): the rows become Inspection and Rotation events, a
 * bad row is named FILE:LINE:COLUMN and queues nothing, and a row whose
 * natural key (inspection; cadre + post + unit + kind + effective_on) was
 * already queued with the same content is a no-op.
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

#include "import.h"
#include "outbox.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"

struct fixture {
    char dir[64];
    struct outbox *outbox;
    struct ws_catalogue *cat;
    char *report;
    size_t report_len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    char err[256];
    assert_non_null(f);
    strcpy(f->dir, "/tmp/agent_import_work.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/outbox.db", f->dir);
    assert_int_equal(outbox_open(path, "LB", true, &f->outbox), 0);
    assert_int_equal(
        ws_catalogue_load(WS_TEST_CATALOGUE, &f->cat, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    outbox_close(&f->outbox);
    ws_catalogue_destroy(&f->cat);
    free(f->report);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Writes text to dir/name and imports it as kind; the report is kept. */
static int import_text(struct fixture *f, enum import_kind kind,
                       const char *name, const char *text,
                       struct import_result *result)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *csv = fopen(path, "w");
    assert_non_null(csv);
    fputs(text, csv);
    assert_int_equal(fclose(csv), 0);
    free(f->report);
    f->report = NULL;
    FILE *report = open_memstream(&f->report, &f->report_len);
    assert_non_null(report);
    struct import_options options = {
        .label = name, .report = report, .max_reported = IMPORT_MAX_REPORTED};
    int rc = import_file(f->outbox, f->cat, kind, path, &options, result);
    fclose(report);
    return rc;
}

/* The event of outbox seq, unpacked (free with ..._free_unpacked). */
static Wardsync__V1__Event *event_at(struct fixture *f, uint64_t seq)
{
    struct outbox_row *rows = NULL;
    size_t n = 0;
    char err[128];
    Wardsync__V1__Event *ev = NULL;
    assert_int_equal(outbox_read(f->outbox, seq, 1, 1 << 20, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ws_event_unpack(rows[0].payload, rows[0].payload_len,
                                     1 << 20, &ev, err, sizeof(err)),
                     0);
    outbox_rows_free(&rows, n);
    return ev;
}

#define INSPECTION_HEADER                                                      \
    "inspection,body,unit,held_on,kind,subjects,violations,note\n"
#define ROTATION_HEADER "cadre,post,unit,years_in_post,effective_on,kind\n"

static void test_kind_names(void **state)
{
    (void)state;
    assert_int_equal(import_kind_parse("inspections"), IMPORT_INSPECTIONS);
    assert_int_equal(import_kind_parse("rotations"), IMPORT_ROTATIONS);
    assert_string_equal(import_kind_name(IMPORT_ROTATIONS), "rotations");
    assert_int_equal(import_kind_from_filename("inspections-2023.csv"),
                     IMPORT_INSPECTIONS);
    assert_int_equal(import_kind_from_filename("rotations.csv"),
                     IMPORT_ROTATIONS);
    assert_int_equal(import_kind_from_filename("rotations.xlsx"),
                     IMPORT_ROTATIONS);
    assert_int_equal(import_kind_from_filename("luan-chuyen.csv"),
                     IMPORT_ROTATIONS);
    assert_int_equal(import_kind_from_filename("Kiểm tra 2024.csv"),
                     IMPORT_INSPECTIONS);
    assert_int_equal(import_kind_from_filename("rotations.txt"), -1);
}

static void test_inspections_become_events(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(
        import_text(f, IMPORT_INSPECTIONS, "inspections.csv",
                    INSPECTION_HEADER
                    "KT-01,UBKT,LB05-DU,2023-06-12,party,1,0,\"kiểm tra, "
                    "đảng viên\"\n"
                    "KTCV-DX-01,KTCV-2,LB01-UBND,2023-07-03,unannounced,0,0,\n",
                    &result),
        0);
    assert_int_equal(result.queued, 2);
    Wardsync__V1__Event *ev = event_at(f, 1);
    assert_int_equal(ev->body_case, WARDSYNC__V1__EVENT__BODY_INSPECTION);
    assert_string_equal(ev->inspection->inspection, "KT-01");
    assert_string_equal(ev->inspection->body, "UBKT");
    assert_string_equal(ev->inspection->unit, "LB05-DU");
    assert_string_equal(ev->inspection->held_on, "2023-06-12");
    assert_int_equal(ev->inspection->kind,
                     WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PARTY);
    assert_int_equal(ev->inspection->subjects, 1);
    assert_string_equal(ev->inspection->note, "kiểm tra, đảng viên");
    /* 2023-06-12 midnight UTC */
    assert_int_equal(ev->occurred_at_ms, 1686528000000LL);
    wardsync__v1__event__free_unpacked(ev, NULL);
    ev = event_at(f, 2);
    assert_int_equal(
        ev->inspection->kind,
        WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_UNANNOUNCED);
    wardsync__v1__event__free_unpacked(ev, NULL);
}

static void test_bad_rows_are_named(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(
        import_text(f, IMPORT_INSPECTIONS, "inspections-bad.csv",
                    INSPECTION_HEADER
                    "KT-01,UBKT,LB05-DU,2023-06-12,audit,1,0,\n"
                    "KT-02,UBKT,LB05-DU,2023-06-31,party,1,0,\n"
                    "KT-03,UBKT,LB05-DU,2023-06-30,party,10001,0,\n",
                    &result),
        IMPORT_REFUSED);
    assert_int_equal(result.queued, 0);
    assert_int_equal(result.bad_rows, 3);
    assert_non_null(strstr(f->report, "inspections-bad.csv:2:kind: unknown "
                                      "inspection kind \"audit\" (want "
                                      "party, planned or unannounced)"));
    assert_non_null(strstr(f->report, "inspections-bad.csv:3:held_on:"));
    assert_non_null(strstr(f->report, "inspections-bad.csv:4:subjects: 10001 "
                                      "is more than 10000"));
    assert_int_equal(import_text(f, IMPORT_ROTATIONS, "rotations-bad.csv",
                                 ROTATION_HEADER
                                 "C-1,chair,LB01,101,2023-05-01,rotated\n"
                                 "C-2,chair,LB01,9,2023-05-01,moved\n",
                                 &result),
                     IMPORT_REFUSED);
    assert_non_null(strstr(f->report, "rotations-bad.csv:2:years_in_post: 101 "
                                      "is more than 100"));
    assert_non_null(strstr(f->report, "rotations-bad.csv:3:kind: unknown "
                                      "rotation kind \"moved\""));
    struct outbox_counts c;
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.last_seq, 0);
}

/* A repeated row is a no-op: the same inspection code, the same cadre,
 * post, unit, kind and date, with the same content. */
static void test_repeated_rows_are_noops(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(import_text(f, IMPORT_ROTATIONS, "rotations-a.csv",
                                 ROTATION_HEADER
                                 "C-1,chair,LB01,9,2023-05-01,rotated\n"
                                 "C-1,chair,LB02,0,2023-05-01,appointed\n",
                                 &result),
                     0);
    assert_int_equal(result.queued, 2);
    Wardsync__V1__Event *ev = event_at(f, 2);
    assert_int_equal(ev->body_case, WARDSYNC__V1__EVENT__BODY_ROTATION);
    assert_string_equal(ev->rotation->cadre, "C-1");
    assert_string_equal(ev->rotation->unit, "LB02");
    assert_string_equal(ev->rotation->effective_on, "2023-05-01");
    assert_int_equal(ev->rotation->kind,
                     WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_APPOINTED);
    wardsync__v1__event__free_unpacked(ev, NULL);
    /* The rotation again, and a roster line of another cadre: only the
     * roster line is new. */
    assert_int_equal(import_text(f, IMPORT_ROTATIONS, "rotations-b.csv",
                                 ROTATION_HEADER
                                 "C-2,cadastral,LB03,8,2023-12-31,due\n"
                                 "C-1,chair,LB01,9,2023-05-01,rotated\n",
                                 &result),
                     0);
    assert_int_equal(result.queued, 1);
    assert_int_equal(result.repeated, 1);
    assert_non_null(
        strstr(result.note, "(same cadre, post, unit, kind and effective_on)"));

    assert_int_equal(import_text(f, IMPORT_INSPECTIONS, "inspections-a.csv",
                                 INSPECTION_HEADER
                                 "KT-01,UBKT,LB05-DU,2023-06-12,party,1,0,\n",
                                 &result),
                     0);
    assert_int_equal(result.queued, 1);
    assert_int_equal(import_text(f, IMPORT_INSPECTIONS, "inspections-b.csv",
                                 INSPECTION_HEADER
                                 "KT-02,UBKT,LB06-DU,2023-06-13,party,1,0,\n"
                                 "KT-01,UBKT,LB05-DU,2023-06-12,party,1,0,\n",
                                 &result),
                     0);
    assert_int_equal(result.queued, 1);
    assert_int_equal(result.repeated, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test_setup_teardown(test_inspections_become_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows_are_named, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_repeated_rows_are_noops, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("agent_import_work", tests, NULL, NULL);
}
