/*
 * ingest.h - batch admission, group commit and acknowledgements on the
 * ingest ROUTER (docs/DESIGN.md §3, §4). server.c owns the socket and the
 * loop; this module owns what a batch becomes.
 */
#ifndef DISTRICT_HUB_INGEST_H
#define DISTRICT_HUB_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "settings.h"
#include "wardsync/catalogue.h"
#include "zap.h"

struct ingest;

/* Creates the ingest state for socket (a bound ROUTER; borrowed, like
 * settings, cat and zap, until ingest_close) and opens the writer's
 * database session. zap NULL with insecure true: no CURVE, and the ward
 * is taken from Batch.ward (local experiments only). Returns 0 and *out,
 * -EIO when the database cannot be reached (logged) or -ENOMEM. */
int ingest_open(const struct hub_settings *settings,
                const struct ws_catalogue *cat, void *socket, struct zap *zap,
                bool insecure, struct ingest **out);

/* Frees the state; batches still waiting are not acknowledged (their
 * agents resend). NULL-safe; clears *in. */
void ingest_close(struct ingest **in);

/* Whether the writer's session is up; when it is down, tries again once
 * its back-off has passed. */
bool ingest_database_up(struct ingest *in);

/* Milliseconds until the next reconnect attempt (0 when up). */
int64_t ingest_database_retry_ms(const struct ingest *in);

/* Whether batches wait with events not yet written: the caller steps
 * again without waiting for the socket. */
bool ingest_pending(const struct ingest *in);

/* Reads what waits on the socket, checks each batch's sender (its
 * connection's key must still be active; a key that cannot be checked
 * because the database is unreachable is answered "database unavailable"
 * with retry_after_ms, never "key revoked"), writes one group in one
 * transaction, and only then acknowledges every batch it finished. */
void ingest_step(struct ingest *in);

#endif
