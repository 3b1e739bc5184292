/*
 * agent_reference.c - the reference data at the ward (ward-agent/
 * reference.c): a ballot checked against it, the data kept in the outbox
 * ("unchanged" moves only its checked time), and an import that refuses
 * rows by it with FILE:LINE:COLUMN, or says it had none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <unistd.h>

#include "import.h"
#include "outbox.h"
#include "reference.h"
#include "wardsync/catalogue.h"
#include "wardsync/util.h"

#define VERSION_A "aaaa"
#define VERSION_B "bbbb"

/* LB01's reference: R-OPEN (open, March 2024) with LB01-S01 on form
 * staff, R-DRAFT (draft) and R-SHUT (closed). */
struct sample {
    Wardsync__V1__Reference ref;
    Wardsync__V1__ReferenceRound round[3];
    Wardsync__V1__ReferenceRound *rounds[3];
    Wardsync__V1__ReferenceSubject subject;
    Wardsync__V1__ReferenceSubject *subjects[1];
};

static void sample_init(struct sample *s)
{
    static const char *const codes[] = {"R-OPEN", "R-DRAFT", "R-SHUT"};
    static const Wardsync__V1__ReferenceRound__State states[] = {
        WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_OPEN,
        WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_DRAFT,
        WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_CLOSED,
    };
    wardsync__v1__reference__init(&s->ref);
    for (int i = 0; i < 3; i++) {
        wardsync__v1__reference_round__init(&s->round[i]);
        s->round[i].code = (char *)codes[i];
        s->round[i].opens_on = "2024-03-01";
        s->round[i].closes_on = "2024-03-31";
        s->round[i].state = states[i];
        s->rounds[i] = &s->round[i];
    }
    wardsync__v1__reference_subject__init(&s->subject);
    s->subject.round = "R-OPEN";
    s->subject.subject = "LB01-S01";
    s->subject.category = "staff";
    s->subject.form = "staff";
    s->subjects[0] = &s->subject;
    s->ref.version = VERSION_A;
    s->ref.ward = "LB01";
    s->ref.rounds = s->rounds;
    s->ref.n_rounds = 3;
    s->ref.subjects = s->subjects;
    s->ref.n_subjects = 1;
}

static int32_t day(const char *text)
{
    int32_t d = 0;
    assert_int_equal(ws_date_parse(text, &d), 0);
    return d;
}

static enum reference_column check(const struct sample *s, const char *survey,
                                   const char *subject, const char *form,
                                   const char *on, char *reason)
{
    return reference_check_ballot(&s->ref, "LB01", survey, subject, form,
                                  on ? day(on) : 0, on != NULL, reason, 512);
}

static void test_check_ballot(void **state)
{
    (void)state;
    struct sample s;
    char reason[512];
    sample_init(&s);

    assert_int_equal(
        check(&s, "R-OPEN", "LB01-S01", "staff", "2024-03-05", reason),
        REFERENCE_OK);
    assert_int_equal(
        check(&s, "R-OTHER", "LB01-S01", "staff", "2024-03-05", reason),
        REFERENCE_SURVEY);
    assert_non_null(strstr(reason, "round R-OTHER does not cover ward LB01"));
    assert_int_equal(
        check(&s, "R-DRAFT", "LB01-S01", "staff", "2024-03-05", reason),
        REFERENCE_SURVEY);
    assert_string_equal(reason, "round R-DRAFT is not open yet");
    assert_int_equal(
        check(&s, "R-SHUT", "LB01-S01", "staff", "2024-03-05", reason),
        REFERENCE_SURVEY);
    assert_string_equal(reason, "round R-SHUT is closed");
    assert_int_equal(
        check(&s, "R-OPEN", "LB02-S01", "staff", "2024-03-05", reason),
        REFERENCE_SUBJECT);
    assert_string_equal(reason,
                        "LB02-S01 is not a subject of ward LB01 in round "
                        "R-OPEN");
    assert_int_equal(
        check(&s, "R-OPEN", "LB01-S01", "leadership", "2024-03-05", reason),
        REFERENCE_FORM);
    assert_string_equal(reason, "subject LB01-S01 is rated on form staff, not "
                                "leadership");
    assert_int_equal(
        check(&s, "R-OPEN", "LB01-S01", "staff", "2024-04-01", reason),
        REFERENCE_COLLECTED_ON);
    assert_string_equal(reason, "2024-04-01 is outside round R-OPEN "
                                "(2024-03-01 to 2024-03-31)");
    assert_int_equal(
        check(&s, "R-OPEN", "LB01-S01", "staff", "2024-02-29", reason),
        REFERENCE_COLLECTED_ON);
    /* A date that did not parse is the date column's own error. */
    assert_int_equal(check(&s, "R-OPEN", "LB01-S01", "staff", NULL, reason),
                     REFERENCE_OK);
}

