/*
 * migrate.h - "district-hub migrate": schema migrations and seed data.
 */
#ifndef DISTRICT_HUB_MIGRATE_H
#define DISTRICT_HUB_MIGRATE_H

#include "settings.h"

/* Applies, in version order, every NNN_name.sql migration of
 * settings->sql_dir not yet recorded in schema_migrations, each in its own
 * transaction and recorded with the SHA-256 of its file, then upserts the
 * org units file and the catalogue; all under an advisory lock so that two
 * hubs starting together cannot race. Idempotent. Refuses (-EINVAL,
 * nothing applied) a database that records a migration whose file is
 * missing, renamed or has another checksum, or that predates the baseline
 * (schema_migrations without checksums). Returns 0, -EINVAL (bad input:
 * a migration file, the org units file, the catalogue, or the refusals
 * above) or -EIO (database or I/O); the
 * reason is logged. */
int migrate_run(const struct hub_settings *settings);

/* What "district-hub run" does at start: the same refusals as migrate_run;
 * then nothing when every migration is applied (the hub's own role,
 * wardsync_hub, may not migrate), else migrate_run, which only the owner
 * can do. Returns 0, -EINVAL or -EIO, as migrate_run. */
int migrate_ensure(const struct hub_settings *settings);

#endif
