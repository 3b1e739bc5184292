/*
 * zap.c - the ZAP handler, the handshake monitor and the hub's CURVE
 * server side (contract in zap.h).
 *
 * The handler thread owns its REP socket; the connection to the database
 * (a db_link, db/conn.h) is shared with zap_key_active under a lock,
 * since a libpq session serves one thread at a time. It asks the database
 * on every handshake rather than caching, because handshakes are rare
 * (one per agent connection) and a revoked key must be refused at once.
 */
#include "zap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "db/conn.h"
#include "db/keys.h"
#include "core/principal.h"
#include "metrics.h"
#include "wardsync/log.h"
#include "wardsync/util.h"

#define MODULE "zap"
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_POLL_MS 200
#define ZAP_MAX_FRAMES 16
#define LOG_LIMIT_MS 10000
#define MONITOR_POLL_MS 200
#define MONITOR_LOG_LIMIT_MS 1000

struct zap {
    void *socket; /* REP, used only by the thread once it runs */
    pthread_mutex_t lock;
    struct db_link link;          /* guarded by lock */
    struct ws_log_limit db_limit; /* guarded by lock */
    pthread_t thread;
    atomic_bool stop;
};

/* --------------------------------------------------------------- database */

/* A lookup (principal is then the output, of cap bytes) or an active
 * check (principal is the input). */
struct key_query {
    const char *key_z85;
    const char *principal; /* in for active, out (cap) for lookup */
    size_t cap;
    bool revoked;
};

/* Runs one key query on the link's connection, and once more on a new
 * connection when the session was lost (a restarted server): lock held.
 * Returns the query's answer, -ENOTCONN while the database is
 * unreachable, or -EIO (err set). */
static int run_key_query(struct zap *zap, bool lookup, struct key_query *q,
                         char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct db *db = db_link_get(&zap->link);
        if (!db) {
            snprintf(err, errlen, "database unavailable");
            return -ENOTCONN;
        }
        int rc =
            lookup ? db_keys_lookup(db, q->key_z85, (char *)q->principal,
                                    q->cap, &q->revoked, err, errlen)
                   : db_keys_active(db, q->principal, q->key_z85, err, errlen);
        if (rc >= 0 || db_ok(db))
            return rc;
        db_link_drop(&zap->link);
    }
    return -EIO;
}

int zap_key_active(struct zap *zap, const char *principal, const char *key_z85)
{
    char err[1024];
    struct key_query q = {.key_z85 = key_z85, .principal = principal};
    pthread_mutex_lock(&zap->lock);
    int rc = run_key_query(zap, false, &q, err, sizeof err);
    if (rc < 0)
        ws_log_limited(&zap->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                       "could not check key principal=%s key=%s: %s", principal,
                       key_z85, err);
    pthread_mutex_unlock(&zap->lock);
    return rc;
}

/* The principal key_z85 is enrolled for ("" when unknown) and whether it
 * was revoked. Returns 0 or a negative errno (logged, rate-limited). */
static int lookup_key(struct zap *zap, const char *key_z85, char *principal,
                      size_t cap, bool *revoked)
{
    char err[1024];
    struct key_query q = {
        .key_z85 = key_z85, .principal = principal, .cap = cap};
    principal[0] = '\0';
    pthread_mutex_lock(&zap->lock);
    int rc = run_key_query(zap, true, &q, err, sizeof err);
    if (rc < 0)
        ws_log_limited(&zap->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                       "key lookup failed, refusing handshakes: %s", err);
    pthread_mutex_unlock(&zap->lock);
    *revoked = q.revoked;
    return rc;
}

/* ------------------------------------------------------------- ZAP replies */

