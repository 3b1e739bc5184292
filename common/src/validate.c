/*
 * validate.c - the shared rules for every event type.
 *
 * Every string is checked to be UTF-8 before anything else looks at it,
 * because protobuf-c hands proto3 strings over unchecked (a NUL inside a
 * string is refused earlier, by the codec, since decoding cuts it).
 *
 * What the hub's tables (district-hub/sql) would refuse is refused here,
 * with a reason, so that an event never reaches PostgreSQL only to fail
 * there: uuid event_id; bigint seq (1..INT64_MAX); timestamptz times
 * (0..WS_TIME_MAX_MS); date columns (ws_date_parse: real calendar dates,
 * 1900..2999, well inside PostgreSQL's date range); the CHECKs on
 * respondent_group (1..4), levels (1..3), citizens and petitions
 * (0..10000), an inspection's subjects and violations (0..10000), a
 * rotation's years_in_post (0..WS_YEARS_MAX) and the kind, channel,
 * status, host_role and mode names; text
 * that is UTF-8 (codes 1..64 bytes of [A-Za-z0-9._/-], the note at most
 * WS_NOTE_MAX bytes); a Withdrawal's event_ids UUIDs, at most
 * WS_WITHDRAWAL_MAX_IDS of them. Reasons quote a
 * bad value only in a cleaned, shortened form (describe()), since the value
 * came from outside and the reason ends up in logs and reports.
 */
#include "wardsync/validate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wardsync/i18n.h"
#include "wardsync/names.h"
#include "wardsync/util.h"

/* Writes "FIELD: message" into reason: the field as the wire and the CSV
 * name it (what ward-agent import maps to a column, never translated),
 * the message in the reader's language (fmt comes through _()). A
 * per-item field is "levels[N]", N from 1. */
