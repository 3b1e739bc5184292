/*
 * test_names.c - text names of the wire enums, both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wardsync/names.h"

struct enum_names {
    const char *(*name)(int);
    int (*parse)(const char *);
    int count;                /* highest value */
    const char *const *names; /* names[value], from 1 */
};

static const char *const kinds[] = {NULL, "complaint", "denunciation",
                                    "recommendation", "reflection"};
static const char *const channels[] = {NULL, "in_person", "post", "online",
                                       "transferred_in"};
static const char *const statuses[] = {NULL,          "received",    "accepted",
                                       "transferred", "in_progress", "resolved",
                                       "withdrawn"};
static const char *const roles[] = {NULL, "chair", "vice_chair", "officer"};
static const char *const modes[] = {NULL, "regular", "ad_hoc"};
static const char *const remediation[] = {NULL, "required", "submitted",
                                          "completed"};
static const char *const inspection_kinds[] = {NULL, "party", "planned",
                                               "unannounced"};
static const char *const rotation_kinds[] = {NULL, "appointed", "rotated",
                                             "due"};

static const struct enum_names enums[] = {
    {ws_petition_kind_name, ws_petition_kind_parse, 4, kinds},
    {ws_petition_channel_name, ws_petition_channel_parse, 4, channels},
    {ws_petition_status_name, ws_petition_status_parse, 6, statuses},
    {ws_host_role_name, ws_host_role_parse, 3, roles},
    {ws_reception_mode_name, ws_reception_mode_parse, 2, modes},
    {ws_remediation_status_name, ws_remediation_status_parse, 3, remediation},
    {ws_inspection_kind_name, ws_inspection_kind_parse, 3, inspection_kinds},
    {ws_rotation_kind_name, ws_rotation_kind_parse, 3, rotation_kinds},
};

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t e = 0; e < sizeof(enums) / sizeof(enums[0]); e++) {
        const struct enum_names *en = &enums[e];

        for (int v = 1; v <= en->count; v++) {
            assert_string_equal(en->name(v), en->names[v]);
            assert_int_equal(en->parse(en->name(v)), v);
        }
        assert_null(en->name(0));
        assert_null(en->name(-1));
        assert_null(en->name(en->count + 1));
        assert_null(en->name(1000000));
        assert_int_equal(en->parse("unspecified"), -1);
        assert_int_equal(en->parse(""), -1);
        assert_int_equal(en->parse(NULL), -1);
        assert_int_equal(en->parse("0"), -1);
        assert_int_equal(en->parse("1"), -1);
    }
}

static void test_enum_values_match_proto(void **state)
{
    (void)state;
    assert_string_equal(
        ws_petition_kind_name(
            WARDSYNC__V1__PETITION_KIND__PETITION_KIND_DENUNCIATION),
        "denunciation");
    assert_int_equal(
        ws_petition_channel_parse("transferred_in"),
        WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_TRANSFERRED_IN);
    assert_int_equal(
        ws_petition_status_parse("in_progress"),
        WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_IN_PROGRESS);
    assert_int_equal(ws_host_role_parse("vice_chair"),
                     WARDSYNC__V1__HOST_ROLE__HOST_ROLE_VICE_CHAIR);
    assert_int_equal(ws_reception_mode_parse("ad_hoc"),
                     WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_AD_HOC);
    assert_int_equal(
        ws_remediation_status_parse("completed"),
        WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_COMPLETED);
}

static void test_parse_lenient_case_and_blanks(void **state)
{
    (void)state;
    assert_int_equal(ws_petition_kind_parse("Complaint"), 1);
    assert_int_equal(ws_petition_kind_parse("  REFLECTION\t"), 4);
    assert_int_equal(ws_petition_status_parse(" In_Progress "), 4);
    /* Only blanks around the name; nothing else is forgiven. */
    assert_int_equal(ws_petition_status_parse("in progress"), -1);
    assert_int_equal(ws_petition_status_parse("in-progress"), -1);
    assert_int_equal(ws_petition_kind_parse("complaints"), -1);
    assert_int_equal(ws_petition_kind_parse("complain"), -1);
    assert_int_equal(ws_petition_kind_parse("khiếu nạii"), -1);
    assert_int_equal(ws_host_role_parse("chair,"), -1);
}

/* The Vietnamese names of docs/contracts.md, precomposed (NFC, as Excel
 * on Windows writes) or decomposed (NFD, macOS), in any case. */
