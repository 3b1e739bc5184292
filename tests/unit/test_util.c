/*
 * test_util.c - calendar dates, UTF-8, UUIDs, clocks, ws_strlcpy.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wardsync/util.h"

static void test_date_known_values(void **state)
{
    static const struct {
        const char *text;
        int32_t days;
    } cases[] = {
        {"1970-01-01", 0},      {"1970-01-02", 1},     {"1969-12-31", -1},
        {"2000-01-01", 10957},  {"2000-02-29", 11016}, {"2000-03-01", 11017},
        {"2023-08-07", 19576},  {"2024-02-29", 19782}, {"1900-01-01", -25567},
        {"2999-12-31", 376199},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t days = 12345;
        char out[11];

        assert_int_equal(ws_date_parse(cases[i].text, &days), 0);
        assert_int_equal(days, cases[i].days);
        ws_date_format(days, out);
        assert_string_equal(out, cases[i].text);
    }
    assert_int_equal(ws_date_to_ms(0), 0);
    assert_int_equal(ws_date_to_ms(19576), INT64_C(1691366400000));
    assert_int_equal(ws_date_to_ms(-1), INT64_C(-86400000));
}

static void test_date_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "2023",
        "2023-02-29",
        "1900-02-29",
        "2100-02-29",
        "2000-02-30",
        "2023-04-31",
        "2023-06-31",
        "2023-13-01",
        "2023-00-10",
        "2023-01-00",
        "2023-01-32",
        "1899-12-31",
        "3000-01-01",
        "0000-01-01",
        "2023-1-01",
        "2023-01-1",
        "2023/01/01",
        "2023-01-01 ",
        " 2023-01-01",
        "2023-01-011",
        "20230101",
        "abcd-ef-gh",
        "+023-01-01",
        "2023-+1-01",
        "2023-01-0a",
        "2023-01-01T00:00:00",
        "２０２３-01-01",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int32_t days = 777;

        if (ws_date_parse(bad[i], &days) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(days, 777); /* untouched on failure */
    }
    assert_int_equal(ws_date_parse(NULL, NULL), -EINVAL);
    assert_int_equal(ws_date_parse("2023-01-01", NULL), 0);
}

/* Every day of 1900..2999: format(parse) is the identity and consecutive
 * days have consecutive numbers. */
static void test_date_every_day(void **state)
{
    int32_t first, last, days;
    char text[11];
    int leap_days = 0;

    (void)state;
    assert_int_equal(ws_date_parse("1900-01-01", &first), 0);
    assert_int_equal(ws_date_parse("2999-12-31", &last), 0);
    for (int32_t d = first; d <= last; d++) {
        ws_date_format(d, text);
        assert_int_equal(ws_date_parse(text, &days), 0);
        assert_int_equal(days, d);
        if (strcmp(text + 4, "-02-29") == 0)
            leap_days++;
    }
    /* 1100 years: 275 multiples of 4, minus 11 centuries, plus 2000, 2400,
     * 2800. */
    assert_int_equal(leap_days, 275 - 11 + 3);
    assert_int_equal(last - first + 1, 1100 * 365 + leap_days);
}

static void test_date_format_out_of_range(void **state)
{
    char out[11];

    (void)state;
    ws_date_format(INT32_MAX, out);
    assert_string_equal(out, "0000-00-00");
    ws_date_format(INT32_MIN, out);
    assert_string_equal(out, "0000-00-00");
    ws_date_format(2932896, out); /* 9999-12-31 */
    assert_string_equal(out, "9999-12-31");
}

