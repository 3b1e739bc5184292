/*
 * test_city.c - the city (issue 13, docs/DESIGN.md §8, §10): two real
 * hubs with their own databases, city-pull into files and into a
 * warehouse database, kill -9 of the loader, a hub down; and
 * "district-hub status" over every unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wardsync/util.h"

struct test_hub {
    const char *name; /* the district as city-pull knows it */
    const char *ward; /* the ward its petitions come from */
    struct it_env env;
    pid_t pid;
    char ingest[128], pull[128], log[512];
    char instance[WS_UUID_LEN + 1];
    uint64_t next_seq;
};

static struct test_hub hubs[2] = {{.name = "A", .ward = "LB01"},
                                  {.name = "B", .ward = "LB02"}};
static char wh_name[64], wh_conninfo[1024], wh_admin[1024];
static PGconn *wh;

static int start_hub(struct test_hub *h)
{
    h->pid = it_start_hub_mode(&h->env, NULL, true, h->ingest, sizeof h->ingest,
                               h->log, sizeof h->log);
    if (h->pid <= 0)
        return -1;
    char rest[256];
    if (it_wait_for_log(h->log, "pull endpoint=", 20000, rest, sizeof rest) !=
        0)
        return -1;
    sscanf(rest, "%127s", h->pull);
    return 0;
}

/* conninfo with dbname replaced (the last keyword wins in libpq). */
static void with_db(const char *conninfo, const char *db, char *out, size_t cap)
{
    snprintf(out, cap, "%s dbname=%s", conninfo, db);
}

static int admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(wh_admin);
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    if (it_env_setup(&hubs[0].env, "wardsync_it_city_a") != 0 ||
        it_env_setup(&hubs[1].env, "wardsync_it_city_b") != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (start_hub(&hubs[i]) != 0)
            return -1;
        ws_uuid4(hubs[i].instance);
        hubs[i].next_seq = 1;
    }
    const char *base = getenv("WARDSYNC_TEST_DATABASE");
    snprintf(wh_name, sizeof wh_name, "wardsync_it_city_wh_%ld",
             (long)getpid());
    with_db(base, "postgres", wh_admin, sizeof wh_admin);
    with_db(base, wh_name, wh_conninfo, sizeof wh_conninfo);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", wh_name);
    if (admin_exec(sql) != 0)
        return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", wh_name);
    if (admin_exec(sql) != 0)
        return -1;
    wh = PQconnectdb(wh_conninfo);
    return PQstatus(wh) == CONNECTION_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(wh);
    for (int i = 0; i < 2; i++) {
        if (hubs[i].pid > 0)
            it_stop(hubs[i].pid);
        it_env_teardown(&hubs[i].env);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", wh_name);
    admin_exec(sql);
    return 0;
}

/* One petition change from h's ward, accepted. */
static void send_petition(struct test_hub *h, const char *petition, int status,
                          const char *note)
{
    Wardsync__V1__Batch batch = WARDSYNC__V1__BATCH__INIT;
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__PetitionEvent p = WARDSYNC__V1__PETITION_EVENT__INIT;
    Wardsync__V1__Event *events[1] = {&event};
    char id[WS_UUID_LEN + 1];
    assert_int_equal(ws_uuid4(id), 0);
    p.petition = (char *)petition;
    p.kind = WARDSYNC__V1__PETITION_KIND__PETITION_KIND_COMPLAINT;
    p.channel = WARDSYNC__V1__PETITION_CHANNEL__PETITION_CHANNEL_IN_PERSON;
    p.status = status;
    p.in_jurisdiction = true;
    p.received_on = "2026-10-01";
    p.due_on = status == WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED
                   ? ""
                   : "2026-11-10";
    p.note = (char *)note;
    event.seq = h->next_seq;
    event.event_id = id;
    event.occurred_at_ms = 1759276800000 + (int64_t)h->next_seq * 3600000;
    event.queued_at_ms = event.occurred_at_ms;
    event.body_case = WARDSYNC__V1__EVENT__BODY_PETITION;
    event.petition = &p;
    batch.protocol = 1;
    batch.agent_instance = h->instance;
    batch.ward = (char *)h->ward;
    batch.n_events = 1;
    batch.events = events;
    Wardsync__V1__Ack *ack = NULL;
    assert_int_equal(it_send_batch(h->ingest, &batch, 10000, &ack), 0);
    assert_int_equal(ack->committed_through, h->next_seq);
    wardsync__v1__ack__free_unpacked(ack, NULL);
    h->next_seq++;
}

