/*
 * server.c - "district-hub run" (contract in server.h): the ZeroMQ
 * context, the ZAP handler, the ingest ROUTER and its handshake monitor,
 * the pull endpoint's thread, the metrics endpoint, signals, and the loop
 * that steps the ingest and logs its summary.
 * It reads top to bottom: set up in the order safety needs (the ZAP
 * handler before any CURVE socket), loop, tear down in reverse.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ingest.h"
#include "metrics.h"
#include "migrate.h"
#include "notify.h"
#include "pull.h"
#include "wardsync/catalogue.h"
#include "wardsync/keys.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "zap.h"

#define MODULE "server"

/* Send queue per peer: far above any agent's window of unacked batches, so
 * that ROUTER never drops an ack silently (docs/DESIGN.md §4). */
#define INGEST_SNDHWM 10000
#define INGEST_HEARTBEAT_IVL_MS 5000
#define INGEST_HEARTBEAT_TIMEOUT_MS 15000
/* Long enough to flush acks of committed batches on a clean stop; an ack
 * lost here only makes the agent resend and get duplicates. */
#define INGEST_LINGER_MS 500
#define SERVER_POLL_MS 500

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int set_int_option(void *socket, int option, int value, const char *name)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) == 0)
        return 0;
    ws_error(MODULE, "could not set %s: %s", name, zmq_strerror(errno));
    return -1;
}

/* Creates, configures and binds the ROUTER, a CURVE server when keys is
 * not NULL. Returns 0, -EDOM (an endpoint ZeroMQ cannot bind) or -EIO. */
static int open_socket(void *ctx, const char *endpoint, int64_t max_frame,
                       int backlog, const struct ws_keypair *keys, void **out)
{
    void *socket = zmq_socket(ctx, ZMQ_ROUTER);
    if (!socket) {
        ws_error(MODULE, "could not create socket: %s", zmq_strerror(errno));
        return -EIO;
    }
    int rc = -EIO;
    if (set_int_option(socket, ZMQ_LINGER, INGEST_LINGER_MS, "ZMQ_LINGER") ||
        set_int_option(socket, ZMQ_ROUTER_MANDATORY, 1,
                       "ZMQ_ROUTER_MANDATORY") ||
        set_int_option(socket, ZMQ_SNDHWM, INGEST_SNDHWM, "ZMQ_SNDHWM") ||
        set_int_option(socket, ZMQ_HEARTBEAT_IVL, INGEST_HEARTBEAT_IVL_MS,
                       "ZMQ_HEARTBEAT_IVL") ||
        set_int_option(socket, ZMQ_HEARTBEAT_TIMEOUT,
                       INGEST_HEARTBEAT_TIMEOUT_MS, "ZMQ_HEARTBEAT_TIMEOUT") ||
        set_int_option(socket, ZMQ_HEARTBEAT_TTL, INGEST_HEARTBEAT_TIMEOUT_MS,
                       "ZMQ_HEARTBEAT_TTL") ||
        set_int_option(socket, ZMQ_BACKLOG, backlog, "ZMQ_BACKLOG"))
        goto fail_socket;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_frame, sizeof max_frame)) {
        ws_error(MODULE, "could not set ZMQ_MAXMSGSIZE: %s",
                 zmq_strerror(errno));
        goto fail_socket;
    }
    char curve_err[256];
    if (keys && zap_server_socket_setup(socket, keys, curve_err,
                                        sizeof curve_err) < 0) {
        ws_error(MODULE, "%s", curve_err);
        goto fail_socket;
    }
    if (zmq_bind(socket, endpoint) != 0) {
        int saved = errno;
        ws_error(MODULE, "could not bind \"%s\": %s", endpoint,
                 zmq_strerror(saved));
        if (saved == EINVAL || saved == EPROTONOSUPPORT)
            rc = -EDOM;
        goto fail_socket;
    }
    char bound[256];
    size_t bound_len = sizeof bound;
    if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0)
        ws_strlcpy(bound, endpoint, sizeof bound);
    ws_info(MODULE,
            "ingest endpoint=%s max_frame=%" PRId64 " backlog=%d curve=%s",
            bound, max_frame, backlog, keys ? "on" : "off");
    *out = socket;
    return 0;

fail_socket:
    zmq_close(socket);
    return rc;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: zmq_poll must return EINTR so the loop sees it. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The info line that stands for the per-batch ones (those are debug): what
 * the last interval brought. */
