/*
 * xlsx_fixture.h - small .xlsx workbooks written by the tests with libzip,
 * as Excel lays them out: the workbook and its relationships, styles
 * (cellXfs 1 is the built-in date format 14), shared strings and one
 * sheet whose XML the test gives.
 */
#ifndef WARDSYNC_TEST_XLSX_FIXTURE_H
#define WARDSYNC_TEST_XLSX_FIXTURE_H

#include <string.h>
#include <zip.h>

static int xlsx_fixture_add(zip_t *z, const char *name, const char *text)
{
    zip_source_t *src = zip_source_buffer(z, text, strlen(text), 0);
    if (!src)
        return -1;
    if (zip_file_add(z, name, src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
        zip_source_free(src);
        return -1;
    }
    return 0;
}

/* Writes path: shared strings from the NULL-terminated list shared, the
 * first sheet's <sheetData> body from rows, the 1904 date system when
 * date1904. The texts must outlive the call (libzip reads them at close,
 * which happens here). Returns 0 or -1. */
static int xlsx_fixture_write(const char *path, const char *const *shared,
                              const char *rows, int date1904)
{
    static char sst[8192];
    static char sheet[16384];
    static char workbook[1024];
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    size_t n = 0, count = 0;

    if (!z)
        return -1;
    n = (size_t)snprintf(sst, sizeof sst,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                         "<sst xmlns=\"http://schemas.openxmlformats.org/"
                         "spreadsheetml/2006/main\">");
    for (; shared && shared[count]; count++)
        n += (size_t)snprintf(sst + n, sizeof sst - n,
                              "<si><t xml:space=\"preserve\">%s</t></si>",
                              shared[count]);
    snprintf(sst + n, sizeof sst - n, "</sst>");
    snprintf(sheet, sizeof sheet,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
             "<worksheet xmlns=\"http://schemas.openxmlformats.org/"
             "spreadsheetml/2006/main\"><dimension ref=\"A1\"/>"
             "<sheetData>%s</sheetData></worksheet>",
             rows);
    snprintf(workbook, sizeof workbook,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
             "<workbook xmlns=\"http://schemas.openxmlformats.org/"
             "spreadsheetml/2006/main\" xmlns:r=\"http://schemas."
             "openxmlformats.org/officeDocument/2006/relationships\">"
             "<workbookPr%s/><sheets><sheet name=\"Trang 1\" sheetId=\"1\" "
             "r:id=\"rId7\"/><sheet name=\"Other\" sheetId=\"2\" "
             "r:id=\"rId8\"/></sheets></workbook>",
             date1904 ? " date1904=\"1\"" : "");
    int rc =
        xlsx_fixture_add(z, "[Content_Types].xml",
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types "
                         "xmlns=\"http://schemas.openxmlformats.org/package/"
                         "2006/content-types\"/>") |
        xlsx_fixture_add(z, "xl/workbook.xml", workbook) |
        xlsx_fixture_add(
            z, "xl/_rels/workbook.xml.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
            "xmlns=\"http://schemas.openxmlformats.org/package/2006/"
            "relationships\"><Relationship Id=\"rId8\" Type=\"x\" "
            "Target=\"worksheets/sheet2.xml\"/><Relationship Id=\"rId7\" "
            "Type=\"x\" Target=\"worksheets/data.xml\"/></Relationships>") |
        xlsx_fixture_add(
            z, "xl/styles.xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><styleSheet "
            "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/"
            "main\"><numFmts count=\"1\"><numFmt numFmtId=\"164\" "
            "formatCode=\"dd/mm/yyyy\"/></numFmts><cellStyleXfs><xf "
            "numFmtId=\"14\"/></cellStyleXfs><cellXfs count=\"3\"><xf "
            "numFmtId=\"0\"/><xf numFmtId=\"14\" applyNumberFormat=\"1\"/><xf "
            "numFmtId=\"164\"/></cellXfs></styleSheet>") |
        xlsx_fixture_add(z, "xl/sharedStrings.xml", sst) |
        xlsx_fixture_add(z, "xl/worksheets/data.xml", sheet) |
        xlsx_fixture_add(z, "xl/worksheets/sheet2.xml",
                         "<worksheet><sheetData><row r=\"1\"><c r=\"A1\" "
                         "t=\"inlineStr\"><is><t>wrong sheet</t></is></c>"
                         "</row></sheetData></worksheet>");
    if (rc != 0) {
        zip_discard(z);
        return -1;
    }
    return zip_close(z) == 0 ? 0 : -1;
}

#endif
