/*
 * import.c - CSV rows into wardsync.v1.Event messages, then into the outbox.
 *
 * Rows come through table.h (CSV as Excel writes it, or an .xlsx sheet).
 * The header's cells are matched to the kind's columns through ws_fold,
 * in English or Vietnamese (header_aliases); messages name a column as
 * the file's header writes it. Rows of empty cells are skipped before
 * they count (or are fingerprinted), and empty cells after the header's
 * last column are ignored.
 *
 * A file is read in two passes (import_file), so memory does not grow
 * with the file. The first parses and validates every row, reports every
 * bad one and keeps nothing; a file with any bad row is refused whole. The
 * second reads the file again and packs and queues each row as it is read
 * (seq left for the outbox to assign), all in one outbox transaction, so a
 * file is queued entirely or not at all; a file that grew between the two
 * passes is refused.
 *
 * Re-imports (docs/DESIGN.md §6): the first pass also computes the file's
 * fingerprint row by row and, each time it has read as many rows as an
 * earlier import of the kind had, compares the fingerprint so far with
 * that import's; the longest match is the part of the file already
 * queued. The second pass skips those rows, and claims the natural key of
 * each petitions, reception, remediation, inspections or rotations row in
 * the same transaction
 * (a row already queued with the same content is skipped), and checks
 * that the file's fingerprint is the one the first pass saw.
 *
 * Anonymity (DESIGN §6): a ballot's occurred_at_ms and queued_at_ms are
 * midnight UTC of its day, and the ballots of a file are shuffled before
 * they get their seqs, so neither time nor order ties a ballot to the
 * person who handed it in.
 */
#include "import.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fingerprint.h"
#include "outbox.h"
#include "reference.h"
#include "settings.h"
#include "table.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/csv.h"
#include "wardsync/fold.h"
#include "wardsync/i18n.h"
#include "wardsync/log.h"
#include "wardsync/names.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

#define BALLOT_ITEMS_MAX 41
#define MAX_COLUMNS (5 + BALLOT_ITEMS_MAX)
#define MS_PER_DAY 86400000LL

static const char *const kind_names[] = {
    [IMPORT_BALLOTS] = "ballots",         [IMPORT_PETITIONS] = "petitions",
    [IMPORT_RECEPTION] = "reception",     [IMPORT_REMEDIATION] = "remediation",
    [IMPORT_INSPECTIONS] = "inspections", [IMPORT_ROTATIONS] = "rotations",
};

