/*
 * xlsx.c - the first sheet of a workbook as records (xlsx.h).
 *
 * Element names are compared without their namespace prefix ("x:row" is
 * "row"), as some writers prefix the main namespace. Shared strings and
 * styles are read whole before the sheet; the sheet is fed to expat a
 * chunk at a time and the rows each chunk completes wait in a queue.
 */
#include "xlsx.h"

#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "wardsync/i18n.h"

#define CHUNK 65536
/* Bounds against a hostile workbook: bytes of shared strings, columns of
 * a row (Excel's own limit is 16384, column XFD), bytes of one cell. */
#define SHARED_MAX (256u * 1024u * 1024u)
#define COLUMNS_MAX 16384
#define CELL_MAX (1024u * 1024u)

struct row {
    long line;
    size_t n; /* fields in use */
    char **fields;
    size_t *lengths;
};

struct text {
    char *s;
    size_t len, cap;
};

struct num_format {
    long id;
    bool date;
};

/* What the workbook and styles say, while they are read. */
struct locate {
    char rid[128];
    char target[512];
    bool have_sheet;
};

struct styles {
    struct num_format *items;
    size_t n, cap;
    bool in_cell_xfs;
};

struct xlsx_reader {
    zip_t *zip;
    struct locate where;
    struct styles styles;
    zip_file_t *sheet;
    XML_Parser parser;
    bool sheet_done;
    int error;
    char error_text[256];

    char **shared;
    size_t n_shared, cap_shared;
    size_t shared_bytes;
    bool *xf_date; /* cellXfs index -> a date format */
    size_t n_xf;
    bool date1904;

    /* The row being read and the rows read and not yet handed out. */
    struct row building;
    bool in_row;
    long last_line;
    struct row *queue;
    size_t q_head, q_len, q_cap;
    struct row out; /* handed out, freed at the next call */

    /* The cell being read. */
    bool in_cell;
    long col;
    char type[16];
    long style;
    int collect; /* >0: character data goes to text */
    int phonetic;
    bool in_inline;
    struct text text;
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

/* "x:row" -> "row". */
static const char *local(const char *name)
{
    const char *colon = strrchr(name, ':');

    return colon ? colon + 1 : name;
}

static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(local(atts[i]), name) == 0)
            return atts[i + 1];
    return NULL;
}

static int text_add(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > CELL_MAX)
        return -EFBIG;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *more = realloc(t->s, cap);
        if (!more)
            return -ENOMEM;
        t->s = more;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return 0;
}

static void stop(struct xlsx_reader *r, int code, const char *what)
{
    if (r->error == 0) {
        r->error = code;
        snprintf(r->error_text, sizeof(r->error_text), "%s", what);
    }
    XML_StopParser(r->parser, XML_FALSE);
}

/* Reads a member of the zip whole through a fresh expat parser. */
static int parse_member(struct xlsx_reader *r, const char *name,
                        XML_StartElementHandler start,
                        XML_EndElementHandler end, XML_CharacterDataHandler cd,
                        bool optional)
{
    zip_file_t *f = zip_fopen(r->zip, name, 0);
    char buf[CHUNK];
    int rc = 0;

    if (!f)
        return optional ? 0 : -ENOENT;
    r->parser = XML_ParserCreate(NULL);
    if (!r->parser) {
        zip_fclose(f);
        return -ENOMEM;
    }
    XML_SetUserData(r->parser, r);
    XML_SetElementHandler(r->parser, start, end);
    XML_SetCharacterDataHandler(r->parser, cd);
    for (;;) {
        zip_int64_t n = zip_fread(f, buf, sizeof(buf));
        if (n < 0) {
            rc = -EIO;
            break;
        }
        if (XML_Parse(r->parser, buf, (int)n, n == 0) == XML_STATUS_ERROR) {
            rc = r->error ? r->error : -EBADMSG;
            break;
        }
        if (n == 0)
            break;
    }
    XML_ParserFree(r->parser);
    r->parser = NULL;
    zip_fclose(f);
    return rc;
}

/* ---- workbook.xml and its relationships: which file is sheet one ---- */

