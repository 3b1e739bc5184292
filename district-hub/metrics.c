/*
 * metrics.c - the hub's counters and their HTTP endpoint (contract in
 * metrics.h, the metrics themselves in docs/contracts.md).
 *
 * Counters and histogram buckets are C11 atomics with relaxed order: a
 * scrape may see one counter a bump ahead of another, never a torn value.
 * The unit and dataset tables take a mutex for a copy of one row. The
 * text is rendered on libmicrohttpd's thread, from a copy.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/v1/transport.pb-c.h"

#define MODULE "metrics"

/* Far above the org units of a district (power of two: open addressing). */
#define UNIT_SLOTS 4096
#define UNIT_CODE_MAX 80
#define DATASET_SLOTS 16
#define DATASET_NAME_MAX 48
/* A scrape is one short request: a few at once are plenty, and a stuck
 * client is dropped. */
#define HTTP_CONNECTION_LIMIT 16
#define HTTP_TIMEOUT_S 10

/* ------------------------------------------------------------- counters */

/* Bucket bounds in microseconds (printed in seconds); +Inf is implied. */
static const int64_t bucket_us[] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
#define N_BUCKETS (sizeof bucket_us / sizeof bucket_us[0])

struct histogram {
    atomic_uint_fast64_t bucket[N_BUCKETS + 1]; /* not cumulative; last +Inf */
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t count;
};

enum event_outcome {
    EV_ACCEPTED,
    EV_DUPLICATE,
    EV_CONFLICT,
    EV_REJECTED,
    N_EV
};

static const char *const event_names[N_EV] = {"accepted", "duplicate",
                                              "conflict", "rejected"};

/* Indexed by Ack.refusal; 0 (none) counts a refusal of a kind unknown
 * here. */
#define N_REFUSALS 10
static const char *const refusal_names[N_REFUSALS] = {
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_NONE] = "other",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP] = "gap",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_PROTOCOL] = "protocol",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_MALFORMED] = "malformed",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BAD_SEQS] = "bad_seqs",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_IDENTITY] = "identity",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_KEY_REVOKED] = "key_revoked",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_UNKNOWN_WARD] = "unknown_ward",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_DATABASE_UNAVAILABLE] =
        "database_unavailable",
    [WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BUSY] = "busy",
};

struct unit_row {
    char code[UNIT_CODE_MAX]; /* "" when the slot is free */
    int64_t last_contact_ms;  /* wall clock */
    uint64_t backlog;
};

static struct {
    atomic_uint_fast64_t committed;
    atomic_uint_fast64_t refused[N_REFUSALS];
    atomic_uint_fast64_t events[N_EV];
    struct histogram commit;
    struct histogram ack;
    atomic_int_fast64_t slowest_commit_us; /* since the last summary */
    atomic_bool database_up;
    atomic_int_fast64_t ingest_connections;
    atomic_int_fast64_t pull_connections;

    pthread_mutex_t unit_lock;
    struct unit_row units[UNIT_SLOTS]; /* guarded by unit_lock */
    size_t n_units;                    /* guarded by unit_lock */

    pthread_mutex_t dataset_lock;
    char datasets[DATASET_SLOTS][DATASET_NAME_MAX]; /* guarded */
    atomic_uint_fast64_t pulls[DATASET_SLOTS];
} m = {
    .unit_lock = PTHREAD_MUTEX_INITIALIZER,
    .dataset_lock = PTHREAD_MUTEX_INITIALIZER,
};

