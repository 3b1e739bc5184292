/*
 * auth.c - the ZAP handler, the handshake monitor and the key commands.
 *
 * The handler thread owns its REP socket and its own PostgreSQL connection
 * (libpq connections are not shared between threads); it asks the database
 * on every handshake rather than caching, because handshakes are rare (one
 * per agent connection) and a revoked key must be refused at once. A
 * database error answers 500: fail closed, never open.
 *
 * The keys table is reached with parameterised statements from here rather
 * than through store.c: the handler needs a connection of its own anyway.
 */
#include "auth.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

#define MODULE "auth"
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_POLL_MS 200
#define ZAP_MAX_FRAMES 16
#define LOG_LIMIT_MS 10000

struct auth {
    void *zap; /* REP, used only by the thread once it runs */
    char *conninfo;
    PGconn *db; /* guarded by lock */
    pthread_mutex_t lock;
    pthread_t thread;
    atomic_bool stop;
    struct ws_log_limit db_limit;
};

static const char KEY_LOOKUP_SQL[] =
    "SELECT principal, revoked_at IS NOT NULL FROM principal_keys"
    " WHERE public_key = $1";
static const char PRINCIPAL_ACTIVE_SQL[] =
    "SELECT 1 FROM principal_keys WHERE principal = $1"
    " AND revoked_at IS NULL LIMIT 1";

/* Connects (or reconnects) the shared connection; lock held. */
static bool db_ready(struct auth *auth)
{
    if (auth->db && PQstatus(auth->db) == CONNECTION_OK)
        return true;
    PQfinish(auth->db);
    auth->db = PQconnectdb(auth->conninfo);
    if (PQstatus(auth->db) == CONNECTION_OK)
        return true;
    ws_log_limited(&auth->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                   "could not connect to the database, refusing every "
                   "handshake: %s",
                   PQerrorMessage(auth->db));
    return false;
}

/* Looks the key up. Returns 0 with principal ("" when unknown) and
 * *revoked, or -EIO. */
