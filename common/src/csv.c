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
 *
 * Files as Excel writes them (WS_CSV_EXCEL): the bytes first go through
 * iconv when the file is UTF-16 (a BOM, or the zero bytes of ASCII text
 * in UTF-16), then are checked as UTF-8 a read buffer at a time (a
 * sequence cut by the buffer's end waits for the next read), so a file in
 * a legacy code page stops at its first bad byte with one message; the
 * separator is the one of ",", ";" and tab the header line holds most
 * often outside quotes.
 */
#include "wardsync/csv.h"

#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "wardsync/i18n.h"

/* Largest record accepted, counted in bytes of input. */
#define CSV_RECORD_MAX (16u * 1024u * 1024u)
#define READ_CHUNK 65536

struct ws_csv_reader {
    FILE *file;
    unsigned flags;
    struct csv_parser parser;
    unsigned char buf[READ_CHUNK];
    size_t buf_pos;
    size_t buf_len;
    /* Bytes read but not yet fed: the start of a UTF-8 sequence cut by the
     * end of the last read (WS_CSV_EXCEL), or the first bytes of the file
     * looked at to find its encoding. */
    unsigned char held[8];
    size_t n_held;
    /* UTF-16 files: raw bytes waiting for iconv. */
    iconv_t cd;
    unsigned char raw[READ_CHUNK];
    size_t raw_len;
    bool raw_eof;
    const char *encoding;
    char separator;
    bool separator_known;
    bool eof;
    bool finished;     /* csv_fini has run */
    bool at_bom_check; /* nothing read yet: a BOM may come */
    bool at_line_start;
    long line;       /* line of the next byte fed */
    long start_line; /* line the record being built starts on */
    size_t record_bytes;
    int error; /* sticky: once broken, every call fails */
    char error_text[512];

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

static int is_blank_not_tab(unsigned char c)
{
    return c == ' ' || c == '\r';
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
    return ws_csv_open_with(path, 0, err, errlen);
}

/* Looks at the first bytes for a UTF-16 file (WS_CSV_EXCEL); whatever is
 * not a UTF-16 BOM is held to be read as text. Returns 0 or -errno. */
static int sniff_encoding(struct ws_csv_reader *r)
{
    unsigned char head[4];
    size_t n = fread(head, 1, sizeof(head), r->file);
    const char *from = NULL;
    size_t skip = 0;

    if (n == 0 && ferror(r->file))
        return -EIO;
    if (n >= 2 && head[0] == 0xff && head[1] == 0xfe) {
        from = "UTF-16LE";
        skip = 2;
    } else if (n >= 2 && head[0] == 0xfe && head[1] == 0xff) {
        from = "UTF-16BE";
        skip = 2;
    } else if (n >= 4 && head[0] != 0 && head[1] == 0 && head[2] != 0 &&
               head[3] == 0) {
        from = "UTF-16LE"; /* ASCII in UTF-16, no BOM */
    } else if (n >= 4 && head[0] == 0 && head[1] != 0 && head[2] == 0 &&
               head[3] != 0) {
        from = "UTF-16BE";
    }
    if (from == NULL) {
        memcpy(r->held, head, n);
        r->n_held = n;
        return 0;
    }
    r->cd = iconv_open("UTF-8", from);
    if (r->cd == (iconv_t)-1)
        return -errno;
    r->encoding = from;
    memcpy(r->raw, head + skip, n - skip);
    r->raw_len = n - skip;
    return 0;
}

struct ws_csv_reader *ws_csv_open_with(const char *path, unsigned flags,
                                       char *err, size_t errlen)
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
    r->flags = flags;
    r->cd = (iconv_t)-1;
    r->encoding = "UTF-8";
    r->separator = ',';
    r->separator_known = !(flags & WS_CSV_EXCEL);
    r->at_bom_check = true;
    r->at_line_start = true;
    r->line = 1;
    if ((flags & WS_CSV_EXCEL) && (saved = sniff_encoding(r)) < 0) {
        set_err(err, errlen, "could not read file \"%s\": %s", path,
                strerror(-saved));
        ws_csv_close(&r);
        errno = -saved;
        return NULL;
    }
    return r;
}

const char *ws_csv_encoding(const struct ws_csv_reader *reader)
{
    return reader->encoding;
}

char ws_csv_separator(const struct ws_csv_reader *reader)
{
    return reader->separator;
}

char ws_csv_detect_separator(const char *line, size_t len)
{
    static const char candidates[] = {',', ';', '\t'};
    size_t counts[3] = {0, 0, 0};
    bool quoted = false;

    for (size_t i = 0; i < len && line[i] != '\n'; i++) {
        if (line[i] == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted)
            continue;
        for (size_t c = 0; c < 3; c++)
            if (line[i] == candidates[c])
                counts[c]++;
    }
    size_t best = 0;
    for (size_t c = 1; c < 3; c++)
        if (counts[c] > counts[best])
            best = c;
    return candidates[best];
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

/* Up to cap bytes of text into dst: the file's bytes, or for a UTF-16
 * file their conversion to UTF-8. Returns the count, 0 at the end, or
 * -EIO, -EILSEQ (not UTF-16: the bad position in the raw bytes is lost,
 * so line counts what was converted before it). */
static ssize_t read_text(struct ws_csv_reader *r, unsigned char *dst,
                         size_t cap)
{
    if (r->cd == (iconv_t)-1) {
        size_t n = fread(dst, 1, cap, r->file);

        if (n == 0 && ferror(r->file))
            return -EIO;
        return (ssize_t)n;
    }
    for (;;) {
        if (!r->raw_eof && r->raw_len < sizeof(r->raw)) {
            size_t n = fread(r->raw + r->raw_len, 1,
                             sizeof(r->raw) - r->raw_len, r->file);
            if (n == 0 && ferror(r->file))
                return -EIO;
            if (n == 0)
                r->raw_eof = true;
            r->raw_len += n;
        }
        if (r->raw_len == 0)
            return 0;
        char *in = (char *)r->raw;
        size_t in_left = r->raw_len;
        char *out = (char *)dst;
        size_t out_left = cap;
        size_t rc = iconv(r->cd, &in, &in_left, &out, &out_left);
        int saved = errno;
        size_t made = cap - out_left;

        memmove(r->raw, in, in_left);
        r->raw_len = in_left;
        if (rc == (size_t)-1 && saved == EILSEQ)
            return made > 0 ? (ssize_t)made : -EILSEQ;
        if (made > 0)
            return (ssize_t)made;
        if (rc == (size_t)-1 && saved == EINVAL && r->raw_eof)
            return -EILSEQ; /* the file ends inside a character */
        if (rc == (size_t)-1 && saved == E2BIG)
            return -EILSEQ; /* cannot happen with a 64 KiB buffer */
    }
}

/* Length of the end of buf[0..n) that starts a UTF-8 sequence the buffer
 * does not finish (0..3 bytes). */
static size_t cut_sequence(const unsigned char *buf, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = buf[n - back];

        if ((c & 0xc0) == 0x80)
            continue; /* a continuation byte: look further back */
        size_t want = (c & 0xe0) == 0xc0   ? 2
                      : (c & 0xf0) == 0xe0 ? 3
                      : (c & 0xf8) == 0xf0 ? 4
                                           : 1;
        return want > back ? back : 0;
    }
    return 0;
}

/* Reads the next buffer. Returns 1, 0 at the end of the file, or a
 * negative errno; -EILSEQ sets *bad_line to the line of the first byte
 * that is not UTF-8. */
static int fill(struct ws_csv_reader *r, long *bad_line)
{
    size_t n = r->n_held;

    if (r->eof)
        return 0;
    memcpy(r->buf, r->held, r->n_held);
    r->n_held = 0;
    ssize_t got = read_text(r, r->buf + n, sizeof(r->buf) - n);
    if (got < 0) {
        *bad_line = r->line;
        return (int)got;
    }
    n += (size_t)got;
    if (n == 0) {
        r->eof = true;
        return 0;
    }
    r->buf_pos = 0;
    r->buf_len = n;
    if (r->flags & WS_CSV_EXCEL) {
        size_t cut = got == 0 ? 0 : cut_sequence(r->buf, n);
        const uint8_t *bad;

        memcpy(r->held, r->buf + n - cut, cut);
        r->n_held = cut;
        r->buf_len = n - cut;
        bad = u8_check(r->buf, r->buf_len);
        if (bad != NULL) {
            long line = r->line;
            for (const unsigned char *p = r->buf; p < bad; p++)
                line += *p == '\n';
            *bad_line = line;
            return -EILSEQ;
        }
    }
    if (r->at_bom_check) {
        r->at_bom_check = false;
        /* A BOM split over two reads is not worth handling: the first read
         * of a regular file returns far more than three bytes. */
        if (r->buf_len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
            r->buf_pos = 3;
    }
    if (!r->separator_known) {
        r->separator_known = true;
        r->separator = ws_csv_detect_separator(
            (const char *)r->buf + r->buf_pos, r->buf_len - r->buf_pos);
        csv_set_delim(&r->parser, (unsigned char)r->separator);
        if (r->separator == '\t')
            csv_set_space_func(&r->parser, is_blank_not_tab);
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
            long bad_line = 0;
            int rc = fill(r, &bad_line);

            if (rc == -EILSEQ && r->cd != (iconv_t)-1)
                return fail(r, rc, err, errlen, "line %ld: %s", bad_line,
                            _("the file says it is UTF-16 but is not valid "
                              "UTF-16 text; save it again from Excel as "
                              "\"CSV UTF-8 (Comma delimited) (*.csv)\""));
            if (rc == -EILSEQ)
                return fail(r, rc, err, errlen, "line %ld: %s", bad_line,
                            _("the file is not UTF-8 text (probably "
                              "Windows-1258 or another \"ANSI\" code page); "
                              "in Excel choose File > Save As, pick the type "
                              "\"CSV UTF-8 (Comma delimited) (*.csv)\", save, "
                              "and import the new file"));
            if (rc < 0)
                return fail(r, rc, err, errlen, "line %ld: %s: %s", r->line,
                            _("read error"), strerror(-rc));
            if (rc == 0) {
                r->finished = true;
                if (csv_fini(&r->parser, on_field, on_record, r) != 0)
                    return fail(r, -EBADMSG, err, errlen, "line %ld: %s",
                                r->start_line, _("unterminated quoted field"));
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
        if (r->record_bytes > CSV_RECORD_MAX) {
            char why[128];

            snprintf(why, sizeof(why), _("record larger than %u bytes"),
                     CSV_RECORD_MAX);
            return fail(r, -EFBIG, err, errlen, "line %ld: %s", r->start_line,
                        why);
        }
        if (csv_parse(&r->parser, piece, len, on_field, on_record, r) != len) {
            int code = csv_error(&r->parser);

            if (code == CSV_EPARSE)
                return fail(r, -EBADMSG, err, errlen, "line %ld: %s", r->line,
                            _("malformed quoting (a quote inside an "
                              "unquoted field or after a closing quote)"));
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
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
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
