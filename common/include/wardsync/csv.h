/*
 * csv.h - RFC 4180 CSV reading with positions for error messages.
 *
 * Built on libcsv (quotes, embedded commas and newlines). A UTF-8 byte order
 * mark at the start of the file is skipped. Each record remembers the line
 * on which it starts so that import errors can name "file:line:column".
 * Quoting is strict (a quote inside an unquoted field is an error). Blanks
 * (space, tab, CR) around an unquoted field are dropped, as libcsv does;
 * quoted fields keep every byte. Only LF ends a record, so CRLF files read
 * the same as LF files.
 */
#ifndef WARDSYNC_CSV_H
#define WARDSYNC_CSV_H

#include <stddef.h>
#include <stdio.h>

struct ws_csv_reader;

struct ws_csv_record {
    size_t n_fields;
    char **fields;   /* NUL-terminated; owned by the reader, valid until
                        the next ws_csv_next or ws_csv_close */
    size_t *lengths; /* byte length of each field (fields may hold NUL) */
    long line;       /* 1-based line on which the record starts */
};

/* Opens path for reading. Returns a reader, or NULL with the reason
 * ("could not open file \"x\": No such file") in err. */
struct ws_csv_reader *ws_csv_open(const char *path, char *err, size_t errlen);

/* Reads the next record. Returns 1 and fills *record, 0 at end of file, or
 * a negative errno with "line N: reason" in err (unterminated quote, read
 * error, record larger than 16 MiB). Empty lines are skipped. */
int ws_csv_next(struct ws_csv_reader *reader, struct ws_csv_record *record,
                char *err, size_t errlen);

/* Closes the reader and sets *reader to NULL; NULL-safe. */
void ws_csv_close(struct ws_csv_reader **reader);

/* Writes one field to f, quoted when it holds a comma, quote, CR or LF. */
void ws_csv_write_field(FILE *f, const char *value);

#endif
