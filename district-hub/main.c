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
#include <string.h>

#include "indicators.h"
#include "ingest.h"
#include "migrate.h"
#include "settings.h"
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
    "--insecure\n"
    "\n"
    "Migrates, then receives batches from ward agents and acknowledges each\n"
    "after it has committed. Stops cleanly on SIGINT or SIGTERM.\n"
    "\n"
    "options:\n"
    "      --ingest ENDPOINT  ZeroMQ endpoint to bind (default tcp://*:7401;\n"
    "                         tcp://127.0.0.1:* picks a free port, logged as\n"
    "                         \"ingest endpoint=...\")\n"
    "      --insecure         accept unauthenticated, unencrypted agents and\n"
    "                         trust the ward they name; required until CURVE\n"
    "                         authentication exists (development only)\n"
    "  -h, --help             show this help\n";

static const char INDICATORS_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] indicators [--format FORMAT] "
    "[--period P]\n"
    "\n"
    "Prints the count indicators per ward, for the district office\n"
    "(LB-office) and for the whole district (LB: office and wards).\n"
    "\n"
    "options:\n"
    "      --format FORMAT  table (default), csv or json\n"
    "      --period P       all (default), YYYY, YYYY-Qn, YYYY-MM,\n"
    "                       YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD\n"
    "  -h, --help           show this help\n";

struct command_line {
    const char *config;
    const char *database;
    const char *command;
    const char *ingest;
    bool insecure;
    const char *format;
    const char *period;
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
    enum { OPT_INGEST = 256, OPT_INSECURE, OPT_FORMAT, OPT_PERIOD };
    static const struct option run_options[] = {
        {"ingest", required_argument, NULL, OPT_INGEST},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option indicators_options[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static const struct option migrate_options[] = {
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

    const struct option *options;
    const char *usage;
    if (strcmp(cl->command, "migrate") == 0) {
        options = migrate_options;
        usage = MIGRATE_USAGE;
    } else if (strcmp(cl->command, "run") == 0) {
        options = run_options;
        usage = RUN_USAGE;
    } else if (strcmp(cl->command, "indicators") == 0) {
        options = indicators_options;
        usage = INDICATORS_USAGE;
    } else {
        return usage_error(PROGRAM_USAGE, "unknown command \"%s\"",
                           cl->command);
    }

    optind = 0; /* glibc: start a fresh scan of the new argv */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
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
        case ':':
            return usage_error(usage, "option \"%s\" needs a value",
                               argv[optind - 1]);
        default:
            return usage_error(usage, "unknown option \"%s\"",
                               argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error(usage, "unexpected argument \"%s\"", argv[optind]);
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
    else if (strcmp(cl.command, "run") == 0)
        rc = ingest_run(&settings, cl.ingest, cl.insecure);
    else
        rc = indicators_run(&settings, cl.format, cl.period, stdout);
    settings_release(&settings);
    return rc;
}
