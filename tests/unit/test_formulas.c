/*
 * test_formulas.c - the indicator formulas (district-hub/formulas.c) on
 * small cases computed by hand, boundaries first: exactly at a threshold,
 * empty denominators, a petition resolved on its due date.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "formulas.h"
#include "wardsync/util.h"

static int32_t day(const char *text)
{
    int32_t d = 0;
    assert_int_equal(ws_date_parse(text, &d), 0);
    return d;
}

static void test_share_parse(void **state)
{
    (void)state;
    struct formulas_share s;
    assert_int_equal(formulas_share_parse("0.30", &s), 0);
    assert_true(s.num * 10 == s.den * 3);
    assert_int_equal(formulas_share_parse(".5", &s), 0);
    assert_true(s.num * 2 == s.den);
    assert_int_equal(formulas_share_parse("1", &s), 0);
    assert_true(s.num == s.den);
    assert_int_equal(formulas_share_parse("0", &s), -1);
    assert_int_equal(formulas_share_parse("1.01", &s), -1);
    assert_int_equal(formulas_share_parse("0.3x", &s), -1);
    assert_int_equal(formulas_share_parse("", &s), -1);
    assert_int_equal(formulas_share_parse("0.1234567", &s), -1);
    assert_int_equal(formulas_share_parse("-0.3", &s), -1);
}

static void test_item_exactly_at_thresholds(void **state)
{
    (void)state;
    struct formulas_flag_rule r = formulas_flag_rule_default();
    /* 3 of 10 at level 3: share 0.30, exactly the threshold: over. */
    assert_true(formulas_item_over(7, 0, 3, &r));
    /* 2 of 10 at level 3 and 2 at level 2: 0.20 and 0.40: not over. */
    assert_false(formulas_item_over(6, 2, 2, &r));
    /* 5 of 10 at level 2 or 3: 0.50 exactly: over. */
    assert_true(formulas_item_over(5, 4, 1, &r));
    /* 4 of 10 and 2 of 10: below both. */
    assert_false(formulas_item_over(6, 3, 1, &r));
    /* 3 of 11 at level 3: 0.2727 < 0.30. */
    assert_false(formulas_item_over(8, 0, 3, &r));
    /* 0.30 of 7 is 2.1: 2 is under, 3 is over. */
    assert_false(formulas_item_over(5, 0, 2, &r));
    assert_true(formulas_item_over(4, 0, 3, &r));
    /* Nobody rated the item: nothing to flag. */
    assert_false(formulas_item_over(0, 0, 0, &r));
}

static void test_subject_min_ballots(void **state)
{
    (void)state;
    struct formulas_flag_rule r = formulas_flag_rule_default();
    const int64_t items[2][3] = {{9, 0, 0}, {4, 0, 5}};
    /* 9 ballots: under min_ballots, never flagged whatever the items. */
    assert_false(formulas_subject_flagged(9, items, 2, &r));
    /* 10 ballots, exactly min_ballots, item 2 over: flagged. */
    const int64_t items10[2][3] = {{10, 0, 0}, {5, 0, 5}};
    assert_true(formulas_subject_flagged(10, items10, 2, &r));
    const int64_t clean[2][3] = {{10, 0, 0}, {8, 1, 1}};
    assert_false(formulas_subject_flagged(10, clean, 2, &r));
    assert_false(formulas_subject_flagged(10, clean, 0, &r));
    /* A stricter configuration flags what the default does not. */
    struct formulas_flag_rule strict = {5, {1, 10}, {2, 10}};
    assert_true(formulas_subject_flagged(10, clean, 2, &strict));
}

static void test_mean_and_ratio(void **state)
{
    (void)state;
    double v;
    assert_int_equal(formulas_mean_level(2, 1, 1, &v), 0);
    assert_float_equal(v, 7.0 / 4.0, 1e-12);
    assert_int_equal(formulas_mean_level(0, 0, 0, &v), -1);
    assert_int_equal(formulas_ratio(152, 204, &v), 0);
    assert_float_equal(v, 0.745098, 1e-6);
    assert_int_equal(formulas_ratio(537, 167, &v), 0);
    assert_float_equal(v, 3.2156, 1e-4);
    /* Empty denominator: no value, not zero, not infinity. */
    assert_int_equal(formulas_ratio(0, 0, &v), -1);
    assert_int_equal(formulas_ratio(5, 0, &v), -1);
}

static void test_percentile(void **state)
{
    (void)state;
    double v;
    const double a[] = {1, 2, 3, 4};
    assert_int_equal(formulas_percentile(a, 4, 0.5, &v), 0);
    assert_float_equal(v, 2.5, 1e-12);
    assert_int_equal(formulas_percentile(a, 4, 0.9, &v), 0);
    assert_float_equal(v, 3.7, 1e-12);
    const double one[] = {12};
    assert_int_equal(formulas_percentile(one, 1, 0.9, &v), 0);
    assert_float_equal(v, 12, 1e-12);
    assert_int_equal(formulas_percentile(a, 0, 0.5, &v), -1);
}

