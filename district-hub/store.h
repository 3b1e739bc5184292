/*
 * store.h - the hub's PostgreSQL store: the only module that speaks libpq.
 *
 * Every statement is either a constant (BEGIN, COMMIT, SAVEPOINT, the COPY
 * of the ingest stage, the trusted migration files of district-hub/sql/)
 * or a prepared statement with parameters; no SQL text is ever built from
 * input (the COPY data is escaped, parameters are bound). Statements are
 * prepared on first use, once per connection.
 *
 * Errors: functions return 0 or a negative errno, with the reason in the
 * caller's err buffer. -EIO means the connection is unusable (lost, or a
 * transaction failed outside a savepoint): the caller closes the store and
 * reconnects; nothing of an uncommitted batch has been acknowledged.
 */
#ifndef DISTRICT_HUB_STORE_H
#define DISTRICT_HUB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wardsync/catalogue.h"
#include "wardsync/codec.h"

struct store;

/* Connects with a libpq conninfo string. Returns 0 and a new store in *out,
 * or -EIO with libpq's reason in err (the failed connection is finished). */
int store_open(const char *conninfo, struct store **out, char *err,
               size_t errlen);

/* Closes the connection and frees the store; sets *st to NULL; NULL-safe. */
void store_close(struct store **st);

/* ---- migrations (migrate.c) ---- */

/* Takes the session-level advisory lock that serialises migrations across
 * hubs (blocking), then creates schema_migrations if it is missing. */
int store_migrate_lock(struct store *st, char *err, size_t errlen);

/* Releases the advisory lock taken by store_migrate_lock. */
int store_migrate_unlock(struct store *st, char *err, size_t errlen);

/* Sets *applied when schema_migrations already holds version. */
int store_migration_applied(struct store *st, int version, bool *applied,
                            char *err, size_t errlen);

/* Runs sql (a trusted migration file, possibly many statements) and records
 * (version, name) in schema_migrations, in one transaction. */
int store_migration_apply(struct store *st, int version, const char *name,
                          const char *sql, char *err, size_t errlen);

struct store_org_unit {
    const char *code;
    const char *name;
    const char *kind;   /* city, district or ward */
    const char *parent; /* NULL or "" for the city */
};

/* Inserts or updates the units, in one transaction (the parent constraint
 * is checked at COMMIT, so order does not matter). */
int store_org_units_upsert(struct store *st, const struct store_org_unit *units,
                           size_t n, char *err, size_t errlen);

/* Inserts or updates every form, item, group, manifestation, level and
 * respondent group of cat, in one transaction. Never deletes. */
int store_catalogue_upsert(struct store *st, const struct ws_catalogue *cat,
                           char *err, size_t errlen);

#endif
