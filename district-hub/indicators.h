/*
 * indicators.h - "district-hub indicators": the indicator report.
 */
#ifndef DISTRICT_HUB_INDICATORS_H
#define DISTRICT_HUB_INDICATORS_H

#include <stdio.h>

#include "settings.h"

/* Prints every count indicator (DESIGN §7) per ward, per district office
 * and per district rolled up, to out. format is "table" (default when
 * NULL), "csv" or "json"; period (NULL: "all") is "all", YYYY, YYYY-Qn,
 * YYYY-MM, YYYY-MM-DD or FROM..TO (two dates, inclusive). Returns a
 * hub_exit code (HUB_EXIT_USAGE for a bad format or period). */
int indicators_run(const struct hub_settings *settings, const char *format,
                   const char *period, FILE *out);

#endif
