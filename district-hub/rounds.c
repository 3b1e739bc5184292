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
#include <getopt.h>
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

const char ROUNDS_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] round COMMAND\n"
    "\n"
    "  round create CODE --opens YYYY-MM-DD --closes YYYY-MM-DD [--label T]\n"
    "  round create --file FILE   rounds, forms per subject category, wards\n"
    "                             with expected ballots and subjects, from a\n"
    "                             CSV file (record,round,a,b,c), in one\n"
    "                             transaction\n"
    "  round open CODE            start accepting ballots of the round\n"
    "  round close CODE           stop: later ballots are rejected\n"
    "  round show [CODE] [--format table|json]\n"
    "\n"
    "A ballot is accepted only for an open round, collected between its\n"
    "dates, for a subject the round lists in the sender's ward, on the form\n"
    "of the subject's category; otherwise it is rejected with the reason.\n";

static int usage_error(const char *what)
{
    fprintf(stderr, "district-hub round: %s\n\n%s", what, ROUNDS_USAGE);
    return HUB_EXIT_USAGE;
}

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

static int create_from_file(struct db *st, const char *path)
{
    size_t applied;
    int rc = csvload_apply(st, MODULE, path, "record", apply_record, &applied);
    if (rc == HUB_EXIT_OK)
        ws_info(MODULE, "round file loaded file=%s records=%zu", path, applied);
    return rc;
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

int rounds_run(const struct hub_settings *settings, int argc, char **argv)
{
    enum { OPT_OPENS = 256, OPT_CLOSES, OPT_LABEL, OPT_FILE, OPT_FORMAT };
    static const struct option options[] = {
        {"opens", required_argument, NULL, OPT_OPENS},
        {"closes", required_argument, NULL, OPT_CLOSES},
        {"label", required_argument, NULL, OPT_LABEL},
        {"file", required_argument, NULL, OPT_FILE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *opens = NULL, *closes = NULL, *label = NULL, *file = NULL;
    const char *format = "table";
    if (argc < 2)
        return usage_error("no round command given");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(ROUNDS_USAGE, stdout);
        return HUB_EXIT_OK;
    }
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc - 1, argv + 1, ":h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_OPENS:
            opens = optarg;
            break;
        case OPT_CLOSES:
            closes = optarg;
            break;
        case OPT_LABEL:
            label = optarg;
            break;
        case OPT_FILE:
            file = optarg;
            break;
        case OPT_FORMAT:
            format = optarg;
            break;
        case 'h':
            fputs(ROUNDS_USAGE, stdout);
            return HUB_EXIT_OK;
        case ':':
            return usage_error("an option needs a value");
        default:
            return usage_error("unknown option");
        }
    }
    /* getopt_long permutes: the operands follow the options now. */
    const char *code = optind < argc - 1 ? argv[1 + optind] : NULL;
    if (optind + 1 < argc - 1)
        return usage_error("too many arguments");

    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "table") != 0)
        return usage_error("--format: table or json");
    char reason[256];
    if (code && ws_validate_code("round", code, reason, sizeof reason) != 0)
        return usage_error(reason);

    struct db *st = NULL;
    char err[1024];
    int rc = HUB_EXIT_OK;
    if (strcmp(sub, "create") == 0) {
        if (!file && (!code || !date_ok(opens) || !date_ok(closes)))
            return usage_error("create needs CODE --opens DATE --closes DATE, "
                               "or --file FILE");
    } else if (strcmp(sub, "open") == 0 || strcmp(sub, "close") == 0) {
        if (!code)
            return usage_error("which round?");
    } else if (strcmp(sub, "show") != 0) {
        return usage_error("unknown round command (create, open, close, "
                           "show)");
    }
    if (db_open(settings->database, "district-hub round", &st, err,
                sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        return HUB_EXIT_IO;
    }
    if (strcmp(sub, "create") == 0 && file) {
        rc = create_from_file(st, file);
    } else if (strcmp(sub, "create") == 0) {
        int r =
            db_round_upsert(st, code, opens, closes, label, err, sizeof err);
        if (r < 0) {
            ws_error(MODULE, "%s", err);
            rc = r == -EINVAL ? HUB_EXIT_INPUT : HUB_EXIT_IO;
        } else {
            ws_info(MODULE, "round created code=%s opens=%s closes=%s", code,
                    opens, closes);
        }
    } else if (strcmp(sub, "open") == 0 || strcmp(sub, "close") == 0) {
        const char *state = strcmp(sub, "open") == 0 ? "open" : "closed";
        int r = db_round_set_state(st, code, state, err, sizeof err);
        if (r < 0) {
            ws_error(MODULE, "%s", err);
            rc = r == -EIO ? HUB_EXIT_IO : HUB_EXIT_INPUT;
        } else {
            ws_info(MODULE, "round %s code=%s", state, code);
        }
    } else {
        struct show_ctx ctx = {json, json ? json_array() : NULL};
        int r = db_round_show(st, code, show_row, &ctx, err, sizeof err);
        if (r < 0) {
            ws_error(MODULE, "%s", err);
            rc = r == -EIO ? HUB_EXIT_IO : HUB_EXIT_INPUT;
        } else if (json) {
            json_dumpf(ctx.array, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
        }
        json_decref(ctx.array);
    }
    db_close(&st);
    return rc;
}
