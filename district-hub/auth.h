/*
 * auth.h - who may speak to the hub (DESIGN §4): CURVE on every endpoint,
 * a ZAP handler that maps registered public keys to principals, and the
 * enroll / revoke commands that register and withdraw keys.
 *
 * Principals are "ward:<code>" (an org unit of kind ward or district: the
 * district office runs an agent too) and "city:<name>". The ZAP handler sets
 * the ZeroMQ User-Id of every accepted connection to the principal; the hub
 * trusts zmq_msg_gets(msg, "User-Id") and nothing a message says.
 *
 * Keys live in the principal_keys table (sql/002_security.sql). The handler
 * reads the table on every handshake, so enroll and revoke take effect for
 * the next connection without a restart; auth_principal_active lets a
 * serving loop stop accepting work from a connection whose principal has
 * been revoked since it connected.
 */
#ifndef DISTRICT_HUB_AUTH_H
#define DISTRICT_HUB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"
#include "wardsync/keys.h"

/* The ZAP domain every hub CURVE socket uses. */
#define AUTH_ZAP_DOMAIN "wardsync"

enum auth_kind { AUTH_WARD, AUTH_CITY };

struct auth_principal {
    enum auth_kind kind;
    char code[65]; /* ward code or city name */
};

struct auth;

/* Binds the ZAP handler to inproc://zeromq.zap.01 in ctx and starts its
 * thread with its own connection to conninfo (checked: the keys table must
 * be readable). Call before creating any CURVE socket in ctx: libzmq lets a
 * CURVE server accept everyone when no handler is bound, which is why the
 * hub refuses to start when this fails. Returns 0 and *out, or a negative
 * errno with the reason in err. */
int auth_start(void *ctx, const char *conninfo, struct auth **out, char *err,
               size_t errlen);

/* Stops the thread and closes its socket and connection; call after every
 * CURVE socket of ctx is closed, before zmq_ctx_term. NULL-safe; clears
 * *auth. */
void auth_stop(struct auth **auth);

/* Makes socket (not yet bound) a CURVE server with the hub's key pair and
 * the wardsync ZAP domain. Every hub endpoint calls this before zmq_bind:
 *
 *     if (auth_server_socket_setup(socket, &hub_keys, err, sizeof err) < 0)
 *         fail ...;
 *     zmq_bind(socket, endpoint);
 *
 * Returns 0, or -EINVAL with the reason in err. */
int auth_server_socket_setup(void *socket, const struct ws_keypair *keys,
                             char *err, size_t errlen);

/* Reads the hub's secret key file (settings->secret_key) for a secure
 * start. Returns 0 or a negative errno (reason logged). */
int auth_load_hub_keys(const struct hub_settings *settings,
                       struct ws_keypair *out);

/* Parses a User-Id as set by the handler. Returns 0, or -EINVAL for NULL
 * or anything the handler would not have set. */
int auth_principal_parse(const char *user_id, struct auth_principal *out);

/* Whether principal ("ward:LB03") still holds an unrevoked key. On a
 * database error answers false (fail closed) and logs. Thread-safe. */
bool auth_principal_active(struct auth *auth, const char *principal);

/* Handshake failures never reach the application (no CURVE, wrong server
 * key, refused key): a monitor on the socket logs each. Creates a PAIR
 * socket in ctx receiving socket's handshake events; poll it for ZMQ_POLLIN
 * and call auth_monitor_drain. Returns 0 or -EIO (logged). */
int auth_monitor_open(void *ctx, void *socket, const char *name,
                      void **monitor);
void auth_monitor_drain(void *monitor, const char *name);
void auth_monitor_close(void **monitor);

/* "district-hub keygen PATH": writes PATH and PATH_secret. */
int auth_keygen_run(const char *path, bool force);

/* "district-hub enroll": registers the public key of key_file for the
 * principal (kind, code). Runs as the owner. Returns a hub_exit code. */
int auth_enroll_run(const struct hub_settings *settings, enum auth_kind kind,
                    const char *code, const char *key_file);

/* "district-hub revoke": revokes every key of the principal (code not NULL)
 * or the key of key_file (not NULL). Returns a hub_exit code. */
int auth_revoke_run(const struct hub_settings *settings, enum auth_kind kind,
                    const char *code, const char *key_file);

/* Gives wardsync_hub and wardsync_city the passwords held in
 * settings->{hub,city}_role_password_file (when set), as the owner: part of
 * "district-hub migrate". Returns a hub_exit code. */
int auth_set_role_passwords(const struct hub_settings *settings);

#endif
