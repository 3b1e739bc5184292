/*
 * report.c - the district report as one HTML file with inline SVG charts.
 *
 * Every chart is an <svg class="chart" data-bars="N"> holding N
 * <rect class="bar"> elements, one per value, so that a test can count
 * what rendered. Texts shown to people are Vietnamese (GLOSSARY.md) with
 * the code names beside them where an analyst needs them.
 *
 * Every figure comes from the database's own functions, the ones
 * "district-hub indicators" and the pull read (docs/DESIGN.md §7, "one
 * definition everywhere"): the indicator table, the on-time and backlog
 * charts and the inspections and job rotation sections (a table and a
 * chart each) from indicator_values(), the flagged subjects and the
 * remediation chart from flagged_subjects(), the thresholds from
 * indicator_settings. This file computes and suppresses nothing itself;
 * a cell indicator_values() suppresses is shown "<k", any other as the
 * value it returns.
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/conn.h"
#include "db/indicators.h"
#include "db/read.h"
#include "status.h"
#include "wardsync/config.h"
#include "wardsync/log.h"

#define MODULE "report"

/* HTML-escapes text (NULL: nothing). */
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

static const char *cell(const struct db_table *t, size_t r, const char *name)
{
    int c = db_table_column(t, name);
    const char *v = c >= 0 ? db_table_get(t, r, (size_t)c) : NULL;
    return v ? v : "";
}

static double num(const struct db_table *t, size_t r, const char *name)
{
    return strtod(cell(t, r, name), NULL);
}

struct bar {
    char label[96];     /* under the bar */
    char value[32];     /* above the bar ("<10" when suppressed) */
    double height;      /* in the chart's unit; < 0: suppressed */
    const char *colour; /* fill */
};

/* A vertical bar chart, scaled to max (0: the largest value). */
static void svg_bars(FILE *out, const char *id, const char *title,
                     const char *unit, const struct bar *bars, size_t n,
                     double max)
{
    const int bar_w = 28, gap = 10, plot_h = 180, top = 30, bottom = 70;
    const int left = 40;
    if (max <= 0)
        for (size_t i = 0; i < n; i++)
            if (bars[i].height > max)
                max = bars[i].height;
    if (max <= 0)
        max = 1;
    /* Room on the right for the last slanted label. */
    int width = left + (int)n * (bar_w + gap) + gap + 50;
    if (width < 320)
        width = 320;
    fprintf(out, "<figure><figcaption>");
    put_text(out, title);
    fprintf(out,
            "</figcaption>\n<svg class=\"chart\" id=\"%s\" data-bars=\"%zu\" "
            "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "role=\"img\">\n",
            id, n, width, top + plot_h + bottom);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#555\"/>\n",
            left, top + plot_h, width - 4, top + plot_h);
    fprintf(out,
            "<text x=\"4\" y=\"%d\" font-size=\"11\">%.0f</text>"
            "<text x=\"4\" y=\"%d\" font-size=\"11\">0</text>",
            top + 4, max, top + plot_h);
    if (unit) {
        fprintf(out, "<text x=\"4\" y=\"16\" font-size=\"11\">");
        put_text(out, unit);
        fputs("</text>\n", out);
    }
    if (n == 0)
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" font-size=\"13\">Chưa có số "
                "liệu (no data yet)</text>\n",
                left + 10, top + plot_h / 2);
    for (size_t i = 0; i < n; i++) {
        int x = left + gap + (int)i * (bar_w + gap);
        bool suppressed = bars[i].height < 0;
        int h = suppressed ? 2 : (int)(bars[i].height / max * plot_h + 0.5);
        if (h < 1)
            h = 1;
        fprintf(out,
                "<rect class=\"bar%s\" x=\"%d\" y=\"%d\" width=\"%d\" "
                "height=\"%d\" fill=\"%s\"><title>",
                suppressed ? " suppressed" : "", x, top + plot_h - h, bar_w, h,
                suppressed ? "#bbb" : bars[i].colour);
        put_text(out, bars[i].label);
        fputs(": ", out);
        put_text(out, bars[i].value);
        fputs("</title></rect>\n", out);
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" font-size=\"10\" "
                "text-anchor=\"middle\">",
                x + bar_w / 2, top + plot_h - h - 3);
        put_text(out, bars[i].value);
        fprintf(out,
                "</text><text font-size=\"10\" transform=\"translate(%d,%d) "
                "rotate(40)\">",
                x + 4, top + plot_h + 12);
        put_text(out, bars[i].label);
        fputs("</text>\n", out);
    }
    fputs("</svg></figure>\n", out);
}

