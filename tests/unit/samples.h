/*
 * samples.h - valid events of every kind, built on the stack, for the codec
 * and validation tests. A test starts from a valid sample and breaks one
 * thing, so each failure it sees has exactly one cause.
 */
#ifndef WARDSYNC_TEST_SAMPLES_H
#define WARDSYNC_TEST_SAMPLES_H

#include <string.h>

#include "wardsync/codec.h"
#include "wardsync/validate.h"

#define SAMPLE_MAX_LEVELS 64

struct sample {
    Wardsync__V1__Event event;
    Wardsync__V1__Ballot ballot;
    Wardsync__V1__PetitionEvent petition;
    Wardsync__V1__ReceptionSession reception;
    Wardsync__V1__RemediationUpdate remediation;
    Wardsync__V1__Inspection inspection;
    Wardsync__V1__Rotation rotation;
    uint32_t levels[SAMPLE_MAX_LEVELS];
    char note[WS_NOTE_MAX + 16];
};

static inline void sample_envelope(struct sample *s, uint64_t seq)
{
    wardsync__v1__event__init(&s->event);
    s->event.seq = seq;
    s->event.event_id = "0b6f3c1e-8a2d-4c55-9e1f-2a7d9c3b4e51";
    s->event.occurred_at_ms = 1691366400000; /* 2023-08-07 */
    s->event.queued_at_ms = 1691366400000;
}

/* A leadership ballot (41 items) answering level 1 + i % 3 on item i+1. */
static inline void sample_ballot(struct sample *s, uint64_t seq)
{
    sample_envelope(s, seq);
    wardsync__v1__ballot__init(&s->ballot);
    s->ballot.survey = "2023-R1";
    s->ballot.form = "leadership";
    s->ballot.subject = "LB01-S017";
    s->ballot.respondent_group = 2;
    for (size_t i = 0; i < 41; i++)
        s->levels[i] = 1 + (uint32_t)(i % 3);
    s->ballot.n_levels = 41;
    s->ballot.levels = s->levels;
    s->event.body_case = WARDSYNC__V1__EVENT__BODY_BALLOT;
    s->event.ballot = &s->ballot;
}

static inline void sample_petition(struct sample *s, uint64_t seq)
{
    sample_envelope(s, seq);
    wardsync__v1__petition_event__init(&s->petition);
    s->petition.petition = "LB01/2023/0042";
    s->petition.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    s->petition.channel =
        WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON;
    s->petition.status =
        WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED;
    s->petition.in_jurisdiction = 1;
    s->petition.received_on = "2023-08-01";
    s->petition.due_on = "2023-08-31";
    strcpy(s->note, "Khiếu nại về thủ tục cấp giấy chứng nhận, \"gấp\"");
    s->petition.note = s->note;
    s->event.body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    s->event.petition = &s->petition;
}

static inline void sample_reception(struct sample *s, uint64_t seq)
{
    sample_envelope(s, seq);
    wardsync__v1__reception_session__init(&s->reception);
    s->reception.session = "LB01-TCD-2023-031";
    s->reception.held_on = "2023-08-03";
    s->reception.host_role = WARDSYNC__V1__HOST_ROLE__HOST_ROLE_CHAIR;
    s->reception.mode = WARDSYNC__V1__RECEPTION_MODE__RECEPTION_MODE_REGULAR;
    s->reception.citizens = 4;
    s->reception.petitions = 2;
    s->event.body_case = WARDSYNC__V1__EVENT__BODY_RECEPTION;
    s->event.reception = &s->reception;
}

static inline void sample_remediation(struct sample *s, uint64_t seq)
{
    sample_envelope(s, seq);
    wardsync__v1__remediation_update__init(&s->remediation);
    s->remediation.survey = "2023-R1";
    s->remediation.subject = "LB01-S017";
    s->remediation.status =
        WARDSYNC__V1__REMEDIATION_STATUS__REMEDIATION_STATUS_SUBMITTED;
    s->remediation.due_on = "2023-10-31";
    s->event.body_case = WARDSYNC__V1__EVENT__BODY_REMEDIATION;
    s->event.remediation = &s->remediation;
}

/* An unannounced public-service inspection of a ward's people's
 * committee, no violation found. */
static inline void sample_inspection(struct sample *s, uint64_t seq)
{
    sample_envelope(s, seq);
    wardsync__v1__inspection__init(&s->inspection);
    s->inspection.inspection = "KTCV-2023-DX-01";
    s->inspection.body = "KTCV-2";
    s->inspection.unit = "LB01-UBND";
    s->inspection.held_on = "2023-08-07";
    s->inspection.kind =
        WARDSYNC__V1__INSPECTION_KIND__INSPECTION_KIND_UNANNOUNCED;
    s->inspection.subjects = 12;
    s->inspection.violations = 0;
    s->inspection.note = "kiểm tra đột xuất";
    s->event.body_case = WARDSYNC__V1__EVENT__BODY_INSPECTION;
    s->event.inspection = &s->inspection;
}

/* A ward chair rotated after 9 years in the post. */
static inline void sample_rotation(struct sample *s, uint64_t seq)
{
    sample_envelope(s, seq);
    wardsync__v1__rotation__init(&s->rotation);
    s->rotation.cadre = "LB-C0042";
    s->rotation.post = "chair";
    s->rotation.unit = "LB01";
    s->rotation.years_in_post = 9;
    s->rotation.effective_on = "2023-08-07";
    s->rotation.kind = WARDSYNC__V1__ROTATION_KIND__ROTATION_KIND_ROTATED;
    s->event.body_case = WARDSYNC__V1__EVENT__BODY_ROTATION;
    s->event.rotation = &s->rotation;
}

#endif
