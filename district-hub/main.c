/*
 * main.c - the district-hub command line (docs/contracts.md).
 *
 * Parses the global options, finds the command in the table and hands it
 * the rest of argv; each command (cmd/) parses its own options, calls its
 * module and maps the result to an exit code (cmd/cmd.h).
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "wardsync/paths.h"

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
    "  status       every unit: last contact, lag, backlog, counts; exit 1\n"
    "               when one is silent or never seen\n"
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
    "      --version            show the version and the data folder\n"
    "\n"
    "\"district-hub COMMAND --help\" describes a command. Every [hub] key\n"
    "can also be set as WARDSYNC_HUB_<KEY> (database, ingest, max_frame,\n"
    "catalogue, org_units, sql_dir, ...).\n"
    "exit codes: 0 ok, 1 bad input, 2 usage, 3 database or I/O error\n";

static const struct cmd *const commands[] = {
    &cmd_migrate, &cmd_run,    &cmd_indicators, &cmd_round,  &cmd_status,
    &cmd_report,  &cmd_keygen, &cmd_enroll,     &cmd_revoke,
};

int main(int argc, char **argv)
{
    enum { OPT_DATABASE = 256, OPT_VERSION };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"database", required_argument, NULL, OPT_DATABASE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0}};
    struct cmd_global global = {NULL, NULL};

    opterr = 0;
    int opt;
    /* "+": stop at the command; its options are the command's. */
    while ((opt = getopt_long(argc, argv, "+:c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            global.config = optarg;
            break;
        case OPT_DATABASE:
            global.database = optarg;
            break;
        case 'h':
            fputs(PROGRAM_USAGE, stdout);
            return HUB_EXIT_OK;
        case OPT_VERSION:
            ws_print_version("district-hub");
            return HUB_EXIT_OK;
        case ':':
            return cmd_usage_error(PROGRAM_USAGE, "option \"%s\" needs a value",
                                   argv[optind - 1]);
        default:
            return cmd_usage_error(PROGRAM_USAGE, "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cmd_usage_error(PROGRAM_USAGE, "%s", "no command given");
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i]->name, name) == 0) {
            int first = optind;
            optind = 0; /* glibc: start a fresh scan of the command's argv */
            return commands[i]->fn(commands[i], argc - first, argv + first,
                                   &global);
        }
    }
    return cmd_usage_error(PROGRAM_USAGE, "unknown command \"%s\"", name);
}
