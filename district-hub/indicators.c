/*
 * indicators.c - the indicator report in three formats.
 *
 * Org unit rows (the org_unit column of every format):
 *   LB01 ... LB14  a ward: its own records
 *   LB-office      the district office's own records (its agent sends with
 *                  the district code as ward)
 *   LB             the district total, rolled up over LB-office and all of
 *                  the district's wards (DESIGN §7: "a district's figure
 *                  covers its wards and its own office")
 * so a reader who sums the ward rows and the office row gets the LB row,
 * and "LB" always means the whole district, as it does for city-pull.
 *
 * The counts come from store_indicator_counts (one SQL statement over the
 * typed tables); this file only parses the period and formats.
 */
#include "indicators.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "wardsync/csv.h"
#include "wardsync/log.h"
#include "wardsync/util.h"

#define MODULE "indicators"

struct period {
    char label[64]; /* as printed in the period column */
    bool bounded;
    char from[11]; /* first day, "YYYY-MM-DD" */
    char to[11];   /* day after the last day */
};

static int parse_int(const char *s, size_t len, int *out)
{
    int v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Sets [from, to) from the first day of year/month and a month count. */
static int months_range(int year, int month, int n_months, struct period *p)
{
    char first[16], next[16];
    int end_month = month - 1 + n_months;
    int32_t days;
    snprintf(first, sizeof first, "%04d-%02d-01", year, month);
    snprintf(next, sizeof next, "%04d-%02d-01", year + end_month / 12,
             end_month % 12 + 1);
    if (ws_date_parse(first, &days) < 0 || ws_date_parse(next, &days) < 0)
        return -1;
    memcpy(p->from, first, 11);
    memcpy(p->to, next, 11);
    p->bounded = true;
    return 0;
}

static int days_range(const char *first, const char *last, struct period *p)
{
    int32_t from, to;
    if (ws_date_parse(first, &from) < 0 || ws_date_parse(last, &to) < 0 ||
        to < from)
        return -1;
    ws_date_format(from, p->from);
    ws_date_format(to + 1, p->to);
    p->bounded = true;
    return 0;
}

/* Parses the --period value. Returns 0, or -EINVAL. */
static int parse_period(const char *text, struct period *p)
{
    memset(p, 0, sizeof *p);
    if (!text || strcmp(text, "all") == 0) {
        ws_strlcpy(p->label, "all", sizeof p->label);
        return 0;
    }
    size_t len = strlen(text);
    if (len >= sizeof p->label)
        return -EINVAL;
    ws_strlcpy(p->label, text, sizeof p->label);
    int year, month, quarter;
    const char *range = strstr(text, "..");
    if (range) {
        char first[16], last[16];
        size_t first_len = (size_t)(range - text);
        if (first_len != 10 || strlen(range + 2) != 10)
            return -EINVAL;
        memcpy(first, text, 10);
        first[10] = '\0';
        ws_strlcpy(last, range + 2, sizeof last);
        return days_range(first, last, p) < 0 ? -EINVAL : 0;
    }
    if (len == 4 && parse_int(text, 4, &year) == 0)
        return months_range(year, 1, 12, p) < 0 ? -EINVAL : 0;
    if (len == 7 && text[4] == '-' && (text[5] == 'Q' || text[5] == 'q') &&
        parse_int(text, 4, &year) == 0 &&
        parse_int(text + 6, 1, &quarter) == 0 && quarter >= 1 && quarter <= 4)
        return months_range(year, (quarter - 1) * 3 + 1, 3, p) < 0 ? -EINVAL
                                                                   : 0;
    if (len == 7 && text[4] == '-' && parse_int(text, 4, &year) == 0 &&
        parse_int(text + 5, 2, &month) == 0 && month >= 1 && month <= 12)
        return months_range(year, month, 1, p) < 0 ? -EINVAL : 0;
    if (len == 10)
        return days_range(text, text, p) < 0 ? -EINVAL : 0;
    return -EINVAL;
}

/* ---- display width of UTF-8 text, for aligned tables ---- */

/* Decodes one UTF-8 sequence at s; returns its length (1 for a bad byte,
 * which is then shown as one column). */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xe0) == 0xc0   ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 0) {
        *cp = 0xfffd;
        return 1;
    }
    uint32_t v = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v;
    return n;
}

