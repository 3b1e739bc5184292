/*
 * pull.h - the hub's pull endpoint (DESIGN §4, §8): a ROUTER that answers
 * each PullRequest with one PullPage, served from the ingest loop between
 * batches.
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

struct pull_server;

/* Creates the pull ROUTER on ctx and binds it to endpoint, or when NULL to
 * hub.pull / WARDSYNC_HUB_PULL (default PULL_DEFAULT_ENDPOINT, or
 * PULL_INSECURE_DEFAULT_ENDPOINT when keys is NULL). The setting
 * "none" disables the endpoint: 0 and *out NULL. With keys (the hub's key
 * pair) the socket is a CURVE server behind the ZAP handler, which the
 * caller has started, a request without a User-Id is refused, and a
 * monitor logs every refused handshake as socket=pull (zap.h); keys NULL
 * is --insecure: every request comes from a local operator. Logs
 * "pull endpoint=ENDPOINT" once bound. The database connection is opened
 * on the first request. Returns a hub_exit code. */
int pull_open(void *ctx, const struct hub_settings *settings,
              const char *endpoint, const struct ws_keypair *keys,
              struct pull_server **out);

/* The socket to poll for ZMQ_POLLIN; NULL when ps is NULL. */
void *pull_socket(struct pull_server *ps);

/* Answers every request waiting on the socket (never blocks). */
void pull_handle(struct pull_server *ps);

/* Closes the socket (with a short linger) and the database connections;
 * sets *ps to NULL; NULL-safe. */
void pull_close(struct pull_server **ps);

/* Who may pull what, from the authenticated ZMQ User-Id (NULL or "": no
 * authentication, a local operator in --insecure mode):
 *   - no User-Id and "city:NAME": every dataset, any scope;
 *   - "ward:CODE": petitions and sync_status of CODE only (an empty scope
 *     becomes CODE; another ward is refused);
 *   - anything else: nothing.
 * Returns true and the scope to apply in *scope_out (pointing at scope or
 * into user_id), or false with the reason. */
bool pull_authorise(const char *user_id, const char *dataset, const char *scope,
                    const char **scope_out, char *reason, size_t reasonlen);

#endif
