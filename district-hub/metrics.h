/*
 * metrics.h - the hub's counters, and the loopback HTTP endpoint that
 * shows them in Prometheus' text format (docs/contracts.md, "Metrics").
 *
 * The counters are process-wide and lock-free to bump (atomics), except
 * the per-unit table, whose lock is held only to copy one row in or the
 * table out: the writer, the pull thread and the handshake monitors call
 * the metrics_* bumps below and never wait for a scrape. The HTTP server
 * (libmicrohttpd) runs on a thread of its own and only reads.
 */
#ifndef DISTRICT_HUB_METRICS_H
#define DISTRICT_HUB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_DEFAULT_ENDPOINT "127.0.0.1:9741"

/* ----------------------------------------------------------------- bumps */

/* A batch the writer committed (its Ack went out), with how its events
 * came out. */
void metrics_batch_committed(size_t accepted, size_t duplicates,
                             size_t conflicts, size_t rejected);

/* A batch (or a message that was not one) answered with refusal, the
 * value of Ack.refusal (proto/wardsync/v1/transport.proto). */
void metrics_batch_refused(int refusal);

/* One group commit took us microseconds. */
void metrics_commit_time(int64_t us);

/* A committed batch's Ack left us microseconds after its frame was
 * received. */
void metrics_ack_latency(int64_t us);

/* Whether the writer's database session is up. */
void metrics_database_up(bool up);

/* The number of authenticated connections now open on a hub socket
 * (socket: "ingest", whose peers are the agents, or "pull"). */
void metrics_connections(const char *socket, int64_t n);

/* An org unit's batch was received now (wall clock), reporting backlog
 * events still queued behind it. Units beyond a fixed table size (far
 * above a district's) are not tracked. */
void metrics_unit_contact(const char *unit, uint64_t backlog);

/* A pull request for dataset (a known dataset's name: the caller has
 * checked it) was received. */
void metrics_pull_request(const char *dataset);

/* --------------------------------------------------------------- summary */

/* What happened since the previous metrics_summary_take. */
struct metrics_summary {
    uint64_t batches;    /* committed */
    uint64_t events;     /* of the committed batches */
    uint64_t duplicates; /* events */
    uint64_t conflicts;  /* events */
    uint64_t rejected;   /* events */
    uint64_t refused;    /* batches refused whole */
    int64_t slowest_commit_us;
    int64_t agents; /* connections on the ingest socket now */
};

/* Fills *out with the changes since the last call (since the start on the
 * first). One caller only: the server's loop. */
void metrics_summary_take(struct metrics_summary *out);

/* --------------------------------------------------------------- serving */

/* Appends the exposition text of every metric to a new string (caller
 * frees); *len its length. Returns 0 or -ENOMEM. */
int metrics_render(char **text, size_t *len);

struct metrics_server;

/* Serves GET /metrics on endpoint, "HOST:PORT" with HOST a numeric IPv4
 * address or a bracketed IPv6 one (port 0: the system picks), on
 * libmicrohttpd's own thread; logs "metrics endpoint=http://HOST:PORT/metrics"
 * with the port bound. "none" (or NULL, "") serves nothing: 0 and *out
 * NULL. Returns 0, -EDOM (not HOST:PORT) or -EIO (could not bind); the
 * reason is in err. */
int metrics_start(const char *endpoint, struct metrics_server **out, char *err,
                  size_t errlen);

/* Stops the server (a scrape being answered is finished first). NULL-safe;
 * clears *server. */
void metrics_stop(struct metrics_server **server);

#endif
