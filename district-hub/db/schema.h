/*
 * db/schema.h - the queries of "district-hub migrate": the advisory lock
 * that serialises migrating hubs, the record of applied migrations with
 * their checksums, applying one migration file, and the seed data (org
 * units, the catalogue). On top of db/conn.h; migrate.c reads the files
 * and decides, this module only talks to the database.
 *
 * Errors: 0 or a negative errno with the reason in err, as db/conn.h.
 */
#ifndef DISTRICT_HUB_DB_SCHEMA_H
#define DISTRICT_HUB_DB_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "db/conn.h"
#include "wardsync/catalogue.h"

/* SHA-256 of a migration file, as lower-case hex. */
#define SCHEMA_SHA256_HEX 65

/* Takes the session-level advisory lock every migrating hub takes
 * (blocking until a concurrent migrate is done), then creates
 * schema_migrations (version, name, sha256, applied_at) if it is missing.
 * Release with schema_unlock, or by closing the session. */
int schema_lock(struct db *db, char *err, size_t errlen);

/* Releases the lock of schema_lock. */
int schema_unlock(struct db *db, char *err, size_t errlen);

/* One row of schema_migrations. */
struct schema_applied {
    int version;
    char name[128];
    char sha256[SCHEMA_SHA256_HEX];
};

/* What schema_migrations holds. exists: the table is there (false on a
 * fresh database); checksummed: it has the sha256 column (false on a
 * database migrated before the baseline: then items is empty). */
struct schema_applied_list {
    bool exists;
    bool checksummed;
    size_t n;
    struct schema_applied *items; /* malloc'd, by version */
};

/* Reads schema_migrations into *out, which the caller releases with
 * schema_applied_list_clear (also after a failure). Needs only SELECT on
 * the table: the hub's own role may call it. */
int schema_applied_read(struct db *db, struct schema_applied_list *out,
                        char *err, size_t errlen);

void schema_applied_list_clear(struct schema_applied_list *list);

/* Runs sql (a trusted migration file, possibly many statements, without
 * BEGIN or COMMIT) and records (version, name, sha256) in
 * schema_migrations, in one transaction: either both or neither. */
int schema_apply(struct db *db, int version, const char *name,
                 const char *sha256, const char *sql, char *err, size_t errlen);

struct schema_org_unit {
    const char *code;
    const char *name;
    const char *kind;   /* city, district or ward */
    const char *parent; /* NULL or "" for the city */
};

/* Inserts or updates the units, in one transaction (the parent constraint
 * is checked at COMMIT, so order does not matter). Never deletes. */
int schema_org_units_upsert(struct db *db, const struct schema_org_unit *units,
                            size_t n, char *err, size_t errlen);

/* Inserts or updates every form, item, group, manifestation, level and
 * respondent group of cat, in one transaction. Never deletes: stored
 * ballots may name a form a newer catalogue dropped. */
int schema_catalogue_upsert(struct db *db, const struct ws_catalogue *cat,
                            char *err, size_t errlen);

#endif