static const int RECEIVED =
    WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RECEIVED;
static const int ACCEPTED =
    WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_ACCEPTED;
static const int RESOLVED =
    WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_RESOLVED;
static const int WITHDRAWN =
    WARDSYNC__V1__PETITION_STATUS__PETITION_STATUS_WITHDRAWN;

/* The rows of a query, one line each, fields joined by '|' (malloc'd). */
static char *rows_of(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++)
        for (int c = 0; c < PQnfields(r); c++) {
            const char *v = PQgetvalue(r, i, c);
            size_t need = len + strlen(v) + 2;
            if (need >= cap) {
                cap = need * 2;
                out = realloc(out, cap);
            }
            len += (size_t)sprintf(out + len, "%s%c", v,
                                   c + 1 == PQnfields(r) ? '\n' : '|');
        }
    PQclear(r);
    return out;
}

/* What hub h publishes, as the warehouse should hold it, per dataset:
 * "key|fields" lines in key order. */
static const char HUB_PETITIONS[] =
    "SELECT p.ward || '/' || p.petition, p.status, coalesce(p.note, ''),"
    "       (SELECT count(*) FROM petition_history h"
    "         WHERE h.ward = p.ward AND h.petition = p.petition)"
    "  FROM petitions p ORDER BY p.ward || '/' || p.petition COLLATE \"C\"";
static const char HUB_INDICATORS[] =
    "SELECT row_key, coalesce(round((row_data->>'value')::numeric, 6)::text,"
    "                         '-')"
    "  FROM pull_snapshot WHERE dataset = 'indicators' AND NOT deleted"
    " ORDER BY row_key COLLATE \"C\"";
static const char HUB_SYNC[] =
    "SELECT ward || '/' || agent_instance, committed_through FROM agents"
    " ORDER BY ward || '/' || agent_instance COLLATE \"C\"";

static void expect_warehouse_equals_hub(struct test_hub *h)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT row_key, status, coalesce(note, ''),"
             "       jsonb_array_length(history)"
             "  FROM city.petitions WHERE district = '%s'"
             " ORDER BY row_key COLLATE \"C\"",
             h->name);
    char *want = rows_of(h->env.db, HUB_PETITIONS), *got = rows_of(wh, sql);
    if (strcmp(want, got) != 0)
        fail_msg("hub %s petitions:\n%s\nwarehouse:\n%s", h->name, want, got);
    free(want);
    free(got);
    snprintf(sql, sizeof sql,
             "SELECT row_key, coalesce(round(value, 6)::text, '-')"
             "  FROM city.indicators WHERE district = '%s'"
             " ORDER BY row_key COLLATE \"C\"",
             h->name);
    want = rows_of(h->env.db, HUB_INDICATORS);
    got = rows_of(wh, sql);
    if (strcmp(want, got) != 0)
        fail_msg("hub %s indicators:\n%s\nwarehouse:\n%s", h->name, want, got);
    assert_true(strlen(want) > 0);
    free(want);
    free(got);
    snprintf(sql, sizeof sql,
             "SELECT row_key, committed_through FROM city.sync_status"
             " WHERE district = '%s' ORDER BY row_key COLLATE \"C\"",
             h->name);
    want = rows_of(h->env.db, HUB_SYNC);
    got = rows_of(wh, sql);
    if (strcmp(want, got) != 0)
        fail_msg("hub %s sync_status:\n%s\nwarehouse:\n%s", h->name, want, got);
    free(want);
    free(got);
}

