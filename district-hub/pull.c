/*
 * pull.c - the pull endpoint: PullRequest in, PullPage out (pull.h).
 *
 * A request names a dataset, an optional ward (scope), a cursor (the
 * next_cursor of the previous page, "" to start from nothing) and a page
 * size. Rows come in change order (sql/001_baseline.sql), so a client
 * that keeps its last cursor gets, next time, exactly the rows inserted,
 * corrected or deleted since.
 *
 * Cursors: "cN" starts a pull after change N; within a pull, a page that
 * has more after it hands back "cS:N": S is the cursor the pull started
 * from, N the last change of the page. A row's op is decided against S
 * ("insert" when the row was created after S, "update" when it already
 * existed then), so it does not depend on the page size. The last page of
 * a pull (more false) hands back "cN": the next pull starts there.
 *
 * The endpoint runs on its own thread with its own connection
 * (docs/DESIGN.md §8: pulls never delay acks). Each page is read in one
 * REPEATABLE READ READ ONLY transaction: rows, columns and version from
 * one snapshot. Change numbers are handed out under one lock, so no
 * number below one a page has handed out can commit later
 * (sql/003_pull_thread.sql).
 *
 * indicators, ballot_aggregates, inspections and rotations are derived
 * (DERIVED below): the first page of a pull recomputes them from the
 * published views (which apply the publication
 * rule) into pull_snapshot, which gives a changed figure a new change
 * number, when the published data changed since the last recomputation
 * (db_read_source_signature) or DERIVED_MAX_AGE_MS passed; the other pages
 * of the pull read the snapshot as it is.
 *
 * as_of (a district date, "" for today) is the day the petitions' overdue
 * and the indicators are judged on; the indicators of a day are the
 * snapshot "indicators@DAY" of published_indicator_rows(DAY)
 * (refresh_as_of), so one day's cursors never meet another's.
 *
 * ballot_aggregates recomputes only the rounds and wards whose inputs
 * changed since its last refresh (sql/012_incremental_aggregates.sql).
 */
#include "pull.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "db/conn.h"
#include "db/read.h"
#include "envelope.h"
#include "metrics.h"
#include "wardsync/codec.h"
#include "wardsync/config.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/v1/pull.pb-c.h"
#include "wardsync/validate.h"
#include "zap.h"

#define MODULE "pull"

#define PULL_LINGER_MS 200
#define PULL_MAX_REQUEST 65536
#define PULL_SNDHWM 1000
#define LOG_LIMIT_MS 10000
/* A derived dataset is recomputed when its sources changed, and at least
 * this often (indicators such as sync_lag move with the clock). */
#define DERIVED_MAX_AGE_MS 300000
/* The as-of days whose indicators snapshot is remembered (refresh_as_of). */
#define AS_OF_SLOTS 8

/* The datasets read from a published view through pull_snapshot, and
 * their views. inspections and rotations (docs/DESIGN.md §6) are the
 * registers as published.inspections and published.rotations show them:
 * no cadre code. */
static const struct {
    const char *dataset;
    const char *view;
} DERIVED[] = {
    {"indicators", "published.indicators"},
    {"ballot_aggregates", "published.ballot_aggregates"},
    {"inspections", "published.inspections"},
    {"rotations", "published.rotations"},
};
#define N_DERIVED (sizeof DERIVED / sizeof DERIVED[0])

struct pull_server {
    const struct hub_settings *settings; /* borrowed */
    void *socket;                        /* used by the thread only */
    bool secure; /* CURVE: every request must carry a User-Id */
    struct db_link link;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    struct zap_monitor *monitor; /* refused handshakes; NULL when insecure */
    /* When each dataset of DERIVED was last recomputed, and the source
     * signature then. */
    char derived_sig[N_DERIVED][256];
    int64_t derived_at_ms[N_DERIVED];
    /* The same for the indicators as of a day ("indicators@YYYY-MM-DD"),
     * the oldest replaced first. */
    struct {
        char snapshot[32];
        char sig[256];
        int64_t at_ms;
    } as_of[AS_OF_SLOTS];
    size_t as_of_next;
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
                    const char **scope_out, bool *counts, char *reason,
                    size_t reasonlen)
{
    *scope_out = scope;
    *counts = !user_id || !user_id[0];
    if (*counts || strncmp(user_id, "city:", 5) == 0)
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
        *counts = true;
        return true;
    }
    snprintf(reason, reasonlen, "not allowed: unknown principal");
    return false;
}

