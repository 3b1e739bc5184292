/*
 * test_reference.c - the version of a ward's reference data
 * (district-hub/core/reference.c): the same content has the same version,
 * any change of it another one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/reference.h"

/* A small reference: one round, two subjects, one deadline rule. */
struct sample {
    Wardsync__V1__Reference ref;
    Wardsync__V1__ReferenceRound round;
    Wardsync__V1__ReferenceRound *rounds[1];
    Wardsync__V1__ReferenceSubject subject[2];
    Wardsync__V1__ReferenceSubject *subjects[2];
    Wardsync__V1__ReferenceDeadlineRule rule;
    Wardsync__V1__ReferenceDeadlineRule *rules[1];
};

static void sample_init(struct sample *s)
{
    wardsync__v1__reference__init(&s->ref);
    wardsync__v1__reference_round__init(&s->round);
    s->round.code = "R1";
    s->round.label = "Đợt 1";
    s->round.opens_on = "2024-03-01";
    s->round.closes_on = "2024-03-31";
    s->round.state = WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_OPEN;
    s->rounds[0] = &s->round;
    for (int i = 0; i < 2; i++) {
        wardsync__v1__reference_subject__init(&s->subject[i]);
        s->subject[i].round = "R1";
        s->subject[i].subject = i ? "LB01-S02" : "LB01-S01";
        s->subject[i].category = "staff";
        s->subject[i].form = "staff";
        s->subjects[i] = &s->subject[i];
    }
    wardsync__v1__reference_deadline_rule__init(&s->rule);
    s->rule.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    s->rule.effective_from = "2012-07-01";
    s->rule.accept_days = 10;
    s->rule.resolve_days = 30;
    s->rules[0] = &s->rule;
    s->ref.ward = "LB01";
    s->ref.rounds = s->rounds;
    s->ref.n_rounds = 1;
    s->ref.subjects = s->subjects;
    s->ref.n_subjects = 2;
    s->ref.deadline_rules = s->rules;
    s->ref.n_deadline_rules = 1;
    s->ref.catalogue_version = "abc";
}

static void version_of(const struct sample *s, char out[65])
{
    reference_version(&s->ref, out);
    assert_int_equal(strlen(out), REFERENCE_VERSION_LEN);
}

static void test_same_content_same_version(void **state)
{
    (void)state;
    struct sample a, b;
    char va[65], vb[65];
    sample_init(&a);
    sample_init(&b);
    version_of(&a, va);
    /* Equal content in other storage; version and unchanged are no part
     * of it. */
    b.ref.version = va;
    b.ref.unchanged = true;
    version_of(&b, vb);
    assert_string_equal(va, vb);
    for (size_t i = 0; i < REFERENCE_VERSION_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", va[i]));
}

/* Each change a clerk's import depends on gives another version. */
static void test_every_change_changes_the_version(void **state)
{
    (void)state;
    struct sample s;
    char base[65], v[65];
    sample_init(&s);
    version_of(&s, base);

    s.round.state = WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_CLOSED;
    version_of(&s, v);
    assert_string_not_equal(base, v);
    sample_init(&s);
    s.round.closes_on = "2024-04-30";
    version_of(&s, v);
    assert_string_not_equal(base, v);
    sample_init(&s);
    s.subject[1].form = "leadership";
    version_of(&s, v);
    assert_string_not_equal(base, v);
    sample_init(&s);
    s.ref.n_subjects = 1;
    version_of(&s, v);
    assert_string_not_equal(base, v);
    sample_init(&s);
    s.ref.ward = "LB02";
    version_of(&s, v);
    assert_string_not_equal(base, v);
    sample_init(&s);
    s.ref.catalogue_version = "abd";
    version_of(&s, v);
    assert_string_not_equal(base, v);
    sample_init(&s);
    s.rule.resolve_days = 45;
    version_of(&s, v);
    assert_string_not_equal(base, v);
}

/* Text moved from one field to the next is another content. */
static void test_field_boundaries_count(void **state)
{
    (void)state;
    struct sample a, b;
    char va[65], vb[65];
    sample_init(&a);
    sample_init(&b);
    a.subject[0].category = "ab";
    a.subject[0].form = "c";
    b.subject[0].category = "a";
    b.subject[0].form = "bc";
    version_of(&a, va);
    version_of(&b, vb);
    assert_string_not_equal(va, vb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_content_same_version),
        cmocka_unit_test(test_every_change_changes_the_version),
        cmocka_unit_test(test_field_boundaries_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
