/*
 * template.h - "ward-agent template KIND [FILE]": a file a clerk fills in.
 */
#ifndef WARD_AGENT_TEMPLATE_H
#define WARD_AGENT_TEMPLATE_H

#include <stdbool.h>
#include <stdio.h>

#include "import.h"

/* Writes the template of kind to f: a UTF-8 BOM (so Excel opens it as
 * UTF-8), the header row (Vietnamese names when vi, else English), one
 * example row (dated today, values in the same language, codes starting
 * "VI-DU" so that no real survey, subject or petition is named), CRLF line
 * ends as Excel writes. Its output imports as it is. Returns 0 or -EIO. */
int template_write(FILE *f, enum import_kind kind, bool vi);

/* Writes the template to path (a new file; an existing one is kept) or to
 * standard output when path is NULL or "-". Returns an exit code. */
int template_command(enum import_kind kind, const char *path);

#endif