/* city-pull over the hubs listed (a bit mask of hubs[]), with extra
 * arguments (NULL-terminated, at most 8). */
static int city_pull(unsigned which, char **output, const char *const *extra)
{
    char specs[2][256];
    const char *argv[32];
    size_t n = 0;
    argv[n++] = WS_CITY_PULL_BIN;
    for (int i = 0; i < 2; i++)
        if (which & (1u << i)) {
            snprintf(specs[i], sizeof specs[i], "%s=%s", hubs[i].name,
                     hubs[i].pull);
            argv[n++] = "--hub";
            argv[n++] = specs[i];
        }
    argv[n++] = "--timeout-ms";
    argv[n++] = "3000";
    for (size_t i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return it_run(argv, NULL, 120, output);
}

static char *workdir_path(const char *name)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", hubs[0].env.workdir, name);
    return path;
}

static json_t *load_rows(const char *dir, const char *dataset)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.json", dir, dataset);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        fail_msg("%s: %s", path, jerr.text);
    json_t *rows = json_incref(json_object_get(doc, "rows"));
    json_decref(doc);
    assert_true(json_is_array(rows));
    return rows;
}

/* The petitions of a JSON file for hub h as the HUB_PETITIONS lines. */
static char *file_petitions(json_t *rows, const struct test_hub *h)
{
    json_t *lines = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "hub")), h->name))
            continue;
        json_t *v = json_object_get(row, "values");
        const char *note = json_string_value(json_object_get(v, "note"));
        char line[1024];
        snprintf(line, sizeof line, "%s|%s|%s|%zu\n",
                 json_string_value(json_object_get(row, "key")),
                 json_string_value(json_object_get(v, "status")),
                 note ? note : "",
                 json_array_size(json_object_get(v, "history")));
        json_array_append_new(lines, json_string(line));
    }
    /* The file is sorted by hub and key already (byte order). */
    size_t len = 1;
    json_array_foreach(lines, i, row) len += strlen(json_string_value(row));
    char *out = calloc(1, len);
    json_array_foreach(lines, i, row) strcat(out, json_string_value(row));
    json_decref(lines);
    return out;
}

static void expect_files_equal_hubs(const char *dir)
{
    json_t *rows = load_rows(dir, "petitions");
    for (int i = 0; i < 2; i++) {
        char *want = rows_of(hubs[i].env.db, HUB_PETITIONS);
        char *got = file_petitions(rows, &hubs[i]);
        if (strcmp(want, got) != 0)
            fail_msg("hub %s petitions:\n%s\nfile %s:\n%s", hubs[i].name, want,
                     dir, got);
        free(want);
        free(got);
    }
    json_decref(rows);
    rows = load_rows(dir, "indicators");
    long n = 0;
    for (int i = 0; i < 2; i++)
        n += it_query_long(hubs[i].env.db,
                           "SELECT count(*) FROM pull_snapshot WHERE dataset "
                           "= 'indicators' AND NOT deleted");
    assert_true(n > 0);
    assert_int_equal(json_array_size(rows), n);
    json_decref(rows);
}

/* The row of rows with hub and key, or NULL. */
static json_t *row_with(json_t *rows, const char *hub, const char *key)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "hub")), hub) == 0 &&
            strcmp(json_string_value(json_object_get(row, "key")), key) == 0)
            return row;
    }
    return NULL;
}

/* The file of dir/changes whose name starts with prefix, read whole (the
 * greatest name when there are several). */
