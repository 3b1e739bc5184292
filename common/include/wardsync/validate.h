/*
 * validate.h - the shared validation of every event type.
 *
 * The same function runs in the ward agent (before an event is queued) and in
 * the hub (before it is stored), so both sides agree on what is valid.
 * Checks that need the hub's database (survey round open, subject known)
 * are not made here.
 *
 * Reasons are written as "field: what is wrong", lower case, no final
 * period, e.g. "levels: item 7 has level 4, want 1..3".
 */
#ifndef WARDSYNC_VALIDATE_H
#define WARDSYNC_VALIDATE_H

#include <stddef.h>

#include "wardsync/catalogue.h"
#include "wardsync/codec.h"

/* Longest free-text field (note) in bytes, and longest code/id field. */
#define WS_NOTE_MAX 2000
#define WS_FIELD_MAX 64
/* Upper bound of citizens / petitions counted in one reception session. */
#define WS_COUNT_MAX 10000

/* Validates an event's envelope (event_id a UUID, seq >= 1, times >= 0,
 * body set) and its body with the rules of its type. Returns 0 when valid,
 * -EINVAL with the reason in reason (reasonlen bytes) when not. */
int ws_validate_event(const Wardsync__V1__Event *event,
                      const struct ws_catalogue *cat, char *reason,
                      size_t reasonlen);

/* The body rules alone, one per event type, same contract. */
int ws_validate_ballot(const Wardsync__V1__Ballot *ballot,
                       const struct ws_catalogue *cat, char *reason,
                       size_t reasonlen);
int ws_validate_petition(const Wardsync__V1__PetitionEvent *petition,
                         char *reason, size_t reasonlen);
int ws_validate_reception(const Wardsync__V1__ReceptionSession *session,
                          char *reason, size_t reasonlen);
int ws_validate_remediation(const Wardsync__V1__RemediationUpdate *update,
                            char *reason, size_t reasonlen);

/* A code or id field: 1..WS_FIELD_MAX bytes of [A-Za-z0-9._/-]. */
int ws_validate_code(const char *field, const char *value, char *reason,
                     size_t reasonlen);

#endif