static const char *const LEVEL_COLOURS[] = {"#2e7d32", "#f9a825", "#c62828"};

/* Share of answers at each level within each content group. */
static void chart_ballot_levels(FILE *out, const struct db_table *t,
                                bool suppressed, long k_below)
{
    struct bar *bars = calloc(t->n_rows + 1, sizeof *bars);
    if (!bars)
        return;
    for (size_t r = 0; r < t->n_rows; r++) {
        double group_total = 0;
        for (size_t k = 0; k < t->n_rows; k++)
            if (strcmp(cell(t, k, "group_code"), cell(t, r, "group_code")) == 0)
                group_total += num(t, k, "answers");
        int level = atoi(cell(t, r, "level"));
        snprintf(bars[r].label, sizeof bars[r].label, "%s mức %d",
                 cell(t, r, "group_code"), level);
        bars[r].colour =
            LEVEL_COLOURS[(level >= 1 && level <= 3) ? level - 1 : 0];
        if (suppressed) {
            bars[r].height = -1;
            snprintf(bars[r].value, sizeof bars[r].value, "<%ld", k_below);
        } else {
            double share = group_total > 0
                               ? 100.0 * num(t, r, "answers") / group_total
                               : 0;
            bars[r].height = share;
            snprintf(bars[r].value, sizeof bars[r].value, "%.0f%%", share);
        }
    }
    svg_bars(out, "chart-ballot-levels",
             "Mức độ nhận diện theo nhóm nội dung (ballot levels per content "
             "group, % of answers)",
             "%", bars, t->n_rows, 100);
    free(bars);
}

static void chart_simple(FILE *out, const char *id, const char *title,
                         const char *unit, const struct db_table *t,
                         const char *label_col, const char *value_col,
                         const char *colour)
{
    struct bar *bars = calloc(t->n_rows + 1, sizeof *bars);
    if (!bars)
        return;
    for (size_t r = 0; r < t->n_rows; r++) {
        snprintf(bars[r].label, sizeof bars[r].label, "%s",
                 cell(t, r, label_col));
        bars[r].height = num(t, r, value_col);
        snprintf(bars[r].value, sizeof bars[r].value, "%s",
                 cell(t, r, value_col));
        bars[r].colour = colour;
    }
    svg_bars(out, id, title, unit, bars, t->n_rows, 0);
    free(bars);
}

/* The rows of one indicator, for ward and office rows (rollup false) or
 * for the rollup of unit (rollup true). */
static bool row_is(const struct ind_row *r, const char *code, bool rollup,
                   const char *unit)
{
    if (strcmp(r->code, code) != 0)
        return false;
    if (rollup)
        return strcmp(r->kind, "rollup") == 0 && strcmp(r->org_unit, unit) == 0;
    return strcmp(r->kind, "rollup") != 0;
}

/* petition_on_time_rate of every ward and office, as indicator_values()
 * gives it. */
