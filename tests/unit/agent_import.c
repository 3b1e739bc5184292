/*
 * agent_import.c - CSV import: all rows or nothing, errors named
 * FILE:LINE:COLUMN, ballots kept to the day and shuffled.
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

#define MS_PER_DAY 86400000LL

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
    strcpy(f->dir, "/tmp/agent_import.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/outbox.db", f->dir);
    assert_int_equal(outbox_open(path, "LB01", true, &f->outbox), 0);
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

static int run_import(struct fixture *f, enum import_kind kind,
                      const char *name, struct import_result *result)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", WS_AGENT_TESTDATA, name);
    free(f->report);
    f->report = NULL;
    FILE *report = open_memstream(&f->report, &f->report_len);
    assert_non_null(report);
    int rc = import_file(f->outbox, f->cat, kind, path, name, NULL, report,
                         IMPORT_MAX_REPORTED, result);
    fclose(report);
    return rc;
}

static void test_bad_ballots_queue_nothing(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    struct outbox_counts c;
    assert_int_equal(run_import(f, IMPORT_BALLOTS, "ballots-bad.csv", &result),
                     IMPORT_REFUSED);
    assert_int_equal(result.rows, 6);
    assert_int_equal(result.bad_rows, 5);
    assert_int_equal(result.queued, 0);
    /* Every bad row is named, with its column. */
    assert_non_null(strstr(f->report, "ballots-bad.csv:3:i07: "));
    assert_non_null(strstr(f->report, "ballots-bad.csv:4:respondent_group: "));
    assert_non_null(strstr(f->report, "ballots-bad.csv:5:i37: "));
    assert_non_null(strstr(f->report, "ballots-bad.csv:6:collected_on: "));
    assert_non_null(strstr(f->report, "ballots-bad.csv:7:form: "));
    assert_null(strstr(f->report, "ballots-bad.csv:2:"));
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.queued, 0);
    assert_int_equal(c.last_seq, 0);
}

static void test_bad_header_is_refused(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(
        run_import(f, IMPORT_RECEPTION, "reception-badheader.csv", &result),
        IMPORT_REFUSED);
    assert_non_null(strstr(f->report, "reception-badheader.csv:1:-: unknown "
                                      "column \"host\""));
    assert_non_null(strstr(f->report, ":1:citizens: repeated column"));
    assert_non_null(strstr(f->report, ":1:host_role: missing column"));
}

static void test_petitions_with_quotes_and_newlines(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(
        run_import(f, IMPORT_PETITIONS, "petitions-good.csv", &result), 0);
    assert_int_equal(result.queued, 3);
    assert_int_equal(result.first_seq, 1);
    assert_int_equal(result.last_seq, 3);
    assert_int_equal(
        run_import(f, IMPORT_PETITIONS, "petitions-bad.csv", &result),
        IMPORT_REFUSED);
    assert_non_null(strstr(f->report, "petitions-bad.csv:2:kind: "));
    assert_non_null(strstr(f->report, "petitions-bad.csv:2:in_jurisdiction: "));
    assert_non_null(strstr(f->report, "petitions-bad.csv:3:channel: "));
    assert_non_null(strstr(f->report, "petitions-bad.csv:4:"));
}

