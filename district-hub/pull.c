/*
 * pull.c - the pull endpoint: PullRequest in, PullPage out (pull.h).
 *
 * A request names a dataset, an optional ward (scope), a cursor (the
 * next_cursor of the previous page) and a page size. Rows come in change
 * order (sql/001_baseline.sql), so a client that keeps its last cursor
 * gets, next time, exactly the rows inserted, corrected or deleted since.
 *
 * indicators and ballot_aggregates are derived: at each request the hub
 * recomputes them into pull_snapshot, which gives a changed figure a new
 * change number. ballot_aggregates and (when present) indicators are read
 * from the published views, which apply the publication rule; until
 * published.indicators exists the hub's own counts are used, with ballot
 * counts under 10 suppressed here.
 */
#include "pull.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "envelope.h"
#include "store.h"
#include "store_pull.h"
#include "wardsync/codec.h"
#include "wardsync/config.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/v1/pull.pb-c.h"
#include "wardsync/validate.h"

#define MODULE "pull"

#define PULL_LINGER_MS 200
#define PULL_MAX_REQUEST 65536
#define PULL_SNDHWM 1000
#define LOG_LIMIT_MS 10000
/* A derived dataset is recomputed when its sources changed, and at least
 * this often (settings such as thresholds may change without a batch). */
#define DERIVED_MAX_AGE_MS 300000
/* Ballot-derived cells counting fewer ballots are published as "<10". */
#define SUPPRESS_BELOW 10

struct pull_server {
    const struct hub_settings *settings;
    void *socket;
    struct store_reader *rd; /* NULL until the first request or after loss */
    struct store *st;        /* for the hub's own indicator counts */
    bool secure;             /* CURVE: every request must carry a User-Id */
    /* When indicators [0] and ballot_aggregates [1] were last recomputed,
     * and the source signature then. */
    char derived_sig[2][256];
    int64_t derived_at_ms[2];
    struct ws_log_limit db_limit;
    struct ws_log_limit peer_limit;
};

static void send_page(struct pull_server *ps, struct envelope *env,
                      const Wardsync__V1__PullPage *page)
{
    int rc = envelope_reply(ps->socket, env, &page->base);
    if (rc == -ENOMEM)
        ws_error(MODULE, "could not encode page: out of memory");
    else if (rc < 0)
        ws_log_limited(&ps->peer_limit, LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
                       "could not send page peer=%s: %s", env->peer,
                       zmq_strerror(-rc));
}

static void send_error(struct pull_server *ps, struct envelope *env,
                       const char *dataset, const char *error)
{
    Wardsync__V1__PullPage page = WARDSYNC__V1__PULL_PAGE__INIT;
    page.dataset = (char *)(dataset ? dataset : "");
    page.error = (char *)error;
    send_page(ps, env, &page);
}

bool pull_authorise(const char *user_id, const char *dataset, const char *scope,
                    const char **scope_out, char *reason, size_t reasonlen)
{
    *scope_out = scope;
    if (!user_id || !user_id[0] || strncmp(user_id, "city:", 5) == 0)
        return true;
    if (strncmp(user_id, "ward:", 5) == 0 && user_id[5]) {
        const char *ward = user_id + 5;
        if (strcmp(dataset, "petitions") != 0 &&
            strcmp(dataset, "sync_status") != 0) {
            snprintf(reason, reasonlen,
                     "not allowed: a ward may pull only its own petitions "
                     "and sync_status");
            return false;
        }
        if (scope[0] && strcmp(scope, ward) != 0) {
            snprintf(reason, reasonlen,
                     "not allowed: a ward may pull only its own ward");
            return false;
        }
        *scope_out = ward;
        return true;
    }
    snprintf(reason, reasonlen, "not allowed: unknown principal");
    return false;
}

