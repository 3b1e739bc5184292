/*
 * cmd/run.c - "district-hub run": the hub daemon (server.h).
 */
#include <stdbool.h>

#include "cmd/cmd.h"
#include "server.h"

static const char RUN_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] run [--ingest ENDPOINT] "
    "[--insecure]\n"
    "\n"
    "Checks the schema (migrating only when migrations are pending, which\n"
    "needs the owner), then receives batches from ward agents over CURVE\n"
    "(hub.secret_key; keys registered with enroll) and acknowledges each\n"
    "after it has committed. Stops cleanly on SIGINT or SIGTERM.\n"
    "Serves Prometheus metrics on http://hub.metrics_endpoint/metrics\n"
    "(default 127.0.0.1:9741; none: off) and logs a summary line every\n"
    "hub.summary_interval_s seconds (default 60; per-batch lines are debug).\n"
    "\n"
    "options:\n"
    "      --ingest ENDPOINT  ZeroMQ endpoint to bind (default tcp://*:7401;\n"
    "                         tcp://127.0.0.1:* picks a free port, logged as\n"
    "                         \"ingest endpoint=...\")\n"
    "      --insecure         no CURVE: accept unauthenticated, unencrypted\n"
    "                         agents and trust the ward they name (local\n"
    "                         experiments only; warns at every start)\n"
    "  -h, --help             show this help\n";

enum { OPT_INGEST = 256, OPT_INSECURE };

static int run_main(const struct cmd *cmd, int argc, char **argv,
                    const struct cmd_global *global)
{
    const char *ingest = NULL;
    bool insecure = false;
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == OPT_INGEST)
            ingest = optarg;
        else if (opt == OPT_INSECURE)
            insecure = true;
    }
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    exit_code = cmd_exit_code(server_run(&settings, ingest, insecure));
    settings_release(&settings);
    return exit_code;
}

static const struct option run_options[] = {
    {"ingest", required_argument, NULL, OPT_INGEST},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_run = {"run", RUN_USAGE, "+:h", run_options, run_main};
