/*
 * table.h - the rows of a file a clerk imports, whatever wrote it: a CSV
 * file as Excel saves it (wardsync/csv.h with WS_CSV_EXCEL: UTF-8 or
 * UTF-16, ",", ";" or tab) or the first sheet of an .xlsx workbook
 * (xlsx.h). Records are ws_csv_record either way, with the line (CSV) or
 * row number (xlsx) an error names.
 */
#ifndef WARD_AGENT_TABLE_H
#define WARD_AGENT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "wardsync/csv.h"

struct table;

/* Whether path names a workbook (ends in ".xlsx", any case). */
bool table_is_xlsx(const char *path);

/* Opens path as a workbook or a CSV file by its name. Returns the table,
 * or NULL with the reason in err. */
struct table *table_open(const char *path, char *err, size_t errlen);

/* Like ws_csv_next: 1 and *record, 0 at the end, or a negative errno with
 * "line N: reason" in err. */
int table_next(struct table *table, struct ws_csv_record *record, char *err,
               size_t errlen);

/* "UTF-8, separator ;" and the like, for the log. */
const char *table_describe(const struct table *table, char *buf, size_t cap);

/* Closes the table and sets *table to NULL; NULL-safe. */
void table_close(struct table **table);

#endif
