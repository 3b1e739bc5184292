/*
 * names.c - text names of the wire enums.
 *
 * Each table is indexed by the enum value; index 0 (UNSPECIFIED) has no
 * name, so it can be neither printed nor parsed. Beside each, a table of
 * Vietnamese names a clerk writes (docs/GLOSSARY.md), the first of each
 * value being the one shown; they are read only, never printed where a
 * program reads the name back (SQL, pull, JSON).
 */
#include "wardsync/names.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "wardsync/fold.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const petition_kinds[] = {
    [WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT] = "complaint",
    [WARDSYNC__V1__PETITION_KIND__PETITION_KIND_DENUNCIATION] = "denunciation",
    [WARDSYNC__V1__PETITION_KIND__PETITION_KIND_RECOMMENDATION] =
        "recommendation",
    [WARDSYNC__V1__PETITION_KIND__PETITION_KIND_REFLECTION] = "reflection",
};

static const char *const petition_channels[] = {
    [WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON] = "in_person",
    [WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST] = "post",
    [WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_ONLINE] = "online",
    [WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_TRANSFERRED_IN] =
        "transferred_in",
};

static const char *const petition_statuses[] = {
    [WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED] = "received",
    [WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED] = "accepted",
    [WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_TRANSFERRED] =
        "transferred",
    [WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_IN_PROGRESS] =
        "in_progress",
    [WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RESOLVED] = "resolved",
    [WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_WITHDRAWN] = "withdrawn",
};

static const char *const host_roles[] = {
    [WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR] = "chair",
    [WARDSYNC__V1__HOST_ROLE__HOST_ROLE_VICE_CHAIR] = "vice_chair",
    [WARDSYNC__V1__HOST_ROLE__HOST_ROLE_OFFICER] = "officer",
};

static const char *const reception_modes[] = {
    [WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR] = "regular",
    [WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_AD_HOC] = "ad_hoc",
};

static const char *const remediation_statuses[] = {
    [WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_REQUIRED] =
        "required",
    [WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_SUBMITTED] =
        "submitted",
    [WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_COMPLETED] =
        "completed",
};

static const char *const inspection_kinds[] = {
    [WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PARTY] = "party",
    [WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PLANNED] = "planned",
    [WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_UNANNOUNCED] =
        "unannounced",
};

static const char *const rotation_kinds[] = {
    [WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_APPOINTED] = "appointed",
    [WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_ROTATED] = "rotated",
    [WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_DUE] = "due",
};

/* A Vietnamese name of an enum value; tables end with {0, NULL}. */
struct alias {
    int value;
    const char *name;
};

static const struct alias petition_kind_vi[] = {
    {WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT, "khiếu nại"},
    {WARDSYNC__V1__PETITION_KIND__PETITION_KIND_DENUNCIATION, "tố cáo"},
    {WARDSYNC__V1__PETITION_KIND__PETITION_KIND_RECOMMENDATION, "kiến nghị"},
    {WARDSYNC__V1__PETITION_KIND__PETITION_KIND_REFLECTION, "phản ánh"},
    {0, NULL}};

static const struct alias petition_channel_vi[] = {
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON, "trực tiếp"},
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST, "qua bưu điện"},
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST, "bưu điện"},
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_POST, "bưu chính"},
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_ONLINE, "trực tuyến"},
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_ONLINE, "qua mạng"},
    {WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_TRANSFERRED_IN,
     "chuyển đến"},
    {0, NULL}};

static const struct alias petition_status_vi[] = {
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "tiếp nhận"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "đã tiếp nhận"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED, "đã nhận"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED, "thụ lý"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED, "đã thụ lý"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_TRANSFERRED, "chuyển đơn"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_TRANSFERRED, "đã chuyển"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_IN_PROGRESS,
     "đang giải quyết"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RESOLVED, "đã giải quyết"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_WITHDRAWN, "rút đơn"},
    {WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_WITHDRAWN, "đã rút"},
    {0, NULL}};