static void chart_on_time(FILE *out, const struct ind_row *rows, size_t n)
{
    struct bar *bars = calloc(n + 1, sizeof *bars);
    if (!bars)
        return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!row_is(&rows[i], "petition_on_time_rate", false, NULL) ||
            rows[i].denominator[0] == '\0' ||
            strcmp(rows[i].denominator, "0") == 0)
            continue;
        double rate = 100.0 * strtod(rows[i].value, NULL);
        snprintf(bars[m].label, sizeof bars[m].label, "%s", rows[i].org_unit);
        snprintf(bars[m].value, sizeof bars[m].value, "%.0f%%", rate);
        bars[m].height = rate;
        bars[m].colour = "#1565c0";
        m++;
    }
    svg_bars(out, "chart-on-time",
             "Tỷ lệ giải quyết đơn thư đúng hạn theo phường (petitions "
             "resolved on time, %)",
             "%", bars, m, 100);
    free(bars);
}

/* petition_backlog_age_* of the district's rollup. */
static void chart_backlog(FILE *out, const struct ind_row *rows, size_t n,
                          const char *district)
{
    static const char *const codes[] = {
        "petition_backlog_age_0_15", "petition_backlog_age_16_30",
        "petition_backlog_age_31_45", "petition_backlog_age_over_45"};
    static const char *const labels[] = {"0–15", "16–30", "31–45", "> 45"};
    struct bar bars[4];
    memset(bars, 0, sizeof bars);
    for (size_t b = 0; b < 4; b++) {
        snprintf(bars[b].label, sizeof bars[b].label, "%s", labels[b]);
        snprintf(bars[b].value, sizeof bars[b].value, "0");
        bars[b].colour = "#ef6c00";
        for (size_t i = 0; i < n; i++)
            if (row_is(&rows[i], codes[b], true, district)) {
                snprintf(bars[b].value, sizeof bars[b].value, "%s",
                         rows[i].value);
                bars[b].height = strtod(rows[i].value, NULL);
            }
    }
    svg_bars(out, "chart-backlog",
             "Đơn thư tồn đọng theo số ngày (petition backlog by age, days)",
             "đơn", bars, 4, 0);
}

/* Flagged subjects by remediation status (without a plan too); overdue
 * counted apart. */
static void chart_remediation(FILE *out, const struct ind_flagged *f, size_t n)
{
    static const char *const status[] = {"none", "required", "submitted",
                                         "completed"};
    static const char *const label[] = {"Chưa có kế hoạch", "Phải khắc phục",
                                        "Đã nộp kế hoạch", "Đã hoàn thành"};
    struct bar bars[5];
    memset(bars, 0, sizeof bars);
    int overdue = 0;
    for (size_t r = 0; r < n; r++)
        if (f[r].overdue)
            overdue++;
    for (int i = 0; i < 4; i++) {
        int count = 0;
        for (size_t r = 0; r < n; r++)
            if (strcmp(f[r].plan_status, status[i]) == 0)
                count++;
        snprintf(bars[i].label, sizeof bars[i].label, "%s", label[i]);
        snprintf(bars[i].value, sizeof bars[i].value, "%d", count);
        bars[i].height = count;
        bars[i].colour = "#6a1b9a";
    }
    snprintf(bars[4].label, sizeof bars[4].label, "Quá hạn");
    snprintf(bars[4].value, sizeof bars[4].value, "%d", overdue);
    bars[4].height = overdue;
    bars[4].colour = "#c62828";
    svg_bars(out, "chart-remediation",
             "Cán bộ phải khắc phục và tình trạng kế hoạch (flagged subjects "
             "and remediation status)",
             "người", bars, 5, 0);
}

/* The value indicator_values() gives code for the rollup of district, or
 * "0" when it has no such row. */
static const char *rollup_value(const struct ind_row *rows, size_t n,
                                const char *code, const char *district)
{
    for (size_t i = 0; i < n; i++)
        if (row_is(&rows[i], code, true, district))
            return rows[i].value[0] ? rows[i].value : "–";
    return "0";
}

/* Inspections by kind (docs/DESIGN.md §6), the district's rollup: a
 * table of inspections and units inspected per kind, with the teams, the
 * party members inspected and the violations found, and a chart of the
 * inspections per kind. */
