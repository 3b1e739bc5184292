/*
 * sink.h - where pulled rows go: one CSV or JSON file per dataset, or
 * stdout.
 *
 * CSV: UTF-8 with a byte order mark (so that Excel reads Vietnamese text
 * as UTF-8), RFC 4180 quoting, CRLF line ends, one header row: hub, op,
 * key, change, then the dataset's columns. JSON: one document
 * {"dataset":…, "rows":[{"hub":…, "op":…, "key":…, "change":N,
 * "values":{column: text or null}}]}. A file is written beside its target
 * and renamed on sink_close(commit), so a reader never sees half a file.
 */
#ifndef CITY_PULL_SINK_H
#define CITY_PULL_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "wardsync/v1/pull.pb-c.h"

enum sink_format { SINK_CSV, SINK_JSON };

struct sink;

/* dir NULL or "-": stdout. Returns 0 or -1 with err. */
int sink_open(const char *dir, const char *dataset, enum sink_format format,
              struct sink **out, char *err, size_t errlen);

/* Appends the rows of page, tagged with hub. Columns are matched by name to
 * the first page's; a column the first page did not have is dropped (and
 * counted in *dropped). Returns 0 or -1 with err. */
int sink_write_page(struct sink *s, const char *hub,
                    const Wardsync__V1__PullPage *page, size_t *dropped,
                    char *err, size_t errlen);

/* Finishes the file: with commit, renames it into place; without, removes
 * it. Frees the sink and clears *s; NULL-safe. Returns 0 or -1 with err. */
int sink_close(struct sink **s, bool commit, char *err, size_t errlen);

#endif