static const struct alias host_role_vi[] = {
    {WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR, "chủ tịch"},
    {WARDSYNC__V1__HOST_ROLE__HOST_ROLE_VICE_CHAIR, "phó chủ tịch"},
    {WARDSYNC__V1__HOST_ROLE__HOST_ROLE_OFFICER, "cán bộ"},
    {WARDSYNC__V1__HOST_ROLE__HOST_ROLE_OFFICER, "công chức"},
    {0, NULL}};

static const struct alias reception_mode_vi[] = {
    {WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR, "định kỳ"},
    {WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR, "thường xuyên"},
    {WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_AD_HOC, "đột xuất"},
    {0, NULL}};

static const struct alias remediation_status_vi[] = {
    {WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_REQUIRED,
     "phải khắc phục"},
    {WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_REQUIRED,
     "yêu cầu khắc phục"},
    {WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_SUBMITTED, "đã nộp"},
    {WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_COMPLETED,
     "đã hoàn thành"},
    {WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_COMPLETED,
     "hoàn thành"},
    {0, NULL}};

static const struct alias inspection_kind_vi[] = {
    {WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PARTY, "kiểm tra đảng"},
    {WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PARTY, "đảng"},
    {WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PLANNED, "theo kế hoạch"},
    {WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_PLANNED, "kế hoạch"},
    {WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_UNANNOUNCED, "đột xuất"},
    {0, NULL}};

static const struct alias rotation_kind_vi[] = {
    {WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_APPOINTED, "bổ nhiệm"},
    {WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_APPOINTED, "điều động"},
    {WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_ROTATED, "luân chuyển"},
    {WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_ROTATED, "chuyển đổi vị trí"},
    {WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_DUE, "đến hạn"},
    {0, NULL}};

static const char *const yes_names[] = {NULL, "yes", "true", "1"};
static const char *const no_names[] = {NULL, "no", "false", "0"};
static const struct alias yes_vi[] = {{1, "có"}, {1, "đúng"}, {0, NULL}};
static const struct alias no_vi[] = {{1, "không"}, {1, "sai"}, {0, NULL}};

/* Every table and its aliases, for the folded forms computed once. */
static const struct {
    const char *const *names;
    size_t n;
    const struct alias *aliases;
} all_tables[] = {
    {petition_kinds, COUNT(petition_kinds), petition_kind_vi},
    {petition_channels, COUNT(petition_channels), petition_channel_vi},
    {petition_statuses, COUNT(petition_statuses), petition_status_vi},
    {host_roles, COUNT(host_roles), host_role_vi},
    {reception_modes, COUNT(reception_modes), reception_mode_vi},
    {remediation_statuses, COUNT(remediation_statuses), remediation_status_vi},
    {inspection_kinds, COUNT(inspection_kinds), inspection_kind_vi},
    {rotation_kinds, COUNT(rotation_kinds), rotation_kind_vi},
    {yes_names, COUNT(yes_names), yes_vi},
    {no_names, COUNT(no_names), no_vi},
};

/* The ws_fold form of each name above, keyed by the name's address, so
 * that a Vietnamese value costs one fold (its own), not one per name. */
#define FOLDED_MAX 128
static struct {
    const char *name;
    char folded[64];
} folded[FOLDED_MAX];
static size_t n_folded;
static pthread_once_t folded_once = PTHREAD_ONCE_INIT;

static void remember(const char *name)
{
    if (n_folded == FOLDED_MAX || ws_fold(name, folded[n_folded].folded,
                                          sizeof(folded[n_folded].folded)) < 0)
        return;
    folded[n_folded++].name = name;
}

static void fold_all(void)
{
    for (size_t t = 0; t < COUNT(all_tables); t++) {
        for (size_t i = 1; i < all_tables[t].n; i++)
            if (all_tables[t].names[i] != NULL)
                remember(all_tables[t].names[i]);
        for (const struct alias *a = all_tables[t].aliases; a->name; a++)
            remember(a->name);
    }
}