static char *newest_change_file(const char *dir, const char *prefix)
{
    char path[700], best[256] = "";
    snprintf(path, sizeof path, "%s/changes", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    assert_true(best[0] != '\0');
    snprintf(path, sizeof path, "%s/changes/%s", dir, best);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_files_hold_the_whole_dataset(void **state)
{
    (void)state;
    send_petition(&hubs[0], "P-1", RECEIVED, "Đơn của công dân phường Bồ Đề");
    send_petition(&hubs[0], "P-2", RECEIVED, "");
    send_petition(&hubs[0], "P-1", ACCEPTED, "thụ lý, đang xem xét");
    send_petition(&hubs[1], "Q-1", RECEIVED, "Cự Khối");
    send_petition(&hubs[1], "Q-2", RECEIVED, "sẽ bị xoá");
    send_petition(&hubs[1], "Q-3", RECEIVED, "sẽ rút đơn");
    const char *dir = workdir_path("city");
    const char *json[] = {"--output", dir, "--format", "json", NULL};
    char *out = NULL;
    int rc = city_pull(3, &out, json);
    if (rc != 0)
        fail_msg("city-pull exit %d:\n%s", rc, out);
    free(out);
    expect_files_equal_hubs(dir);

    /* A correction on A, a withdrawal and a deletion on B; the second run
     * fetches only those, and the files still hold everything. */
    send_petition(&hubs[0], "P-2", RESOLVED, "đã giải quyết");
    send_petition(&hubs[1], "Q-3", WITHDRAWN, "công dân rút đơn");
    PGresult *r =
        PQexec(hubs[1].env.db, "DELETE FROM petitions WHERE petition = 'Q-2'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    /* The first run's changes out of the way: the next is the only one. */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/changes'", dir);
    assert_int_equal(system(cmd), 0);
    rc = city_pull(3, &out, json);
    if (rc != 0)
        fail_msg("city-pull exit %d:\n%s", rc, out);
    if (!strstr(out, "A          petitions          1 rows in 1 pages") ||
        !strstr(out, "B          petitions          2 rows in 1 pages"))
        fail_msg("want only the changes pulled:\n%s", out);
    free(out);
    expect_files_equal_hubs(dir);
    json_t *rows = load_rows(dir, "petitions");
    json_t *p2 = row_with(rows, "A", "LB01/P-2");
    assert_non_null(p2);
    assert_string_equal(json_string_value(json_object_get(p2, "op")), "update");
    assert_non_null(row_with(rows, "A", "LB01/P-1"));
    assert_null(row_with(rows, "B", "LB02/Q-2"));
    json_t *q3 = row_with(rows, "B", "LB02/Q-3");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(q3, "values"), "status")),
                        "withdrawn");
    /* History is an array, numbers are numbers. */
    assert_true(json_is_array(
        json_object_get(json_object_get(q3, "values"), "history")));
    json_decref(rows);
    rows = load_rows(dir, "sync_status");
    json_t *sv = json_object_get(json_array_get(rows, 0), "values");
    assert_true(json_is_integer(json_object_get(sv, "committed_through")));
    json_decref(rows);

    /* The run's changes, with their op. */
    const char *changes = newest_change_file(dir, "petitions-");
    assert_non_null(strstr(changes, "A,update,LB01/P-2,"));
    assert_non_null(strstr(changes, "B,update,LB02/Q-3,"));
    assert_non_null(strstr(changes, "B,delete,LB02/Q-2,"));
    assert_null(strstr(changes, "LB01/P-1"));

    /* CSV, twice: the second run (nothing new) leaves the file whole. */
    const char *csvdir = workdir_path("city-csv");
    const char *csv[] = {"--output", csvdir, NULL};
    for (int run = 0; run < 2; run++) {
        assert_int_equal(city_pull(3, &out, csv), 0);
        free(out);
        char path[700];
        snprintf(path, sizeof path, "%s/petitions.csv", csvdir);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        assert_memory_equal(buf, "\xEF\xBB\xBFhub,op,key,change,ward,", 26);
        assert_non_null(strstr(buf, "A,insert,LB01/P-1,"));
        assert_non_null(strstr(buf, "B,insert,LB02/Q-3,"));
        assert_non_null(strstr(buf, "\"thụ lý, đang xem xét\""));
        assert_null(strstr(buf, "LB02/Q-2"));
    }
}

