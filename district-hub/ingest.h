/*
 * ingest.h - "district-hub run": the ingest endpoint (DESIGN §3, §4).
 */
#ifndef DISTRICT_HUB_INGEST_H
#define DISTRICT_HUB_INGEST_H

#include <stdbool.h>

#include "settings.h"

/* Migrates the database, starts the ZAP handler (zap.h), binds a ROUTER
 * to endpoint (NULL: the configured one) and serves batches until SIGINT
 * or SIGTERM: decode, check the sender (its connection's key must still be
 * active), commit through the store, and only then acknowledge. A batch
 * whose key cannot be checked because the database is unreachable is
 * answered "database unavailable" with retry_after_ms, never "key
 * revoked"; a batch that cannot be committed is not acknowledged (the
 * agent resends), and the hub reconnects with back-off. insecure (no
 * CURVE, no ZAP handler) is for local experiments: the ward is then taken
 * from Batch.ward. Returns a hub_exit code. */
int ingest_run(const struct hub_settings *settings, const char *endpoint,
               bool insecure);

#endif
