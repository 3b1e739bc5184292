/*
 * server.h - "district-hub run": the hub daemon (docs/DESIGN.md §2, §4).
 */
#ifndef DISTRICT_HUB_SERVER_H
#define DISTRICT_HUB_SERVER_H

#include <stdbool.h>

#include "settings.h"

/* Migrates the database, starts the ZAP handler (zap.h) before any CURVE
 * socket, binds the ingest ROUTER to endpoint (NULL: the configured one)
 * with a handshake monitor, starts the pull endpoint on its own thread
 * (pull.h) and the metrics endpoint on libmicrohttpd's (metrics.h), and
 * steps the ingest (ingest.h) until SIGINT or SIGTERM, logging a summary
 * at info every hub.summary_interval_s (per-batch lines are debug).
 * While the database is unreachable it stops reading the ingest socket and
 * reconnects with back-off. insecure (no CURVE, no ZAP handler) is for
 * local experiments and logs a warning. Returns 0 after a clean stop,
 * -EINVAL (bad catalogue, migrations that do not match the database),
 * -EDOM (hub.secret_key missing or unreadable, an endpoint ZeroMQ cannot
 * bind, a metrics endpoint that is not HOST:PORT) or -EIO (the metrics
 * endpoint among others: its port taken); the reason is logged. */
int server_run(const struct hub_settings *settings, const char *endpoint,
               bool insecure);

#endif
