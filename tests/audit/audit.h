/*
 * audit.h - the auditor of the publication rule (docs/DESIGN.md §7).
 *
 * It reads what a city holds after one pull: the indicators and the
 * ballot aggregates (CSV as city-pull writes them, or as COPY writes the
 * published views: columns are found by their header names) and the org
 * units (code,name,kind,parent). From them it builds the linear equations
 * the published figures imply about the true ballots, over non-negative
 * integers:
 *   - per round, ward, subject, respondent group 1..4: a ballot count x
 *     (an integer); per item and level a rating count y, with y1 + y2 +
 *     y3 = x on every item (each ballot answers every item of its form).
 *     y is relaxed to a real number: with the rounding band of the
 *     published mean level, integer y made GLPK's branch and bound take
 *     minutes per cell; the ballot counts stay integers;
 *   - a published group row: x and its y; a published 'all' row: the sum
 *     over the groups of x and of each y;
 *   - a published ballots_received or ballot_completeness of a unit: the
 *     sum of x over the unit (a ward, "<unit>-office" = the unit's own
 *     ballots, a unit with children = every unit the round covers at or
 *     below it, through the parent links);
 *   - subject_score: sum of levels and ratings when published, else the
 *     published mean's rounding interval (two linear inequalities);
 *   - ward_reporting_timeliness: one 0/1 variable per unit, 1 exactly when
 *     the unit has a ballot (an attacker's assumption: every ballot came on
 *     time), summing to the published numerator;
 *   - subjects_flagged: one 0/1 variable per subject, a flagged subject
 *     holding at least flag_min ballots, summing to the published count.
 * Then, with GLPK's integer optimiser, it minimises and maximises every
 * suppressed cell (a group or 'all' row, a unit's ballots_received) and,
 * under every published total, the sum of its suppressed children. A leak
 * is a suppressed cell whose minimum equals its maximum, or a sum of
 * suppressed cells known to lie within 1..k-1 ballots. Each optimisation
 * stops after 4 s: two integer solutions of different value (for a sum,
 * one of 0 or >= k) prove a cell safe; otherwise a leak needs proven
 * optima, and a cell neither proven safe nor leaking is "undecided".
 */
#ifndef WARDSYNC_AUDIT_H
#define WARDSYNC_AUDIT_H

#include <stddef.h>
#include <stdio.h>

struct audit_files {
    const char *indicators;        /* CSV, may be NULL */
    const char *ballot_aggregates; /* CSV */
    const char *org_units;         /* CSV code,name,kind,parent */
};

struct audit_result {
    long cells;     /* suppressed cells checked */
    long groups;    /* sums of suppressed cells checked */
    long leaks;     /* of those, determined (or within 1..k-1 for a sum) */
    long undecided; /* neither proven safe nor a leak within the time */
    long rows;      /* equations and inequalities */
    long vars;      /* unknowns */
};

/* Audits the files with threshold k and flag_min (the flag rule's minimum
 * ballots), writing one line per leak to report (NULL: silent) as
 * "leak: WHAT min=A max=B". Returns 0 (leaks or not: see *out), or a
 * negative errno with the reason in err (a file that cannot be read, a
 * row that names nothing, a solver failure). */
int audit_run(const struct audit_files *files, int k, int flag_min,
              FILE *report, struct audit_result *out, char *err, size_t errlen);

#endif
