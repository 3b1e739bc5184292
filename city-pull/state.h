/*
 * state.h - city-pull's cursors, per hub and dataset, in one JSON file:
 * {"hubs": {"LB": {"petitions": "c1234", ...}, ...}}.
 */
#ifndef CITY_PULL_STATE_H
#define CITY_PULL_STATE_H

#include <stddef.h>

struct state;

/* Loads path; a missing file is an empty state. Returns 0 or -1 with
 * err (unreadable or not the expected JSON). */
int state_load(const char *path, struct state **out, char *err, size_t errlen);

/* The cursor of hub's dataset, or "" (pull from the beginning). */
const char *state_cursor(const struct state *st, const char *hub,
                         const char *dataset);

/* Records a cursor (in memory until state_save). Returns 0 or -1. */
int state_set_cursor(struct state *st, const char *hub, const char *dataset,
                     const char *cursor);

/* Writes the file atomically (temporary file, fsync, rename). */
int state_save(const struct state *st, char *err, size_t errlen);

void state_destroy(struct state **st);

#endif
