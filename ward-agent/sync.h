/*
 * sync.h - "ward-agent run": the sync loop from the outbox to the hub, with
 * the drop folder watched on the side (DESIGN §3, §4).
 */
#ifndef WARD_AGENT_SYNC_H
#define WARD_AGENT_SYNC_H

#include <stdbool.h>
#include <stdint.h>

struct agent_settings;

struct sync_run_options {
    bool until_idle;     /* exit 0 once nothing is queued and the inbox is
                            empty */
    int64_t max_seconds; /* > 0: give up (exit 3) after this long */
};

/* Runs until SIGINT/SIGTERM (exit 0), idle with until_idle (exit 0), the
 * time limit (exit 3) or a fatal outbox error (exit 3). Returns an exit
 * code (settings.h). */
int sync_command(const struct agent_settings *settings,
                 const struct sync_run_options *options);

#endif