/* "c<N>" (or "" for 0). */
static int parse_cursor(const char *text, uint64_t *since)
{
    *since = 0;
    if (!text || !text[0])
        return 0;
    if (text[0] != 'c' || !text[1] || strlen(text) > 21)
        return -1;
    for (const char *p = text + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    *since = strtoull(text + 1, NULL, 10);
    return 0;
}

static int ensure_reader(struct pull_server *ps, char *err, size_t errlen)
{
    if (ps->rd && store_reader_ok(ps->rd))
        return 0;
    store_reader_close(&ps->rd);
    return store_reader_open(ps->settings->database, &ps->rd, err, errlen);
}

static bool is_ballot_indicator(const char *code)
{
    return strncmp(code, "ballot", 6) == 0;
}

/* The hub's own counts as snapshot rows. A ballot count in 1..9 is
 * published as "<10", and so is the district total it is part of, so that
 * the suppressed cell cannot be recovered by subtraction. */
static int refresh_own_indicators(struct pull_server *ps, char *err,
                                  size_t errlen)
{
    if (!ps->st && store_open(ps->settings->database, &ps->st, err, errlen) < 0)
        return -EIO;
    struct store_indicator_row *rows = NULL;
    size_t n = 0;
    int rc = store_indicator_counts(ps->st, NULL, NULL, &rows, &n, err, errlen);
    if (rc < 0) {
        store_close(&ps->st);
        return rc;
    }
    bool any_suppressed = false;
    for (size_t i = 0; i < n; i++)
        if (is_ballot_indicator(rows[i].code) && rows[i].count > 0 &&
            rows[i].count < SUPPRESS_BELOW)
            any_suppressed = true;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        char key[256], value[32];
        snprintf(key, sizeof key, "%s/%s/all", rows[i].code, rows[i].org_unit);
        bool suppress =
            is_ballot_indicator(rows[i].code) &&
            ((rows[i].count > 0 && rows[i].count < SUPPRESS_BELOW) ||
             (any_suppressed && strcmp(rows[i].kind, "rollup") == 0));
        if (suppress)
            snprintf(value, sizeof value, "<%d", SUPPRESS_BELOW);
        else
            snprintf(value, sizeof value, "%" PRId64, rows[i].count);
        json_t *row = json_pack(
            "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "key", key, "ward",
            strcmp(rows[i].kind, "ward") == 0 ? rows[i].org_unit : "", "data",
            "code", rows[i].code, "org_unit", rows[i].org_unit, "name",
            rows[i].name, "kind", rows[i].kind, "period", "all", "value",
            value);
        if (!row || json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(rows);
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = store_pull_snapshot_replace(ps->rd, "indicators", text, err, errlen);
    free(text);
    return rc;
}

static const char *const OWN_INDICATOR_COLUMNS[] = {
    "code", "org_unit", "name", "kind", "period", "value", NULL};

/* Fills page->rows from t: columns op, key, change, then either the
 * dataset's columns (first_data onwards) or one "data" JSON column to be
 * spread over json_columns. */
struct page_build {
    Wardsync__V1__PullPage page;
    Wardsync__V1__Row *rows;
    Wardsync__V1__Row **row_ptrs;
    char ***values; /* per row, n_columns strings (owned) */
    uint32_t **nulls;
    char **columns; /* owned copies */
    size_t n_rows, n_columns;
};

static void page_build_clear(struct page_build *b)
{
    for (size_t r = 0; r < b->n_rows; r++) {
        if (b->values && b->values[r]) {
            for (size_t c = 0; c < b->n_columns; c++)
                free(b->values[r][c]);
            free(b->values[r]);
        }
        if (b->nulls)
            free(b->nulls[r]);
    }
    for (size_t c = 0; b->columns && c < b->n_columns; c++)
        free(b->columns[c]);
    free(b->columns);
    free(b->values);
    free(b->nulls);
    free(b->rows);
    free(b->row_ptrs);
    memset(b, 0, sizeof *b);
}

static Wardsync__V1__RowOp op_of(const char *op)
{
    if (strcmp(op, "insert") == 0)
        return WARDSYNC__V1__ROW_OP__ROW_OP_INSERT;
    if (strcmp(op, "delete") == 0)
        return WARDSYNC__V1__ROW_OP__ROW_OP_DELETE;
    return WARDSYNC__V1__ROW_OP__ROW_OP_UPDATE;
}

static char *json_value_text(json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* json_columns NULL: the table's own columns from index 3. Returns 0 or
 * -ENOMEM. */
static int page_build_fill(struct page_build *b, const struct store_table *t,
                           size_t n_rows, const char *const *json_columns)
{
    size_t n_columns = 0;
    if (json_columns)
        while (json_columns[n_columns])
            n_columns++;
    else
        n_columns = t->n_columns - 3;
    b->n_columns = n_columns;
    b->columns = calloc(n_columns + 1, sizeof *b->columns);
    b->rows = calloc(n_rows + 1, sizeof *b->rows);
    b->row_ptrs = calloc(n_rows + 1, sizeof *b->row_ptrs);
    b->values = calloc(n_rows + 1, sizeof *b->values);
    b->nulls = calloc(n_rows + 1, sizeof *b->nulls);
    if (!b->columns || !b->rows || !b->row_ptrs || !b->values || !b->nulls)
        return -ENOMEM;
    for (size_t c = 0; c < n_columns; c++)
        if (!(b->columns[c] =
                  strdup(json_columns ? json_columns[c] : t->columns[c + 3])))
            return -ENOMEM;
    b->n_rows = n_rows;
    for (size_t r = 0; r < n_rows; r++) {
        Wardsync__V1__Row *row = &b->rows[r];
        wardsync__v1__row__init(row);
        b->row_ptrs[r] = row;
        row->op = op_of(store_table_get(t, r, 0));
        row->key = (char *)store_table_get(t, r, 1);
        row->change = strtoull(store_table_get(t, r, 2), NULL, 10);
        b->values[r] = calloc(n_columns + 1, sizeof *b->values[r]);
        b->nulls[r] = calloc(n_columns + 1, sizeof *b->nulls[r]);
        if (!b->values[r] || !b->nulls[r])
            return -ENOMEM;
        json_t *data = NULL;
        if (json_columns) {
            const char *text = store_table_get(t, r, 4);
            data = text ? json_loads(text, 0, NULL) : NULL;
        }
        for (size_t c = 0; c < n_columns; c++) {
            char *v;
            if (json_columns)
                v = json_value_text(json_object_get(data, json_columns[c]));
            else {
                const char *cell = store_table_get(t, r, c + 3);
                v = cell ? strdup(cell) : NULL;
            }
            if (!v) {
                b->nulls[r][row->n_nulls++] = (uint32_t)c;
                v = strdup("");
            }
            if (!v) {
                json_decref(data);
                return -ENOMEM;
            }
            b->values[r][c] = v;
        }
        json_decref(data);
        row->n_values = n_columns;
        row->values = b->values[r];
        row->nulls = b->nulls[r];
    }
    b->page.n_columns = n_columns;
    b->page.columns = b->columns;
    b->page.n_rows = n_rows;
    b->page.rows = b->row_ptrs;
    return 0;
}

/* Serves one decoded request. Returns 0, or -EIO after a database error
 * (the error has been answered). */
static int serve(struct pull_server *ps, struct envelope *env,
                 const Wardsync__V1__PullRequest *req, const char *user_id)
{
    char reason[512], err[1024];
    const char *dataset = req->dataset ? req->dataset : "";
    const char *scope = req->scope ? req->scope : "";
    bool own_indicators = false;
    if (strcmp(dataset, "indicators") != 0 &&
        strcmp(dataset, "petitions") != 0 &&
        strcmp(dataset, "ballot_aggregates") != 0 &&
        strcmp(dataset, "sync_status") != 0) {
        send_error(ps, env, dataset,
                   "unknown dataset (indicators, petitions, "
                   "ballot_aggregates, sync_status)");
        return 0;
    }
    if (scope[0] &&
        ws_validate_code("scope", scope, reason, sizeof reason) != 0) {
        send_error(ps, env, dataset, reason);
        return 0;
    }
    if (!pull_authorise(user_id, dataset, scope, &scope, reason,
                        sizeof reason)) {
        ws_log_limited(&ps->peer_limit, LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
                       "pull refused user=%s dataset=%s reason=%s", user_id,
                       dataset, reason);
        send_error(ps, env, dataset, reason);
        return 0;
    }
    uint64_t since;
    if (parse_cursor(req->since, &since) < 0) {
        send_error(ps, env, dataset, "bad cursor");
        return 0;
    }
    unsigned limit = req->page_size ? req->page_size : PULL_DEFAULT_PAGE_SIZE;
    if (limit > PULL_MAX_PAGE_SIZE)
        limit = PULL_MAX_PAGE_SIZE;

    if (ensure_reader(ps, err, sizeof err) < 0)
        goto db_error;

    struct store_table t = {0}, view_columns = {0};
    struct page_build b = {0};
    int rc = 0;
    const char *view = NULL;
    if (strcmp(dataset, "indicators") == 0) {
        bool exists = false;
        rc = store_reader_relation_exists(ps->rd, "published.indicators",
                                          &exists, err, sizeof err);
        if (rc == 0 && exists)
            view = "published.indicators";
        else if (rc == 0)
            own_indicators = true;
    } else if (strcmp(dataset, "ballot_aggregates") == 0) {
        view = "published.ballot_aggregates";
    }
    int derived = strcmp(dataset, "indicators") == 0 ? 0 : 1;
    char sig[256] = "";
    bool fresh = false;
    if (rc == 0 && (view || own_indicators)) {
        rc = store_pull_source_signature(ps->rd, sig, sizeof sig, err,
                                         sizeof err);
        fresh =
            rc == 0 && ps->derived_sig[derived][0] &&
            strcmp(sig, ps->derived_sig[derived]) == 0 &&
            ws_monotonic_ms() - ps->derived_at_ms[derived] < DERIVED_MAX_AGE_MS;
    }
    if (rc == 0 && own_indicators && !fresh)
        rc = refresh_own_indicators(ps, err, sizeof err);
    if (rc == 0 && view && !fresh)
        rc = store_pull_snapshot_from_view(ps->rd, dataset, view, err,
                                           sizeof err);
    if (rc == -ENOENT) {
        snprintf(reason, sizeof reason,
                 "%s not available yet: the hub's database has no %s view",
                 dataset, view);
        send_error(ps, env, dataset, reason);
        return 0;
    }
    if (rc == 0 && view)
        rc = store_pull_view_columns(ps->rd, view + strlen("published."),
                                     &view_columns, err, sizeof err);
    if (rc < 0)
        goto db_error_tables;
    if ((view || own_indicators) && !fresh) {
        snprintf(ps->derived_sig[derived], sizeof ps->derived_sig[derived],
                 "%s", sig);
        ps->derived_at_ms[derived] = ws_monotonic_ms();
    }

    if (strcmp(dataset, "petitions") == 0)
        rc = store_pull_petitions(ps->rd, since, scope, limit + 1, &t, err,
                                  sizeof err);
    else if (strcmp(dataset, "sync_status") == 0)
        rc = store_pull_sync_status(ps->rd, since, scope, limit + 1, &t, err,
                                    sizeof err);
    else
        rc = store_pull_snapshot(ps->rd, dataset, since, scope, limit + 1, &t,
                                 err, sizeof err);
    uint64_t version = 0;
    if (rc == 0)
        rc = store_pull_version(ps->rd, &version, err, sizeof err);
    if (rc < 0)
        goto db_error_tables;

    bool more = t.n_rows > limit;
    size_t n_rows = more ? limit : t.n_rows;
    const char **json_columns = NULL;
    if (own_indicators) {
        json_columns = (const char **)OWN_INDICATOR_COLUMNS;
    } else if (view) {
        json_columns = calloc(view_columns.n_rows + 1, sizeof *json_columns);
        for (size_t i = 0; json_columns && i < view_columns.n_rows; i++)
            json_columns[i] = store_table_get(&view_columns, i, 0);
    }
    if ((view && !json_columns) ||
        page_build_fill(&b, &t, n_rows, (const char *const *)json_columns) <
            0) {
        send_error(ps, env, dataset, "out of memory");
    } else {
        char cursor[32];
        uint64_t last =
            n_rows ? strtoull(store_table_get(&t, n_rows - 1, 2), NULL, 10)
                   : since;
        snprintf(cursor, sizeof cursor, "c%" PRIu64, last);
        wardsync__v1__pull_page__init(&b.page);
        b.page.dataset = (char *)dataset;
        b.page.n_columns = b.n_columns;
        b.page.columns = b.columns;
        b.page.n_rows = n_rows;
        b.page.rows = b.row_ptrs;
        b.page.next_cursor = cursor;
        b.page.dataset_version = version;
        b.page.more = more;
        send_page(ps, env, &b.page);
        ws_debug(MODULE,
                 "page served user=%s dataset=%s scope=%s since=%" PRIu64
                 " rows=%zu more=%d",
                 user_id ? user_id : "-", dataset, scope, since, n_rows,
                 (int)more);
    }
    if (!own_indicators)
        free(json_columns);
    page_build_clear(&b);
    store_table_clear(&t);
    store_table_clear(&view_columns);
    return 0;

db_error_tables:
    page_build_clear(&b);
    store_table_clear(&t);
    store_table_clear(&view_columns);
db_error:
    ws_log_limited(&ps->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                   "pull failed dataset=%s: %s", dataset, err);
    send_error(ps, env, dataset, "database unavailable, try again later");
    store_reader_close(&ps->rd);
    store_close(&ps->st);
    return -EIO;
}

static void handle_one(struct pull_server *ps, struct envelope *env)
{
    zmq_msg_t *payload = envelope_payload(env);
    if (!payload) {
        send_error(ps, env, NULL, "malformed message: want exactly one frame");
        return;
    }
    /* The principal the ZAP handler set; NULL without authentication. */
    const char *user_id = zmq_msg_gets(payload, "User-Id");
    if (ps->secure && (!user_id || !user_id[0])) {
        send_error(ps, env, NULL, "not allowed: not authenticated");
        return;
    }
    if (zmq_msg_size(payload) > PULL_MAX_REQUEST) {
        send_error(ps, env, NULL, "request too large");
        return;
    }
    Wardsync__V1__PullRequest *req = wardsync__v1__pull_request__unpack(
        NULL, zmq_msg_size(payload), zmq_msg_data(payload));
    if (!req) {
        send_error(ps, env, NULL, "malformed frame: not a PullRequest");
        return;
    }
    if (req->protocol != 1)
        send_error(ps, env, req->dataset, "unsupported protocol version");
    else
        serve(ps, env, req, user_id);
    wardsync__v1__pull_request__free_unpacked(req, NULL);
}

void pull_handle(struct pull_server *ps)
{
    if (!ps)
        return;
    for (int i = 0; i < 64; i++) {
        struct envelope env;
        if (envelope_recv(ps->socket, &env) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                ws_warn(MODULE, "could not receive: %s", zmq_strerror(errno));
            return;
        }
        handle_one(ps, &env);
        envelope_close(&env);
    }
}

static int set_int(void *socket, int option, int value, const char *name)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) == 0)
        return 0;
    ws_error(MODULE, "could not set %s: %s", name, zmq_strerror(errno));
    return -1;
}