/* Outbox "kind" column: the name ws_event_kind gives the body. */
static const char *const event_kinds[] = {
    [IMPORT_BALLOTS] = "ballot",         [IMPORT_PETITIONS] = "petition",
    [IMPORT_RECEPTION] = "reception",    [IMPORT_REMEDIATION] = "remediation",
    [IMPORT_INSPECTIONS] = "inspection", [IMPORT_ROTATIONS] = "rotation",
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* Column indexes of each kind, in the order of the tables below. */
enum { B_SURVEY, B_FORM, B_SUBJECT, B_GROUP, B_COLLECTED_ON, B_ITEM1 };
enum {
    P_PETITION,
    P_KIND,
    P_CHANNEL,
    P_STATUS,
    P_IN_JURISDICTION,
    P_RECEIVED_ON,
    P_DUE_ON,
    P_CHANGED_ON,
    P_NOTE
};
enum { R_SESSION, R_HELD_ON, R_HOST_ROLE, R_MODE, R_CITIZENS, R_PETITIONS };
enum { M_SURVEY, M_SUBJECT, M_STATUS, M_DUE_ON, M_CHANGED_ON };
enum {
    I_INSPECTION,
    I_BODY,
    I_UNIT,
    I_HELD_ON,
    I_KIND,
    I_SUBJECTS,
    I_VIOLATIONS,
    I_NOTE
};
enum { T_CADRE, T_POST, T_UNIT, T_YEARS, T_EFFECTIVE_ON, T_KIND };

static const char *const ballot_columns[MAX_COLUMNS] = {
    "survey",       "form", "subject", "respondent_group",
    "collected_on", "i01",  "i02",     "i03",
    "i04",          "i05",  "i06",     "i07",
    "i08",          "i09",  "i10",     "i11",
    "i12",          "i13",  "i14",     "i15",
    "i16",          "i17",  "i18",     "i19",
    "i20",          "i21",  "i22",     "i23",
    "i24",          "i25",  "i26",     "i27",
    "i28",          "i29",  "i30",     "i31",
    "i32",          "i33",  "i34",     "i35",
    "i36",          "i37",  "i38",     "i39",
    "i40",          "i41"};
static const char *const petition_columns[] = {
    "petition",    "kind",   "channel",    "status", "in_jurisdiction",
    "received_on", "due_on", "changed_on", "note"};
static const char *const reception_columns[] = {
    "session", "held_on", "host_role", "mode", "citizens", "petitions"};
static const char *const remediation_columns[] = {"survey", "subject", "status",
                                                  "due_on", "changed_on"};
static const char *const inspection_columns[] = {
    "inspection", "body",     "unit",       "held_on",
    "kind",       "subjects", "violations", "note"};
static const char *const rotation_columns[] = {
    "cadre", "post", "unit", "years_in_post", "effective_on", "kind"};

struct column_set {
    const char *const *names;
    size_t n;
};

static const struct column_set column_sets[] = {
    [IMPORT_BALLOTS] = {ballot_columns, MAX_COLUMNS},
    [IMPORT_PETITIONS] = {petition_columns,
                          sizeof(petition_columns) / sizeof(char *)},
    [IMPORT_RECEPTION] = {reception_columns,
                          sizeof(reception_columns) / sizeof(char *)},
    [IMPORT_REMEDIATION] = {remediation_columns,
                            sizeof(remediation_columns) / sizeof(char *)},
    [IMPORT_INSPECTIONS] = {inspection_columns,
                            sizeof(inspection_columns) / sizeof(char *)},
    [IMPORT_ROTATIONS] = {rotation_columns,
                          sizeof(rotation_columns) / sizeof(char *)},
};

/* Vietnamese header names a clerk writes (docs/contracts.md), beside the
 * English ones of the column tables; the first of a column is the one
 * "ward-agent template" writes. Kept apart from the kind tables so that a
 * new kind only adds rows here. */
struct header_alias {
    enum import_kind kind;
    size_t column;
    const char *name;
};

static const struct header_alias header_aliases[] = {
    {IMPORT_BALLOTS, B_SURVEY, "đợt lấy phiếu"},
    {IMPORT_BALLOTS, B_FORM, "mẫu phiếu"},
    {IMPORT_BALLOTS, B_SUBJECT, "cán bộ được nhận diện"},
    {IMPORT_BALLOTS, B_SUBJECT, "mã cán bộ"},
    {IMPORT_BALLOTS, B_GROUP, "đối tượng cho ý kiến"},
    {IMPORT_BALLOTS, B_GROUP, "nhóm đối tượng"},
    {IMPORT_BALLOTS, B_COLLECTED_ON, "ngày lấy phiếu"},
    {IMPORT_PETITIONS, P_PETITION, "mã đơn"},
    {IMPORT_PETITIONS, P_KIND, "loại đơn"},
    {IMPORT_PETITIONS, P_CHANNEL, "hình thức nhận"},
    {IMPORT_PETITIONS, P_CHANNEL, "kênh tiếp nhận"},
    {IMPORT_PETITIONS, P_STATUS, "trạng thái"},
    {IMPORT_PETITIONS, P_IN_JURISDICTION, "thuộc thẩm quyền"},
    {IMPORT_PETITIONS, P_RECEIVED_ON, "ngày nhận"},
    {IMPORT_PETITIONS, P_RECEIVED_ON, "ngày tiếp nhận"},
    {IMPORT_PETITIONS, P_DUE_ON, "hạn giải quyết"},
    {IMPORT_PETITIONS, P_CHANGED_ON, "ngày thay đổi"},
    {IMPORT_PETITIONS, P_CHANGED_ON, "ngày cập nhật"},
    {IMPORT_PETITIONS, P_NOTE, "ghi chú"},
    {IMPORT_RECEPTION, R_SESSION, "mã buổi tiếp"},
    {IMPORT_RECEPTION, R_SESSION, "buổi tiếp"},
    {IMPORT_RECEPTION, R_HELD_ON, "ngày tiếp"},
    {IMPORT_RECEPTION, R_HOST_ROLE, "người chủ trì"},
    {IMPORT_RECEPTION, R_MODE, "hình thức tiếp"},
    {IMPORT_RECEPTION, R_CITIZENS, "số công dân"},
    {IMPORT_RECEPTION, R_CITIZENS, "số người"},
    {IMPORT_RECEPTION, R_PETITIONS, "số đơn"},
    {IMPORT_REMEDIATION, M_SURVEY, "đợt lấy phiếu"},
    {IMPORT_REMEDIATION, M_SUBJECT, "cán bộ được nhận diện"},
    {IMPORT_REMEDIATION, M_SUBJECT, "mã cán bộ"},
    {IMPORT_REMEDIATION, M_STATUS, "trạng thái"},
    {IMPORT_REMEDIATION, M_DUE_ON, "hạn khắc phục"},
    {IMPORT_REMEDIATION, M_CHANGED_ON, "ngày thay đổi"},
    {IMPORT_REMEDIATION, M_CHANGED_ON, "ngày cập nhật"},
    {IMPORT_INSPECTIONS, I_INSPECTION, "mã cuộc kiểm tra"},
    {IMPORT_INSPECTIONS, I_BODY, "đoàn kiểm tra"},
    {IMPORT_INSPECTIONS, I_BODY, "cơ quan kiểm tra"},
    {IMPORT_INSPECTIONS, I_UNIT, "đơn vị được kiểm tra"},
    {IMPORT_INSPECTIONS, I_HELD_ON, "ngày kiểm tra"},
    {IMPORT_INSPECTIONS, I_KIND, "hình thức kiểm tra"},
    {IMPORT_INSPECTIONS, I_SUBJECTS, "số người được kiểm tra"},
    {IMPORT_INSPECTIONS, I_VIOLATIONS, "số vi phạm"},
    {IMPORT_INSPECTIONS, I_NOTE, "ghi chú"},
    {IMPORT_ROTATIONS, T_CADRE, "mã cán bộ"},
    {IMPORT_ROTATIONS, T_POST, "chức vụ"},
    {IMPORT_ROTATIONS, T_UNIT, "đơn vị"},
    {IMPORT_ROTATIONS, T_YEARS, "số năm giữ chức vụ"},
    {IMPORT_ROTATIONS, T_EFFECTIVE_ON, "ngày hiệu lực"},
    {IMPORT_ROTATIONS, T_KIND, "loại"},
};

/* Vietnamese words a drop-folder file name may start with, written as
 * kind_start compares them: without diacritics, blanks, "-", "_" or ".". */
struct kind_alias {
    enum import_kind kind;
    const char *name;
};

static const struct kind_alias kind_aliases[] = {
    {IMPORT_BALLOTS, "phieu"},               /* phiếu (nhận diện) */
    {IMPORT_PETITIONS, "donthu"},            /* đơn thư */
    {IMPORT_RECEPTION, "tiepcongdan"},       /* tiếp công dân */
    {IMPORT_REMEDIATION, "khacphuc"},        /* khắc phục */
    {IMPORT_REMEDIATION, "kehoachkhacphuc"}, /* kế hoạch khắc phục */
    {IMPORT_INSPECTIONS, "kiemtra"},         /* kiểm tra (công vụ) */
    {IMPORT_INSPECTIONS, "thanhtra"},        /* thanh tra */
    {IMPORT_ROTATIONS, "luanchuyen"},        /* luân chuyển */
    {IMPORT_ROTATIONS, "dieudong"},          /* điều động */
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *import_kind_name(enum import_kind kind)
{
    return (size_t)kind < N_KINDS ? kind_names[kind] : "unknown";
}

/* Text as kind names compare: without case, diacritics, blanks, "-", "_"
 * and "." ("Tiếp công dân" -> "tiepcongdan"). Returns false when it is
 * not UTF-8 or too long. */
static bool kind_key(const char *text, char *key, size_t cap)
{
    char plain[WS_FOLD_MAX];
    size_t n = 0;

    if (ws_fold_plain(text, plain, sizeof(plain)) < 0)
        return false;
    for (const char *p = plain; *p && n + 1 < cap; p++)
        if (*p != ' ' && *p != '-' && *p != '_' && *p != '.')
            key[n++] = *p;
    key[n] = '\0';
    return true;
}

int import_kind_parse(const char *name)
{
    char key[WS_FOLD_MAX];

    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return (int)i;
    if (!kind_key(name, key, sizeof(key)))
        return -1;
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(key, kind_names[i]) == 0)
            return (int)i;
    for (size_t i = 0; i < COUNT(kind_aliases); i++)
        if (strcmp(key, kind_aliases[i].name) == 0)
            return (int)kind_aliases[i].kind;
    return -1;
}

const char *import_column_name(enum import_kind kind, size_t column, bool vi)
{
    if ((size_t)kind >= N_KINDS || column >= column_sets[kind].n)
        return NULL;
    if (vi)
        for (size_t i = 0; i < COUNT(header_aliases); i++)
            if (header_aliases[i].kind == kind &&
                header_aliases[i].column == column)
                return header_aliases[i].name;
    return column_sets[kind].names[column];
}

size_t import_column_count(enum import_kind kind)
{
    return (size_t)kind < N_KINDS ? column_sets[kind].n : 0;
}

/* The column of kind a header cell names (English or Vietnamese, through
 * ws_fold), or -1. */
static long header_column(enum import_kind kind, const char *text)
{
    char want[WS_FOLD_MAX];
    char have[WS_FOLD_MAX];
    const struct column_set *set = &column_sets[kind];

    for (size_t c = 0; c < set->n; c++)
        if (strcmp(text, set->names[c]) == 0)
            return (long)c;
    if (ws_fold(text, want, sizeof(want)) <= 0)
        return -1;
    for (size_t c = 0; c < set->n; c++)
        if (strcmp(want, set->names[c]) == 0) /* English names are folded */
            return (long)c;
    /* "Respondent Group", "collected on": blanks for underscores. */
    if (strchr(want, ' ') != NULL) {
        char under[WS_FOLD_MAX];
        ws_strlcpy(under, want, sizeof(under));
        for (char *p = under; *p; p++)
            if (*p == ' ')
                *p = '_';
        for (size_t c = 0; c < set->n; c++)
            if (strcmp(under, set->names[c]) == 0)
                return (long)c;
    }
    for (size_t i = 0; i < COUNT(header_aliases); i++)
        if (header_aliases[i].kind == kind &&
            ws_fold(header_aliases[i].name, have, sizeof(have)) > 0 &&
            strcmp(want, have) == 0)
            return (long)header_aliases[i].column;
    return -1;
}

/* Whether the folded, squeezed stem starts with word. */
static bool starts_with(const char *stem, const char *word)
{
    return strncmp(stem, word, strlen(word)) == 0;
}

int import_kind_from_filename(const char *name)
{
    char stem[WS_FOLD_MAX];
    size_t len = strlen(name);

    if (!((len > 4 && strcasecmp(name + len - 4, ".csv") == 0) ||
          (len > 5 && strcasecmp(name + len - 5, ".xlsx") == 0)))
        return -1;
    /* "Tiếp công dân tháng 10.csv" -> "tiepcongdanthang10csv" */
    if (!kind_key(name, stem, sizeof(stem)))
        return -1;
    for (size_t i = 0; i < N_KINDS; i++)
        if (starts_with(stem, kind_names[i]))
            return (int)i;
    for (size_t i = 0; i < COUNT(kind_aliases); i++)
        if (starts_with(stem, kind_aliases[i].name))
            return (int)kind_aliases[i].kind;
    return -1;
}

/* An earlier import of the same kind the file may start with. */
struct earlier_import {
    int64_t id;
    uint64_t rows;
    uint8_t fingerprint[FINGERPRINT_LEN];
    int64_t imported_at_ms;
    char name[256];
};

/* State of one import: where errors go and what was kept. */
struct import_ctx {
    enum import_kind kind;
    const struct ws_catalogue *cat;
    const char *label;
    FILE *report;
    size_t max_reported;
    struct import_result *result;
    /* col_index[c] = position in the record of column c of the kind */
    size_t col_index[MAX_COLUMNS];
    size_t n_columns;
    const char *const *columns;
    size_t n_header_fields;
    /* Each column's name as the file's header writes it, for messages. */
    char header_text[MAX_COLUMNS][64];
    /* Rows may be shorter than the header (an .xlsx sheet leaves out
     * empty cells at the end of a row). */
    bool short_rows;
    /* columns of the current row that already have an error */
    bool col_failed[MAX_COLUMNS];
    bool row_failed;
    long line;
    int64_t now_ms;
    int64_t today_ms;
    /* The reference data from the hub ballots are checked against
     * (reference.h), NULL when none was received yet; the outbox's ward. */
    const Wardsync__V1__Reference *reference;
    const char *ward;
    /* Second pass only (the file is good): events go straight into the
     * outbox's open transaction, row i under seq first + order[i] (ballots,
     * shuffled) or first + i. */
    struct outbox_appender *appender;
    const uint32_t *order;
    size_t n_rows; /* rows the first pass found: the seqs reserved */
    size_t n_seen; /* rows the second pass reached keep_event with */
    size_t n_queued;
    size_t skip; /* first rows already queued by an earlier import */
    /* The fingerprint of the rows read so far, and the earlier imports of
     * the kind by rows ascending (first pass: next is the next to compare;
     * match the longest one matched). */
    struct fingerprint fp;
    struct earlier_import *earlier;
    size_t n_earlier;
    size_t next_earlier;
    const struct earlier_import *match;
    size_t log_every;
};

static void report_line(struct import_ctx *ctx, long line, const char *column,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report_line(struct import_ctx *ctx, long line, const char *column,
                        const char *fmt, ...)
{
    ctx->result->errors++;
    if (ctx->result->errors > ctx->max_reported)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(ctx->report, "%s:%ld:%s: ", ctx->label, line, column);
    vfprintf(ctx->report, fmt, ap);
    fputc('\n', ctx->report);
    va_end(ap);
}

/* Reports an error in column col of the current row, once per column. */
static void row_error(struct import_ctx *ctx, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void row_error(struct import_ctx *ctx, size_t col, const char *fmt, ...)
{
    char msg[512];
    if (ctx->col_failed[col])
        return;
    ctx->col_failed[col] = true;
    ctx->row_failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report_line(ctx, ctx->line, ctx->header_text[col], "%s", msg);
}

/* A short, printable echo of a bad value for an error message. */
static const char *echo(const char *value, char *buf, size_t cap)
{
    size_t len = strlen(value);
    if (!ws_utf8_valid(value, len))
        return _("(not UTF-8)");
    size_t keep = len < 40 ? len : 40;
    /* Do not cut a UTF-8 sequence in half. */
    while (keep < len && keep > 0 &&
           ((unsigned char)value[keep] & 0xc0) == 0x80)
        keep--;
    for (size_t i = 0; i < keep; i++) {
        if ((unsigned char)value[i] < 0x20) {
            keep = i;
            break;
        }
    }
    snprintf(buf, cap, "\"%.*s%s\"", (int)keep, value, keep < len ? "..." : "");
    return buf;
}

/* The names an enum accepts, "a, b or c", for error messages; in
 * Vietnamese when messages are (name_vi: the Vietnamese names). */
static const char *name_list(const char *(*name_of)(int),
                             const char *(*name_vi)(int), char *buf, size_t cap)
{
    size_t n = 0;
    int count = 0;
    while (name_of(count + 1))
        count++;
    if (name_vi && strcmp(ws_i18n_language(), "vi") == 0)
        name_of = name_vi;
    buf[0] = '\0';
    for (int v = 1; v <= count; v++) {
        const char *sep = v == 1 ? "" : v == count ? _(" or ") : ", ";
        int w = snprintf(buf + n, cap - n, "%s%s", sep, name_of(v));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    return buf;
}

/* Whether a cell holds nothing but blanks. */
static bool is_blank(const char *value)
{
    for (; *value; value++)
        if (*value != ' ' && *value != '\t' && *value != '\r' && *value != '\n')
            return false;
    return true;
}

/* Whether every cell of a record is blank (Excel's rows of empty cells,
 * ";;;;" or an .xlsx row with only formatting). */
static bool record_is_blank(const struct ws_csv_record *rec)
{
    for (size_t i = 0; i < rec->n_fields; i++)
        if (!is_blank(rec->fields[i]))
            return false;
    return true;
}

static const char *field(const struct import_ctx *ctx,
                         const struct ws_csv_record *rec, size_t col)
{
    size_t at = ctx->col_index[col];
    return at < rec->n_fields ? rec->fields[at] : "";
}

static size_t field_length(const struct import_ctx *ctx,
                           const struct ws_csv_record *rec, size_t col)
{
    size_t at = ctx->col_index[col];
    return at < rec->n_fields ? rec->lengths[at] : 0;
}

static bool parse_date_column(struct import_ctx *ctx,
                              const struct ws_csv_record *rec, size_t col,
                              bool optional, int32_t *days)
{
    char buf[64];
    const char *value = field(ctx, rec, col);
    if (!*value) {
        if (optional)
            return false;
        row_error(ctx, col, _("missing date (want YYYY-MM-DD)"));
        return false;
    }
    if (ws_date_parse(value, days) < 0) {
        row_error(ctx, col, _("%s is not a date (want YYYY-MM-DD)"),
                  echo(value, buf, sizeof(buf)));
        return false;
    }
    return true;
}

/* A whole number 0..UINT32_MAX written with digits only. */
static bool parse_uint_column(struct import_ctx *ctx,
                              const struct ws_csv_record *rec, size_t col,
                              uint32_t *out)
{
    char buf[64];
    const char *value = field(ctx, rec, col);
    uint64_t n = 0;
    if (!*value) {
        row_error(ctx, col, _("missing value"));
        return false;
    }
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9' || n > UINT32_MAX) {
            row_error(ctx, col, _("%s is not a whole number"),
                      echo(value, buf, sizeof(buf)));
            return false;
        }
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n > UINT32_MAX) {
        row_error(ctx, col, _("%s is too large"),
                  echo(value, buf, sizeof(buf)));
        return false;
    }
    *out = (uint32_t)n;
    return true;
}

static int parse_enum_column(struct import_ctx *ctx,
                             const struct ws_csv_record *rec, size_t col,
                             int (*parse)(const char *),
                             const char *(*name_of)(int),
                             const char *(*name_vi)(int), const char *what)
{
    char buf[64];
    char list[256];
    const char *value = field(ctx, rec, col);
    int v = parse(value);
    if (v <= 0) {
        if (!*value)
            row_error(ctx, col, _("missing %s (want %s)"), what,
                      name_list(name_of, name_vi, list, sizeof(list)));
        else
            row_error(ctx, col, _("unknown %s %s (want %s)"), what,
                      echo(value, buf, sizeof(buf)),
                      name_list(name_of, name_vi, list, sizeof(list)));
        return 0;
    }
    return v;
}

static int64_t day_ms(int32_t days)
{
    return ws_date_to_ms(days);
}

/* Vietnamese names of the catalogue's forms (docs/GLOSSARY.md): the
 * ballot carries the code. */
static const struct {
    const char *name;
    const char *code;
} form_aliases[] = {
    {"lãnh đạo", "leadership"},
    {"cán bộ lãnh đạo", "leadership"},
    {"công chức", "staff"},
};

/* The catalogue code a form cell names: itself, the code in another case,
 * or a Vietnamese name. */
static const char *form_code_of(const struct ws_catalogue *cat,
                                const char *value)
{
    char want[WS_FOLD_MAX];
    char have[WS_FOLD_MAX];

    if (ws_catalogue_form(cat, value) ||
        ws_fold(value, want, sizeof(want)) <= 0)
        return value;
    for (size_t f = 0; f < cat->n_forms; f++)
        if (ws_fold(cat->forms[f].code, have, sizeof(have)) > 0 &&
            strcmp(have, want) == 0)
            return cat->forms[f].code;
    for (size_t i = 0; i < COUNT(form_aliases); i++)
        if (ws_fold(form_aliases[i].name, have, sizeof(have)) > 0 &&
            strcmp(have, want) == 0 &&
            ws_catalogue_form(cat, form_aliases[i].code))
            return form_aliases[i].code;
    return value;
}

/* A ballot against the reference data from the hub (reference.h): the
 * first column found wrong gets the reason. */
static void check_reference(struct import_ctx *ctx,
                            const Wardsync__V1__Ballot *ballot, int32_t days,
                            bool have_day)
{
    char reason[512];
    static const size_t columns[] = {
        [REFERENCE_SURVEY] = B_SURVEY,
        [REFERENCE_SUBJECT] = B_SUBJECT,
        [REFERENCE_FORM] = B_FORM,
        [REFERENCE_COLLECTED_ON] = B_COLLECTED_ON,
    };
    enum reference_column wrong = reference_check_ballot(
        ctx->reference, ctx->ward, ballot->survey, ballot->subject,
        ballot->form, days, have_day, reason, sizeof(reason));
    if (wrong != REFERENCE_OK)
        row_error(ctx, columns[wrong], "%s", reason);
}

/* Ballot row: fills ballot (levels into the caller's array). */
static void parse_ballot(struct import_ctx *ctx,
                         const struct ws_csv_record *rec,
                         Wardsync__V1__Event *event,
                         Wardsync__V1__Ballot *ballot, uint32_t *levels)
{
    char buf[64];
    const char *form_code = form_code_of(ctx->cat, field(ctx, rec, B_FORM));
    const struct ws_catalogue_form *form =
        ws_catalogue_form(ctx->cat, form_code);
    size_t n_items = BALLOT_ITEMS_MAX;
    int32_t days = 0;
    uint32_t group = 0;

    ballot->survey = (char *)field(ctx, rec, B_SURVEY);
    ballot->form = (char *)form_code;
    ballot->subject = (char *)field(ctx, rec, B_SUBJECT);
    if (parse_uint_column(ctx, rec, B_GROUP, &group))
        ballot->respondent_group = group;
    bool have_day = parse_date_column(ctx, rec, B_COLLECTED_ON, false, &days);
    if (have_day)
        event->occurred_at_ms = day_ms(days);
    /* Anonymity: queued "today", to the day only. */
    event->queued_at_ms = ctx->today_ms;

    if (!form) {
        char list[256];
        size_t used = 0;
        list[0] = '\0';
        for (size_t f = 0; f < ctx->cat->n_forms; f++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s",
                             f ? ", " : "", ctx->cat->forms[f].code);
            if (w < 0 || (size_t)w >= sizeof(list) - used)
                break;
            used += (size_t)w;
        }
        /* Levels are still parsed so that their own errors show too. */
        row_error(ctx, B_FORM, _("unknown form %s (want %s)"),
                  echo(form_code, buf, sizeof(buf)), list);
    } else if (form->n_items > BALLOT_ITEMS_MAX) {
        row_error(ctx, B_FORM,
                  _("form %s has %zu items, the CSV format holds at most %d"),
                  form->code, form->n_items, BALLOT_ITEMS_MAX);
    } else {
        n_items = form->n_items;
    }
    size_t n_levels = 0;
    for (size_t i = 0; i < BALLOT_ITEMS_MAX; i++) {
        size_t col = B_ITEM1 + i;
        const char *value = field(ctx, rec, col);
        if (i >= n_items) {
            if (*value)
                row_error(ctx, col, _("must be empty: form %s has %zu items"),
                          form->code, form->n_items);
            continue;
        }
        if (!*value) {
            if (form)
                row_error(ctx, col, _("missing level (want 1, 2 or 3)"));
            continue;
        }
        if (strlen(value) != 1 || value[0] < '1' || value[0] > '3') {
            row_error(ctx, col, _("level %s is not 1, 2 or 3"),
                      echo(value, buf, sizeof(buf)));
            levels[n_levels++] = 0;
            continue;
        }
        levels[n_levels++] = (uint32_t)(value[0] - '0');
    }
    ballot->n_levels = n_levels;
    ballot->levels = levels;
    event->body_case = WARDSYNC__V1__EVENT__BODY_BALLOT;
    event->ballot = ballot;
    /* An empty survey or subject is the shared rules' to report. */
    if (ctx->reference && form && ballot->survey[0] && ballot->subject[0] &&
        !ctx->col_failed[B_SURVEY] && !ctx->col_failed[B_SUBJECT])
        check_reference(ctx, ballot, days, have_day);
}

static void parse_petition(struct import_ctx *ctx,
                           const struct ws_csv_record *rec,
                           Wardsync__V1__Event *event,
                           Wardsync__V1__PetitionEvent *petition)
{
    char buf[64];
    int32_t days;

    petition->petition = (char *)field(ctx, rec, P_PETITION);
    petition->kind = parse_enum_column(
        ctx, rec, P_KIND, ws_petition_kind_parse, ws_petition_kind_name,
        ws_petition_kind_name_vi, _("petition kind"));
    petition->channel = parse_enum_column(
        ctx, rec, P_CHANNEL, ws_petition_channel_parse,
        ws_petition_channel_name, ws_petition_channel_name_vi, _("channel"));
    petition->status = parse_enum_column(
        ctx, rec, P_STATUS, ws_petition_status_parse, ws_petition_status_name,
        ws_petition_status_name_vi, _("status"));
    const char *in_jurisdiction = field(ctx, rec, P_IN_JURISDICTION);
    int flag = ws_bool_parse(in_jurisdiction);
    if (flag < 0)
        row_error(ctx, P_IN_JURISDICTION,
                  _("%s is not yes or no (or có or "
                    "không)"),
                  echo(in_jurisdiction, buf, sizeof(buf)));
    petition->in_jurisdiction = flag == 1;
    parse_date_column(ctx, rec, P_RECEIVED_ON, false, &days);
    petition->received_on = (char *)field(ctx, rec, P_RECEIVED_ON);
    parse_date_column(ctx, rec, P_DUE_ON, true, &days);
    petition->due_on = (char *)field(ctx, rec, P_DUE_ON);
    if (parse_date_column(ctx, rec, P_CHANGED_ON, false, &days))
        event->occurred_at_ms = day_ms(days);
    petition->note = (char *)field(ctx, rec, P_NOTE);
    event->queued_at_ms = ctx->now_ms;
    event->body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    event->petition = petition;
}

static void parse_reception(struct import_ctx *ctx,
                            const struct ws_csv_record *rec,
                            Wardsync__V1__Event *event,
                            Wardsync__V1__ReceptionSession *session)
{
    int32_t days;

    session->session = (char *)field(ctx, rec, R_SESSION);
    if (parse_date_column(ctx, rec, R_HELD_ON, false, &days))
        event->occurred_at_ms = day_ms(days);
    session->held_on = (char *)field(ctx, rec, R_HELD_ON);
    session->host_role = parse_enum_column(
        ctx, rec, R_HOST_ROLE, ws_host_role_parse, ws_host_role_name,
        ws_host_role_name_vi, _("host role"));
    session->mode = parse_enum_column(ctx, rec, R_MODE, ws_reception_mode_parse,
                                      ws_reception_mode_name,
                                      ws_reception_mode_name_vi, _("mode"));
    parse_uint_column(ctx, rec, R_CITIZENS, &session->citizens);
    parse_uint_column(ctx, rec, R_PETITIONS, &session->petitions);
    event->queued_at_ms = ctx->now_ms;
    event->body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
    event->reception = session;
}

static void parse_remediation(struct import_ctx *ctx,
                              const struct ws_csv_record *rec,
                              Wardsync__V1__Event *event,
                              Wardsync__V1__RemediationUpdate *update)
{
    int32_t days;

    update->survey = (char *)field(ctx, rec, M_SURVEY);
    update->subject = (char *)field(ctx, rec, M_SUBJECT);
    update->status = parse_enum_column(
        ctx, rec, M_STATUS, ws_remediation_status_parse,
        ws_remediation_status_name, ws_remediation_status_name_vi,
        _("remediation status"));
    parse_date_column(ctx, rec, M_DUE_ON, false, &days);
    update->due_on = (char *)field(ctx, rec, M_DUE_ON);
    if (parse_date_column(ctx, rec, M_CHANGED_ON, false, &days))
        event->occurred_at_ms = day_ms(days);
    event->queued_at_ms = ctx->now_ms;
    event->body_case = WARDSYNC__V1__EVENT__BODY_REMEDIATION;
    event->remediation = update;
}

static void parse_inspection(struct import_ctx *ctx,
                             const struct ws_csv_record *rec,
                             Wardsync__V1__Event *event,
                             Wardsync__V1__Inspection *inspection)
{
    int32_t days;

    inspection->inspection = (char *)field(ctx, rec, I_INSPECTION);
    inspection->body = (char *)field(ctx, rec, I_BODY);
    inspection->unit = (char *)field(ctx, rec, I_UNIT);
    if (parse_date_column(ctx, rec, I_HELD_ON, false, &days))
        event->occurred_at_ms = day_ms(days);
    inspection->held_on = (char *)field(ctx, rec, I_HELD_ON);
    inspection->kind = parse_enum_column(
        ctx, rec, I_KIND, ws_inspection_kind_parse, ws_inspection_kind_name,
        ws_inspection_kind_name_vi, _("inspection kind"));
    parse_uint_column(ctx, rec, I_SUBJECTS, &inspection->subjects);
    parse_uint_column(ctx, rec, I_VIOLATIONS, &inspection->violations);
    inspection->note = (char *)field(ctx, rec, I_NOTE);
    event->queued_at_ms = ctx->now_ms;
    event->body_case = WARDSYNC__V1__EVENT__BODY_INSPECTION;
    event->inspection = inspection;
}

static void parse_rotation(struct import_ctx *ctx,
                           const struct ws_csv_record *rec,
                           Wardsync__V1__Event *event,
                           Wardsync__V1__Rotation *rotation)
{
    int32_t days;

    rotation->cadre = (char *)field(ctx, rec, T_CADRE);
    rotation->post = (char *)field(ctx, rec, T_POST);
    rotation->unit = (char *)field(ctx, rec, T_UNIT);
    parse_uint_column(ctx, rec, T_YEARS, &rotation->years_in_post);
    if (parse_date_column(ctx, rec, T_EFFECTIVE_ON, false, &days))
        event->occurred_at_ms = day_ms(days);
    rotation->effective_on = (char *)field(ctx, rec, T_EFFECTIVE_ON);
    rotation->kind = parse_enum_column(
        ctx, rec, T_KIND, ws_rotation_kind_parse, ws_rotation_kind_name,
        ws_rotation_kind_name_vi, _("rotation kind"));
    event->queued_at_ms = ctx->now_ms;
    event->body_case = WARDSYNC__V1__EVENT__BODY_ROTATION;
    event->rotation = rotation;
}

/* Reports a ws_validate_event reason ("field: what is wrong") under the CSV
 * column it concerns, unless that column already has an error. */
static void report_validation(struct import_ctx *ctx, const char *reason)
{
    char field_name[WS_FIELD_MAX + 1];
    const char *colon = strstr(reason, ": ");
    const char *message = reason;
    int item = 0;

    field_name[0] = '\0';
    if (colon && (size_t)(colon - reason) < sizeof(field_name)) {
        memcpy(field_name, reason, (size_t)(colon - reason));
        field_name[colon - reason] = '\0';
        message = colon + 2;
    }
    /* "levels[7]: ..." belongs to column i07 (ws_validate_event). */
    char tail = '\0';
    if (sscanf(field_name, "levels[%d]%c", &item, &tail) == 2 && tail == ']' &&
        item >= 1 && item <= BALLOT_ITEMS_MAX && ctx->kind == IMPORT_BALLOTS) {
        size_t col = B_ITEM1 + (size_t)item - 1;
        if (!ctx->col_failed[col])
            row_error(ctx, col, "%s", message);
        return;
    }
    for (size_t c = 0; c < ctx->n_columns; c++) {
        if (strcmp(ctx->columns[c], field_name) == 0) {
            if (!ctx->col_failed[c])
                row_error(ctx, c, "%s", message);
            return;
        }
    }
    /* A field with no column of its own (levels count, envelope): report
     * it under its own name unless the row already failed, in which case
     * it is most likely a consequence of an error already reported. */
    if (!ctx->row_failed) {
        ctx->row_failed = true;
        report_line(ctx, ctx->line, field_name[0] ? field_name : "-", "%s",
                    message);
    }
}

/* The fields of a good-sized record in the kind's column order. */
static void canonical_fields(const struct import_ctx *ctx,
                             const struct ws_csv_record *rec,
                             const char **fields, size_t *lengths)
{
    for (size_t c = 0; c < ctx->n_columns; c++) {
        fields[c] = field(ctx, rec, c);
        lengths[c] = field_length(ctx, rec, c);
    }
}

/* First pass: when as many rows were read as an earlier import had,
 * whether they are that import. */
static void compare_earlier(struct import_ctx *ctx)
{
    uint8_t so_far[FINGERPRINT_LEN];
    bool peeked = false;
    while (ctx->next_earlier < ctx->n_earlier &&
           ctx->earlier[ctx->next_earlier].rows <= ctx->fp.rows) {
        const struct earlier_import *e = &ctx->earlier[ctx->next_earlier++];
        if (e->rows != ctx->fp.rows)
            continue;
        if (!peeked) {
            fingerprint_peek(&ctx->fp, so_far);
            peeked = true;
        }
        if (memcmp(so_far, e->fingerprint, FINGERPRINT_LEN) == 0)
            ctx->match = e;
    }
}

/* The natural key of a row (docs/DESIGN.md §6), hashed: the columns that
 * name one fact. Returns false for ballots, which have none. */
static bool natural_key(const struct import_ctx *ctx, const char **fields,
                        const size_t *lengths, uint8_t key[FINGERPRINT_LEN])
{
    static const size_t petition_key[] = {P_PETITION, P_STATUS, P_CHANGED_ON};
    static const size_t reception_key[] = {R_SESSION};
    static const size_t remediation_key[] = {M_SURVEY, M_SUBJECT, M_STATUS,
                                             M_CHANGED_ON};
    static const size_t inspection_key[] = {I_INSPECTION};
    static const size_t rotation_key[] = {T_CADRE, T_POST, T_UNIT, T_KIND,
                                          T_EFFECTIVE_ON};
    const size_t *cols;
    size_t n;
    switch (ctx->kind) {
    case IMPORT_PETITIONS:
        cols = petition_key;
        n = sizeof(petition_key) / sizeof(petition_key[0]);
        break;
    case IMPORT_RECEPTION:
        cols = reception_key;
        n = 1;
        break;
    case IMPORT_REMEDIATION:
        cols = remediation_key;
        n = sizeof(remediation_key) / sizeof(remediation_key[0]);
        break;
    case IMPORT_INSPECTIONS:
        cols = inspection_key;
        n = 1;
        break;
    case IMPORT_ROTATIONS:
        cols = rotation_key;
        n = sizeof(rotation_key) / sizeof(rotation_key[0]);
        break;
    default:
        return false;
    }
    const char *key_fields[5];
    size_t key_lengths[5];
    for (size_t i = 0; i < n; i++) {
        key_fields[i] = fields[cols[i]];
        key_lengths[i] = lengths[cols[i]];
    }
    fingerprint_row(key_fields, key_lengths, n, key);
    return true;
}

/* Queues one good event of the second pass; the first keeps nothing.
 * Rows an earlier import already queued, and rows whose natural key was
 * queued with the same content, are skipped. */
static int keep_event(struct import_ctx *ctx, Wardsync__V1__Event *event,
                      const char **fields, const size_t *lengths)
{
    uint8_t key[FINGERPRINT_LEN];
    if (!ctx->appender)
        return 0;
    if (ctx->n_seen >= ctx->n_rows) {
        /* More rows than the first pass saw: the file grew meanwhile. */
        report_line(
            ctx, ctx->line, "-",
            _("file changed while it was imported (more than %zu rows)"),
            ctx->n_rows);
        return -EAGAIN;
    }
    size_t row = ctx->n_seen++;
    if (row < ctx->skip)
        return 0;
    size_t i = ctx->n_queued;
    uint64_t seq =
        outbox_appender_first(ctx->appender) + (ctx->order ? ctx->order[i] : i);
    int rc;
    if (natural_key(ctx, fields, lengths, key)) {
        uint8_t row_hash[FINGERPRINT_LEN];
        bool repeated = false;
        uint64_t earlier_seq = 0;
        fingerprint_row(fields, lengths, ctx->n_columns, row_hash);
        if ((rc = outbox_append_claim(ctx->appender, event_kinds[ctx->kind],
                                      key, sizeof(key), row_hash, seq,
                                      &repeated, &earlier_seq)) < 0)
            return rc;
        if (repeated) {
            ctx->result->repeated++;
            return 0;
        }
    }
    struct outbox_new_event kept;
    memset(&kept, 0, sizeof(kept));
    /* Packed without seq: the outbox adds it. */
    event->seq = 0;
    rc = ws_pack(&event->base, &kept.body, &kept.body_len);
    if (rc < 0)
        return rc;
    kept.kind = event_kinds[ctx->kind];
    ws_strlcpy(kept.event_id, event->event_id, sizeof(kept.event_id));
    kept.queued_at_ms = event->queued_at_ms;
    kept.line = ctx->line;
    rc = outbox_append_put(ctx->appender, &kept, seq);
    free(kept.body);
    if (rc == 0)
        ctx->n_queued++;
    return rc;
}

/* Parses, validates and (while the file is still good) queues one row. */
static int import_row(struct import_ctx *ctx, const struct ws_csv_record *rec)
{
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__Ballot ballot = WARDSYNC__V1__BALLOT__INIT;
    Wardsync__V1__PetitionEvent petition = WARDSYNC__V1__PETITION_EVENT__INIT;
    Wardsync__V1__ReceptionSession session =
        WARDSYNC__V1__RECEPTION_SESSION__INIT;
    Wardsync__V1__RemediationUpdate update =
        WARDSYNC__V1__REMEDIATION_UPDATE__INIT;
    Wardsync__V1__Inspection inspection = WARDSYNC__V1__INSPECTION__INIT;
    Wardsync__V1__Rotation rotation = WARDSYNC__V1__ROTATION__INIT;
    uint32_t levels[BALLOT_ITEMS_MAX];
    char event_id[WS_UUID_LEN + 1];
    char reason[512];
    const char *fields[MAX_COLUMNS];
    size_t lengths[MAX_COLUMNS];
    int rc;

    memset(ctx->col_failed, 0, sizeof(ctx->col_failed));
    ctx->row_failed = false;
    ctx->line = rec->line;

    /* Cells after the header's last column may be there if empty (a
     * trailing separator, Excel's empty columns). */
    size_t used = rec->n_fields;
    while (used > ctx->n_header_fields && is_blank(rec->fields[used - 1]))
        used--;
    if (used > ctx->n_header_fields ||
        (used < ctx->n_header_fields && !ctx->short_rows)) {
        ctx->row_failed = true;
        report_line(ctx, rec->line, "-",
                    _("row has %zu fields, the header has %zu"), used,
                    ctx->n_header_fields);
        goto done;
    }
    canonical_fields(ctx, rec, fields, lengths);
    fingerprint_add_row(&ctx->fp, fields, lengths, ctx->n_columns);
    compare_earlier(ctx);
    for (size_t c = 0; c < ctx->n_columns; c++) {
        if (strlen(fields[c]) != lengths[c])
            row_error(ctx, c, _("contains a NUL byte"));
        else if (!ws_utf8_valid(fields[c], lengths[c]))
            row_error(ctx, c, _("not valid UTF-8"));
    }
    if (ctx->row_failed)
        goto done;

    if ((rc = ws_uuid4(event_id)) < 0) {
        ws_error("import", "could not make an event id: %s", strerror(-rc));
        return rc;
    }
    event.event_id = event_id;
    /* Validation wants a real seq; the outbox assigns the final one. */
    event.seq = 1;
    switch (ctx->kind) {
    case IMPORT_BALLOTS:
        parse_ballot(ctx, rec, &event, &ballot, levels);
        break;
    case IMPORT_PETITIONS:
        parse_petition(ctx, rec, &event, &petition);
        break;
    case IMPORT_RECEPTION:
        parse_reception(ctx, rec, &event, &session);
        break;
    case IMPORT_REMEDIATION:
        parse_remediation(ctx, rec, &event, &update);
        break;
    case IMPORT_INSPECTIONS:
        parse_inspection(ctx, rec, &event, &inspection);
        break;
    case IMPORT_ROTATIONS:
        parse_rotation(ctx, rec, &event, &rotation);
        break;
    }
    if (ws_validate_event(&event, ctx->cat, reason, sizeof(reason)) < 0)
        report_validation(ctx, reason);
    if (!ctx->row_failed && ctx->result->bad_rows == 0) {
        if ((rc = keep_event(ctx, &event, fields, lengths)) < 0) {
            ws_error("import", "could not keep event: %s", strerror(-rc));
            return rc;
        }
    }

done:
    if (ctx->row_failed)
        ctx->result->bad_rows++;
    return 0;
}

/* Maps the header row onto the kind's columns: names compared through
 * ws_fold, English or Vietnamese (header_aliases); empty cells at the end
 * of the row are no columns. Returns false (errors reported) when a
 * column is unknown, repeated or missing. */
static bool read_header(struct import_ctx *ctx, const struct ws_csv_record *rec)
{
    bool seen[MAX_COLUMNS] = {false};
    bool ok = true;
    bool vi = strcmp(ws_i18n_language(), "vi") == 0;
    char buf[64];
    size_t n = rec->n_fields;

    while (n > 0 && is_blank(rec->fields[n - 1]))
        n--;
    ctx->n_header_fields = n;
    for (size_t c = 0; c < ctx->n_columns; c++)
        ws_strlcpy(ctx->header_text[c], import_column_name(ctx->kind, c, vi),
                   64);
    for (size_t i = 0; i < n; i++) {
        const char *name = rec->fields[i];
        long c = header_column(ctx->kind, name);
        if (c < 0) {
            if (is_blank(name))
                report_line(ctx, rec->line, "-",
                            _("column %zu of the header has no name"), i + 1);
            else
                report_line(ctx, rec->line, "-",
                            _("unknown column %s for %s (want %s, ...)"),
                            echo(name, buf, sizeof(buf)), kind_names[ctx->kind],
                            ctx->header_text[0]);
            ok = false;
        } else if (seen[c]) {
            report_line(ctx, rec->line, ctx->header_text[c],
                        _("repeated column"));
            ok = false;
        } else {
            seen[c] = true;
            ctx->col_index[c] = i;
            if (strlen(name) < 64 && ws_utf8_valid(name, strlen(name)))
                ws_strlcpy(ctx->header_text[c], name, 64);
        }
    }
    for (size_t c = 0; c < ctx->n_columns; c++) {
        if (!seen[c]) {
            report_line(ctx, rec->line, ctx->header_text[c],
                        _("missing column"));
            ok = false;
        }
    }
    return ok;
}

/* Uniform random integer in [0, bound) from getrandom(2), without modulo
 * bias. Randomness is read in blocks to keep system calls few. */
static int random_below(uint64_t bound, uint64_t *out)
{
    static uint64_t pool[256];
    static size_t left;
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;

    for (;;) {
        if (left == 0) {
            size_t got = 0;
            while (got < sizeof(pool)) {
                ssize_t n =
                    getrandom((char *)pool + got, sizeof(pool) - got, 0);
                if (n < 0) {
                    if (errno == EINTR)
                        continue;
                    return -errno;
                }
                got += (size_t)n;
            }
            left = sizeof(pool) / sizeof(pool[0]);
        }
        uint64_t r = pool[--left];
        if (r < limit) {
            *out = r % bound;
            return 0;
        }
    }
}

/* A random permutation of 0 .. n-1 (Fisher–Yates): the order in which the
 * ballots of a file are queued, every order equally likely. Returns a
 * malloc'd array, or NULL with *rc set. */
static uint32_t *shuffled_order(size_t n, int *rc)
{
    uint32_t *order = malloc((n ? n : 1) * sizeof(*order));
    if (!order) {
        *rc = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        uint64_t j = 0;
        if ((*rc = random_below(i, &j)) < 0) {
            free(order);
            return NULL;
        }
        uint32_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    return order;
}

/* "line N: reason" from the CSV reader -> "FILE:N:-: reason". */
static void report_csv_error(struct import_ctx *ctx, const char *err)
{
    long line = 0;
    int used = 0;
    if (sscanf(err, "line %ld: %n", &line, &used) >= 1 && used > 0)
        report_line(ctx, line, "-", "%s", err + used);
    else
        report_line(ctx, ctx->line + 1, "-", "%s", err);
}

/* Progress of a long pass: on a terminal every IMPORT_PROGRESS_TERMINAL
 * rows, in the log every ctx->log_every rows. of is the rows the first
 * pass found (0 during the first pass). */
static void show_progress(const struct import_ctx *ctx, const char *what,
                          size_t of, bool terminal, bool *shown)
{
    const struct import_result *result = ctx->result;
    if (terminal && result->rows % IMPORT_PROGRESS_TERMINAL == 0) {
        fputc('\r', stderr);
        if (of)
            fprintf(stderr, _("%s: %zu of %zu rows %s"), ctx->label,
                    result->rows, of, _(what));
        else
            fprintf(stderr, _("%s: %zu rows %s, %zu bad"), ctx->label,
                    result->rows, _(what), result->bad_rows);
        *shown = true;
    }
    if (result->rows % ctx->log_every == 0)
        ws_info("import",
                "import progress file=%s rows_%s=%zu of=%zu "
                "bad_rows=%zu",
                ctx->label, what, result->rows, of, result->bad_rows);
}

/* Reads the file through once (one pass of import_file): its header, then
 * every row through import_row (which queues the row when the second pass
 * has an appender). Returns 0 (counts in ctx->result), IMPORT_REFUSED
 * (errors reported), or a negative errno. */
static int read_file(struct import_ctx *ctx, const char *path, const char *what,
                     size_t of)
{
    struct ws_csv_record rec;
    char err[512];
    bool terminal = isatty(STDERR_FILENO);
    bool progress_shown = false;
    struct import_result *result = ctx->result;
    int rc;

    fingerprint_init(&ctx->fp, kind_names[ctx->kind]);
    struct table *reader = table_open(path, err, sizeof(err));
    if (!reader) {
        if (errno != EBADMSG) {
            ws_error("import", "%s", err);
            return -EIO;
        }
        /* Not a workbook, or not one we can read: the clerk's to fix. */
        fprintf(ctx->report, "%s\n", err);
        ctx->result->errors++;
        return IMPORT_REFUSED;
    }
    ctx->short_rows = table_is_xlsx(path);
    /* The header; rows of empty cells before it do not count. */
    do
        rc = table_next(reader, &rec, err, sizeof(err));
    while (rc == 1 && record_is_blank(&rec));
    if (rc < 0) {
        report_csv_error(ctx, err);
        rc = IMPORT_REFUSED;
        goto close;
    }
    if (rc == 0) {
        report_line(ctx, 1, "-", _("file is empty (want a header row: %s,...)"),
                    ctx->columns[0]);
        rc = IMPORT_REFUSED;
        goto close;
    }
    if (!read_header(ctx, &rec)) {
        rc = IMPORT_REFUSED;
        goto close;
    }
    if (!of) {
        char how[96];
        ws_debug("import", "reading file=%s as %s", ctx->label,
                 table_describe(reader, how, sizeof(how)));
    }
    for (;;) {
        rc = table_next(reader, &rec, err, sizeof(err));
        if (rc == 0)
            break;
        if (rc < 0) {
            /* The rest of the file cannot be read reliably. */
            report_csv_error(ctx, err);
            result->bad_rows++;
            break;
        }
        if (record_is_blank(&rec))
            continue;
        result->rows++;
        if ((rc = import_row(ctx, &rec)) < 0)
            goto close;
        show_progress(ctx, what, of, terminal, &progress_shown);
    }
    if (progress_shown) {
        fputc('\r', stderr);
        fprintf(stderr, _("%s: %zu rows %s, %zu bad\n"), ctx->label,
                result->rows, _(what), result->bad_rows);
    }
    rc = result->bad_rows > 0 || result->errors > 0 ? IMPORT_REFUSED : 0;
close:
    table_close(&reader);
    return rc;
}

static void format_day_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) ||
        strftime(buf, cap, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(buf, cap, "%lld ms", (long long)ms);
}

struct earlier_list {
    struct earlier_import *items;
    size_t n, cap;
    int rc;
};

static void collect_earlier(const struct outbox_import_info *info, void *arg)
{
    struct earlier_list *list = arg;
    /* A withdrawn import no longer counts: its rows may come again. */
    if (list->rc < 0 || !info->has_fingerprint || info->rows == 0 ||
        info->withdrawn_at_ms)
        return;
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 16;
        struct earlier_import *more = realloc(list->items, cap * sizeof(*more));
        if (!more) {
            list->rc = -ENOMEM;
            return;
        }
        list->items = more;
        list->cap = cap;
    }
    struct earlier_import *e = &list->items[list->n++];
    e->id = info->id;
    e->rows = info->rows;
    e->imported_at_ms = info->imported_at_ms;
    memcpy(e->fingerprint, info->fingerprint, FINGERPRINT_LEN);
    ws_strlcpy(e->name, info->name, sizeof(e->name));
}

