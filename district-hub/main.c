/*
 * main.c - the district-hub command line (docs/contracts.md).
 *
 * Parses options and hands over to one module per command; nothing else.
 * Exit codes: 0 ok, 1 bad input, 2 usage, 3 database or I/O error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "indicators.h"
#include "server.h"
#include "migrate.h"
#include "report.h"
#include "rounds.h"
#include "settings.h"
#include "status.h"
#include "wardsync/log.h"

static const char PROGRAM_USAGE[] =
    "usage: district-hub [-c FILE] [--database CONNINFO] COMMAND [ARGS]\n"
    "\n"
    "The district hub: receives ward agents' batches, stores them in\n"
    "PostgreSQL and reports indicators.\n"
    "\n"
    "commands:\n"
    "  migrate      apply pending schema migrations, load org units and the\n"
    "               catalogue\n"
    "  run          migrate, then serve the ingest endpoint\n"
    "  indicators   print the indicators per ward and district\n"
    "  round        create, open, close and show survey rounds\n"
    "  status       one row per agent: last contact, lag, backlog, counts\n"
    "  report       write the district report as one HTML file\n"
    "  keygen       write the hub's CURVE key pair\n"
    "  enroll       register a ward's or city's public key\n"
    "  revoke       withdraw a ward's or city's key(s)\n"
    "\n"
    "options:\n"
    "  -c, --config FILE        INI file with a [hub] section\n"
    "      --database CONNINFO  libpq connection string (overrides\n"
    "                           hub.database and WARDSYNC_HUB_DATABASE)\n"
    "  -h, --help               show this help\n"
    "\n"
    "\"district-hub COMMAND --help\" describes a command. Every [hub] key\n"
    "can also be set as WARDSYNC_HUB_<KEY> (database, ingest, max_frame,\n"
    "catalogue, org_units, sql_dir).\n"
    "exit codes: 0 ok, 1 bad input, 2 usage, 3 database or I/O error\n";

static const char MIGRATE_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] migrate\n"
    "\n"
    "Applies, in order and each in its own transaction, every migration of\n"
    "the sql directory not yet recorded in schema_migrations, then upserts\n"
    "the org units file and the catalogue. Safe to run again and from two\n"
    "hubs at once (an advisory lock serialises them).\n";

static const char RUN_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] run [--ingest ENDPOINT] "
    "[--insecure]\n"
    "\n"
    "Checks the schema (migrating only when migrations are pending, which\n"
    "needs the owner), then receives batches from ward agents over CURVE\n"
    "(hub.secret_key; keys registered with enroll) and acknowledges each\n"
    "after it has committed. Stops cleanly on SIGINT or SIGTERM.\n"
    "\n"
    "options:\n"
    "      --ingest ENDPOINT  ZeroMQ endpoint to bind (default tcp://*:7401;\n"
    "                         tcp://127.0.0.1:* picks a free port, logged as\n"
    "                         \"ingest endpoint=...\")\n"
    "      --insecure         no CURVE: accept unauthenticated, unencrypted\n"
    "                         agents and trust the ward they name (local\n"
    "                         experiments only; warns at every start)\n"
    "  -h, --help             show this help\n";

static const char KEYGEN_USAGE[] =
    "usage: district-hub keygen [--force] PATH\n"
    "\n"
    "Writes a new CURVE key pair: PATH holds the public key (give it to\n"
    "agents as hub_public_key), PATH_secret both keys, readable by its owner\n"
    "only (set it as hub.secret_key). Existing files are kept unless\n"
    "--force.\n";

static const char ENROLL_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] enroll (--ward CODE | --city NAME) "
    "--key FILE\n"
    "\n"
    "Registers the public key in FILE (written by \"ward-agent keygen\" or\n"
    "\"district-hub keygen\") for ward CODE or city client NAME. A running\n"
    "hub accepts it at the next connection. Run as the database owner.\n";

static const char REVOKE_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] revoke (--ward CODE | --city NAME "
    "| --key FILE)\n"
    "\n"
    "Revokes every key of a ward or city client, or the one key in FILE. A\n"
    "running hub refuses it from the next handshake and the next batch on.\n"
    "Run as the database owner.\n";

static const char INDICATORS_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] indicators [--format FORMAT] "
    "[--period P] [--as-of DATE]\n"
    "\n"
    "Prints every indicator per ward, for each unit's own office\n"
    "(LB-office) and for every unit with children (LB: office and wards).\n"
    "\n"
    "options:\n"
    "      --format FORMAT  table (default), csv or json\n"
    "      --period P       all (default), YYYY, YYYY-Qn, YYYY-MM,\n"
    "                       YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD\n"
    "      --as-of DATE     judge every date-dependent figure as it stood\n"
    "                       on DATE (default: today in Asia/Ho_Chi_Minh, or\n"
    "                       the period's last day when it is over)\n"
    "  -h, --help           show this help\n";

static const char STATUS_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] status [--format FORMAT] "
    "[--silent-after SECONDS]\n"
    "\n"
    "One row per agent: ward, last contact, lag, backlog as the agent last\n"
    "reported it, accepted / duplicate / conflict / rejected events. Agents\n"
    "without contact for longer than the threshold are marked SILENT.\n"
    "\n"
    "options:\n"
    "      --format FORMAT          table (default) or json\n"
    "      --silent-after SECONDS   threshold (default 900)\n"
    "  -h, --help                   show this help\n";

static const char REPORT_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] report [-o FILE] [--as-of DATE]\n"
    "\n"
    "Writes one self-contained HTML page (inline styles and SVG charts, no\n"
    "external assets): indicators per ward, ballot levels per content\n"
    "group, flagged subjects and remediation, petition backlog by age,\n"
    "on-time rates per ward, reception per week, and the rules used.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   where to write (default report.html; - for\n"
    "                      stdout)\n"
    "      --as-of DATE    the day the figures are judged on (default:\n"
    "                      today in Asia/Ho_Chi_Minh)\n"
    "  -h, --help          show this help\n";

struct command_line {
    int command_argc;    /* round: its own arguments */
    char **command_argv; /* round */
    const char *config;
    const char *database;
    const char *command;
    const char *ingest;
    bool insecure;
    const char *format;
    const char *period;
    const char *as_of;    /* indicators, report */
    long silent_after;    /* status */
    const char *output;   /* report */
    const char *ward;     /* enroll, revoke */
    const char *city;     /* enroll, revoke */
    const char *key_file; /* enroll, revoke */
    const char *path;     /* keygen */
    bool force;           /* keygen */
};