static void histogram_observe(struct histogram *h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t i = 0;
    while (i < N_BUCKETS && us > bucket_us[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)us,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

static void add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void metrics_batch_committed(size_t accepted, size_t duplicates,
                             size_t conflicts, size_t rejected)
{
    add(&m.committed, 1);
    add(&m.events[EV_ACCEPTED], accepted);
    add(&m.events[EV_DUPLICATE], duplicates);
    add(&m.events[EV_CONFLICT], conflicts);
    add(&m.events[EV_REJECTED], rejected);
}

void metrics_batch_refused(int refusal)
{
    add(&m.refused[refusal > 0 && refusal < N_REFUSALS ? refusal : 0], 1);
}

void metrics_commit_time(int64_t us)
{
    histogram_observe(&m.commit, us);
    int_fast64_t slowest =
        atomic_load_explicit(&m.slowest_commit_us, memory_order_relaxed);
    while (us > slowest && !atomic_compare_exchange_weak_explicit(
                               &m.slowest_commit_us, &slowest, us,
                               memory_order_relaxed, memory_order_relaxed))
        ;
}

void metrics_ack_latency(int64_t us)
{
    histogram_observe(&m.ack, us);
}

void metrics_database_up(bool up)
{
    atomic_store_explicit(&m.database_up, up, memory_order_relaxed);
}

void metrics_connections(const char *socket, int64_t n)
{
    if (strcmp(socket, "ingest") == 0)
        atomic_store_explicit(&m.ingest_connections, n, memory_order_relaxed);
    else if (strcmp(socket, "pull") == 0)
        atomic_store_explicit(&m.pull_connections, n, memory_order_relaxed);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a, for the slot a unit code starts looking at. */
static size_t unit_hash(const char *code)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (UNIT_SLOTS - 1);
}

void metrics_unit_contact(const char *unit, uint64_t backlog)
{
    if (!unit || !unit[0] || strlen(unit) >= UNIT_CODE_MAX)
        return;
    int64_t now = wall_ms();
    pthread_mutex_lock(&m.unit_lock);
    for (size_t i = unit_hash(unit), probes = 0; probes < UNIT_SLOTS;
         i = (i + 1) & (UNIT_SLOTS - 1), probes++) {
        struct unit_row *row = &m.units[i];
        if (!row->code[0]) {
            if (m.n_units >= UNIT_SLOTS / 2)
                break; /* full enough: a new unit is not tracked */
            ws_strlcpy(row->code, unit, sizeof row->code);
            m.n_units++;
        } else if (strcmp(row->code, unit) != 0)
            continue;
        row->last_contact_ms = now;
        row->backlog = backlog;
        break;
    }
    pthread_mutex_unlock(&m.unit_lock);
}

void metrics_pull_request(const char *dataset)
{
    if (!dataset || !dataset[0] || strlen(dataset) >= DATASET_NAME_MAX)
        return;
    pthread_mutex_lock(&m.dataset_lock);
    for (size_t i = 0; i < DATASET_SLOTS; i++) {
        if (!m.datasets[i][0])
            ws_strlcpy(m.datasets[i], dataset, sizeof m.datasets[i]);
        else if (strcmp(m.datasets[i], dataset) != 0)
            continue;
        add(&m.pulls[i], 1);
        break;
    }
    pthread_mutex_unlock(&m.dataset_lock);
}

/* -------------------------------------------------------------- summary */

void metrics_summary_take(struct metrics_summary *out)
{
    static struct metrics_summary last; /* totals at the previous call */
    struct metrics_summary now = {
        .batches = get(&m.committed),
        .duplicates = get(&m.events[EV_DUPLICATE]),
        .conflicts = get(&m.events[EV_CONFLICT]),
        .rejected = get(&m.events[EV_REJECTED]),
    };
    now.events = get(&m.events[EV_ACCEPTED]) + now.duplicates + now.conflicts +
                 now.rejected;
    for (size_t i = 0; i < N_REFUSALS; i++)
        now.refused += get(&m.refused[i]);
    *out = (struct metrics_summary){
        .batches = now.batches - last.batches,
        .events = now.events - last.events,
        .duplicates = now.duplicates - last.duplicates,
        .conflicts = now.conflicts - last.conflicts,
        .rejected = now.rejected - last.rejected,
        .refused = now.refused - last.refused,
        .slowest_commit_us = atomic_exchange_explicit(&m.slowest_commit_us, 0,
                                                      memory_order_relaxed),
        .agents =
            atomic_load_explicit(&m.ingest_connections, memory_order_relaxed),
    };
    last = now;
}

/* ------------------------------------------------------------ rendering */

/* Writes value as a label value: backslash, double quote and newline
 * escaped (the text format's rules). */
static void put_label(FILE *f, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static void put_header(FILE *f, const char *name, const char *type,
                       const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_histogram(FILE *f, const char *name, const char *help,
                          struct histogram *h)
{
    put_header(f, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cumulative += get(&h->bucket[i]);
        fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                (double)bucket_us[i] / 1e6, cumulative);
    }
    cumulative += get(&h->bucket[N_BUCKETS]);
    /* count read after the buckets, and never below their sum, so that
     * +Inf equals _count as the format requires even during a bump. */
    uint64_t count = get(&h->count);
    if (count < cumulative)
        count = cumulative;
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, count);
    fprintf(f, "%s_sum %.6f\n", name, (double)get(&h->sum_us) / 1e6);
    fprintf(f, "%s_count %" PRIu64 "\n", name, count);
}

/* The unit table as it is now, copied under its lock. */
static struct unit_row *copy_units(size_t *n)
{
    *n = 0;
    pthread_mutex_lock(&m.unit_lock);
    struct unit_row *rows = malloc((m.n_units ? m.n_units : 1) * sizeof *rows);
    for (size_t i = 0; rows && i < UNIT_SLOTS && *n < m.n_units; i++)
        if (m.units[i].code[0])
            rows[(*n)++] = m.units[i];
    pthread_mutex_unlock(&m.unit_lock);
    return rows;
}

static void put_units(FILE *f, const struct unit_row *rows, size_t n)
{
    put_header(f, "wardsync_hub_unit_last_contact_timestamp_seconds", "gauge",
               "When the hub last received a batch from the org unit "
               "(Unix time).");
    for (size_t i = 0; i < n; i++) {
        fputs("wardsync_hub_unit_last_contact_timestamp_seconds{unit=\"", f);
        put_label(f, rows[i].code);
        fprintf(f, "\"} %.3f\n", (double)rows[i].last_contact_ms / 1000.0);
    }
    put_header(f, "wardsync_hub_unit_backlog_events", "gauge",
               "Events the org unit's agent still had queued behind its last "
               "batch.");
    for (size_t i = 0; i < n; i++) {
        fputs("wardsync_hub_unit_backlog_events{unit=\"", f);
        put_label(f, rows[i].code);
        fprintf(f, "\"} %" PRIu64 "\n", rows[i].backlog);
    }
}

static void put_pulls(FILE *f)
{
    put_header(f, "wardsync_hub_pull_requests_total", "counter",
               "Pull requests received, by dataset.");
    pthread_mutex_lock(&m.dataset_lock);
    for (size_t i = 0; i < DATASET_SLOTS && m.datasets[i][0]; i++) {
        fputs("wardsync_hub_pull_requests_total{dataset=\"", f);
        put_label(f, m.datasets[i]);
        fprintf(f, "\"} %" PRIu64 "\n", get(&m.pulls[i]));
    }
    pthread_mutex_unlock(&m.dataset_lock);
}

int metrics_render(char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    size_t n_units;
    struct unit_row *units = copy_units(&n_units);
    if (!units)
        return -ENOMEM;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        free(units);
        return -ENOMEM;
    }
    put_header(f, "wardsync_hub_batches_total", "counter",
               "Batches answered, by outcome: committed, or the refusal "
               "sent in the Ack.");
    fprintf(f,
            "wardsync_hub_batches_total{outcome=\"committed\"} %" PRIu64 "\n",
            get(&m.committed));
    for (size_t i = 1; i <= N_REFUSALS; i++) {
        size_t r = i % N_REFUSALS; /* "other" last */
        fprintf(f, "wardsync_hub_batches_total{outcome=\"%s\"} %" PRIu64 "\n",
                refusal_names[r], get(&m.refused[r]));
    }
    put_header(f, "wardsync_hub_events_total", "counter",
               "Events of committed batches, by outcome.");
    for (size_t i = 0; i < N_EV; i++)
        fprintf(f, "wardsync_hub_events_total{outcome=\"%s\"} %" PRIu64 "\n",
                event_names[i], get(&m.events[i]));
    put_histogram(f, "wardsync_hub_group_commit_seconds",
                  "Time of one group commit (one transaction).", &m.commit);
    put_histogram(f, "wardsync_hub_ack_latency_seconds",
                  "From a batch's frame received to its Ack sent, for "
                  "committed batches.",
                  &m.ack);
    put_header(f, "wardsync_hub_database_up", "gauge",
               "1 while the writer's database session is up.");
    fprintf(f, "wardsync_hub_database_up %d\n",
            atomic_load_explicit(&m.database_up, memory_order_relaxed) ? 1 : 0);
    put_header(f, "wardsync_hub_connections", "gauge",
               "Authenticated connections open, by socket (ingest: the "
               "connected agents).");
    fprintf(f, "wardsync_hub_connections{socket=\"ingest\"} %" PRIdFAST64 "\n",
            atomic_load_explicit(&m.ingest_connections, memory_order_relaxed));
    fprintf(f, "wardsync_hub_connections{socket=\"pull\"} %" PRIdFAST64 "\n",
            atomic_load_explicit(&m.pull_connections, memory_order_relaxed));
    put_units(f, units, n_units);
    put_pulls(f);
    free(units);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return -ENOMEM;
    }
    *text = buf;
    *len = size;
    return 0;
}

