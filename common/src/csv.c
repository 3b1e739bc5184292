/*
 * csv.c - RFC 4180 CSV reading on top of libcsv, with line numbers.
 *
 * libcsv parses; this file feeds it one physical line at a time (in pieces
 * when a line is longer than the read buffer) so that it always knows the
 * line a record starts on: a record starts on the line being fed when the
 * parser stood between records before that line. Only LF ends a record (a
 * CR before it is trimmed like a blank), so one line ends at most one
 * record. Unquoted fields lose their surrounding blanks (libcsv's rule);
 * quoted fields keep everything, including commas, quotes and newlines.
 */
#include "wardsync/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Largest record accepted, counted in bytes of input. */
#define CSV_RECORD_MAX (16u * 1024u * 1024u)
#define READ_CHUNK 65536

struct ws_csv_reader {
    FILE *file;
    struct csv_parser parser;
    unsigned char buf[READ_CHUNK];
    size_t buf_pos;
    size_t buf_len;
    bool eof;
    bool finished;     /* csv_fini has run */
    bool at_bom_check; /* nothing read yet: a BOM may come */
    bool at_line_start;
    long line;       /* line of the next byte fed */
    long start_line; /* line the record being built starts on */
    size_t record_bytes;
    int error; /* sticky: once broken, every call fails */
    char error_text[128];

    /* The record being built, then handed out. */
    size_t n_fields;
    size_t cap_fields;
    char **fields;
    size_t *lengths;
    bool record_done;
    bool out_of_memory;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int is_term(unsigned char c)
{
    return c == '\n';
}

static void clear_record(struct ws_csv_reader *r)
{
    for (size_t i = 0; i < r->n_fields; i++)
        free(r->fields[i]);
    r->n_fields = 0;
    r->record_done = false;
}

static void on_field(void *data, size_t len, void *user)
{
    struct ws_csv_reader *r = user;
    char *copy;

    if (r->out_of_memory)
        return;
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
        char **fields = realloc(r->fields, cap * sizeof(*fields));

        if (fields == NULL) {
            r->out_of_memory = true;
            return;
        }
        r->fields = fields;
        size_t *lengths = realloc(r->lengths, cap * sizeof(*lengths));
        if (lengths == NULL) {
            r->out_of_memory = true;
            return;
        }
        r->lengths = lengths;
        r->cap_fields = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        r->out_of_memory = true;
        return;
    }
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    r->fields[r->n_fields] = copy;
    r->lengths[r->n_fields] = len;
    r->n_fields++;
}

static void on_record(int terminator, void *user)
{
    struct ws_csv_reader *r = user;

    (void)terminator;
    r->record_done = true;
}