__attribute__((format(printf, 2, 3))) static int
usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("district-hub: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fputs(usage, stderr);
    return HUB_EXIT_USAGE;
}

/* Parses the options of one command; argv[0] is the command name. Returns
 * -1 to go on, or an exit code (help printed, or a usage error). */
static int parse_command(int argc, char **argv, struct command_line *cl)
{
    enum {
        OPT_INGEST = 256,
        OPT_INSECURE,
        OPT_FORMAT,
        OPT_PERIOD,
        OPT_WARD,
        OPT_CITY,
        OPT_KEY,
        OPT_FORCE,
        OPT_SILENT_AFTER,
        OPT_AS_OF
    };
    static const struct option run_options[] = {
        {"ingest", required_argument, NULL, OPT_INGEST},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option indicators_options[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"as-of", required_argument, NULL, OPT_AS_OF},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option status_options[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"silent-after", required_argument, NULL, OPT_SILENT_AFTER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option report_options[] = {
        {"output", required_argument, NULL, 'o'},
        {"as-of", required_argument, NULL, OPT_AS_OF},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option migrate_options[] = {
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static const struct option keygen_options[] = {
        {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option key_options[] = {
        {"ward", required_argument, NULL, OPT_WARD},
        {"city", required_argument, NULL, OPT_CITY},
        {"key", required_argument, NULL, OPT_KEY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};

    const struct option *options;
    const char *usage;
    if (strcmp(cl->command, "round") == 0) {
        cl->command_argc = argc; /* rounds_run parses its own options */
        cl->command_argv = argv;
        return -1;
    }
    if (strcmp(cl->command, "migrate") == 0) {
        options = migrate_options;
        usage = MIGRATE_USAGE;
    } else if (strcmp(cl->command, "run") == 0) {
        options = run_options;
        usage = RUN_USAGE;
    } else if (strcmp(cl->command, "indicators") == 0) {
        options = indicators_options;
        usage = INDICATORS_USAGE;
    } else if (strcmp(cl->command, "status") == 0) {
        options = status_options;
        usage = STATUS_USAGE;
    } else if (strcmp(cl->command, "report") == 0) {
        options = report_options;
        usage = REPORT_USAGE;
    } else if (strcmp(cl->command, "keygen") == 0) {
        options = keygen_options;
        usage = KEYGEN_USAGE;
    } else if (strcmp(cl->command, "enroll") == 0) {
        options = key_options;
        usage = ENROLL_USAGE;
    } else if (strcmp(cl->command, "revoke") == 0) {
        options = key_options;
        usage = REVOKE_USAGE;
    } else {
        return usage_error(PROGRAM_USAGE, "unknown command \"%s\"",
                           cl->command);
    }

    optind = 0; /* glibc: start a fresh scan of the new argv */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:ho:", options, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return HUB_EXIT_OK;
        case OPT_INGEST:
            cl->ingest = optarg;
            break;
        case OPT_INSECURE:
            cl->insecure = true;
            break;
        case OPT_FORMAT:
            cl->format = optarg;
            break;
        case OPT_PERIOD:
            cl->period = optarg;
            break;
        case OPT_AS_OF:
            cl->as_of = optarg;
            break;
        case OPT_SILENT_AFTER: {
            char *end = NULL;
            cl->silent_after = strtol(optarg, &end, 10);
            if (!*optarg || *end || cl->silent_after <= 0)
                return usage_error(usage, "bad --silent-after \"%s\"", optarg);
            break;
        }
        case 'o':
            if (options != report_options)
                return usage_error(usage, "%s", "unknown option \"-o\"");
            cl->output = optarg;
            break;
        case OPT_WARD:
            cl->ward = optarg;
            break;
        case OPT_CITY:
            cl->city = optarg;
            break;
        case OPT_KEY:
            cl->key_file = optarg;
            break;
        case OPT_FORCE:
            cl->force = true;
            break;
        case ':':
            return usage_error(usage, "option \"%s\" needs a value",
                               argv[optind - 1]);
        default:
            return usage_error(usage, "unknown option \"%s\"",
                               argv[optind - 1]);
        }
    }
    if (options == keygen_options) {
        if (argc - optind != 1)
            return usage_error(usage, "%s", "keygen wants one PATH");
        cl->path = argv[optind++];
    }
    if (optind < argc)
        return usage_error(usage, "unexpected argument \"%s\"", argv[optind]);
    if (options == key_options) {
        if (cl->ward && cl->city)
            return usage_error(usage, "%s", "give --ward or --city, not both");
        bool enroll = usage == ENROLL_USAGE;
        if (enroll && (!(cl->ward || cl->city) || !cl->key_file))
            return usage_error(usage, "%s",
                               "enroll wants --ward or --city, and --key");
        if (!enroll && !cl->ward && !cl->city && !cl->key_file)
            return usage_error(usage, "%s",
                               "revoke wants --ward, --city or --key");
    }
    return -1;
}

/* Parses the global options and the command. Returns -1 to go on, or an
 * exit code. */
static int parse_command_line(int argc, char **argv, struct command_line *cl)
{
    enum { OPT_DATABASE = 256 };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"database", required_argument, NULL, OPT_DATABASE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};

    opterr = 0;
    int opt;
    /* "+": stop at the command; its options are parsed separately. */
    while ((opt = getopt_long(argc, argv, "+:c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cl->config = optarg;
            break;
        case OPT_DATABASE:
            cl->database = optarg;
            break;
        case 'h':
            fputs(PROGRAM_USAGE, stdout);
            return HUB_EXIT_OK;
        case ':':
            return usage_error(PROGRAM_USAGE, "option \"%s\" needs a value",
                               argv[optind - 1]);
        default:
            return usage_error(PROGRAM_USAGE, "unknown option \"%s\"",
                               argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error(PROGRAM_USAGE, "%s", "no command given");
    cl->command = argv[optind];
    return parse_command(argc - optind, argv + optind, cl);
}

int main(int argc, char **argv)
{
    struct command_line cl = {0};
    int rc = parse_command_line(argc, argv, &cl);
    if (rc >= 0)
        return rc;

    struct hub_settings settings;
    char err[1024];
    rc = settings_load(cl.config, cl.database, &settings, err, sizeof err);
    if (rc != HUB_EXIT_OK) {
        ws_error("hub", "%s", err);
        return rc;
    }
    if (strcmp(cl.command, "migrate") == 0)
        rc = migrate_run(&settings);
    else if (strcmp(cl.command, "keygen") == 0)
        rc = keys_keygen_run(cl.path, cl.force);
    else if (strcmp(cl.command, "enroll") == 0)
        rc = keys_enroll_run(&settings,
                             cl.ward ? PRINCIPAL_WARD : PRINCIPAL_CITY,
                             cl.ward ? cl.ward : cl.city, cl.key_file);
    else if (strcmp(cl.command, "revoke") == 0)
        rc = keys_revoke_run(&settings,
                             cl.ward ? PRINCIPAL_WARD : PRINCIPAL_CITY,
                             cl.ward ? cl.ward : cl.city, cl.key_file);
    else if (strcmp(cl.command, "run") == 0)
        rc = server_run(&settings, cl.ingest, cl.insecure);
    else if (strcmp(cl.command, "status") == 0)
        rc = status_run(&settings, cl.format,
                        cl.silent_after ? cl.silent_after
                                        : STATUS_DEFAULT_SILENT_AFTER_S,
                        stdout);
    else if (strcmp(cl.command, "round") == 0)
        rc = rounds_run(&settings, cl.command_argc, cl.command_argv);
    else if (strcmp(cl.command, "report") == 0)
        rc = report_run(&settings, cl.output ? cl.output : "report.html",
                        cl.as_of);
    else
        rc = indicators_run(&settings, cl.format, cl.period, cl.as_of, stdout);
    settings_release(&settings);
    return rc;
}
