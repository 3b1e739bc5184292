/*
 * copy_ceiling.c - the database's own ceiling for storing ward events.
 *
 * Reads every event of the given outboxes and writes them with a bare
 * libpq COPY, one row each (event id, ward, seq, kind, payload bytes), in
 * transactions of 10,000 rows with synchronous_commit on: the least any
 * durable store of these events must write. Then measures the latency of
 * a one-row commit (the unit of an acknowledgement) over 1,000 commits.
 *
 * Prints: copy_events=N copy_seconds=S copy_events_per_s=R
 *         db_commit_p50_ms=X db_commit_p99_ms=Y
 */
#include <getopt.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS_PER_TRANSACTION 10000
#define COMMIT_SAMPLES 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_ok(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "copy-ceiling: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Appends one COPY text row; payload as bytea hex. */
static int put_row(PGconn *db, const char *event_id, const char *ward,
                   long long seq, const char *kind, const unsigned char *p,
                   int len, char **buf, size_t *cap)
{
    size_t need = 160 + strlen(ward) + strlen(kind) + (size_t)len * 2;
    if (need > *cap) {
        char *grown = realloc(*buf, need);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = need;
    }
    int n = sprintf(*buf, "%s\t%s\t%lld\t%s\t\\\\x", event_id, ward, seq, kind);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < len; i++) {
        (*buf)[n++] = hex[p[i] >> 4];
        (*buf)[n++] = hex[p[i] & 15];
    }
    (*buf)[n++] = '\n';
    return PQputCopyData(db, *buf, n) == 1 ? 0 : -1;
}

static int end_copy(PGconn *db)
{
    if (PQputCopyEnd(db, NULL) != 1)
        return -1;
    PGresult *r;
    int ok = 1;
    while ((r = PQgetResult(db))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "copy-ceiling: COPY: %s", PQerrorMessage(db));
            ok = 0;
        }
        PQclear(r);
    }
    return ok ? 0 : -1;
}

static int start_copy(PGconn *db)
{
    if (exec_ok(db, "BEGIN") < 0)
        return -1;
    PGresult *r = PQexec(db, "COPY bench_copy FROM STDIN");
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *conninfo = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:h", options, NULL)) != -1) {
        if (opt == 'd') {
            conninfo = optarg;
        } else {
            printf("usage: copy-ceiling --database CONNINFO OUTBOX.db...\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!conninfo || optind >= argc) {
        fprintf(stderr,
                "usage: copy-ceiling --database CONNINFO OUTBOX.db...\n");
        return 2;
    }
    PGconn *db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "copy-ceiling: %s", PQerrorMessage(db));
        PQfinish(db);
        return 3;
    }
    if (exec_ok(db, "SET synchronous_commit = on") < 0 ||
        exec_ok(db, "SET client_min_messages = warning") < 0 ||
        exec_ok(db, "DROP TABLE IF EXISTS bench_copy") < 0 ||
        exec_ok(db, "CREATE TABLE bench_copy (event_id uuid PRIMARY KEY,"
                    " ward text NOT NULL, seq bigint NOT NULL,"
                    " kind text NOT NULL, payload bytea NOT NULL)") < 0) {
        PQfinish(db);
        return 3;
    }

    char *buf = NULL;
    size_t cap = 0;
    long long total = 0, in_tx = 0;
    double t0 = now_s();
    int rc = start_copy(db);
    for (int i = optind; rc == 0 && i < argc; i++) {
        sqlite3 *ob = NULL;
        sqlite3_stmt *st = NULL;
        char ward[64] = "";
        if (sqlite3_open_v2(argv[i], &ob, SQLITE_OPEN_READONLY, NULL) ||
            sqlite3_prepare_v2(ob, "SELECT ward FROM meta", -1, &st, NULL) ||
            sqlite3_step(st) != SQLITE_ROW) {
            fprintf(stderr, "copy-ceiling: %s: %s\n", argv[i],
                    sqlite3_errmsg(ob));
            rc = -1;
        } else {
            snprintf(ward, sizeof ward, "%s", sqlite3_column_text(st, 0));
        }
        sqlite3_finalize(st);
        st = NULL;
        if (rc == 0 && sqlite3_prepare_v2(ob,
                                          "SELECT event_id, seq, kind, payload"
                                          " FROM events ORDER BY seq",
                                          -1, &st, NULL) != SQLITE_OK)
            rc = -1;
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            rc = put_row(db, (const char *)sqlite3_column_text(st, 0), ward,
                         sqlite3_column_int64(st, 1),
                         (const char *)sqlite3_column_text(st, 2),
                         sqlite3_column_blob(st, 3),
                         sqlite3_column_bytes(st, 3), &buf, &cap);
            total++;
            if (rc == 0 && ++in_tx == ROWS_PER_TRANSACTION) {
                rc = end_copy(db) || exec_ok(db, "COMMIT") || start_copy(db)
                         ? -1
                         : 0;
                in_tx = 0;
            }
        }
        sqlite3_finalize(st);
        sqlite3_close(ob);
    }
    if (rc == 0)
        rc = end_copy(db) || exec_ok(db, "COMMIT") ? -1 : 0;
    double copy_s = now_s() - t0;
    free(buf);
    if (rc != 0) {
        PQfinish(db);
        return 3;
    }

    /* One-row commits: what an acknowledgement has to wait for at least. */
    double samples[COMMIT_SAMPLES];
    exec_ok(db, "CREATE TEMP TABLE bench_commit (n int)");
    for (int i = 0; i < COMMIT_SAMPLES; i++) {
        double s = now_s();
        exec_ok(db, "BEGIN");
        exec_ok(db, "INSERT INTO bench_copy VALUES (gen_random_uuid(), 'X',"
                    " 0, 'k', '\\x00')");
        exec_ok(db, "COMMIT");
        samples[i] = (now_s() - s) * 1000.0;
    }
    qsort(samples, COMMIT_SAMPLES, sizeof samples[0], cmp_double);
    printf("copy_events=%lld copy_seconds=%.2f copy_events_per_s=%.0f\n", total,
           copy_s, (double)total / copy_s);
    printf("db_commit_p50_ms=%.3f db_commit_p99_ms=%.3f\n",
           samples[COMMIT_SAMPLES / 2], samples[COMMIT_SAMPLES * 99 / 100]);
    PQfinish(db);
    return 0;
}
