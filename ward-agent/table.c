/*
 * table.c - one interface over the CSV reader and the .xlsx reader.
 */
#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xlsx.h"

struct table {
    struct ws_csv_reader *csv;
    struct xlsx_reader *xlsx;
};

bool table_is_xlsx(const char *path)
{
    size_t len = strlen(path);

    return len >= 5 && strcasecmp(path + len - 5, ".xlsx") == 0;
}

struct table *table_open(const char *path, char *err, size_t errlen)
{
    struct table *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (table_is_xlsx(path))
        t->xlsx = xlsx_open(path, err, errlen);
    else
        t->csv = ws_csv_open_with(path, WS_CSV_EXCEL, err, errlen);
    if (t->csv == NULL && t->xlsx == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

int table_next(struct table *table, struct ws_csv_record *record, char *err,
               size_t errlen)
{
    if (table->xlsx)
        return xlsx_next(table->xlsx, record, err, errlen);
    return ws_csv_next(table->csv, record, err, errlen);
}

const char *table_describe(const struct table *table, char *buf, size_t cap)
{
    if (table->xlsx) {
        snprintf(buf, cap, "xlsx");
        return buf;
    }
    char sep = ws_csv_separator(table->csv);
    snprintf(buf, cap, "csv encoding=%s separator=%s",
             ws_csv_encoding(table->csv),
             sep == '\t'  ? "tab"
             : sep == ';' ? "semicolon"
                          : "comma");
    return buf;
}

void table_close(struct table **table)
{
    if (table == NULL || *table == NULL)
        return;
    ws_csv_close(&(*table)->csv);
    xlsx_close(&(*table)->xlsx);
    free(*table);
    *table = NULL;
}
