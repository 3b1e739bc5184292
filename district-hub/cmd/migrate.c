/*
 * cmd/migrate.c - "district-hub migrate" (migrate.h).
 */
#include "cmd/cmd.h"
#include "migrate.h"

static const char MIGRATE_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] migrate\n"
    "\n"
    "Applies, in order and each in its own transaction, every migration of\n"
    "the sql directory not yet recorded in schema_migrations, then upserts\n"
    "the org units file and the catalogue. Safe to run again and from two\n"
    "hubs at once (an advisory lock serialises them).\n";

static int migrate_main(const struct cmd *cmd, int argc, char **argv,
                        const struct cmd_global *global)
{
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END)
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    exit_code = cmd_exit_code(migrate_run(&settings));
    settings_release(&settings);
    return exit_code;
}

static const struct option migrate_options[] = {
    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

const struct cmd cmd_migrate = {"migrate", MIGRATE_USAGE, "+:h",
                                migrate_options, migrate_main};