static void test_parse_vietnamese(void **state)
{
    (void)state;
    assert_int_equal(ws_petition_kind_parse("khiếu nại"),
                     WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT);
    assert_int_equal(ws_petition_kind_parse("Tố cáo"),
                     WARDSYNC__V1__PETITION_KIND__PETITION_KIND_DENUNCIATION);
    assert_int_equal(ws_petition_kind_parse("KIẾN NGHỊ"),
                     WARDSYNC__V1__PETITION_KIND__PETITION_KIND_RECOMMENDATION);
    /* "kiến nghị" decomposed: e + U+0302 + U+0301, i + U+0323. */
    assert_int_equal(
        ws_petition_kind_parse("ki\x65\xcc\x82\xcc\x81n ngh\x69\xcc\xa3"),
        WARDSYNC__V1__PETITION_KIND__PETITION_KIND_RECOMMENDATION);
    assert_int_equal(ws_petition_kind_parse("  phản   ánh "),
                     WARDSYNC__V1__PETITION_KIND__PETITION_KIND_REFLECTION);
    assert_int_equal(
        ws_petition_channel_parse("trực tiếp"),
        WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON);
    assert_int_equal(ws_petition_channel_parse("Qua bưu điện"),
                     WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST);
    assert_int_equal(
        ws_petition_status_parse("Đang giải quyết"),
        WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_IN_PROGRESS);
    assert_int_equal(ws_petition_status_parse("đã giải quyết"),
                     WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RESOLVED);
    assert_int_equal(ws_host_role_parse("Phó Chủ tịch"),
                     WARDSYNC__V1__HOST_ROLE__HOST_ROLE_VICE_CHAIR);
    assert_int_equal(ws_reception_mode_parse("đột xuất"),
                     WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_AD_HOC);
    assert_int_equal(
        ws_remediation_status_parse("Đã hoàn thành"),
        WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_COMPLETED);
    /* Diacritics are part of the word: "khieu nai" is not accepted. */
    assert_int_equal(ws_petition_kind_parse("khieu nai"), -1);
    /* The name shown to clerks is the first Vietnamese name. */
    assert_string_equal(ws_petition_kind_name_vi(1), "khiếu nại");
    assert_string_equal(ws_petition_channel_name_vi(2), "qua bưu điện");
    assert_null(ws_petition_kind_name_vi(0));
    assert_null(ws_petition_kind_name_vi(5));
    /* Every Vietnamese name parses back to its value. */
    for (int v = 1; v <= 6; v++)
        assert_int_equal(
            ws_petition_status_parse(ws_petition_status_name_vi(v)), v);
}

static void test_bool(void **state)
{
    (void)state;
    assert_int_equal(ws_bool_parse("yes"), 1);
    assert_int_equal(ws_bool_parse("YES"), 1);
    assert_int_equal(ws_bool_parse("true"), 1);
    assert_int_equal(ws_bool_parse("True"), 1);
    assert_int_equal(ws_bool_parse("1"), 1);
    assert_int_equal(ws_bool_parse(" yes "), 1);
    assert_int_equal(ws_bool_parse("no"), 0);
    assert_int_equal(ws_bool_parse("No"), 0);
    assert_int_equal(ws_bool_parse("false"), 0);
    assert_int_equal(ws_bool_parse("FALSE"), 0);
    assert_int_equal(ws_bool_parse("0"), 0);
    assert_int_equal(ws_bool_parse(""), -1);
    assert_int_equal(ws_bool_parse("y"), -1);
    assert_int_equal(ws_bool_parse("2"), -1);
    assert_int_equal(ws_bool_parse("có"), 1);
    assert_int_equal(ws_bool_parse("CÓ"), 1);
    assert_int_equal(ws_bool_parse("co\xcc\x81"), 1); /* NFD */
    assert_int_equal(ws_bool_parse("không"), 0);
    assert_int_equal(ws_bool_parse("Không"), 0);
    assert_int_equal(ws_bool_parse("co"), -1);
    assert_int_equal(ws_bool_parse("\xff"), -1); /* not UTF-8 */
    assert_int_equal(ws_bool_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_enum_values_match_proto),
        cmocka_unit_test(test_parse_lenient_case_and_blanks),
        cmocka_unit_test(test_parse_vietnamese),
        cmocka_unit_test(test_bool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