/* --------------------------------------------------------------- server */

struct metrics_server {
    struct MHD_Daemon *daemon;
};

static enum MHD_Result send_text(struct MHD_Connection *connection,
                                 unsigned int status, const char *type,
                                 char *text, size_t len,
                                 enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, text, mode);
    if (!response) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

/* GET (or HEAD) /metrics; anything else is 404 or 405. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *connection,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **state)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    static int first_call;
    if (!*state) {
        /* The first call brings the headers only: answer on the next. */
        *state = &first_call;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body is ignored */
        return MHD_YES;
    }
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char not_allowed[] = "method not allowed: use GET\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                         not_allowed, sizeof not_allowed - 1,
                         MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return send_text(connection, MHD_HTTP_NOT_FOUND, "text/plain",
                         not_found, sizeof not_found - 1,
                         MHD_RESPMEM_PERSISTENT);
    char *text;
    size_t len;
    if (metrics_render(&text, &len) < 0)
        return MHD_NO; /* libmicrohttpd closes the connection */
    return send_text(connection, MHD_HTTP_OK,
                     "text/plain; version=0.0.4; charset=utf-8", text, len,
                     MHD_RESPMEM_MUST_FREE);
}

/* Splits "HOST:PORT" / "[HOST]:PORT" into a socket address. Returns 0 or
 * -EDOM (reason in err). */
