/*
 * sink.c - CSV and JSON writers of pulled rows (sink.h).
 */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "columns.h"

static void csv_field(FILE *out, const char *v)
{
    bool quote = v[0] == ' ' || (v[0] && v[strlen(v) - 1] == ' ');
    for (const char *p = v; *p && !quote; p++)
        if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r')
            quote = true;
    if (!quote) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

static const char *text_of(const json_t *row, const char *field)
{
    const char *v = json_string_value(json_object_get(row, field));
    return v ? v : "";
}

static void write_csv(FILE *f, char *const *columns, size_t n_columns,
                      const json_t *rows, bool bom)
{
    if (bom)
        fputs("\xEF\xBB\xBF", f); /* Excel then reads UTF-8 */
    fputs("hub,op,key,change", f);
    for (size_t c = 0; c < n_columns; c++) {
        fputc(',', f);
        csv_field(f, columns[c]);
    }
    fputs("\r\n", f);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        csv_field(f, text_of(row, "hub"));
        fputc(',', f);
        csv_field(f, text_of(row, "op"));
        fputc(',', f);
        csv_field(f, text_of(row, "key"));
        fprintf(f, ",%lld",
                (long long)json_integer_value(json_object_get(row, "change")));
        const json_t *values = json_object_get(row, "values");
        for (size_t c = 0; c < n_columns; c++) {
            fputc(',', f);
            const char *v =
                json_string_value(json_object_get(values, columns[c]));
            if (v)
                csv_field(f, v);
        }
        fputs("\r\n", f);
    }
}

static int write_json(FILE *f, const char *dataset, char *const *columns,
                      size_t n_columns, const json_t *rows)
{
    json_t *out = json_array();
    json_t *doc = json_pack("{s:s, s:o}", "dataset", dataset, "rows", out);
    if (!doc)
        return -1;
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        const json_t *values = json_object_get(row, "values");
        json_t *typed = json_object();
        for (size_t c = 0; typed && c < n_columns; c++) {
            const char *v =
                json_string_value(json_object_get(values, columns[c]));
            json_t *jv =
                columns_json_value(columns_type(dataset, columns[c]), v);
            if (!jv || json_object_set_new(typed, columns[c], jv) != 0) {
                json_decref(typed);
                typed = NULL;
            }
        }
        json_t *o =
            typed ? json_pack("{s:s, s:s, s:s, s:O, s:o}", "hub",
                              text_of(row, "hub"), "op", text_of(row, "op"),
                              "key", text_of(row, "key"), "change",
                              json_object_get(row, "change"), "values", typed)
                  : NULL;
        if (!o || json_array_append_new(out, o) != 0) {
            json_decref(doc);
            return -1;
        }
    }
    int rc = json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
    fputc('\n', f);
    json_decref(doc);
    return rc;
}

int sink_write(FILE *f, enum sink_format format, const char *dataset,
               char *const *columns, size_t n_columns, const json_t *rows,
               bool bom, char *err, size_t errlen)
{
    int rc = 0;
    if (format == SINK_CSV)
        write_csv(f, columns, n_columns, rows, bom);
    else
        rc = write_json(f, dataset, columns, n_columns, rows);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (ferror(f) || fflush(f) != 0) {
        snprintf(err, errlen, "could not write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sink_write_file(const char *path, enum sink_format format,
                    const char *dataset, char *const *columns, size_t n_columns,
                    const json_t *rows, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "could not open \"%s\": %s", tmp,
                 strerror(errno));
        return -1;
    }
    char why[256];
    int rc = sink_write(f, format, dataset, columns, n_columns, rows, true, why,
                        sizeof why);
    if (rc == 0 && fsync(fileno(f)) != 0) {
        snprintf(why, sizeof why, "could not fsync: %s", strerror(errno));
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        snprintf(why, sizeof why, "%s", strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(why, sizeof why, "could not rename: %s", strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "could not write \"%s\": %s", path, why);
        remove(tmp);
    }
    return rc;
}
