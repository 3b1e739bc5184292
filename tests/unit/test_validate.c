/*
 * test_validate.c - the shared rules: every event type, each way it can be
 * wrong, table-driven. Each case starts from a valid sample (samples.h),
 * breaks one thing and names the field the reason must start with.
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
#include "wardsync/catalogue.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

static struct ws_catalogue *catalogue;

static int load_catalogue(void **state)
{
    char err[256];

    (void)state;
    if (ws_catalogue_load(WS_TEST_CATALOGUE, &catalogue, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int free_catalogue(void **state)
{
    (void)state;
    ws_catalogue_destroy(&catalogue);
    return 0;
}

enum kind { BALLOT, PETITION, RECEPTION, REMEDIATION, INSPECTION, ROTATION };

struct bad_case {
    const char *name;
    enum kind kind;
    void (*breaks)(struct sample *s);
    const char *reason; /* the reason must start with this */
};

static void make(struct sample *s, enum kind kind)
{
    switch (kind) {
    case BALLOT:
        sample_ballot(s, 1);
        break;
    case PETITION:
        sample_petition(s, 1);
        break;
    case RECEPTION:
        sample_reception(s, 1);
        break;
    case REMEDIATION:
        sample_remediation(s, 1);
        break;
    case INSPECTION:
        sample_inspection(s, 1);
        break;
    case ROTATION:
        sample_rotation(s, 1);
        break;
    }
}

/* Envelope. */
static void id_empty(struct sample *s)
{
    s->event.event_id = "";
}
static void id_null(struct sample *s)
{
    s->event.event_id = NULL;
}
static void id_not_uuid(struct sample *s)
{
    s->event.event_id = "event-42";
}
static void id_short(struct sample *s)
{
    s->event.event_id = "0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e5";
}
static void id_bad_utf8(struct sample *s)
{
    s->event.event_id = "\xff\xfe";
}
static void seq_zero(struct sample *s)
{
    s->event.seq = 0;
}
static void occurred_negative(struct sample *s)
{
    s->event.occurred_at_ms = -1;
}
static void queued_negative(struct sample *s)
{
    s->event.queued_at_ms = INT64_MIN;
}
static void seq_past_bigint(struct sample *s)
{
    s->event.seq = (uint64_t)INT64_MAX + 1;
}
/* Bug 1 of issue #12: 2^62 passed here and PostgreSQL refused it. */
static void occurred_2_62(struct sample *s)
{
    s->event.occurred_at_ms = (int64_t)1 << 62;
}
static void occurred_year_10000(struct sample *s)
{
    s->event.occurred_at_ms = WS_TIME_MAX_MS + 1;
}
static void queued_2_62(struct sample *s)
{
    s->event.queued_at_ms = (int64_t)1 << 62;
}
static void queued_int64_max(struct sample *s)
{
    s->event.queued_at_ms = INT64_MAX;
}
static void body_unset(struct sample *s)
{
    s->event.body_case = WARDSYNC__V1__EVENT__BODY__NOT_SET;
}
static void body_null(struct sample *s)
{
    s->event.ballot = NULL;
}

