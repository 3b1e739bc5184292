/*
 * agent_import.c - CSV import: all rows or nothing, errors named
 * FILE:LINE:COLUMN, ballots kept to the day and shuffled; nothing queued
 * twice (fingerprints, grown files, natural keys), each event's line kept.
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

#include <fcntl.h>
#include <unistd.h>

#include "fingerprint.h"
#include "import.h"
#include "outbox.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/log.h"

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
    struct import_options options = {
        .label = name, .report = report, .max_reported = IMPORT_MAX_REPORTED};
    int rc = import_file(f->outbox, f->cat, kind, path, &options, result);
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
    struct import_options options = {.label = "ballots-many.csv",
                                     .report = report,
                                     .max_reported = IMPORT_MAX_REPORTED};
    assert_int_equal(
        import_file(f->outbox, f->cat, IMPORT_BALLOTS, path, &options, &result),
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

/* Writes text to dir/name and imports it as kind; the report is kept. */
static int import_text(struct fixture *f, enum import_kind kind,
                       const char *name, const char *text, bool again,
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
    struct import_options options = {.label = name,
                                     .report = report,
                                     .max_reported = IMPORT_MAX_REPORTED,
                                     .again = again};
    int rc = import_file(f->outbox, f->cat, kind, path, &options, result);
    fclose(report);
    return rc;
}

#define RECEPTION_HEADER "session,held_on,host_role,mode,citizens,petitions\n"
#define R1 "R-001,2023-09-04,chair,regular,5,2\n"
#define R2 "R-002,2023-09-11,vice_chair,ad_hoc,0,0\n"
#define R3 "R-003,2023-09-18,chair,regular,7,1\n"
#define R4 "R-004,2023-09-25,chair,regular,2,0\n"

static void test_identical_file_is_refused(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    struct outbox_counts c;
    assert_int_equal(import_text(f, IMPORT_RECEPTION, "reception.csv",
                                 RECEPTION_HEADER R1 R2, false, &result),
                     0);
    assert_int_equal(result.queued, 2);
    /* The same content, under another name, with CRLF line ends, quotes
     * and the columns in another order: the same normalised content. */
    assert_int_equal(
        import_text(f, IMPORT_RECEPTION, "copy.csv",
                    "\xef\xbb\xbfheld_on,session,host_role,mode,citizens,"
                    "petitions\r\n"
                    "2023-09-04,\"R-001\",chair,regular,5,2\r\n"
                    "2023-09-11,R-002,vice_chair,ad_hoc,0,0\r\n",
                    false, &result),
        IMPORT_REFUSED);
    assert_true(result.identical);
    assert_int_equal(result.earlier_import, 1);
    assert_non_null(strstr(f->report, "copy.csv: already imported: the same "
                                      "reception (2 rows) as import 1 "
                                      "(\"reception.csv\" of "));
    assert_non_null(strstr(f->report, "--again"));
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.queued, 2);
}

static void test_again_imports_identical_ballots(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(run_import(f, IMPORT_BALLOTS, "ballots-good.csv", &result),
                     0);
    assert_int_equal(run_import(f, IMPORT_BALLOTS, "ballots-good.csv", &result),
                     IMPORT_REFUSED);
    assert_true(result.identical);
    assert_int_equal(result.queued, 0);

    char path[512];
    snprintf(path, sizeof(path), "%s/ballots-good.csv", WS_AGENT_TESTDATA);
    FILE *report = fopen("/dev/null", "w");
    struct import_options options = {.label = "ballots-good.csv",
                                     .report = report,
                                     .max_reported = IMPORT_MAX_REPORTED,
                                     .again = true};
    assert_int_equal(
        import_file(f->outbox, f->cat, IMPORT_BALLOTS, path, &options, &result),
        0);
    fclose(report);
    assert_int_equal(result.queued, 12);
    assert_int_equal(result.first_seq, 13);
}

static char rejected_file[256];

static void copy_rejected(const struct outbox_rejected_event *ev, void *arg)
{
    struct outbox_rejected_event *out = arg;
    *out = *ev;
    snprintf(rejected_file, sizeof(rejected_file), "%s", ev->file);
    out->file = rejected_file;
    out->kind = "";
    out->reason = "";
}

