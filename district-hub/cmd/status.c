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
    "Every unit that should report (org-unit file, enrolled ward keys,\n"
    "outboxes seen), one row per agent instance: ward, last contact, lag,\n"
    "backlog as the agent last reported it, accepted / duplicate / conflict\n"
    "/ rejected events. A unit never seen is NEVER, one without contact for\n"
    "longer than the threshold SILENT; a reinstalled agent's old instance\n"
    "is RETIRED once the new one delivered.\n"
    "exit codes: 0 every unit in contact, 1 a unit silent or never seen,\n"
    "3 database error\n"
    "\n"
    "options:\n"
    "      --format FORMAT          table (default) or json\n"
    "      --silent-after SECONDS   threshold (default 900)\n"
    "  -h, --help                   show this help\n";

enum { OPT_FORMAT = 256, OPT_SILENT_AFTER };

/* The exit code when a unit is silent or never seen. */
#define STATUS_EXIT_SILENT 1

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
    /* A bad --format comes back as -EDOM: exit 2; a unit silent or never
     * seen as 1, for monitoring checks. */
    int rc = status_run(&settings, format, silent_after, stdout);
    exit_code = rc > 0 ? STATUS_EXIT_SILENT : cmd_exit_code(rc);
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