/* Ballot. */
static void survey_empty(struct sample *s)
{
    s->ballot.survey = "";
}
static void survey_null(struct sample *s)
{
    s->ballot.survey = NULL;
}
static void survey_space(struct sample *s)
{
    s->ballot.survey = "2023 R1";
}
static void survey_long(struct sample *s)
{
    s->ballot.survey =
        "R12345678901234567890123456789012345678901234567890123456789012345";
}
static void survey_bad_utf8(struct sample *s)
{
    s->ballot.survey = "R\xc0\xaf";
}
static void subject_empty(struct sample *s)
{
    s->ballot.subject = "";
}
static void subject_vietnamese(struct sample *s)
{
    s->ballot.subject = "Nguyễn";
}
static void subject_quote(struct sample *s)
{
    s->ballot.subject = "x'; DROP TABLE ballots; --";
}
static void form_empty(struct sample *s)
{
    s->ballot.form = "";
}
static void form_unknown(struct sample *s)
{
    s->ballot.form = "director";
}
static void form_case(struct sample *s)
{
    s->ballot.form = "Leadership";
}
static void levels_too_few(struct sample *s)
{
    s->ballot.n_levels = 40;
}
static void levels_none(struct sample *s)
{
    s->ballot.n_levels = 0;
    s->ballot.levels = NULL;
}
static void levels_staff_41(struct sample *s)
{
    s->ballot.form = "staff";
}
static void levels_too_many(struct sample *s)
{
    s->levels[41] = 1;
    s->ballot.n_levels = 42;
}
static void level_4_item_7(struct sample *s)
{
    s->levels[6] = 4;
}
static void level_0_item_1(struct sample *s)
{
    s->levels[0] = 0;
}
static void level_huge_item_41(struct sample *s)
{
    s->levels[40] = UINT32_MAX;
}
static void group_0(struct sample *s)
{
    s->ballot.respondent_group = 0;
}
static void group_5(struct sample *s)
{
    s->ballot.respondent_group = 5;
}

/* Petition. */
static void petition_empty(struct sample *s)
{
    s->petition.petition = "";
}
static void petition_bad_char(struct sample *s)
{
    s->petition.petition = "LB01 0042";
}
static void kind_unspecified(struct sample *s)
{
    s->petition.kind = 0;
}
static void kind_unknown(struct sample *s)
{
    s->petition.kind = (Wardsync__V1__PetitionKind)9;
}
static void channel_unspecified(struct sample *s)
{
    s->petition.channel = 0;
}
static void channel_unknown(struct sample *s)
{
    s->petition.channel = (Wardsync__V1__PetitionChannel)5;
}
static void status_unspecified(struct sample *s)
{
    s->petition.status = 0;
}
static void status_unknown(struct sample *s)
{
    s->petition.status = (Wardsync__V1__PetitionStatus)7;
}
static void status_negative(struct sample *s)
{
    s->petition.status = (Wardsync__V1__PetitionStatus)-1;
}
static void received_empty(struct sample *s)
{
    s->petition.received_on = "";
}
static void received_feb30(struct sample *s)
{
    s->petition.received_on = "2023-02-30";
}
static void received_short(struct sample *s)
{
    s->petition.received_on = "2023-8-1";
}
static void received_old(struct sample *s)
{
    s->petition.received_on = "1899-12-31";
}
static void received_bad_utf8(struct sample *s)
{
    s->petition.received_on = "2023-08-0\xff";
}
static void due_bad(struct sample *s)
{
    s->petition.due_on = "2023-13-01";
}
static void due_before_received(struct sample *s)
{
    s->petition.due_on = "2023-07-31";
}
static void note_too_long(struct sample *s)
{
    memset(s->note, 'a', WS_NOTE_MAX + 1);
    s->note[WS_NOTE_MAX + 1] = '\0';
}
static void note_overlong(struct sample *s)
{
    strcpy(s->note, "a\xc0\xaf");
}
static void note_surrogate(struct sample *s)
{
    strcpy(s->note, "x\xed\xa0\x80y");
}
static void note_truncated(struct sample *s)
{
    strcpy(s->note, "Vi\xe1\xbb");
}

/* Reception. */
static void session_empty(struct sample *s)
{
    s->reception.session = "";
}
static void session_long(struct sample *s)
{
    static char long_code[WS_FIELD_MAX + 2];

    memset(long_code, 'S', WS_FIELD_MAX + 1);
    s->reception.session = long_code;
}
static void held_bad(struct sample *s)
{
    s->reception.held_on = "03/08/2023";
}
static void held_empty(struct sample *s)
{
    s->reception.held_on = "";
}
static void host_unspecified(struct sample *s)
{
    s->reception.host_role = 0;
}
static void host_unknown(struct sample *s)
{
    s->reception.host_role = (Wardsync__V1__HostRole)4;
}
static void mode_unspecified(struct sample *s)
{
    s->reception.mode = 0;
}
static void mode_unknown(struct sample *s)
{
    s->reception.mode = (Wardsync__V1__ReceptionMode)3;
}
static void citizens_too_many(struct sample *s)
{
    s->reception.citizens = WS_COUNT_MAX + 1;
}
static void petitions_too_many(struct sample *s)
{
    s->reception.petitions = UINT32_MAX;
}