static int parse_endpoint(const char *endpoint, struct sockaddr_storage *addr,
                          char *host, size_t hostlen, char *err, size_t errlen)
{
    const char *colon = strrchr(endpoint, ':');
    const char *start = endpoint, *end = colon;
    if (colon && endpoint[0] == '[') {
        start = endpoint + 1;
        end = colon > endpoint && colon[-1] == ']' ? colon - 1 : NULL;
    }
    char *port_end = NULL;
    long port = colon ? strtol(colon + 1, &port_end, 10) : -1;
    if (!end || end == start || (size_t)(end - start) >= hostlen || !colon[1] ||
        *port_end || port < 0 || port > 65535) {
        snprintf(err, errlen,
                 "hub.metrics_endpoint \"%s\": want HOST:PORT (e.g. %s), "
                 "[IPV6]:PORT or none",
                 endpoint, METRICS_DEFAULT_ENDPOINT);
        return -EDOM;
    }
    memcpy(host, start, (size_t)(end - start));
    host[end - start] = '\0';
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *found = NULL;
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%ld", port);
    if (getaddrinfo(host, port_text, &hints, &found) != 0 || !found) {
        snprintf(err, errlen,
                 "hub.metrics_endpoint \"%s\": \"%s\" is not a numeric IP "
                 "address",
                 endpoint, host);
        return -EDOM;
    }
    memset(addr, 0, sizeof *addr);
    memcpy(addr, found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    return 0;
}

int metrics_start(const char *endpoint, struct metrics_server **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (!endpoint || !endpoint[0] || strcmp(endpoint, "none") == 0) {
        ws_info(MODULE, "metrics endpoint disabled");
        return 0;
    }
    struct sockaddr_storage addr;
    char host[64];
    int rc = parse_endpoint(endpoint, &addr, host, sizeof host, err, errlen);
    if (rc < 0)
        return rc;
    struct metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -EIO;
    }
    bool v6 = addr.ss_family == AF_INET6;
    /* libmicrohttpd's thread takes no signal: they are the main loop's. */
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved);
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            (v6 ? MHD_USE_IPv6 : 0),
        0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)HTTP_CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)HTTP_TIMEOUT_S, MHD_OPTION_END);
    int saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (!s->daemon) {
        snprintf(err, errlen,
                 "could not serve metrics on hub.metrics_endpoint \"%s\": %s",
                 endpoint,
                 saved_errno ? strerror(saved_errno) : "libmicrohttpd failed");
        free(s);
        return -EIO;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    ws_info(MODULE, "metrics endpoint=http://%s%s%s:%u/metrics", v6 ? "[" : "",
            host, v6 ? "]" : "", info ? (unsigned)info->port : 0u);
    *out = s;
    return 0;
}

void metrics_stop(struct metrics_server **server)
{
    if (!server || !*server)
        return;
    MHD_stop_daemon((*server)->daemon);
    free(*server);
    *server = NULL;
}
