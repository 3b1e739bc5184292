/*
 * pull.h - the hub's pull endpoint (docs/DESIGN.md §4, §8): a ROUTER that
 * answers each PullRequest with one PullPage, on a thread of its own with
 * a database connection of its own, so that a pull never delays an ack.
 */
#ifndef DISTRICT_HUB_PULL_H
#define DISTRICT_HUB_PULL_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"
#include "wardsync/keys.h"

#define PULL_DEFAULT_ENDPOINT "tcp://*:7402"
/* Without CURVE (--insecure) nobody is authenticated: unless configured
 * otherwise, the pull endpoint then listens on loopback only. */
#define PULL_INSECURE_DEFAULT_ENDPOINT "tcp://127.0.0.1:7402"
#define PULL_DEFAULT_PAGE_SIZE 500
#define PULL_MAX_PAGE_SIZE 5000
/* The pull thread looks at its stop flag at least this often. */
#define PULL_POLL_MS 100

struct pull_server;

/* Creates the pull ROUTER on ctx, binds it to hub.pull / WARDSYNC_HUB_PULL
 * (default PULL_DEFAULT_ENDPOINT, or PULL_INSECURE_DEFAULT_ENDPOINT when
 * keys is NULL) and starts the pull thread, which owns the socket from
 * then on: its own poll loop, its own database connection (opened on the
 * first request, reconnected with back-off), and a stop flag it checks at
 * least every PULL_POLL_MS. The setting "none" disables the endpoint: 0
 * and *out NULL. With keys (the hub's key pair, read during the call)
 * the socket is a CURVE server behind the ZAP handler, which the caller
 * has started and stops only after pull_stop, and a request without a
 * User-Id is refused, and a monitor logs every refused handshake as
 * socket=pull (zap.h); keys NULL is --insecure: every request comes from a
 * local operator. settings are borrowed until pull_stop. Logs
 * "pull endpoint=ENDPOINT" once bound. Returns 0, -EDOM (an endpoint
 * ZeroMQ cannot bind) or -EIO; the reason is logged. */
int pull_start(void *ctx, const struct hub_settings *settings,
               const struct ws_keypair *keys, struct pull_server **out);

/* Stops the pull thread (a request being served is finished first), closes
 * its socket (with a short linger) and its database connection; sets *ps
 * to NULL; NULL-safe. Call before zmq_ctx_term and before the ZAP handler
 * stops. */
void pull_stop(struct pull_server **ps);

/* Who may pull what, from the authenticated ZMQ User-Id (NULL or "": no
 * authentication, a local operator in --insecure mode):
 *   - no User-Id and "city:NAME": every dataset, any scope;
 *   - "ward:CODE": petitions and sync_status of CODE only (an empty scope
 *     becomes CODE; another ward is refused);
 *   - anything else: nothing.
 * Returns true, the scope to apply in *scope_out (pointing at scope or
 * into user_id) and in *counts whether sync_status rows carry the agents'
 * event counts (marks, backlog, accepted, duplicate, conflict, rejected):
 * for a ward's own rows and a local operator, not for the city, since an
 * agent's counts minus the petitions and sessions published beside them
 * would give the ballot count the publication rule hides (docs/DESIGN.md
 * §7). Returns false with the reason when the pull is not allowed. */
bool pull_authorise(const char *user_id, const char *dataset, const char *scope,
                    const char **scope_out, bool *counts, char *reason,
                    size_t reasonlen);

#endif
