/*
 * cmd/cmd.h - the district-hub commands (docs/contracts.md): the entry of
 * the command table main.c dispatches on, the exit codes, and the one
 * mapping from a module's error to an exit code.
 *
 * One file per command under cmd/: it parses the command's options, calls
 * the module that does the work and turns the result into an exit code.
 * cmd/ is the only place exit codes appear; every other module returns 0
 * or a negative errno (the reason logged or in an error buffer), read here
 * as:
 *   -EINVAL  bad input: a seed or round file, a configuration value, the
 *            catalogue, a key file, a name the database does not know
 *   -EDOM    an argument of the command line the module found unusable
 *            past parsing (an endpoint ZeroMQ cannot bind, a --format or
 *            --period, the missing hub key of "run")
 *   other    (-EIO, -ENOMEM, -EACCES, ...) a database or I/O error
 */
#ifndef DISTRICT_HUB_CMD_H
#define DISTRICT_HUB_CMD_H

#include <getopt.h>

#include "settings.h"

/* Exit codes of every district-hub command (docs/contracts.md). */
enum hub_exit {
    HUB_EXIT_OK = 0,
    HUB_EXIT_INPUT = 1, /* bad input: a seed file, config value, catalogue */
    HUB_EXIT_USAGE = 2, /* bad command line */
    HUB_EXIT_IO = 3,    /* database or I/O error */
};

/* The options given before the command; strings point into argv. */
struct cmd_global {
    const char *config;   /* -c FILE, or NULL */
    const char *database; /* --database CONNINFO, or NULL */
};

/* One command of the table. fn gets the command's own arguments (argv[0]
 * is its name) and the global options, and returns a hub_exit code. */
struct cmd {
    const char *name;
    const char *usage;         /* printed by --help and after usage errors */
    const char *short_options; /* getopt_long's optstring */
    const struct option *options;
    int (*fn)(const struct cmd *cmd, int argc, char **argv,
              const struct cmd_global *global);
};

extern const struct cmd cmd_migrate, cmd_run, cmd_indicators, cmd_round,
    cmd_status, cmd_report, cmd_keygen, cmd_enroll, cmd_revoke;

/* Returned by cmd_next_option at the end of the options, and when it has
 * printed the usage (-h, --help) or a usage error: *exit_code then says
 * which. */
#define CMD_OPTIONS_END (-1)
#define CMD_OPTIONS_EXIT (-2)

/* Steps getopt_long over argv with cmd's options, from argv[1] on the
 * first call (main.c resets optind before fn). Returns the next option,
 * CMD_OPTIONS_END, or CMD_OPTIONS_EXIT with *exit_code HUB_EXIT_OK after
 * printing the usage to stdout for -h / --help, or HUB_EXIT_USAGE after
 * printing an unknown option or a missing value, then the usage, to
 * stderr. Any other option is the caller's. */
int cmd_next_option(const struct cmd *cmd, int argc, char **argv,
                    int *exit_code);

/* Prints "district-hub: MESSAGE", a blank line and usage to stderr;
 * returns HUB_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) int cmd_usage_error(const char *usage,
                                                          const char *fmt, ...);

/* Loads the settings of the global options into *out (released by the
 * caller with settings_release on success). Returns HUB_EXIT_OK, or the
 * exit code of the failure after logging it. */
int cmd_settings_load(const struct cmd_global *global,
                      struct hub_settings *out);

/* The exit code of a module's result: 0, or a negative errno read as
 * above. */
int cmd_exit_code(int rc);

#endif
