/*
 * rounds.h - "district-hub round": survey rounds (đợt lấy phiếu).
 */
#ifndef DISTRICT_HUB_ROUNDS_H
#define DISTRICT_HUB_ROUNDS_H

#include "settings.h"

extern const char ROUNDS_USAGE[];

/* Runs "round SUBCOMMAND ..."; argv[0] is "round". Parses its own options.
 * Returns a hub_exit code. */
int rounds_run(const struct hub_settings *settings, int argc, char **argv);

#endif
