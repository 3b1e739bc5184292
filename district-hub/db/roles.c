/*
 * db/roles.c - role passwords (contract in db/roles.h).
 */
#include "db/roles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wardsync/log.h"

#define MODULE "roles"

static const struct db_statement ROLE_SETTINGS = {
    "roles_settings", 2,
    "SELECT set_config('wardsync.role_name', $1, false),"
    " set_config('wardsync.role_verifier', $2, false)"};

/* ALTER ROLE cannot take parameters: the password is hashed on the client
 * (SCRAM, so the server never sees it), the role and verifier travel as
 * bound parameters into two session settings, and a constant DO block
 * quotes them with format(%I, %L); no SQL text is built in C. */
static const char SET_PASSWORD_SQL[] =
    "DO $$BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L',"
    " current_setting('wardsync.role_name'),"
    " current_setting('wardsync.role_verifier')); END$$";

int db_roles_set_password(struct db *db, const char *conninfo, const char *role,
                          const char *password, char *err, size_t errlen)
{
    if (db_login_works(conninfo, role, password)) {
        ws_debug(MODULE, "password of %s already current", role);
        return 0;
    }
    char verifier[512];
    int rc = db_password_verifier(db, role, password, verifier, sizeof verifier,
                                  err, errlen);
    if (rc < 0)
        return -EIO;
    const char *values[] = {role, verifier};
    rc = db_run(db, &ROLE_SETTINGS, values, err, errlen);
    memset(verifier, 0, sizeof verifier);
    if (rc == 0)
        rc = db_command(db, SET_PASSWORD_SQL, err, errlen);
    char ignored[256];
    db_command(db, "RESET wardsync.role_verifier", ignored, sizeof ignored);
    if (rc < 0) {
        /* "tuple concurrently updated": another migrate set it too. */
        ws_warn(MODULE, "could not set the password of %s: %s", role, err);
        if (db_login_works(conninfo, role, password))
            return 0;
        return -EIO;
    }
    return 0;
}