static int lookup_key(struct auth *auth, const char *key_z85, char *principal,
                      size_t cap, bool *revoked)
{
    int rc = -EIO;
    principal[0] = '\0';
    *revoked = false;
    pthread_mutex_lock(&auth->lock);
    if (db_ready(auth)) {
        const char *values[] = {key_z85};
        PGresult *res = PQexecParams(auth->db, KEY_LOOKUP_SQL, 1, NULL, values,
                                     NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            if (PQntuples(res) == 1) {
                ws_strlcpy(principal, PQgetvalue(res, 0, 0), cap);
                *revoked = PQgetvalue(res, 0, 1)[0] == 't';
            }
            rc = 0;
        } else {
            ws_log_limited(&auth->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                           "key lookup failed: %s", PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    pthread_mutex_unlock(&auth->lock);
    return rc;
}

bool auth_principal_active(struct auth *auth, const char *principal)
{
    bool active = false;
    pthread_mutex_lock(&auth->lock);
    if (db_ready(auth)) {
        const char *values[] = {principal};
        PGresult *res = PQexecParams(auth->db, PRINCIPAL_ACTIVE_SQL, 1, NULL,
                                     values, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            active = PQntuples(res) == 1;
        else
            ws_log_limited(&auth->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                           "principal check failed: %s",
                           PQresultErrorMessage(res));
        PQclear(res);
    }
    pthread_mutex_unlock(&auth->lock);
    return active;
}

static int send_frame(void *socket, const char *text, size_t len, bool more)
{
    return zmq_send(socket, text, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* Sends the ZAP reply (RFC 27): version, request id, status, text, user id,
 * metadata (empty). */
static void zap_reply(void *socket, zmq_msg_t *request_id, const char *status,
                      const char *text, const char *user_id)
{
    if (send_frame(socket, "1.0", 3, true) < 0 ||
        send_frame(socket, zmq_msg_data(request_id), zmq_msg_size(request_id),
                   true) < 0 ||
        send_frame(socket, status, strlen(status), true) < 0 ||
        send_frame(socket, text, strlen(text), true) < 0 ||
        send_frame(socket, user_id, strlen(user_id), true) < 0 ||
        send_frame(socket, "", 0, false) < 0)
        ws_error(MODULE, "could not send ZAP reply: %s", zmq_strerror(errno));
}

/* Copies a frame as text for a log line (printable ASCII only). */
static void frame_text(zmq_msg_t *msg, char *out, size_t cap)
{
    size_t len = zmq_msg_size(msg), o = 0;
    const unsigned char *data = zmq_msg_data(msg);
    for (size_t i = 0; i < len && o + 1 < cap; i++)
        out[o++] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
    out[o] = '\0';
}

static bool frame_is(zmq_msg_t *msg, const char *text)
{
    size_t len = strlen(text);
    return zmq_msg_size(msg) == len &&
           memcmp(zmq_msg_data(msg), text, len) == 0;
}

/* Answers one ZAP request: frames version, request id, domain, address,
 * routing id, mechanism, credentials... */
static void handle_zap_request(struct auth *auth)
{
    zmq_msg_t frames[ZAP_MAX_FRAMES];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, auth->zap, 0) < 0) {
            zmq_msg_close(&msg);
            goto out;
        }
        more = zmq_msg_more(&msg);
        if (n < ZAP_MAX_FRAMES)
            frames[n++] = msg;
        else
            zmq_msg_close(&msg);
    }
    if (n < 6) {
        ws_error(MODULE, "malformed ZAP request: %d frames", n);
        if (n >= 2)
            zap_reply(auth->zap, &frames[1], "500", "malformed request", "");
        goto out;
    }

    char address[64], key[WS_KEY_Z85_LEN + 1] = "", principal[80];
    frame_text(&frames[3], address, sizeof address);
    if (!frame_is(&frames[0], "1.0") ||
        !frame_is(&frames[2], AUTH_ZAP_DOMAIN) ||
        !frame_is(&frames[5], "CURVE") || n != 7 ||
        zmq_msg_size(&frames[6]) != 32) {
        char mechanism[16];
        frame_text(&frames[5], mechanism, sizeof mechanism);
        ws_warn(MODULE,
                "connection refused peer=%s mechanism=%s reason=not a CURVE "
                "handshake in domain " AUTH_ZAP_DOMAIN,
                address, mechanism);
        zap_reply(auth->zap, &frames[1], "400", "CURVE required", "");
        goto out;
    }
    zmq_z85_encode(key, zmq_msg_data(&frames[6]), 32);

    bool revoked;
    if (lookup_key(auth, key, principal, sizeof principal, &revoked) < 0) {
        ws_warn(MODULE,
                "connection refused peer=%s key=%s reason=key registry "
                "unavailable",
                address, key);
        zap_reply(auth->zap, &frames[1], "500", "key registry unavailable", "");
        goto out;
    }
    if (!principal[0] || revoked) {
        const char *why = revoked ? "key revoked" : "key not registered";
        ws_warn(MODULE, "connection refused peer=%s key=%s reason=%s%s%s",
                address, key, why, revoked ? " principal=" : "",
                revoked ? principal : "");
        zap_reply(auth->zap, &frames[1], "400", why, "");
        goto out;
    }
    ws_info(MODULE, "connection accepted peer=%s principal=%s key=%s", address,
            principal, key);
    zap_reply(auth->zap, &frames[1], "200", "OK", principal);

out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

static void *zap_thread(void *arg)
{
    struct auth *auth = arg;
    while (!atomic_load(&auth->stop)) {
        zmq_pollitem_t item = {auth->zap, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, ZAP_POLL_MS);
        if (rc < 0) {
            if (errno == ETERM)
                break;
            continue;
        }
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            handle_zap_request(auth);
    }
    return NULL;
}

int auth_start(void *ctx, const char *conninfo, struct auth **out, char *err,
               size_t errlen)
{
    *out = NULL;
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "libzmq was built without CURVE support");
        return -ENOTSUP;
    }
    struct auth *auth = calloc(1, sizeof *auth);
    if (!auth || !(auth->conninfo = strdup(conninfo))) {
        free(auth);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&auth->lock, NULL);
    atomic_init(&auth->stop, false);
    int rc = -EIO;

    /* The keys table must be readable now, or nobody could ever connect. */
    auth->db = PQconnectdb(conninfo);
    if (PQstatus(auth->db) != CONNECTION_OK) {
        snprintf(err, errlen,
                 "ZAP handler: could not connect to the "
                 "database: %s",
                 PQerrorMessage(auth->db));
        goto fail;
    }
    PGresult *res = PQexec(auth->db, "SELECT count(*) FROM principal_keys");
    bool readable = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!readable)
        snprintf(err, errlen, "ZAP handler: cannot read principal_keys: %s",
                 PQresultErrorMessage(res));
    PQclear(res);
    if (!readable)
        goto fail;

    auth->zap = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!auth->zap ||
        zmq_setsockopt(auth->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(auth->zap, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "could not bind the ZAP handler to %s: %s",
                 ZAP_ENDPOINT, zmq_strerror(errno));
        goto fail;
    }
    int e = pthread_create(&auth->thread, NULL, zap_thread, auth);
    if (e != 0) {
        snprintf(err, errlen, "could not start the ZAP handler thread: %s",
                 strerror(e));
        goto fail;
    }
    ws_info(MODULE, "ZAP handler bound endpoint=" ZAP_ENDPOINT
                    " domain=" AUTH_ZAP_DOMAIN);
    *out = auth;
    return 0;

fail:
    if (auth->zap)
        zmq_close(auth->zap);
    PQfinish(auth->db);
    pthread_mutex_destroy(&auth->lock);
    free(auth->conninfo);
    free(auth);
    return rc;
}

void auth_stop(struct auth **auth)
{
    if (!auth || !*auth)
        return;
    struct auth *a = *auth;
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    zmq_close(a->zap);
    PQfinish(a->db);
    pthread_mutex_destroy(&a->lock);
    free(a->conninfo);
    free(a);
    *auth = NULL;
}

int auth_server_socket_setup(void *socket, const struct ws_keypair *keys,
                             char *err, size_t errlen)
{
    int one = 1;
    if (!ws_key_z85_valid(keys->secret_z85)) {
        snprintf(err, errlen, "hub secret key is not a valid Z85 key");
        return -EINVAL;
    }
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, keys->secret_z85,
                       WS_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, AUTH_ZAP_DOMAIN,
                       strlen(AUTH_ZAP_DOMAIN)) != 0) {
        snprintf(err, errlen, "could not make a CURVE server socket: %s",
                 zmq_strerror(errno));
        return -EINVAL;
    }
    return 0;
}

