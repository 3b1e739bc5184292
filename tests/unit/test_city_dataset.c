/*
 * test_city_dataset.c - city-pull's files (city-pull/dataset.c, sink.c,
 * columns.c): changes applied by key, the whole dataset written back and
 * read again, typed JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "columns.h"
#include "dataset.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wardsync-unit-city-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A page of petitions: rows "op key status" with history "[]". */
static void page_of(Wardsync__V1__PullPage *page, Wardsync__V1__Row *rows,
                    Wardsync__V1__Row **ptrs, char *(*values)[3], size_t n,
                    const char *const *spec)
{
    static char *columns[] = {"status", "history", "in_jurisdiction"};
    wardsync__v1__pull_page__init(page);
    page->n_columns = 3;
    page->columns = columns;
    for (size_t i = 0; i < n; i++) {
        wardsync__v1__row__init(&rows[i]);
        char op[16], key[32], status[32];
        sscanf(spec[i], "%15s %31s %31s", op, key, status);
        rows[i].op =
            strcmp(op, "insert") == 0   ? WARDSYNC__V1__ROW_OP__ROW_OP_INSERT
            : strcmp(op, "delete") == 0 ? WARDSYNC__V1__ROW_OP__ROW_OP_DELETE
                                        : WARDSYNC__V1__ROW_OP__ROW_OP_UPDATE;
        rows[i].key = strdup(key);
        rows[i].change = i + 1;
        values[i][0] = strdup(status);
        values[i][1] = strdup("[{\"note\":\"Bồ Đề\"}]");
        values[i][2] = strdup("true");
        rows[i].n_values = 3;
        rows[i].values = values[i];
        ptrs[i] = &rows[i];
    }
    page->n_rows = n;
    page->rows = ptrs;
}

static void page_free(Wardsync__V1__Row *rows, char *(*values)[3], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].key);
        for (int c = 0; c < 3; c++)
            free(values[i][c]);
    }
}

/* One run: open the dataset, apply the page from hub, write. */
static void run(enum sink_format format, const char *hub,
                const char *const *spec, size_t n, bool from_start)
{
    Wardsync__V1__PullPage page;
    Wardsync__V1__Row rows[8], *ptrs[8];
    char *values[8][3];
    page_of(&page, rows, ptrs, values, n, spec);
    struct dataset *d = NULL;
    bool had = false;
    char err[512];
    assert_int_equal(
        dataset_open(dir, "petitions", format, &d, &had, err, sizeof err), 0);
    json_t *staged = json_array();
    assert_int_equal(dataset_stage_page(d, hub, &page, staged), 0);
    assert_int_equal(dataset_apply(d, hub, staged, from_start), 0);
    json_decref(staged);
    if (dataset_write(d, dir, format, "20261201T000000", err, sizeof err) != 0)
        fail_msg("%s", err);
    dataset_destroy(&d);
    page_free(rows, values, n);
}

static json_t *rows_of_json(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/petitions.json", dir);
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    json_t *rows = json_incref(json_object_get(doc, "rows"));
    json_decref(doc);
    return rows;
}

static void test_changes_apply_by_key_json(void **state)
{
    (void)state;
    const char *first[] = {"insert P-1 received", "insert P-2 received",
                           "insert P-3 received"};
    run(SINK_JSON, "A", first, 3, true);
    const char *other[] = {"insert P-1 accepted"};
    run(SINK_JSON, "B", other, 1, true);
    const char *second[] = {"update P-2 resolved", "delete P-3 x",
                            "insert P-4 received"};
    run(SINK_JSON, "A", second, 3, false);
    json_t *rows = rows_of_json();
    /* A: P-1, P-2 (corrected), P-4; B: P-1 — sorted by hub and key. */
    assert_int_equal(json_array_size(rows), 4);
    const char *want[][3] = {{"A", "P-1", "received"},
                             {"A", "P-2", "resolved"},
                             {"A", "P-4", "received"},
                             {"B", "P-1", "accepted"}};
    for (size_t i = 0; i < 4; i++) {
        json_t *r = json_array_get(rows, i);
        json_t *v = json_object_get(r, "values");
        assert_string_equal(json_string_value(json_object_get(r, "hub")),
                            want[i][0]);
        assert_string_equal(json_string_value(json_object_get(r, "key")),
                            want[i][1]);
        assert_string_equal(json_string_value(json_object_get(v, "status")),
                            want[i][2]);
        /* Typed: the history an array, the flag a boolean. */
        assert_true(json_is_array(json_object_get(v, "history")));
        assert_true(json_is_true(json_object_get(v, "in_jurisdiction")));
    }
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(rows, 1), "op")),
        "update");
    json_decref(rows);
    /* The second run of A wrote its changes, the deletion among them. */
    char path[128];
    snprintf(path, sizeof path, "%s/changes/petitions-20261201T000000-3.csv",
             dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "A,delete,P-3,"));
    assert_non_null(strstr(buf, "A,update,P-2,"));
    assert_null(strstr(buf, "P-1"));
}

static void test_csv_round_trip_and_full_replace(void **state)
{
    (void)state;
    const char *first[] = {"insert P-1 received", "insert P-2 received"};
    run(SINK_CSV, "A", first, 2, true);
    const char *second[] = {"update P-1 \"thụ,lý\""};
    run(SINK_CSV, "A", second, 1, false);
    struct dataset *d = NULL;
    bool had = false;
    char err[256];
    assert_int_equal(
        dataset_open(dir, "petitions", SINK_CSV, &d, &had, err, sizeof err), 0);
    assert_true(had);
    assert_int_equal(dataset_size(d), 2);
    dataset_destroy(&d);
    /* From the beginning: the hub's rows are what it sends now. */
    const char *full[] = {"insert P-9 received"};
    run(SINK_CSV, "A", full, 1, true);
    assert_int_equal(
        dataset_open(dir, "petitions", SINK_CSV, &d, &had, err, sizeof err), 0);
    assert_int_equal(dataset_size(d), 1);
    dataset_destroy(&d);
}

static void test_column_types(void **state)
{
    (void)state;
    assert_int_equal(columns_type("sync_status", "backlog"), COLUMN_INTEGER);
    assert_int_equal(columns_type("indicators", "value"), COLUMN_NUMERIC);
    assert_int_equal(columns_type("petitions", "history"), COLUMN_JSON);
    assert_int_equal(columns_type("petitions", "note"), COLUMN_TEXT);
    json_t *v = columns_json_value(COLUMN_NUMERIC, "0.25");
    assert_true(json_is_real(v));
    json_decref(v);
    v = columns_json_value(COLUMN_INTEGER, "42");
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);
    /* Not what the type says: kept as text, never lost. */
    v = columns_json_value(COLUMN_INTEGER, "<10");
    assert_string_equal(json_string_value(v), "<10");
    json_decref(v);
    v = columns_json_value(COLUMN_TEXT, NULL);
    assert_true(json_is_null(v));
    json_decref(v);
    int oom = 0;
    json_t *a = json_loads("[1,{\"a\":\"b\"}]", 0, NULL);
    char *text = columns_text_of(a, &oom);
    assert_string_equal(text, "[1,{\"a\":\"b\"}]");
    free(text);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changes_apply_by_key_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_csv_round_trip_and_full_replace,
                                        setup, teardown),
        cmocka_unit_test(test_column_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
