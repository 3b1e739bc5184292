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
 *
 * Opened with WS_CSV_EXCEL, the reader also takes the files Excel writes:
 * UTF-16 LE or BE (with a BOM, or plain ASCII in UTF-16) converted to
 * UTF-8 with iconv; the separator found in the header line (",", ";" or
 * tab, see ws_csv_detect_separator); and text that is not UTF-8 stops the
 * file at its first bad byte with -EILSEQ and one message telling the
 * clerk to save it as "CSV UTF-8" (messages are translated, i18n.h).
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

/* ws_csv_open with flags (0 or WS_CSV_EXCEL). */
#define WS_CSV_EXCEL 1u
struct ws_csv_reader *ws_csv_open_with(const char *path, unsigned flags,
                                       char *err, size_t errlen);

/* The file's encoding as read: "UTF-8", "UTF-16LE" or "UTF-16BE". */
const char *ws_csv_encoding(const struct ws_csv_reader *reader);

/* The separator in use (',' unless WS_CSV_EXCEL found another); known
 * once the first record was read. */
char ws_csv_separator(const struct ws_csv_reader *reader);

/* The separator of a header line (len bytes, up to its first LF): the one
 * of ',', ';' and '\t' it holds most often outside double quotes; ',' on
 * a tie with it or when it holds none. */
char ws_csv_detect_separator(const char *line, size_t len);

/* Reads the next record. Returns 1 and fills *record, 0 at end of file, or
 * a negative errno with "line N: reason" in err (unterminated quote, read
 * error, record larger than 16 MiB; -EILSEQ for text that is not UTF-8 or
 * UTF-16 under WS_CSV_EXCEL). Empty lines are skipped. */
int ws_csv_next(struct ws_csv_reader *reader, struct ws_csv_record *record,
                char *err, size_t errlen);

/* Closes the reader and sets *reader to NULL; NULL-safe. */
void ws_csv_close(struct ws_csv_reader **reader);

/* Writes one field to f, quoted when it holds a comma, quote, CR or LF. */
void ws_csv_write_field(FILE *f, const char *value);

#endif