/* A running sheet exported again: only the rows after the earlier import
 * are queued, and each event keeps the line it came from. */
static void test_grown_file_queues_only_new_rows(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(import_text(f, IMPORT_RECEPTION, "reception-sep.csv",
                                 RECEPTION_HEADER R1 R2, false, &result),
                     0);
    assert_int_equal(import_text(f, IMPORT_RECEPTION, "reception-oct.csv",
                                 RECEPTION_HEADER R1 R2 R3 R4, false, &result),
                     0);
    assert_int_equal(result.rows, 4);
    assert_int_equal(result.already_imported, 2);
    assert_int_equal(result.queued, 2);
    assert_int_equal(result.first_seq, 3);
    assert_int_equal(result.last_seq, 4);
    assert_non_null(strstr(result.note, "the first 2 rows are import 1 "
                                        "(\"reception-sep.csv\" of "));

    /* The hub rejects seq 4: status finds it on line 5 of the grown file. */
    struct outbox_refusal refusal = {4, "session: closed"};
    assert_int_equal(outbox_apply_ack(f->outbox, 4, &refusal, 1, 1), 0);
    struct outbox_rejected_event got = {0};
    assert_int_equal(outbox_list_rejected(f->outbox, 10, copy_rejected, &got),
                     0);
    assert_string_equal(got.file, "reception-oct.csv");
    assert_int_equal(got.seq, 4);
    assert_int_equal(got.line, 5);
    assert_int_equal(got.import_id, 2);

    /* A file that starts like it but differs in a row is all new. */
    assert_int_equal(import_text(f, IMPORT_RECEPTION, "reception-other.csv",
                                 RECEPTION_HEADER R1
                                 "R-002,2023-09-11,vice_chair,ad_hoc,1,0\n",
                                 false, &result),
                     0);
    /* R1 is a repeated natural key with the same content; R-002 with
     * other content is a correction and is queued. */
    assert_int_equal(result.already_imported, 0);
    assert_int_equal(result.repeated, 1);
    assert_int_equal(result.queued, 1);
}

/* Petitions by natural key: the same change in another file is a no-op,
 * within a file too. */
static void test_repeated_petition_rows_are_noops(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    static const char header[] = "petition,kind,channel,status,"
                                 "in_jurisdiction,received_on,due_on,"
                                 "changed_on,note\n";
    char text[1024];
    snprintf(text, sizeof(text),
             "%sP-1,complaint,post,received,yes,2023-09-01,,2023-09-01,\n"
             "P-1,complaint,post,accepted,yes,2023-09-01,,2023-09-05,\n",
             header);
    assert_int_equal(import_text(f, IMPORT_PETITIONS, "petitions-a.csv", text,
                                 false, &result),
                     0);
    assert_int_equal(result.queued, 2);
    snprintf(text, sizeof(text),
             "%sP-2,complaint,post,received,yes,2023-09-02,,2023-09-02,\n"
             "P-1,complaint,post,accepted,yes,2023-09-01,,2023-09-05,\n"
             "P-2,complaint,post,received,yes,2023-09-02,,2023-09-02,\n",
             header);
    assert_int_equal(import_text(f, IMPORT_PETITIONS, "petitions-b.csv", text,
                                 false, &result),
                     0);
    assert_int_equal(result.queued, 1);
    assert_int_equal(result.repeated, 2);
    assert_int_equal(result.first_seq, 3);
    assert_int_equal(result.last_seq, 3);
    assert_non_null(strstr(result.note, "2 rows were already queued"));
    struct outbox_counts c;
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.last_seq, 3);
}

/* The normalisation rules: field boundaries and row boundaries count,
 * the kind counts, the hash of a prefix is the peek of the running one. */
