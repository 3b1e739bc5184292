/*
 * test_catalogue.c - the shipped catalogue and the loader's checks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wardsync/catalogue.h"

static const struct ws_catalogue_entry *
entry(const struct ws_catalogue_entry *entries, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].code, code) == 0)
            return &entries[i];
    }
    return NULL;
}

static void test_shipped_catalogue(void **state)
{
    struct ws_catalogue *cat = NULL;
    const struct ws_catalogue_form *leadership, *staff;
    char err[256] = "";
    size_t used[26] = {0};

    (void)state;
    if (ws_catalogue_load(WS_TEST_CATALOGUE, &cat, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cat->n_forms, 2);
    assert_int_equal(cat->n_groups, 6);
    assert_int_equal(cat->n_manifestations, 25);
    assert_int_equal(cat->n_levels, 3);
    assert_int_equal(cat->n_respondent_groups, 4);

    leadership = ws_catalogue_form(cat, "leadership");
    staff = ws_catalogue_form(cat, "staff");
    assert_non_null(leadership);
    assert_non_null(staff);
    assert_null(ws_catalogue_form(cat, "director"));
    assert_null(ws_catalogue_form(cat, NULL));
    assert_null(ws_catalogue_form(NULL, "staff"));
    assert_int_equal(leadership->n_items, 41);
    assert_int_equal(staff->n_items, 36);
    assert_string_equal(leadership->items[6].code, "L07");
    assert_string_equal(staff->items[0].code, "S01");

    for (size_t f = 0; f < cat->n_forms; f++) {
        const struct ws_catalogue_form *form = &cat->forms[f];

        for (size_t i = 0; i < form->n_items; i++) {
            const struct ws_catalogue_item *item = &form->items[i];
            const struct ws_catalogue_entry *m =
                entry(cat->manifestations, cat->n_manifestations,
                      item->manifestation);

            assert_int_equal(item->number, (int)i + 1);
            assert_non_null(m);
            assert_string_equal(item->group, m->parent);
            assert_non_null(entry(cat->groups, cat->n_groups, item->group));
            assert_non_null(item->label);
            assert_true(item->label[0] != '\0');
            used[atoi(item->manifestation + 1)]++;
        }
    }
    /* Every manifestation is refined by at least one item. */
    for (int m = 1; m <= 25; m++)
        assert_true(used[m] > 0);
    /* Every group holds at least one manifestation. */
    for (size_t g = 0; g < cat->n_groups; g++) {
        size_t n = 0;

        for (size_t m = 0; m < cat->n_manifestations; m++)
            n +=
                strcmp(cat->manifestations[m].parent, cat->groups[g].code) == 0;
        assert_true(n > 0);
    }

    assert_string_equal(cat->levels[0].code, "1");
    assert_string_equal(cat->levels[0].label, "Không có biểu hiện");
    assert_string_equal(cat->levels[1].label, "Có biểu hiện");
    assert_string_equal(cat->levels[2].label, "Biểu hiện rõ");
    assert_string_equal(cat->respondent_groups[0].label,
                        "Ban Thường vụ Đảng ủy phường");
    assert_string_equal(cat->respondent_groups[1].label,
                        "Cán bộ, công chức phường");
    assert_string_equal(cat->respondent_groups[2].label,
                        "Người hoạt động không chuyên trách phường");
    assert_string_equal(cat->respondent_groups[3].label, "Cán bộ tổ dân phố");
    /* The wording not yet available is marked as such. */
    assert_non_null(strstr(leadership->items[0].label, "[placeholder]"));

    ws_catalogue_destroy(&cat);
    assert_null(cat);
    ws_catalogue_destroy(&cat); /* NULL-safe */
    ws_catalogue_destroy(NULL);
}

/* Records in any order and columns in any order, BOM, CRLF, quoted labels
 * with commas, quotes and line breaks. */
