/*
 * columns.h - what city-pull knows of each dataset's columns: their SQL
 * type (docs/contracts.md, "Pull datasets"), so that JSON files carry
 * numbers as numbers and a petition's history as an array, and the
 * warehouse has typed columns.
 *
 * The hub sends every value as text; a column city-pull does not know is
 * kept as text.
 */
#ifndef CITY_PULL_COLUMNS_H
#define CITY_PULL_COLUMNS_H

#include <jansson.h>

enum column_type {
    COLUMN_TEXT,
    COLUMN_INTEGER,
    COLUMN_NUMERIC,
    COLUMN_BOOLEAN,
    COLUMN_JSON
};

/* The type of column in dataset; COLUMN_TEXT when unknown. */
enum column_type columns_type(const char *dataset, const char *column);

/* A new JSON value for text (NULL: SQL NULL) of a column of type: a
 * number, true/false, the parsed JSON document, or a string when text is
 * not what the type says. NULL only when out of memory. */
json_t *columns_json_value(enum column_type type, const char *text);

/* The text form of a JSON value read back from a file (the inverse of
 * columns_json_value): malloc'd, or NULL for JSON null (and when out of
 * memory: *oom set). */
char *columns_text_of(const json_t *value, int *oom);

#endif
