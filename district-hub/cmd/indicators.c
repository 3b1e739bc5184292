/*
 * cmd/indicators.c - "district-hub indicators" (indicators.h).
 */
#include <stdio.h>

#include "cmd/cmd.h"
#include "indicators.h"

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

enum { OPT_FORMAT = 256, OPT_PERIOD, OPT_AS_OF };

static int indicators_main(const struct cmd *cmd, int argc, char **argv,
                           const struct cmd_global *global)
{
    const char *format = NULL, *period = NULL, *as_of = NULL;
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == OPT_FORMAT)
            format = optarg;
        else if (opt == OPT_PERIOD)
            period = optarg;
        else if (opt == OPT_AS_OF)
            as_of = optarg;
    }
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    /* A bad --format, --period or --as-of comes back as -EDOM: exit 2. */
    exit_code =
        cmd_exit_code(indicators_run(&settings, format, period, as_of, stdout));
    settings_release(&settings);
    return exit_code;
}

static const struct option indicators_options[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"period", required_argument, NULL, OPT_PERIOD},
    {"as-of", required_argument, NULL, OPT_AS_OF},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_indicators = {"indicators", INDICATORS_USAGE, "+:h",
                                   indicators_options, indicators_main};