static void log_summary(int64_t interval_s)
{
    struct metrics_summary s;
    metrics_summary_take(&s);
    ws_info(
        MODULE,
        "summary seconds=%" PRId64 " batches=%" PRIu64 " events=%" PRIu64
        " duplicates=%" PRIu64 " conflicts=%" PRIu64 " rejected=%" PRIu64
        " refused_batches=%" PRIu64 " slowest_commit_ms=%.1f agents=%" PRId64,
        interval_s, s.batches, s.events, s.duplicates, s.conflicts, s.rejected,
        s.refused, (double)s.slowest_commit_us / 1000.0, s.agents);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int server_run(const struct hub_settings *settings, const char *endpoint,
               bool insecure)
{
    struct ws_keypair keys = {{0}, {0}};
    if (insecure)
        ws_warn(MODULE,
                "insecure mode (--insecure): no encryption, no "
                "authentication; the ward is taken from each batch and any "
                "peer that can reach the ingest endpoint can write as any "
                "ward, and the pull endpoint (loopback unless hub.pull says "
                "otherwise) answers anyone; for local experiments only");
    else if (zap_load_hub_keys(settings, &keys) < 0)
        return -EDOM;

    struct ws_catalogue *cat = NULL;
    struct ingest *in = NULL;
    struct zap *zap = NULL;
    void *ctx = NULL, *socket = NULL;
    struct zap_monitor *monitor = NULL;
    char err[1024];
    int load = ws_catalogue_load(settings->catalogue, &cat, err, sizeof err);
    if (load < 0) {
        ws_error(MODULE, "could not load catalogue: %s", err);
        return (load == -ENOENT || load == -EIO || load == -EACCES) ? -EIO
                                                                    : -EINVAL;
    }

    int rc = migrate_ensure(settings);
    if (rc < 0)
        goto out_catalogue;

    ctx = zmq_ctx_new();
    if (!ctx) {
        ws_error(MODULE, "could not create ZeroMQ context: %s",
                 zmq_strerror(errno));
        rc = -EIO;
        goto out_catalogue;
    }
    /* The ZAP handler first: a CURVE socket bound without one would let
     * every client in. */
    if (!insecure &&
        zap_start(ctx, settings->database, &zap, err, sizeof err) < 0) {
        ws_error(MODULE, "cannot run the ZAP handler, not starting: %s", err);
        rc = -EIO;
        goto out_ctx;
    }
    rc = open_socket(ctx, endpoint ? endpoint : settings->ingest,
                     settings->max_frame, (int)settings->listen_backlog,
                     insecure ? NULL : &keys, &socket);
    if (rc < 0)
        goto out_zap;
    if (!insecure && zap_monitor_start(ctx, socket, "ingest", &monitor) < 0) {
        rc = -EIO;
        goto out_socket;
    }
    int open = ingest_open(settings, cat, socket, zap, insecure, &in);
    if (open < 0) {
        if (open == -ENOMEM)
            ws_error(MODULE, "out of memory");
        rc = -EIO;
        goto out_socket;
    }
    struct pull_server *pull = NULL;
    rc = pull_start(ctx, settings, insecure ? NULL : &keys, &pull);
    if (rc < 0)
        goto out_ingest;
    struct metrics_server *metrics = NULL;
    rc = metrics_start(settings->metrics_endpoint, &metrics, err, sizeof err);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        goto out_pull;
    }

    install_signal_handlers();
    notify_ready();
    int64_t summary_ms = settings->summary_interval_s * 1000;
    int64_t next_summary = ws_monotonic_ms() + summary_ms;
    while (!stop_requested) {
        notify_watchdog();
        if (summary_ms > 0 && ws_monotonic_ms() >= next_summary) {
            log_summary(settings->summary_interval_s);
            next_summary = ws_monotonic_ms() + summary_ms;
        }
        bool up = ingest_database_up(in);
        metrics_database_up(up);
        if (!up) {
            int64_t wait = ingest_database_retry_ms(in);
            sleep_ms(wait > 200 ? 200 : wait < 50 ? 50 : wait);
            continue;
        }
        bool pending = ingest_pending(in);
        zmq_pollitem_t items[1] = {{socket, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, 1, pending ? 0 : SERVER_POLL_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ws_error(MODULE, "poll failed: %s", zmq_strerror(errno));
            rc = -EIO;
            break;
        }
        /* Batches with events left are written on, new ones or not. */
        if ((n > 0 && (items[0].revents & ZMQ_POLLIN)) || pending)
            ingest_step(in);
    }
    if (stop_requested)
        ws_info(MODULE, "stopping on signal");
    notify_stopping();

    metrics_stop(&metrics);
out_pull:
    pull_stop(&pull); /* its own thread: see pull.h */
out_ingest:
    ingest_close(&in);
out_socket:
    zap_monitor_stop(&monitor);
    zmq_close(socket); /* ZMQ_LINGER was set at creation */
out_zap:
    zap_stop(&zap); /* after every CURVE socket is closed */
out_ctx:
    zmq_ctx_term(ctx);
out_catalogue:
    ws_catalogue_destroy(&cat);
    ws_keys_wipe(&keys);
    return rc;
}
