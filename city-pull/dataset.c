/*
 * dataset.c - a dataset's rows, loaded, changed by key and written back
 * (dataset.h).
 */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "columns.h"
#include "wardsync/csv.h"

#define MAX_COLUMNS 256

struct dataset {
    char name[64];
    char *columns[MAX_COLUMNS]; /* the file's, then new ones appended */
    size_t n_columns;
    json_t *rows;    /* object: "hub\x1fkey" -> row */
    json_t *changes; /* array: this run's rows, in the order applied */
};

static int add_column(struct dataset *d, const char *name)
{
    for (size_t c = 0; c < d->n_columns; c++)
        if (strcmp(d->columns[c], name) == 0)
            return 0;
    if (d->n_columns == MAX_COLUMNS)
        return 0; /* more than any dataset has: ignored */
    if (!(d->columns[d->n_columns] = strdup(name)))
        return -1;
    d->n_columns++;
    return 0;
}

static int row_id(const char *hub, const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s\x1f%s", hub, key);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int put_row(struct dataset *d, json_t *row)
{
    char id[1024];
    const char *hub = json_string_value(json_object_get(row, "hub"));
    const char *key = json_string_value(json_object_get(row, "key"));
    if (!hub || !key || row_id(hub, key, id, sizeof id) < 0)
        return -1;
    return json_object_set(d->rows, id, row);
}

static json_t *make_row(const char *hub, const char *op, const char *key,
                        long long change, json_t *values)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:o}", "hub", hub, "op", op, "key",
                     key, "change", (json_int_t)change, "values", values);
}

