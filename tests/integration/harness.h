/*
 * harness.h - what integration tests need to drive the real programs:
 * a scratch database in the private cluster, the hub and agents as child
 * processes, and a raw DEALER client for hand-made batches.
 *
 * The owner's connection string comes from WARDSYNC_TEST_DATABASE (set by
 * scripts/run-tests.sh). Every wait is bounded.
 */
#ifndef WARDSYNC_IT_HARNESS_H
#define WARDSYNC_IT_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "wardsync/codec.h"

struct it_env {
    char dbname[64];
    char conninfo[1024];     /* owner's, pointing at dbname */
    char hub_conninfo[1024]; /* wardsync_hub's, what "run" uses */
    char workdir[256];       /* scratch folder for homes, logs, files */
    char hub_key[320];       /* hub public key file; PATH_secret beside */
    char hub_public_z85[41];
    PGconn *db;
};

/* A CURVE client identity: NULL in it_exchange means no CURVE at all. */
struct it_curve {
    char public_z85[41];
    char secret_z85[41];
    char server_z85[41]; /* the hub's public key as the client believes */
};

/* Creates a fresh database named prefix_<pid>, migrates it with
 * "district-hub migrate" as the owner (giving wardsync_hub the password of
 * WARDSYNC_TEST_HUB_PASSWORD_FILE), a scratch folder and the hub's CURVE
 * key pair in it. Returns 0 or -1 (with the reason printed). */
int it_env_setup(struct it_env *env, const char *prefix);
void it_env_teardown(struct it_env *env);

/* Runs argv to completion (at most timeout_s seconds; killed after that),
 * with extra environment entries "K=V" (NULL-terminated list or NULL).
 * Captures stdout+stderr into *output (malloc'd, may be NULL). Returns the
 * exit status, or -1 when it could not run or was killed. */
int it_run(const char *const argv[], const char *const extra_env[],
           int timeout_s, char **output);

/* Starts argv in the background, stdout and stderr appended to log_path. */
pid_t it_spawn(const char *const argv[], const char *const extra_env[],
               const char *log_path);

/* SIGTERM, up to 10 s, then SIGKILL. Returns the exit status or -1. */
int it_stop(pid_t pid);

/* Waits until the file holds needle anywhere; copies the rest of that
 * line (after needle) into rest. Returns 0, or -1 after timeout_ms. For a
 * log only this caller writes to (a hub's start-up); a log that several
 * tests share is read with a cursor instead. */
int it_wait_for_log(const char *path, const char *needle, int timeout_ms,
                    char *rest, size_t restlen);

/* A place in a log file: a test reads only what was written after it, so
 * no test is satisfied by another test's line. */
struct it_log_cursor {
    char path[512];
    long offset;
};

/* Sets cursor to the current end of path (0 when it does not exist). */
void it_log_cursor_at_end(const char *path, struct it_log_cursor *cursor);

/* Like it_wait_for_log, after cursor only; on a hit the cursor moves past
 * that line, so the next wait needs a new one. */
int it_log_wait(struct it_log_cursor *cursor, const char *needle,
                int timeout_ms, char *rest, size_t restlen);

/* Starts "district-hub run" as wardsync_hub with the hub's CURVE key,
 * bound to tcp://127.0.0.1:* (or to endpoint when not NULL), and waits for
 * its own "ingest endpoint=" line, which also says the port the system
 * chose. Writes the endpoint to endpoint_out. Returns the pid or -1. */
pid_t it_start_hub(struct it_env *env, const char *endpoint, char *endpoint_out,
                   size_t outlen);

/* Same, "run --insecure" (no CURVE) when insecure; the log goes to
 * log_out (may be NULL). */
pid_t it_start_hub_mode(struct it_env *env, const char *endpoint, bool insecure,
                        char *endpoint_out, size_t outlen, char *log_out,
                        size_t log_outlen);

/* The CURVE identity of principal "ward:CODE" or "city:NAME": made and
 * enrolled ("district-hub enroll") on first use, cached after. Writes the
 * secret key file's path to secret_path (may be NULL). Returns 0 or -1. */
int it_principal_keys(struct it_env *env, const char *kind, const char *code,
                      struct it_curve *out, char *secret_path, size_t cap);

/* A free TCP port on 127.0.0.1 (bound and released). */
int it_free_port(void);

/* First column of the first row of a parameterless query as a long, or
 * -1 on error (printed). */
long it_query_long(PGconn *db, const char *sql);

/* Sends one frame over a fresh DEALER socket (a CURVE client when curve is
 * not NULL) and waits up to timeout_ms for the Ack. Returns 0 and *ack,
 * or -1 (no answer). */
int it_exchange(const char *endpoint, const struct it_curve *curve,
                const void *data, size_t len, int timeout_ms,
                Wardsync__V1__Ack **ack);

/* Sends one Batch over a fresh DEALER socket and waits up to timeout_ms
 * for the Ack. When the last hub started is a CURVE one, the client is the
 * enrolled identity of ward batch->ward (LB01 for it_send_raw). Returns 0
 * and *ack (caller frees with wardsync__v1__ack__free_unpacked), or -1. */
int it_send_batch(const char *endpoint, const Wardsync__V1__Batch *batch,
                  int timeout_ms, Wardsync__V1__Ack **ack);

/* Sends raw bytes as one frame and waits for an Ack like it_send_batch. */
int it_send_raw(const char *endpoint, const void *data, size_t len,
                int timeout_ms, Wardsync__V1__Ack **ack);

/* Writes text to path. Returns 0 or -1. */
int it_write_file(const char *path, const char *text);

/* Path of a built program: WS_HUB_BIN, WS_AGENT_BIN. */
extern const char *it_hub_bin;
extern const char *it_agent_bin;

#endif
