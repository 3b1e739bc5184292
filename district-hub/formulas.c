/*
 * formulas.c - see formulas.h. Integer arithmetic wherever a threshold is
 * compared, so that "exactly at a threshold" means exactly.
 */
#include "formulas.h"

#include <math.h>
#include <string.h>

int formulas_share_parse(const char *text, struct formulas_share *out)
{
    if (!text || !*text)
        return -1;
    int64_t num = 0, den = 1;
    const char *p = text;
    int int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9') {
        num = num * 10 + (*p - '0');
        if (++int_digits > 1)
            return -1;
        p++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (++frac_digits > 6)
                return -1;
            num = num * 10 + (*p - '0');
            den *= 10;
            p++;
        }
    }
    if (*p != '\0' || int_digits + frac_digits == 0)
        return -1;
    if (num <= 0 || num > den)
        return -1;
    out->num = num;
    out->den = den;
    return 0;
}

struct formulas_flag_rule formulas_flag_rule_default(void)
{
    struct formulas_flag_rule r = {10, {30, 100}, {50, 100}};
    return r;
}

/* part / n >= share.num / share.den, exactly. */
static bool reaches(int64_t part, int64_t n, struct formulas_share share)
{
    return part * share.den >= share.num * n;
}

bool formulas_item_over(int64_t n1, int64_t n2, int64_t n3,
                        const struct formulas_flag_rule *rule)
{
    int64_t n = n1 + n2 + n3;
    if (n <= 0)
        return false;
    return reaches(n3, n, rule->level3) || reaches(n2 + n3, n, rule->level23);
}

bool formulas_subject_flagged(int64_t ballots, const int64_t (*items)[3],
                              size_t n_items,
                              const struct formulas_flag_rule *rule)
{
    if (ballots < rule->min_ballots)
        return false;
    for (size_t i = 0; i < n_items; i++)
        if (formulas_item_over(items[i][0], items[i][1], items[i][2], rule))
            return true;
    return false;
}

int formulas_mean_level(int64_t n1, int64_t n2, int64_t n3, double *out)
{
    int64_t n = n1 + n2 + n3;
    if (n <= 0)
        return -1;
    *out = (double)(n1 + 2 * n2 + 3 * n3) / (double)n;
    return 0;
}

int formulas_ratio(int64_t num, int64_t den, double *out)
{
    if (den == 0)
        return -1;
    *out = (double)num / (double)den;
    return 0;
}

int formulas_percentile(const double *sorted, size_t n, double fraction,
                        double *out)
{
    if (n == 0)
        return -1;
    double pos = fraction * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = (size_t)ceil(pos);
    *out = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
    return 0;
}

int32_t formulas_accept_due(int32_t received_on,
                            const struct formulas_deadline_rule *rule)
{
    return received_on + rule->accept_days;
}

int32_t formulas_resolve_due(int32_t received_on, int32_t accepted_on,
                             int32_t office_due,
                             const struct formulas_deadline_rule *rule)
{
    int32_t start = accepted_on >= 0 ? accepted_on : received_on;
    int32_t base = start + rule->resolve_days;
    int32_t extension = 0;
    if (office_due >= 0 && office_due > base)
        extension = office_due - base;
    int32_t most = rule->extension_days * rule->max_extensions;
    return base + (extension < most ? extension : most);
}

enum formulas_petition_state
formulas_petition_state(bool closed, bool resolved, int32_t received_on,
                        int32_t accepted_on, int32_t resolved_on,
                        int32_t office_due, int32_t as_of, int due_soon,
                        const struct formulas_deadline_rule *rule)
{
    if (closed)
        return PETITION_CLOSED;
    int32_t resolve_due =
        formulas_resolve_due(received_on, accepted_on, office_due, rule);
    if (resolved) {
        int32_t day = resolved_on >= 0 ? resolved_on : as_of;
        return day <= resolve_due ? PETITION_RESOLVED_ON_TIME
                                  : PETITION_RESOLVED_LATE;
    }
    int32_t due =
        accepted_on >= 0 ? resolve_due : formulas_accept_due(received_on, rule);
    if (as_of > due)
        return PETITION_OVERDUE;
    if (due - as_of <= due_soon)
        return PETITION_DUE_SOON;
    return PETITION_ON_TIME;
}

int formulas_backlog_bucket(int32_t age)
{
    if (age <= 15)
        return 0;
    if (age <= 30)
        return 1;
    if (age <= 45)
        return 2;
    return 3;
}

int32_t formulas_week(int32_t day)
{
    /* Day 0 (1970-01-01) is a Thursday: Monday 1969-12-29 is day -3. */
    int32_t since_monday = day + 3;
    return since_monday >= 0 ? since_monday / 7 : -((-since_monday + 6) / 7);
}

int32_t formulas_weeks_in_period(int32_t first, int32_t last)
{
    if (last < first)
        return 0;
    return formulas_week(last) - formulas_week(first) + 1;
}

size_t formulas_suppress(const int64_t *counts, size_t n, int64_t k,
                         bool parent_suppressed, bool all_when_parent,
                         bool *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = counts[i] < k;
        m += out[i];
    }
    size_t target;
    if (parent_suppressed && all_when_parent)
        target = n;
    else if (parent_suppressed)
        target = m > 2 ? m : 2;
    else
        target = m == 1 ? 2 : m;
    if (target > n)
        target = n;
    /* Add the smallest published cells (lowest index on ties). */
    for (size_t have = m; have < target; have++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (!out[i] && (best == n || counts[i] < counts[best]))
                best = i;
        out[best] = true;
    }
    return target;
}
