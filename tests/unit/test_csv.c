/*
 * test_csv.c - the CSV reader (quotes, embedded commas and line breaks,
 * start lines, BOM, Vietnamese text, errors) and ws_csv_write_field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wardsync/csv.h"

/* Writes len bytes to a new temporary file; returns its path (static). */
static const char *temp_file(const void *data, size_t len)
{
    static char path[64];
    int fd;

    strcpy(path, "/tmp/wardsync-csv-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void expect_record(struct ws_csv_reader *r, long line, size_t n,
                          const char *const *fields)
{
    struct ws_csv_record rec;
    char err[200] = "";

    if (ws_csv_next(r, &rec, err, sizeof(err)) != 1)
        fail_msg("no record where line %ld was expected: %s", line, err);
    assert_int_equal(rec.line, line);
    assert_int_equal(rec.n_fields, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rec.fields[i], fields[i]);
        assert_int_equal(rec.lengths[i], strlen(fields[i]));
    }
}

static void expect_end(struct ws_csv_reader *r)
{
    struct ws_csv_record rec;
    char err[200] = "";

    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 0);
    /* And it stays at the end. */
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 0);
}

static void test_mixed_file(void **state)
{
    char err[200] = "";
    struct ws_csv_reader *r;

    (void)state;
    r = ws_csv_open(WS_TEST_DATA "/csv_mixed.csv", err, sizeof(err));
    assert_non_null(r);
    /* The BOM is not part of the first column name. */
    expect_record(r, 1, 3, (const char *[]){"petition", "kind", "note"});
    expect_record(
        r, 2, 3,
        (const char *[]){"LB01/1", "complaint", "Khiếu nại, về đất đai"});
    /* Line 3 is blank; the next record spans lines 4-7. */
    expect_record(r, 4, 3,
                  (const char *[]){"LB01/2", "reflection",
                                   "dòng một\r\ndòng hai\n\ndòng bốn"});
    /* Unquoted fields lose surrounding blanks; "" is a quote. */
    expect_record(
        r, 8, 3,
        (const char *[]){"LB01/3", "denunciation", "có \"ngoặc kép\""});
    expect_record(r, 9, 3, (const char *[]){"", "", ""});
    /* The last record has no line break. */
    expect_record(
        r, 10, 3,
        (const char *[]){"LB01/4", "recommendation",
                         "Tiếng Việt có dấu: Ủy ban nhân dân phường"});
    expect_end(r);
    ws_csv_close(&r);
    assert_null(r);
    ws_csv_close(&r); /* NULL-safe */
    ws_csv_close(NULL);
}

static void test_unterminated_quote(void **state)
{
    char err[200] = "";
    struct ws_csv_reader *r;
    struct ws_csv_record rec;

    (void)state;
    r = ws_csv_open(WS_TEST_DATA "/csv_unterminated.csv", err, sizeof(err));
    assert_non_null(r);
    expect_record(r, 1, 2, (const char *[]){"a", "b"});
    expect_record(r, 2, 2, (const char *[]){"1", "2"});
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EBADMSG);
    assert_string_equal(err, "line 3: unterminated quoted field");
    /* The error sticks. */
    err[0] = '\0';
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EBADMSG);
    assert_string_equal(err, "line 3: unterminated quoted field");
    ws_csv_close(&r);
}

static void test_bad_quote(void **state)
{
    char err[200] = "";
    struct ws_csv_reader *r;
    struct ws_csv_record rec;

    (void)state;
    r = ws_csv_open(WS_TEST_DATA "/csv_bad_quote.csv", err, sizeof(err));
    assert_non_null(r);
    expect_record(r, 1, 2, (const char *[]){"a", "b"});
    expect_record(r, 2, 2, (const char *[]){"1", "2"});
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "line 3: malformed quoting"));
    ws_csv_close(&r);

    /* Text after a closing quote. */
    static const char after[] = "\"x\"y,z\n";
    const char *path = temp_file(after, sizeof(after) - 1);
    r = ws_csv_open(path, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "line 1: "));
    ws_csv_close(&r);
    unlink(path);
}