static void section_inspections(FILE *out, const struct ind_row *rows, size_t n,
                                const char *district)
{
    static const char *const kinds[] = {"party", "planned", "unannounced"};
    static const char *const labels[] = {
        "Kiểm tra tổ chức đảng, đảng viên (party)",
        "Kiểm tra công vụ theo kế hoạch (planned)",
        "Kiểm tra công vụ đột xuất (unannounced)"};
    struct bar bars[3];
    char code[64];
    memset(bars, 0, sizeof bars);
    fputs("<h2>Kiểm tra, thanh tra công vụ (inspections)</h2>\n"
          "<table class=\"inspections\"><thead><tr><th>Loại (kind)</th>"
          "<th>Cuộc kiểm tra<br><code>inspections_held_*</code></th>"
          "<th>Đơn vị được kiểm tra<br><code>units_inspected_*</code></th>"
          "</tr></thead><tbody>\n",
          out);
    for (size_t k = 0; k < 3; k++) {
        fputs("<tr><th>", out);
        put_text(out, labels[k]);
        fputs("</th><td>", out);
        snprintf(code, sizeof code, "inspections_held_%s", kinds[k]);
        const char *held = rollup_value(rows, n, code, district);
        put_text(out, held);
        fputs("</td><td>", out);
        snprintf(code, sizeof code, "units_inspected_%s", kinds[k]);
        put_text(out, rollup_value(rows, n, code, district));
        fputs("</td></tr>\n", out);
        snprintf(bars[k].label, sizeof bars[k].label, "%s", kinds[k]);
        snprintf(bars[k].value, sizeof bars[k].value, "%s", held);
        bars[k].height = strtod(held, NULL);
        bars[k].colour = "#37474f";
    }
    fputs("<tr><th>Tổng (all kinds)</th><td>", out);
    put_text(out, rollup_value(rows, n, "inspections_held", district));
    fputs("</td><td>", out);
    put_text(out, rollup_value(rows, n, "units_inspected", district));
    fputs("</td></tr>\n</tbody></table>\n<p>Đoàn kiểm tra công vụ "
          "(<code>inspection_teams</code>): ",
          out);
    put_text(out, rollup_value(rows, n, "inspection_teams", district));
    fputs(" · đảng viên được kiểm tra (<code>party_members_inspected</code>): ",
          out);
    put_text(out, rollup_value(rows, n, "party_members_inspected", district));
    fputs(" · vi phạm phát hiện (<code>inspection_violations</code>): ", out);
    put_text(out, rollup_value(rows, n, "inspection_violations", district));
    fputs("</p>\n", out);
    svg_bars(out, "chart-inspections",
             "Cuộc kiểm tra theo loại (inspections held by kind)", "cuộc", bars,
             3, 0);
}

/* Job rotation (docs/DESIGN.md §6), the district's rollup: a table of
 * appointments, rotations, cadres due and compliance, and a chart of the
 * three counts. */