/* Remediation. */
static void rem_survey_empty(struct sample *s)
{
    s->remediation.survey = "";
}
static void rem_subject_bad(struct sample *s)
{
    s->remediation.subject = "S\n17";
}
static void rem_status_unspecified(struct sample *s)
{
    s->remediation.status = 0;
}
static void rem_status_unknown(struct sample *s)
{
    s->remediation.status = (Wardsync__V1__RemediationStatus)4;
}
static void rem_due_empty(struct sample *s)
{
    s->remediation.due_on = "";
}
static void rem_due_null(struct sample *s)
{
    s->remediation.due_on = NULL;
}
static void rem_due_bad(struct sample *s)
{
    s->remediation.due_on = "2023-11-31";
}

/* Inspection. */
static void insp_code_empty(struct sample *s)
{
    s->inspection.inspection = "";
}
static void insp_body_null(struct sample *s)
{
    s->inspection.body = NULL;
}
static void insp_unit_bad(struct sample *s)
{
    s->inspection.unit = "LB01 UBND";
}
static void insp_held_bad(struct sample *s)
{
    s->inspection.held_on = "2023-02-29";
}
static void insp_kind_unspecified(struct sample *s)
{
    s->inspection.kind = 0;
}
static void insp_kind_unknown(struct sample *s)
{
    s->inspection.kind = 4;
}
static void insp_subjects_too_many(struct sample *s)
{
    s->inspection.subjects = WS_COUNT_MAX + 1;
}
static void insp_violations_too_many(struct sample *s)
{
    s->inspection.violations = UINT32_MAX;
}
static void insp_note_long(struct sample *s)
{
    memset(s->note, 'a', WS_NOTE_MAX + 1);
    s->note[WS_NOTE_MAX + 1] = '\0';
    s->inspection.note = s->note;
}
static void insp_note_bad_utf8(struct sample *s)
{
    s->inspection.note = "ki\xe1\xbb";
}
static void insp_body_case_null(struct sample *s)
{
    s->event.inspection = NULL;
}

/* Rotation. */
static void rot_cadre_empty(struct sample *s)
{
    s->rotation.cadre = "";
}
static void rot_cadre_long(struct sample *s)
{
    s->rotation.cadre = "C123456789012345678901234567890123456789012345678901"
                        "2345678901234"; /* 65 bytes */
}
static void rot_post_null(struct sample *s)
{
    s->rotation.post = NULL;
}
static void rot_unit_utf8(struct sample *s)
{
    s->rotation.unit = "Ph\xc6\xb0\xe1\xbb\x9dng";
}
static void rot_years_too_many(struct sample *s)
{
    s->rotation.years_in_post = WS_YEARS_MAX + 1;
}
static void rot_date_empty(struct sample *s)
{
    s->rotation.effective_on = "";
}
static void rot_date_bad(struct sample *s)
{
    s->rotation.effective_on = "3000-01-01";
}
static void rot_kind_unspecified(struct sample *s)
{
    s->rotation.kind = 0;
}
static void rot_kind_unknown(struct sample *s)
{
    s->rotation.kind = 7;
}

