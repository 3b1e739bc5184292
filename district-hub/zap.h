/*
 * zap.h - who may speak to the hub (docs/DESIGN.md §4): CURVE on every
 * endpoint, a ZAP handler that maps enrolled public keys to principals,
 * and a monitor per endpoint that logs the handshakes it refuses.
 *
 * The ZAP handler sets, on every connection it accepts, the ZeroMQ User-Id
 * to the principal the key is enrolled for ("ward:LB03", principal.h) and
 * the property ZAP_PROPERTY_KEY to the key itself (Z85). The hub trusts
 * zmq_msg_gets(msg, "User-Id") and zmq_msg_gets(msg, ZAP_PROPERTY_KEY),
 * never what a message says: ZAP properties take precedence over any a
 * peer announces in its handshake.
 *
 * A connection is bound to its key, not only to its principal: the handler
 * reads principal_keys (db/keys.c) on every handshake, so enroll and
 * revoke take effect for the next connection without a restart, and
 * zap_key_active lets a serving loop stop accepting work from a connection
 * whose key has been revoked since it connected, even while the ward's
 * other keys stay active.
 */
#ifndef DISTRICT_HUB_ZAP_H
#define DISTRICT_HUB_ZAP_H

#include <stddef.h>

#include "settings.h"
#include "wardsync/keys.h"

/* The ZAP domain every hub CURVE socket uses. */
#define ZAP_DOMAIN "wardsync"

/* The connection property holding the client's public key (Z85). libzmq
 * lets application properties start with "X-". */
#define ZAP_PROPERTY_KEY "X-Public-Key"

struct zap;

/* Binds the ZAP handler to inproc://zeromq.zap.01 in ctx and starts its
 * thread with one connection to conninfo (through a db_link: reconnected
 * with back-off; checked now: the keys table must be readable). Call
 * before creating any CURVE socket in ctx: libzmq lets a CURVE server
 * accept everyone when no handler is bound, which is why the hub refuses
 * to start when this fails. While the database is unreachable every
 * handshake is refused (status 500): fail closed, never open. Returns 0
 * and *out, or a negative errno with the reason in err. */
int zap_start(void *ctx, const char *conninfo, struct zap **out, char *err,
              size_t errlen);

/* Stops the thread and closes its socket and connection; call after every
 * CURVE socket of ctx is closed, before zmq_ctx_term. NULL-safe; clears
 * *zap. */
void zap_stop(struct zap **zap);

/* Whether key_z85 (the connection's ZAP_PROPERTY_KEY) is still an active
 * key of principal (its User-Id), asked on the handler's connection:
 * returns 1 when active, 0 when revoked, or a negative errno when the
 * database could not be asked (-ENOTCONN while it is unreachable, -EIO
 * when the query failed; logged, rate-limited): the caller then answers
 * "database unavailable", never "revoked". Thread-safe. */
int zap_key_active(struct zap *zap, const char *principal, const char *key_z85);

/* Makes socket (not yet bound) a CURVE server with the hub's key pair and
 * the wardsync ZAP domain. Every hub endpoint calls this before zmq_bind:
 *
 *     if (zap_server_socket_setup(socket, &hub_keys, err, sizeof err) < 0)
 *         fail ...;
 *     zmq_bind(socket, endpoint);
 *
 * Returns 0, or -EINVAL with the reason in err. */
int zap_server_socket_setup(void *socket, const struct ws_keypair *keys,
                            char *err, size_t errlen);

/* Reads the hub's secret key file (settings->secret_key) for a secure
 * start. Returns 0 or a negative errno (reason logged). */
int zap_load_hub_keys(const struct hub_settings *settings,
                      struct ws_keypair *out);

/* Handshake failures never reach the application (no CURVE, wrong server
 * key, refused key): a monitor logs each, naming the endpoint (name:
 * "ingest", "pull"), rate-limited per kind of failure. It also keeps the
 * number of authenticated connections open on the socket for the metrics
 * (metrics_connections(name, n), metrics.h): handshakes that succeeded
 * less the sessions that ended after one. */
struct zap_monitor;

/* Starts monitoring socket's handshake failures on a thread of its own,
 * so that whichever thread serves socket need not poll for them. Call
 * from the thread that owns socket. Returns 0 and *out, or -EIO
 * (logged). */
int zap_monitor_start(void *ctx, void *socket, const char *name,
                      struct zap_monitor **out);

/* Stops the monitor's thread and closes its socket; call before closing
 * the monitored socket. NULL-safe; clears *monitor. */
void zap_monitor_stop(struct zap_monitor **monitor);

#endif