/* Ballots keep only their day, and the file is queued in one go. */
static void test_ballots_are_kept_to_the_day(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    struct outbox_row *rows = NULL;
    size_t n = 0;
    char err[128];
    assert_int_equal(run_import(f, IMPORT_BALLOTS, "ballots-good.csv", &result),
                     0);
    assert_int_equal(result.queued, 12);
    assert_int_equal(result.first_seq, 1);
    assert_int_equal(result.last_seq, 12);
    assert_int_equal(outbox_read(f->outbox, 1, 100, 1 << 24, &rows, &n), 0);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__Event *ev = NULL;
        assert_int_equal(ws_event_unpack(rows[i].payload, rows[i].payload_len,
                                         1 << 24, &ev, err, sizeof(err)),
                         0);
        assert_int_equal(ev->body_case, WARDSYNC__V1__EVENT__BODY_BALLOT);
        assert_int_equal(ev->seq, i + 1);
        assert_int_equal(ev->occurred_at_ms % MS_PER_DAY, 0);
        assert_int_equal(ev->queued_at_ms % MS_PER_DAY, 0);
        size_t want = strcmp(ev->ballot->form, "staff") == 0 ? 36 : 41;
        assert_int_equal(ev->ballot->n_levels, want);
        wardsync__v1__event__free_unpacked(ev, NULL);
    }
    outbox_rows_free(&rows, n);
}

/* Ballots are queued in a random order, each exactly once: 200 rows whose
 * subject numbers them come out of the outbox as a permutation that is
 * not the file's order (the chance that it is: 1 in 200!). */
static void test_ballots_are_shuffled(void **state)
{
    struct fixture *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/ballots-many.csv", f->dir);
    FILE *csv = fopen(path, "w");
    assert_non_null(csv);
    fputs("collected_on,survey,form,subject,respondent_group", csv);
    for (int i = 1; i <= 41; i++)
        fprintf(csv, ",i%02d", i);
    fputc('\n', csv);
    for (int r = 0; r < 200; r++) {
        fprintf(csv, "2023-10-01,2023-R1,leadership,S%03d,1", r);
        for (int i = 1; i <= 41; i++)
            fputs(",2", csv);
        fputc('\n', csv);
    }
    assert_int_equal(fclose(csv), 0);

    struct import_result result;
    FILE *report = fopen("/dev/null", "w");
    assert_non_null(report);
    assert_int_equal(import_file(f->outbox, f->cat, IMPORT_BALLOTS, path,
                                 "ballots-many.csv", NULL, report,
                                 IMPORT_MAX_REPORTED, &result),
                     0);
    fclose(report);
    assert_int_equal(result.queued, 200);
    assert_int_equal(result.first_seq, 1);
    assert_int_equal(result.last_seq, 200);

    struct outbox_row *rows = NULL;
    size_t n = 0;
    char err[128];
    bool seen[200] = {false};
    size_t in_file_order = 0;
    assert_int_equal(outbox_read(f->outbox, 1, 1000, 1 << 26, &rows, &n), 0);
    assert_int_equal(n, 200);
    for (size_t i = 0; i < n; i++) {
        Wardsync__V1__Event *ev = NULL;
        assert_int_equal(ws_event_unpack(rows[i].payload, rows[i].payload_len,
                                         1 << 24, &ev, err, sizeof(err)),
                         0);
        assert_int_equal(ev->seq, i + 1);
        int r = atoi(ev->ballot->subject + 1);
        assert_true(r >= 0 && r < 200);
        assert_false(seen[r]);
        seen[r] = true;
        if ((size_t)r == i)
            in_file_order++;
        wardsync__v1__event__free_unpacked(ev, NULL);
    }
    outbox_rows_free(&rows, n);
    assert_true(in_file_order < 200);
}

static void test_kind_from_filename(void **state)
{
    (void)state;
    assert_int_equal(import_kind_from_filename("ballots-2023.csv"),
                     IMPORT_BALLOTS);
    assert_int_equal(import_kind_from_filename("petitions.csv"),
                     IMPORT_PETITIONS);
    assert_int_equal(import_kind_from_filename("remediation_q4.csv"),
                     IMPORT_REMEDIATION);
    assert_int_equal(import_kind_from_filename("ballots.txt"), -1);
    assert_int_equal(import_kind_from_filename("notes.csv"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_ballots_queue_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_petitions_with_quotes_and_newlines,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ballots_are_kept_to_the_day, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ballots_are_shuffled, setup,
                                        teardown),
        cmocka_unit_test(test_kind_from_filename),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
