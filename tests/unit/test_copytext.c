/*
 * test_copytext.c - the COPY text encoder of the hub's writer
 * (district-hub/core/copytext.c): what PostgreSQL reads back must be
 * exactly what was written, whatever the text holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/copytext.h"

/* The buffer as a NUL-terminated string (tests only write text). */
static const char *text_of(struct copytext *b)
{
    static char out[1024];
    assert_false(b->oom);
    assert_true(b->len < sizeof out);
    memcpy(out, b->data, b->len);
    out[b->len] = '\0';
    return out;
}

static void test_columns_and_rows(void **state)
{
    (void)state;
    struct copytext b = {0};
    copytext_int(&b, -42);
    copytext_null(&b);
    copytext_text(&b, "đơn thư");
    copytext_text_or_null(&b, "");
    copytext_end_row(&b);
    copytext_int(&b, 7);
    copytext_end_row(&b);
    assert_string_equal(text_of(&b), "-42\t\\N\tđơn thư\t\\N\n7\n");
    copytext_free(&b);
}

/* Backslash, tab, line feed and carriage return are the characters COPY
 * text gives a meaning; "\." alone on a line once ended the data. */
static void test_special_characters_are_escaped(void **state)
{
    (void)state;
    struct copytext b = {0};
    copytext_text(&b, "a\tb\nc\\d\re");
    copytext_end_row(&b);
    copytext_text(&b, "\\.");
    copytext_end_row(&b);
    assert_string_equal(text_of(&b), "a\\tb\\nc\\\\d\\re\n\\\\.\n");
    copytext_free(&b);
}

static void test_bytea_and_arrays(void **state)
{
    (void)state;
    struct copytext b = {0};
    const uint8_t bytes[] = {0x00, 0xab, 0x10};
    const uint32_t levels[] = {1, 3, 2};
    copytext_bytea(&b, bytes, sizeof bytes);
    copytext_uint_array(&b, levels, 3);
    copytext_uint_array(&b, levels, 0);
    copytext_end_row(&b);
    assert_string_equal(text_of(&b), "\\\\x00ab10\t{1,3,2}\t{}\n");
    copytext_free(&b);
}

static void test_array_literals_quote_every_element(void **state)
{
    (void)state;
    struct item {
        const char *name;
        int64_t n;
    } items[] = {{"LB01", 1}, {"a\"b\\c", -2}, {"", 0}};
    char *text = copytext_text_array(&items[0].name, sizeof items[0], 3);
    char *ints = copytext_int_array(&items[0].n, sizeof items[0], 3);
    assert_string_equal(text, "{\"LB01\",\"a\\\"b\\\\c\",\"\"}");
    assert_string_equal(ints, "{1,-2,0}");
    free(text);
    free(ints);
    char *empty = copytext_text_array(NULL, 0, 0);
    assert_string_equal(empty, "{}");
    free(empty);
}

/* reset keeps small buffers for the next group and gives large ones
 * back. */
static void test_reset_keeps_or_frees(void **state)
{
    (void)state;
    struct copytext b = {0};
    copytext_text(&b, "x");
    size_t cap = b.cap;
    copytext_reset(&b, cap);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.col, 0);
    copytext_reset(&b, cap - 1);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    copytext_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_and_rows),
        cmocka_unit_test(test_special_characters_are_escaped),
        cmocka_unit_test(test_bytea_and_arrays),
        cmocka_unit_test(test_array_literals_quote_every_element),
        cmocka_unit_test(test_reset_keeps_or_frees),
    };
    return cmocka_run_group_tests_name("unit_copytext", tests, NULL, NULL);
}
