/*
 * names.c - text names of the wire enums.
 *
 * Each table is indexed by the enum value; index 0 (UNSPECIFIED) has no
 * name, so it can be neither printed nor parsed.
 */
#include "wardsync/names.h"

#include <string.h>
#include <strings.h>

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

static const char *name_of(const char *const *table, size_t n, int value)
{
    if (value <= 0 || (size_t)value >= n)
        return NULL;
    return table[value];
}

/* Compares name, with blanks around it ignored, to want case-insensitively. */
static int parse_in(const char *const *table, size_t n, const char *name)
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

#define NAME_FUNCTIONS(prefix, table)                                          \
    const char *prefix##_name(int value)                                       \
    {                                                                          \
        return name_of(table, COUNT(table), value);                            \
    }                                                                          \
    int prefix##_parse(const char *name)                                       \
    {                                                                          \
        return parse_in(table, COUNT(table), name);                            \
    }

NAME_FUNCTIONS(ws_petition_kind, petition_kinds)
NAME_FUNCTIONS(ws_petition_channel, petition_channels)
NAME_FUNCTIONS(ws_petition_status, petition_statuses)
NAME_FUNCTIONS(ws_host_role, host_roles)
NAME_FUNCTIONS(ws_reception_mode, reception_modes)
NAME_FUNCTIONS(ws_remediation_status, remediation_statuses)
NAME_FUNCTIONS(ws_inspection_kind, inspection_kinds)
NAME_FUNCTIONS(ws_rotation_kind, rotation_kinds)

int ws_bool_parse(const char *text)
{
    static const char *const yes[] = {NULL, "yes", "true", "1"};
    static const char *const no[] = {NULL, "no", "false", "0"};

    if (parse_in(yes, COUNT(yes), text) > 0)
        return 1;
    if (parse_in(no, COUNT(no), text) > 0)
        return 0;
    return -1;
}
