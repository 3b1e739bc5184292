/*
 * cmd/report.c - "district-hub report" (report.h).
 */
#include "cmd/cmd.h"
#include "report.h"

static const char REPORT_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] report [-o FILE]\n"
    "\n"
    "Writes one self-contained HTML page (inline styles and SVG charts, no\n"
    "external assets): indicators per ward, ballot levels per content\n"
    "group, flagged subjects and remediation, petition backlog by age,\n"
    "on-time rates per ward, reception per week, and the rules used.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   where to write (default report.html; - for\n"
    "                      stdout)\n"
    "  -h, --help          show this help\n";

static int report_main(const struct cmd *cmd, int argc, char **argv,
                       const struct cmd_global *global)
{
    const char *output = "report.html";
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == 'o')
            output = optarg;
    }
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    exit_code = cmd_exit_code(report_run(&settings, output));
    settings_release(&settings);
    return exit_code;
}

static const struct option report_options[] = {
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_report = {"report", REPORT_USAGE, "+:ho:", report_options,
                               report_main};