int auth_load_hub_keys(const struct hub_settings *settings,
                       struct ws_keypair *out)
{
    char err[512];
    if (!settings->secret_key || !settings->secret_key[0]) {
        ws_error(MODULE, "hub.secret_key is not set: create a key pair with "
                         "\"district-hub keygen FILE\" and set secret_key = "
                         "FILE_secret (or run --insecure for a local "
                         "experiment)");
        return -EINVAL;
    }
    int rc = ws_keys_read_secret(settings->secret_key, out, err, sizeof err);
    if (rc < 0)
        ws_error(MODULE, "%s", err);
    return rc;
}

int auth_principal_parse(const char *user_id, struct auth_principal *out)
{
    char reason[128];
    memset(out, 0, sizeof *out);
    if (!user_id)
        return -EINVAL;
    const char *code;
    if (strncmp(user_id, "ward:", 5) == 0) {
        out->kind = AUTH_WARD;
        code = user_id + 5;
    } else if (strncmp(user_id, "city:", 5) == 0) {
        out->kind = AUTH_CITY;
        code = user_id + 5;
    } else {
        return -EINVAL;
    }
    if (strlen(code) >= sizeof out->code ||
        ws_validate_code("principal", code, reason, sizeof reason) != 0)
        return -EINVAL;
    ws_strlcpy(out->code, code, sizeof out->code);
    return 0;
}

/* ---------------------------------------------------------------- monitor */

