/*
 * status.c - "district-hub status": every unit that should report, and
 * what its agents last told the hub (docs/DESIGN.md §8).
 *
 * A unit is listed even when it never made contact (NEVER); a reinstalled
 * agent (a new agent_instance) is one unit, its old instance RETIRED once
 * the new one delivered (db_read_status_agents). The backlog is the one
 * the agent reported with its last batch, not a guess of the hub's; lag is
 * the time since the last contact. A unit never seen or silent past the
 * threshold makes the command exit 1, for a monitoring check.
 */
#include "status.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn.h"
#include "db/read.h"
#include "wardsync/log.h"

#define MODULE "status"

static const char *cell(const struct db_table *t, size_t r, const char *name)
{
    int c = db_table_column(t, name);
    const char *v = c >= 0 ? db_table_get(t, r, (size_t)c) : NULL;
    return v ? v : "";
}

/* "3d 04h", "2h 05m", "42s": short enough for a table column. */
static void format_lag(long long s, char *out, size_t cap)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(out, cap, "%lldd %02lldh", s / 86400, (s % 86400) / 3600);
    else if (s >= 3600)
        snprintf(out, cap, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(out, cap, "%lldm %02llds", s / 60, s % 60);
    else
        snprintf(out, cap, "%llds", s);
}

/* Units (first rows of a ward) and those silent or never seen. */
static void count_units(const struct db_table *t, size_t *units, size_t *silent)
{
    *units = *silent = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        if (r == 0 || strcmp(cell(t, r, "ward"), cell(t, r - 1, "ward")) != 0)
            (*units)++;
        *silent += strcmp(cell(t, r, "silent"), "t") == 0;
    }
}

static void print_table(const struct db_table *t, long silent_after_s,
                        FILE *out)
{
    fprintf(out, "%-8s %-10s %-20s %-9s %8s %9s %9s %8s %9s  %s\n", "ward",
            "agent", "last contact (UTC)", "lag", "backlog", "accepted",
            "duplicate", "conflict", "rejected", "state");
    for (size_t r = 0; r < t->n_rows; r++) {
        char lag[32] = "-", agent[11];
        const char *state = cell(t, r, "state");
        bool never = strcmp(state, "NEVER") == 0;
        if (!never)
            format_lag(strtoll(cell(t, r, "lag_seconds"), NULL, 10), lag,
                       sizeof lag);
        snprintf(agent, sizeof agent, "%s",
                 never ? "-" : cell(t, r, "agent_instance"));
        bool first =
            r == 0 || strcmp(cell(t, r, "ward"), cell(t, r - 1, "ward")) != 0;
        fprintf(out, "%-8s %-10s %-20s %-9s %8s %9s %9s %8s %9s  %s\n",
                first ? cell(t, r, "ward") : "", agent,
                never ? "never" : cell(t, r, "last_contact"), lag,
                cell(t, r, "backlog"), cell(t, r, "accepted"),
                cell(t, r, "duplicate"), cell(t, r, "conflict"),
                cell(t, r, "rejected"), state);
    }
    size_t units, silent;
    count_units(t, &units, &silent);
    fprintf(out, "%zu units, %zu silent for more than %lds or never seen\n",
            units, silent, silent_after_s);
}

static json_t *integer_of(const char *text)
{
    return json_integer(strtoll(text, NULL, 10));
}

static int print_json(const struct db_table *t, long silent_after_s, FILE *out)
{
    json_t *root = json_object();
    json_t *agents = json_array();
    if (!root || !agents)
        goto fail;
    size_t units, silent;
    count_units(t, &units, &silent);
    json_object_set_new(root, "silent_after_s", json_integer(silent_after_s));
    json_object_set_new(root, "units", json_integer((json_int_t)units));
    json_object_set_new(root, "silent_units", json_integer((json_int_t)silent));
    json_object_set_new(root, "agents", agents);
    for (size_t r = 0; r < t->n_rows; r++) {
        json_t *a = json_pack(
            "{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b, "
            "s:s}",
            "ward", cell(t, r, "ward"), "name", cell(t, r, "name"),
            "agent_instance", cell(t, r, "agent_instance"), "committed_through",
            integer_of(cell(t, r, "committed_through")), "first_contact",
            cell(t, r, "first_contact"), "last_contact",
            cell(t, r, "last_contact"), "lag_s",
            integer_of(cell(t, r, "lag_seconds")), "backlog",
            integer_of(cell(t, r, "backlog")), "accepted",
            integer_of(cell(t, r, "accepted")), "duplicate",
            integer_of(cell(t, r, "duplicate")), "conflict",
            integer_of(cell(t, r, "conflict")), "rejected",
            integer_of(cell(t, r, "rejected")), "silent",
            strcmp(cell(t, r, "silent"), "t") == 0, "state",
            cell(t, r, "state"));
        if (!a || json_array_append_new(agents, a) != 0)
            goto fail;
    }
    if (json_dumpf(root, out, JSON_INDENT(2)) != 0)
        goto fail;
    fputc('\n', out);
    json_decref(root);
    return 0;
fail:
    json_decref(root);
    ws_error(MODULE, "could not write json");
    return -EIO;
}

int status_run(const struct hub_settings *settings, const char *format,
               long silent_after_s, FILE *out)
{
    bool json = false;
    if (format && strcmp(format, "json") == 0)
        json = true;
    else if (format && strcmp(format, "table") != 0) {
        ws_error(MODULE, "unknown format \"%s\" (table or json)", format);
        return -EDOM;
    }
    struct db *db = NULL;
    struct db_table t = {0};
    char err[1024];
    if (db_open(settings->database, "district-hub status", &db, err,
                sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        return -EIO;
    }
    int rc = -EIO;
    if (db_read_status_agents(db, silent_after_s, &t, err, sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        goto out;
    }
    if (json) {
        rc = print_json(&t, silent_after_s, out);
    } else {
        print_table(&t, silent_after_s, out);
        rc = 0;
    }
    size_t units, silent;
    count_units(&t, &units, &silent);
    if (rc == 0 && silent > 0)
        rc = 1;
out:
    db_table_clear(&t);
    db_close(&db);
    return rc;
}
