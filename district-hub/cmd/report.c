/*
 * cmd/report.c - "district-hub report" (report.h).
 */
#include <stdint.h>

#include "cmd/cmd.h"
#include "report.h"
#include "wardsync/util.h"

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

enum { OPT_AS_OF = 256 };

static int report_main(const struct cmd *cmd, int argc, char **argv,
                       const struct cmd_global *global)
{
    const char *output = "report.html", *as_of = NULL;
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == 'o')
            output = optarg;
        else if (opt == OPT_AS_OF)
            as_of = optarg;
    }
    int32_t day;
    if (as_of && ws_date_parse(as_of, &day) < 0)
        return cmd_usage_error(
            cmd->usage, "--as-of: \"%s\" is not a date (YYYY-MM-DD)", as_of);
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    exit_code = cmd_exit_code(report_run(&settings, output, as_of));
    settings_release(&settings);
    return exit_code;
}

static const struct option report_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"as-of", required_argument, NULL, OPT_AS_OF},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_report = {"report", REPORT_USAGE, "+:ho:", report_options,
                               report_main};