/* Columns a code point takes on a terminal: combining marks (Vietnamese
 * text in decomposed form uses them) take none, East Asian wide characters
 * two. Enough for org unit names; no locale needed. */
static int codepoint_width(uint32_t cp)
{
    if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
        (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
        (cp >= 0xfe20 && cp <= 0xfe2f) || cp == 0x200b || cp == 0x200d)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

static int display_width(const char *s)
{
    int width = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        p += utf8_decode(p, &cp);
        width += codepoint_width(cp);
    }
    return width;
}

/* Prints s left-aligned in width columns. */
static void print_padded(FILE *out, const char *s, int width)
{
    fputs(s, out);
    for (int w = display_width(s); w < width; w++)
        fputc(' ', out);
}

static void print_right(FILE *out, const char *s, int width)
{
    for (int w = display_width(s); w < width; w++)
        fputc(' ', out);
    fputs(s, out);
}

/* ---- formats ---- */

static void print_csv(FILE *out, const struct store_indicator_row *rows,
                      size_t n, const struct period *p)
{
    fputs("code,org_unit,period,numerator,denominator,value\n", out);
    for (size_t i = 0; i < n; i++) {
        char count[24];
        snprintf(count, sizeof count, "%" PRId64, rows[i].count);
        ws_csv_write_field(out, rows[i].code);
        fputc(',', out);
        ws_csv_write_field(out, rows[i].org_unit);
        fputc(',', out);
        ws_csv_write_field(out, p->label);
        /* A count has no denominator: the field stays empty. */
        fprintf(out, ",%s,,%s\n", count, count);
    }
}

static int print_json(FILE *out, const struct store_indicator_row *rows,
                      size_t n, const struct period *p)
{
    json_t *array = json_array();
    if (!array)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *row =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:n, s:I}", "code",
                      rows[i].code, "org_unit", rows[i].org_unit, "name",
                      rows[i].name, "scope", rows[i].kind, "period", p->label,
                      "numerator", (json_int_t)rows[i].count, "denominator",
                      "value", (json_int_t)rows[i].count);
        if (!row || json_array_append_new(array, row) < 0) {
            json_decref(array);
            return -ENOMEM;
        }
    }
    int rc = json_dumpf(array, out, JSON_INDENT(2)) < 0 ? -EIO : 0;
    fputc('\n', out);
    json_decref(array);
    return rc;
}

/* The district's name is also a ward's (Long Biên): say which row is which
 * for a person reading the table. */
static void table_name(const struct store_indicator_row *row, char *out,
                       size_t cap)
{
    if (strcmp(row->kind, "office") == 0)
        snprintf(out, cap, "%s (district office)", row->name);
    else if (strcmp(row->kind, "rollup") == 0)
        snprintf(out, cap, "%s (district total)", row->name);
    else
        snprintf(out, cap, "%s", row->name);
}

/* One row per org unit, one column per indicator. Rows come sorted by
 * indicator then unit, each indicator listing the same units. */