/* By rows ascending, then newest first, so that of two equal imports the
 * later one is named. */
static int earlier_order(const void *x, const void *y)
{
    const struct earlier_import *a = x, *b = y;
    if (a->rows != b->rows)
        return a->rows < b->rows ? -1 : 1;
    return a->id < b->id ? 1 : a->id > b->id ? -1 : 0;
}

/* Loads the earlier imports of the kind (for prefix and identity). */
static int load_earlier(struct outbox *outbox, struct import_ctx *ctx)
{
    struct earlier_list list = {NULL, 0, 0, 0};
    int rc = outbox_list_imports(outbox, kind_names[ctx->kind], false,
                                 collect_earlier, &list);
    if (rc == 0)
        rc = list.rc;
    if (rc < 0) {
        free(list.items);
        return rc;
    }
    if (list.n)
        qsort(list.items, list.n, sizeof(list.items[0]), earlier_order);
    ctx->earlier = list.items;
    ctx->n_earlier = list.n;
    return 0;
}

/* Two passes, so that memory does not grow with the file: the first checks
 * every row and keeps nothing (a file with any bad row is refused whole)
 * and finds what of it an earlier import already queued; the second parses
 * the file again and queues each new row as it is read, in one outbox
 * transaction, ballots under a shuffled order of seqs. */