static const struct bad_case bad_cases[] = {
    {"event_id empty", PETITION, id_empty, "event_id: "},
    {"event_id NULL", PETITION, id_null, "event_id: "},
    {"event_id not a uuid", RECEPTION, id_not_uuid, "event_id: "},
    {"event_id short", BALLOT, id_short, "event_id: "},
    {"event_id bad utf-8", BALLOT, id_bad_utf8, "event_id: not valid UTF-8"},
    {"seq 0", BALLOT, seq_zero, "seq: "},
    {"occurred_at negative", PETITION, occurred_negative, "occurred_at_ms: "},
    {"queued_at negative", REMEDIATION, queued_negative, "queued_at_ms: "},
    {"seq past bigint", BALLOT, seq_past_bigint,
     "seq: 9223372036854775808 is more than 9223372036854775807"},
    {"occurred_at 2^62", PETITION, occurred_2_62,
     "occurred_at_ms: 4611686018427387904 is after 9999-12-31"},
    {"occurred_at year 10000", BALLOT, occurred_year_10000,
     "occurred_at_ms: 253402300800000 is after 9999-12-31"},
    {"queued_at 2^62", RECEPTION, queued_2_62,
     "queued_at_ms: 4611686018427387904 is after 9999-12-31"},
    {"queued_at int64 max", REMEDIATION, queued_int64_max,
     "queued_at_ms: 9223372036854775807 is after"},
    {"body not set", RECEPTION, body_unset, "body: "},
    {"body case without body", BALLOT, body_null, "ballot: missing"},

    {"survey empty", BALLOT, survey_empty, "survey: empty"},
    {"survey NULL", BALLOT, survey_null, "survey: empty"},
    {"survey with space", BALLOT, survey_space, "survey: character 5"},
    {"survey too long", BALLOT, survey_long, "survey: longer than 64"},
    {"survey bad utf-8", BALLOT, survey_bad_utf8, "survey: character 2"},
    {"subject empty", BALLOT, subject_empty, "subject: empty"},
    {"subject vietnamese", BALLOT, subject_vietnamese, "subject: character"},
    {"subject injection", BALLOT, subject_quote, "subject: character 2"},
    {"form empty", BALLOT, form_empty, "form: empty"},
    {"form unknown", BALLOT, form_unknown, "form: unknown form \"director\""},
    {"form wrong case", BALLOT, form_case, "form: unknown form"},
    {"levels too few", BALLOT, levels_too_few,
     "levels: 40 answers, form leadership has 41 items"},
    {"levels none", BALLOT, levels_none,
     "levels: 0 answers, form leadership has 41 items"},
    {"staff with 41 levels", BALLOT, levels_staff_41,
     "levels: 41 answers, form staff has 36 items"},
    {"levels too many", BALLOT, levels_too_many, "levels: 42 answers"},
    {"level 4", BALLOT, level_4_item_7,
     "levels[7]: item 7 has level 4, want 1..3"},
    {"level 0", BALLOT, level_0_item_1,
     "levels[1]: item 1 has level 0, want 1..3"},
    {"level huge", BALLOT, level_huge_item_41,
     "levels[41]: item 41 has level 4294967295, want 1..3"},
    {"respondent group 0", BALLOT, group_0,
     "respondent_group: 0 is not one of 1..4"},
    {"respondent group 5", BALLOT, group_5,
     "respondent_group: 5 is not one of 1..4"},

    {"petition empty", PETITION, petition_empty, "petition: empty"},
    {"petition bad char", PETITION, petition_bad_char, "petition: character"},
    {"kind unspecified", PETITION, kind_unspecified, "kind: 0 is not"},
    {"kind unknown", PETITION, kind_unknown, "kind: 9 is not"},
    {"channel unspecified", PETITION, channel_unspecified, "channel: 0"},
    {"channel unknown", PETITION, channel_unknown, "channel: 5"},
    {"status unspecified", PETITION, status_unspecified, "status: 0"},
    {"status unknown", PETITION, status_unknown, "status: 7"},
    {"status negative", PETITION, status_negative, "status: -1"},
    {"received_on empty", PETITION, received_empty, "received_on: empty"},
    {"received_on feb 30", PETITION, received_feb30,
     "received_on: \"2023-02-30\" is not a date"},
    {"received_on short", PETITION, received_short, "received_on: "},
    {"received_on 1899", PETITION, received_old, "received_on: "},
    {"received_on bad utf-8", PETITION, received_bad_utf8,
     "received_on: not valid UTF-8"},
    {"due_on invalid", PETITION, due_bad, "due_on: \"2023-13-01\""},
    {"due_on before received_on", PETITION, due_before_received,
     "due_on: 2023-07-31 is before received_on 2023-08-01"},
    {"note too long", PETITION, note_too_long, "note: longer than 2000"},
    {"note overlong utf-8", PETITION, note_overlong, "note: not valid UTF-8"},
    {"note surrogate", PETITION, note_surrogate, "note: not valid UTF-8"},
    {"note truncated utf-8", PETITION, note_truncated, "note: not valid UTF-8"},

    {"session empty", RECEPTION, session_empty, "session: empty"},
    {"session too long", RECEPTION, session_long, "session: longer than"},
    {"held_on wrong format", RECEPTION, held_bad, "held_on: \"03/08/2023\""},
    {"held_on empty", RECEPTION, held_empty, "held_on: empty"},
    {"host_role unspecified", RECEPTION, host_unspecified, "host_role: 0"},
    {"host_role unknown", RECEPTION, host_unknown, "host_role: 4"},
    {"mode unspecified", RECEPTION, mode_unspecified, "mode: 0"},
    {"mode unknown", RECEPTION, mode_unknown, "mode: 3"},
    {"citizens too many", RECEPTION, citizens_too_many,
     "citizens: 10001 is more than 10000"},
    {"petitions too many", RECEPTION, petitions_too_many,
     "petitions: 4294967295 is more than 10000"},

    {"remediation survey empty", REMEDIATION, rem_survey_empty,
     "survey: empty"},
    {"remediation subject newline", REMEDIATION, rem_subject_bad,
     "subject: character 2"},
    {"remediation status unspecified", REMEDIATION, rem_status_unspecified,
     "status: 0"},
    {"remediation status unknown", REMEDIATION, rem_status_unknown,
     "status: 4"},
    {"remediation due_on empty", REMEDIATION, rem_due_empty, "due_on: empty"},
    {"remediation due_on NULL", REMEDIATION, rem_due_null, "due_on: empty"},
    {"remediation due_on nov 31", REMEDIATION, rem_due_bad,
     "due_on: \"2023-11-31\""},

    {"inspection code empty", INSPECTION, insp_code_empty, "inspection: empty"},
    {"inspection body NULL", INSPECTION, insp_body_null, "body: empty"},
    {"inspection unit with a blank", INSPECTION, insp_unit_bad,
     "unit: character 5"},
    {"inspection held_on feb 29 2023", INSPECTION, insp_held_bad,
     "held_on: \"2023-02-29\""},
    {"inspection kind unspecified", INSPECTION, insp_kind_unspecified,
     "kind: 0 is not a known inspection kind"},
    {"inspection kind unknown", INSPECTION, insp_kind_unknown, "kind: 4"},
    {"inspection subjects too many", INSPECTION, insp_subjects_too_many,
     "subjects: 10001 is more than 10000"},
    {"inspection violations too many", INSPECTION, insp_violations_too_many,
     "violations: 4294967295 is more than 10000"},
    {"inspection note too long", INSPECTION, insp_note_long,
     "note: longer than 2000"},
    {"inspection note truncated utf-8", INSPECTION, insp_note_bad_utf8,
     "note: not valid UTF-8"},
    {"inspection body missing", INSPECTION, insp_body_case_null,
     "inspection: missing"},

    {"rotation cadre empty", ROTATION, rot_cadre_empty, "cadre: empty"},
    {"rotation cadre 65 bytes", ROTATION, rot_cadre_long,
     "cadre: longer than 64"},
    {"rotation post NULL", ROTATION, rot_post_null, "post: empty"},
    {"rotation unit not a code", ROTATION, rot_unit_utf8, "unit: character 3"},
    {"rotation years too many", ROTATION, rot_years_too_many,
     "years_in_post: 101 is more than 100"},
    {"rotation date empty", ROTATION, rot_date_empty, "effective_on: empty"},
    {"rotation date year 3000", ROTATION, rot_date_bad,
     "effective_on: \"3000-01-01\""},
    {"rotation kind unspecified", ROTATION, rot_kind_unspecified,
     "kind: 0 is not a known rotation kind"},
    {"rotation kind unknown", ROTATION, rot_kind_unknown, "kind: 7"},
};

