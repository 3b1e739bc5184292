/*
 * checker.c - compares ward outboxes with the hub's database after a fault
 * scenario and prints one line:
 *
 *     lost=N duplicated=N unexpected=N conflicts=N events=N
 *
 * lost        an outbox event found nowhere at the hub (neither stored nor
 *             rejected), by (agent_instance, seq) or by event_id
 * duplicated  an outbox event that ended up in more than one place
 * unexpected  a hub row that no outbox holds: an unknown agent_instance,
 *             a seq no outbox gave out, or a seq stored with another
 *             event_id than the outbox's
 * conflicts   rejected rows whose reason is a conflict (kept for review),
 *             from any sender
 * events      outbox events compared
 *
 * Exit status: 0 when lost, duplicated and unexpected are all 0; 1 when
 * not; 2 on usage; 3 when an outbox or the database cannot be read.
 */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct totals {
    long lost, duplicated, unexpected, conflicts, events;
};

/* What the hub holds for one seq of one agent instance. */
struct hub_slot {
    char event_id[40]; /* stored event, "" when none */
    int rejected;      /* rows in rejected_events for this seq */
};

static const char USAGE[] =
    "usage: chaos-checker --database CONNINFO OUTBOX.db...\n"
    "\n"
    "Compares every outbox with the hub database and prints\n"
    "\"lost=N duplicated=N unexpected=N conflicts=N events=N\".\n"
    "Exit status 0 when nothing is lost, duplicated or unexpected.\n";

static PGresult *query(PGconn *db, const char *sql, int n,
                       const char *const *values)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "chaos-checker: query failed: %s", PQerrorMessage(db));
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool event_id_stored(PGconn *db, const char *event_id)
{
    const char *v[] = {event_id};
    PGresult *r =
        query(db, "SELECT 1 FROM events WHERE event_id = $1::uuid", 1, v);
    bool found = r && PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* Loads the hub's rows of one agent instance into slots[1..max_seq]; rows
 * beyond max_seq are counted as unexpected. */
static int load_hub(PGconn *db, const char *instance, struct hub_slot *slots,
                    int64_t max_seq, struct totals *t)
{
    const char *v[] = {instance};
    PGresult *r = query(db,
                        "SELECT seq, event_id::text FROM events"
                        " WHERE agent_instance = $1",
                        1, v);
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (seq < 1 || seq > max_seq) {
            t->unexpected++;
            continue;
        }
        snprintf(slots[seq].event_id, sizeof slots[seq].event_id, "%s",
                 PQgetvalue(r, i, 1));
    }
    PQclear(r);
    r = query(db,
              "SELECT seq FROM rejected_events"
              " WHERE agent_instance = $1 AND code <> 'conflict'",
              1, v);
    if (!r)
        return -EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (seq < 1 || seq > max_seq) {
            t->unexpected++;
            continue;
        }
        slots[seq].rejected++;
    }
    PQclear(r);
    return 0;
}

static int check_outbox(PGconn *db, const char *path, struct totals *t,
                        char **instances, size_t *n_instances)
{
    sqlite3 *ob = NULL;
    sqlite3_stmt *st = NULL;
    struct hub_slot *slots = NULL;
    int rc = -EIO;

    if (sqlite3_open_v2(path, &ob, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "chaos-checker: could not open outbox \"%s\": %s\n",
                path, sqlite3_errmsg(ob));
        goto out;
    }
    char instance[64] = "";
    int64_t max_seq = 0;
    if (sqlite3_prepare_v2(ob, "SELECT agent_instance, next_seq - 1 FROM meta",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        fprintf(stderr, "chaos-checker: %s: no meta row: %s\n", path,
                sqlite3_errmsg(ob));
        goto out;
    }
    snprintf(instance, sizeof instance, "%s",
             (const char *)sqlite3_column_text(st, 0));
    max_seq = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    st = NULL;
    instances[(*n_instances)++] = strdup(instance);

    slots = calloc((size_t)max_seq + 1, sizeof *slots);
    if (!slots || load_hub(db, instance, slots, max_seq, t) < 0)
        goto out;

    if (sqlite3_prepare_v2(ob, "SELECT seq, event_id FROM events", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *event_id = (const char *)sqlite3_column_text(st, 1);
        struct hub_slot *s = &slots[seq];
        t->events++;
        bool stored_here = s->event_id[0] != '\0';
        if (stored_here && strcmp(s->event_id, event_id) != 0) {
            t->unexpected++; /* the seq holds someone else's event */
            stored_here = false;
        }
        int places = (stored_here ? 1 : 0) + s->rejected;
        if (places == 0 && !event_id_stored(db, event_id))
            t->lost++;
        else if (places > 1)
            t->duplicated += places - 1;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(ob);
    free(slots);
    return rc;
}

/* Hub rows of agent instances that no outbox given holds (conflicts
 * excepted: they are kept for review whoever sent them), and conflicts. */
static int count_foreign(PGconn *db, char **instances, size_t n,
                         struct totals *t)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += strlen(instances[i]) + 3;
    char *array = malloc(len);
    if (!array)
        return -ENOMEM;
    size_t used = (size_t)sprintf(array, "{");
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(array + used, "%s\"%s\"", i ? "," : "",
                                instances[i]);
    sprintf(array + used, "}");
    const char *v[] = {array};
    PGresult *r = query(db,
                        "SELECT (SELECT count(*) FROM events"
                        "         WHERE agent_instance <> ALL($1::text[]))"
                        "     + (SELECT count(*) FROM rejected_events"
                        "         WHERE agent_instance <> ALL($1::text[])"
                        "           AND code <> 'conflict')",
                        1, v);
    free(array);
    if (!r)
        return -EIO;
    t->unexpected += strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = query(db,
              "SELECT count(*) FROM rejected_events"
              " WHERE code = 'conflict'",
              0, NULL);
    if (!r)
        return -EIO;
    t->conflicts = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"database", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *conninfo = getenv("WARDSYNC_HUB_DATABASE");
    int opt;
    while ((opt = getopt_long(argc, argv, "d:h", options, NULL)) != -1) {
        switch (opt) {
        case 'd':
            conninfo = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return 0;
        default:
            fputs(USAGE, stderr);
            return 2;
        }
    }
    if (!conninfo || optind >= argc) {
        fputs(USAGE, stderr);
        return 2;
    }

    PGconn *db = PQconnectdb(conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "chaos-checker: could not connect: %s",
                PQerrorMessage(db));
        PQfinish(db);
        return 3;
    }
    struct totals t = {0};
    size_t n_instances = 0;
    char **instances = calloc((size_t)(argc - optind), sizeof *instances);
    int rc = instances ? 0 : 3;
    for (int i = optind; rc == 0 && i < argc; i++)
        if (check_outbox(db, argv[i], &t, instances, &n_instances) < 0)
            rc = 3;
    if (rc == 0 && count_foreign(db, instances, n_instances, &t) < 0)
        rc = 3;
    for (size_t i = 0; i < n_instances; i++)
        free(instances[i]);
    free(instances);
    PQfinish(db);
    if (rc != 0)
        return rc;
    printf("lost=%ld duplicated=%ld unexpected=%ld conflicts=%ld events=%ld\n",
           t.lost, t.duplicated, t.unexpected, t.conflicts, t.events);
    return t.lost || t.duplicated || t.unexpected ? 1 : 0;
}