static int send_frame(void *socket, const void *data, size_t len, bool more)
{
    return zmq_send(socket, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/* Sends the ZAP reply (RFC 27): version, request id, status, text, user
 * id, metadata. The metadata frame is a ZMTP property list: one byte of
 * name length, the name, four bytes of value length (network order), the
 * value; an accepted connection gets the client's key as
 * ZAP_PROPERTY_KEY. */
static void zap_reply(void *socket, zmq_msg_t *request_id, const char *status,
                      const char *text, const char *user_id,
                      const char *key_z85)
{
    unsigned char metadata[1 + sizeof ZAP_PROPERTY_KEY + 4 + WS_KEY_Z85_LEN];
    size_t metadata_len = 0;
    if (key_z85) {
        const size_t name_len = sizeof ZAP_PROPERTY_KEY - 1;
        const size_t value_len = strlen(key_z85);
        metadata[0] = (unsigned char)name_len;
        memcpy(metadata + 1, ZAP_PROPERTY_KEY, name_len);
        metadata[1 + name_len] = (unsigned char)(value_len >> 24);
        metadata[2 + name_len] = (unsigned char)(value_len >> 16);
        metadata[3 + name_len] = (unsigned char)(value_len >> 8);
        metadata[4 + name_len] = (unsigned char)value_len;
        memcpy(metadata + 5 + name_len, key_z85, value_len);
        metadata_len = 5 + name_len + value_len;
    }
    if (send_frame(socket, "1.0", 3, true) < 0 ||
        send_frame(socket, zmq_msg_data(request_id), zmq_msg_size(request_id),
                   true) < 0 ||
        send_frame(socket, status, strlen(status), true) < 0 ||
        send_frame(socket, text, strlen(text), true) < 0 ||
        send_frame(socket, user_id, strlen(user_id), true) < 0 ||
        send_frame(socket, metadata, metadata_len, false) < 0)
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
 * routing id, mechanism, credentials... Frames are received in place (a
 * zmq_msg_t is never copied by assignment); any beyond ZAP_MAX_FRAMES are
 * read and dropped. */
static void handle_zap_request(struct zap *zap)
{
    zmq_msg_t frames[ZAP_MAX_FRAMES], extra;
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t *msg = n < ZAP_MAX_FRAMES ? &frames[n] : &extra;
        zmq_msg_init(msg);
        if (zmq_msg_recv(msg, zap->socket, 0) < 0) {
            zmq_msg_close(msg);
            goto out;
        }
        more = zmq_msg_more(msg);
        if (msg == &extra)
            zmq_msg_close(&extra);
        else
            n++;
    }
    if (n < 6) {
        ws_error(MODULE, "malformed ZAP request: %d frames", n);
        if (n >= 2)
            zap_reply(zap->socket, &frames[1], "500", "malformed request", "",
                      NULL);
        goto out;
    }

    char address[64], key[WS_KEY_Z85_LEN + 1] = "",
                                           principal[PRINCIPAL_TEXT_MAX];
    frame_text(&frames[3], address, sizeof address);
    if (!frame_is(&frames[0], "1.0") || !frame_is(&frames[2], ZAP_DOMAIN) ||
        !frame_is(&frames[5], "CURVE") || n != 7 ||
        zmq_msg_size(&frames[6]) != 32) {
        char mechanism[16];
        frame_text(&frames[5], mechanism, sizeof mechanism);
        ws_warn(MODULE,
                "connection refused peer=%s mechanism=%s reason=not a CURVE "
                "handshake in domain " ZAP_DOMAIN,
                address, mechanism);
        zap_reply(zap->socket, &frames[1], "400", "CURVE required", "", NULL);
        goto out;
    }
    zmq_z85_encode(key, zmq_msg_data(&frames[6]), 32);

    bool revoked;
    if (lookup_key(zap, key, principal, sizeof principal, &revoked) < 0) {
        ws_warn(MODULE,
                "connection refused peer=%s key=%s reason=key registry "
                "unavailable",
                address, key);
        zap_reply(zap->socket, &frames[1], "500", "key registry unavailable",
                  "", NULL);
        goto out;
    }
    if (!principal[0] || revoked) {
        const char *why = revoked ? "key revoked" : "key not registered";
        ws_warn(MODULE, "connection refused peer=%s key=%s reason=%s%s%s",
                address, key, why, revoked ? " principal=" : "",
                revoked ? principal : "");
        zap_reply(zap->socket, &frames[1], "400", why, "", NULL);
        goto out;
    }
    /* Debug: one line a connection is noise with thousands of agents; the
     * metrics count the connections (metrics.h). */
    ws_debug(MODULE, "connection accepted peer=%s principal=%s key=%s", address,
             principal, key);
    zap_reply(zap->socket, &frames[1], "200", "OK", principal, key);

out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

static void *zap_thread(void *arg)
{
    struct zap *zap = arg;
    while (!atomic_load(&zap->stop)) {
        zmq_pollitem_t item = {zap->socket, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, ZAP_POLL_MS);
        if (rc < 0) {
            if (errno == ETERM)
                break;
            continue;
        }
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            handle_zap_request(zap);
    }
    return NULL;
}

/* The keys table must be readable at start, or nobody could ever
 * connect: a lookup of a key nobody holds proves it. */
static int check_keys_readable(struct zap *zap, char *err, size_t errlen)
{
    struct db *db = db_link_get(&zap->link);
    if (!db) {
        snprintf(err, errlen, "ZAP handler: could not connect to the database");
        return -EIO;
    }
    char principal[PRINCIPAL_TEXT_MAX], why[1024];
    bool revoked;
    if (db_keys_lookup(db, "", principal, sizeof principal, &revoked, why,
                       sizeof why) < 0) {
        snprintf(err, errlen, "ZAP handler: cannot read principal_keys: %s",
                 why);
        return -EIO;
    }
    return 0;
}

int zap_start(void *ctx, const char *conninfo, struct zap **out, char *err,
              size_t errlen)
{
    *out = NULL;
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "libzmq was built without CURVE support");
        return -ENOTSUP;
    }
    struct zap *zap = calloc(1, sizeof *zap);
    if (!zap) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&zap->lock, NULL);
    atomic_init(&zap->stop, false);
    db_link_init(&zap->link, conninfo, "district-hub zap", MODULE);
    int rc = check_keys_readable(zap, err, errlen);
    if (rc < 0)
        goto fail_link;

    zap->socket = zmq_socket(ctx, ZMQ_REP);
    int linger = 0;
    if (!zap->socket ||
        zmq_setsockopt(zap->socket, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(zap->socket, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "could not bind the ZAP handler to %s: %s",
                 ZAP_ENDPOINT, zmq_strerror(errno));
        rc = -EIO;
        goto fail_socket;
    }
    int e = pthread_create(&zap->thread, NULL, zap_thread, zap);
    if (e != 0) {
        snprintf(err, errlen, "could not start the ZAP handler thread: %s",
                 strerror(e));
        rc = -e;
        goto fail_socket;
    }
    ws_info(MODULE,
            "ZAP handler bound endpoint=" ZAP_ENDPOINT " domain=" ZAP_DOMAIN);
    *out = zap;
    return 0;

fail_socket:
    if (zap->socket)
        zmq_close(zap->socket);
fail_link:
    db_link_close(&zap->link);
    pthread_mutex_destroy(&zap->lock);
    free(zap);
    return rc;
}

void zap_stop(struct zap **zap)
{
    if (!zap || !*zap)
        return;
    struct zap *z = *zap;
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    zmq_close(z->socket); /* ZMQ_LINGER 0 set at creation */
    db_link_close(&z->link);
    pthread_mutex_destroy(&z->lock);
    free(z);
    *zap = NULL;
}

/* ----------------------------------------------------- CURVE server side */

int zap_server_socket_setup(void *socket, const struct ws_keypair *keys,
                            char *err, size_t errlen)
{
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, keys->secret_z85,
                       WS_KEY_Z85_LEN) != 0 ||
        zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN,
                       strlen(ZAP_DOMAIN)) != 0) {
        snprintf(err, errlen, "could not make a CURVE server socket: %s",
                 zmq_strerror(errno));
        return -EINVAL;
    }
    return 0;
}

