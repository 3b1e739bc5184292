/*
 * db/reference.h - the reference data of one ward (docs/DESIGN.md §4,
 * "Reference data, hub -> agent"), read for the ingest endpoint's answer
 * to a ReferenceRequest: the rounds that cover the ward (dates, state),
 * the ward's subjects in them with the form each is rated on, the
 * catalogue's version and the petition deadline rules.
 *
 * Rows come in a fixed order (rounds by code, subjects by round and
 * subject, rules by kind and date, all compared bytewise), so the same
 * content always makes the same version (core/reference.h).
 */
#ifndef DISTRICT_HUB_DB_REFERENCE_H
#define DISTRICT_HUB_DB_REFERENCE_H

#include <stddef.h>

#include "wardsync/v1/transport.pb-c.h"

struct db;

/* Reads ward's reference data into a new message in *out, version set
 * (core/reference.h); the caller frees it with
 * wardsync__v1__reference__free_unpacked(*out, NULL). A ward no round
 * covers has no rounds and no subjects. Returns 0, -ENOMEM, or -EIO with
 * the reason in err. */
int db_reference_load(struct db *db, const char *ward,
                      Wardsync__V1__Reference **out, char *err, size_t errlen);

#endif