static void test_empty_inputs(void **state)
{
    static const char *const inputs[] = {"", "\xef\xbb\xbf", "\n\n\r\n",
                                         "\xef\xbb\xbf\n  \n"};
    char err[200];

    (void)state;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        const char *path = temp_file(inputs[i], strlen(inputs[i]));
        struct ws_csv_reader *r = ws_csv_open(path, err, sizeof(err));

        assert_non_null(r);
        expect_end(r);
        ws_csv_close(&r);
        unlink(path);
    }
}

static void test_start_lines(void **state)
{
    /* Records after multi-line fields and blank lines keep exact lines. */
    static const char text[] = "\n"
                               "a,\"1\n2\n3\"\n"
                               "\n"
                               "b,\"\n\"\n"
                               "c,\"x\"\"\ny\"\n"
                               "d,4";
    char err[200];
    const char *path = temp_file(text, sizeof(text) - 1);
    struct ws_csv_reader *r = ws_csv_open(path, err, sizeof(err));

    (void)state;
    assert_non_null(r);
    expect_record(r, 2, 2, (const char *[]){"a", "1\n2\n3"});
    expect_record(r, 6, 2, (const char *[]){"b", "\n"});
    expect_record(r, 8, 2, (const char *[]){"c", "x\"\ny"});
    expect_record(r, 10, 2, (const char *[]){"d", "4"});
    expect_end(r);
    ws_csv_close(&r);
    unlink(path);
}

/* A field holding a NUL byte is reported with its real length. */
static void test_nul_in_field(void **state)
{
    static const char text[] = "a\0b,c\n";
    char err[200];
    const char *path = temp_file(text, sizeof(text) - 1);
    struct ws_csv_reader *r = ws_csv_open(path, err, sizeof(err));
    struct ws_csv_record rec;

    (void)state;
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.n_fields, 2);
    assert_int_equal(rec.lengths[0], 3);
    assert_memory_equal(rec.fields[0], "a\0b", 4);
    ws_csv_close(&r);
    unlink(path);
}

/* A line longer than the reader's buffer, and a record over 16 MiB. */
static void test_long_records(void **state)
{
    size_t big = 200000;
    char *text = malloc(big + 16);
    char err[200] = "";
    const char *path;
    struct ws_csv_reader *r;
    struct ws_csv_record rec;

    (void)state;
    memcpy(text, "x,\"", 3);
    memset(text + 3, 'y', big);
    memcpy(text + 3 + big, "\"\nz,1\n", 6);
    path = temp_file(text, big + 9);
    r = ws_csv_open(path, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.lengths[1], big);
    expect_record(r, 2, 2, (const char *[]){"z", "1"});
    ws_csv_close(&r);
    unlink(path);
    free(text);

    /* 17 MiB in one quoted field, spread over many lines. */
    FILE *f;
    char name[] = "/tmp/wardsync-csv-big-XXXXXX";
    int fd = mkstemp(name);

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("ok,1\n\"", f);
    for (int i = 0; i < 17 * 1024; i++) {
        char line[1024];

        memset(line, 'q', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\n';
        fwrite(line, 1, sizeof(line), f);
    }
    fputs("\"\n", f);
    fclose(f);
    r = ws_csv_open(name, err, sizeof(err));
    assert_non_null(r);
    expect_record(r, 1, 2, (const char *[]){"ok", "1"});
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EFBIG);
    assert_non_null(strstr(err, "line 2: record larger than"));
    ws_csv_close(&r);
    unlink(name);
}

static void test_open_missing(void **state)
{
    char err[200] = "";

    (void)state;
    assert_null(ws_csv_open("/nonexistent/x.csv", err, sizeof(err)));
    assert_string_equal(err, "could not open file \"/nonexistent/x.csv\": No "
                             "such file or directory");
}

