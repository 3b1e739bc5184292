/*
 * cmd/cmd.c - what every command shares (contract in cmd/cmd.h): option
 * stepping, usage errors, settings, the mapping to exit codes.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "wardsync/log.h"

int cmd_usage_error(const char *usage, const char *fmt, ...)
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

int cmd_next_option(const struct cmd *cmd, int argc, char **argv,
                    int *exit_code)
{
    opterr = 0;
    int opt = getopt_long(argc, argv, cmd->short_options, cmd->options, NULL);
    switch (opt) {
    case -1:
        return CMD_OPTIONS_END;
    case 'h':
        fputs(cmd->usage, stdout);
        *exit_code = HUB_EXIT_OK;
        return CMD_OPTIONS_EXIT;
    case ':':
        *exit_code = cmd_usage_error(cmd->usage, "option \"%s\" needs a value",
                                     argv[optind - 1]);
        return CMD_OPTIONS_EXIT;
    case '?':
        *exit_code = cmd_usage_error(cmd->usage, "unknown option \"%s\"",
                                     argv[optind - 1]);
        return CMD_OPTIONS_EXIT;
    default:
        return opt;
    }
}

int cmd_settings_load(const struct cmd_global *global, struct hub_settings *out)
{
    char err[1024];
    int rc =
        settings_load(global->config, global->database, out, err, sizeof err);
    if (rc < 0) {
        ws_error("hub", "%s", err);
        return cmd_exit_code(rc);
    }
    return HUB_EXIT_OK;
}

int cmd_exit_code(int rc)
{
    if (rc >= 0)
        return HUB_EXIT_OK;
    if (rc == -EINVAL)
        return HUB_EXIT_INPUT;
    if (rc == -EDOM)
        return HUB_EXIT_USAGE;
    return HUB_EXIT_IO;
}
