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
 * Ballot-derived indicators are per survey round (the period column holds
 * the round code) and list only the wards the round covers; the others
 * are per period. The figures come from indicator_values() in the
 * database (sql/001_baseline.sql), the function the published views read,
 * with the publication rule applied: what an operator sees here is what
 * the city gets. This file parses the period, reads the thresholds of the
 * configuration and formats.
 */
#include "indicators.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "csvload.h"
#include "db/conn.h"
#include "db/indicators.h"
#include "wardsync/config.h"
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

/* ---- thresholds ---- */

/* A share of the flag rule: a decimal in (0, 1] with at most 6 decimals
 * ("0.30", ".5", "1"). Checked here so that the message names the
 * setting; the database checks the range again. */
static bool share_valid(const char *text)
{
    size_t i = 0, digits = 0, decimals = 0;
    bool point = false, nonzero = false;
    for (; text[i]; i++) {
        if (text[i] == '.' && !point) {
            point = true;
            continue;
        }
        if (text[i] < '0' || text[i] > '9')
            return false;
        digits++;
        if (point)
            decimals++;
        if (text[i] != '0')
            nonzero = true;
        if (!point && text[i] != '0' && !(text[i] == '1'))
            return false;
    }
    if (digits == 0 || decimals > 6 || !nonzero)
        return false;
    /* at most 1: an integer part of 1 only with zero decimals */
    const char *dot = strchr(text, '.');
    size_t int_len = dot ? (size_t)(dot - text) : strlen(text);
    bool int_one = false;
    for (size_t k = 0; k < int_len; k++)
        if (text[k] == '1')
            int_one = true;
    if (int_one && dot)
        for (const char *q = dot + 1; *q; q++)
            if (*q != '0')
                return false;
    return true;
}

int indicators_thresholds(const struct hub_settings *settings,
                          struct ind_thresholds *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (ws_config_get_int(settings->config, "hub", "flag_min_ballots", 10, 1,
                          1000000, &out->min_ballots, err, errlen) < 0 ||
        ws_config_get_int(settings->config, "hub", "suppress_below", 10, 1,
                          1000000, &out->suppress_below, err, errlen) < 0 ||
        ws_config_get_int(settings->config, "hub", "due_soon_days", 5, 0, 365,
                          &out->due_soon_days, err, errlen) < 0)
        return -EINVAL;
    static const char *const keys[] = {"flag_level3_share",
                                       "flag_level23_share"};
    static const char *const defaults[] = {"0.30", "0.50"};
    char *dest[] = {out->level3_share, out->level23_share};
    for (size_t i = 0; i < 2; i++) {
        const char *v =
            ws_config_get(settings->config, "hub", keys[i], defaults[i]);
        if (!share_valid(v) || strlen(v) >= sizeof out->level3_share) {
            char where[512];
            ws_config_where(settings->config, "hub", keys[i], where,
                            sizeof where);
            snprintf(err, errlen,
                     "%s: \"%s\" is not a share in (0, 1] with at most 6 "
                     "decimals",
                     where, v);
            return -EINVAL;
        }
        ws_strlcpy(dest[i], v, sizeof out->level3_share);
    }
    return 0;
}

/* One row of the petition deadline rules file. */
static int apply_petition_rule(struct db *st, const struct ws_csv_record *rec,
                               char *err, size_t errlen)
{
    if (rec->n_fields != 7) {
        snprintf(err, errlen,
                 "want kind,effective_from,accept_days,"
                 "resolve_days,extension_days,max_extensions,"
                 "source");
        return -EINVAL;
    }
    const char *const fields[7] = {
        rec->fields[0], rec->fields[1], rec->fields[2], rec->fields[3],
        rec->fields[4], rec->fields[5], rec->fields[6]};
    return db_ind_petition_rule(st, fields, err, errlen);
}

/* Loads the petition deadline rules file ([hub] petition_rules, default
 * district-hub/data/petition_rules.csv in the data folder) into
 * petition_deadline_rules, in one transaction. Rules are versioned by
 * effective_from: a new version is a new row, never an edit of the old one's
 * meaning. */
static int load_petition_rules(const struct hub_settings *settings,
                               struct db *st)
{
    const char *path = settings->petition_rules;
    size_t rules;
    int rc =
        csvload_apply(st, MODULE, path, "kind", apply_petition_rule, &rules);
    if (rc == 0)
        ws_info(MODULE, "petition deadline rules loaded file=%s rules=%zu",
                path, rules);
    return rc;
}

