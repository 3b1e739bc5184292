/*
 * test_principal.c - the principals the ZAP handler sets as User-Id
 * (district-hub/core/principal.c): what the hub trusts about a connection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/principal.h"

static void test_ward_and_city_parse(void **state)
{
    (void)state;
    struct principal p;
    assert_int_equal(principal_parse("ward:LB03", &p), 0);
    assert_int_equal(p.kind, PRINCIPAL_WARD);
    assert_string_equal(p.code, "LB03");
    assert_int_equal(principal_parse("city:HN", &p), 0);
    assert_int_equal(p.kind, PRINCIPAL_CITY);
    assert_string_equal(p.code, "HN");
}

/* Anything the handler would not have set is refused, whatever a peer
 * might try to make the hub believe. */
static void test_what_the_handler_never_sets_is_refused(void **state)
{
    (void)state;
    struct principal p;
    const char *bad[] = {
        NULL,          "",           "ward:",      "ward",
        "LB03",        "admin:LB03", "Ward:LB03",  "ward:LB 03",
        "ward:LB03\n", "city:H;N",   "ward::LB03", "ward:đơn"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(principal_parse(bad[i], &p), -EINVAL);
    char longest[80];
    memset(longest, 'A', sizeof longest);
    memcpy(longest, "ward:", 5);
    longest[5 + 64] = '\0';
    assert_int_equal(principal_parse(longest, &p), 0);
    longest[5 + 64] = 'A';
    longest[5 + 65] = '\0';
    assert_int_equal(principal_parse(longest, &p), -EINVAL);
}

static void test_format_round_trips(void **state)
{
    (void)state;
    char text[PRINCIPAL_TEXT_MAX];
    struct principal p;
    principal_format(PRINCIPAL_WARD, "LB14", text, sizeof text);
    assert_string_equal(text, "ward:LB14");
    assert_int_equal(principal_parse(text, &p), 0);
    assert_string_equal(p.code, "LB14");
    principal_format(PRINCIPAL_CITY, "HN", text, sizeof text);
    assert_string_equal(text, "city:HN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ward_and_city_parse),
        cmocka_unit_test(test_what_the_handler_never_sets_is_refused),
        cmocka_unit_test(test_format_round_trips),
    };
    return cmocka_run_group_tests_name("unit_principal", tests, NULL, NULL);
}
