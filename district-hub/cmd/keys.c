/*
 * cmd/keys.c - "district-hub keygen", "enroll" and "revoke" (keys.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "keys.h"
#include "wardsync/log.h"
#include "wardsync/validate.h"

/* Messages about a principal's code are the key module's. */
#define MODULE "keys"
/* principal_keys.principal holds "ward:CODE" or "city:NAME". */
#define PRINCIPAL_CODE_MAX 64

static const char KEYGEN_USAGE[] =
    "usage: district-hub keygen [--force] PATH\n"
    "\n"
    "Writes a new CURVE key pair: PATH holds the public key (give it to\n"
    "agents as hub_public_key), PATH_secret both keys, readable by its owner\n"
    "only (set it as hub.secret_key). Existing files are kept unless\n"
    "--force.\n";

static const char ENROLL_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] enroll (--ward CODE | --city NAME) "
    "--key FILE\n"
    "\n"
    "Registers the public key in FILE (written by \"ward-agent keygen\" or\n"
    "\"district-hub keygen\") for ward CODE or city client NAME. A running\n"
    "hub accepts it at the next connection. Run as the database owner.\n";

static const char REVOKE_USAGE[] =
    "usage: district-hub [GLOBAL OPTIONS] revoke (--ward CODE | --city NAME "
    "| --key FILE)\n"
    "\n"
    "Revokes every key of a ward or city client, or the one key in FILE. A\n"
    "running hub refuses it from the next handshake and the next batch on.\n"
    "Run as the database owner.\n";

enum { OPT_WARD = 256, OPT_CITY, OPT_KEY, OPT_FORCE };

static int keygen_main(const struct cmd *cmd, int argc, char **argv,
                       const struct cmd_global *global)
{
    bool force = false;
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == OPT_FORCE)
            force = true;
    }
    if (argc - optind != 1)
        return cmd_usage_error(cmd->usage, "%s", "keygen wants one PATH");
    const char *path = argv[optind];

    /* keygen needs no setting, but a broken configuration is still
     * reported as for every other command. */
    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    settings_release(&settings);
    int rc = keys_keygen_run(path, force);
    /* An existing pair without --force is a usage error. */
    return rc == -EEXIST ? HUB_EXIT_USAGE : cmd_exit_code(rc);
}

struct key_args {
    const char *ward, *city, *key_file;
};

/* Parses enroll's and revoke's options into *args. Returns -1 to go on,
 * or an exit code. */
static int parse_key_args(const struct cmd *cmd, int argc, char **argv,
                          struct key_args *args)
{
    int opt, exit_code;
    while ((opt = cmd_next_option(cmd, argc, argv, &exit_code)) !=
           CMD_OPTIONS_END) {
        if (opt == CMD_OPTIONS_EXIT)
            return exit_code;
        if (opt == OPT_WARD)
            args->ward = optarg;
        else if (opt == OPT_CITY)
            args->city = optarg;
        else if (opt == OPT_KEY)
            args->key_file = optarg;
    }
    if (optind < argc)
        return cmd_usage_error(cmd->usage, "unexpected argument \"%s\"",
                               argv[optind]);
    if (args->ward && args->city)
        return cmd_usage_error(cmd->usage, "%s",
                               "give --ward or --city, not both");
    return -1;
}

static int enroll_main(const struct cmd *cmd, int argc, char **argv,
                       const struct cmd_global *global)
{
    struct key_args args = {NULL, NULL, NULL};
    int exit_code = parse_key_args(cmd, argc, argv, &args);
    if (exit_code >= 0)
        return exit_code;
    if (!(args.ward || args.city) || !args.key_file)
        return cmd_usage_error(cmd->usage, "%s",
                               "enroll wants --ward or --city, and --key");
    const char *code = args.ward ? args.ward : args.city;
    char reason[256];
    if (ws_validate_code(args.ward ? "ward" : "city", code, reason,
                         sizeof reason) != 0) {
        ws_error(MODULE, "%s", reason);
        return HUB_EXIT_USAGE;
    }
    if (strlen(code) > PRINCIPAL_CODE_MAX) {
        ws_error(MODULE, "%s: longer than %d characters",
                 args.ward ? "ward" : "city", PRINCIPAL_CODE_MAX);
        return HUB_EXIT_USAGE;
    }

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    exit_code = cmd_exit_code(
        keys_enroll_run(&settings, args.ward ? PRINCIPAL_WARD : PRINCIPAL_CITY,
                        code, args.key_file));
    settings_release(&settings);
    return exit_code;
}

static int revoke_main(const struct cmd *cmd, int argc, char **argv,
                       const struct cmd_global *global)
{
    struct key_args args = {NULL, NULL, NULL};
    int exit_code = parse_key_args(cmd, argc, argv, &args);
    if (exit_code >= 0)
        return exit_code;
    if (!args.ward && !args.city && !args.key_file)
        return cmd_usage_error(cmd->usage, "%s",
                               "revoke wants --ward, --city or --key");
    const char *code = args.ward ? args.ward : args.city;
    char reason[256];
    if (code && ws_validate_code("principal", code, reason, sizeof reason)) {
        ws_error(MODULE, "%s", reason);
        return HUB_EXIT_USAGE;
    }

    struct hub_settings settings;
    exit_code = cmd_settings_load(global, &settings);
    if (exit_code != HUB_EXIT_OK)
        return exit_code;
    /* Without --ward or --city, the kind is unused. */
    exit_code = cmd_exit_code(
        keys_revoke_run(&settings, args.ward ? PRINCIPAL_WARD : PRINCIPAL_CITY,
                        code, args.key_file));
    settings_release(&settings);
    return exit_code;
}

static const struct option keygen_options[] = {
    {"force", no_argument, NULL, OPT_FORCE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static const struct option key_options[] = {
    {"ward", required_argument, NULL, OPT_WARD},
    {"city", required_argument, NULL, OPT_CITY},
    {"key", required_argument, NULL, OPT_KEY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

const struct cmd cmd_keygen = {"keygen", KEYGEN_USAGE, "+:h", keygen_options,
                               keygen_main};
const struct cmd cmd_enroll = {"enroll", ENROLL_USAGE, "+:h", key_options,
                               enroll_main};
const struct cmd cmd_revoke = {"revoke", REVOKE_USAGE, "+:h", key_options,
                               revoke_main};