/* Loads the warehouse with city-pull killed (-9) at random moments, then
 * once to the end: the warehouse equals what the hubs publish. Every
 * other run is --full (everything again from the start, so that there is
 * always a run to kill in the middle), the others go on from the cursor
 * the killed one left, often in the middle of a pull. */
static void test_warehouse_survives_kill_9(void **state)
{
    (void)state;
    char name[32];
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof name, "K-%02d", i);
        send_petition(&hubs[i % 2], name, i % 3 ? ACCEPTED : RECEIVED,
                      "đơn thứ nhiều");
    }
    char spec0[256], spec1[256];
    snprintf(spec0, sizeof spec0, "A=%s", hubs[0].pull);
    snprintf(spec1, sizeof spec1, "B=%s", hubs[1].pull);
    const char *argv[] = {
        WS_CITY_PULL_BIN, "--hub",       spec0, "--hub", spec1, "--into",
        wh_conninfo,      "--page-size", "2",   NULL,    NULL};
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    char log[700];
    snprintf(log, sizeof log, "%s/kill9.log", hubs[0].env.workdir);
    int killed_mid_run = 0;
    for (int k = 0; k < 12; k++) {
        argv[9] = k % 2 ? NULL : "--full";
        pid_t pid = it_spawn(argv, NULL, log);
        assert_true(pid > 0);
        struct timespec ts = {0, (long)(20 + rand() % 400) * 1000000L};
        nanosleep(&ts, NULL);
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            killed_mid_run++;
        }
        /* A change between kills: the next run must pick it up too. */
        if (k % 4 == 0)
            send_petition(&hubs[k % 2], "K-00", RESOLVED, "sửa sau khi kill");
    }
    print_message("city-pull killed %d of 12 times while loading\n",
                  killed_mid_run);
    assert_true(killed_mid_run >= 6);
    char *out = NULL;
    argv[9] = NULL;
    int rc = it_run(argv, NULL, 120, &out);
    if (rc != 0)
        fail_msg("city-pull --into exit %d:\n%s", rc, out);
    assert_non_null(strstr(out, "A          petitions"));
    free(out);
    for (int i = 0; i < 2; i++)
        expect_warehouse_equals_hub(&hubs[i]);
    /* Nothing doubled: one row per key, as many as the hubs have. */
    long n = it_query_long(wh, "SELECT count(*) FROM city.petitions");
    long want =
        it_query_long(hubs[0].env.db, "SELECT count(*) FROM petitions") +
        it_query_long(hubs[1].env.db, "SELECT count(*) FROM petitions");
    assert_int_equal(n, want);
    /* The views: one row per district and ward. */
    assert_int_equal(it_query_long(wh, "SELECT count(*) FROM city.ward_figures"
                                       " WHERE district = 'A' AND ward = "
                                       "'LB01'"),
                     1);
    assert_int_equal(
        it_query_long(wh, "SELECT count(*) FROM city.ward_figures"),
        it_query_long(wh, "SELECT count(DISTINCT (district, ward))"
                          "  FROM city.ward_figures"));
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT petitions_received FROM city.ward_figures"
             " WHERE district = 'A' AND ward = 'LB01'");
    assert_int_equal(
        it_query_long(wh, sql),
        it_query_long(hubs[0].env.db, "SELECT count(*) FROM petitions"));
    assert_int_equal(
        it_query_long(wh, "SELECT count(*) FROM city.district_figures"), 2);
}

