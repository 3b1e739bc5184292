/*
 * db/keys.h - the SQL of principals and their keys (principal_keys,
 * sql/002_security.sql): the lookup of every handshake, the per-batch
 * check that a connection's key is still active, enroll and revoke.
 *
 * Keys are CURVE public keys in Z85 (40 characters). A key belongs to one
 * principal ("ward:LB03", "city:HN"); a principal may hold several keys
 * (a spare laptop), each revoked on its own. Errors: 0 or a negative errno
 * with the reason in err; -EIO is the database's, with db_ok() telling
 * whether the session survived.
 */
#ifndef DISTRICT_HUB_DB_KEYS_H
#define DISTRICT_HUB_DB_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "db/conn.h"
#include "core/principal.h"

/* The principal key_z85 is enrolled for, into principal (cap bytes; ""
 * when the key is unknown), and whether it was revoked. Returns 0 or
 * -EIO. */
int db_keys_lookup(struct db *db, const char *key_z85, char *principal,
                   size_t cap, bool *revoked, char *err, size_t errlen);

/* Whether key_z85 is still an unrevoked key of principal: 1 when it is, 0
 * when it was revoked (or moved to another principal), or -EIO when the
 * database could not say. */
int db_keys_active(struct db *db, const char *principal, const char *key_z85,
                   char *err, size_t errlen);

/* Enrolls key_z85 for principal (kind, code). A ward must be an org unit
 * of kind ward or district; a key moves to another principal only once
 * revoked there. Returns 0, -ENOENT (unknown ward), -EEXIST (the key is
 * another principal's), or -EIO. */
int db_keys_enroll(struct db *db, enum principal_kind kind, const char *code,
                   const char *key_z85, char *err, size_t errlen);

/* Called for each key db_keys_revoke revoked. */
typedef void db_keys_revoked_fn(const char *principal, const char *key_z85,
                                void *arg);

/* Revokes every active key of principal (not NULL), or the key key_z85
 * (not NULL), or that key when it is principal's (both). Calls revoked
 * for each (may be NULL). Returns how many were revoked (0: none was
 * active), or -EIO. */
int db_keys_revoke(struct db *db, const char *principal, const char *key_z85,
                   db_keys_revoked_fn *revoked, void *arg, char *err,
                   size_t errlen);

#endif