/* Whatever ws_csv_write_field writes, the reader reads back unchanged. */
static void test_write_field_round_trip(void **state)
{
    static const char *const values[] = {
        "plain",
        "with,comma",
        "with \"quotes\"",
        "line\nbreak",
        "crlf\r\nbreak",
        " leading blank",
        "trailing blank\t",
        "Khiếu nại, \"gấp\"\nvề đất đai",
        "",
        "\"",
    };
    const size_t n = sizeof(values) / sizeof(values[0]);
    char name[] = "/tmp/wardsync-csv-w-XXXXXX";
    int fd = mkstemp(name);
    FILE *f;
    char err[200];
    struct ws_csv_reader *r;
    struct ws_csv_record rec;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            fputc(',', f);
        ws_csv_write_field(f, values[i]);
    }
    fputc('\n', f);
    ws_csv_write_field(f, "second");
    fputc(',', f);
    ws_csv_write_field(f, NULL);
    fputc('\n', f);
    fclose(f);

    r = ws_csv_open(name, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.n_fields, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(rec.fields[i], values[i]);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.line, 5); /* three line breaks in record 1 */
    assert_string_equal(rec.fields[0], "second");
    assert_string_equal(rec.fields[1], "");
    ws_csv_close(&r);
    unlink(name);
}

static void test_write_field_quoting(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    ws_csv_write_field(f, "LB01");
    fputc('|', f);
    ws_csv_write_field(f, "a,b");
    fputc('|', f);
    ws_csv_write_field(f, "say \"hi\"");
    fclose(f);
    assert_string_equal(buf, "LB01|\"a,b\"|\"say \"\"hi\"\"\"");
    free(buf);
}

static void test_detect_separator(void **state)
{
    (void)state;
    assert_int_equal(ws_csv_detect_separator("a,b,c\n", 6), ',');
    assert_int_equal(ws_csv_detect_separator("a;b;c\r\n1,5;2", 14), ';');
    assert_int_equal(ws_csv_detect_separator("a\tb\tc", 5), '\t');
    /* Inside quotes a separator does not count; a tie goes to ",". */
    assert_int_equal(ws_csv_detect_separator("\"a;b;c\",d", 9), ',');
    assert_int_equal(ws_csv_detect_separator("a,b;c", 5), ',');
    assert_int_equal(ws_csv_detect_separator("only", 4), ',');
    /* Only the first line is looked at. */
    assert_int_equal(ws_csv_detect_separator("a;b\nc,d,e,f", 11), ';');
}

static void expect_excel(const char *text, size_t len, size_t n_records,
                         size_t n_fields, const char *last_field)
{
    char err[600] = "";
    struct ws_csv_record rec;
    const char *path = temp_file(text, len);
    struct ws_csv_reader *r =
        ws_csv_open_with(path, WS_CSV_EXCEL, err, sizeof(err));
    size_t seen = 0;
    int rc;

    assert_non_null(r);
    while ((rc = ws_csv_next(r, &rec, err, sizeof(err))) == 1) {
        seen++;
        assert_int_equal(rec.n_fields, n_fields);
        if (seen == n_records)
            assert_string_equal(rec.fields[n_fields - 1], last_field);
    }
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(seen, n_records);
    ws_csv_close(&r);
    unlink(path);
}

static void test_excel_separators(void **state)
{
    (void)state;
    /* ";" with a quoted ";" and a decimal comma. */
    expect_excel("a;b;c\r\n1;\"x;y\";2,5\r\n", 20, 2, 3, "2,5");
    /* Tab: an empty cell between two tabs is a field, not a blank. */
    expect_excel("a\tb\tc\n1\t\t3\n", 11, 2, 3, "3");
    /* Without WS_CSV_EXCEL the separator stays ",". */
    char err[200];
    struct ws_csv_record rec;
    const char *path = temp_file("a;b;c\n", 6);
    struct ws_csv_reader *r = ws_csv_open(path, err, sizeof(err));
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.n_fields, 1);
    assert_int_equal(ws_csv_separator(r), ',');
    ws_csv_close(&r);
    unlink(path);
}