static void test_valid_samples(void **state)
{
    char reason[256] = "";

    (void)state;
    for (int kind = BALLOT; kind <= ROTATION; kind++) {
        struct sample s;

        make(&s, (enum kind)kind);
        if (ws_validate_event(&s.event, catalogue, reason, sizeof(reason)) != 0)
            fail_msg("sample %d rejected: %s", kind, reason);
    }
}

static void test_each_way_wrong(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct sample s;
        char reason[256] = "";
        int rc;

        make(&s, c->kind);
        c->breaks(&s);
        rc = ws_validate_event(&s.event, catalogue, reason, sizeof(reason));
        if (rc != -EINVAL)
            fail_msg("%s: accepted (rc %d)", c->name, rc);
        if (strncmp(reason, c->reason, strlen(c->reason)) != 0)
            fail_msg("%s: reason \"%s\", want \"%s...\"", c->name, reason,
                     c->reason);
        /* House style: lower-case start, no final period. */
        assert_true(reason[strlen(reason) - 1] != '.');
    }
}

/* Valid edge values: the boundaries are inclusive. */
static void test_valid_edges(void **state)
{
    struct sample s;
    char reason[256] = "";

    (void)state;
    sample_petition(&s, 1);
    s.petition.due_on = "";
    assert_int_equal(ws_validate_petition(&s.petition, reason, sizeof(reason)),
                     0);
    s.petition.due_on = NULL;
    s.petition.note = NULL;
    assert_int_equal(ws_validate_petition(&s.petition, reason, sizeof(reason)),
                     0);
    s.petition.due_on = s.petition.received_on; /* same day */
    assert_int_equal(ws_validate_petition(&s.petition, reason, sizeof(reason)),
                     0);
    /* Exactly WS_NOTE_MAX bytes of Vietnamese (3-byte "ệ" and a pad). */
    {
        size_t pos = 0;

        while (pos + 3 <= WS_NOTE_MAX) {
            memcpy(s.note + pos, "\xe1\xbb\x87", 3);
            pos += 3;
        }
        while (pos < WS_NOTE_MAX)
            s.note[pos++] = 'a';
        s.note[pos] = '\0';
        s.petition.note = s.note;
        assert_int_equal(
            ws_validate_petition(&s.petition, reason, sizeof(reason)), 0);
    }

    sample_reception(&s, 1);
    s.reception.citizens = WS_COUNT_MAX;
    s.reception.petitions = 0;
    assert_int_equal(
        ws_validate_reception(&s.reception, reason, sizeof(reason)), 0);

    /* The largest seq PostgreSQL's bigint holds. */
    sample_ballot(&s, (uint64_t)INT64_MAX);
    s.event.occurred_at_ms = 0;
    s.event.queued_at_ms = 0;
    s.ballot.respondent_group = 4;
    for (size_t i = 0; i < 41; i++)
        s.levels[i] = 3;
    s.ballot.survey = "R1234567890123456789012345678901234567890123456789012"
                      "34567890123"; /* exactly 64 bytes */
    assert_int_equal(strlen(s.ballot.survey), WS_FIELD_MAX);
    assert_int_equal(
        ws_validate_event(&s.event, catalogue, reason, sizeof(reason)), 0);
    /* The last millisecond of 9999-12-31 is a time. */
    s.event.occurred_at_ms = WS_TIME_MAX_MS;
    s.event.queued_at_ms = WS_TIME_MAX_MS;
    assert_int_equal(
        ws_validate_event(&s.event, catalogue, reason, sizeof(reason)), 0);

    /* The staff form takes 36 answers. */
    s.ballot.form = "staff";
    s.ballot.n_levels = 36;
    assert_int_equal(
        ws_validate_ballot(&s.ballot, catalogue, reason, sizeof(reason)), 0);
}