static void test_fingerprint_rules(void **state)
{
    (void)state;
    struct fingerprint a, b;
    uint8_t x[FINGERPRINT_LEN], y[FINGERPRINT_LEN];
    const char *f1[] = {"ab", "c"};
    const char *f2[] = {"a", "bc"};
    size_t l1[] = {2, 1}, l2[] = {1, 2};
    fingerprint_init(&a, "reception");
    fingerprint_init(&b, "reception");
    fingerprint_add_row(&a, f1, l1, 2);
    fingerprint_add_row(&b, f2, l2, 2);
    fingerprint_peek(&a, x);
    fingerprint_peek(&b, y);
    assert_memory_not_equal(x, y, FINGERPRINT_LEN);

    /* One row of four fields is not two rows of two. */
    const char *f4[] = {"ab", "c", "ab", "c"};
    size_t l4[] = {2, 1, 2, 1};
    fingerprint_init(&a, "reception");
    fingerprint_init(&b, "reception");
    fingerprint_add_row(&a, f1, l1, 2);
    fingerprint_add_row(&a, f1, l1, 2);
    fingerprint_add_row(&b, f4, l4, 4);
    fingerprint_peek(&a, x);
    fingerprint_peek(&b, y);
    assert_memory_not_equal(x, y, FINGERPRINT_LEN);

    /* Peeking does not disturb the running hash. */
    fingerprint_init(&a, "petitions");
    fingerprint_init(&b, "petitions");
    fingerprint_add_row(&a, f1, l1, 2);
    fingerprint_peek(&a, x);
    fingerprint_add_row(&a, f2, l2, 2);
    fingerprint_add_row(&b, f1, l1, 2);
    fingerprint_add_row(&b, f2, l2, 2);
    fingerprint_peek(&a, x);
    fingerprint_peek(&b, y);
    assert_memory_equal(x, y, FINGERPRINT_LEN);
    assert_int_equal(a.rows, 2);

    /* The kind is part of it. */
    fingerprint_init(&b, "ballots");
    fingerprint_add_row(&b, f1, l1, 2);
    fingerprint_add_row(&b, f2, l2, 2);
    fingerprint_peek(&b, y);
    assert_memory_not_equal(x, y, FINGERPRINT_LEN);

    /* It is SHA-256: the empty "" kind and no rows is SHA-256 of four
     * zero bytes. */
    char hex[FINGERPRINT_HEX_LEN + 1];
    fingerprint_init(&a, "");
    fingerprint_peek(&a, x);
    fingerprint_hex(x, hex);
    assert_string_equal(hex, "df3f619804a92fdb4057192dc43dd748"
                             "ea778adc52bc498ce80524c014b81119");
}

/* Long imports say how far they got in the log. */
static void test_progress_is_logged(void **state)
{
    struct fixture *f = *state;
    char path[256], log_path[256];
    snprintf(path, sizeof(path), "%s/reception-long.csv", f->dir);
    snprintf(log_path, sizeof(log_path), "%s/log.txt", f->dir);
    FILE *csv = fopen(path, "w");
    assert_non_null(csv);
    fputs(RECEPTION_HEADER, csv);
    for (int i = 0; i < 10; i++)
        fprintf(csv, "R-%03d,2023-09-04,chair,regular,5,2\n", i);
    assert_int_equal(fclose(csv), 0);

    ws_log_set_level(WS_LOG_INFO);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    struct import_result result;
    FILE *report = fopen("/dev/null", "w");
    struct import_options options = {.label = "reception-long.csv",
                                     .report = report,
                                     .max_reported = IMPORT_MAX_REPORTED,
                                     .log_every = 4};
    int rc = import_file(f->outbox, f->cat, IMPORT_RECEPTION, path, &options,
                         &result);
    fclose(report);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ws_log_set_level(WS_LOG_ERROR);
    assert_int_equal(rc, 0);

    char log[4096] = "";
    FILE *in = fopen(log_path, "r");
    assert_non_null(in);
    size_t len = fread(log, 1, sizeof(log) - 1, in);
    log[len] = '\0';
    fclose(in);
    assert_non_null(strstr(log, "import progress file=reception-long.csv "
                                "rows_checked=8 of=0"));
    assert_non_null(strstr(log, "import progress file=reception-long.csv "
                                "rows_queued=8 of=10"));
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
        cmocka_unit_test_setup_teardown(test_identical_file_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_again_imports_identical_ballots,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_grown_file_queues_only_new_rows,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_petition_rows_are_noops,
                                        setup, teardown),
        cmocka_unit_test(test_fingerprint_rules),
        cmocka_unit_test_setup_teardown(test_progress_is_logged, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