static void test_petition_deadlines(void **state)
{
    (void)state;
    const struct formulas_deadline_rule complaint = {10, 30, 15, 1};
    const struct formulas_deadline_rule denunciation = {10, 30, 30, 1};
    int32_t rec = day("2023-10-02"), acc = day("2023-10-05");
    assert_int_equal(formulas_accept_due(rec, &complaint), day("2023-10-12"));
    assert_int_equal(formulas_resolve_due(rec, acc, -1, &complaint),
                     day("2023-11-04"));
    /* Extended: the office's due date counts up to 15 more days. */
    assert_int_equal(
        formulas_resolve_due(rec, acc, day("2023-11-10"), &complaint),
        day("2023-11-10"));
    assert_int_equal(
        formulas_resolve_due(rec, acc, day("2023-12-31"), &complaint),
        day("2023-11-19"));
    assert_int_equal(
        formulas_resolve_due(rec, acc, day("2023-12-31"), &denunciation),
        day("2023-12-04"));
    /* An earlier office date does not shorten the legal one. */
    assert_int_equal(
        formulas_resolve_due(rec, acc, day("2023-10-20"), &complaint),
        day("2023-11-04"));

    /* Resolved on its due date: on time; one day later: late. */
    assert_int_equal(formulas_petition_state(false, true, rec, acc,
                                             day("2023-11-04"), -1,
                                             day("2024-01-01"), 5, &complaint),
                     PETITION_RESOLVED_ON_TIME);
    assert_int_equal(formulas_petition_state(false, true, rec, acc,
                                             day("2023-11-05"), -1,
                                             day("2024-01-01"), 5, &complaint),
                     PETITION_RESOLVED_LATE);
    /* Open: on the due day "due soon", the day after overdue. */
    assert_int_equal(formulas_petition_state(false, false, rec, acc, -1, -1,
                                             day("2023-11-04"), 5, &complaint),
                     PETITION_DUE_SOON);
    assert_int_equal(formulas_petition_state(false, false, rec, acc, -1, -1,
                                             day("2023-11-05"), 5, &complaint),
                     PETITION_OVERDUE);
    assert_int_equal(formulas_petition_state(false, false, rec, acc, -1, -1,
                                             day("2023-10-30"), 5, &complaint),
                     PETITION_DUE_SOON);
    assert_int_equal(formulas_petition_state(false, false, rec, acc, -1, -1,
                                             day("2023-10-29"), 5, &complaint),
                     PETITION_ON_TIME);
    /* Not accepted yet: held to the acceptance deadline. */
    assert_int_equal(formulas_petition_state(false, false, rec, -1, -1, -1,
                                             day("2023-10-13"), 5, &complaint),
                     PETITION_OVERDUE);
    assert_int_equal(formulas_petition_state(true, false, rec, -1, -1, -1,
                                             day("2024-10-13"), 5, &complaint),
                     PETITION_CLOSED);
}

static void test_backlog_and_weeks(void **state)
{
    (void)state;
    assert_int_equal(formulas_backlog_bucket(0), 0);
    assert_int_equal(formulas_backlog_bucket(15), 0);
    assert_int_equal(formulas_backlog_bucket(16), 1);
    assert_int_equal(formulas_backlog_bucket(30), 1);
    assert_int_equal(formulas_backlog_bucket(31), 2);
    assert_int_equal(formulas_backlog_bucket(45), 2);
    assert_int_equal(formulas_backlog_bucket(46), 3);
    /* 2023-10-01 is a Sunday, 2023-10-02 a Monday. */
    assert_int_equal(formulas_week(day("2023-10-01")) + 1,
                     formulas_week(day("2023-10-02")));
    assert_int_equal(formulas_week(day("2023-10-02")),
                     formulas_week(day("2023-10-08")));
    assert_int_equal(
        formulas_weeks_in_period(day("2023-10-01"), day("2023-12-31")), 14);
    assert_int_equal(
        formulas_weeks_in_period(day("2023-10-02"), day("2023-10-08")), 1);
    assert_int_equal(
        formulas_weeks_in_period(day("2023-10-08"), day("2023-10-02")), 0);
}

static void test_suppress(void **state)
{
    (void)state;
    bool out[4];
    /* Nothing small: nothing suppressed. */
    const int64_t big[] = {10, 12, 30, 11};
    assert_int_equal(formulas_suppress(big, 4, 10, false, true, out), 0);
    /* One small cell: the next smallest goes with it. */
    const int64_t one[] = {12, 9, 30, 11};
    assert_int_equal(formulas_suppress(one, 4, 10, false, true, out), 2);
    assert_true(out[1] && out[3] && !out[0] && !out[2]);
    /* Two small cells protect each other. */
    const int64_t two[] = {3, 9, 30, 11};
    assert_int_equal(formulas_suppress(two, 4, 10, false, true, out), 2);
    assert_true(out[0] && out[1] && !out[2] && !out[3]);
    /* Parent suppressed: all (groups, wards) or at least two (subjects). */
    assert_int_equal(formulas_suppress(big, 4, 10, true, true, out), 4);
    assert_int_equal(formulas_suppress(big, 4, 10, true, false, out), 2);
    assert_true(out[0] && out[3]);
    /* Zero counts as small; ties go to the lower index. */
    const int64_t ties[] = {20, 0, 20, 20};
    assert_int_equal(formulas_suppress(ties, 4, 10, false, true, out), 2);
    assert_true(out[0] && out[1]);
    /* A single child of a suppressed parent is suppressed. */
    const int64_t single[] = {50};
    assert_int_equal(formulas_suppress(single, 1, 10, true, false, out), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_parse),
        cmocka_unit_test(test_item_exactly_at_thresholds),
        cmocka_unit_test(test_subject_min_ballots),
        cmocka_unit_test(test_mean_and_ratio),
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_petition_deadlines),
        cmocka_unit_test(test_backlog_and_weeks),
        cmocka_unit_test(test_suppress),
    };
    return cmocka_run_group_tests_name("unit_formulas", tests, NULL, NULL);
}
