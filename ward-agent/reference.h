/*
 * reference.h - the reference data the hub sent (docs/DESIGN.md §4,
 * "Reference data, hub -> agent") as the agent keeps and uses it: rounds
 * covering this ward with their dates and state, this ward's subjects with
 * the form each is rated on, the catalogue's version and the petition
 * deadline rules.
 *
 * The sync loop stores what the hub answers (reference_keep); imports
 * check every ballot against the stored data (reference_check_ballot),
 * offline too. The hub stays the authority: it checks everything again,
 * and data the agent has not heard of yet (a round opened since) is
 * refused here until the next contact brings it. Without any reference
 * data an import is checked with the shared rules only, and says so.
 */
#ifndef WARD_AGENT_REFERENCE_H
#define WARD_AGENT_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"
#include "wardsync/v1/transport.pb-c.h"

/* The stored reference data: ref is NULL when none was ever received. */
struct reference {
    Wardsync__V1__Reference *ref;
    struct outbox_reference_info info;
};

/* Reads the stored reference data of outbox into out (ref NULL when none
 * is stored). Returns 0, or a negative errno (-EBADMSG: what is stored
 * cannot be read; logged). Free with reference_clear. */
int reference_load(struct outbox *outbox, struct reference *out);
void reference_clear(struct reference *reference);

/* Keeps the hub's answer ref, received at now_ms: an "unchanged" answer
 * for the version held only moves its checked time; any other replaces
 * what is held. ref is the caller's. Returns 0, or a negative errno
 * (-EINVAL: ref is for another ward than ward, or an unchanged answer for
 * a version not held; nothing is kept). */
int reference_keep(struct outbox *outbox, const char *ward,
                   const Wardsync__V1__Reference *ref, int64_t now_ms);

/* The column of a ballot a reference check found wrong. */
enum reference_column {
    REFERENCE_OK = 0,
    REFERENCE_SURVEY,
    REFERENCE_SUBJECT,
    REFERENCE_FORM,
    REFERENCE_COLLECTED_ON,
};

/* Checks a ballot of ward for round survey, subject, rated on form and
 * collected on day (days since 1970-01-01; have_day false when the date
 * did not parse, and then it is not checked) against ref: the round must
 * cover the ward and be open, the day within its dates, the subject one
 * of the ward's in that round, the form the one that subject is rated
 * on. Returns REFERENCE_OK, or the first column found wrong with the
 * reason (translated, i18n.h) in reason (cap bytes). Pure. */
enum reference_column
reference_check_ballot(const Wardsync__V1__Reference *ref, const char *ward,
                       const char *survey, const char *subject,
                       const char *form, int32_t day, bool have_day,
                       char *reason, size_t cap);

#endif
