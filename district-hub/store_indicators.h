/*
 * store_indicators.h - the SQL of survey rounds and of the indicator
 * report (issue 5), on a connection of its own so that it never shares
 * prepared-statement state with the ingest store.
 *
 * Every statement is a constant with parameters. Functions return 0 or a
 * negative errno with the reason in err: -EIO for the database, -EINVAL
 * for a refusal the operator can fix (the reason says what), -ENOENT for
 * an unknown round.
 */
#ifndef DISTRICT_HUB_STORE_INDICATORS_H
#define DISTRICT_HUB_STORE_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ind_store;

int ind_store_open(const char *conninfo, struct ind_store **out, char *err,
                   size_t errlen);
void ind_store_close(struct ind_store **st);

/* Thresholds of the flag rule, publication and deadlines; the text ones
 * are decimal numbers passed to PostgreSQL as numeric, exactly. */
struct ind_thresholds {
    int64_t min_ballots;
    const char *level3_share;
    const char *level23_share;
    int64_t suppress_below;
    int64_t due_soon_days;
};

/* Writes the thresholds into indicator_settings (read by the published
 * views). */
int ind_store_settings_write(struct ind_store *st,
                             const struct ind_thresholds *t, char *err,
                             size_t errlen);

/* One published indicator row. numerator, denominator, value are decimal
 * text, "" when NULL (suppressed, or no denominator). */
struct ind_row {
    char code[64];
    char org_unit[80];
    char name[256];
    char kind[16]; /* ward, office or rollup */
    char period[64];
    char numerator[32];
    char denominator[32];
    char value[32];
    bool suppressed;
    char rule[512];
};

/* Every indicator for the period [from, to) (NULL: unbounded), labelled
 * label, judged as of as_of ("YYYY-MM-DD"). Sorted by indicator, period,
 * then wards, the office, the rollup. *rows is malloc'd (free()). */
int ind_store_values(struct ind_store *st, const char *from, const char *to,
                     const char *label, const char *as_of,
                     const struct ind_thresholds *t, struct ind_row **rows,
                     size_t *n, char *err, size_t errlen);

/* Inserts or updates one petition deadline rule (kind, effective_from,
 * accept_days, resolve_days, extension_days, max_extensions, source). */
int ind_store_petition_rule(struct ind_store *st, const char *const fields[7],
                            char *err, size_t errlen);

/* ---- survey rounds ---- */

int ind_store_begin(struct ind_store *st, char *err, size_t errlen);
int ind_store_commit(struct ind_store *st, char *err, size_t errlen);
void ind_store_rollback(struct ind_store *st);

/* Inserts a round in state draft, or updates label and dates of a round
 * still in draft. */
int ind_store_round_upsert(struct ind_store *st, const char *code,
                           const char *opens_on, const char *closes_on,
                           const char *label, char *err, size_t errlen);
int ind_store_round_form(struct ind_store *st, const char *round,
                         const char *category, const char *form, char *err,
                         size_t errlen);
int ind_store_round_ward(struct ind_store *st, const char *round,
                         const char *ward, const char *expected, char *err,
                         size_t errlen);
int ind_store_round_subject(struct ind_store *st, const char *round,
                            const char *ward, const char *subject,
                            const char *category, char *err, size_t errlen);

/* Moves a round to "open" or "closed". -EINVAL when the move is not
 * allowed (closed rounds stay closed), -ENOENT for an unknown round. */
int ind_store_round_set_state(struct ind_store *st, const char *code,
                              const char *state, char *err, size_t errlen);

/* Runs fn once per row of the round summary (every round when code is
 * NULL): code, label, opens_on, closes_on, state, wards, subjects,
 * expected ballots, received ballots. */
typedef void (*ind_round_fn)(void *ctx, const char *const fields[9]);
int ind_store_round_show(struct ind_store *st, const char *code,
                         ind_round_fn fn, void *ctx, char *err, size_t errlen);

#endif