/* Every option of the pull socket, in one place, CURVE included (keys not
 * NULL): the ZAP handler then sets the User-Id that pull_authorise reads. */
static int pull_socket_setup(void *socket, const struct ws_keypair *keys)
{
    char err[512];
    if (keys && auth_server_socket_setup(socket, keys, err, sizeof err) < 0) {
        ws_error(MODULE, "could not make the pull socket a CURVE server: %s",
                 err);
        return -1;
    }
    int64_t max = PULL_MAX_REQUEST;
    if (set_int(socket, ZMQ_LINGER, PULL_LINGER_MS, "ZMQ_LINGER") ||
        set_int(socket, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY") ||
        set_int(socket, ZMQ_SNDHWM, PULL_SNDHWM, "ZMQ_SNDHWM"))
        return -1;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0) {
        ws_error(MODULE, "could not set ZMQ_MAXMSGSIZE: %s",
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int pull_open(void *ctx, const struct hub_settings *settings,
              const char *endpoint, const struct ws_keypair *keys,
              struct pull_server **out)
{
    *out = NULL;
    if (!endpoint)
        endpoint = ws_config_get(settings->config, "hub", "pull",
                                 keys ? PULL_DEFAULT_ENDPOINT
                                      : PULL_INSECURE_DEFAULT_ENDPOINT);
    if (!endpoint || !endpoint[0] || strcmp(endpoint, "none") == 0) {
        ws_info(MODULE, "pull endpoint disabled");
        return HUB_EXIT_OK;
    }
    struct pull_server *ps = calloc(1, sizeof *ps);
    if (!ps)
        return HUB_EXIT_IO;
    ps->settings = settings;
    ps->secure = keys != NULL;
    ps->socket = zmq_socket(ctx, ZMQ_ROUTER);
    if (!ps->socket) {
        ws_error(MODULE, "could not create socket: %s", zmq_strerror(errno));
        free(ps);
        return HUB_EXIT_IO;
    }
    if (pull_socket_setup(ps->socket, keys) < 0)
        goto fail;
    if (zmq_bind(ps->socket, endpoint) != 0) {
        int saved = errno;
        ws_error(MODULE, "could not bind \"%s\": %s", endpoint,
                 zmq_strerror(saved));
        pull_close(&ps);
        return (saved == EINVAL || saved == EPROTONOSUPPORT) ? HUB_EXIT_USAGE
                                                             : HUB_EXIT_IO;
    }
    char bound[256];
    size_t bound_len = sizeof bound;
    if (zmq_getsockopt(ps->socket, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0)
        ws_strlcpy(bound, endpoint, sizeof bound);
    ws_info(MODULE, "pull endpoint=%s curve=%s", bound, keys ? "on" : "off");
    *out = ps;
    return HUB_EXIT_OK;
fail:
    pull_close(&ps);
    return HUB_EXIT_IO;
}

void *pull_socket(struct pull_server *ps)
{
    return ps ? ps->socket : NULL;
}

void pull_close(struct pull_server **ps)
{
    if (!ps || !*ps)
        return;
    if ((*ps)->socket)
        zmq_close((*ps)->socket); /* ZMQ_LINGER set at creation */
    store_reader_close(&(*ps)->rd);
    store_close(&(*ps)->st);
    free(*ps);
    *ps = NULL;
}