/* Inspections and rotations at their inclusive bounds. */
static void test_valid_edges_inspection_rotation(void **state)
{
    struct sample s;
    char reason[256] = "";

    (void)state;
    sample_inspection(&s, 1);
    s.inspection.subjects = WS_COUNT_MAX;
    s.inspection.violations = WS_COUNT_MAX;
    s.inspection.note = NULL;
    assert_int_equal(
        ws_validate_inspection(&s.inspection, reason, sizeof(reason)), 0);
    s.inspection.kind = WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PARTY;
    s.inspection.subjects = 0;
    assert_int_equal(
        ws_validate_event(&s.event, catalogue, reason, sizeof(reason)), 0);

    sample_rotation(&s, 1);
    s.rotation.years_in_post = WS_YEARS_MAX;
    assert_int_equal(ws_validate_rotation(&s.rotation, reason, sizeof(reason)),
                     0);
    s.rotation.years_in_post = 0;
    s.rotation.kind = WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_DUE;
    s.rotation.effective_on = "2999-12-31";
    assert_int_equal(
        ws_validate_event(&s.event, catalogue, reason, sizeof(reason)), 0);
}

static void test_ballot_without_catalogue(void **state)
{
    struct sample s;
    char reason[256];

    (void)state;
    sample_ballot(&s, 1);
    assert_int_equal(
        ws_validate_ballot(&s.ballot, NULL, reason, sizeof(reason)), -EINVAL);
    assert_non_null(strstr(reason, "catalogue"));
}

