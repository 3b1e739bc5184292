/*
 * ingest.h - "district-hub run": the ingest endpoint (DESIGN §3, §4).
 */
#ifndef DISTRICT_HUB_INGEST_H
#define DISTRICT_HUB_INGEST_H

#include <stdbool.h>

#include "settings.h"

/* Migrates the database, binds a ROUTER to endpoint (NULL: the configured
 * one) and serves batches until SIGINT or SIGTERM: decode, check the ward,
 * commit through the store, and only then acknowledge. While the database
 * is unreachable nothing is acknowledged and the hub reconnects with
 * backoff. insecure must be true until CURVE authentication exists; the
 * ward is then taken from Batch.ward. Returns a hub_exit code. */
int ingest_run(const struct hub_settings *settings, const char *endpoint,
               bool insecure);

#endif
