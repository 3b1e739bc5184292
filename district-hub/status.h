/*
 * status.h - "district-hub status": one row per agent for the operators.
 */
#ifndef DISTRICT_HUB_STATUS_H
#define DISTRICT_HUB_STATUS_H

#include <stdio.h>

#include "settings.h"

#define STATUS_DEFAULT_SILENT_AFTER_S 900

/* Prints every unit that should report and its agent instances (ward,
 * last contact, lag, backlog as last reported, accepted / duplicate /
 * conflict / rejected counts, state NEVER / SILENT / ok / RETIRED / NEW)
 * to out. format is "table" (NULL) or "json". Returns 1 when a unit was
 * never seen or is silent for more than silent_after_s seconds, 0 when
 * every unit is in contact, or -EDOM (another format) or -EIO (logged). */
int status_run(const struct hub_settings *settings, const char *format,
               long silent_after_s, FILE *out);

#endif
