/*
 * core/reference.h - the version of a ward's reference data (docs/DESIGN.md
 * §4, "Reference data, hub -> agent").
 *
 * The version is the SHA-256, in hex, of a canonical encoding of the
 * content of a wardsync.v1.Reference: the ward, every round, subject and
 * deadline rule in the order given, and the catalogue version, each string
 * prefixed with its length so that no two contents encode alike. The
 * fields version and unchanged are not part of it. The same content
 * always has the same version; db/reference.c reads the rows in a fixed
 * order, so an unchanged reference is answered "unchanged" without
 * sending it again.
 *
 * Pure functions: no database, no sockets.
 */
#ifndef DISTRICT_HUB_CORE_REFERENCE_H
#define DISTRICT_HUB_CORE_REFERENCE_H

#include "wardsync/v1/transport.pb-c.h"

/* Hex digits of a version, without the terminating NUL. */
#define REFERENCE_VERSION_LEN 64

/* Writes the version of ref's content into out (REFERENCE_VERSION_LEN + 1
 * bytes, NUL-terminated). ref is only read. */
void reference_version(const Wardsync__V1__Reference *ref,
                       char out[REFERENCE_VERSION_LEN + 1]);

#endif