int import_file(struct outbox *outbox, const struct ws_catalogue *cat,
                enum import_kind kind, const char *path,
                const struct import_options *options,
                struct import_result *result)
{
    struct import_ctx ctx;
    struct reference reference = {0};
    uint32_t *order = NULL;
    uint8_t first_fp[FINGERPRINT_LEN];
    char when[64] = "";
    int rc = 0;

    memset(result, 0, sizeof(*result));
    memset(&ctx, 0, sizeof(ctx));
    ctx.kind = kind;
    ctx.cat = cat;
    ctx.label = options->label ? options->label : path;
    ctx.report = options->report;
    ctx.max_reported = options->max_reported;
    ctx.log_every =
        options->log_every ? options->log_every : IMPORT_PROGRESS_LOG;
    ctx.result = result;
    ctx.columns = column_sets[kind].names;
    ctx.n_columns = column_sets[kind].n;
    ctx.now_ms = ws_now_ms();
    ctx.today_ms = ctx.now_ms - ctx.now_ms % MS_PER_DAY;

    if (!options->again && (rc = load_earlier(outbox, &ctx)) < 0)
        goto out;
    if ((rc = reference_load(outbox, &reference)) < 0)
        goto out;
    ctx.reference = reference.ref;
    ctx.ward = outbox_ward(outbox);
    result->no_reference = !reference.ref;
    rc = read_file(&ctx, path, N_("checked"), 0);
    if (rc != 0)
        goto out;
    size_t n = result->rows;
    fingerprint_peek(&ctx.fp, first_fp);
    struct outbox_import import = {
        .name = ctx.label,
        .kind = kind_names[kind],
        .source = options->source,
        .rows = n,
    };
    memcpy(import.fingerprint, first_fp, FINGERPRINT_LEN);
    if (ctx.match) {
        format_day_time(ctx.match->imported_at_ms, when, sizeof(when));
        result->earlier_import = ctx.match->id;
    }
    if (ctx.match && ctx.match->rows == n) {
        result->identical = true;
        result->errors++;
        fprintf(ctx.report,
                _("%s: already imported: the same %s (%zu rows) as import "
                  "%lld (\"%s\" of %s); if this really is a second batch, "
                  "import it with \"ward-agent import --again %s FILE\"\n"),
                ctx.label, kind_names[kind], n, (long long)ctx.match->id,
                ctx.match->name, when, kind_names[kind]);
        rc = IMPORT_REFUSED;
        goto out;
    }
    if (ctx.match) {
        ctx.skip = (size_t)ctx.match->rows;
        result->already_imported = ctx.skip;
    }
    if (n == 0) {
        /* A header and no rows: nothing to queue, but the file counts as
         * imported. */
        rc = outbox_append(outbox, NULL, 0, &import, &result->first_seq,
                           &result->last_seq);
        goto out;
    }
    if (n > UINT32_MAX) {
        report_line(&ctx, 0, "-", _("more than %u rows in one file"),
                    (unsigned)UINT32_MAX);
        rc = IMPORT_REFUSED;
        goto out;
    }
    if (kind == IMPORT_BALLOTS &&
        !(order = shuffled_order(n - ctx.skip, &rc))) {
        ws_error("import", "could not shuffle ballots: %s", strerror(-rc));
        goto out;
    }
    if ((rc = outbox_append_begin(outbox, &import, &ctx.appender)) < 0)
        goto out;
    struct import_result again;
    memset(&again, 0, sizeof(again));
    ctx.result = &again;
    ctx.order = order;
    ctx.n_rows = n;
    ctx.n_earlier = 0; /* the second pass compares only with the first */
    rc = read_file(&ctx, path, N_("queued"), n);
    ctx.result = result;
    result->repeated = again.repeated;
    if (rc == -EAGAIN) /* the file grew; keep_event reported it */
        rc = IMPORT_REFUSED;
    uint8_t second_fp[FINGERPRINT_LEN];
    fingerprint_peek(&ctx.fp, second_fp);
    if (rc == 0 && (again.rows != n || ctx.n_seen != n ||
                    memcmp(first_fp, second_fp, FINGERPRINT_LEN) != 0)) {
        report_line(
            &ctx, 0, "-",
            _("file changed while it was imported (%zu rows, then %zu)"), n,
            again.rows);
        rc = IMPORT_REFUSED;
    }
    if (rc != 0) {
        outbox_append_abort(&ctx.appender);
        goto out;
    }
    uint64_t first = outbox_appender_first(ctx.appender);
    size_t queued = ctx.n_queued;
    if ((rc = outbox_append_commit(&ctx.appender, queued)) < 0)
        goto out;
    result->queued = queued;
    result->first_seq = first;
    result->last_seq = first + queued - 1;

out:
    if (rc == 0 && result->already_imported)
        snprintf(result->note, sizeof(result->note),
                 _("the first %zu rows are import %lld (\"%s\" of %s), "
                   "already queued; queued only the %zu rows after them"),
                 result->already_imported, (long long)result->earlier_import,
                 ctx.match->name, when,
                 result->rows - result->already_imported);
    if (rc == 0 && result->repeated) {
        size_t used = strlen(result->note);
        snprintf(result->note + used, sizeof(result->note) - used,
                 _("%s%zu rows were already queued with the same content "
                   "(same %s) and were skipped"),
                 used ? "; " : "", result->repeated,
                 kind == IMPORT_PETITIONS ? _("petition, status and changed_on")
                 : kind == IMPORT_RECEPTION   ? _("session")
                 : kind == IMPORT_INSPECTIONS ? _("inspection")
                 : kind == IMPORT_ROTATIONS
                     ? _("cadre, post, unit, kind and effective_on")
                     : _("survey, subject, status and changed_on"));
    }
    if (rc == IMPORT_REFUSED && result->errors > ctx.max_reported)
        fprintf(ctx.report, _("%s: %zu more errors not shown\n"), ctx.label,
                result->errors - ctx.max_reported);
    if (rc == IMPORT_REFUSED && result->bad_rows == 0)
        fprintf(ctx.report, _("%s: refused, nothing queued\n"), ctx.label);
    else if (rc == IMPORT_REFUSED)
        fprintf(ctx.report, _("%s: %zu of %zu rows bad; nothing queued\n"),
                ctx.label, result->bad_rows, result->rows);
    free(order);
    free(ctx.earlier);
    reference_clear(&reference);
    return rc;
}

