/*
 * formulas.h - the indicator formulas of DESIGN §6-§7 as pure functions:
 * no database, no I/O, no allocation.
 *
 * The hub computes published figures in SQL (sql/001_baseline.sql) so that
 * the published views and "district-hub indicators" agree by
 * construction; these functions are the same rules written once more in
 * C, small enough to check by hand. Unit tests pin them on hand-computed
 * cases, and the integration tests check the SQL against them.
 *
 * Dates are day numbers (days since 1970-01-01, as ws_date_parse gives).
 */
#ifndef DISTRICT_HUB_FORMULAS_H
#define DISTRICT_HUB_FORMULAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A share threshold as an exact fraction num/den, 0 < num/den <= 1. */
struct formulas_share {
    int64_t num, den;
};

/* Parses a decimal share "0.3", "0.30", "1" or ".5" (at most 6 decimals)
 * into an exact fraction in (0, 1]. Returns 0, or -1 for anything else. */
int formulas_share_parse(const char *text, struct formulas_share *out);

struct formulas_flag_rule {
    int64_t min_ballots;           /* default 10 */
    struct formulas_share level3;  /* default 0.30 */
    struct formulas_share level23; /* default 0.50 */
};

/* The default rule of DESIGN §6. */
struct formulas_flag_rule formulas_flag_rule_default(void);

/* True when one item's ratings (n1, n2, n3 ballots at levels 1..3) reach a
 * threshold: n3 / n >= level3 or (n2 + n3) / n >= level23, exactly (no
 * floating point). An item nobody rated (n = 0) reaches nothing. */
bool formulas_item_over(int64_t n1, int64_t n2, int64_t n3,
                        const struct formulas_flag_rule *rule);

/* The flag rule: at least min_ballots ballots and some item over a
 * threshold. items[i] holds {n1, n2, n3} of item i + 1. */
bool formulas_subject_flagged(int64_t ballots, const int64_t (*items)[3],
                              size_t n_items,
                              const struct formulas_flag_rule *rule);

/* Mean level over ratings: (n1 + 2 n2 + 3 n3) / (n1 + n2 + n3). Returns 0
 * and *out, or -1 when there are no ratings. */
int formulas_mean_level(int64_t n1, int64_t n2, int64_t n3, double *out);

/* num / den; returns 0 and *out, or -1 for an empty denominator. */
int formulas_ratio(int64_t num, int64_t den, double *out);

/* The continuous percentile (PostgreSQL's percentile_cont) of n sorted
 * values, fraction in [0, 1]. Returns 0 and *out, or -1 when n is 0. */
int formulas_percentile(const double *sorted, size_t n, double fraction,
                        double *out);

/* Deadline rule of one petition kind (petition_deadline_rules). */
struct formulas_deadline_rule {
    int accept_days, resolve_days, extension_days, max_extensions;
};

/* Acceptance deadline: received + accept_days. */
int32_t formulas_accept_due(int32_t received_on,
                            const struct formulas_deadline_rule *rule);

/* Resolution deadline: accepted (received when not yet accepted) +
 * resolve_days, plus the extension the office set through office_due
 * (a day, or -1 for none), at most extension_days * max_extensions. */
int32_t formulas_resolve_due(int32_t received_on, int32_t accepted_on,
                             int32_t office_due,
                             const struct formulas_deadline_rule *rule);

enum formulas_petition_state {
    PETITION_CLOSED,           /* withdrawn, transferred, not ours */
    PETITION_RESOLVED_ON_TIME, /* resolved on or before its due date */
    PETITION_RESOLVED_LATE,
    PETITION_ON_TIME,  /* open, more than due_soon days left */
    PETITION_DUE_SOON, /* open, due within due_soon days (or today) */
    PETITION_OVERDUE,  /* open, past its due date */
};

/* State of a petition on day as_of. open: neither resolved nor closed;
 * accepted_on / resolved_on: -1 when not (yet). An open petition not yet
 * accepted is held to its acceptance deadline. */
enum formulas_petition_state
formulas_petition_state(bool closed, bool resolved, int32_t received_on,
                        int32_t accepted_on, int32_t resolved_on,
                        int32_t office_due, int32_t as_of, int due_soon,
                        const struct formulas_deadline_rule *rule);

/* Backlog age bucket of an open petition aged age days: 0 for 0-15, 1 for
 * 16-30, 2 for 31-45, 3 for over 45. */
int formulas_backlog_bucket(int32_t age);

/* Monday-based week number of a day (1970-01-01 was a Thursday), so that
 * two days share a week exactly when date_trunc('week') agrees. */
int32_t formulas_week(int32_t day);

/* Weeks a period [first, last] touches. */
int32_t formulas_weeks_in_period(int32_t first, int32_t last);

/* One level of complementary suppression. counts[i] ballots of sibling
 * cell i under one parent; a cell is suppressed (out[i] true) when it
 * counts fewer than k ballots; every cell when parent_suppressed and
 * all_when_parent; else at least min_when_any of them whenever any is
 * (or whenever the parent is suppressed), the smallest first (ties by
 * index), so that no suppressed cell equals the parent minus the published
 * ones. Returns the number suppressed. */
size_t formulas_suppress(const int64_t *counts, size_t n, int64_t k,
                         bool parent_suppressed, bool all_when_parent,
                         bool *out);

#endif