static void section_rotations(FILE *out, const struct ind_row *rows, size_t n,
                              const char *district)
{
    static const char *const codes[] = {"cadres_appointed", "cadres_rotated",
                                        "cadres_due_rotation",
                                        "rotation_compliance"};
    static const char *const labels[] = {
        "Cán bộ được điều động, bổ nhiệm (appointed or moved)",
        "Cán bộ được chuyển đổi vị trí công tác (rotated)",
        "Cán bộ đủ thời hạn chưa được chuyển đổi (due, not rotated)",
        "Tỷ lệ chuyển đổi đúng quy định (rotation compliance)"};
    struct bar bars[3];
    memset(bars, 0, sizeof bars);
    fputs("<h2>Luân chuyển, điều động cán bộ (job rotation)</h2>\n"
          "<table class=\"rotations\"><tbody>\n",
          out);
    for (size_t c = 0; c < 4; c++) {
        const char *v = rollup_value(rows, n, codes[c], district);
        fputs("<tr><th>", out);
        put_text(out, labels[c]);
        fputs("<br><code>", out);
        put_text(out, codes[c]);
        fputs("</code></th><td>", out);
        put_text(out, v);
        fputs("</td></tr>\n", out);
        if (c < 3) {
            snprintf(bars[c].label, sizeof bars[c].label, "%s",
                     c == 0   ? "appointed"
                     : c == 1 ? "rotated"
                              : "due");
            snprintf(bars[c].value, sizeof bars[c].value, "%s", v);
            bars[c].height = strtod(v, NULL);
            bars[c].colour = c == 2 ? "#c62828" : "#5d4037";
        }
    }
    fputs("</tbody></table>\n", out);
    svg_bars(out, "chart-rotations",
             "Điều động, chuyển đổi vị trí công tác (appointed, rotated, "
             "due)",
             "người", bars, 3, 0);
}

static const char *const COUNT_CODES[] = {
    "ballots_received",   "petitions_received",    "petitions_in_jurisdiction",
    "petitions_resolved", "petitions_in_progress", "reception_sessions",
    "reception_citizens"};
static const char *const COUNT_LABELS[] = {
    "Phiếu nhận diện hợp lệ", "Đơn thư đã nhận", "Thuộc thẩm quyền",
    "Đã giải quyết",          "Đang giải quyết", "Lượt tiếp công dân",
    "Số công dân được tiếp"};
#define N_COUNT_CODES (sizeof COUNT_CODES / sizeof COUNT_CODES[0])

/* One row per org unit row of indicator_values(), one column per count
 * indicator; a ballot count per round ("R: n" when there are several). */