int auth_monitor_open(void *ctx, void *socket, const char *name, void **monitor)
{
    char endpoint[128];
    *monitor = NULL;
    snprintf(endpoint, sizeof endpoint, "inproc://wardsync-monitor-%s", name);
    if (zmq_socket_monitor(socket, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
        ws_error(MODULE, "could not monitor %s socket: %s", name,
                 zmq_strerror(errno));
        return -EIO;
    }
    void *pair = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    if (!pair ||
        zmq_setsockopt(pair, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(pair, endpoint) != 0) {
        ws_error(MODULE, "could not connect to the %s monitor: %s", name,
                 zmq_strerror(errno));
        if (pair)
            zmq_close(pair);
        return -EIO;
    }
    *monitor = pair;
    return 0;
}

static const char *protocol_error_name(uint32_t value)
{
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "security mechanism mismatch (client without CURVE?)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error (wrong server key?)";
    case ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED:
    case ZMQ_PROTOCOL_ERROR_ZAP_MALFORMED_REPLY:
    case ZMQ_PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID:
    case ZMQ_PROTOCOL_ERROR_ZAP_BAD_VERSION:
    case ZMQ_PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE:
    case ZMQ_PROTOCOL_ERROR_ZAP_INVALID_METADATA:
        return "ZAP handler error";
    default:
        return "protocol error";
    }
}

void auth_monitor_drain(void *monitor, const char *name)
{
    /* One limit per kind of refusal, so a flood of one hides no other. */
    static struct ws_log_limit auth_limit, mismatch_limit, crypto_limit,
        other_limit;
    for (;;) {
        zmq_msg_t event, address;
        zmq_msg_init(&event);
        if (zmq_msg_recv(&event, monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&event);
            return;
        }
        zmq_msg_init(&address);
        if (zmq_msg_more(&event))
            zmq_msg_recv(&address, monitor, ZMQ_DONTWAIT);
        if (zmq_msg_size(&event) >= 6) {
            const uint8_t *data = zmq_msg_data(&event);
            uint16_t id;
            uint32_t value;
            memcpy(&id, data, sizeof id);
            memcpy(&value, data + 2, sizeof value);
            char where[128];
            frame_text(&address, where, sizeof where);
            struct ws_log_limit *limit =
                id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       ? &auth_limit
                : id != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? &other_limit
                : value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                    ? &mismatch_limit
                : value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC ? &crypto_limit
                                                                 : &other_limit;
            if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                ws_log_limited(limit, 1000, WS_LOG_WARN, MODULE,
                               "handshake refused socket=%s endpoint=%s "
                               "reason=authentication failed status=%u",
                               name, where, value);
            else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
                ws_log_limited(limit, 1000, WS_LOG_WARN, MODULE,
                               "handshake refused socket=%s endpoint=%s "
                               "reason=%s code=0x%08x",
                               name, where, protocol_error_name(value), value);
            else
                ws_log_limited(limit, 1000, WS_LOG_WARN, MODULE,
                               "handshake refused socket=%s endpoint=%s "
                               "reason=%s (the peer hung up, e.g. on "
                               "finding no CURVE here)",
                               name, where, zmq_strerror((int)value));
        }
        zmq_msg_close(&address);
        zmq_msg_close(&event);
    }
}

void auth_monitor_close(void **monitor)
{
    if (!monitor || !*monitor)
        return;
    zmq_close(*monitor);
    *monitor = NULL;
}

/* ---------------------------------------------------------------- commands */

int auth_keygen_run(const char *path, bool force)
{
    struct ws_keypair pair;
    char err[512];
    if (ws_keys_generate(&pair) < 0) {
        ws_error(MODULE, "could not generate a key pair: libzmq has no CURVE");
        return HUB_EXIT_IO;
    }
    int rc = ws_keys_write(path, &pair, force, err, sizeof err);
    ws_keys_wipe(&pair);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        return rc == -EEXIST ? HUB_EXIT_USAGE : HUB_EXIT_IO;
    }
    printf("public key: %s\nwrote %s and %s_secret\n", pair.public_z85, path,
           path);
    return HUB_EXIT_OK;
}

static void principal_text(enum auth_kind kind, const char *code, char *out,
                           size_t cap)
{
    snprintf(out, cap, "%s:%s", kind == AUTH_WARD ? "ward" : "city", code);
}