int import_command(const struct agent_settings *settings, enum import_kind kind,
                   const char *path, bool again)
{
    struct outbox *outbox = NULL;
    struct ws_catalogue *cat = NULL;
    struct import_result result;
    int code = EXIT_IO;

    if (settings_make_home(settings) < 0)
        return EXIT_IO;
    int rc = outbox_open(settings->outbox_path, settings->ward, true, &outbox);
    if (rc < 0)
        return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
    if (settings_load_catalogue(settings, &cat) < 0)
        goto close;
    struct import_options options = {
        .label = path,
        .report = stderr,
        .max_reported = IMPORT_MAX_REPORTED,
        .again = again,
    };
    rc = import_file(outbox, cat, kind, path, &options, &result);
    if (rc >= 0 && kind == IMPORT_BALLOTS && result.no_reference)
        fprintf(stderr,
                _("%s: no reference data from the hub yet (the agent has "
                  "not reached it): rounds, subjects and forms were checked "
                  "with the shared rules only; the hub checks them on "
                  "delivery\n"),
                path);
    if (rc == IMPORT_REFUSED) {
        code = EXIT_BAD_INPUT;
    } else if (rc < 0) {
        fprintf(stderr,
                _("ward-agent: import of \"%s\" failed; nothing queued\n"),
                path);
        code = EXIT_IO;
    } else {
        if (result.queued)
            printf(_("queued %zu %s events from %s (seq %llu..%llu)\n"),
                   result.queued, import_kind_name(kind), path,
                   (unsigned long long)result.first_seq,
                   (unsigned long long)result.last_seq);
        else
            printf(_("queued 0 %s events from %s (%s)\n"),
                   import_kind_name(kind), path,
                   result.rows ? _("no new rows") : _("no rows"));
        if (result.note[0])
            printf("%s: %s\n", path, result.note);
        ws_info("import",
                "queued events kind=%s file=%s rows=%zu count=%zu "
                "already_imported=%zu repeated=%zu first_seq=%llu "
                "last_seq=%llu",
                import_kind_name(kind), path, result.rows, result.queued,
                result.already_imported, result.repeated,
                (unsigned long long)result.first_seq,
                (unsigned long long)result.last_seq);
        code = EXIT_OK;
    }

close:
    ws_catalogue_destroy(&cat);
    outbox_close(&outbox);
    return code;
}