int indicators_write_settings(const struct hub_settings *settings)
{
    struct ind_thresholds t;
    struct db *st = NULL;
    char err[1024];
    if (indicators_thresholds(settings, &t, err, sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        return -EINVAL;
    }
    if (db_open(settings->database, "district-hub indicators", &st, err,
                sizeof err) < 0 ||
        db_ind_settings_write(st, &t, err, sizeof err) < 0) {
        ws_error(MODULE, "could not write the indicator settings: %s", err);
        db_close(&st);
        return -EIO;
    }
    int rc = load_petition_rules(settings, st);
    db_close(&st);
    if (rc < 0)
        return rc;
    ws_info(
        MODULE,
        "indicator settings flag_min_ballots=%" PRId64
        " flag_level3_share=%s flag_level23_share=%s suppress_below=%" PRId64
        " due_soon_days=%" PRId64,
        t.min_ballots, t.level3_share, t.level23_share, t.suppress_below,
        t.due_soon_days);
    return 0;
}

/* ---- formats ---- */

static bool is_percent(const char *code)
{
    static const char *const codes[] = {
        "ballot_completeness",       "remediation_on_time",
        "ward_reporting_timeliness", "petition_resolution_rate",
        "petition_on_time_rate",     "chair_reception_weeks"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* The figure a person reads: "<10", "1022", "152/204 = 74.5 %",
 * "537/167 = 3.2". */
static void figure(const struct ind_row *r, long suppress_below, char *out,
                   size_t cap)
{
    if (r->suppressed) {
        snprintf(out, cap, "<%ld (suppressed)", suppress_below);
        return;
    }
    if (r->denominator[0] == '\0') {
        snprintf(out, cap, "%s", r->value[0] ? r->value : "-");
        return;
    }
    if (r->value[0] == '\0') {
        snprintf(out, cap, "%s/%s = -", r->numerator, r->denominator);
        return;
    }
    double v = strtod(r->value, NULL);
    if (is_percent(r->code))
        snprintf(out, cap, "%s/%s = %.1f %%", r->numerator, r->denominator,
                 v * 100.0);
    else if (strcmp(r->code, "subject_score") == 0)
        snprintf(out, cap, "%s/%s = %.2f", r->numerator, r->denominator, v);
    else
        snprintf(out, cap, "%s/%s = %.1f", r->numerator, r->denominator, v);
}

static void print_csv(FILE *out, const struct ind_row *rows, size_t n,
                      const struct ind_thresholds *t)
{
    fputs("code,org_unit,period,numerator,denominator,value\n", out);
    for (size_t i = 0; i < n; i++) {
        ws_csv_write_field(out, rows[i].code);
        fputc(',', out);
        ws_csv_write_field(out, rows[i].org_unit);
        fputc(',', out);
        ws_csv_write_field(out, rows[i].period);
        /* A suppressed cell has no number at all ("<10" says why); a count
         * has no denominator. */
        if (rows[i].suppressed)
            fprintf(out, ",,,<%" PRId64 "\n", t->suppress_below);
        else
            fprintf(out, ",%s,%s,%s\n", rows[i].numerator, rows[i].denominator,
                    rows[i].value);
    }
}

static json_t *number_or_null(const char *text)
{
    if (!text[0])
        return json_null();
    if (strchr(text, '.'))
        return json_real(strtod(text, NULL));
    return json_integer((json_int_t)strtoll(text, NULL, 10));
}

static int print_json(FILE *out, const struct ind_row *rows, size_t n,
                      const struct ind_thresholds *t)
{
    json_t *array = json_array();
    if (!array)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct ind_row *r = &rows[i];
        json_t *row = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:s, s:{s:I, s:s, "
            "s:s, s:I, s:I}}",
            "code", r->code, "org_unit", r->org_unit, "name", r->name, "scope",
            r->kind, "period", r->period, "numerator",
            number_or_null(r->numerator), "denominator",
            number_or_null(r->denominator), "value", number_or_null(r->value),
            "suppressed", r->suppressed, "rule", r->rule, "thresholds",
            "flag_min_ballots", (json_int_t)t->min_ballots, "flag_level3_share",
            t->level3_share, "flag_level23_share", t->level23_share,
            "suppress_below", (json_int_t)t->suppress_below, "due_soon_days",
            (json_int_t)t->due_soon_days);
        if (!row || json_array_append_new(array, row) < 0) {
            json_decref(array);
            return -ENOMEM;
        }
    }
    /* 15 significant digits: a decimal as the database printed it (0.3,
     * not 0.29999999999999999). */
    int rc =
        json_dumpf(array, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) < 0
            ? -EIO
            : 0;
    fputc('\n', out);
    json_decref(array);
    return rc;
}

/* The district's name is also a ward's (Long Biên): say which row is which
 * for a person reading the table. */
static void table_name(const struct ind_row *row, char *out, size_t cap)
{
    if (strcmp(row->kind, "office") == 0)
        snprintf(out, cap, "%s (district office)", row->name);
    else if (strcmp(row->kind, "rollup") == 0)
        snprintf(out, cap, "%s (district total)", row->name);
    else
        snprintf(out, cap, "%s", row->name);
}

/* One block per indicator and period: a line per unit, then the rule. */
static void print_table(FILE *out, const struct ind_row *rows, size_t n,
                        const struct period *p, const struct ind_thresholds *t)
{
    int unit_w = display_width("org_unit"), name_w = display_width("name");
    for (size_t i = 0; i < n; i++) {
        char name[300];
        table_name(&rows[i], name, sizeof name);
        int w = display_width(rows[i].org_unit);
        unit_w = w > unit_w ? w : unit_w;
        w = display_width(name);
        name_w = w > name_w ? w : name_w;
    }
    fprintf(out, "period: %s\n", p->label);
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(rows[i].code, rows[i - 1].code) != 0 ||
                     strcmp(rows[i].period, rows[i - 1].period) != 0;
        if (first)
            fprintf(out, "\n%s (%s)\n", rows[i].code, rows[i].period);
        char name[300], fig[128];
        table_name(&rows[i], name, sizeof name);
        figure(&rows[i], (long)t->suppress_below, fig, sizeof fig);
        fputs("  ", out);
        print_padded(out, rows[i].org_unit, unit_w);
        fputs("  ", out);
        print_padded(out, name, name_w);
        fputs("  ", out);
        fputs(fig, out);
        fputc('\n', out);
        bool last = i + 1 == n || strcmp(rows[i].code, rows[i + 1].code) != 0 ||
                    strcmp(rows[i].period, rows[i + 1].period) != 0;
        if (last)
            fprintf(out, "  rule: %s\n", rows[i].rule);
    }
}

int indicators_run(const struct hub_settings *settings, const char *format,
                   const char *period_text, const char *as_of_text, FILE *out)
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
        return -EDOM;
    }
    struct period p;
    if (parse_period(period_text, &p) < 0) {
        ws_error(MODULE,
                 "--period: cannot read \"%s\" (all, YYYY, YYYY-Qn, YYYY-MM, "
                 "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)",
                 period_text);
        return -EDOM;
    }
    int32_t as_of_day;
    if (as_of_text && ws_date_parse(as_of_text, &as_of_day) < 0) {
        ws_error(MODULE, "--as-of: \"%s\" is not a date (YYYY-MM-DD)",
                 as_of_text);
        return -EDOM;
    }
    struct ind_thresholds t;
    char err[1024];
    struct db *st = NULL;
    struct ind_row *rows = NULL;
    size_t n = 0;
    int rc = 0;
    if (db_open(settings->database, "district-hub indicators", &st, err,
                sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        return -EIO;
    }
    /* The thresholds are those "district-hub migrate" wrote into the
     * database, which the published views use too; as_of NULL lets
     * indicator_values() take the district's today (or the period's last
     * day when the period is over). */
    if (db_ind_settings_read(st, &t, err, sizeof err) < 0) {
        ws_error(MODULE, "could not read indicator_settings: %s", err);
        rc = -EIO;
        goto out_store;
    }
    if (db_ind_values(st, p.bounded ? p.from : NULL, p.bounded ? p.to : NULL,
                      p.label, as_of_text, &t, &rows, &n, err,
                      sizeof err) < 0) {
        ws_error(MODULE, "could not compute indicators: %s", err);
        rc = -EIO;
        goto out_store;
    }
    switch (fmt) {
    case FORMAT_CSV:
        print_csv(out, rows, n, &t);
        break;
    case FORMAT_JSON:
        if (print_json(out, rows, n, &t) < 0)
            rc = -EIO;
        break;
    case FORMAT_TABLE:
        print_table(out, rows, n, &p, &t);
        break;
    }
    if (fflush(out) != 0 || ferror(out)) {
        ws_error(MODULE, "could not write the report: %s", strerror(errno));
        rc = -EIO;
    }

    free(rows);
out_store:
    db_close(&st);
    return rc;
}
