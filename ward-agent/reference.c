/*
 * reference.c - the reference data the hub sent, kept and used by the
 * agent (contract in reference.h).
 */
#include "reference.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/codec.h"
#include "wardsync/i18n.h"
#include "wardsync/log.h"
#include "wardsync/util.h"

int reference_load(struct outbox *outbox, struct reference *out)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    int rc = outbox_reference_load(outbox, &out->info, &payload, &len);
    if (rc < 0 || !out->info.present)
        return rc;
    out->ref = wardsync__v1__reference__unpack(NULL, len, payload);
    free(payload);
    if (!out->ref) {
        ws_error("reference",
                 "stored reference data cannot be read "
                 "version=%s",
                 out->info.version);
        return -EBADMSG;
    }
    return 0;
}

void reference_clear(struct reference *reference)
{
    if (reference->ref)
        wardsync__v1__reference__free_unpacked(reference->ref, NULL);
    memset(reference, 0, sizeof(*reference));
}

int reference_keep(struct outbox *outbox, const char *ward,
                   const Wardsync__V1__Reference *ref, int64_t now_ms)
{
    struct outbox_reference_info held;
    int rc;
    if (strcmp(ref->ward, ward) != 0) {
        ws_warn("reference",
                "reference data not kept: it is for ward %s, this outbox is "
                "ward %s",
                ref->ward, ward);
        return -EINVAL;
    }
    if (ref->unchanged) {
        if ((rc = outbox_reference_load(outbox, &held, NULL, NULL)) < 0)
            return rc;
        if (!held.present || strcmp(held.version, ref->version) != 0) {
            ws_warn("reference",
                    "hub says reference version=%s is unchanged, but the "
                    "agent holds version=%s",
                    ref->version, held.present ? held.version : "(none)");
            return -EINVAL;
        }
        return outbox_reference_checked(outbox, ref->version, now_ms);
    }
    uint8_t *payload = NULL;
    size_t len = 0;
    if ((rc = ws_pack(&ref->base, &payload, &len)) < 0)
        return rc;
    rc = outbox_reference_store(outbox, ref->version, payload, len, now_ms);
    free(payload);
    if (rc == 0)
        ws_info("reference",
                "reference data received version=%s rounds=%zu subjects=%zu "
                "catalogue_version=%s",
                ref->version, ref->n_rounds, ref->n_subjects,
                ref->catalogue_version);
    return rc;
}

enum reference_column
reference_check_ballot(const Wardsync__V1__Reference *ref, const char *ward,
                       const char *survey, const char *subject,
                       const char *form, int32_t day, bool have_day,
                       char *reason, size_t cap)
{
    const Wardsync__V1__ReferenceRound *round = NULL;
    for (size_t i = 0; i < ref->n_rounds && !round; i++)
        if (strcmp(ref->rounds[i]->code, survey) == 0)
            round = ref->rounds[i];
    if (!round) {
        snprintf(reason, cap,
                 _("round %s does not cover ward %s (not in the reference "
                   "data from the hub; if it is new, let the agent reach the "
                   "hub and import again)"),
                 survey, ward);
        return REFERENCE_SURVEY;
    }
    if (round->state != WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_OPEN) {
        snprintf(reason, cap,
                 round->state ==
                         WARDSYNC__V1__REFERENCE_ROUND__STATE__STATE_DRAFT
                     ? _("round %s is not open yet")
                     : _("round %s is closed"),
                 survey);
        return REFERENCE_SURVEY;
    }
    const Wardsync__V1__ReferenceSubject *s = NULL;
    for (size_t i = 0; i < ref->n_subjects && !s; i++)
        if (strcmp(ref->subjects[i]->round, survey) == 0 &&
            strcmp(ref->subjects[i]->subject, subject) == 0)
            s = ref->subjects[i];
    if (!s) {
        snprintf(reason, cap, _("%s is not a subject of ward %s in round %s"),
                 subject, ward, survey);
        return REFERENCE_SUBJECT;
    }
    if (strcmp(s->form, form) != 0) {
        snprintf(reason, cap, _("subject %s is rated on form %s, not %s"),
                 subject, s->form, form);
        return REFERENCE_FORM;
    }
    if (have_day) {
        char text[11];
        ws_date_format(day, text);
        if (strcmp(text, round->opens_on) < 0 ||
            strcmp(text, round->closes_on) > 0) {
            snprintf(reason, cap, _("%s is outside round %s (%s to %s)"), text,
                     survey, round->opens_on, round->closes_on);
            return REFERENCE_COLLECTED_ON;
        }
    }
    return REFERENCE_OK;
}