struct ws_csv_reader *ws_csv_open(const char *path, char *err, size_t errlen)
{
    struct ws_csv_reader *r;
    int saved;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        set_err(err, errlen, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    r->file = fopen(path, "rb");
    if (r->file == NULL) {
        saved = errno;
        set_err(err, errlen, "could not open file \"%s\": %s", path,
                strerror(saved));
        free(r);
        errno = saved;
        return NULL;
    }
    if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fclose(r->file);
        free(r);
        set_err(err, errlen, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    /* libcsv grows a field's buffer linearly by this much; the default 128
     * bytes costs a realloc every 128 bytes of a long field. */
    csv_set_blk_size(&r->parser, 64 * 1024);
    csv_set_space_func(&r->parser, is_blank);
    csv_set_term_func(&r->parser, is_term);
    r->at_bom_check = true;
    r->at_line_start = true;
    r->line = 1;
    return r;
}

/* Makes the error sticky and copies it to err. */
static int fail(struct ws_csv_reader *r, int code, char *err, size_t errlen,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct ws_csv_reader *r, int code, char *err, size_t errlen,
                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->error_text, sizeof(r->error_text), fmt, ap);
    va_end(ap);
    r->error = code;
    clear_record(r);
    set_err(err, errlen, "%s", r->error_text);
    return code;
}

static int fill(struct ws_csv_reader *r)
{
    size_t n;

    if (r->eof)
        return 0;
    n = fread(r->buf, 1, sizeof(r->buf), r->file);
    if (n == 0) {
        if (ferror(r->file))
            return -EIO;
        r->eof = true;
        return 0;
    }
    r->buf_pos = 0;
    r->buf_len = n;
    if (r->at_bom_check) {
        r->at_bom_check = false;
        /* A BOM split over two reads is not worth handling: the first read
         * of a regular file returns far more than three bytes. */
        if (n >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
            r->buf_pos = 3;
    }
    return 1;
}

int ws_csv_next(struct ws_csv_reader *reader, struct ws_csv_record *record,
                char *err, size_t errlen)
{
    struct ws_csv_reader *r = reader;

    if (r == NULL || record == NULL)
        return -EINVAL;
    if (r->error != 0) {
        set_err(err, errlen, "%s", r->error_text);
        return r->error;
    }
    clear_record(r);
    if (r->finished)
        return 0;

    while (!r->record_done) {
        if (r->buf_pos == r->buf_len) {
            int rc = fill(r);

            if (rc < 0)
                return fail(r, rc, err, errlen, "line %ld: read error: %s",
                            r->line, strerror(-rc));
            if (rc == 0) {
                r->finished = true;
                if (csv_fini(&r->parser, on_field, on_record, r) != 0)
                    return fail(r, -EBADMSG, err, errlen,
                                "line %ld: unterminated quoted field",
                                r->start_line);
                if (r->out_of_memory)
                    return fail(r, -ENOMEM, err, errlen,
                                "line %ld: out of memory", r->start_line);
                break;
            }
        }

        /* The piece to feed: up to and including the next LF. */
        unsigned char *piece = r->buf + r->buf_pos;
        size_t avail = r->buf_len - r->buf_pos;
        unsigned char *nl = memchr(piece, '\n', avail);
        size_t len = nl ? (size_t)(nl - piece) + 1 : avail;

        if (r->at_line_start && r->parser.pstate == 0) {
            /* Between records: whatever starts on this line is new. */
            r->start_line = r->line;
            r->record_bytes = 0;
        }
        r->record_bytes += len;
        if (r->record_bytes > CSV_RECORD_MAX)
            return fail(r, -EFBIG, err, errlen,
                        "line %ld: record larger than %u bytes", r->start_line,
                        CSV_RECORD_MAX);
        if (csv_parse(&r->parser, piece, len, on_field, on_record, r) != len) {
            int code = csv_error(&r->parser);

            if (code == CSV_EPARSE)
                return fail(r, -EBADMSG, err, errlen,
                            "line %ld: malformed quoting (a quote inside an "
                            "unquoted field or after a closing quote)",
                            r->line);
            return fail(r, -ENOMEM, err, errlen, "line %ld: %s", r->line,
                        csv_strerror(code));
        }
        if (r->out_of_memory)
            return fail(r, -ENOMEM, err, errlen, "line %ld: out of memory",
                        r->line);
        r->buf_pos += len;
        r->at_line_start = nl != NULL;
        if (nl != NULL)
            r->line++;
    }
    if (!r->record_done)
        return 0;
    record->n_fields = r->n_fields;
    record->fields = r->fields;
    record->lengths = r->lengths;
    record->line = r->start_line;
    return 1;
}

void ws_csv_close(struct ws_csv_reader **reader)
{
    struct ws_csv_reader *r;

    if (reader == NULL || *reader == NULL)
        return;
    r = *reader;
    clear_record(r);
    free(r->fields);
    free(r->lengths);
    csv_free(&r->parser);
    fclose(r->file);
    free(r);
    *reader = NULL;
}

void ws_csv_write_field(FILE *f, const char *value)
{
    size_t len;
    bool quote;

    if (value == NULL || value[0] == '\0')
        return;
    len = strlen(value);
    /* Blanks at either end would be trimmed by a reader like ours. */
    quote = strpbrk(value, ",\"\r\n") != NULL || value[0] == ' ' ||
            value[0] == '\t' || value[len - 1] == ' ' || value[len - 1] == '\t';
    if (!quote) {
        fwrite(value, 1, len, f);
        return;
    }
    fputc('"', f);
    for (const char *p = value; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}