static void test_hub_down_is_reported_and_caught_up(void **state)
{
    (void)state;
    const char *into[] = {"--into", wh_conninfo, NULL};
    char *out = NULL;
    assert_int_equal(city_pull(3, &out, into), 0);
    free(out);
    it_stop(hubs[1].pid);
    hubs[1].pid = -1;
    send_petition(&hubs[0], "D-1", RECEIVED, "while B is down");
    int rc = city_pull(3, &out, into);
    assert_int_equal(rc, 4);
    assert_non_null(strstr(out, "hub B does not answer"));
    free(out);
    expect_warehouse_equals_hub(&hubs[0]);
    assert_int_equal(it_query_long(wh, "SELECT count(*) FROM city.petitions"
                                       " WHERE row_key = 'LB01/D-1'"),
                     1);
    /* Files: B's rows are kept as they were. */
    const char *dir = workdir_path("city");
    const char *json[] = {"--output", dir, "--format", "json", NULL};
    assert_int_equal(city_pull(3, &out, json), 4);
    free(out);
    json_t *rows = load_rows(dir, "petitions");
    assert_non_null(row_with(rows, "B", "LB02/Q-1"));
    assert_non_null(row_with(rows, "A", "LB01/D-1"));
    json_decref(rows);

    assert_int_equal(start_hub(&hubs[1]), 0);
    send_petition(&hubs[1], "D-2", RECEIVED, "after B is back");
    rc = city_pull(3, &out, into);
    if (rc != 0)
        fail_msg("city-pull exit %d:\n%s", rc, out);
    free(out);
    for (int i = 0; i < 2; i++)
        expect_warehouse_equals_hub(&hubs[i]);
    assert_int_equal(city_pull(3, &out, json), 0);
    free(out);
    expect_files_equal_hubs(dir);
}

/* A login role granted wardsync_warehouse_reader reads the warehouse and
 * nothing else. */
