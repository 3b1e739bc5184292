/*
 * db/indicators.h - the indicator queries (docs/DESIGN.md §7) on the hub's
 * one connection type (db/conn.h): the settings the published views read,
 * the petition deadline rules, and every indicator value.
 *
 * The arithmetic and the publication rule live in the database, in
 * indicator_values() (sql/006_indicators.sql), the function the published
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
    const char *level3_share;
    const char *level23_share;
    int64_t suppress_below;
    int64_t due_soon_days;
};

/* Writes the thresholds into indicator_settings (read by the published
 * views). */
int db_ind_settings_write(struct db *db, const struct ind_thresholds *t,
                          char *err, size_t errlen);

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
 * label, judged as of as_of ("YYYY-MM-DD"), with the publication rule of
 * t applied. Sorted by indicator, period, then wards, the office, the
 * rollup. *rows is malloc'd (the caller free()s it). */
int db_ind_values(struct db *db, const char *from, const char *to,
                  const char *label, const char *as_of,
                  const struct ind_thresholds *t, struct ind_row **rows,
                  size_t *n, char *err, size_t errlen);

#endif
