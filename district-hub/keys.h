/*
 * keys.h - the key commands of the command line: "district-hub keygen",
 * "enroll" and "revoke" (docs/contracts.md). Enroll and revoke take effect
 * for the running hub without a restart: the ZAP handler asks the
 * database on every handshake, and the ingest loop asks before every
 * batch whether the connection's key is still active (zap.h).
 */
#ifndef DISTRICT_HUB_KEYS_H
#define DISTRICT_HUB_KEYS_H

#include <stdbool.h>

#include "core/principal.h"
#include "settings.h"

/* "district-hub keygen PATH": writes PATH and PATH_secret; an existing
 * pair is kept unless force. Returns 0, -EEXIST (the pair exists and not
 * force) or -EIO; the reason is logged. */
int keys_keygen_run(const char *path, bool force);

/* "district-hub enroll": registers the public key of key_file for the
 * principal (kind, code); code is checked by the caller (a valid code of at
 * most 64 characters). Runs as the owner. Returns 0, -EINVAL (unreadable
 * key file, unknown ward, key active for another principal) or -EIO; the
 * reason is logged. */
int keys_enroll_run(const struct hub_settings *settings,
                    enum principal_kind kind, const char *code,
                    const char *key_file);

/* "district-hub revoke": revokes every key of the principal (code not
 * NULL), the key of key_file (not NULL), or that key of that principal
 * (both); code, when given, is checked by the caller. Returns 0, -EINVAL
 * (unreadable key file, no active key matches) or -EIO; the reason is
 * logged. */
int keys_revoke_run(const struct hub_settings *settings,
                    enum principal_kind kind, const char *code,
                    const char *key_file);

#endif