static void test_warehouse_reader_reads_only_the_warehouse(void **state)
{
    (void)state;
    char role[64], sql[256];
    snprintf(role, sizeof role, "wardsync_it_analyst_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
    admin_exec(sql);
    snprintf(sql, sizeof sql,
             "CREATE ROLE %s LOGIN PASSWORD 'analyst-pw' IN ROLE "
             "wardsync_warehouse_reader",
             role);
    assert_int_equal(admin_exec(sql), 0);
    char ci[1300], hub_ci[1300];
    snprintf(ci, sizeof ci, "%s user=%s password=analyst-pw", wh_conninfo,
             role);
    snprintf(hub_ci, sizeof hub_ci, "%s user=%s password=analyst-pw",
             hubs[0].env.conninfo, role);
    PGconn *c = PQconnectdb(ci);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_true(it_query_long(c, "SELECT count(*) FROM city.petitions") > 0);
    assert_true(it_query_long(c, "SELECT count(*) FROM city.ward_figures") > 0);
    static const char *const denied[] = {
        "DELETE FROM city.petitions", "UPDATE city.cursors SET cursor = ''",
        "INSERT INTO city.sync_status (district, row_key, change, op, "
        "loaded_at) VALUES ('X', 'x', 1, 'insert', now())",
        "SELECT city.apply_page('petitions', 'A', '[]', '', '')",
        "CREATE TABLE city.mine (x int)"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        PGresult *r = PQexec(c, denied[i]);
        if (PQresultStatus(r) == PGRES_COMMAND_OK ||
            PQresultStatus(r) == PGRES_TUPLES_OK)
            fail_msg("the reader may: %s", denied[i]);
        PQclear(r);
    }
    PQfinish(c);
    /* A hub's database on the same cluster: nothing to read. */
    c = PQconnectdb(hub_ci);
    if (PQstatus(c) == CONNECTION_OK) {
        static const char *const hub_denied[] = {
            "SELECT count(*) FROM published.indicators",
            "SELECT count(*) FROM public.petitions",
            "SELECT count(*) FROM public.ballots"};
        for (size_t i = 0; i < sizeof hub_denied / sizeof hub_denied[0]; i++) {
            PGresult *r = PQexec(c, hub_denied[i]);
            if (PQresultStatus(r) == PGRES_TUPLES_OK)
                fail_msg("the reader may, in a hub: %s", hub_denied[i]);
            PQclear(r);
        }
    }
    PQfinish(c);
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    admin_exec(sql);
}

static char *read_file_whole(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The city report: a bar per district in every chart, Vietnamese text, the
 * stale hubs. */
static void test_city_report(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/city.html", hubs[0].env.workdir);
    const char *argv[] = {
        WS_CITY_PULL_BIN, "report", "--from", wh_conninfo, "-o", path, NULL};
    char *out = NULL;
    int rc = it_run(argv, NULL, 60, &out);
    if (rc != 0)
        fail_msg("city-pull report exit %d:\n%s", rc, out);
    free(out);
    const char *html = read_file_whole(path);
    assert_non_null(strstr(html, "Báo cáo kỷ luật, kỷ cương hành chính – "
                                 "toàn thành phố"));
    size_t charts = 0;
    for (const char *p = html; (p = strstr(p, "data-bars=\"")); p++) {
        assert_int_equal(atoi(p + strlen("data-bars=\"")), 2);
        charts++;
    }
    assert_int_equal(charts, 4);
    size_t bars = 0;
    for (const char *p = html; (p = strstr(p, "<rect class=\"bar\"")); p++)
        bars++;
    assert_int_equal(bars, 8);
    assert_non_null(strstr(html, "<tr class=\"district\"><td>A</td>"));
    assert_non_null(strstr(html, "<tr class=\"district\"><td>B</td>"));
    assert_non_null(strstr(html, "mọi quận đều đã cập nhật"));
    /* The district indicators: one row per indicator and period, one value
     * per district (its own rollup, not the city's above it too). */
    const char *headlines = strstr(html, "<table id=\"headlines\">");
    assert_non_null(headlines);
    assert_null(strstr(headlines, "Hà Nội"));
    const char *row = strstr(
        headlines, "<tr><td><code>petitions_received</code></td><td>all</td>");
    assert_non_null(row);
    const char *row_end = strstr(row, "</tr>");
    size_t cells = 0;
    for (const char *p = row; (p = strstr(p, "<td>")) && p < row_end; p++)
        cells++;
    assert_int_equal(cells, 2 + 2);

    /* B not loaded for a while: stale. */
    PGresult *r = PQexec(wh, "UPDATE city.cursors SET updated_at = now() - "
                             "interval '3 days' WHERE district = 'B'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(it_run(argv, NULL, 60, &out), 0);
    free(out);
    html = read_file_whole(path);
    const char *stale = strstr(html, "<ul id=\"stale\">");
    assert_non_null(stale);
    assert_non_null(strstr(stale, "<li class=\"stale\">B – "));
    assert_null(strstr(stale, "<li class=\"stale\">A – "));
}

/* A migration edited after it was applied is refused. */
static void test_edited_migration_is_refused(void **state)
{
    (void)state;
    PGresult *r = PQexec(wh, "UPDATE city.schema_migrations"
                             " SET sha256 = repeat('0', 64) WHERE version = 1");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    const char *into[] = {"--into", wh_conninfo, NULL};
    char *out = NULL;
    assert_int_equal(city_pull(1, &out, into), 3);
    assert_non_null(strstr(out, "migration 1 (001_warehouse.sql) differs"));
    free(out);
}

static int status_of(struct test_hub *h, const char *format, char **out)
{
    const char *argv[] = {it_hub_bin,       "--database", h->env.conninfo,
                          "status",         "--format",   format,
                          "--silent-after", "3600",       NULL};
    return it_run(argv, NULL, 30, out);
}

static json_t *status_rows(const char *out)
{
    const char *start = strchr(out, '{');
    json_t *root = start ? json_loads(start, 0, NULL) : NULL;
    if (!root)
        fail_msg("status is not json:\n%s", out);
    return root;
}

/* The state of ward's instance (NULL: the unit's NEVER row). */
static const char *state_of(json_t *root, const char *ward,
                            const char *instance)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(root, "agents"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "ward")), ward) != 0)
            continue;
        const char *inst =
            json_string_value(json_object_get(a, "agent_instance"));
        if (!instance || strcmp(inst, instance) == 0)
            return json_string_value(json_object_get(a, "state"));
    }
    return "(absent)";
}