/* Strings that arrive over the wire are not checked by protobuf-c: a note
 * with invalid UTF-8 decodes fine and is caught here. */
static void test_invalid_utf8_after_decode(void **state)
{
    struct sample s;
    uint8_t *buf;
    size_t len;
    Wardsync__V1__Event *event;
    char err[256], reason[256];

    (void)state;
    sample_petition(&s, 3);
    strcpy(s.note, "ghi ch\xc3\x28");
    assert_int_equal(ws_pack(&s.event.base, &buf, &len), 0);
    assert_int_equal(ws_event_unpack(buf, len, len, &event, err, sizeof(err)),
                     0);
    assert_int_equal(
        ws_validate_event(event, catalogue, reason, sizeof(reason)), -EINVAL);
    assert_string_equal(reason, "note: not valid UTF-8");
    wardsync__v1__event__free_unpacked(event, NULL);
    free(buf);
}

static void test_validate_code(void **state)
{
    char reason[128];

    (void)state;
    assert_int_equal(ws_validate_code("ward", "LB01", reason, sizeof(reason)),
                     0);
    assert_int_equal(
        ws_validate_code("x", "a.b_c/d-e09AZ", reason, sizeof(reason)), 0);
    assert_int_equal(ws_validate_code("ward", "", reason, sizeof(reason)),
                     -EINVAL);
    assert_string_equal(reason, "ward: empty");
    assert_int_equal(ws_validate_code("ward", NULL, reason, sizeof(reason)),
                     -EINVAL);
    assert_int_equal(ws_validate_code("ward", "LB 1", reason, sizeof(reason)),
                     -EINVAL);
    assert_string_equal(reason,
                        "ward: character 3 is not one of A-Z a-z 0-9 . _ / -");
    /* A tiny reason buffer is cut, never overrun. */
    assert_int_equal(ws_validate_code("ward", "", reason, 4), -EINVAL);
    assert_string_equal(reason, "war");
    /* No reason buffer at all is allowed. */
    assert_int_equal(ws_validate_code("ward", "", NULL, 0), -EINVAL);
}

/* A Withdrawal (docs/DESIGN.md §4): ids that are UUIDs, each once, 1 to
 * WS_WITHDRAWAL_MAX_IDS of them; a reason that is short UTF-8 text. */
