/*
 * report.c - the city report: one self-contained HTML file (inline SVG,
 * no external file), Vietnamese text with the code names beside it, in
 * the district report's style: each district's headline figures, a chart
 * per figure with one bar per district, and the hubs that are stale.
 *
 * Every chart is an <svg class="chart" id="chart-…" data-bars="N"> with N
 * <rect class="bar">, as in the district's report, so a test can count
 * what rendered.
 */
#include "report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub.h"
#include "warehouse.h"

static void put_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static const char *text(const struct warehouse_table *t, size_t r,
                        const char *name)
{
    const char *v = warehouse_cell(t, r, name);
    return v ? v : "";
}

/* One bar per district of column, scaled to the largest. */
static void chart(FILE *out, const char *id, const char *title,
                  const struct warehouse_table *d, const char *column,
                  const char *colour)
{
    const int bar_w = 34, gap = 12, plot_h = 160, top = 24, bottom = 40;
    const int left = 44;
    double max = 0;
    for (size_t r = 0; r < d->n_rows; r++) {
        double v = strtod(text(d, r, column), NULL);
        if (v > max)
            max = v;
    }
    if (max <= 0)
        max = 1;
    int width = left + (int)d->n_rows * (bar_w + gap) + gap + 20;
    if (width < 300)
        width = 300;
    fputs("<figure><figcaption>", out);
    put_text(out, title);
    fprintf(out,
            "</figcaption>\n<svg class=\"chart\" id=\"%s\" data-bars=\"%zu\" "
            "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "role=\"img\">\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
            "stroke=\"#555\"/><text x=\"4\" y=\"%d\" font-size=\"11\">%.0f"
            "</text><text x=\"4\" y=\"%d\" font-size=\"11\">0</text>\n",
            id, d->n_rows, width, top + plot_h + bottom, left, top + plot_h,
            width - 4, top + plot_h, top + 4, max, top + plot_h);
    for (size_t r = 0; r < d->n_rows; r++) {
        const char *v = text(d, r, column);
        int x = left + gap + (int)r * (bar_w + gap);
        int h = (int)(strtod(v, NULL) / max * plot_h + 0.5);
        if (h < 1)
            h = 1;
        fprintf(out,
                "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" "
                "height=\"%d\" fill=\"%s\"><title>",
                x, top + plot_h - h, bar_w, h, colour);
        put_text(out, text(d, r, "district"));
        fputs(": ", out);
        put_text(out, v);
        fprintf(out,
                "</title></rect><text x=\"%d\" y=\"%d\" font-size=\"10\" "
                "text-anchor=\"middle\">",
                x + bar_w / 2, top + plot_h - h - 3);
        put_text(out, v);
        fprintf(out,
                "</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
                "text-anchor=\"middle\">",
                x + bar_w / 2, top + plot_h + 14);
        put_text(out, text(d, r, "district"));
        fputs("</text>\n", out);
    }
    fputs("</svg></figure>\n", out);
}