static PGconn *connect_owner(const struct hub_settings *settings)
{
    PGconn *db = PQconnectdb(settings->database);
    if (PQstatus(db) != CONNECTION_OK) {
        ws_error(MODULE, "could not connect to the database: %s",
                 PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    return db;
}

int auth_enroll_run(const struct hub_settings *settings, enum auth_kind kind,
                    const char *code, const char *key_file)
{
    char reason[256], principal[80];
    struct ws_keypair key;
    if (ws_validate_code(kind == AUTH_WARD ? "ward" : "city", code, reason,
                         sizeof reason) != 0 ||
        strlen(code) > 64) {
        ws_error(MODULE, "%s", reason);
        return HUB_EXIT_USAGE;
    }
    if (ws_keys_read_public(key_file, &key, reason, sizeof reason) < 0) {
        ws_error(MODULE, "%s", reason);
        return HUB_EXIT_INPUT;
    }
    principal_text(kind, code, principal, sizeof principal);
    PGconn *db = connect_owner(settings);
    if (!db)
        return HUB_EXIT_IO;
    int rc = HUB_EXIT_IO;
    PGresult *res = NULL;
    if (kind == AUTH_WARD) {
        const char *values[] = {code};
        res = PQexecParams(db,
                           "SELECT 1 FROM org_units WHERE code = $1"
                           " AND kind IN ('ward', 'district')",
                           1, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            ws_error(MODULE, "could not look up ward %s: %s", code,
                     PQresultErrorMessage(res));
            goto out;
        }
        if (PQntuples(res) != 1) {
            ws_error(MODULE,
                     "unknown ward %s (not a ward or district in "
                     "org_units)",
                     code);
            rc = HUB_EXIT_INPUT;
            goto out;
        }
        PQclear(res);
    }
    /* A key moves to another principal only once revoked. */
    const char *values[] = {key.public_z85, principal};
    res = PQexecParams(
        db,
        "INSERT INTO principal_keys (public_key, principal) VALUES ($1, $2)"
        " ON CONFLICT (public_key) DO UPDATE SET principal = "
        "EXCLUDED.principal,"
        " enrolled_at = now(), revoked_at = NULL"
        " WHERE principal_keys.principal = EXCLUDED.principal"
        "    OR principal_keys.revoked_at IS NOT NULL"
        " RETURNING 1",
        2, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ws_error(MODULE, "could not enroll key: %s", PQresultErrorMessage(res));
        goto out;
    }
    if (PQntuples(res) != 1) {
        ws_error(MODULE,
                 "key %s is enrolled for another principal; revoke it "
                 "there first",
                 key.public_z85);
        rc = HUB_EXIT_INPUT;
        goto out;
    }
    ws_info(MODULE, "enrolled principal=%s key=%s", principal, key.public_z85);
    rc = HUB_EXIT_OK;
out:
    PQclear(res);
    PQfinish(db);
    return rc;
}

int auth_revoke_run(const struct hub_settings *settings, enum auth_kind kind,
                    const char *code, const char *key_file)
{
    char reason[256], principal[80] = "";
    struct ws_keypair key = {{0}, {0}};
    if (code) {
        if (ws_validate_code("principal", code, reason, sizeof reason) != 0) {
            ws_error(MODULE, "%s", reason);
            return HUB_EXIT_USAGE;
        }
        principal_text(kind, code, principal, sizeof principal);
    }
    if (key_file &&
        ws_keys_read_public(key_file, &key, reason, sizeof reason) < 0) {
        ws_error(MODULE, "%s", reason);
        return HUB_EXIT_INPUT;
    }
    PGconn *db = connect_owner(settings);
    if (!db)
        return HUB_EXIT_IO;
    const char *values[] = {principal[0] ? principal : NULL,
                            key.public_z85[0] ? key.public_z85 : NULL};
    PGresult *res = PQexecParams(db,
                                 "UPDATE principal_keys SET revoked_at = now()"
                                 " WHERE revoked_at IS NULL"
                                 "   AND ($1::text IS NULL OR principal = $1)"
                                 "   AND ($2::text IS NULL OR public_key = $2)"
                                 " RETURNING principal, public_key",
                                 2, NULL, values, NULL, NULL, 0);
    int rc = HUB_EXIT_IO;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ws_error(MODULE, "could not revoke: %s", PQresultErrorMessage(res));
    } else if (PQntuples(res) == 0) {
        ws_error(MODULE, "no active key matches%s%s%s%s",
                 principal[0] ? " principal=" : "", principal,
                 key.public_z85[0] ? " key=" : "", key.public_z85);
        rc = HUB_EXIT_INPUT;
    } else {
        for (int i = 0; i < PQntuples(res); i++)
            ws_info(MODULE, "revoked principal=%s key=%s",
                    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        rc = HUB_EXIT_OK;
    }
    PQclear(res);
    PQfinish(db);
    return rc;
}

/* Reads the first line of a password file (owner-only, like a key). */
static int read_password_file(const char *path, char *out, size_t cap)
{
    char err[512];
    FILE *f = fopen(path, "r");
    if (!f) {
        ws_error(MODULE, "could not open file \"%s\": %s", path,
                 strerror(errno));
        return -EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
        snprintf(err, sizeof err,
                 "password file \"%s\" is accessible to others (mode %04o); "
                 "refusing to use it",
                 path, (unsigned)(st.st_mode & 07777));
        ws_error(MODULE, "%s", err);
        fclose(f);
        return -EPERM;
    }
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (strlen(out) < 12) {
        ws_error(MODULE, "password file \"%s\": want at least 12 characters",
                 path);
        return -EINVAL;
    }
    return 0;
}

/* Whether role can already log in with password (then nothing to do: the
 * role is cluster-wide, and databases of one cluster migrate in parallel). */
static bool role_login_works(const struct hub_settings *settings,
                             const char *role, const char *password)
{
    const char *keys[] = {"dbname", "user", "password", NULL};
    const char *values[] = {settings->database, role, password, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    bool ok = PQstatus(c) == CONNECTION_OK;
    PQfinish(c);
    return ok;
}

/* ALTER ROLE cannot take parameters: the password is hashed here (SCRAM,
 * so the server never sees it), the role and verifier travel as bound
 * parameters into two session settings, and a constant DO block quotes
 * them with format(%I, %L); no SQL text is built in C. */
static const char SET_PASSWORD_SQL[] =
    "DO $$BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L',"
    " current_setting('wardsync.role_name'),"
    " current_setting('wardsync.role_verifier')); END$$";

static int set_role_password(const struct hub_settings *settings, PGconn *db,
                             const char *role, const char *path)
{
    char password[256];
    int rc = read_password_file(path, password, sizeof password);
    if (rc < 0)
        return rc;
    if (role_login_works(settings, role, password)) {
        memset(password, 0, sizeof password);
        ws_debug(MODULE, "password of %s already current", role);
        return 0;
    }
    char *verifier = PQencryptPasswordConn(db, password, role, "scram-sha-256");
    memset(password, 0, sizeof password);
    if (!verifier) {
        ws_error(MODULE, "could not hash the password of %s: %s", role,
                 PQerrorMessage(db));
        return -EIO;
    }
    const char *params[] = {role, verifier};
    PGresult *res =
        PQexecParams(db,
                     "SELECT set_config('wardsync.role_name', $1, false),"
                     " set_config('wardsync.role_verifier', $2, false)",
                     2, NULL, params, NULL, NULL, 0);
    PQfreemem(verifier);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        PQclear(res);
        res = PQexec(db, SET_PASSWORD_SQL);
    }
    PQclear(PQexec(db, "RESET wardsync.role_verifier"));
    rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        /* "tuple concurrently updated": another migrate set it too. */
        ws_warn(MODULE, "could not set the password of %s: %s", role,
                PQresultErrorMessage(res));
        rc = read_password_file(path, password, sizeof password) == 0 &&
                     role_login_works(settings, role, password)
                 ? 0
                 : -EIO;
        memset(password, 0, sizeof password);
    } else {
        ws_info(MODULE, "password set role=%s from=%s", role, path);
    }
    PQclear(res);
    return rc;
}

int auth_set_role_passwords(const struct hub_settings *settings)
{
    if (!settings->hub_role_password_file && !settings->city_role_password_file)
        return HUB_EXIT_OK;
    PGconn *db = connect_owner(settings);
    if (!db)
        return HUB_EXIT_IO;
    int rc = HUB_EXIT_OK;
    if (settings->hub_role_password_file &&
        set_role_password(settings, db, "wardsync_hub",
                          settings->hub_role_password_file) < 0)
        rc = HUB_EXIT_IO;
    if (rc == HUB_EXIT_OK && settings->city_role_password_file &&
        set_role_password(settings, db, "wardsync_city",
                          settings->city_role_password_file) < 0)
        rc = HUB_EXIT_IO;
    PQfinish(db);
    return rc;
}
