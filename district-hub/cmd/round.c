/*
 * cmd/round.c - "district-hub round COMMAND": survey rounds (rounds.h).
 *
 * Unlike the other commands, the subcommand comes first and its operand
 * may stand among the options ("round open R1", "round show --format json
 * R1"), and usage errors read "district-hub round: ...".
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "rounds.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

static const char ROUND_USAGE[] =
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

enum { OPT_OPENS = 256, OPT_CLOSES, OPT_LABEL, OPT_FILE, OPT_FORMAT };

static int round_usage_error(const char *what)
{
    fprintf(stderr, "district-hub round: %s\n\n%s", what, ROUND_USAGE);
    return HUB_EXIT_USAGE;
}

static bool date_ok(const char *s)
{
    int32_t d;
    return s && ws_date_parse(s, &d) == 0;
}

static int round_main(const struct cmd *cmd, int argc, char **argv,
                      const struct cmd_global *global)
{
    const char *opens = NULL, *closes = NULL, *label = NULL, *file = NULL;
    const char *format = "table";
    if (argc < 2)
        return round_usage_error("no round command given");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(cmd->usage, stdout);
        return HUB_EXIT_OK;
    }
    optind = 0;
    opterr = 0;
    int opt;
    /* No "+": getopt_long permutes, so CODE may stand among the options. */
    while ((opt = getopt_long(argc - 1, argv + 1, cmd->short_options,
                              cmd->options, NULL)) != -1) {
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
            fputs(cmd->usage, stdout);
            return HUB_EXIT_OK;
        case ':':
            return round_usage_error("an option needs a value");
        default:
            return round_usage_error("unknown option");
        }
    }
    /* The operands follow the options now. */
    const char *code = optind < argc - 1 ? argv[1 + optind] : NULL;
    if (optind + 1 < argc - 1)
        return round_usage_error("too many arguments");

    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "table") != 0)
        return round_usage_error("--format: table or json");
    char reason[256];
    if (code && ws_validate_code("round", code, reason, sizeof reason) != 0)
        return round_usage_error(reason);
    bool create = strcmp(sub, "create") == 0;
    bool open = strcmp(sub, "open") == 0, close = strcmp(sub, "close") == 0;
    if (create) {
        if (!file && (!code || !date_ok(opens) || !date_ok(closes)))
            return round_usage_error("create needs CODE --opens DATE "
                                     "--closes DATE, or --file FILE");
    } else if (open || close) {
        if (!code)
            return round_usage_error("which round?");
    } else if (strcmp(sub, "show") != 0) {
        return round_usage_error("unknown round command (create, open, "
                                 "close, show)");
    }

    struct hub_settings settings;
    int exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    int rc;
    if (create && file)
        rc = rounds_load_file(&settings, file);
    else if (create)
        rc = rounds_create(&settings, code, opens, closes, label);
    else if (open || close)
        rc = rounds_set_state(&settings, code, open);
    else
        rc = rounds_show(&settings, code, json);
    settings_release(&settings);
    return cmd_exit_code(rc);
}

static const struct option round_options[] = {
    {"opens", required_argument, NULL, OPT_OPENS},
    {"closes", required_argument, NULL, OPT_CLOSES},
    {"label", required_argument, NULL, OPT_LABEL},
    {"file", required_argument, NULL, OPT_FILE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_round = {"round", ROUND_USAGE, ":h", round_options,
                              round_main};
