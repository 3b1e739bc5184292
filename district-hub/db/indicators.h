/*
 * db/indicators.h - the indicator queries (docs/DESIGN.md §7) on the hub's
 * one connection type (db/conn.h): the settings the published views read,
 * the petition deadline rules, and every indicator value.
 *
 * The arithmetic and the publication rule live in the database, in
 * indicator_values() (sql/004_indicator_rules.sql), the function the published
 * views read too; this module passes the period and the thresholds as
 * parameters and copies the rows out.
 *
 * Functions return 0 or a negative errno with the reason in err: -EIO for
 * the database, -EINVAL for a value the database refused (the operator's
 * to fix), -ENOMEM.
 */
#ifndef DISTRICT_HUB_DB_INDICATORS_H
#define DISTRICT_HUB_DB_INDICATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* Thresholds of the flag rule, publication and deadlines; the text ones
 * are decimal numbers passed to PostgreSQL as numeric, exactly. */
struct ind_thresholds {
    int64_t min_ballots;
    char level3_share[24];
    char level23_share[24];
    int64_t suppress_below;
    int64_t due_soon_days;
};

/* Writes the thresholds into indicator_settings, the one place every
 * reader of the figures takes them from ("district-hub migrate" writes
 * them from the configuration). -EINVAL when the database refuses one. */
int db_ind_settings_write(struct db *db, const struct ind_thresholds *t,
                          char *err, size_t errlen);

/* Reads the thresholds back from indicator_settings. */
int db_ind_settings_read(struct db *db, struct ind_thresholds *t, char *err,
                         size_t errlen);

/* Inserts or updates one petition deadline rule (kind, effective_from,
 * accept_days, resolve_days, extension_days, max_extensions, source). */
int db_ind_petition_rule(struct db *db, const char *const fields[7], char *err,
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
 * label, judged as of as_of ("YYYY-MM-DD"; NULL: the district's today, or
 * the period's last day when it is over, as indicator_values() decides),
 * with the publication rule of t applied. Sorted by indicator, period, then
 * wards, the office, the rollup. *rows is malloc'd (the caller free()s it). */
int db_ind_values(struct db *db, const char *from, const char *to,
                  const char *label, const char *as_of,
                  const struct ind_thresholds *t, struct ind_row **rows,
                  size_t *n, char *err, size_t errlen);

/* One flagged subject and its plan, from flagged_subjects() as of as_of
 * (NULL: the district's today): what the report lists. plan_status is
 * "none" without a plan; due_on and completed_on "" when NULL. */
struct ind_flagged {
    char survey[64];
    char ward[64];
    char subject[64];
    char plan_status[16];
    char due_on[11];
    char completed_on[11];
    bool on_time;
    bool overdue;
};

/* Every flagged subject of every round, sorted by ward, round, subject.
 * *rows is malloc'd (the caller free()s it). */
int db_ind_flagged(struct db *db, const char *as_of,
                   const struct ind_thresholds *t, struct ind_flagged **rows,
                   size_t *n, char *err, size_t errlen);

#endif
