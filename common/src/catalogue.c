/*
 * catalogue.c - loading and checking the identification catalogue.
 *
 * The file is read in one pass into rows, then the catalogue is built from
 * the rows in a second pass, so records may come in any order (an item may
 * name a manifestation defined further down). Every error names the file and
 * the line of the row at fault.
 */
#include "wardsync/catalogue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wardsync/csv.h"
#include "wardsync/paths.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

enum record_kind {
    RECORD_GROUP,
    RECORD_MANIFESTATION,
    RECORD_FORM,
    RECORD_ITEM,
    RECORD_LEVEL,
    RECORD_RESPONDENT_GROUP,
};

static const char *const record_names[] = {
    [RECORD_GROUP] = "group", [RECORD_MANIFESTATION] = "manifestation",
    [RECORD_FORM] = "form",   [RECORD_ITEM] = "item",
    [RECORD_LEVEL] = "level", [RECORD_RESPONDENT_GROUP] = "respondent_group",
};

enum column { COL_RECORD, COL_FORM, COL_CODE, COL_PARENT, COL_LABEL, N_COLS };

static const char *const column_names[N_COLS] = {"record", "form", "code",
                                                 "parent", "label"};

struct row {
    enum record_kind kind;
    long line;
    char form[WS_CODE_MAX];
    char code[WS_CODE_MAX];
    char parent[WS_CODE_MAX];
    char *label;
};

struct loader {
    const char *path;
    char *err;
    size_t errlen;
    struct row *rows;
    size_t n_rows;
    size_t cap_rows;
};

