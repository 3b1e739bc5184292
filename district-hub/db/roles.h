/*
 * db/roles.h - the passwords of the database roles the hub's programs log
 * in as (wardsync_hub for "run", wardsync_city for city pulls), set by
 * "district-hub migrate" as the owner.
 */
#ifndef DISTRICT_HUB_DB_ROLES_H
#define DISTRICT_HUB_DB_ROLES_H

#include <stddef.h>

#include "db/conn.h"

/* Gives role (a constant, e.g. "wardsync_hub") password, on the owner's
 * session db. Nothing is changed when role can already log in with it to
 * the database of conninfo: roles are cluster-wide, and databases of one
 * cluster migrate in parallel. Returns 0 or -EIO with the reason in err. */
int db_roles_set_password(struct db *db, const char *conninfo, const char *role,
                          const char *password, char *err, size_t errlen);

#endif