static void workbook_start(void *user, const char *name, const char **atts)
{
    struct xlsx_reader *r = user;
    const char *el = local(name);

    if (strcmp(el, "workbookPr") == 0) {
        const char *v = attr(atts, "date1904");
        r->date1904 = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    } else if (strcmp(el, "sheet") == 0 && !r->where.have_sheet) {
        const char *id = attr(atts, "id");
        r->where.have_sheet = true;
        if (id)
            snprintf(r->where.rid, sizeof(r->where.rid), "%s", id);
    }
}

static void rels_start(void *user, const char *name, const char **atts)
{
    struct xlsx_reader *r = user;
    if (strcmp(local(name), "Relationship") != 0 || !r->where.rid[0])
        return;
    const char *id = attr(atts, "Id");
    const char *target = attr(atts, "Target");
    if (id && target && strcmp(id, r->where.rid) == 0) {
        if (target[0] == '/')
            snprintf(r->where.target, sizeof(r->where.target), "%s",
                     target + 1);
        else
            snprintf(r->where.target, sizeof(r->where.target), "xl/%s", target);
    }
}

static void no_end(void *user, const char *name)
{
    (void)user;
    (void)name;
}

static void no_text(void *user, const char *s, int len)
{
    (void)user;
    (void)s;
    (void)len;
}

/* ---- sharedStrings.xml ---- */

static void shared_start(void *user, const char *name, const char **atts)
{
    struct xlsx_reader *r = user;
    const char *el = local(name);

    (void)atts;
    if (strcmp(el, "si") == 0) {
        r->text.len = 0;
        if (text_add(&r->text, "", 0) < 0)
            stop(r, -ENOMEM, "out of memory");
    } else if (strcmp(el, "rPh") == 0) {
        r->phonetic++;
    } else if (strcmp(el, "t") == 0 && !r->phonetic) {
        r->collect++;
    }
}

static void shared_end(void *user, const char *name)
{
    struct xlsx_reader *r = user;
    const char *el = local(name);

    if (strcmp(el, "rPh") == 0 && r->phonetic) {
        r->phonetic--;
    } else if (strcmp(el, "t") == 0 && r->collect) {
        r->collect--;
    } else if (strcmp(el, "si") == 0) {
        if (r->n_shared == r->cap_shared) {
            size_t cap = r->cap_shared ? 2 * r->cap_shared : 256;
            char **more = realloc(r->shared, cap * sizeof(*more));
            if (!more) {
                stop(r, -ENOMEM, "out of memory");
                return;
            }
            r->shared = more;
            r->cap_shared = cap;
        }
        r->shared_bytes += r->text.len + 1;
        char *copy = strdup(r->text.s ? r->text.s : "");
        if (!copy || r->shared_bytes > SHARED_MAX) {
            free(copy);
            stop(r, -EFBIG, "shared strings too large");
            return;
        }
        r->shared[r->n_shared++] = copy;
    }
}

static void collect_text(void *user, const char *s, int len)
{
    struct xlsx_reader *r = user;

    if (r->collect > 0 && text_add(&r->text, s, (size_t)len) < 0)
        stop(r, -EFBIG, "a cell larger than 1 MiB");
}

/* ---- styles.xml: which cell styles are dates ---- */

static bool builtin_date(long id)
{
    return (id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 36) ||
           (id >= 50 && id <= 58);
}

/* A custom format is a date when, outside quotes, brackets and escapes, it
 * says a day or a year. */
static bool format_is_date(const char *code)
{
    bool quoted = false;

    for (const char *p = code; *p; p++) {
        if (*p == '"') {
            quoted = !quoted;
        } else if (quoted) {
            continue;
        } else if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '[') {
            const char *close = strchr(p, ']');
            if (!close)
                return false;
            p = close;
        } else if (*p == 'd' || *p == 'D' || *p == 'y' || *p == 'Y') {
            return true;
        }
    }
    return false;
}