static void test_utf8(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
        bool valid;
    } cases[] = {
        {"", 0, true},
        {"plain ascii", 11, true},
        {"Tiếng Việt: Ủy ban nhân dân", 35, true},
        {"\xc2\x80", 2, true},         /* U+0080 */
        {"\xdf\xbf", 2, true},         /* U+07FF */
        {"\xe0\xa0\x80", 3, true},     /* U+0800 */
        {"\xef\xbf\xbd", 3, true},     /* U+FFFD */
        {"\xf0\x9f\x98\x80", 4, true}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true}, /* U+10FFFF */
        {"\xed\x9f\xbf", 3, true},     /* U+D7FF, last before surrogates */
        {"\xee\x80\x80", 3, true},     /* U+E000, first after */
        {"a\0b", 3, false},            /* NUL */
        {"\x80", 1, false},            /* lone continuation */
        {"\xbf", 1, false},
        {"\xc0\x80", 2, false},         /* overlong NUL */
        {"\xc0\xaf", 2, false},         /* overlong '/' */
        {"\xc1\xbf", 2, false},         /* overlong */
        {"\xe0\x80\x80", 3, false},     /* overlong */
        {"\xe0\x9f\xbf", 3, false},     /* overlong U+07FF */
        {"\xf0\x80\x80\x80", 4, false}, /* overlong */
        {"\xf0\x8f\xbf\xbf", 4, false}, /* overlong U+FFFF */
        {"\xed\xa0\x80", 3, false},     /* U+D800 surrogate */
        {"\xed\xbf\xbf", 3, false},     /* U+DFFF surrogate */
        {"\xf4\x90\x80\x80", 4, false}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, false},
        {"\xf8\x88\x80\x80\x80", 5, false},
        {"\xfe", 1, false},
        {"\xff", 1, false},
        {"\xe1\x80", 2, false},     /* truncated */
        {"\xf0\x9f\x98", 3, false}, /* truncated */
        {"\xc3", 1, false},
        {"\xc3\x28", 2, false}, /* bad continuation */
        {"\xe2\x28\xa1", 3, false},
        {"Vi\xe1\xbb\x87t\xff", 7, false}, /* good then bad */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (ws_utf8_valid(cases[i].bytes, cases[i].len) != cases[i].valid)
            fail_msg("case %zu: want %s", i,
                     cases[i].valid ? "valid" : "invalid");
    }
    /* n bounds the check: a bad byte past n is not looked at. */
    assert_true(ws_utf8_valid("ok\xff", 2));
    assert_false(ws_utf8_valid("ok\xff", 3));
    /* A multi-byte sequence cut by n is invalid. */
    assert_false(ws_utf8_valid("\xc3\xa9", 1));
    assert_true(ws_utf8_valid(NULL, 0));
}

static void test_uuid4(void **state)
{
    char seen[64][WS_UUID_LEN + 1];

    (void)state;
    for (int i = 0; i < 64; i++) {
        char *u = seen[i];

        assert_int_equal(ws_uuid4(u), 0);
        assert_int_equal(strlen(u), WS_UUID_LEN);
        assert_true(ws_uuid_valid(u));
        assert_int_equal(u[14], '4');
        assert_non_null(strchr("89ab", u[19]));
        for (const char *p = u; *p; p++)
            assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                        *p == '-');
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], u);
    }
}

static void test_uuid_valid(void **state)
{
    (void)state;
    assert_true(ws_uuid_valid("0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51"));
    assert_true(ws_uuid_valid("0B6F3C1E-8A2D-4C55-9E1F-2A7D9C3B4E51"));
    assert_true(ws_uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_true(ws_uuid_valid("0b6f3c1e-8a2d-1c55-9e1f-2a7d9c3b4e51"));
    assert_false(ws_uuid_valid(NULL));
    assert_false(ws_uuid_valid(""));
    assert_false(ws_uuid_valid("0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e5"));
    assert_false(ws_uuid_valid("0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e512"));
    assert_false(ws_uuid_valid("0b6f3c1e8a2d-4c55-9e1f-2a7d9c3b4e51a"));
    assert_false(ws_uuid_valid("0b6f3c1e-8a2d-4c55-9e1f_2a7d9c3b4e51"));
    assert_false(ws_uuid_valid("0b6f3c1g-8a2d-4c55-9e1f-2a7d9c3b4e51"));
    assert_false(ws_uuid_valid("{0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51}"));
    assert_false(ws_uuid_valid(" 0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51"));
}

static void test_clocks(void **state)
{
    int64_t before = ws_monotonic_ms();
    int64_t now = ws_now_ms();

    (void)state;
    assert_true(now > INT64_C(1577836800000)); /* after 2020-01-01 */
    assert_true(ws_monotonic_ms() >= before);
}

static void test_strlcpy(void **state)
{
    char buf[6];

    (void)state;
    assert_int_equal(ws_strlcpy(buf, "ward", sizeof(buf)), 4);
    assert_string_equal(buf, "ward");
    assert_int_equal(ws_strlcpy(buf, "LB01-S017", sizeof(buf)), 9);
    assert_string_equal(buf, "LB01-");
    assert_int_equal(ws_strlcpy(buf, "", sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(ws_strlcpy(buf, "x", 1), 1);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_known_values),
        cmocka_unit_test(test_date_invalid),
        cmocka_unit_test(test_date_every_day),
        cmocka_unit_test(test_date_format_out_of_range),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_uuid4),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_strlcpy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
