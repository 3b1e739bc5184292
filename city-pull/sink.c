/*
 * sink.c - CSV and JSON writers of pulled pages (sink.h).
 */
#include "sink.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    enum sink_format format;
    FILE *out;
    bool to_stdout;
    char path[4096];
    char tmp[4200];
    char dataset[64];
    char **columns; /* fixed by the first page that has any */
    size_t n_columns;
    bool header_done;
    json_t *rows; /* JSON: collected, dumped at close */
};

int sink_open(const char *dir, const char *dataset, enum sink_format format,
              struct sink **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->format = format;
    snprintf(s->dataset, sizeof s->dataset, "%s", dataset);
    if (format == SINK_JSON && !(s->rows = json_array())) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!dir || strcmp(dir, "-") == 0) {
        s->to_stdout = true;
        s->out = stdout;
    } else {
        snprintf(s->path, sizeof s->path, "%s/%s.%s", dir, dataset,
                 format == SINK_CSV ? "csv" : "json");
        snprintf(s->tmp, sizeof s->tmp, "%s.tmp", s->path);
        s->out = fopen(s->tmp, "w");
        if (!s->out) {
            snprintf(err, errlen, "could not open \"%s\": %s", s->tmp,
                     strerror(errno));
            json_decref(s->rows);
            free(s);
            return -1;
        }
    }
    *out = s;
    return 0;
}

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

static int fix_columns(struct sink *s, const Wardsync__V1__PullPage *page)
{
    if (s->columns || page->n_columns == 0)
        return 0;
    s->columns = calloc(page->n_columns, sizeof *s->columns);
    if (!s->columns)
        return -1;
    for (size_t c = 0; c < page->n_columns; c++)
        if (!(s->columns[c] = strdup(page->columns[c])))
            return -1;
    s->n_columns = page->n_columns;
    return 0;
}

static void csv_header(struct sink *s)
{
    if (s->header_done)
        return;
    if (!s->to_stdout)
        fputs("\xEF\xBB\xBF", s->out); /* BOM: Excel then reads UTF-8 */
    fputs("hub,op,key,change", s->out);
    for (size_t c = 0; c < s->n_columns; c++) {
        fputc(',', s->out);
        csv_field(s->out, s->columns[c]);
    }
    fputs("\r\n", s->out);
    s->header_done = true;
}

static const char *op_name(Wardsync__V1__RowOp op)
{
    switch (op) {
    case WARDSYNC__V1__ROW_OP__ROW_OP_INSERT:
        return "insert";
    case WARDSYNC__V1__ROW_OP__ROW_OP_DELETE:
        return "delete";
    default:
        return "update";
    }
}

/* Index in page of column c of the sink, or -1. */
static int page_column(const Wardsync__V1__PullPage *page, const char *name)
{
    for (size_t i = 0; i < page->n_columns; i++)
        if (strcmp(page->columns[i], name) == 0)
            return (int)i;
    return -1;
}

static bool is_null(const Wardsync__V1__Row *row, size_t i)
{
    for (size_t k = 0; k < row->n_nulls; k++)
        if (row->nulls[k] == i)
            return true;
    return false;
}

int sink_write_page(struct sink *s, const char *hub,
                    const Wardsync__V1__PullPage *page, size_t *dropped,
                    char *err, size_t errlen)
{
    if (fix_columns(s, page) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < page->n_columns; i++) {
        bool known = false;
        for (size_t c = 0; c < s->n_columns && !known; c++)
            known = strcmp(s->columns[c], page->columns[i]) == 0;
        if (!known && dropped)
            (*dropped)++;
    }
    if (s->format == SINK_CSV)
        csv_header(s);
    for (size_t r = 0; r < page->n_rows; r++) {
        const Wardsync__V1__Row *row = page->rows[r];
        if (s->format == SINK_CSV) {
            csv_field(s->out, hub);
            fprintf(s->out, ",%s,", op_name(row->op));
            csv_field(s->out, row->key);
            fprintf(s->out, ",%llu", (unsigned long long)row->change);
            for (size_t c = 0; c < s->n_columns; c++) {
                fputc(',', s->out);
                int i = page_column(page, s->columns[c]);
                if (i >= 0 && (size_t)i < row->n_values && !is_null(row, i))
                    csv_field(s->out, row->values[i]);
            }
            fputs("\r\n", s->out);
            continue;
        }
        json_t *values = json_object();
        for (size_t c = 0; values && c < s->n_columns; c++) {
            int i = page_column(page, s->columns[c]);
            json_t *v =
                (i >= 0 && (size_t)i < row->n_values && !is_null(row, i))
                    ? json_string(row->values[i])
                    : json_null();
            json_object_set_new(values, s->columns[c], v);
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "hub", hub, "op",
                              op_name(row->op), "key", row->key, "change",
                              (json_int_t)row->change, "values", values);
        if (!o || json_array_append_new(s->rows, o) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (ferror(s->out)) {
        snprintf(err, errlen, "could not write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sink_close(struct sink **sp, bool commit, char *err, size_t errlen)
{
    if (!sp || !*sp)
        return 0;
    struct sink *s = *sp;
    int rc = 0;
    if (commit && s->format == SINK_CSV)
        csv_header(s);
    if (commit && s->format == SINK_JSON) {
        json_t *doc =
            json_pack("{s:s, s:O}", "dataset", s->dataset, "rows", s->rows);
        if (!doc || json_dumpf(doc, s->out, JSON_INDENT(1)) != 0)
            rc = -1;
        fputc('\n', s->out);
        json_decref(doc);
    }
    if (s->to_stdout) {
        if (fflush(stdout) != 0)
            rc = -1;
    } else {
        if (fclose(s->out) != 0)
            rc = -1;
        if (commit && rc == 0 && rename(s->tmp, s->path) != 0)
            rc = -1;
        if (!commit || rc < 0)
            remove(s->tmp);
    }
    if (rc < 0)
        snprintf(err, errlen, "could not write \"%s\": %s",
                 s->to_stdout ? "stdout" : s->path, strerror(errno));
    for (size_t c = 0; c < s->n_columns; c++)
        free(s->columns[c]);
    free(s->columns);
    json_decref(s->rows);
    free(s);
    *sp = NULL;
    return rc;
}