static void styles_start(void *user, const char *name, const char **atts)
{
    struct xlsx_reader *r = user;
    const char *el = local(name);

    if (strcmp(el, "numFmt") == 0) {
        const char *id = attr(atts, "numFmtId");
        const char *code = attr(atts, "formatCode");
        if (!id || !code)
            return;
        if (r->styles.n == r->styles.cap) {
            size_t cap = r->styles.cap ? 2 * r->styles.cap : 16;
            struct num_format *more =
                realloc(r->styles.items, cap * sizeof(*more));
            if (!more) {
                stop(r, -ENOMEM, "out of memory");
                return;
            }
            r->styles.items = more;
            r->styles.cap = cap;
        }
        r->styles.items[r->styles.n].id = strtol(id, NULL, 10);
        r->styles.items[r->styles.n].date = format_is_date(code);
        r->styles.n++;
    } else if (strcmp(el, "cellXfs") == 0) {
        r->styles.in_cell_xfs = true;
    } else if (strcmp(el, "xf") == 0 && r->styles.in_cell_xfs) {
        const char *v = attr(atts, "numFmtId");
        long id = v ? strtol(v, NULL, 10) : 0;
        bool date = builtin_date(id);
        for (size_t i = 0; i < r->styles.n; i++)
            if (r->styles.items[i].id == id)
                date = r->styles.items[i].date;
        bool *more = realloc(r->xf_date, (r->n_xf + 1) * sizeof(*more));
        if (!more) {
            stop(r, -ENOMEM, "out of memory");
            return;
        }
        r->xf_date = more;
        r->xf_date[r->n_xf++] = date;
    }
}

static void styles_end(void *user, const char *name)
{
    struct xlsx_reader *r = user;

    if (strcmp(local(name), "cellXfs") == 0)
        r->styles.in_cell_xfs = false;
}

/* ---- dates ---- */

