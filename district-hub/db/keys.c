/*
 * db/keys.c - the SQL of principals and their keys (contract in
 * db/keys.h).
 */
#include "db/keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wardsync/util.h"

static const struct db_statement KEY_LOOKUP = {
    "keys_lookup", 1,
    "SELECT principal, revoked_at IS NOT NULL FROM principal_keys"
    " WHERE public_key = $1"};

/* The key and its principal both: the principal is what the connection's
 * User-Id says, so a key re-enrolled elsewhere does not carry an old
 * connection along. */
static const struct db_statement KEY_ACTIVE = {
    "keys_active", 2,
    "SELECT 1 FROM principal_keys WHERE public_key = $1"
    " AND principal = $2 AND revoked_at IS NULL"};

static const struct db_statement WARD_EXISTS = {
    "keys_ward_exists", 1,
    "SELECT 1 FROM org_units WHERE code = $1"
    " AND kind IN ('ward', 'district')"};

/* A key moves to another principal only once revoked. */
static const struct db_statement KEY_ENROLL = {
    "keys_enroll", 2,
    "INSERT INTO principal_keys (public_key, principal) VALUES ($1, $2)"
    " ON CONFLICT (public_key) DO UPDATE SET principal = EXCLUDED.principal,"
    " enrolled_at = now(), revoked_at = NULL"
    " WHERE principal_keys.principal = EXCLUDED.principal"
    "    OR principal_keys.revoked_at IS NOT NULL"
    " RETURNING 1"};

static const struct db_statement KEY_REVOKE = {
    "keys_revoke", 2,
    "UPDATE principal_keys SET revoked_at = now()"
    " WHERE revoked_at IS NULL"
    "   AND ($1::text IS NULL OR principal = $1)"
    "   AND ($2::text IS NULL OR public_key = $2)"
    " RETURNING principal, public_key"};

int db_keys_lookup(struct db *db, const char *key_z85, char *principal,
                   size_t cap, bool *revoked, char *err, size_t errlen)
{
    principal[0] = '\0';
    *revoked = false;
    const char *values[] = {key_z85};
    PGresult *res;
    if (db_exec(db, &KEY_LOOKUP, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    if (PQntuples(res) == 1) {
        ws_strlcpy(principal, PQgetvalue(res, 0, 0), cap);
        *revoked = PQgetvalue(res, 0, 1)[0] == 't';
    }
    PQclear(res);
    return 0;
}

int db_keys_active(struct db *db, const char *principal, const char *key_z85,
                   char *err, size_t errlen)
{
    const char *values[] = {key_z85, principal};
    PGresult *res;
    if (db_exec(db, &KEY_ACTIVE, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    int active = PQntuples(res) == 1;
    PQclear(res);
    return active;
}

int db_keys_enroll(struct db *db, enum principal_kind kind, const char *code,
                   const char *key_z85, char *err, size_t errlen)
{
    char principal[PRINCIPAL_TEXT_MAX];
    PGresult *res;
    if (kind == PRINCIPAL_WARD) {
        const char *values[] = {code};
        if (db_exec(db, &WARD_EXISTS, values, NULL, NULL, &res, err, errlen) <
            0)
            return -EIO;
        int known = PQntuples(res) == 1;
        PQclear(res);
        if (!known) {
            snprintf(err, errlen,
                     "unknown ward %s (not a ward or district in org_units)",
                     code);
            return -ENOENT;
        }
    }
    principal_format(kind, code, principal, sizeof principal);
    const char *values[] = {key_z85, principal};
    if (db_exec(db, &KEY_ENROLL, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    int enrolled = PQntuples(res) == 1;
    PQclear(res);
    if (!enrolled) {
        snprintf(err, errlen,
                 "key %s is enrolled for another principal; revoke it there "
                 "first",
                 key_z85);
        return -EEXIST;
    }
    return 0;
}

int db_keys_revoke(struct db *db, const char *principal, const char *key_z85,
                   db_keys_revoked_fn *revoked, void *arg, char *err,
                   size_t errlen)
{
    const char *values[] = {principal, key_z85};
    PGresult *res;
    if (db_exec(db, &KEY_REVOKE, values, NULL, NULL, &res, err, errlen) < 0)
        return -EIO;
    int n = PQntuples(res);
    for (int i = 0; revoked && i < n; i++)
        revoked(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), arg);
    PQclear(res);
    return n;
}
