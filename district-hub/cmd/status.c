/*
 * cmd/status.c - "district-hub status" (status.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "status.h"

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

enum { OPT_FORMAT = 256, OPT_SILENT_AFTER };

static int status_main(const struct cmd *cmd, int argc, char **argv,
                       const struct cmd_global *global)
{
    const char *format = NULL;
    long silent_after = STATUS_DEFAULT_SILENT_AFTER_S;
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == OPT_FORMAT) {
            format = optarg;
        } else if (opt == OPT_SILENT_AFTER) {
            char *end = NULL;
            silent_after = strtol(optarg, &end, 10);
            if (!*optarg || *end || silent_after <= 0)
                return cmd_usage_error(cmd->usage, "bad --silent-after \"%s\"",
                                       optarg);
        }
    }
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    /* A bad --format comes back as -EDOM: exit 2. */
    exit_code =
        cmd_exit_code(status_run(&settings, format, silent_after, stdout));
    settings_release(&settings);
    return exit_code;
}

static const struct option status_options[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"silent-after", required_argument, NULL, OPT_SILENT_AFTER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_status = {"status", STATUS_USAGE, "+:h", status_options,
                               status_main};