static void test_small_catalogue(void **state)
{
    struct ws_catalogue *cat = NULL;
    const struct ws_catalogue_form *form;
    char err[256] = "";

    (void)state;
    if (ws_catalogue_load(WS_TEST_DATA "/catalogue_small.csv", &cat, err,
                          sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cat->n_forms, 2);
    form = ws_catalogue_form(cat, "short");
    assert_non_null(form);
    assert_string_equal(form->label, "Phiếu ngắn");
    assert_int_equal(form->n_items, 3);
    assert_int_equal(form->items[0].number, 1);
    assert_string_equal(form->items[0].code, "A1");
    assert_string_equal(form->items[0].label, "Mục một, có dấu phẩy");
    assert_string_equal(form->items[1].label, "Mục \"hai\"\nhai dòng");
    assert_string_equal(form->items[1].manifestation, "M2");
    assert_string_equal(form->items[1].group, "G2");
    assert_int_equal(form->items[2].number, 3);
    assert_string_equal(form->items[2].code, "A3");
    assert_string_equal(form->items[2].group, "G1");
    form = ws_catalogue_form(cat, "other");
    assert_non_null(form);
    assert_int_equal(form->n_items, 1);
    assert_int_equal(form->items[0].number, 1);
    /* Levels and respondent groups come out sorted by code. */
    assert_string_equal(cat->levels[0].label, "Không có biểu hiện");
    assert_string_equal(cat->levels[2].label, "Biểu hiện rõ");
    assert_int_equal(cat->n_respondent_groups, 3);
    assert_string_equal(cat->respondent_groups[0].label, "Nhóm A");
    assert_string_equal(cat->respondent_groups[2].label, "Nhóm C");
    ws_catalogue_destroy(&cat);
}

static const struct {
    const char *file;
    int rc;
    const char *error; /* after "path" */
} bad_files[] = {
    {"catalogue_unknown_manifestation.csv", -EINVAL,
     ":14: parent: item A4 names unknown manifestation \"M99\""},
    {"catalogue_missing_levels.csv", -EINVAL,
     ": 0 level records, want exactly 3"},
    {"catalogue_two_levels.csv", -EINVAL, ": 2 level records, want exactly 3"},
    {"catalogue_level_codes.csv", -EINVAL,
     ": level code \"4\" is not one of 1..3"},
    {"catalogue_unknown_group.csv", -EINVAL,
     ":14: parent: manifestation M3 names unknown group \"G9\""},
    {"catalogue_unknown_form.csv", -EINVAL,
     ":14: form: item A1 names unknown form \"long\""},
    {"catalogue_duplicate_item.csv", -EINVAL,
     ":14: code: item \"A2\" appears twice in form short"},
    {"catalogue_duplicate_group.csv", -EINVAL,
     ":14: code: group \"G1\" defined twice"},
    {"catalogue_no_items.csv", -EINVAL, ": form short has no items"},
    {"catalogue_no_respondent_groups.csv", -EINVAL,
     ": no respondent_group records"},
    {"catalogue_bad_header.csv", -EINVAL,
     ":1: header: unknown column \"title\""},
    {"catalogue_unknown_record.csv", -EINVAL,
     ":14: record: unknown record type \"question\""},
    {"catalogue_field_count.csv", -EINVAL, ":14: expected 5 fields, found 4"},
    {"catalogue_bad_code.csv", -EINVAL, ":14: code: character 2"},
    {"catalogue_empty_label.csv", -EINVAL, ":14: label: empty"},
    {"catalogue_unterminated.csv", -EBADMSG, ":14: unterminated quoted field"},
    {"catalogue_bad_utf8.csv", -EINVAL, ":14: label: not valid UTF-8"},
    {"catalogue_empty.csv", -EINVAL, ": empty file"},
    {"no_such_catalogue.csv", -ENOENT, "\": No such file or directory"},
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        char path[512], want[768], err[512] = "";
        struct ws_catalogue *cat = (void *)1;
        int rc;

        snprintf(path, sizeof(path), "%s/%s", WS_TEST_DATA, bad_files[i].file);
        snprintf(want, sizeof(want), "%s%s", path, bad_files[i].error);
        rc = ws_catalogue_load(path, &cat, err, sizeof(err));
        if (rc != bad_files[i].rc)
            fail_msg("%s: rc %d, want %d (%s)", bad_files[i].file, rc,
                     bad_files[i].rc, err);
        assert_null(cat);
        if (strstr(err, want) == NULL)
            fail_msg("%s: error \"%s\", want \"%s\"", bad_files[i].file, err,
                     want);
    }
}

static void test_default_path(void **state)
{
    struct ws_catalogue *cat = NULL;
    char err[256] = "";
    char path[4096];

    (void)state;
    setenv("WARDSYNC_CATALOGUE", WS_TEST_DATA "/catalogue_small.csv", 1);
    assert_int_equal(ws_catalogue_default_path(path, sizeof path), 0);
    assert_string_equal(path, WS_TEST_DATA "/catalogue_small.csv");
    unsetenv("WARDSYNC_CATALOGUE");
    /* Else catalogue.csv in the data folder, never the source tree. */
    setenv("WARDSYNC_DATA_DIR", WS_TEST_DATA_DIR, 1);
    assert_int_equal(ws_catalogue_default_path(path, sizeof path), 0);
    assert_string_equal(path, WS_TEST_DATA_DIR "/catalogue.csv");
    if (ws_catalogue_load(path, &cat, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(cat->n_forms, 2);
    ws_catalogue_destroy(&cat);
    unsetenv("WARDSYNC_DATA_DIR");
    assert_int_equal(ws_catalogue_default_path(path, sizeof path), 0);
    assert_null(strstr(path, "common/data"));
    assert_non_null(strstr(path, "share/wardsync/catalogue.csv"));
    assert_int_equal(ws_catalogue_default_path(path, 8), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_catalogue),
        cmocka_unit_test(test_small_catalogue),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_default_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
