/*
 * rounds.h - survey rounds (đợt lấy phiếu): what "district-hub round"
 * does (cmd/round.c parses its command line).
 *
 * Each function opens its own database session as settings->database,
 * logs what it did or why it failed under "round", and returns 0, -EINVAL
 * (bad input: a bad record, an unknown round, a refused state change) or
 * -EIO (database).
 */
#ifndef DISTRICT_HUB_ROUNDS_H
#define DISTRICT_HUB_ROUNDS_H

#include <stdbool.h>

#include "settings.h"

/* "round create CODE": creates or updates the draft round code from opens
 * to closes (YYYY-MM-DD, checked by the caller); label may be NULL. */
int rounds_create(const struct hub_settings *settings, const char *code,
                  const char *opens, const char *closes, const char *label);

/* "round create --file PATH": applies every record of the round file at
 * path (format in rounds.c) in one transaction: all of it or none. */
int rounds_load_file(const struct hub_settings *settings, const char *path);

/* "round open CODE" (open) and "round close CODE" (not open). */
int rounds_set_state(const struct hub_settings *settings, const char *code,
                     bool open);

/* "round show [CODE]": one line per round (code NULL: every round), or a
 * JSON array when json, to stdout. */
int rounds_show(const struct hub_settings *settings, const char *code,
                bool json);

#endif