/* A UTF-8 sequence cut by the end of a 64 KiB read is whole at the next. */
static void test_excel_sequence_across_reads(void **state)
{
    size_t len = 65536 + 64;
    char *text = malloc(len);
    char err[600] = "";
    struct ws_csv_record rec;
    size_t at = 0;

    (void)state;
    assert_non_null(text);
    at += (size_t)sprintf(text, "note\n\"");
    while (at < 65535)
        text[at++] = 'a';
    /* "ế" (3 bytes) starting one byte before the end of the first read */
    memcpy(text + at, "\xe1\xba\xbf", 3);
    at += 3;
    at += (size_t)sprintf(text + at, "\"\n");
    const char *path = temp_file(text, at);
    struct ws_csv_reader *r =
        ws_csv_open_with(path, WS_CSV_EXCEL, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    if (ws_csv_next(r, &rec, err, sizeof(err)) != 1)
        fail_msg("%s", err);
    assert_int_equal(rec.lengths[0], 65535 - 6 + 3);
    assert_string_equal(rec.fields[0] + rec.lengths[0] - 3, "\xe1\xba\xbf");
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 0);
    ws_csv_close(&r);
    unlink(path);
    free(text);
}

static void test_excel_not_utf8(void **state)
{
    char err[600] = "";
    struct ws_csv_record rec;
    /* Windows-1258: line 3 is the first with a byte above 0x7f. */
    static const char text[] = "a,b\n1,2\nkh\xf4"
                               "ng,3\n\xd0"
                               "i,4\n";
    const char *path = temp_file(text, sizeof(text) - 1);
    struct ws_csv_reader *r =
        ws_csv_open_with(path, WS_CSV_EXCEL, err, sizeof(err));

    (void)state;
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EILSEQ);
    assert_non_null(strstr(err, "line 3: the file is not UTF-8 text"));
    assert_non_null(strstr(err, "CSV UTF-8"));
    /* Sticky: the same one error again. */
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EILSEQ);
    ws_csv_close(&r);
    /* A plain reader reads the bytes as they are. */
    r = ws_csv_open(path, err, sizeof(err));
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_string_equal(rec.fields[0], "kh\xf4"
                                       "ng");
    ws_csv_close(&r);
    unlink(path);
}

static void test_excel_utf16(void **state)
{
    char err[600] = "";
    struct ws_csv_record rec;
    /* "a;ế\r\n" in UTF-16LE with BOM, then without BOM (ASCII). */
    static const char le[] = "\xff\xfe"
                             "a\0;\0\xbf\x1e\r\0\n\0"
                             "1\0;\0"
                             "2\0";
    static const char bare[] = "a\0,\0b\0\n\0";
    static const char odd[] = "\xff\xfe"
                              "a\0,\0b"; /* ends inside a unit */
    const char *path = temp_file(le, sizeof(le) - 1);
    struct ws_csv_reader *r =
        ws_csv_open_with(path, WS_CSV_EXCEL, err, sizeof(err));

    (void)state;
    assert_non_null(r);
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_string_equal(ws_csv_encoding(r), "UTF-16LE");
    assert_int_equal(ws_csv_separator(r), ';');
    assert_int_equal(rec.n_fields, 2);
    assert_string_equal(rec.fields[1], "\xe1\xba\xbf");
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.line, 2);
    assert_string_equal(rec.fields[1], "2");
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 0);
    ws_csv_close(&r);
    unlink(path);

    path = temp_file(bare, sizeof(bare) - 1);
    r = ws_csv_open_with(path, WS_CSV_EXCEL, err, sizeof(err));
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), 1);
    assert_string_equal(ws_csv_encoding(r), "UTF-16LE");
    assert_string_equal(rec.fields[1], "b");
    ws_csv_close(&r);
    unlink(path);

    path = temp_file(odd, sizeof(odd) - 1);
    r = ws_csv_open_with(path, WS_CSV_EXCEL, err, sizeof(err));
    assert_int_equal(ws_csv_next(r, &rec, err, sizeof(err)), -EILSEQ);
    assert_non_null(strstr(err, "not valid UTF-16"));
    ws_csv_close(&r);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_file),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_detect_separator),
        cmocka_unit_test(test_excel_separators),
        cmocka_unit_test(test_excel_sequence_across_reads),
        cmocka_unit_test(test_excel_not_utf8),
        cmocka_unit_test(test_excel_utf16),
        cmocka_unit_test(test_bad_quote),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_start_lines),
        cmocka_unit_test(test_nul_in_field),
        cmocka_unit_test(test_long_records),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_write_field_round_trip),
        cmocka_unit_test(test_write_field_quoting),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