static int invalid(char *reason, size_t reasonlen, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int invalid(char *reason, size_t reasonlen, const char *field,
                   const char *fmt, ...)
{
    va_list ap;

    if (reason != NULL && reasonlen > 0) {
        int n = snprintf(reason, reasonlen, "%s: ", field);
        if (n >= 0 && (size_t)n < reasonlen) {
            va_start(ap, fmt);
            vsnprintf(reason + n, reasonlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

/* A short, printable-ASCII rendering of an untrusted value, in quotes. */
static const char *describe(const char *value, char *buf, size_t cap)
{
    size_t pos = 0;
    const size_t keep = 32;

    buf[pos++] = '"';
    for (size_t i = 0; value[i] != '\0'; i++) {
        unsigned char c = (unsigned char)value[i];

        if (i == keep || pos + 5 >= cap) {
            memcpy(buf + pos, "...", 3);
            pos += 3;
            break;
        }
        buf[pos++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[pos++] = '"';
    buf[pos] = '\0';
    return buf;
}

static const char *text_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static bool utf8_ok(const char *s)
{
    return ws_utf8_valid(s, strlen(s));
}

int ws_validate_code(const char *field, const char *value, char *reason,
                     size_t reasonlen)
{
    size_t len;

    value = text_or_empty(value);
    len = strnlen(value, WS_FIELD_MAX + 1);
    if (len == 0)
        return invalid(reason, reasonlen, field, _("empty"));
    if (len > WS_FIELD_MAX)
        return invalid(reason, reasonlen, field, _("longer than %d bytes"),
                       WS_FIELD_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = value[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' ||
            c == '-')
            continue;
        return invalid(reason, reasonlen, field,
                       _("character %zu is not one of A-Z a-z 0-9 . _ / -"),
                       i + 1);
    }
    return 0;
}

/* A required date; *days_out receives its day number. */
static int check_date(const char *field, const char *value, int32_t *days_out,
                      char *reason, size_t reasonlen)
{
    char shown[48];

    value = text_or_empty(value);
    if (value[0] == '\0')
        return invalid(reason, reasonlen, field, _("empty, want YYYY-MM-DD"));
    if (!utf8_ok(value))
        return invalid(reason, reasonlen, field, _("not valid UTF-8"));
    if (ws_date_parse(value, days_out) != 0)
        return invalid(reason, reasonlen, field,
                       _("%s is not a date YYYY-MM-DD (1900..2999)"),
                       describe(value, shown, sizeof(shown)));
    return 0;
}

/* A time in milliseconds since the epoch, within 0..WS_TIME_MAX_MS. */
static int check_time(const char *field, int64_t ms, char *reason,
                      size_t reasonlen)
{
    if (ms < 0)
        return invalid(reason, reasonlen, field, _("negative"));
    if (ms > WS_TIME_MAX_MS)
        return invalid(reason, reasonlen, field,
                       _("%lld is after 9999-12-31 (more than %lld)"),
                       (long long)ms, (long long)WS_TIME_MAX_MS);
    return 0;
}

int ws_validate_ballot(const Wardsync__V1__Ballot *ballot,
                       const struct ws_catalogue *cat, char *reason,
                       size_t reasonlen)
{
    const struct ws_catalogue_form *form;
    size_t n_levels;
    int rc;

    if (ballot == NULL)
        return invalid(reason, reasonlen, "ballot", _("missing"));
    if (cat == NULL)
        return invalid(reason, reasonlen, "form", _("no catalogue loaded"));
    rc = ws_validate_code("survey", ballot->survey, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("form", ballot->form, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("subject", ballot->subject, reason, reasonlen);
    if (rc < 0)
        return rc;
    form = ws_catalogue_form(cat, ballot->form);
    if (form == NULL)
        return invalid(reason, reasonlen, "form",
                       _("unknown form \"%s\" (not in the catalogue)"),
                       ballot->form);
    size_t n_groups = cat->n_respondent_groups < WS_RESPONDENT_GROUP_MAX
                          ? cat->n_respondent_groups
                          : WS_RESPONDENT_GROUP_MAX;
    if (ballot->respondent_group < 1 || ballot->respondent_group > n_groups)
        return invalid(reason, reasonlen, "respondent_group",
                       _("%u is not one of 1..%zu"), ballot->respondent_group,
                       n_groups);
    n_levels = ballot->levels != NULL ? ballot->n_levels : 0;
    if (n_levels != form->n_items)
        return invalid(reason, reasonlen, "levels",
                       _("%zu answers, form %s has %zu items"), n_levels,
                       form->code, form->n_items);
    size_t max_level =
        cat->n_levels < WS_LEVEL_MAX ? cat->n_levels : WS_LEVEL_MAX;
    for (size_t i = 0; i < n_levels; i++) {
        uint32_t level = ballot->levels[i];

        if (level < 1 || level > max_level) {
            char field[32];
            snprintf(field, sizeof field, "levels[%zu]", i + 1);
            return invalid(reason, reasonlen, field,
                           _("item %zu has level %u, want 1..%zu"), i + 1,
                           level, max_level);
        }
    }
    return 0;
}

int ws_validate_petition(const Wardsync__V1__PetitionEvent *petition,
                         char *reason, size_t reasonlen)
{
    int32_t received, due;
    const char *note;
    size_t note_len;
    int rc;

    if (petition == NULL)
        return invalid(reason, reasonlen, "petition", _("missing"));
    rc = ws_validate_code("petition", petition->petition, reason, reasonlen);
    if (rc < 0)
        return rc;
    if (ws_petition_kind_name((int)petition->kind) == NULL)
        return invalid(reason, reasonlen, "kind",
                       _("%d is not a known petition kind"),
                       (int)petition->kind);
    if (ws_petition_channel_name((int)petition->channel) == NULL)
        return invalid(reason, reasonlen, "channel",
                       _("%d is not a known petition channel"),
                       (int)petition->channel);
    if (ws_petition_status_name((int)petition->status) == NULL)
        return invalid(reason, reasonlen, "status",
                       _("%d is not a known petition status"),
                       (int)petition->status);
    rc = check_date("received_on", petition->received_on, &received, reason,
                    reasonlen);
    if (rc < 0)
        return rc;
    if (text_or_empty(petition->due_on)[0] != '\0') {
        rc = check_date("due_on", petition->due_on, &due, reason, reasonlen);
        if (rc < 0)
            return rc;
        if (due < received)
            return invalid(reason, reasonlen, "due_on",
                           _("%s is before received_on %s"), petition->due_on,
                           petition->received_on);
    }
    note = text_or_empty(petition->note);
    note_len = strnlen(note, WS_NOTE_MAX + 1);
    if (note_len > WS_NOTE_MAX)
        return invalid(reason, reasonlen, "note", _("longer than %d bytes"),
                       WS_NOTE_MAX);
    if (!ws_utf8_valid(note, note_len))
        return invalid(reason, reasonlen, "note", _("not valid UTF-8"));
    return 0;
}

int ws_validate_reception(const Wardsync__V1__ReceptionSession *session,
                          char *reason, size_t reasonlen)
{
    int rc;

    if (session == NULL)
        return invalid(reason, reasonlen, "reception", _("missing"));
    rc = ws_validate_code("session", session->session, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = check_date("held_on", session->held_on, NULL, reason, reasonlen);
    if (rc < 0)
        return rc;
    if (ws_host_role_name((int)session->host_role) == NULL)
        return invalid(reason, reasonlen, "host_role",
                       _("%d is not a known role"), (int)session->host_role);
    if (ws_reception_mode_name((int)session->mode) == NULL)
        return invalid(reason, reasonlen, "mode", _("%d is not a known mode"),
                       (int)session->mode);
    if (session->citizens > WS_COUNT_MAX)
        return invalid(reason, reasonlen, "citizens", _("%u is more than %d"),
                       session->citizens, WS_COUNT_MAX);
    if (session->petitions > WS_COUNT_MAX)
        return invalid(reason, reasonlen, "petitions", _("%u is more than %d"),
                       session->petitions, WS_COUNT_MAX);
    return 0;
}

int ws_validate_remediation(const Wardsync__V1__RemediationUpdate *update,
                            char *reason, size_t reasonlen)
{
    int rc;

    if (update == NULL)
        return invalid(reason, reasonlen, "remediation", _("missing"));
    rc = ws_validate_code("survey", update->survey, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("subject", update->subject, reason, reasonlen);
    if (rc < 0)
        return rc;
    if (ws_remediation_status_name((int)update->status) == NULL)
        return invalid(reason, reasonlen, "status",
                       _("%d is not a known remediation status"),
                       (int)update->status);
    return check_date("due_on", update->due_on, NULL, reason, reasonlen);
}

/* A free-text note: at most WS_NOTE_MAX bytes of UTF-8. */
static int check_note(const char *value, char *reason, size_t reasonlen)
{
    const char *note = text_or_empty(value);
    size_t note_len = strnlen(note, WS_NOTE_MAX + 1);

    if (note_len > WS_NOTE_MAX)
        return invalid(reason, reasonlen, "note", _("longer than %d bytes"),
                       WS_NOTE_MAX);
    if (!ws_utf8_valid(note, note_len))
        return invalid(reason, reasonlen, "note", _("not valid UTF-8"));
    return 0;
}

int ws_validate_inspection(const Wardsync__V1__Inspection *inspection,
                           char *reason, size_t reasonlen)
{
    int rc;

    if (inspection == NULL)
        return invalid(reason, reasonlen, "inspection", _("missing"));
    rc = ws_validate_code("inspection", inspection->inspection, reason,
                          reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("body", inspection->body, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("unit", inspection->unit, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = check_date("held_on", inspection->held_on, NULL, reason, reasonlen);
    if (rc < 0)
        return rc;
    if (ws_inspection_kind_name((int)inspection->kind) == NULL)
        return invalid(reason, reasonlen, "kind",
                       _("%d is not a known inspection kind"),
                       (int)inspection->kind);
    if (inspection->subjects > WS_COUNT_MAX)
        return invalid(reason, reasonlen, "subjects", _("%u is more than %d"),
                       inspection->subjects, WS_COUNT_MAX);
    if (inspection->violations > WS_COUNT_MAX)
        return invalid(reason, reasonlen, "violations", _("%u is more than %d"),
                       inspection->violations, WS_COUNT_MAX);
    return check_note(inspection->note, reason, reasonlen);
}

int ws_validate_rotation(const Wardsync__V1__Rotation *rotation, char *reason,
                         size_t reasonlen)
{
    int rc;

    if (rotation == NULL)
        return invalid(reason, reasonlen, "rotation", _("missing"));
    rc = ws_validate_code("cadre", rotation->cadre, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("post", rotation->post, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = ws_validate_code("unit", rotation->unit, reason, reasonlen);
    if (rc < 0)
        return rc;
    if (rotation->years_in_post > WS_YEARS_MAX)
        return invalid(reason, reasonlen, "years_in_post",
                       _("%u is more than %d"), rotation->years_in_post,
                       WS_YEARS_MAX);
    rc = check_date("effective_on", rotation->effective_on, NULL, reason,
                    reasonlen);
    if (rc < 0)
        return rc;
    if (ws_rotation_kind_name((int)rotation->kind) == NULL)
        return invalid(reason, reasonlen, "kind",
                       _("%d is not a known rotation kind"),
                       (int)rotation->kind);
    return 0;
}

int ws_validate_withdrawal(const Wardsync__V1__Withdrawal *withdrawal,
                           char *reason, size_t reasonlen)
{
    const char *text;
    size_t n, text_len;

    if (withdrawal == NULL)
        return invalid(reason, reasonlen, "withdrawal", _("missing"));
    n = withdrawal->event_ids != NULL ? withdrawal->n_event_ids : 0;
    if (n == 0)
        return invalid(reason, reasonlen, "event_ids",
                       _("empty, want 1..%u event ids"), WS_WITHDRAWAL_MAX_IDS);
    if (n > WS_WITHDRAWAL_MAX_IDS)
        return invalid(reason, reasonlen, "event_ids",
                       _("%zu ids, at most %u in one withdrawal"), n,
                       WS_WITHDRAWAL_MAX_IDS);
    for (size_t i = 0; i < n; i++) {
        const char *id = text_or_empty(withdrawal->event_ids[i]);
        char shown[48];

        if (!ws_uuid_valid(id)) {
            if (!utf8_ok(id))
                return invalid(reason, reasonlen, "event_ids",
                               _("id %zu is not valid UTF-8"), i + 1);
            return invalid(reason, reasonlen, "event_ids",
                           _("id %zu, %s, is not a UUID"), i + 1,
                           describe(id, shown, sizeof(shown)));
        }
        /* At most 1,000 ids: the quadratic search costs well under a
         * millisecond. */
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(id, withdrawal->event_ids[j]) == 0)
                return invalid(reason, reasonlen, "event_ids",
                               _("id %zu, %s, repeats id %zu"), i + 1, id,
                               j + 1);
    }
    text = text_or_empty(withdrawal->reason);
    text_len = strnlen(text, WS_NOTE_MAX + 1);
    if (text_len > WS_NOTE_MAX)
        return invalid(reason, reasonlen, "reason", _("longer than %d bytes"),
                       WS_NOTE_MAX);
    if (!ws_utf8_valid(text, text_len))
        return invalid(reason, reasonlen, "reason", _("not valid UTF-8"));
    return 0;
}

int ws_validate_event(const Wardsync__V1__Event *event,
                      const struct ws_catalogue *cat, char *reason,
                      size_t reasonlen)
{
    const char *event_id;
    int rc;

    if (event == NULL)
        return invalid(reason, reasonlen, "event", _("missing"));
    event_id = text_or_empty(event->event_id);
    if (!ws_uuid_valid(event_id)) {
        char shown[48];

        if (!utf8_ok(event_id))
            return invalid(reason, reasonlen, "event_id", _("not valid UTF-8"));
        return invalid(reason, reasonlen, "event_id", _("%s is not a UUID"),
                       describe(event_id, shown, sizeof(shown)));
    }
    if (event->seq < 1)
        return invalid(reason, reasonlen, "seq", _("0, want 1 or more"));
    if (event->seq > (uint64_t)INT64_MAX)
        return invalid(reason, reasonlen, "seq", _("%llu is more than %lld"),
                       (unsigned long long)event->seq, (long long)INT64_MAX);
    rc = check_time("occurred_at_ms", event->occurred_at_ms, reason, reasonlen);
    if (rc < 0)
        return rc;
    rc = check_time("queued_at_ms", event->queued_at_ms, reason, reasonlen);
    if (rc < 0)
        return rc;

    switch (event->body_case) {
    case WARDSYNC__V1__EVENT__BODY_BALLOT:
        return ws_validate_ballot(event->ballot, cat, reason, reasonlen);
    case WARDSYNC__V1__EVENT__BODY_PETITION:
        return ws_validate_petition(event->petition, reason, reasonlen);
    case WARDSYNC__V1__EVENT__BODY_RECEPTION:
        return ws_validate_reception(event->reception, reason, reasonlen);
    case WARDSYNC__V1__EVENT__BODY_REMEDIATION:
        return ws_validate_remediation(event->remediation, reason, reasonlen);
    case WARDSYNC__V1__EVENT__BODY_INSPECTION:
        return ws_validate_inspection(event->inspection, reason, reasonlen);
    case WARDSYNC__V1__EVENT__BODY_ROTATION:
        return ws_validate_rotation(event->rotation, reason, reasonlen);
    case WARDSYNC__V1__EVENT__BODY_WITHDRAWAL:
        return ws_validate_withdrawal(event->withdrawal, reason, reasonlen);
    default:
        return invalid(reason, reasonlen, "body", _("not set"));
    }
}
