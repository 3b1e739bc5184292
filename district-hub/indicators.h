/*
 * indicators.h - "district-hub indicators": the indicator report, and the
 * thresholds of the configuration it and the published views use.
 */
#ifndef DISTRICT_HUB_INDICATORS_H
#define DISTRICT_HUB_INDICATORS_H

#include <stddef.h>
#include <stdio.h>

#include "settings.h"
#include "db/indicators.h"

/* Prints every indicator (DESIGN §7) per ward, per district office and
 * per district rolled up, to out, with the publication rule applied.
 * format is "table" (default when NULL), "csv" or "json"; period (NULL:
 * "all") is "all", YYYY, YYYY-Qn, YYYY-MM, YYYY-MM-DD or FROM..TO (two
 * dates, inclusive); as_of (NULL: the district's today, or the period's
 * last day when it is over) is the day every date-dependent figure is
 * judged on. The thresholds are read from the database's
 * indicator_settings. Returns 0, -EDOM (a bad format, period or as-of
 * date) or -EIO; the reason is logged. */
int indicators_run(const struct hub_settings *settings, const char *format,
                   const char *period, const char *as_of, FILE *out);

/* Reads [hub] flag_min_ballots (default 10), flag_level3_share (0.30),
 * flag_level23_share (0.50), suppress_below (10) and due_soon_days (5)
 * from the configuration (for "migrate", which writes them into
 * indicator_settings). Returns 0, or -EINVAL with
 * the reason in err. */
int indicators_thresholds(const struct hub_settings *settings,
                          struct ind_thresholds *out, char *err, size_t errlen);

/* Writes those thresholds into the database's indicator_settings, which
 * the published views read. Called by "district-hub migrate". Returns 0,
 * -EINVAL (a bad threshold or petition rules file) or -EIO; the reason is
 * logged. */
int indicators_write_settings(const struct hub_settings *settings);

#endif