static int load_csv(struct dataset *d, const char *path, char *err,
                    size_t errlen)
{
    struct ws_csv_reader *r = ws_csv_open(path, err, errlen);
    if (!r)
        return -1;
    struct ws_csv_record rec;
    char why[256];
    int rc = ws_csv_next(r, &rec, why, sizeof why);
    if (rc <= 0 || rec.n_fields < 4 || strcmp(rec.fields[0], "hub") != 0 ||
        strcmp(rec.fields[2], "key") != 0) {
        snprintf(err, errlen, "%s: %s", path,
                 rc < 0 ? why
                        : "not a city-pull file (want a header "
                          "hub,op,key,change,...)");
        ws_csv_close(&r);
        return -1;
    }
    for (size_t c = 4; c < rec.n_fields; c++)
        if (add_column(d, rec.fields[c]) < 0)
            goto oom;
    size_t n_file_columns = rec.n_fields - 4;
    char *file_columns[MAX_COLUMNS];
    for (size_t c = 0; c < n_file_columns && c < MAX_COLUMNS; c++)
        file_columns[c] = d->columns[c];
    while ((rc = ws_csv_next(r, &rec, why, sizeof why)) > 0) {
        if (rec.n_fields != n_file_columns + 4) {
            snprintf(err, errlen, "%s:%ld: %zu fields, want %zu", path,
                     rec.line, rec.n_fields, n_file_columns + 4);
            ws_csv_close(&r);
            return -1;
        }
        json_t *values = json_object();
        for (size_t c = 0; values && c < n_file_columns; c++)
            if (json_object_set_new(values, file_columns[c],
                                    rec.fields[c + 4][0]
                                        ? json_string(rec.fields[c + 4])
                                        : json_null()) != 0) {
                json_decref(values);
                values = NULL;
            }
        json_t *row =
            values ? make_row(rec.fields[0], rec.fields[1], rec.fields[2],
                              strtoll(rec.fields[3], NULL, 10), values)
                   : NULL;
        if (!row || put_row(d, row) < 0) {
            json_decref(row);
            goto oom;
        }
        json_decref(row);
    }
    ws_csv_close(&r);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    return 0;
oom:
    ws_csv_close(&r);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int load_json(struct dataset *d, const char *path, char *err,
                     size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    json_t *rows = json_object_get(doc, "rows");
    if (!json_is_array(rows)) {
        snprintf(err, errlen, "%s: not a city-pull file (no \"rows\")", path);
        json_decref(doc);
        return -1;
    }
    size_t i;
    json_t *in;
    json_array_foreach(rows, i, in)
    {
        const char *hub = json_string_value(json_object_get(in, "hub"));
        const char *op = json_string_value(json_object_get(in, "op"));
        const char *key = json_string_value(json_object_get(in, "key"));
        json_t *typed = json_object_get(in, "values");
        if (!hub || !op || !key || !json_is_object(typed)) {
            snprintf(err, errlen, "%s: row %zu: want hub, op, key, values",
                     path, i + 1);
            json_decref(doc);
            return -1;
        }
        json_t *values = json_object();
        const char *column;
        json_t *v;
        int oom = !values;
        json_object_foreach(typed, column, v)
        {
            if (oom || add_column(d, column) < 0) {
                oom = 1;
                break;
            }
            char *text = columns_text_of(v, &oom);
            if (oom ||
                json_object_set_new(values, column,
                                    text ? json_string(text) : json_null()))
                oom = 1;
            free(text);
        }
        json_t *row =
            oom ? NULL
                : make_row(hub, op, key,
                           json_integer_value(json_object_get(in, "change")),
                           values);
        if (!row)
            json_decref(values);
        if (!row || put_row(d, row) < 0) {
            json_decref(row);
            json_decref(doc);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        json_decref(row);
    }
    json_decref(doc);
    return 0;
}

static void file_path(const char *dir, const char *name,
                      enum sink_format format, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.%s", dir, name,
             format == SINK_CSV ? "csv" : "json");
}

int dataset_open(const char *dir, const char *name, enum sink_format format,
                 struct dataset **out, bool *had_file, char *err, size_t errlen)
{
    *out = NULL;
    *had_file = false;
    struct dataset *d = calloc(1, sizeof *d);
    if (!d || !(d->rows = json_object()) || !(d->changes = json_array())) {
        dataset_destroy(&d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(d->name, sizeof d->name, "%s", name);
    if (dir) {
        char path[4096];
        file_path(dir, name, format, path, sizeof path);
        if (access(path, F_OK) == 0) {
            *had_file = true;
            int rc = format == SINK_CSV ? load_csv(d, path, err, errlen)
                                        : load_json(d, path, err, errlen);
            if (rc < 0) {
                dataset_destroy(&d);
                return -1;
            }
        }
    }
    *out = d;
    return 0;
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

static bool is_null(const Wardsync__V1__Row *row, size_t i)
{
    for (size_t k = 0; k < row->n_nulls; k++)
        if (row->nulls[k] == i)
            return true;
    return false;
}

int dataset_stage_page(struct dataset *d, const char *hub,
                       const Wardsync__V1__PullPage *page, json_t *staged)
{
    for (size_t c = 0; c < page->n_columns; c++)
        if (add_column(d, page->columns[c]) < 0)
            return -1;
    for (size_t r = 0; r < page->n_rows; r++) {
        const Wardsync__V1__Row *in = page->rows[r];
        json_t *values = json_object();
        for (size_t c = 0; values && c < page->n_columns; c++) {
            json_t *v = (c < in->n_values && !is_null(in, c))
                            ? json_string(in->values[c])
                            : json_null();
            if (!v || json_object_set_new(values, page->columns[c], v) != 0) {
                json_decref(values);
                values = NULL;
            }
        }
        json_t *row = values ? make_row(hub, op_name(in->op), in->key,
                                        (long long)in->change, values)
                             : NULL;
        if (!row)
            json_decref(values);
        if (!row || json_array_append_new(staged, row) != 0)
            return -1;
    }
    return 0;
}

int dataset_apply(struct dataset *d, const char *hub, const json_t *staged,
                  bool replace_hub)
{
    if (replace_hub) {
        const char *id;
        json_t *row;
        void *tmp;
        json_object_foreach_safe(d->rows, tmp, id, row)
        {
            const char *h = json_string_value(json_object_get(row, "hub"));
            if (h && strcmp(h, hub) == 0)
                json_object_del(d->rows, id);
        }
    }
    size_t i;
    json_t *row;
    json_array_foreach(staged, i, row)
    {
        char id[1024];
        const char *key = json_string_value(json_object_get(row, "key"));
        const char *op = json_string_value(json_object_get(row, "op"));
        if (!key || !op || row_id(hub, key, id, sizeof id) < 0)
            continue; /* a key longer than any hub makes */
        if (strcmp(op, "delete") == 0)
            json_object_del(d->rows, id);
        else if (json_object_set(d->rows, id, row) != 0)
            return -1;
        if (json_array_append(d->changes, row) != 0)
            return -1;
    }
    return 0;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every row, sorted by hub then key (the ids sort so). */
static json_t *sorted_rows(const struct dataset *d)
{
    size_t n = json_object_size(d->rows);
    const char **ids = calloc(n + 1, sizeof *ids);
    json_t *out = json_array();
    if (!ids || !out) {
        free(ids);
        json_decref(out);
        return NULL;
    }
    size_t k = 0;
    const char *id;
    json_t *row;
    json_object_foreach(d->rows, id, row) ids[k++] = id;
    qsort(ids, k, sizeof *ids, compare_ids);
    for (size_t i = 0; i < k; i++)
        if (json_array_append(out, json_object_get(d->rows, ids[i])) != 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    free(ids);
    return out;
}

int dataset_write(struct dataset *d, const char *dir, enum sink_format format,
                  const char *stamp, char *err, size_t errlen)
{
    char path[4096];
    file_path(dir, d->name, format, path, sizeof path);
    json_t *all = sorted_rows(d);
    if (!all) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = sink_write_file(path, format, d->name, d->columns, d->n_columns,
                             all, err, errlen);
    json_decref(all);
    if (rc < 0)
        return -1;
    char changes[3800];
    snprintf(changes, sizeof changes, "%s/changes", dir);
    if (mkdir(changes, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "could not create \"%s\": %s", changes,
                 strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s-%s.csv", changes, d->name, stamp);
    for (int n = 2; access(path, F_OK) == 0 && n < 1000; n++)
        snprintf(path, sizeof path, "%s/%s-%s-%d.csv", changes, d->name, stamp,
                 n);
    return sink_write_file(path, SINK_CSV, d->name, d->columns, d->n_columns,
                           d->changes, err, errlen);
}

int dataset_write_changes(struct dataset *d, FILE *f, enum sink_format format,
                          char *err, size_t errlen)
{
    return sink_write(f, format, d->name, d->columns, d->n_columns, d->changes,
                      false, err, errlen);
}

size_t dataset_size(const struct dataset *d)
{
    return json_object_size(d->rows);
}

size_t dataset_changed(const struct dataset *d)
{
    return json_array_size(d->changes);
}

char *const *dataset_columns(const struct dataset *d, size_t *n)
{
    *n = d->n_columns;
    return d->columns;
}

void dataset_destroy(struct dataset **dp)
{
    if (!dp || !*dp)
        return;
    struct dataset *d = *dp;
    for (size_t c = 0; c < d->n_columns; c++)
        free(d->columns[c]);
    json_decref(d->rows);
    json_decref(d->changes);
    free(d);
    *dp = NULL;
}