static void expect_withdrawal(const Wardsync__V1__Withdrawal *w,
                              const char *want)
{
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    char reason[256] = "";

    event.seq = 3;
    event.event_id = "9a1d7c3e-0b2f-4e6a-8d5c-3f1e2a4b6c70";
    event.occurred_at_ms = 1691366400000;
    event.queued_at_ms = 1691366400000;
    event.body_case = WARDSYNC__V1__EVENT__BODY_WITHDRAWAL;
    event.withdrawal = (Wardsync__V1__Withdrawal *)w;
    int rc = ws_validate_event(&event, catalogue, reason, sizeof reason);
    if (!want) {
        if (rc != 0)
            fail_msg("valid withdrawal rejected: %s", reason);
        return;
    }
    if (rc != -EINVAL)
        fail_msg("withdrawal accepted, want \"%s...\"", want);
    if (strncmp(reason, want, strlen(want)) != 0)
        fail_msg("reason \"%s\", want \"%s...\"", reason, want);
}

static void test_withdrawal(void **state)
{
    static char ids_text[WS_WITHDRAWAL_MAX_IDS + 1][WS_UUID_LEN + 1];
    static char *ids[WS_WITHDRAWAL_MAX_IDS + 1];
    static char long_reason[WS_NOTE_MAX + 2];
    Wardsync__V1__Withdrawal w = WARDSYNC__V1__WITHDRAWAL__INIT;

    (void)state;
    for (size_t i = 0; i <= WS_WITHDRAWAL_MAX_IDS; i++) {
        snprintf(ids_text[i], sizeof ids_text[i],
                 "0b6f3c1e-8a2d-4c55-9e1f-%012zx", i);
        ids[i] = ids_text[i];
    }
    w.event_ids = ids;
    w.n_event_ids = 1;
    w.reason = "";
    expect_withdrawal(&w, NULL);
    w.reason = NULL;
    expect_withdrawal(&w, NULL);
    w.n_event_ids = WS_WITHDRAWAL_MAX_IDS; /* the bound is inclusive */
    w.reason = "tệp của phường khác";
    expect_withdrawal(&w, NULL);

    w.n_event_ids = WS_WITHDRAWAL_MAX_IDS + 1;
    expect_withdrawal(&w, "event_ids: 1001 ids, at most 1000 in one");
    w.n_event_ids = 0;
    expect_withdrawal(&w, "event_ids: empty, want 1..1000");
    w.event_ids = NULL;
    expect_withdrawal(&w, "event_ids: empty");
    w.event_ids = ids;

    w.n_event_ids = 3;
    ids[2] = "event-42";
    expect_withdrawal(&w, "event_ids: id 3, \"event-42\", is not a UUID");
    ids[2] = "\xff\xfe";
    expect_withdrawal(&w, "event_ids: id 3 is not valid UTF-8");
    ids[2] = "";
    expect_withdrawal(&w, "event_ids: id 3, \"\", is not a UUID");
    /* The same id twice, also in another case. */
    ids[2] = "0B6F3C1E-8A2D-4C55-9E1F-000000000001";
    expect_withdrawal(&w, "event_ids: id 3, 0B6F3C1E-8A2D-4C55-9E1F-"
                          "000000000001, repeats id 2");
    ids[2] = ids_text[2];
    expect_withdrawal(&w, NULL);

    memset(long_reason, 'a', WS_NOTE_MAX + 1);
    w.reason = long_reason;
    expect_withdrawal(&w, "reason: longer than 2000 bytes");
    long_reason[WS_NOTE_MAX] = '\0';
    expect_withdrawal(&w, NULL);
    w.reason = "sai \xc3";
    expect_withdrawal(&w, "reason: not valid UTF-8");

    assert_int_equal(ws_validate_withdrawal(NULL, NULL, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_samples),
        cmocka_unit_test(test_each_way_wrong),
        cmocka_unit_test(test_valid_edges),
        cmocka_unit_test(test_valid_edges_inspection_rotation),
        cmocka_unit_test(test_ballot_without_catalogue),
        cmocka_unit_test(test_invalid_utf8_after_decode),
        cmocka_unit_test(test_validate_code),
        cmocka_unit_test(test_withdrawal),
    };

    return cmocka_run_group_tests(tests, load_catalogue, free_catalogue);
}