static void test_status_lists_every_unit(void **state)
{
    (void)state;
    struct test_hub *h = &hubs[0];
    char *out = NULL;
    assert_int_equal(status_of(h, "table", &out), 1);
    assert_non_null(strstr(out, "LB05     -          never"));
    assert_non_null(strstr(out, "NEVER"));
    free(out);

    /* LB01 reinstalled: a new instance from seq 1. The old one is shown
     * retired once the new one delivered, and the unit is one unit. */
    char old[WS_UUID_LEN + 1];
    memcpy(old, h->instance, sizeof old);
    ws_uuid4(h->instance);
    h->next_seq = 1;
    send_petition(h, "R-1", RECEIVED, "sau khi cài lại");
    assert_int_equal(status_of(h, "json", &out), 1);
    json_t *root = status_rows(out);
    free(out);
    assert_string_equal(state_of(root, "LB01", h->instance), "ok");
    assert_string_equal(state_of(root, "LB01", old), "RETIRED");
    assert_string_equal(state_of(root, "LB05", NULL), "NEVER");
    long units = (long)json_integer_value(json_object_get(root, "units"));
    json_decref(root);
    assert_int_equal(units,
                     it_query_long(h->env.db, "SELECT count(*) FROM org_units "
                                              "WHERE kind IN ('ward', "
                                              "'district')"));

    /* Every unit in contact: exit 0. */
    PGresult *r =
        PQexec(h->env.db, "INSERT INTO agents (ward, agent_instance) "
                          "SELECT code, 'fresh' FROM org_units WHERE kind IN "
                          "('ward', 'district') AND code NOT IN "
                          "(SELECT ward FROM agents)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(status_of(h, "table", &out), 0);
    assert_null(strstr(out, "NEVER"));
    free(out);
    /* One unit silent: exit 1. */
    r = PQexec(h->env.db, "UPDATE agents SET last_contact = now() - "
                          "interval '2 hours' WHERE ward = 'LB07'");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    assert_int_equal(status_of(h, "table", &out), 1);
    assert_non_null(strstr(out, "SILENT"));
    free(out);

    /* The district report's sync section lists every unit. */
    char path[700];
    snprintf(path, sizeof path, "%s/report.html", h->env.workdir);
    const char *argv[] = {
        it_hub_bin, "--database", h->env.conninfo, "report", "-o", path, NULL};
    assert_int_equal(it_run(argv, NULL, 60, &out), 0);
    free(out);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char html[1 << 20];
    size_t n = fread(html, 1, sizeof html - 1, f);
    html[n] = '\0';
    fclose(f);
    const char *sync = strstr(html, "<table id=\"sync\">");
    assert_non_null(sync);
    size_t rows = 0;
    for (const char *p = sync; (p = strstr(p, "<tr class=\"unit\">")); p++)
        rows++;
    assert_int_equal(rows, units);
    assert_non_null(strstr(html, "<h2>Đồng bộ dữ liệu (sync)</h2>"));
    assert_non_null(strstr(sync, "<td class=\"state-SILENT\">SILENT</td>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_hold_the_whole_dataset),
        cmocka_unit_test(test_warehouse_survives_kill_9),
        cmocka_unit_test(test_hub_down_is_reported_and_caught_up),
        cmocka_unit_test(test_warehouse_reader_reads_only_the_warehouse),
        cmocka_unit_test(test_city_report),
        cmocka_unit_test(test_edited_migration_is_refused),
        cmocka_unit_test(test_status_lists_every_unit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