static void table_indicators(FILE *out, const struct ind_row *rows, size_t n,
                             long k)
{
    fputs("<table class=\"indicators\"><thead><tr><th>Đơn vị (unit)</th>", out);
    for (size_t c = 0; c < N_COUNT_CODES; c++) {
        fputs("<th>", out);
        put_text(out, COUNT_LABELS[c]);
        fputs("<br><code>", out);
        put_text(out, COUNT_CODES[c]);
        fputs("</code></th>", out);
    }
    fputs("</tr></thead><tbody>\n", out);
    /* The units in the order of petitions_received (every unit has it). */
    for (size_t u = 0; u < n; u++) {
        if (strcmp(rows[u].code, "petitions_received") != 0)
            continue;
        fputs("<tr><th>", out);
        put_text(out, rows[u].org_unit);
        fputs(" ", out);
        put_text(out, rows[u].name);
        fputs("</th>", out);
        for (size_t c = 0; c < N_COUNT_CODES; c++) {
            fputs("<td>", out);
            int shown = 0;
            for (size_t i = 0; i < n; i++) {
                if (strcmp(rows[i].code, COUNT_CODES[c]) != 0 ||
                    strcmp(rows[i].org_unit, rows[u].org_unit) != 0)
                    continue;
                if (shown++)
                    fputs("; ", out);
                if (strcmp(rows[i].period, rows[u].period) != 0) {
                    put_text(out, rows[i].period);
                    fputs(": ", out);
                }
                if (rows[i].suppressed)
                    fprintf(out, "&lt;%ld", k);
                else
                    put_text(out, rows[i].value);
            }
            if (!shown)
                fputs("–", out);
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
}

/* Every flagged subject, with a plan or without. */
static void table_flagged(FILE *out, const struct ind_flagged *f, size_t n)
{
    fputs("<table class=\"flagged\"><thead><tr><th>Phường</th><th>Đợt</th>"
          "<th>Cán bộ (subject)</th><th>Tình trạng</th><th>Hạn</th>"
          "<th>Hoàn thành</th><th>Quá hạn</th></tr></thead><tbody>\n",
          out);
    for (size_t r = 0; r < n; r++) {
        const char *cols[] = {f[r].ward,
                              f[r].survey,
                              f[r].subject,
                              strcmp(f[r].plan_status, "none") == 0
                                  ? "chưa có kế hoạch (no plan)"
                                  : f[r].plan_status,
                              f[r].due_on,
                              f[r].completed_on};
        fputs("<tr>", out);
        for (size_t c = 0; c < 6; c++) {
            fputs("<td>", out);
            put_text(out, cols[c]);
            fputs("</td>", out);
        }
        fprintf(out, "<td>%s</td></tr>\n",
                f[r].overdue ? "<b>quá hạn</b>" : "");
    }
    if (n == 0)
        fputs("<tr><td colspan=\"7\">Không có (none)</td></tr>\n", out);
    fputs("</tbody></table>\n", out);
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
    ".rules li{font-size:13px;margin:2px 0}";

static void rules(FILE *out, const struct ind_thresholds *t, const char *as_of)
{
    char min_ballots[24];
    snprintf(min_ballots, sizeof min_ballots, "%" PRId64, t->min_ballots);
    const char *l3 = t->level3_share;
    const char *l23 = t->level23_share;
    fputs("<h2>Quy tắc và ngưỡng áp dụng (rules and thresholds)</h2>"
          "<ul class=\"rules\">",
          out);
    fprintf(out,
            "<li>Số liệu tính đến ngày %s (figures as of %s, "
            "Asia/Ho_Chi_Minh).</li>",
            as_of, as_of);
    fprintf(out,
            "<li>Công bố: ô tính từ dưới %" PRId64 " phiếu hiển thị "
            "“&lt;%" PRId64 "”, và các ô bổ sung để không suy ra được "
            "(publication rule: cells counting fewer than %" PRId64
            " ballots are suppressed, with complementary suppression).</li>",
            t->suppress_below, t->suppress_below, t->suppress_below);
    fputs("<li>Cán bộ phải khắc phục khi có ít nhất ", out);
    put_text(out, min_ballots);
    fputs(" phiếu hợp lệ và trên một nội dung bất kỳ: tỷ lệ mức 3 ≥ ", out);
    put_text(out, l3);
    fputs(", hoặc tỷ lệ mức 2 và 3 ≥ ", out);
    put_text(out, l23);
    fputs(" (flag rule: min_ballots, level3_share, level23_share).</li>", out);
    fputs("<li>Kế hoạch khắc phục quá hạn: chưa hoàn thành sau hạn "
          "(overdue is computed, not typed).</li>"
          "<li>Đơn thư: thụ lý trong 10 ngày kể từ ngày nhận; khiếu nại giải "
          "quyết trong 30 ngày kể từ ngày thụ lý (45 ngày khi gia hạn); tố "
          "cáo 30 ngày, gia hạn một lần 30 ngày. Đúng hạn: giải quyết không "
          "muộn hơn hạn luật định (hạn ghi trên đơn sớm hơn là mục tiêu "
          "của cơ quan; gia hạn tính tối đa theo quy định). On time: the "
          "last resolution on or before the legal due date.</li>"
          "<li>Tồn đọng theo tuổi: đơn thuộc thẩm quyền chưa giải quyết, "
          "tính từ ngày nhận: 0–15, 16–30, 31–45, trên 45 ngày.</li>"
          "<li>Tiếp công dân: Chủ tịch UBND phường tiếp ít nhất một ngày "
          "mỗi tuần; biểu đồ đếm số buổi và số công dân theo tuần ISO.</li>"
          "</ul>\n",
          out);
}

/* The sync section (docs/DESIGN.md §8): every unit that should report,
 * its current agent's last contact, lag, backlog and rejected events, and
 * its state (status.c's, at the default threshold), in a table
 * id="sync" with one <tr class="unit"> per unit. Returns 0 or a negative
 * errno with err. */
static int section_sync(FILE *out, struct db *db, char *err, size_t errlen)
{
    struct db_table t = {0};
    int rc = db_read_status_agents(db, STATUS_DEFAULT_SILENT_AFTER_S, &t, err,
                                   errlen);
    if (rc < 0)
        return rc;
    fputs("<h2>Đồng bộ dữ liệu (sync)</h2>\n<table id=\"sync\"><tr>"
          "<th>Đơn vị (unit)</th><th>Liên lạc cuối (last contact, UTC)</th>"
          "<th>Độ trễ (lag, s)</th><th>Tồn đọng (backlog)</th>"
          "<th>Bị từ chối (rejected)</th><th>Trạng thái (state)</th></tr>\n",
          out);
    for (size_t r = 0; r < t.n_rows; r++) {
        if (r > 0 && strcmp(cell(&t, r, "ward"), cell(&t, r - 1, "ward")) == 0)
            continue; /* the unit's current instance only */
        const char *state = cell(&t, r, "state");
        bool never = strcmp(state, "NEVER") == 0;
        fputs("<tr class=\"unit\"><td>", out);
        put_text(out, cell(&t, r, "ward"));
        fputs(" ", out);
        put_text(out, cell(&t, r, "name"));
        fputs("</td><td>", out);
        put_text(out,
                 never ? "chưa bao giờ (never)" : cell(&t, r, "last_contact"));
        fputs("</td><td class=\"num\">", out);
        put_text(out, never ? "–" : cell(&t, r, "lag_seconds"));
        fputs("</td><td class=\"num\">", out);
        put_text(out, cell(&t, r, "backlog"));
        fputs("</td><td class=\"num\">", out);
        put_text(out, cell(&t, r, "rejected"));
        fprintf(out, "</td><td class=\"state-%s\">", state);
        put_text(out, state);
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
    db_table_clear(&t);
    return 0;
}

static int write_report(FILE *out, struct db *db, const char *as_of_arg,
                        char *err, size_t errlen)
{
    struct db_table t[DB_REPORT_N_QUERIES];
    memset(t, 0, sizeof t);
    struct ind_thresholds th;
    struct ind_row *rows = NULL;
    struct ind_flagged *flagged = NULL;
    size_t n_rows = 0, n_flagged = 0;
    int rc = 0;
    for (int q = 0; rc == 0 && q < DB_REPORT_N_QUERIES; q++)
        rc = db_read_report(db, (enum db_report_query)q, &t[q], err, errlen);
    if (rc == 0)
        rc = db_ind_settings_read(db, &th, err, errlen);
    if (rc == 0)
        rc = db_ind_values(db, NULL, NULL, "all", as_of_arg, &th, &rows,
                           &n_rows, err, errlen);
    if (rc == 0)
        rc = db_ind_flagged(db, as_of_arg, &th, &flagged, &n_flagged, err,
                            errlen);
    if (rc < 0)
        goto out;

    char generated[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(generated, sizeof generated, "%Y-%m-%d %H:%M UTC", &tm);
    const char *district = "", *district_code = "";
    for (size_t r = 0; r < t[DB_REPORT_WARDS].n_rows; r++)
        if (strcmp(cell(&t[DB_REPORT_WARDS], r, "kind"), "district") == 0 &&
            !district_code[0]) {
            district = cell(&t[DB_REPORT_WARDS], r, "name");
            district_code = cell(&t[DB_REPORT_WARDS], r, "code");
        }
    /* The as-of day indicator_values() judged on, as its rule text says. */
    char as_of[11] = "";
    if (as_of_arg)
        snprintf(as_of, sizeof as_of, "%s", as_of_arg);
    for (size_t i = 0; i < n_rows && !as_of[0]; i++) {
        const char *p = strstr(rows[i].rule, "as of ");
        if (p)
            snprintf(as_of, sizeof as_of, "%.10s", p + 6);
    }
    /* The ballot levels chart covers the district's ballots: shown only
     * when its ballots_received is published. */
    bool levels_suppressed = false;
    for (size_t i = 0; i < n_rows; i++)
        if (row_is(&rows[i], "ballots_received", true, district_code) &&
            rows[i].suppressed)
            levels_suppressed = true;

    fputs("<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
          "<title>Báo cáo kỷ luật, kỷ cương hành chính</title><style>",
          out);
    fputs(STYLE, out);
    fputs("</style></head><body>\n<h1>Báo cáo kỷ luật, kỷ cương hành chính "
          "– ",
          out);
    put_text(out, district);
    fprintf(out,
            "</h1><p>Chỉ thị 24-CT/TU · số liệu đến ngày %s · lập lúc %s · "
            "district-hub report</p>\n",
            as_of, generated);

    fputs("<h2>Chỉ tiêu theo phường (indicators per ward)</h2>\n", out);
    if (n_rows)
        table_indicators(out, rows, n_rows, (long)th.suppress_below);
    else
        fputs("<p>Chưa có số liệu.</p>\n", out);

    fputs("<h2>Biểu đồ (charts)</h2>\n", out);
    chart_ballot_levels(out, &t[DB_REPORT_BALLOT_LEVELS], levels_suppressed,
                        (long)th.suppress_below);
    chart_remediation(out, flagged, n_flagged);
    chart_backlog(out, rows, n_rows, district_code);
    chart_on_time(out, rows, n_rows);
    chart_simple(out, "chart-reception",
                 "Tiếp công dân theo tuần (reception sessions per week)",
                 "buổi", &t[DB_REPORT_RECEPTION_WEEKS], "week", "sessions",
                 "#00838f");

    fputs("<h2>Cán bộ phải khắc phục (flagged subjects)</h2>\n", out);
    table_flagged(out, flagged, n_flagged);
    section_inspections(out, rows, n_rows, district_code);
    section_rotations(out, rows, n_rows, district_code);
    rc = section_sync(out, db, err, errlen);
    if (rc < 0)
        goto out;
    rules(out, &th, as_of);
    fputs("</body></html>\n", out);
    if (ferror(out)) {
        snprintf(err, errlen, "could not write report: %s", strerror(errno));
        rc = -EIO;
    }
out:
    free(rows);
    free(flagged);
    for (int q = 0; q < DB_REPORT_N_QUERIES; q++)
        db_table_clear(&t[q]);
    return rc;
}

int report_run(const struct hub_settings *settings, const char *path,
               const char *as_of)
{
    struct db *db = NULL;
    char err[2048];
    int rc = -EIO;
    if (db_open(settings->database, "district-hub report", &db, err,
                sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        goto out;
    }
    bool to_stdout = !path || strcmp(path, "-") == 0;
    char tmp[1024];
    FILE *out = stdout;
    if (!to_stdout) {
        /* Written beside the target and renamed: a reader never sees half
         * a report. */
        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
            ws_error(MODULE, "path too long: %s", path);
            goto out;
        }
        out = fopen(tmp, "w");
        if (!out) {
            ws_error(MODULE, "could not open \"%s\": %s", tmp, strerror(errno));
            goto out;
        }
    }
    int wrc = write_report(out, db, as_of, err, sizeof err);
    if (!to_stdout) {
        if (fclose(out) != 0 && wrc == 0) {
            snprintf(err, sizeof err, "could not write \"%s\": %s", tmp,
                     strerror(errno));
            wrc = -EIO;
        }
        if (wrc == 0 && rename(tmp, path) != 0) {
            snprintf(err, sizeof err, "could not rename to \"%s\": %s", path,
                     strerror(errno));
            wrc = -EIO;
        }
        if (wrc < 0)
            remove(tmp);
    } else {
        fflush(stdout);
    }
    if (wrc < 0)
        ws_error(MODULE, "%s", err);
    else
        rc = 0;
out:
    db_close(&db);
    return rc;
}