int xlsx_serial_date(double serial, int date1904, char *buf, size_t cap)
{
    double whole = floor(serial);
    long long epoch_days;

    if (date1904) {
        if (whole < 0 || whole > 2957003)
            return -EDOM;
        epoch_days = (long long)whole - 24107; /* 1904-01-01 */
    } else {
        if (whole < 1 || whole > 2958465 || whole == 60)
            return -EDOM; /* 60 is Excel's 1900-02-29, a day that was not */
        epoch_days = (long long)whole - (whole < 60 ? 25568 : 25569);
    }
    time_t secs = (time_t)(epoch_days * 86400);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return -EDOM;
    snprintf(buf, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
    return 0;
}

/* ---- the sheet ---- */

static void row_free(struct row *row)
{
    for (size_t i = 0; i < row->n; i++)
        free(row->fields[i]);
    free(row->fields);
    free(row->lengths);
    memset(row, 0, sizeof(*row));
}

/* "BC12" -> 54 (0-based column), or -1. */
static long column_of(const char *ref)
{
    long col = 0;
    const char *p = ref;

    while (*p >= 'A' && *p <= 'Z') {
        col = col * 26 + (*p - 'A' + 1);
        if (col > COLUMNS_MAX)
            return -1;
        p++;
    }
    return p == ref ? -1 : col - 1;
}

static int row_put(struct row *row, long col, const char *value, size_t len)
{
    if ((size_t)col >= row->n) {
        size_t n = (size_t)col + 1;
        char **fields = realloc(row->fields, n * sizeof(*fields));
        if (!fields)
            return -ENOMEM;
        row->fields = fields;
        size_t *lengths = realloc(row->lengths, n * sizeof(*lengths));
        if (!lengths)
            return -ENOMEM;
        row->lengths = lengths;
        for (size_t i = row->n; i < n; i++) {
            row->fields[i] = NULL;
            row->lengths[i] = 0;
        }
        for (size_t i = row->n; i < n; i++) {
            if (!(row->fields[i] = strdup(""))) {
                row->n = i;
                return -ENOMEM;
            }
        }
        row->n = n;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, value, len);
    copy[len] = '\0';
    free(row->fields[col]);
    row->fields[col] = copy;
    row->lengths[col] = len;
    return 0;
}

/* The text of the cell just read. */
static int cell_value(struct xlsx_reader *r, char *buf, size_t cap,
                      const char **value, size_t *len)
{
    const char *raw = r->text.s ? r->text.s : "";

    *value = raw;
    *len = r->text.len;
    if (strcmp(r->type, "s") == 0) {
        char *end;
        long i = strtol(raw, &end, 10);
        if (end == raw || i < 0 || (size_t)i >= r->n_shared)
            return -EBADMSG;
        *value = r->shared[i];
        *len = strlen(*value);
    } else if (strcmp(r->type, "d") == 0) {
        /* An ISO 8601 date-time: the date part. */
        if (*len > 10 && raw[10] == 'T')
            *len = 10;
    } else if ((r->type[0] == '\0' || strcmp(r->type, "n") == 0) &&
               r->style >= 0 && (size_t)r->style < r->n_xf &&
               r->xf_date[r->style] && *len > 0) {
        char *end;
        double serial = strtod(raw, &end);
        if (*end == '\0' &&
            xlsx_serial_date(serial, r->date1904, buf, cap) == 0) {
            *value = buf;
            *len = strlen(buf);
        }
    }
    return 0;
}

static void sheet_start(void *user, const char *name, const char **atts)
{
    struct xlsx_reader *r = user;
    const char *el = local(name);

    if (strcmp(el, "row") == 0) {
        const char *v = attr(atts, "r");
        long line = v ? strtol(v, NULL, 10) : r->last_line + 1;
        row_free(&r->building);
        r->building.line = line > 0 ? line : r->last_line + 1;
        r->last_line = r->building.line;
        r->in_row = true;
        r->col = -1;
    } else if (strcmp(el, "c") == 0 && r->in_row) {
        const char *ref = attr(atts, "r");
        const char *t = attr(atts, "t");
        const char *s = attr(atts, "s");
        long col = ref ? column_of(ref) : r->col + 1;
        if (col < 0 || col >= COLUMNS_MAX) {
            stop(r, -EBADMSG, "a cell outside columns A..XFD");
            return;
        }
        r->col = col;
        snprintf(r->type, sizeof(r->type), "%s", t ? t : "");
        r->style = s ? strtol(s, NULL, 10) : -1;
        r->in_cell = true;
        r->text.len = 0;
        if (text_add(&r->text, "", 0) < 0)
            stop(r, -ENOMEM, "out of memory");
    } else if (r->in_cell && strcmp(el, "v") == 0) {
        r->collect++;
    } else if (r->in_cell && strcmp(el, "is") == 0) {
        r->in_inline = true;
    } else if (r->in_inline && strcmp(el, "rPh") == 0) {
        r->phonetic++;
    } else if (r->in_inline && !r->phonetic && strcmp(el, "t") == 0) {
        r->collect++;
    }
}

static void sheet_end(void *user, const char *name)
{
    struct xlsx_reader *r = user;
    const char *el = local(name);

    if ((strcmp(el, "v") == 0 || strcmp(el, "t") == 0) && r->collect) {
        r->collect--;
    } else if (strcmp(el, "rPh") == 0 && r->phonetic) {
        r->phonetic--;
    } else if (strcmp(el, "is") == 0) {
        r->in_inline = false;
    } else if (strcmp(el, "c") == 0 && r->in_cell) {
        char date[16];
        const char *value;
        size_t len;
        r->in_cell = false;
        if (cell_value(r, date, sizeof(date), &value, &len) < 0) {
            stop(r, -EBADMSG, "a shared string that does not exist");
            return;
        }
        if (row_put(&r->building, r->col, value, len) < 0)
            stop(r, -ENOMEM, "out of memory");
    } else if (strcmp(el, "row") == 0 && r->in_row) {
        r->in_row = false;
        if (r->building.n == 0) {
            row_free(&r->building);
            return;
        }
        if (r->q_head + r->q_len == r->q_cap) {
            if (r->q_head > 0) {
                memmove(r->queue, r->queue + r->q_head,
                        r->q_len * sizeof(*r->queue));
                r->q_head = 0;
            } else {
                size_t cap = r->q_cap ? 2 * r->q_cap : 64;
                struct row *more = realloc(r->queue, cap * sizeof(*more));
                if (!more) {
                    stop(r, -ENOMEM, "out of memory");
                    return;
                }
                r->queue = more;
                r->q_cap = cap;
            }
        }
        r->queue[r->q_head + r->q_len++] = r->building;
        memset(&r->building, 0, sizeof(r->building));
    } else if (strcmp(el, "sheetData") == 0) {
        r->sheet_done = true;
    }
}

struct xlsx_reader *xlsx_open(const char *path, char *err, size_t errlen)
{
    struct xlsx_reader *r = calloc(1, sizeof(*r));
    int zerr = 0;
    int rc;

    if (!r) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    r->zip = zip_open(path, ZIP_RDONLY, &zerr);
    if (!r->zip) {
        if (zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ)
            set_err(err, errlen, "could not open file \"%s\": %s", path,
                    strerror(errno));
        else
            set_err(err, errlen, "%s: %s", path,
                    _("not an Excel workbook (.xlsx): save it again from "
                      "Excel as \"Excel Workbook (*.xlsx)\" or as \"CSV "
                      "UTF-8 (Comma delimited) (*.csv)\""));
        free(r);
        errno = zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ ? EIO : EBADMSG;
        return NULL;
    }
    rc = parse_member(r, "xl/workbook.xml", workbook_start, no_end, no_text,
                      false);
    if (rc == 0)
        rc = parse_member(r, "xl/_rels/workbook.xml.rels", rels_start, no_end,
                          no_text, true);
    if (rc < 0) {
        set_err(err, errlen, "%s: %s", path,
                _("not an Excel workbook (.xlsx): it has no readable "
                  "xl/workbook.xml"));
        goto close_reader;
    }
    const char *sheet_name =
        r->where.target[0] ? r->where.target : "xl/worksheets/sheet1.xml";
    rc = parse_member(r, "xl/styles.xml", styles_start, styles_end, no_text,
                      true);
    if (rc == 0)
        rc = parse_member(r, "xl/sharedStrings.xml", shared_start, shared_end,
                          collect_text, true);
    if (rc < 0) {
        set_err(err, errlen, "%s: %s (%s)", path,
                _("could not read the workbook's styles or shared strings"),
                r->error_text[0] ? r->error_text : strerror(-rc));
        goto close_reader;
    }
    r->error = 0;
    r->collect = 0;
    r->phonetic = 0;
    r->sheet = zip_fopen(r->zip, sheet_name, 0);
    if (!r->sheet) {
        set_err(err, errlen, "%s: %s %s", path,
                _("the workbook has no sheet at"), sheet_name);
        goto close_reader;
    }
    r->parser = XML_ParserCreate(NULL);
    if (!r->parser) {
        set_err(err, errlen, "out of memory");
        goto close_reader;
    }
    XML_SetUserData(r->parser, r);
    XML_SetElementHandler(r->parser, sheet_start, sheet_end);
    XML_SetCharacterDataHandler(r->parser, collect_text);
    return r;

close_reader:
    xlsx_close(&r);
    errno = EBADMSG;
    return NULL;
}

int xlsx_next(struct xlsx_reader *r, struct ws_csv_record *record, char *err,
              size_t errlen)
{
    char buf[CHUNK];

    row_free(&r->out);
    while (r->q_len == 0 && !r->sheet_done && r->error == 0) {
        zip_int64_t n = zip_fread(r->sheet, buf, sizeof(buf));
        if (n < 0) {
            r->error = -EIO;
            snprintf(r->error_text, sizeof(r->error_text), "%s",
                     _("the sheet cannot be read (a damaged workbook)"));
            break;
        }
        if (XML_Parse(r->parser, buf, (int)n, n == 0) == XML_STATUS_ERROR &&
            r->error == 0) {
            r->error = -EBADMSG;
            snprintf(r->error_text, sizeof(r->error_text), "%s: %s",
                     _("the sheet is not well-formed XML"),
                     XML_ErrorString(XML_GetErrorCode(r->parser)));
        }
        if (n == 0)
            r->sheet_done = true;
    }
    if (r->q_len > 0) {
        r->out = r->queue[r->q_head++];
        r->q_len--;
        if (r->q_len == 0)
            r->q_head = 0;
        record->n_fields = r->out.n;
        record->fields = r->out.fields;
        record->lengths = r->out.lengths;
        record->line = r->out.line;
        return 1;
    }
    if (r->error) {
        set_err(err, errlen, "line %ld: %s", r->last_line + 1, r->error_text);
        return r->error;
    }
    return 0;
}

void xlsx_close(struct xlsx_reader **reader)
{
    struct xlsx_reader *r;

    if (!reader || !*reader)
        return;
    r = *reader;
    if (r->parser)
        XML_ParserFree(r->parser);
    if (r->sheet)
        zip_fclose(r->sheet);
    if (r->zip)
        zip_discard(r->zip);
    for (size_t i = 0; i < r->n_shared; i++)
        free(r->shared[i]);
    free(r->shared);
    free(r->xf_date);
    free(r->styles.items);
    row_free(&r->building);
    row_free(&r->out);
    for (size_t i = 0; i < r->q_len; i++)
        row_free(&r->queue[r->q_head + i]);
    free(r->queue);
    free(r->text.s);
    free(r);
    *reader = NULL;
}
