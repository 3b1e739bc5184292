/*
 * migrate.h - "district-hub migrate": schema migrations and seed data.
 */
#ifndef DISTRICT_HUB_MIGRATE_H
#define DISTRICT_HUB_MIGRATE_H

#include "settings.h"

/* Applies, in version order, every district-hub/sql/NNN_name.sql migration
 * not yet recorded in schema_migrations, each in its own transaction, then
 * upserts the org units file and the catalogue; all under an advisory lock
 * so that two hubs starting together cannot race. Idempotent. Returns a
 * hub_exit code; the reason is logged. */
int migrate_run(const struct hub_settings *settings);

/* What "district-hub run" does at start: nothing when every migration is
 * applied (the hub's own role, wardsync_hub, may not migrate), else
 * migrate_run, which only the owner can do. Returns a hub_exit code. */
int migrate_ensure(const struct hub_settings *settings);

#endif