static const char STYLE[] =
    "body{font-family:'Noto Sans','DejaVu Sans',Arial,sans-serif;"
    "margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;"
    "border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;font-size:12px;margin:8px 0}"
    "th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    "thead th{background:#eef}code{font-size:10px;color:#666}"
    "figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}"
    "figcaption{font-size:13px;font-weight:bold;max-width:520px}"
    ".stale{color:#c62828;font-weight:bold}";

static bool is_stale(const struct warehouse_table *d, size_t r, long after)
{
    const char *age = warehouse_cell(d, r, "age_s");
    return !age || strtol(age, NULL, 10) > after;
}

static void table_districts(FILE *out, const struct warehouse_table *d,
                            long stale_after_s)
{
    fputs("<table id=\"districts\"><thead><tr><th>Quận (district)</th>"
          "<th>Số đơn vị (units)</th><th>Đơn thư tiếp nhận (petitions "
          "received)</th><th>Đã giải quyết (resolved)</th><th>Đang giải "
          "quyết (in progress)</th><th>Quá hạn (overdue)</th><th>Phiếu đánh "
          "giá (ballots)</th><th>Độ trễ lớn nhất (max lag, s)</th><th>Nạp "
          "lần cuối (loaded, UTC)</th></tr></thead>\n",
          out);
    static const char *const columns[] = {"wards",
                                          "petitions_received",
                                          "petitions_resolved",
                                          "petitions_in_progress",
                                          "petitions_overdue",
                                          "ballots_received",
                                          "max_lag_seconds"};
    for (size_t r = 0; r < d->n_rows; r++) {
        fputs("<tr class=\"district\"><td>", out);
        put_text(out, text(d, r, "district"));
        fputs("</td>", out);
        for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
            fputs("<td>", out);
            put_text(out, text(d, r, columns[c]));
            fputs("</td>", out);
        }
        fprintf(out, "<td%s>",
                is_stale(d, r, stale_after_s) ? " class=\"stale\"" : "");
        put_text(out, text(d, r, "loaded_at"));
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

static void table_headlines(FILE *out, const struct warehouse_table *d,
                            const struct warehouse_table *h)
{
    fputs("<table id=\"headlines\"><thead><tr><th>Chỉ tiêu (indicator)</th>"
          "<th>Kỳ (period)</th>",
          out);
    for (size_t r = 0; r < d->n_rows; r++) {
        fputs("<th>", out);
        put_text(out, text(d, r, "district"));
        fputs("</th>", out);
    }
    fputs("</tr></thead>\n", out);
    for (size_t i = 0; i < h->n_rows;) {
        size_t j = i;
        fputs("<tr><td><code>", out);
        put_text(out, text(h, i, "code"));
        fputs("</code></td><td>", out);
        put_text(out, text(h, i, "period"));
        fputs("</td>", out);
        for (size_t r = 0; r < d->n_rows; r++) {
            const char *value = "–";
            for (size_t k = i;
                 k < h->n_rows &&
                 strcmp(text(h, k, "code"), text(h, i, "code")) == 0 &&
                 strcmp(text(h, k, "period"), text(h, i, "period")) == 0;
                 k++) {
                if (k + 1 > j)
                    j = k + 1;
                if (strcmp(text(h, k, "district"), text(d, r, "district")) == 0)
                    value = strcmp(text(h, k, "suppressed"), "t") == 0
                                ? "<10"
                                : text(h, k, "value");
            }
            fputs("<td>", out);
            put_text(out, value);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
        i = j > i ? j : i + 1;
    }
    fputs("</table>\n", out);
}

static void stale_hubs(FILE *out, const struct warehouse_table *d,
                       long stale_after_s)
{
    fprintf(out,
            "<h2>Quận chưa cập nhật (stale hubs: not loaded for more than "
            "%ld s)</h2>\n<ul id=\"stale\">",
            stale_after_s);
    size_t n = 0;
    for (size_t r = 0; r < d->n_rows; r++)
        if (is_stale(d, r, stale_after_s)) {
            fputs("<li class=\"stale\">", out);
            put_text(out, text(d, r, "district"));
            fputs(" – nạp lần cuối (last loaded) ", out);
            put_text(out, text(d, r, "loaded_at"));
            fputs("</li>", out);
            n++;
        }
    if (n == 0)
        fputs("<li>Không có (none): mọi quận đều đã cập nhật.</li>", out);
    fputs("</ul>\n", out);
}

static int write_report(FILE *out, struct warehouse *w, long stale_after_s,
                        char *err, size_t errlen)
{
    struct warehouse_table d = {0}, h = {0};
    if (warehouse_report(w, WAREHOUSE_REPORT_DISTRICTS, &d, err, errlen) < 0)
        return -1;
    if (warehouse_report(w, WAREHOUSE_REPORT_HEADLINES, &h, err, errlen) < 0) {
        warehouse_table_clear(&d);
        return -1;
    }
    char generated[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(generated, sizeof generated, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
            "<title>Báo cáo toàn thành phố</title><style>%s</style></head>"
            "<body>\n<h1>Báo cáo kỷ luật, kỷ cương hành chính – toàn thành "
            "phố</h1><p>Chỉ thị 24-CT/TU · %zu quận · lập lúc %s · "
            "city-pull report</p>\n",
            STYLE, d.n_rows, generated);
    fputs("<h2>Số liệu chính theo quận (headline figures per "
          "district)</h2>\n",
          out);
    if (d.n_rows == 0)
        fputs("<p>Chưa có số liệu (no data yet).</p>\n", out);
    table_districts(out, &d, stale_after_s);
    fputs("<h2>Biểu đồ theo quận (charts per district)</h2>\n", out);
    chart(out, "chart-petitions", "Đơn thư tiếp nhận (petitions received)", &d,
          "petitions_received", "#1565c0");
    chart(out, "chart-resolved", "Đơn thư đã giải quyết (petitions resolved)",
          &d, "petitions_resolved", "#2e7d32");
    chart(out, "chart-overdue", "Đơn thư quá hạn (petitions overdue)", &d,
          "petitions_overdue", "#c62828");
    chart(out, "chart-ballots", "Phiếu đánh giá (ballots received)", &d,
          "ballots_received", "#6a1b9a");
    fputs("<h2>Chỉ tiêu cấp quận (district indicators)</h2>\n", out);
    table_headlines(out, &d, &h);
    stale_hubs(out, &d, stale_after_s);
    fputs("<p>Ô có ít hơn 10 phiếu không được công bố (&lt;10), như ở "
          "quận.</p>\n</body></html>\n",
          out);
    warehouse_table_clear(&d);
    warehouse_table_clear(&h);
    if (ferror(out)) {
        snprintf(err, errlen, "could not write the report: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

int report_run(const char *conninfo, const char *path, long stale_after_s)
{
    char err[5000];
    struct warehouse *w = NULL;
    if (warehouse_open(conninfo, &w, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        return EXIT_IO;
    }
    bool to_stdout = strcmp(path, "-") == 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = to_stdout ? stdout : fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "city-pull: could not open \"%s\": %s\n", tmp,
                strerror(errno));
        warehouse_close(&w);
        return EXIT_IO;
    }
    int rc = write_report(out, w, stale_after_s, err, sizeof err);
    warehouse_close(&w);
    if (to_stdout) {
        if (fflush(stdout) != 0 && rc == 0) {
            snprintf(err, sizeof err, "could not write: %s", strerror(errno));
            rc = -1;
        }
    } else {
        if (fclose(out) != 0 && rc == 0) {
            snprintf(err, sizeof err, "could not write \"%s\": %s", tmp,
                     strerror(errno));
            rc = -1;
        }
        if (rc == 0 && rename(tmp, path) != 0) {
            snprintf(err, sizeof err, "could not rename to \"%s\": %s", path,
                     strerror(errno));
            rc = -1;
        }
        if (rc < 0)
            remove(tmp);
    }
    if (rc < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        return EXIT_IO;
    }
    return EXIT_OK;
}
