/*
 * dataset.h - one dataset as the output folder holds it: every current
 * row of every hub pulled, keyed by (hub, row key) (docs/DESIGN.md §8).
 *
 * A run loads the dataset's file (DATASET.csv or .json) as the last run
 * left it, applies what each hub sent since its cursor (an insert or a
 * correction replaces the row of its key, a deletion removes it), and
 * writes the whole dataset back, plus the rows of this run alone into
 * changes/DATASET-STAMP.csv. Rows are objects as sink.h describes them.
 */
#ifndef CITY_PULL_DATASET_H
#define CITY_PULL_DATASET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "sink.h"
#include "wardsync/v1/pull.pb-c.h"

struct dataset;

/* Loads dir/NAME.csv or .json (format), or starts empty when dir is NULL
 * or the file does not exist (*had_file says which). Returns 0 or -1 with
 * err naming the file (unreadable, not a city-pull file). */
int dataset_open(const char *dir, const char *name, enum sink_format format,
                 struct dataset **out, bool *had_file, char *err,
                 size_t errlen);

/* Appends the rows of page, tagged with hub, to staged (a JSON array the
 * caller owns); a column not seen before is added to the dataset's
 * columns. Returns 0 or -1 (out of memory). */
int dataset_stage_page(struct dataset *d, const char *hub,
                       const Wardsync__V1__PullPage *page, json_t *staged);

/* Applies staged rows (in order) by key: with replace_hub, every row of
 * hub is dropped first (a pull from the beginning). The rows are also
 * kept as this run's changes. Returns 0 or -1 (out of memory). */
int dataset_apply(struct dataset *d, const char *hub, const json_t *staged,
                  bool replace_hub);

/* Writes dir/NAME.EXT (every row, sorted by hub and key) and
 * dir/changes/NAME-STAMP.csv (this run's rows in the order applied; a
 * name already taken gets "-2", "-3"…), each atomically, the full file
 * first. Returns 0 or -1 with err. */
int dataset_write(struct dataset *d, const char *dir, enum sink_format format,
                  const char *stamp, char *err, size_t errlen);

/* This run's rows only, to f (stdout mode). Returns 0 or -1 with err. */
int dataset_write_changes(struct dataset *d, FILE *f, enum sink_format format,
                          char *err, size_t errlen);

/* Rows currently held, and rows applied in this run. */
size_t dataset_size(const struct dataset *d);
size_t dataset_changed(const struct dataset *d);

/* The dataset's columns (borrowed, valid until the next stage). */
char *const *dataset_columns(const struct dataset *d, size_t *n);

/* NULL-safe; clears *d. */
void dataset_destroy(struct dataset **d);

#endif
