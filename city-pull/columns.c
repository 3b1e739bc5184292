/*
 * columns.c - the column types of the pulled datasets (columns.h).
 *
 * The lists follow the hub's pull queries (district-hub/db/read.c) and
 * the published views (district-hub/sql/001_baseline.sql,
 * 006_inspections_rotations.sql); the warehouse
 * tables (city-pull/sql/) have the same types.
 */
#include "columns.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct typed_column {
    const char *dataset;
    const char *column;
    enum column_type type;
};

static const struct typed_column TYPED[] = {
    {"petitions", "in_jurisdiction", COLUMN_BOOLEAN},
    {"petitions", "overdue", COLUMN_BOOLEAN},
    {"petitions", "history", COLUMN_JSON},
    {"sync_status", "committed_through", COLUMN_INTEGER},
    {"sync_status", "lag_seconds", COLUMN_INTEGER},
    {"sync_status", "backlog", COLUMN_INTEGER},
    {"sync_status", "accepted", COLUMN_INTEGER},
    {"sync_status", "duplicate", COLUMN_INTEGER},
    {"sync_status", "conflict", COLUMN_INTEGER},
    {"sync_status", "rejected", COLUMN_INTEGER},
    {"indicators", "numerator", COLUMN_NUMERIC},
    {"indicators", "denominator", COLUMN_NUMERIC},
    {"indicators", "value", COLUMN_NUMERIC},
    {"indicators", "suppressed", COLUMN_BOOLEAN},
    {"ballot_aggregates", "item", COLUMN_INTEGER},
    {"ballot_aggregates", "suppressed", COLUMN_BOOLEAN},
    {"ballot_aggregates", "ballots", COLUMN_INTEGER},
    {"ballot_aggregates", "level1", COLUMN_INTEGER},
    {"ballot_aggregates", "level2", COLUMN_INTEGER},
    {"ballot_aggregates", "level3", COLUMN_INTEGER},
    {"ballot_aggregates", "share1", COLUMN_NUMERIC},
    {"ballot_aggregates", "share2", COLUMN_NUMERIC},
    {"ballot_aggregates", "share3", COLUMN_NUMERIC},
    {"inspections", "subjects", COLUMN_INTEGER},
    {"inspections", "violations", COLUMN_INTEGER},
    {"rotations", "years_in_post", COLUMN_INTEGER},
};

enum column_type columns_type(const char *dataset, const char *column)
{
    for (size_t i = 0; i < sizeof TYPED / sizeof TYPED[0]; i++)
        if (strcmp(TYPED[i].dataset, dataset) == 0 &&
            strcmp(TYPED[i].column, column) == 0)
            return TYPED[i].type;
    return COLUMN_TEXT;
}

static bool parse_integer(const char *text, long long *v)
{
    char *end = NULL;
    errno = 0;
    *v = strtoll(text, &end, 10);
    return text[0] && end && *end == '\0' && errno == 0;
}

json_t *columns_json_value(enum column_type type, const char *text)
{
    if (!text)
        return json_null();
    long long i;
    switch (type) {
    case COLUMN_INTEGER:
        if (parse_integer(text, &i))
            return json_integer(i);
        break;
    case COLUMN_NUMERIC: {
        if (parse_integer(text, &i))
            return json_integer(i);
        char *end = NULL;
        double d = strtod(text, &end);
        if (text[0] && end && *end == '\0')
            return json_real(d);
        break;
    }
    case COLUMN_BOOLEAN:
        if (strcmp(text, "true") == 0 || strcmp(text, "t") == 0)
            return json_true();
        if (strcmp(text, "false") == 0 || strcmp(text, "f") == 0)
            return json_false();
        break;
    case COLUMN_JSON: {
        json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);
        if (doc)
            return doc;
        break;
    }
    case COLUMN_TEXT:
        break;
    }
    return json_string(text);
}

char *columns_text_of(const json_t *value, int *oom)
{
    char buf[64];
    char *text = NULL;
    *oom = 0;
    if (!value || json_is_null(value))
        return NULL;
    if (json_is_string(value))
        text = strdup(json_string_value(value));
    else if (json_is_integer(value)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(value));
        text = strdup(buf);
    } else if (json_is_real(value)) {
        snprintf(buf, sizeof buf, "%.15g", json_real_value(value));
        text = strdup(buf);
    } else if (json_is_true(value))
        text = strdup("true");
    else if (json_is_false(value))
        text = strdup("false");
    else
        text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY |
                                     JSON_REAL_PRECISION(15));
    if (!text)
        *oom = 1;
    return text;
}
