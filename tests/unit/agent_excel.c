/*
 * agent_excel.c - files as Excel writes them, through the agent's import:
 * the .xlsx reader (first sheet, shared and inline strings, dates typed
 * as dates, 1900 and 1904 systems), Vietnamese and any-case headers and
 * values, ";" and tab separators, UTF-16, one message for Windows-1258
 * text, trailing empty columns and rows of empty cells, drop-folder
 * names, and "ward-agent template" output that imports as it is.
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

#include <iconv.h>
#include <unistd.h>

#include "import.h"
#include "outbox.h"
#include "template.h"
#include "wardsync/catalogue.h"
#include "xlsx.h"
#include "xlsx_fixture.h"

struct fixture {
    char dir[64];
    struct outbox *outbox;
    struct ws_catalogue *cat;
    char *report;
    size_t report_len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    char err[256];
    assert_non_null(f);
    strcpy(f->dir, "/tmp/agent_excel.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/outbox.db", f->dir);
    assert_int_equal(outbox_open(path, "LB01", true, &f->outbox), 0);
    assert_int_equal(
        ws_catalogue_load(WS_TEST_CATALOGUE, &f->cat, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    outbox_close(&f->outbox);
    ws_catalogue_destroy(&f->cat);
    free(f->report);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

/* Imports dir/name (already written) as kind; the report is kept. */
static int import_path(struct fixture *f, enum import_kind kind,
                       const char *name, struct import_result *result)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    free(f->report);
    f->report = NULL;
    FILE *report = open_memstream(&f->report, &f->report_len);
    assert_non_null(report);
    struct import_options options = {
        .label = name, .report = report, .max_reported = IMPORT_MAX_REPORTED};
    int rc = import_file(f->outbox, f->cat, kind, path, &options, result);
    fclose(report);
    return rc;
}

static int import_bytes(struct fixture *f, enum import_kind kind,
                        const char *name, const void *data, size_t len,
                        struct import_result *result)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    write_bytes(path, data, len);
    return import_path(f, kind, name, result);
}

static int import_text(struct fixture *f, enum import_kind kind,
                       const char *name, const char *text,
                       struct import_result *result)
{
    return import_bytes(f, kind, name, text, strlen(text), result);
}