struct fixture {
    char dir[64];
    struct outbox *outbox;
    struct ws_catalogue *cat;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128], err[256];
    assert_non_null(f);
    strcpy(f->dir, "/tmp/agent_reference.XXXXXX");
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
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_keep_and_load(void **state)
{
    struct fixture *f = *state;
    struct sample s;
    struct reference held;
    sample_init(&s);

    assert_int_equal(reference_load(f->outbox, &held), 0);
    assert_null(held.ref);
    assert_false(held.info.present);

    /* "unchanged" for a version not held keeps nothing. */
    Wardsync__V1__Reference same = WARDSYNC__V1__REFERENCE__INIT;
    same.version = VERSION_A;
    same.ward = "LB01";
    same.unchanged = true;
    assert_int_equal(reference_keep(f->outbox, "LB01", &same, 1000), -EINVAL);
    /* Data for another ward is not kept either. */
    s.ref.ward = "LB02";
    assert_int_equal(reference_keep(f->outbox, "LB01", &s.ref, 1000), -EINVAL);
    s.ref.ward = "LB01";
    assert_int_equal(reference_load(f->outbox, &held), 0);
    assert_false(held.info.present);

    assert_int_equal(reference_keep(f->outbox, "LB01", &s.ref, 1000), 0);
    assert_int_equal(reference_load(f->outbox, &held), 0);
    assert_non_null(held.ref);
    assert_string_equal(held.info.version, VERSION_A);
    assert_int_equal(held.info.received_at_ms, 1000);
    assert_int_equal(held.info.checked_at_ms, 1000);
    assert_int_equal(held.ref->n_rounds, 3);
    assert_string_equal(held.ref->subjects[0]->subject, "LB01-S01");
    reference_clear(&held);

    /* "unchanged" moves only the checked time. */
    assert_int_equal(reference_keep(f->outbox, "LB01", &same, 5000), 0);
    assert_int_equal(reference_load(f->outbox, &held), 0);
    assert_int_equal(held.info.received_at_ms, 1000);
    assert_int_equal(held.info.checked_at_ms, 5000);
    assert_int_equal(held.ref->n_rounds, 3);
    reference_clear(&held);

    /* A new version replaces the data. */
    s.ref.version = VERSION_B;
    s.ref.n_rounds = 1;
    assert_int_equal(reference_keep(f->outbox, "LB01", &s.ref, 9000), 0);
    assert_int_equal(reference_load(f->outbox, &held), 0);
    assert_string_equal(held.info.version, VERSION_B);
    assert_int_equal(held.info.received_at_ms, 9000);
    assert_int_equal(held.ref->n_rounds, 1);
    reference_clear(&held);
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

/* A ballots file of the rows given ("survey,subject,collected_on" each). */
static void write_ballots(const char *path, const char *const *rows)
{
    char text[8192];
    size_t used =
        (size_t)snprintf(text, sizeof(text),
                         "survey,form,subject,respondent_group,collected_on");
    for (int i = 1; i <= 41; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, ",i%02d", i);
    used += (size_t)snprintf(text + used, sizeof(text) - used, "\n");
    for (size_t r = 0; rows[r]; r += 3) {
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "%s,staff,%s,1,%s", rows[r], rows[r + 1],
                                 rows[r + 2]);
        for (int i = 1; i <= 41; i++)
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s",
                                     i > 36 ? "," : ",2");
        used += (size_t)snprintf(text + used, sizeof(text) - used, "\n");
    }
    write_text(path, text);
}

static int import(struct fixture *f, const char *path, char **report,
                  struct import_result *result)
{
    size_t len = 0;
    FILE *out = open_memstream(report, &len);
    assert_non_null(out);
    struct import_options options = {
        .label = "ballots.csv", .report = out, .max_reported = 100};
    int rc =
        import_file(f->outbox, f->cat, IMPORT_BALLOTS, path, &options, result);
    fclose(out);
    return rc;
}

static void test_import_checks_against_reference(void **state)
{
    struct fixture *f = *state;
    struct sample s;
    struct import_result result;
    char path[128], *report = NULL;
    snprintf(path, sizeof(path), "%s/ballots.csv", f->dir);
    static const char *const rows[] = {
        "R-OPEN", "LB01-S01", "2024-03-05", /* line 2: good */
        "R-OPEN", "LB02-S01", "2024-03-05", /* line 3: LB02's subject */
        "R-SHUT", "LB01-S01", "2024-03-05", /* line 4: closed round */
        NULL};
    write_ballots(path, rows);

    /* Without reference data the shared rules alone decide, and the
     * result says so. */
    assert_int_equal(import(f, path, &report, &result), 0);
    assert_true(result.no_reference);
    assert_int_equal(result.queued, 3);
    free(report);
    report = NULL;

    sample_init(&s);
    assert_int_equal(reference_keep(f->outbox, "LB01", &s.ref, 1000), 0);
    write_ballots(path, rows);
    assert_int_equal(import(f, path, &report, &result), IMPORT_REFUSED);
    assert_false(result.no_reference);
    assert_int_equal(result.bad_rows, 2);
    assert_int_equal(result.queued, 0);
    assert_non_null(strstr(report, "ballots.csv:3:subject: LB02-S01 is not a "
                                   "subject of ward LB01 in round R-OPEN\n"));
    assert_non_null(
        strstr(report, "ballots.csv:4:survey: round R-SHUT is closed\n"));
    assert_null(strstr(report, "ballots.csv:2:"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_ballot),
        cmocka_unit_test_setup_teardown(test_keep_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_checks_against_reference,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
