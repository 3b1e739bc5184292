/*
 * rounds.c - create, open, close and show survey rounds.
 *
 * A round is created as a draft (from the command line or a file), then
 * opened: from then on ballots for it are accepted while their collection
 * day lies within its dates; once closed, every further ballot of the
 * round is rejected with the reason (a late ballot is not counted). The
 * checks themselves run in the database (sql/001_baseline.sql).
 *
 * Round file (CSV, header "record,round,a,b,c"), one transaction:
 *   round,CODE,OPENS_ON,CLOSES_ON,LABEL
 *   form,CODE,CATEGORY,FORM,          the form a subject category uses
 *   ward,CODE,WARD,EXPECTED_BALLOTS,
 *   subject,CODE,WARD,SUBJECT,CATEGORY
 */
#include "rounds.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvload.h"
#include "db/conn.h"
#include "db/rounds.h"
#include "wardsync/csv.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

#define MODULE "round"

static bool date_ok(const char *s)
{
    int32_t d;
    return s && ws_date_parse(s, &d) == 0;
}

/* Applies one record of a round file. Returns 0 or a negative errno with
 * the reason in err. */
static int apply_record(struct db *st, const struct ws_csv_record *rec,
                        char *err, size_t errlen)
{
    if (rec->n_fields < 4) {
        snprintf(err, errlen, "want record,round,a,b[,c], got %zu fields",
                 rec->n_fields);
        return -EINVAL;
    }
    const char *kind = rec->fields[0], *round = rec->fields[1];
    const char *a = rec->fields[2], *b = rec->fields[3];
    const char *c = rec->n_fields > 4 ? rec->fields[4] : "";
    char reason[256];
    if (ws_validate_code("round", round, reason, sizeof reason) != 0) {
        snprintf(err, errlen, "%s", reason);
        return -EINVAL;
    }
    if (strcmp(kind, "round") == 0) {
        if (!date_ok(a) || !date_ok(b)) {
            snprintf(err, errlen, "round dates must be YYYY-MM-DD");
            return -EINVAL;
        }
        return db_round_upsert(st, round, a, b, c, err, errlen);
    }
    if (strcmp(kind, "form") == 0)
        return db_round_form(st, round, a, b, err, errlen);
    if (strcmp(kind, "ward") == 0)
        return db_round_ward(st, round, a, b, err, errlen);
    if (strcmp(kind, "subject") == 0) {
        if (ws_validate_code("subject", b, reason, sizeof reason) != 0) {
            snprintf(err, errlen, "%s", reason);
            return -EINVAL;
        }
        return db_round_subject(st, round, a, b, c, err, errlen);
    }
    snprintf(err, errlen,
             "unknown record \"%s\" (round, form, ward or subject)", kind);
    return -EINVAL;
}

/* Opens the session of one round command; logs why not. */
static struct db *open_db(const struct hub_settings *settings)
{
    struct db *db = NULL;
    char err[1024];
    if (db_open(settings->database, "district-hub round", &db, err,
                sizeof err) < 0)
        ws_error(MODULE, "%s", err);
    return db;
}

int rounds_load_file(const struct hub_settings *settings, const char *path)
{
    struct db *db = open_db(settings);
    if (!db)
        return -EIO;
    size_t applied;
    int rc = csvload_apply(db, MODULE, path, "record", apply_record, &applied);
    if (rc == 0)
        ws_info(MODULE, "round file loaded file=%s records=%zu", path, applied);
    db_close(&db);
    return rc;
}

int rounds_create(const struct hub_settings *settings, const char *code,
                  const char *opens, const char *closes, const char *label)
{
    struct db *db = open_db(settings);
    if (!db)
        return -EIO;
    char err[1024];
    int rc = db_round_upsert(db, code, opens, closes, label, err, sizeof err);
    db_close(&db);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        return rc == -EINVAL ? -EINVAL : -EIO;
    }
    ws_info(MODULE, "round created code=%s opens=%s closes=%s", code, opens,
            closes);
    return 0;
}

int rounds_set_state(const struct hub_settings *settings, const char *code,
                     bool open)
{
    struct db *db = open_db(settings);
    if (!db)
        return -EIO;
    char err[1024];
    const char *state = open ? "open" : "closed";
    int rc = db_round_set_state(db, code, state, err, sizeof err);
    db_close(&db);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        return rc == -EIO ? -EIO : -EINVAL;
    }
    ws_info(MODULE, "round %s code=%s", state, code);
    return 0;
}

struct show_ctx {
    bool json;
    json_t *array;
};

static void show_row(void *arg, const char *const f[9])
{
    struct show_ctx *ctx = arg;
    if (ctx->json) {
        json_t *row = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "code", f[0],
            "label", f[1], "opens_on", f[2], "closes_on", f[3], "state", f[4],
            "wards", (json_int_t)strtoll(f[5], NULL, 10), "subjects",
            (json_int_t)strtoll(f[6], NULL, 10), "expected_ballots",
            (json_int_t)strtoll(f[7], NULL, 10), "ballots_received",
            (json_int_t)strtoll(f[8], NULL, 10));
        if (row)
            json_array_append_new(ctx->array, row);
        return;
    }
    printf("%-12s %-7s %s..%s  wards %s  subjects %s  ballots %s/%s expected"
           "  %s\n",
           f[0], f[4], f[2], f[3], f[5], f[6], f[8], f[7], f[1]);
}

int rounds_show(const struct hub_settings *settings, const char *code,
                bool json)
{
    struct db *db = open_db(settings);
    if (!db)
        return -EIO;
    char err[1024];
    struct show_ctx ctx = {json, json ? json_array() : NULL};
    int rc = db_round_show(db, code, show_row, &ctx, err, sizeof err);
    db_close(&db);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        rc = rc == -EIO ? -EIO : -EINVAL;
    } else {
        rc = 0;
        if (json) {
            json_dumpf(ctx.array, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
        }
    }
    json_decref(ctx.array);
    return rc;
}