/* Counts lines of the report holding needle. */
static int report_lines_with(const struct fixture *f, const char *needle)
{
    int n = 0;
    for (const char *p = f->report; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_serial_dates(void **state)
{
    char buf[16];
    (void)state;
    assert_int_equal(xlsx_serial_date(45356, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "2024-03-05");
    assert_int_equal(xlsx_serial_date(45356.75, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "2024-03-05"); /* the time of day drops */
    assert_int_equal(xlsx_serial_date(1, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1900-01-01");
    assert_int_equal(xlsx_serial_date(59, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1900-02-28");
    /* Excel's 1900-02-29 never was. */
    assert_int_equal(xlsx_serial_date(60, 0, buf, sizeof buf), -EDOM);
    assert_int_equal(xlsx_serial_date(61, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1900-03-01");
    assert_int_equal(xlsx_serial_date(0, 0, buf, sizeof buf), -EDOM);
    assert_int_equal(xlsx_serial_date(43894, 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "2024-03-05");
    assert_int_equal(xlsx_serial_date(0, 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "1904-01-01");
    assert_int_equal(xlsx_serial_date(3e6, 0, buf, sizeof buf), -EDOM);
}

static const char *const reception_shared[] = {
    "Mã buổi tiếp",   "Ngày tiếp",   "Người chủ trì",
    "Hình thức tiếp", "Số công dân", "Số đơn",
    "Chủ tịch",       "đột xuất",    NULL};

/* Row 1: Vietnamese headers (shared strings); row 2: an inline string, a
 * date-styled serial, shared strings, numbers; row 3 a row of formatted
 * empty cells; row 5 cells without references and a custom date format
 * (and, in the short variant, its last cell left out). */
#define RECEPTION_ROWS_1_3                                                     \
    "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" "                \
    "t=\"s\"><v>1</v>"                                                         \
    "</c><c r=\"C1\" t=\"s\"><v>2</v></c><c r=\"D1\" t=\"s\"><v>3</v></c>"     \
    "<c r=\"E1\" t=\"s\"><v>4</v></c><c r=\"F1\" t=\"s\"><v>5</v></c></row>"   \
    "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>LB01-X1</t></is></c>"     \
    "<c r=\"B2\" s=\"1\"><v>45356</v></c><c r=\"C2\" t=\"s\"><v>6</v></c>"     \
    "<c r=\"D2\" t=\"s\"><v>7</v></c><c r=\"E2\"><v>5</v></c>"                 \
    "<c r=\"F2\"><v>2</v></c></row>"                                           \
    "<row r=\"3\"><c r=\"A3\" s=\"1\"/><c r=\"B3\" s=\"1\"/></row>"            \
    "<row r=\"5\"><c t=\"str\"><f>A2&amp;\"b\"</f><v>LB01-X2</v></c>"          \
    "<c s=\"2\"><v>45357</v></c><c t=\"s\"><v>6</v></c><c t=\"s\"><v>7</v>"    \
    "</c><c><v>0</v></c>"

static const char reception_rows[] = RECEPTION_ROWS_1_3 "</row>";
static const char reception_rows_full[] =
    RECEPTION_ROWS_1_3 "<c><v>1</v></c></row>";

static void test_xlsx_reader(void **state)
{
    struct fixture *f = *state;
    char path[256], err[256];
    struct ws_csv_record rec;
    snprintf(path, sizeof path, "%s/Tiếp công dân.xlsx", f->dir);
    assert_int_equal(
        xlsx_fixture_write(path, reception_shared, reception_rows, 0), 0);
    struct xlsx_reader *r = xlsx_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    assert_int_equal(xlsx_next(r, &rec, err, sizeof err), 1);
    assert_int_equal(rec.line, 1);
    assert_int_equal(rec.n_fields, 6);
    assert_string_equal(rec.fields[0], "Mã buổi tiếp");
    assert_string_equal(rec.fields[5], "Số đơn");
    assert_int_equal(xlsx_next(r, &rec, err, sizeof err), 1);
    assert_int_equal(rec.line, 2);
    assert_string_equal(rec.fields[0], "LB01-X1");
    assert_string_equal(rec.fields[1], "2024-03-05");
    assert_string_equal(rec.fields[2], "Chủ tịch");
    assert_string_equal(rec.fields[4], "5");
    assert_int_equal(xlsx_next(r, &rec, err, sizeof err), 1);
    assert_int_equal(rec.line, 3);
    assert_string_equal(rec.fields[0], "");
    assert_int_equal(xlsx_next(r, &rec, err, sizeof err), 1);
    assert_int_equal(rec.line, 5);
    assert_int_equal(rec.n_fields, 5);
    assert_string_equal(rec.fields[0], "LB01-X2"); /* a formula's value */
    assert_string_equal(rec.fields[1], "2024-03-06");
    assert_string_equal(rec.fields[4], "0");
    assert_int_equal(xlsx_next(r, &rec, err, sizeof err), 0);
    xlsx_close(&r);
    assert_null(r);
}

static void test_xlsx_imports(void **state)
{
    struct fixture *f = *state;
    char path[256];
    struct import_result result;
    struct outbox_counts c;
    snprintf(path, sizeof path, "%s/reception.xlsx", f->dir);
    assert_int_equal(
        xlsx_fixture_write(path, reception_shared, reception_rows_full, 0), 0);
    if (import_path(f, IMPORT_RECEPTION, "reception.xlsx", &result) != 0)
        fail_msg("refused:\n%s", f->report);
    assert_int_equal(result.rows, 2); /* the empty row 3 does not count */
    assert_int_equal(result.queued, 2);
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    assert_int_equal(c.queued, 2);

    /* A required cell left out of a row is named by the sheet's row and
     * the file's own column name. */
    snprintf(path, sizeof path, "%s/reception-short.xlsx", f->dir);
    assert_int_equal(
        xlsx_fixture_write(path, reception_shared, reception_rows, 0), 0);
    assert_int_equal(
        import_path(f, IMPORT_RECEPTION, "reception-short.xlsx", &result),
        IMPORT_REFUSED);
    if (!strstr(f->report, "reception-short.xlsx:5:Số đơn: missing value"))
        fail_msg("short row not named:\n%s", f->report);
}

/* Not a zip: one message saying how to save it. */
static void test_xlsx_not_a_workbook(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    assert_int_equal(import_text(f, IMPORT_RECEPTION, "reception.xlsx",
                                 "session,held_on\n", &result),
                     IMPORT_REFUSED);
    assert_non_null(strstr(f->report, "not an Excel workbook (.xlsx)"));
    assert_int_equal(report_lines_with(f, "\n"), 2);
}

/* Vietnamese headers and values, in other case and NFD, separated by ";"
 * (Excel in a Vietnamese locale), a trailing ";" on every line and a row
 * of empty cells. */
static void test_vietnamese_semicolon_petitions(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    static const char text[] =
        "\xef\xbb\xbfMã đơn;LOẠI ĐƠN;Hình thức nhận;Trạng thái;Thuộc thẩm "
        "quyền;Ngày nhận;Hạn giải quyết;Ngày thay đổi;Ghi chú;;\r\n"
        "P-1;Kiến nghị;trực tiếp;tiếp nhận;có;2024-03-01;;2024-03-01;\"a; "
        "b\";;\r\n"
        ";;;;;;;;;;\r\n"
        /* NFD: "khiếu nại", "không" decomposed */
        "P-2;khi\x65\xcc\x82\xcc\x81u na\xcc\xa3i;qua bưu điện;đang giải "
        "quyết;kho\xcc\x82ng;2024-03-02;2024-04-01;2024-03-03;;;\r\n";
    if (import_text(f, IMPORT_PETITIONS, "don-thu.csv", text, &result) != 0)
        fail_msg("refused:\n%s", f->report);
    assert_int_equal(result.rows, 2);
    assert_int_equal(result.queued, 2);
}

/* A bad Vietnamese value is named with the file's column name and the
 * accepted names. */
static void test_unknown_value_names_column(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    static const char text[] =
        "mã đơn,loại đơn,hình thức nhận,trạng thái,thuộc thẩm quyền,"
        "ngày nhận,hạn giải quyết,ngày thay đổi,ghi chú\n"
        "P-1,khiếu kiện,trực tiếp,tiếp nhận,có,2024-03-01,,2024-03-01,\n";
    assert_int_equal(import_text(f, IMPORT_PETITIONS, "p.csv", text, &result),
                     IMPORT_REFUSED);
    if (!strstr(f->report, "p.csv:2:loại đơn: unknown petition kind "
                           "\"khiếu kiện\""))
        fail_msg("%s", f->report);
}

/* "Unicode text" from Excel: UTF-16 LE with a BOM, tab-separated, CRLF;
 * also big-endian. */
static void test_utf16_imports(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    static const char text[] =
        "session\theld_on\thost_role\tmode\tcitizens\tpetitions\r\n"
        "LB01-U1\t2024-03-04\tphó chủ tịch\tđịnh kỳ\t4\t\t\r\n"
        "LB01-U2\t2024-03-05\tchair\tregular\t2\t1\r\n";
    static const char *const encodings[] = {"UTF-16LE", "UTF-16BE"};
    for (int e = 0; e < 2; e++) {
        char out[1024];
        char *in = (char *)text;
        size_t in_left = strlen(text);
        char *o = out + 2;
        size_t o_left = sizeof(out) - 2;
        iconv_t cd = iconv_open(encodings[e], "UTF-8");
        assert_true(cd != (iconv_t)-1);
        assert_true(iconv(cd, &in, &in_left, &o, &o_left) != (size_t)-1);
        iconv_close(cd);
        out[0] = e == 0 ? '\xff' : '\xfe';
        out[1] = e == 0 ? '\xfe' : '\xff';
        char name[32];
        snprintf(name, sizeof name, "reception-%d.csv", e);
        int rc = import_bytes(f, IMPORT_RECEPTION, name, out,
                              sizeof(out) - o_left, &result);
        /* Row 2 leaves petitions empty: one error, at line 2. */
        assert_int_equal(rc, IMPORT_REFUSED);
        if (!strstr(f->report, ":2:petitions: missing value") ||
            report_lines_with(f, ":3:") != 0)
            fail_msg("%s", f->report);
    }
}

/* Windows-1258 text saved as "CSV" by Excel in a Vietnamese locale: one
 * message, naming the first bad line and how to save as CSV UTF-8. */
static void test_windows_1258_one_message(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    static const char text[] =
        "petition;kind;channel;status;in_jurisdiction;received_on;due_on;"
        "changed_on;note\r\n"
        "P-1;complaint;post;received;yes;2024-03-01;;2024-03-01;ok\r\n"
        "P-2;complaint;post;received;kh\xf4"
        "ng;2024-03-01;;2024-03-01;"
        "\xd0\xe1t \xf0"
        "ai\r\n"
        "P-3;complaint;post;received;kh\xf4"
        "ng;2024-03-01;;2024-03-01;x\r\n";
    assert_int_equal(
        import_text(f, IMPORT_PETITIONS, "petitions.csv", text, &result),
        IMPORT_REFUSED);
    assert_int_equal(report_lines_with(f, "CSV UTF-8"), 1);
    assert_non_null(strstr(f->report, "petitions.csv:3:-: the file is not "
                                      "UTF-8 text"));
    assert_int_equal(report_lines_with(f, "\n"), 2); /* + "refused" */
    assert_int_equal(result.queued, 0);
}

static void test_kind_from_vietnamese_filename(void **state)
{
    (void)state;
    assert_int_equal(import_kind_from_filename("Tiếp công dân tháng 10.csv"),
                     IMPORT_RECEPTION);
    assert_int_equal(
        import_kind_from_filename(
            "Ti\x65\xcc\x82\xcc\x81p co\xcc\x82ng da\xcc\x82n.CSV"),
        IMPORT_RECEPTION);
    assert_int_equal(import_kind_from_filename("reception.CSV"),
                     IMPORT_RECEPTION);
    assert_int_equal(import_kind_from_filename("tiep-cong-dan.xlsx"),
                     IMPORT_RECEPTION);
    assert_int_equal(import_kind_from_filename("Phiếu nhận diện đợt 1.csv"),
                     IMPORT_BALLOTS);
    assert_int_equal(import_kind_from_filename("phieu_2024.xlsx"),
                     IMPORT_BALLOTS);
    assert_int_equal(import_kind_from_filename("Đơn thư Q1.csv"),
                     IMPORT_PETITIONS);
    assert_int_equal(import_kind_from_filename("don-thu.csv"),
                     IMPORT_PETITIONS);
    assert_int_equal(import_kind_from_filename("Kế hoạch khắc phục.csv"),
                     IMPORT_REMEDIATION);
    assert_int_equal(import_kind_from_filename("khac-phuc.XLSX"),
                     IMPORT_REMEDIATION);
    assert_int_equal(import_kind_from_filename("PETITIONS.csv"),
                     IMPORT_PETITIONS);
    assert_int_equal(import_kind_from_filename("đơn.csv"), -1);
    assert_int_equal(import_kind_from_filename("tiep-cong-dan.ods"), -1);
    assert_int_equal(import_kind_from_filename("ghi chú.csv"), -1);
    /* On the command line: the whole word. */
    assert_int_equal(import_kind_parse("petitions"), IMPORT_PETITIONS);
    assert_int_equal(import_kind_parse("Don-Thu"), IMPORT_PETITIONS);
    assert_int_equal(import_kind_parse("tiếp công dân"), IMPORT_RECEPTION);
    assert_int_equal(import_kind_parse("phiếu"), IMPORT_BALLOTS);
    assert_int_equal(import_kind_parse("khac_phuc"), IMPORT_REMEDIATION);
    assert_int_equal(import_kind_parse("ballotsx"), -1);
    assert_int_equal(import_kind_parse("don"), -1);
}

/* Ballots with Vietnamese headers and the form named in Vietnamese. */
static void test_vietnamese_ballots(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "Đợt lấy phiếu,Mẫu phiếu,Mã cán bộ,Đối tượng "
                                "cho ý kiến,Ngày lấy phiếu");
    for (int i = 1; i <= 41; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, ",I%02d", i);
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "\n2024-R1,Công chức,"
                          "LB01-S01,2,2024-03-05");
    for (int i = 1; i <= 41; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, i > 36 ? "," : ",1");
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "\n2024-R1,LÃNH ĐẠO,"
                          "LB01-S02,1,2024-03-05");
    for (int i = 1; i <= 41; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, ",2");
    snprintf(text + n, sizeof text - n, "\n");
    if (import_text(f, IMPORT_BALLOTS, "phieu.csv", text, &result) != 0)
        fail_msg("%s", f->report);
    assert_int_equal(result.queued, 2);
}

/* Capitalised English headers with blanks for underscores. */
static void test_english_headers_any_case(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    static const char text[] = "Session,Held On,HOST_ROLE,Mode,Citizens,"
                               "Petitions,,\n"
                               "LB01-E1,2024-03-04,Chair,Regular,1,0,,\n";
    if (import_text(f, IMPORT_RECEPTION, "r.csv", text, &result) != 0)
        fail_msg("%s", f->report);
    assert_int_equal(result.queued, 1);
}

/* The template of each kind, in both languages, imports as it is. */
static void test_template_reimports(void **state)
{
    struct fixture *f = *state;
    struct import_result result;
    for (int vi = 0; vi <= 1; vi++) {
        /* The same ballot in both languages is the same file: a fresh
         * outbox for each language. */
        char db[128];
        outbox_close(&f->outbox);
        snprintf(db, sizeof db, "%s/outbox-%d.db", f->dir, vi);
        assert_int_equal(outbox_open(db, "LB01", true, &f->outbox), 0);
        for (int k = IMPORT_BALLOTS; k <= IMPORT_REMEDIATION; k++) {
            char name[64], path[256];
            snprintf(name, sizeof name, "template-%d-%d.csv", vi, k);
            snprintf(path, sizeof path, "%s/%s", f->dir, name);
            FILE *out = fopen(path, "w");
            assert_non_null(out);
            assert_int_equal(template_write(out, (enum import_kind)k, vi), 0);
            assert_int_equal(fclose(out), 0);
            if (import_path(f, (enum import_kind)k, name, &result) != 0)
                fail_msg("template %d (vi %d) refused:\n%s", k, vi, f->report);
            assert_int_equal(result.rows, 1);
        }
    }
    /* Vietnamese headers, a BOM, CRLF. */
    char path[256], buf[512];
    snprintf(path, sizeof path, "%s/template-1-1.csv", f->dir);
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    size_t n = fread(buf, 1, sizeof(buf) - 1, in);
    fclose(in);
    buf[n] = '\0';
    assert_memory_equal(buf, "\xef\xbb\xbfmã đơn,loại đơn,", 22);
    assert_non_null(strstr(buf, "ghi chú\r\n"));
    assert_non_null(strstr(buf, ",khiếu nại,trực tiếp,tiếp nhận,có,"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serial_dates),
        cmocka_unit_test_setup_teardown(test_xlsx_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xlsx_imports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xlsx_not_a_workbook, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vietnamese_semicolon_petitions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_value_names_column, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_utf16_imports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_windows_1258_one_message, setup,
                                        teardown),
        cmocka_unit_test(test_kind_from_vietnamese_filename),
        cmocka_unit_test_setup_teardown(test_english_headers_any_case, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vietnamese_ballots, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_template_reimports, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
