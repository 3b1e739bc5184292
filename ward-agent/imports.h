/*
 * imports.h - "ward-agent imports": the files this ward imported (issue 11),
 * newest last, each with its id, file name, kind, rows, date and state.
 */
#ifndef WARD_AGENT_IMPORTS_H
#define WARD_AGENT_IMPORTS_H

#include "status.h"

struct agent_settings;

/* Prints the imports of the outbox under settings->home to stdout, as a
 * table or (STATUS_JSON) one JSON array. Returns an exit code
 * (settings.h). */
int imports_command(const struct agent_settings *settings,
                    enum status_format format);

#endif
