/*
 * status.h - "district-hub status": one row per agent for the operators.
 */
#ifndef DISTRICT_HUB_STATUS_H
#define DISTRICT_HUB_STATUS_H

#include <stdio.h>

#include "settings.h"

#define STATUS_DEFAULT_SILENT_AFTER_S 900

/* Prints every agent (ward, last contact, lag, backlog as last reported,
 * accepted / duplicate / conflict / rejected counts) to out, marking the
 * agents silent for more than silent_after_s seconds. format is "table"
 * (NULL) or "json". Returns 0, -EDOM (another format) or -EIO; the reason
 * is logged. */
int status_run(const struct hub_settings *settings, const char *format,
               long silent_after_s, FILE *out);

#endif