/* One run of digits into *v (at most 20). Returns the text after it, or
 * NULL. */
static const char *parse_number(const char *p, uint64_t *v)
{
    const char *start = p;
    *v = 0;
    while (*p >= '0' && *p <= '9') {
        if (p - start == 20 || *v > (UINT64_MAX - 9) / 10)
            return NULL;
        *v = *v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    return p > start ? p : NULL;
}

/* "" (start = since = 0), "cN" (start = since = N) or "cS:N" (a pull that
 * started from S, at N; S <= N). */
static int parse_cursor(const char *text, uint64_t *start, uint64_t *since)
{
    *start = *since = 0;
    if (!text || !text[0])
        return 0;
    if (text[0] != 'c')
        return -1;
    const char *p = parse_number(text + 1, start);
    if (!p)
        return -1;
    if (*p == '\0') {
        *since = *start;
        return 0;
    }
    if (*p != ':' || !(p = parse_number(p + 1, since)) || *p != '\0' ||
        *start > *since)
        return -1;
    return 0;
}

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
    /* A number came from SQL numeric text such as 1.13 and went through a
     * double: 15 significant digits give the decimal back as published
     * (1.13, not 1.1299999999999999). */
    return json_dumps(v,
                      JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

/* json_columns NULL: the table's own columns from index 3. Returns 0 or
 * -ENOMEM. */
static int page_build_fill(struct page_build *b, const struct db_table *t,
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
        row->op = op_of(db_table_get(t, r, 0));
        row->key = (char *)db_table_get(t, r, 1);
        row->change = strtoull(db_table_get(t, r, 2), NULL, 10);
        b->values[r] = calloc(n_columns + 1, sizeof *b->values[r]);
        b->nulls[r] = calloc(n_columns + 1, sizeof *b->nulls[r]);
        if (!b->values[r] || !b->nulls[r])
            return -ENOMEM;
        json_t *data = NULL;
        if (json_columns) {
            const char *text = db_table_get(t, r, 4);
            data = text ? json_loads(text, 0, NULL) : NULL;
        }
        for (size_t c = 0; c < n_columns; c++) {
            char *v;
            if (json_columns)
                v = json_value_text(json_object_get(data, json_columns[c]));
            else {
                const char *cell = db_table_get(t, r, c + 3);
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

/* The first page of a pull of a derived dataset: recomputes its snapshot
 * unless the published data is unchanged since the last time and that is
 * recent. Returns 0 or a negative errno (-ENOENT: no such view). */
static int refresh_derived(struct pull_server *ps, struct db *db,
                           const char *dataset, const char *view, char *err,
                           size_t errlen)
{
    size_t derived = 0;
    while (derived + 1 < N_DERIVED &&
           strcmp(dataset, DERIVED[derived].dataset) != 0)
        derived++;
    char sig[256];
    int rc = db_read_source_signature(db, sig, sizeof sig, err, errlen);
    if (rc < 0)
        return rc;
    if (ps->derived_sig[derived][0] &&
        strcmp(sig, ps->derived_sig[derived]) == 0 &&
        ws_monotonic_ms() - ps->derived_at_ms[derived] < DERIVED_MAX_AGE_MS)
        return 0;
    /* Statistics first: after a bulk load the view would be planned on
     * tables the planner takes for empty. */
    char analysed[512];
    int64_t started_ms = ws_monotonic_ms();
    rc = db_read_analyze_stale(db, analysed, sizeof analysed, err, errlen);
    if (rc < 0)
        return rc;
    if (analysed[0])
        ws_info(MODULE, "planner statistics refreshed tables=%s ms=%lld",
                analysed, (long long)(ws_monotonic_ms() - started_ms));
    /* The signature was read before the view: the snapshot is never older
     * than the signature it is recorded with. */
    rc = db_read_snapshot_refresh(db, dataset, view, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(ps->derived_sig[derived], sizeof ps->derived_sig[derived], "%s",
             sig);
    ps->derived_at_ms[derived] = ws_monotonic_ms();
    return 0;
}

/* refresh_derived for the indicators as of a day: the snapshot
 * "indicators@DAY" of published_indicator_rows(DAY), recomputed when the
 * published data changed or DERIVED_MAX_AGE_MS passed (sync_lag is always
 * now). Returns 0 or a negative errno. */
static int refresh_as_of(struct pull_server *ps, struct db *db,
                         const char *snapshot, const char *as_of, char *err,
                         size_t errlen)
{
    size_t slot = 0;
    while (slot < AS_OF_SLOTS &&
           strcmp(ps->as_of[slot].snapshot, snapshot) != 0)
        slot++;
    char sig[256];
    int rc = db_read_source_signature(db, sig, sizeof sig, err, errlen);
    if (rc < 0)
        return rc;
    if (slot < AS_OF_SLOTS && strcmp(sig, ps->as_of[slot].sig) == 0 &&
        ws_monotonic_ms() - ps->as_of[slot].at_ms < DERIVED_MAX_AGE_MS)
        return 0;
    char analysed[512];
    rc = db_read_analyze_stale(db, analysed, sizeof analysed, err, errlen);
    if (rc == 0 && analysed[0])
        ws_info(MODULE, "planner statistics refreshed tables=%s", analysed);
    if (rc == 0)
        rc = db_read_snapshot_refresh_indicators_as_of(db, snapshot, as_of, err,
                                                       errlen);
    if (rc < 0)
        return rc;
    if (slot == AS_OF_SLOTS) {
        slot = ps->as_of_next;
        ps->as_of_next = (ps->as_of_next + 1) % AS_OF_SLOTS;
    }
    snprintf(ps->as_of[slot].snapshot, sizeof ps->as_of[slot].snapshot, "%s",
             snapshot);
    snprintf(ps->as_of[slot].sig, sizeof ps->as_of[slot].sig, "%s", sig);
    ps->as_of[slot].at_ms = ws_monotonic_ms();
    return 0;
}

/* Reads one page in one snapshot: the rows (at most limit + 1, to know
 * whether more wait), the view's columns and the dataset version.
 * snapshot: the pull_snapshot dataset of a derived dataset (its name, or
 * "indicators@DAY"); as_of: the petitions' as-of day ("" today). */
static int read_page(struct db *db, const char *dataset, const char *view,
                     const char *snapshot, const char *as_of, uint64_t start,
                     uint64_t since, const char *scope, bool counts,
                     unsigned limit, struct db_table *t,
                     struct db_table *view_columns, uint64_t *version,
                     char *err, size_t errlen)
{
    int rc = db_read_page_begin(db, err, errlen);
    if (rc == 0 && view)
        rc = db_read_view_columns(db, view + strlen("published."), view_columns,
                                  err, errlen);
    if (rc == 0) {
        if (strcmp(dataset, "petitions") == 0)
            rc = db_read_pull_petitions(db, start, since, scope, as_of,
                                        limit + 1, t, err, errlen);
        else if (strcmp(dataset, "sync_status") == 0)
            rc = db_read_pull_sync_status(db, start, since, scope, counts,
                                          limit + 1, t, err, errlen);
        else
            rc = db_read_pull_snapshot(db, snapshot, start, since, scope,
                                       limit + 1, t, err, errlen);
    }
    if (rc == 0)
        rc = db_read_pull_version(db, version, err, errlen);
    if (rc == 0)
        rc = db_read_page_end(db, err, errlen);
    return rc;
}

/* Serves one decoded request; every outcome is answered. */
static void serve(struct pull_server *ps, struct envelope *env,
                  const Wardsync__V1__PullRequest *req, const char *user_id)
{
    char reason[512], err[1024];
    const char *dataset = req->dataset ? req->dataset : "";
    const char *scope = req->scope ? req->scope : "";
    const char *view = NULL;
    for (size_t d = 0; d < N_DERIVED; d++)
        if (strcmp(dataset, DERIVED[d].dataset) == 0)
            view = DERIVED[d].view;
    if (!view && strcmp(dataset, "petitions") != 0 &&
        strcmp(dataset, "sync_status") != 0) {
        send_error(ps, env, dataset,
                   "unknown dataset (indicators, petitions, "
                   "ballot_aggregates, sync_status, inspections, "
                   "rotations)");
        return;
    }
    metrics_pull_request(dataset);
    if (scope[0] &&
        ws_validate_code("scope", scope, reason, sizeof reason) != 0) {
        send_error(ps, env, dataset, reason);
        return;
    }
    bool counts = false;
    if (!pull_authorise(user_id, dataset, scope, &scope, &counts, reason,
                        sizeof reason)) {
        ws_log_limited(&ps->peer_limit, LOG_LIMIT_MS, WS_LOG_WARN, MODULE,
                       "pull refused user=%s dataset=%s reason=%s", user_id,
                       dataset, reason);
        send_error(ps, env, dataset, reason);
        return;
    }
    uint64_t start, since;
    if (parse_cursor(req->since, &start, &since) < 0) {
        send_error(ps, env, dataset, "bad cursor");
        return;
    }
    /* The as-of day: a real district date or "" (today); the indicators
     * of a day have their own snapshot, so their cursors never meet
     * another day's (docs/DESIGN.md §8). */
    const char *as_of = req->as_of ? req->as_of : "";
    if (as_of[0] && ws_date_parse(as_of, NULL) < 0) {
        snprintf(reason, sizeof reason,
                 "bad as_of \"%.40s\": want a district date YYYY-MM-DD, or "
                 "empty for today",
                 as_of);
        send_error(ps, env, dataset, reason);
        return;
    }
    char snapshot[32];
    bool indicators_as_of = as_of[0] && strcmp(dataset, "indicators") == 0;
    snprintf(snapshot, sizeof snapshot, "%s%s%s", dataset,
             indicators_as_of ? "@" : "", indicators_as_of ? as_of : "");
    unsigned limit = req->page_size ? req->page_size : PULL_DEFAULT_PAGE_SIZE;
    if (limit > PULL_MAX_PAGE_SIZE)
        limit = PULL_MAX_PAGE_SIZE;

    /* NULL while the database is away (db_link logs it, rate limited). */
    struct db *db = db_link_get(&ps->link);
    if (!db) {
        send_error(ps, env, dataset, "database unavailable, try again later");
        return;
    }
    struct db_table t = {0}, view_columns = {0};
    struct page_build b = {0};
    uint64_t version = 0;
    int rc = 0;
    if (view && start == since)
        rc = indicators_as_of
                 ? refresh_as_of(ps, db, snapshot, as_of, err, sizeof err)
                 : refresh_derived(ps, db, dataset, view, err, sizeof err);
    if (rc == -ENOENT) {
        snprintf(reason, sizeof reason,
                 "%s not available yet: the hub's database has no %s view",
                 dataset, view);
        send_error(ps, env, dataset, reason);
        return;
    }
    if (rc == 0)
        rc = read_page(db, dataset, view, snapshot, as_of, start, since, scope,
                       counts, limit, &t, &view_columns, &version, err,
                       sizeof err);
    if (rc < 0)
        goto db_error;

    bool more = t.n_rows > limit;
    size_t n_rows = more ? limit : t.n_rows;
    const char **json_columns = NULL;
    if (view) {
        json_columns = calloc(view_columns.n_rows + 1, sizeof *json_columns);
        for (size_t i = 0; json_columns && i < view_columns.n_rows; i++)
            json_columns[i] = db_table_get(&view_columns, i, 0);
    }
    if ((view && !json_columns) ||
        page_build_fill(&b, &t, n_rows, (const char *const *)json_columns) <
            0) {
        send_error(ps, env, dataset, "out of memory");
    } else {
        char cursor[48];
        uint64_t last =
            n_rows ? strtoull(db_table_get(&t, n_rows - 1, 2), NULL, 10)
                   : since;
        if (more)
            snprintf(cursor, sizeof cursor, "c%" PRIu64 ":%" PRIu64, start,
                     last);
        else
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
                 "page served user=%s dataset=%s scope=%s start=%" PRIu64
                 " since=%" PRIu64 " rows=%zu more=%d",
                 user_id ? user_id : "-", dataset, scope, start, since, n_rows,
                 (int)more);
    }
    free(json_columns);
    page_build_clear(&b);
    db_table_clear(&t);
    db_table_clear(&view_columns);
    return;

db_error:
    db_table_clear(&t);
    db_table_clear(&view_columns);
    ws_log_limited(&ps->db_limit, LOG_LIMIT_MS, WS_LOG_ERROR, MODULE,
                   "pull failed dataset=%s: %s", dataset, err);
    send_error(ps, env, dataset, "database unavailable, try again later");
    if (db_ok(db))
        db_rollback(db);
    else
        db_link_drop(&ps->link);
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

/* Answers every request waiting on the socket (never blocks). */
static void handle_waiting(struct pull_server *ps)
{
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
static int pull_socket_setup(void *socket, const struct ws_keypair *keys,
                             int backlog)
{
    char err[512];
    if (keys && zap_server_socket_setup(socket, keys, err, sizeof err) < 0) {
        ws_error(MODULE, "could not make the pull socket a CURVE server: %s",
                 err);
        return -1;
    }
    int64_t max = PULL_MAX_REQUEST;
    if (set_int(socket, ZMQ_LINGER, PULL_LINGER_MS, "ZMQ_LINGER") ||
        set_int(socket, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY") ||
        set_int(socket, ZMQ_SNDHWM, PULL_SNDHWM, "ZMQ_SNDHWM") ||
        set_int(socket, ZMQ_BACKLOG, backlog, "ZMQ_BACKLOG"))
        return -1;
    if (zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0) {
        ws_error(MODULE, "could not set ZMQ_MAXMSGSIZE: %s",
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* The pull thread: polls its socket until asked to stop. Signals are
 * the main thread's: blocked here. */
static void *pull_main(void *arg)
{
    struct pull_server *ps = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&ps->stop)) {
        zmq_pollitem_t item = {ps->socket, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, PULL_POLL_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ws_error(MODULE, "poll failed, pull endpoint stopped: %s",
                     zmq_strerror(errno));
            break;
        }
        if (n > 0 && (item.revents & ZMQ_POLLIN))
            handle_waiting(ps);
    }
    return NULL;
}

int pull_start(void *ctx, const struct hub_settings *settings,
               const struct ws_keypair *keys, struct pull_server **out)
{
    *out = NULL;
    const char *endpoint = ws_config_get(settings->config, "hub", "pull",
                                         keys ? PULL_DEFAULT_ENDPOINT
                                              : PULL_INSECURE_DEFAULT_ENDPOINT);
    if (!endpoint || !endpoint[0] || strcmp(endpoint, "none") == 0) {
        ws_info(MODULE, "pull endpoint disabled");
        return 0;
    }
    struct pull_server *ps = calloc(1, sizeof *ps);
    if (!ps)
        return -EIO;
    ps->settings = settings;
    ps->secure = keys != NULL;
    atomic_init(&ps->stop, false);
    db_link_init(&ps->link, settings->database, "district-hub pull", MODULE);
    ps->socket = zmq_socket(ctx, ZMQ_ROUTER);
    if (!ps->socket) {
        ws_error(MODULE, "could not create socket: %s", zmq_strerror(errno));
        free(ps);
        return -EIO;
    }
    if (pull_socket_setup(ps->socket, keys, (int)settings->listen_backlog) < 0)
        goto fail;
    if (keys && zap_monitor_start(ctx, ps->socket, "pull", &ps->monitor) < 0)
        goto fail;
    if (zmq_bind(ps->socket, endpoint) != 0) {
        int saved = errno;
        ws_error(MODULE, "could not bind \"%s\": %s", endpoint,
                 zmq_strerror(saved));
        pull_stop(&ps);
        return (saved == EINVAL || saved == EPROTONOSUPPORT) ? -EDOM : -EIO;
    }
    char bound[256];
    size_t bound_len = sizeof bound;
    if (zmq_getsockopt(ps->socket, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0)
        ws_strlcpy(bound, endpoint, sizeof bound);
    /* From here on the socket is the thread's (thread creation is the
     * memory barrier ZeroMQ asks for when a socket changes threads). */
    int err = pthread_create(&ps->thread, NULL, pull_main, ps);
    if (err != 0) {
        ws_error(MODULE, "could not start the pull thread: %s", strerror(err));
        goto fail;
    }
    ps->started = true;
    ws_info(MODULE, "pull endpoint=%s curve=%s", bound, keys ? "on" : "off");
    *out = ps;
    return 0;
fail:
    pull_stop(&ps);
    return -EIO;
}

void pull_stop(struct pull_server **ps)
{
    if (!ps || !*ps)
        return;
    struct pull_server *p = *ps;
    if (p->started) {
        atomic_store(&p->stop, true);
        pthread_join(p->thread, NULL);
    }
    zap_monitor_stop(&p->monitor); /* before the socket it watches */
    if (p->socket)
        zmq_close(p->socket); /* ZMQ_LINGER set at creation */
    db_link_close(&p->link);
    free(p);
    *ps = NULL;
}
