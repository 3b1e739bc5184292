/*
 * xlsx.h - the first sheet of an Excel workbook (.xlsx, Office Open XML)
 * read as rows of text, like a CSV file.
 *
 * The container is read with libzip and the XML with expat, both kept in
 * Debian and used by much else (libzip: a complete, maintained zip
 * library with a plain C API for reading one member; expat: a streaming
 * parser, so a large sheet is never held whole). The reader follows
 * xl/workbook.xml and its relationships to the first sheet, loads the
 * shared strings and the cell styles, then streams the sheet: each <row>
 * is one record, numbered by its row number (r), its cells placed by
 * their column letters (missing cells are empty). Values are given as
 * text: shared and inline strings as written; booleans as 1/0; a number
 * whose style is a date format as its ISO date (YYYY-MM-DD, the Excel
 * serial in the workbook's 1900 or 1904 date system); other numbers as
 * Excel stored them ("3", "1.5"). Rows with no cell are skipped.
 */
#ifndef WARD_AGENT_XLSX_H
#define WARD_AGENT_XLSX_H

#include <stddef.h>

#include "wardsync/csv.h"

struct xlsx_reader;

/* Opens the workbook and prepares its first sheet. Returns the reader, or
 * NULL with the reason in err ("not an Excel workbook (.xlsx)", ...). */
struct xlsx_reader *xlsx_open(const char *path, char *err, size_t errlen);

/* Reads the next row. Returns 1 and fills *record (valid until the next
 * call), 0 after the last row, or a negative errno with "line N: reason"
 * in err (N the sheet's row). */
int xlsx_next(struct xlsx_reader *reader, struct ws_csv_record *record,
              char *err, size_t errlen);

void xlsx_close(struct xlsx_reader **reader);

/* The ISO date (YYYY-MM-DD) of an Excel serial day number (its whole
 * part) into buf, in the 1900 system (serial 1 = 1900-01-01, with Excel's
 * fictitious 1900-02-29 as 60) or the 1904 one (0 = 1904-01-01). Returns
 * 0, or -EDOM for a serial outside 1..2958465 (1900) / 0..2957003 (1904). */
int xlsx_serial_date(double serial, int date1904, char *buf, size_t cap);

#endif
