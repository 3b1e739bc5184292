/*
 * sink.h - writes pulled rows as CSV or JSON.
 *
 * A row is a JSON object {"hub":…, "op":…, "key":…, "change":N,
 * "values":{column: text or null}} (the hub's text, as dataset.c keeps
 * it). CSV: UTF-8 with a byte order mark when written to a file (so that
 * Excel reads Vietnamese text as UTF-8), RFC 4180 quoting, CRLF line
 * ends, one header row: hub, op, key, change, then the dataset's columns;
 * a NULL is an empty field. JSON: one document {"dataset":…,
 * "rows":[{"hub", "op", "key", "change", "values":{…}}]} whose values are
 * typed (columns.h): numbers are numbers, booleans true/false, a
 * petition's history an array.
 */
#ifndef CITY_PULL_SINK_H
#define CITY_PULL_SINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum sink_format { SINK_CSV, SINK_JSON };

/* Writes rows (a JSON array of rows, borrowed) with the given columns to
 * f; bom: start a CSV with the byte order mark. Returns 0 or -1 with err
 * (out of memory or a write error). */
int sink_write(FILE *f, enum sink_format format, const char *dataset,
               char *const *columns, size_t n_columns, const json_t *rows,
               bool bom, char *err, size_t errlen);

/* The same into path, atomically: written beside it (path.tmp), flushed
 * to disk, then renamed over it, so a reader (or a crash) never sees half
 * a file. Returns 0 or -1 with err (path.tmp removed). */
int sink_write_file(const char *path, enum sink_format format,
                    const char *dataset, char *const *columns, size_t n_columns,
                    const json_t *rows, char *err, size_t errlen);

#endif