/* The folded form of a table's name (from the cache, else into buf). */
static const char *folded_name(const char *name, char *buf, size_t cap)
{
    pthread_once(&folded_once, fold_all);
    for (size_t i = 0; i < n_folded; i++)
        if (folded[i].name == name)
            return folded[i].folded;
    return ws_fold(name, buf, cap) >= 0 ? buf : "";
}

static const char *name_of(const char *const *table, size_t n, int value)
{
    if (value <= 0 || (size_t)value >= n)
        return NULL;
    return table[value];
}

static const char *alias_of(const struct alias *aliases, int value)
{
    for (const struct alias *a = aliases; a->name != NULL; a++)
        if (a->value == value)
            return a->name;
    return NULL;
}

/* The ASCII fast path: name, with blanks around it ignored, against the
 * English names, case-insensitively. */
static int parse_english(const char *const *table, size_t n, const char *name)
{
    size_t len;

    if (name == NULL)
        return -1;
    while (*name == ' ' || *name == '\t')
        name++;
    len = strlen(name);
    while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t' ||
                       name[len - 1] == '\r' || name[len - 1] == '\n'))
        len--;
    for (size_t i = 1; i < n; i++) {
        if (table[i] != NULL && strlen(table[i]) == len &&
            strncasecmp(table[i], name, len) == 0)
            return (int)i;
    }
    return -1;
}

/* name against the English names, then against the Vietnamese ones, both
 * through ws_fold (case, blanks and NFC/NFD do not count). */
static int parse_in(const char *const *table, size_t n,
                    const struct alias *aliases, const char *name)
{
    char want[WS_FOLD_MAX];
    char have[WS_FOLD_MAX];
    int v;

    if (name == NULL)
        return -1;
    if ((v = parse_english(table, n, name)) > 0)
        return v;
    if (ws_fold(name, want, sizeof(want)) <= 0)
        return -1;
    for (size_t i = 1; i < n; i++)
        if (table[i] != NULL &&
            strcmp(folded_name(table[i], have, sizeof(have)), want) == 0)
            return (int)i;
    for (const struct alias *a = aliases; a != NULL && a->name != NULL; a++)
        if (strcmp(folded_name(a->name, have, sizeof(have)), want) == 0)
            return a->value;
    return -1;
}

/* A table with its Vietnamese names (add the pair to all_tables too). */
#define NAME_FUNCTIONS_VI(prefix, table, aliases)                              \
    const char *prefix##_name(int value)                                       \
    {                                                                          \
        return name_of(table, COUNT(table), value);                            \
    }                                                                          \
    const char *prefix##_name_vi(int value)                                    \
    {                                                                          \
        if (name_of(table, COUNT(table), value) == NULL)                       \
            return NULL;                                                       \
        return alias_of(aliases, value);                                       \
    }                                                                          \
    int prefix##_parse(const char *name)                                       \
    {                                                                          \
        return parse_in(table, COUNT(table), aliases, name);                   \
    }

NAME_FUNCTIONS_VI(ws_petition_kind, petition_kinds, petition_kind_vi)
NAME_FUNCTIONS_VI(ws_petition_channel, petition_channels, petition_channel_vi)
NAME_FUNCTIONS_VI(ws_petition_status, petition_statuses, petition_status_vi)
NAME_FUNCTIONS_VI(ws_host_role, host_roles, host_role_vi)
NAME_FUNCTIONS_VI(ws_reception_mode, reception_modes, reception_mode_vi)
NAME_FUNCTIONS_VI(ws_remediation_status, remediation_statuses,
                  remediation_status_vi)
NAME_FUNCTIONS_VI(ws_inspection_kind, inspection_kinds, inspection_kind_vi)
NAME_FUNCTIONS_VI(ws_rotation_kind, rotation_kinds, rotation_kind_vi)

int ws_bool_parse(const char *text)
{
    if (parse_in(yes_names, COUNT(yes_names), yes_vi, text) > 0)
        return 1;
    if (parse_in(no_names, COUNT(no_names), no_vi, text) > 0)
        return 0;
    return -1;
}
