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
/* Upper bound of citizens / petitions counted in one reception session, and
 * of an inspection's subjects / violations
 * (the CHECK of reception_sessions, integer columns). */
#define WS_COUNT_MAX 10000
/* Upper bound of Rotation.years_in_post (the CHECK of rotations). */
#define WS_YEARS_MAX 100
/* Latest occurred_at_ms / queued_at_ms: 9999-12-31T23:59:59.999Z. The
 * earliest is 0 (1970-01-01): an agent's clock never runs before the
 * epoch, and PostgreSQL's timestamptz and the hub's UTC dates hold every
 * value in between, written with a four-digit year. A later value (2^62
 * ms is 146 million years) would be refused by PostgreSQL in the middle
 * of a group commit instead of rejected here with its event alone. */
#define WS_TIME_MAX_MS 253402300799999LL
/* Respondent groups and levels the ballots table accepts (its CHECKs:
 * respondent_group 1..4, levels within {1, 2, 3}), whatever a catalogue
 * says. */
#define WS_RESPONDENT_GROUP_MAX 4u
#define WS_LEVEL_MAX 3u
/* Most event_ids one Withdrawal names: each costs 38 bytes on the wire,
 * so a full Withdrawal is about 38 kB, far below any frame limit
 * (WS_MAX_FRAME_DEFAULT) and one statement's worth for the hub. A larger
 * import is taken back by several Withdrawals. */
#define WS_WITHDRAWAL_MAX_IDS 1000u

/* Validates an event's envelope (event_id a UUID, seq 1..INT64_MAX, times
 * 0..WS_TIME_MAX_MS, body set) and its body with the rules of its type.
 * Everything the hub's tables would refuse (column types, CHECKs, lengths)
 * is refused here first, so that PostgreSQL never refuses an event that
 * passed. Returns 0 when valid, -EINVAL with the reason in reason
 * (reasonlen bytes) when not. A reason is "FIELD: message": FIELD is the
 * field's wire name ("levels[N]" for item N of a ballot), never
 * translated; the message is in the language ws_i18n_init chose (English
 * in a program that never calls it, such as the hub). */
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
int ws_validate_inspection(const Wardsync__V1__Inspection *inspection,
                           char *reason, size_t reasonlen);
int ws_validate_rotation(const Wardsync__V1__Rotation *rotation, char *reason,
                         size_t reasonlen);
/* A Withdrawal: 1..WS_WITHDRAWAL_MAX_IDS event_ids, each a UUID and none
 * named twice (compared as text, ignoring case); reason at most
 * WS_NOTE_MAX bytes of UTF-8, possibly empty. Whether the events exist
 * and belong to the sender is the hub's to check. */
int ws_validate_withdrawal(const Wardsync__V1__Withdrawal *withdrawal,
                           char *reason, size_t reasonlen);

/* A code or id field: 1..WS_FIELD_MAX bytes of [A-Za-z0-9._/-]. */
int ws_validate_code(const char *field, const char *value, char *reason,
                     size_t reasonlen);

#endif