int zap_load_hub_keys(const struct hub_settings *settings,
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

/* ---------------------------------------------------------------- monitor */

struct zap_monitor {
    void *pair; /* the thread's once it runs */
    char name[32];
    pthread_t thread;
    atomic_bool stop;
    /* One limit per kind of refusal, so a flood of one hides no other. */
    struct ws_log_limit auth_limit, mismatch_limit, crypto_limit, other_limit;
    /* Handshakes that succeeded, that failed, and sessions that ended
     * (failed handshakes included: libzmq reports both for those). */
    int64_t succeeded, failed, disconnected;
};

/* Authenticated connections open now: every session that ends after its
 * handshake failed was reported as a failure just before, so the others
 * ended connections that had succeeded. */
static void count_connections(struct zap_monitor *m)
{
    int64_t open = m->succeeded - (m->disconnected - m->failed);
    metrics_connections(m->name, open > 0 ? open : 0);
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

/* Counts one monitor event, and logs it when it is a refusal: a frame of
 * event id (2 bytes) and value (4), then a frame with the endpoint. */
static void log_event(struct zap_monitor *m, zmq_msg_t *event,
                      zmq_msg_t *address)
{
    if (zmq_msg_size(event) < 6)
        return;
    const uint8_t *data = zmq_msg_data(event);
    uint16_t id;
    uint32_t value;
    memcpy(&id, data, sizeof id);
    memcpy(&value, data + 2, sizeof value);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED || id == ZMQ_EVENT_DISCONNECTED) {
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            m->succeeded++;
        else
            m->disconnected++;
        count_connections(m);
        return;
    }
    m->failed++;
    count_connections(m);
    char where[128];
    frame_text(address, where, sizeof where);
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        ws_log_limited(&m->auth_limit, MONITOR_LOG_LIMIT_MS, WS_LOG_WARN,
                       MODULE,
                       "handshake refused socket=%s endpoint=%s "
                       "reason=authentication failed status=%u",
                       m->name, where, value);
    else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        ws_log_limited(value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                           ? &m->mismatch_limit
                       : value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
                           ? &m->crypto_limit
                           : &m->other_limit,
                       MONITOR_LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
                       "handshake refused socket=%s endpoint=%s "
                       "reason=%s code=0x%08x",
                       m->name, where, protocol_error_name(value), value);
    else
        ws_log_limited(&m->other_limit, MONITOR_LOG_LIMIT_MS, WS_LOG_WARN,
                       MODULE,
                       "handshake refused socket=%s endpoint=%s "
                       "reason=%s (the peer hung up, e.g. on "
                       "finding no CURVE here)",
                       m->name, where, zmq_strerror((int)value));
}

/* Reads every event waiting on the monitor's socket. */
static void drain_events(struct zap_monitor *m)
{
    for (;;) {
        zmq_msg_t event, address;
        zmq_msg_init(&event);
        if (zmq_msg_recv(&event, m->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&event);
            return;
        }
        zmq_msg_init(&address);
        if (zmq_msg_more(&event))
            zmq_msg_recv(&address, m->pair, ZMQ_DONTWAIT);
        log_event(m, &event, &address);
        zmq_msg_close(&address);
        zmq_msg_close(&event);
    }
}

static void *monitor_thread(void *arg)
{
    struct zap_monitor *m = arg;
    while (!atomic_load(&m->stop)) {
        zmq_pollitem_t item = {m->pair, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, MONITOR_POLL_MS);
        if (rc < 0 && errno == ETERM)
            break;
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            drain_events(m);
    }
    return NULL;
}

int zap_monitor_start(void *ctx, void *socket, const char *name,
                      struct zap_monitor **out)
{
    char endpoint[128];
    *out = NULL;
    struct zap_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        ws_error(MODULE, "could not monitor %s socket: out of memory", name);
        return -EIO;
    }
    ws_strlcpy(m->name, name, sizeof m->name);
    atomic_init(&m->stop, false);
    snprintf(endpoint, sizeof endpoint, "inproc://wardsync-monitor-%s", name);
    if (zmq_socket_monitor(socket, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_DISCONNECTED) != 0) {
        ws_error(MODULE, "could not monitor %s socket: %s", name,
                 zmq_strerror(errno));
        goto fail_monitor;
    }
    m->pair = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    if (!m->pair ||
        zmq_setsockopt(m->pair, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(m->pair, endpoint) != 0) {
        ws_error(MODULE, "could not connect to the %s monitor: %s", name,
                 zmq_strerror(errno));
        goto fail_pair;
    }
    int e = pthread_create(&m->thread, NULL, monitor_thread, m);
    if (e != 0) {
        ws_error(MODULE, "could not start the %s monitor thread: %s", name,
                 strerror(e));
        goto fail_pair;
    }
    *out = m;
    return 0;

fail_pair:
    if (m->pair)
        zmq_close(m->pair);
    zmq_socket_monitor(socket, NULL, 0);
fail_monitor:
    free(m);
    return -EIO;
}

void zap_monitor_stop(struct zap_monitor **monitor)
{
    if (!monitor || !*monitor)
        return;
    struct zap_monitor *m = *monitor;
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    zmq_close(m->pair); /* ZMQ_LINGER 0 set at creation */
    free(m);
    *monitor = NULL;
}
