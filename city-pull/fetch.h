/*
 * fetch.h - one hub's pull endpoint, page by page (wire: pull.proto).
 */
#ifndef CITY_PULL_FETCH_H
#define CITY_PULL_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "wardsync/keys.h"
#include "wardsync/v1/pull.pb-c.h"

struct fetch_client;

/* Connects a DEALER to endpoint (connecting never blocks; an absent hub
 * shows as a timeout on the first request). With own (the city's key pair)
 * and server_public (the hub's public key, Z85) the socket is a CURVE
 * client; both NULL: no CURVE (a hub run with --insecure). Returns 0 or -1
 * with err. */
int fetch_open(void *ctx, const char *endpoint, const struct ws_keypair *own,
               const char *server_public, int timeout_ms,
               struct fetch_client **out, char *err, size_t errlen);

/* Closes the socket without lingering; NULL-safe, clears *fc. */
void fetch_close(struct fetch_client **fc);

/* Sends one PullRequest (as_of: the day the figures are judged on, "" or
 * NULL for the district's today) and waits for its page. Returns 0 and *page
 * (free with wardsync__v1__pull_page__free_unpacked; page->error may be set),
 * or -1 with err (no answer within the timeout, or an undecodable answer: the
 * client is then unusable). */
int fetch_page(struct fetch_client *fc, const char *dataset, const char *scope,
               const char *as_of, const char *since, unsigned page_size,
               Wardsync__V1__PullPage **page, char *err, size_t errlen);

#endif
