/*
 * status.h - "ward-agent status": what the ward's outbox holds and what the
 * hub accepted or rejected.
 */
#ifndef WARD_AGENT_STATUS_H
#define WARD_AGENT_STATUS_H

struct agent_settings;

enum status_format {
    STATUS_TABLE,
    STATUS_JSON,
};

/* Prints the status of the outbox under settings->home to stdout. Returns
 * an exit code (settings.h). */
int status_command(const struct agent_settings *settings,
                   enum status_format format);

#endif