static void print_table(FILE *out, const struct store_indicator_row *rows,
                        size_t n, const struct period *p)
{
    size_t n_units = 0;
    while (n_units < n && strcmp(rows[n_units].code, rows[0].code) == 0)
        n_units++;
    size_t n_codes = n_units ? n / n_units : 0;

    int unit_w = display_width("org_unit"), name_w = display_width("name");
    for (size_t u = 0; u < n_units; u++) {
        char name[300];
        table_name(&rows[u], name, sizeof name);
        int w = display_width(rows[u].org_unit);
        unit_w = w > unit_w ? w : unit_w;
        w = display_width(name);
        name_w = w > name_w ? w : name_w;
    }
    int *code_w = calloc(n_codes ? n_codes : 1, sizeof *code_w);
    if (!code_w)
        return;
    for (size_t c = 0; c < n_codes; c++) {
        code_w[c] = display_width(rows[c * n_units].code);
        for (size_t u = 0; u < n_units; u++) {
            char count[24];
            int w = snprintf(count, sizeof count, "%" PRId64,
                             rows[c * n_units + u].count);
            code_w[c] = w > code_w[c] ? w : code_w[c];
        }
    }

    fprintf(out, "period: %s\n\n", p->label);
    print_padded(out, "org_unit", unit_w);
    fputs("  ", out);
    print_padded(out, "name", name_w);
    for (size_t c = 0; c < n_codes; c++) {
        fputs("  ", out);
        print_right(out, rows[c * n_units].code, code_w[c]);
    }
    fputc('\n', out);
    int total = unit_w + 2 + name_w;
    for (size_t c = 0; c < n_codes; c++)
        total += 2 + code_w[c];
    for (int i = 0; i < total; i++)
        fputc('-', out);
    fputc('\n', out);
    for (size_t u = 0; u < n_units; u++) {
        if (strcmp(rows[u].kind, "rollup") == 0) {
            for (int i = 0; i < total; i++)
                fputc('-', out);
            fputc('\n', out);
        }
        char name[300];
        table_name(&rows[u], name, sizeof name);
        print_padded(out, rows[u].org_unit, unit_w);
        fputs("  ", out);
        print_padded(out, name, name_w);
        for (size_t c = 0; c < n_codes; c++) {
            char count[24];
            snprintf(count, sizeof count, "%" PRId64,
                     rows[c * n_units + u].count);
            fputs("  ", out);
            print_right(out, count, code_w[c]);
        }
        fputc('\n', out);
    }
    free(code_w);
}

int indicators_run(const struct hub_settings *settings, const char *format,
                   const char *period_text, FILE *out)
{
    enum { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON } fmt;
    if (!format || strcmp(format, "table") == 0) {
        fmt = FORMAT_TABLE;
    } else if (strcmp(format, "csv") == 0) {
        fmt = FORMAT_CSV;
    } else if (strcmp(format, "json") == 0) {
        fmt = FORMAT_JSON;
    } else {
        ws_error(MODULE, "--format: unknown format \"%s\" (table, csv, json)",
                 format);
        return HUB_EXIT_USAGE;
    }
    struct period p;
    if (parse_period(period_text, &p) < 0) {
        ws_error(MODULE,
                 "--period: cannot read \"%s\" (all, YYYY, YYYY-Qn, YYYY-MM, "
                 "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)",
                 period_text);
        return HUB_EXIT_USAGE;
    }

    struct store *st = NULL;
    struct store_indicator_row *rows = NULL;
    size_t n = 0;
    char err[1024];
    int rc = HUB_EXIT_OK;
    if (store_open(settings->database, &st, err, sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        return HUB_EXIT_IO;
    }
    if (store_indicator_counts(st, p.bounded ? p.from : NULL,
                               p.bounded ? p.to : NULL, &rows, &n, err,
                               sizeof err) < 0) {
        ws_error(MODULE, "could not compute indicators: %s", err);
        rc = HUB_EXIT_IO;
        goto out_store;
    }
    switch (fmt) {
    case FORMAT_CSV:
        print_csv(out, rows, n, &p);
        break;
    case FORMAT_JSON:
        if (print_json(out, rows, n, &p) < 0)
            rc = HUB_EXIT_IO;
        break;
    case FORMAT_TABLE:
        print_table(out, rows, n, &p);
        break;
    }
    if (fflush(out) != 0 || ferror(out)) {
        ws_error(MODULE, "could not write the report: %s", strerror(errno));
        rc = HUB_EXIT_IO;
    }

    free(rows);
out_store:
    store_close(&st);
    return rc;
}