static int fail(struct loader *ld, long line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "path:line: reason" (or "path: reason" when line is 0). */
static int fail(struct loader *ld, long line, int code, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (ld->err != NULL && ld->errlen > 0) {
        if (line > 0)
            snprintf(ld->err, ld->errlen, "%s:%ld: %s", ld->path, line, reason);
        else
            snprintf(ld->err, ld->errlen, "%s: %s", ld->path, reason);
    }
    return code;
}

static void free_rows(struct loader *ld)
{
    for (size_t i = 0; i < ld->n_rows; i++)
        free(ld->rows[i].label);
    free(ld->rows);
    ld->rows = NULL;
    ld->n_rows = 0;
}

/* A code column: empty allowed only when !required. */
static int take_code(struct loader *ld, long line, const char *column,
                     const char *value, bool required, char out[WS_CODE_MAX])
{
    char reason[160];

    if (value[0] == '\0') {
        if (required)
            return fail(ld, line, -EINVAL, "%s: empty", column);
        out[0] = '\0';
        return 0;
    }
    if (strlen(value) >= WS_CODE_MAX)
        return fail(ld, line, -EINVAL, "%s: longer than %d bytes", column,
                    WS_CODE_MAX - 1);
    if (ws_validate_code(column, value, reason, sizeof(reason)) != 0)
        return fail(ld, line, -EINVAL, "%s", reason);
    ws_strlcpy(out, value, WS_CODE_MAX);
    return 0;
}

static int parse_record_kind(const char *name)
{
    for (size_t i = 0; i < sizeof(record_names) / sizeof(record_names[0]);
         i++) {
        if (strcmp(name, record_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static int add_row(struct loader *ld, const struct ws_csv_record *rec,
                   const int *column_of)
{
    const char *value[N_COLS];
    struct row row = {0};
    int kind;
    int rc;

    for (int c = 0; c < N_COLS; c++) {
        size_t i = (size_t)column_of[c];

        value[c] = rec->fields[i];
        if (!ws_utf8_valid(rec->fields[i], rec->lengths[i]))
            return fail(ld, rec->line, -EINVAL,
                        "%s: not valid UTF-8 (or holds a NUL byte)",
                        column_names[c]);
    }
    kind = parse_record_kind(value[COL_RECORD]);
    if (kind < 0)
        return fail(ld, rec->line, -EINVAL,
                    "record: unknown record type \"%.40s\", want group, "
                    "manifestation, form, item, level or respondent_group",
                    value[COL_RECORD]);
    row.kind = (enum record_kind)kind;
    row.line = rec->line;

    rc = take_code(ld, rec->line, "code", value[COL_CODE], true, row.code);
    if (rc < 0)
        return rc;
    rc = take_code(ld, rec->line, "form", value[COL_FORM], kind == RECORD_ITEM,
                   row.form);
    if (rc < 0)
        return rc;
    if (kind != RECORD_ITEM && row.form[0] != '\0')
        return fail(ld, rec->line, -EINVAL,
                    "form: only item records name a form");
    rc = take_code(ld, rec->line, "parent", value[COL_PARENT],
                   kind == RECORD_ITEM || kind == RECORD_MANIFESTATION,
                   row.parent);
    if (rc < 0)
        return rc;
    if (kind != RECORD_ITEM && kind != RECORD_MANIFESTATION &&
        row.parent[0] != '\0')
        return fail(ld, rec->line, -EINVAL,
                    "parent: only manifestation and item records have a "
                    "parent");
    if (value[COL_LABEL][0] == '\0')
        return fail(ld, rec->line, -EINVAL, "label: empty");

    if (ld->n_rows == ld->cap_rows) {
        size_t cap = ld->cap_rows ? ld->cap_rows * 2 : 128;
        struct row *rows = realloc(ld->rows, cap * sizeof(*rows));

        if (rows == NULL)
            return fail(ld, rec->line, -ENOMEM, "out of memory");
        ld->rows = rows;
        ld->cap_rows = cap;
    }
    row.label = strdup(value[COL_LABEL]);
    if (row.label == NULL)
        return fail(ld, rec->line, -ENOMEM, "out of memory");
    ld->rows[ld->n_rows++] = row;
    return 0;
}

static int read_header(struct loader *ld, const struct ws_csv_record *rec,
                       int *column_of)
{
    for (int c = 0; c < N_COLS; c++)
        column_of[c] = -1;
    for (size_t i = 0; i < rec->n_fields; i++) {
        int found = -1;

        for (int c = 0; c < N_COLS; c++) {
            if (strcmp(rec->fields[i], column_names[c]) == 0)
                found = c;
        }
        if (found < 0)
            return fail(ld, rec->line, -EINVAL,
                        "header: unknown column \"%.40s\", want "
                        "record,form,code,parent,label",
                        rec->fields[i]);
        if (column_of[found] >= 0)
            return fail(ld, rec->line, -EINVAL,
                        "header: column \"%s\" appears twice",
                        column_names[found]);
        column_of[found] = (int)i;
    }
    for (int c = 0; c < N_COLS; c++) {
        if (column_of[c] < 0)
            return fail(ld, rec->line, -EINVAL,
                        "header: column \"%s\" is missing", column_names[c]);
    }
    return 0;
}

static int read_rows(struct loader *ld)
{
    char csv_err[200];
    struct ws_csv_reader *reader;
    struct ws_csv_record rec;
    int column_of[N_COLS];
    bool have_header = false;
    int rc;

    reader = ws_csv_open(ld->path, csv_err, sizeof(csv_err));
    if (reader == NULL) {
        rc = errno ? -errno : -EIO;
        if (ld->err != NULL && ld->errlen > 0)
            snprintf(ld->err, ld->errlen, "%s", csv_err);
        return rc;
    }
    while ((rc = ws_csv_next(reader, &rec, csv_err, sizeof(csv_err))) > 0) {
        if (!have_header) {
            rc = read_header(ld, &rec, column_of);
            if (rc < 0)
                goto close_reader;
            have_header = true;
            continue;
        }
        if (rec.n_fields != N_COLS) {
            rc = fail(ld, rec.line, -EINVAL, "expected %d fields, found %zu",
                      N_COLS, rec.n_fields);
            goto close_reader;
        }
        rc = add_row(ld, &rec, column_of);
        if (rc < 0)
            goto close_reader;
    }
    if (rc < 0) {
        /* The reader's reason starts with "line N: "; make it "path:N: ". */
        long line;
        int skip = 0;

        if (sscanf(csv_err, "line %ld: %n", &line, &skip) == 1 && skip > 0)
            fail(ld, line, rc, "%s", csv_err + skip);
        else
            fail(ld, 0, rc, "%s", csv_err);
        goto close_reader;
    }
    if (!have_header)
        rc = fail(ld, 0, -EINVAL,
                  "empty file, want the header "
                  "record,form,code,parent,label");

close_reader:
    ws_csv_close(&reader);
    return rc < 0 ? rc : 0;
}

static struct ws_catalogue_entry *find_entry(struct ws_catalogue_entry *entries,
                                             size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].code, code) == 0)
            return &entries[i];
    }
    return NULL;
}

static struct ws_catalogue_form *find_form(struct ws_catalogue *cat,
                                           const char *code)
{
    for (size_t i = 0; i < cat->n_forms; i++) {
        if (strcmp(cat->forms[i].code, code) == 0)
            return &cat->forms[i];
    }
    return NULL;
}

static size_t count_kind(const struct loader *ld, enum record_kind kind)
{
    size_t n = 0;

    for (size_t i = 0; i < ld->n_rows; i++)
        n += ld->rows[i].kind == kind;
    return n;
}

/* Moves the label of a row into an entry (the row no longer owns it). */
static int add_entry(struct loader *ld, struct row *row,
                     struct ws_catalogue_entry *entries, size_t *n,
                     const char *what)
{
    if (find_entry(entries, *n, row->code) != NULL)
        return fail(ld, row->line, -EINVAL, "code: %s \"%s\" defined twice",
                    what, row->code);
    ws_strlcpy(entries[*n].code, row->code, WS_CODE_MAX);
    ws_strlcpy(entries[*n].parent, row->parent, WS_CODE_MAX);
    entries[*n].label = row->label;
    row->label = NULL;
    (*n)++;
    return 0;
}

/* Levels and respondent groups are numbered: codes must be 1..n, each once,
 * and are stored in that order so that entries[k - 1] is code k. */
static int check_numbered(struct loader *ld, struct ws_catalogue_entry *entries,
                          size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        char *end;
        long v = strtol(entries[i].code, &end, 10);

        if (*end != '\0' || v < 1 || (size_t)v > n || entries[i].code[0] == '0')
            return fail(ld, 0, -EINVAL, "%s code \"%s\" is not one of 1..%zu",
                        what, entries[i].code, n);
    }
    /* n is tiny (3 or 4): a selection sort keeps this obvious. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (atol(entries[j].code) < atol(entries[i].code)) {
                struct ws_catalogue_entry tmp = entries[i];

                entries[i] = entries[j];
                entries[j] = tmp;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (atol(entries[i].code) != (long)i + 1)
            return fail(ld, 0, -EINVAL, "%s codes must be 1..%zu", what, n);
    }
    return 0;
}

static int build(struct loader *ld, struct ws_catalogue *cat)
{
    int rc;

    cat->groups =
        calloc(count_kind(ld, RECORD_GROUP) + 1, sizeof(*cat->groups));
    cat->manifestations = calloc(count_kind(ld, RECORD_MANIFESTATION) + 1,
                                 sizeof(*cat->manifestations));
    cat->forms = calloc(count_kind(ld, RECORD_FORM) + 1, sizeof(*cat->forms));
    cat->levels =
        calloc(count_kind(ld, RECORD_LEVEL) + 1, sizeof(*cat->levels));
    cat->respondent_groups = calloc(count_kind(ld, RECORD_RESPONDENT_GROUP) + 1,
                                    sizeof(*cat->respondent_groups));
    if (cat->groups == NULL || cat->manifestations == NULL ||
        cat->forms == NULL || cat->levels == NULL ||
        cat->respondent_groups == NULL)
        return fail(ld, 0, -ENOMEM, "out of memory");

    /* Pass 1: everything but items. */
    for (size_t i = 0; i < ld->n_rows; i++) {
        struct row *row = &ld->rows[i];

        switch (row->kind) {
        case RECORD_GROUP:
            rc = add_entry(ld, row, cat->groups, &cat->n_groups, "group");
            break;
        case RECORD_MANIFESTATION:
            rc = add_entry(ld, row, cat->manifestations, &cat->n_manifestations,
                           "manifestation");
            break;
        case RECORD_LEVEL:
            rc = add_entry(ld, row, cat->levels, &cat->n_levels, "level");
            break;
        case RECORD_RESPONDENT_GROUP:
            rc = add_entry(ld, row, cat->respondent_groups,
                           &cat->n_respondent_groups, "respondent_group");
            break;
        case RECORD_FORM:
            if (find_form(cat, row->code) != NULL)
                return fail(ld, row->line, -EINVAL,
                            "code: form \"%s\" defined twice", row->code);
            struct ws_catalogue_form *form = &cat->forms[cat->n_forms++];
            ws_strlcpy(form->code, row->code, WS_CODE_MAX);
            form->label = row->label;
            row->label = NULL;
            rc = 0;
            break;
        default:
            rc = 0;
            break;
        }
        if (rc < 0)
            return rc;
    }

    /* Pass 2: references. */
    for (size_t i = 0; i < ld->n_rows; i++) {
        const struct row *row = &ld->rows[i];

        if (row->kind == RECORD_MANIFESTATION &&
            find_entry(cat->groups, cat->n_groups, row->parent) == NULL)
            return fail(ld, row->line, -EINVAL,
                        "parent: manifestation %s names unknown group \"%s\"",
                        row->code, row->parent);
    }
    for (size_t f = 0; f < cat->n_forms; f++) {
        struct ws_catalogue_form *form = &cat->forms[f];
        size_t n = 0;

        for (size_t i = 0; i < ld->n_rows; i++)
            n += ld->rows[i].kind == RECORD_ITEM &&
                 strcmp(ld->rows[i].form, form->code) == 0;
        form->items = calloc(n + 1, sizeof(*form->items));
        if (form->items == NULL)
            return fail(ld, 0, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ld->n_rows; i++) {
        struct row *row = &ld->rows[i];
        struct ws_catalogue_form *form;
        const struct ws_catalogue_entry *manifestation;
        struct ws_catalogue_item *item;

        if (row->kind != RECORD_ITEM)
            continue;
        form = find_form(cat, row->form);
        if (form == NULL)
            return fail(ld, row->line, -EINVAL,
                        "form: item %s names unknown form \"%s\"", row->code,
                        row->form);
        manifestation =
            find_entry(cat->manifestations, cat->n_manifestations, row->parent);
        if (manifestation == NULL)
            return fail(ld, row->line, -EINVAL,
                        "parent: item %s names unknown manifestation \"%s\"",
                        row->code, row->parent);
        for (size_t k = 0; k < form->n_items; k++) {
            if (strcmp(form->items[k].code, row->code) == 0)
                return fail(ld, row->line, -EINVAL,
                            "code: item \"%s\" appears twice in form %s",
                            row->code, form->code);
        }
        item = &form->items[form->n_items++];
        item->number = (int)form->n_items;
        ws_strlcpy(item->code, row->code, WS_CODE_MAX);
        ws_strlcpy(item->manifestation, manifestation->code, WS_CODE_MAX);
        ws_strlcpy(item->group, manifestation->parent, WS_CODE_MAX);
        item->label = row->label;
        row->label = NULL;
    }

    /* Whole-file rules. */
    if (cat->n_forms == 0)
        return fail(ld, 0, -EINVAL, "no form records, want at least one");
    for (size_t f = 0; f < cat->n_forms; f++) {
        if (cat->forms[f].n_items == 0)
            return fail(ld, 0, -EINVAL, "form %s has no items",
                        cat->forms[f].code);
    }
    if (cat->n_levels != 3)
        return fail(ld, 0, -EINVAL, "%zu level records, want exactly 3",
                    cat->n_levels);
    rc = check_numbered(ld, cat->levels, cat->n_levels, "level");
    if (rc < 0)
        return rc;
    if (cat->n_respondent_groups == 0)
        return fail(ld, 0, -EINVAL,
                    "no respondent_group records, want at least one");
    return check_numbered(ld, cat->respondent_groups, cat->n_respondent_groups,
                          "respondent_group");
}

int ws_catalogue_load(const char *path, struct ws_catalogue **out, char *err,
                      size_t errlen)
{
    struct loader ld = {.path = path, .err = err, .errlen = errlen};
    struct ws_catalogue *cat;
    int rc;

    if (out == NULL || path == NULL)
        return -EINVAL;
    *out = NULL;
    cat = calloc(1, sizeof(*cat));
    if (cat == NULL)
        return fail(&ld, 0, -ENOMEM, "out of memory");
    rc = read_rows(&ld);
    if (rc < 0)
        goto fail_free;
    rc = build(&ld, cat);
    if (rc < 0)
        goto fail_free;
    free_rows(&ld);
    *out = cat;
    return 0;

fail_free:
    free_rows(&ld);
    ws_catalogue_destroy(&cat);
    return rc;
}

static void free_entries(struct ws_catalogue_entry *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(entries[i].label);
    free(entries);
}

void ws_catalogue_destroy(struct ws_catalogue **cat)
{
    struct ws_catalogue *c;

    if (cat == NULL || *cat == NULL)
        return;
    c = *cat;
    if (c->forms != NULL) {
        for (size_t f = 0; f < c->n_forms; f++) {
            if (c->forms[f].items != NULL) {
                for (size_t i = 0; i < c->forms[f].n_items; i++)
                    free(c->forms[f].items[i].label);
                free(c->forms[f].items);
            }
            free(c->forms[f].label);
        }
        free(c->forms);
    }
    free_entries(c->groups, c->n_groups);
    free_entries(c->manifestations, c->n_manifestations);
    free_entries(c->levels, c->n_levels);
    free_entries(c->respondent_groups, c->n_respondent_groups);
    free(c);
    *cat = NULL;
}

const struct ws_catalogue_form *
ws_catalogue_form(const struct ws_catalogue *cat, const char *code)
{
    if (cat == NULL || code == NULL)
        return NULL;
    for (size_t i = 0; i < cat->n_forms; i++) {
        if (strcmp(cat->forms[i].code, code) == 0)
            return &cat->forms[i];
    }
    return NULL;
}

int ws_catalogue_default_path(char *out, size_t outlen)
{
    const char *env = getenv("WARDSYNC_CATALOGUE");

    if (env != NULL && env[0] != '\0') {
        if (ws_strlcpy(out, env, outlen) >= outlen)
            return -ENAMETOOLONG;
        return 0;
    }
    return ws_data_path("catalogue.csv", out, outlen);
}
