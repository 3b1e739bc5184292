/*
 * main.c - the ward-agent command line (docs/contracts.md). It parses
 * arguments and hands over to the module that does the work.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "imports.h"
#include "settings.h"
#include "status.h"
#include "sync.h"
#include "withdraw.h"
#include "template.h"
#include "wardsync/i18n.h"
#include "wardsync/keys.h"
#include "wardsync/paths.h"

static const char usage_text_en[] = N_(
    "usage: ward-agent [-c FILE] [--home DIR] [--ward CODE] [--hub ENDPOINT] "
    "COMMAND\n"
    "\n"
    "commands:\n"
    "  import [--again] KIND FILE\n"
    "                       check every row of FILE (.csv or .xlsx) and queue\n"
    "                       all of it, or nothing; a file imported before is\n"
    "                       refused, a grown one queues only its new rows;\n"
    "                       KIND: ballots, petitions, reception, remediation,\n"
    "                       inspections, rotations\n"
    "  template KIND [FILE] write a file to fill in: the header row and one\n"
    "                       example row (CSV UTF-8 with BOM)\n"
    "  imports [--format table|json]\n"
    "                       list the files imported: id, kind, rows, date, "
    "state\n"
    "  withdraw IMPORT_ID [--reason TEXT]\n"
    "                       take back a wrong import: the hub stops counting "
    "its\n"
    "                       events once the withdrawal is delivered\n"
    "  run [--until-idle] [--max-seconds N]\n"
    "                       sync the outbox to the hub and watch HOME/inbox/\n"
    "  status [--format table|json]\n"
    "                       show what is queued, delivered and rejected "
    "(with\n"
    "                       the file and line of each rejected row)\n"
    "  keygen [--force] PATH\n"
    "                       write a CURVE key pair: PATH (public, for the\n"
    "                       hub's enroll) and PATH_secret (owner-only)\n"
    "\n"
    "options:\n"
    "  -c, --config FILE    INI file with an [agent] section\n"
    "      --home DIR       folder of outbox.db, inbox/, done/, rejected/\n"
    "      --ward CODE      ward this agent serves (e.g. LB01)\n"
    "      --hub ENDPOINT   hub ingest endpoint (e.g. tcp://127.0.0.1:7401)\n"
    "  -h, --help           show this help\n"
    "      --version        show the version and the data folder\n"
    "\n"
    "Every [agent] key can also be set as WARDSYNC_AGENT_<KEY>; options win\n"
    "over the environment, which wins over the file. Messages are in\n"
    "Vietnamese unless \"language = en\" (or LANGUAGE/LANG name English).\n"
    "exit codes: 0 ok, 1 bad input, 2 usage, 3 I/O or database error\n");

static const char import_usage_en[] = N_(
    "usage: ward-agent [OPTIONS] import [--again] KIND FILE\n"
    "\n"
    "KIND is ballots, petitions, reception, remediation, inspections or\n"
    "rotations. FILE is a CSV\n"
    "file (UTF-8 or UTF-16; separated by \",\", \";\" or tab) or an Excel\n"
    "workbook (.xlsx, its first sheet). Column names and values may be\n"
    "English or Vietnamese, in any case. Every row is checked; bad rows\n"
    "are reported as FILE:LINE:COLUMN: reason and, if any row is bad,\n"
    "nothing of the file is queued (exit 1). Otherwise all rows are queued\n"
    "in one transaction.\n"
    "\n"
    "Nothing is queued twice: a file with the same content as an earlier\n"
    "import is refused (exit 1) with that import's id and date; a file whose\n"
    "first rows are an earlier import (a running sheet exported again)\n"
    "queues only the rows after them; a petitions, reception, remediation,\n"
    "inspections or rotations row already queued with the same content (same\n"
    "petition, status and changed_on; session; survey, subject, status and\n"
    "changed_on; inspection; cadre, post, unit, kind and effective_on) is\n"
    "skipped.\n"
    "\n"
    "  --again              import the whole file even if it was imported\n"
    "                       before (a real second batch)\n"
    "\n"
    "See docs/contracts.md for the columns of each kind.\n");

static const char imports_usage_en[] = N_(
    "usage: ward-agent [OPTIONS] imports [--format table|json]\n"
    "\n"
    "Lists every file imported, oldest first: its id, kind, rows in the\n"
    "file, events queued from it, date, state (queued, delivered, rejected,\n"
    "nothing new) and file name.\n");

static const char withdraw_usage[] =
    "usage: ward-agent [OPTIONS] withdraw IMPORT_ID [--reason TEXT]\n"
    "\n"
    "Takes back import IMPORT_ID (its id in \"ward-agent imports\"): queues a\n"
    "Withdrawal of every event of it the hub did not reject (at most 1000\n"
    "events per Withdrawal), in one transaction, and marks the import\n"
    "withdrawn. Once delivered, the hub keeps the events but takes them out\n"
    "of every figure: ballots stop counting, petitions, reception sessions\n"
    "and remediation plans go back to what their other events say. The\n"
    "file's rows may then be imported again. Withdrawing an import twice\n"
    "changes nothing (exit 0, said so).\n"
    "\n"
    "  --reason TEXT        why, kept with the import and sent to the hub\n"
    "                       (at most 2000 bytes)\n";

static const char run_usage_en[] =
    N_("usage: ward-agent [OPTIONS] run [--until-idle] [--max-seconds N]\n"
       "\n"
       "Sends queued events to the hub and imports files dropped into\n"
       "HOME/inbox/ (named <kind>*.csv or .xlsx, the kind in English or\n"
       "Vietnamese: phieu, don-thu, tiep-cong-dan, khac-phuc, with or without\n"
       "diacritics, any case). A dropped file is taken only when its\n"
       "size and modification time have not changed for inbox_settle_ms\n"
       "(default 3000) and no process holds it open for writing (seen in\n"
       "/proc/*/fd: processes of the agent's user, all when run as root).\n"
       "On connecting and every 5 minutes it asks the hub for the ward's\n"
       "reference data (rounds, subjects, forms) and keeps it, so that\n"
       "imports are checked against it, offline too.\n"
       "Stops on SIGINT or SIGTERM.\n"
       "\n"
       "  --until-idle         exit 0 once nothing is queued and the inbox is "
       "empty\n"
       "  --max-seconds N      give up (exit 3) after N seconds\n");

static const char keygen_usage_en[] = N_(
    "usage: ward-agent keygen [--force] PATH\n"
    "\n"
    "Writes a new CURVE key pair: PATH holds the public key (the district\n"
    "registers it with \"district-hub enroll --ward CODE --key PATH\"),\n"
    "PATH_secret both keys, mode 0600 (set it as secret_key). Existing files\n"
    "are kept unless --force. The agent also needs the hub's public key\n"
    "file as hub_public_key.\n");

static const char template_usage_en[] = N_(
    "usage: ward-agent [OPTIONS] template KIND [FILE]\n"
    "\n"
    "Writes a file ready to fill in for KIND (ballots, petitions, reception\n"
    "or remediation): CSV UTF-8 with a BOM, the header row and one example\n"
    "row, in the language of messages. Replace the example row, keep the\n"
    "header, and import the file. FILE must not exist yet; without FILE, or\n"
    "with -, the template goes to standard output.\n");

static const char status_usage_en[] =
    N_("usage: ward-agent [OPTIONS] status [--format table|json]\n"
       "\n"
       "Shows the ward, the outbox id, the queued, delivered and rejected\n"
       "counts, the last seq and the last contact with the hub, and the last\n"
       "rejected events with the file and line each came from and the hub's\n"
       "reason, and the reference data held: its version and age.\n");

enum {
    OPT_HOME = 256,
    OPT_WARD,
    OPT_HUB,
    OPT_UNTIL_IDLE,
    OPT_MAX_SECONDS,
    OPT_FORMAT,
    OPT_FORCE,
    OPT_AGAIN,
    OPT_REASON,
    OPT_VERSION,
};

#define GLOBAL_OPTIONS                                                         \
    {"config", required_argument, NULL, 'c'},                                  \
        {"home", required_argument, NULL, OPT_HOME},                           \
        {"ward", required_argument, NULL, OPT_WARD},                           \
        {"hub", required_argument, NULL, OPT_HUB},                             \
    {                                                                          \
        "help", no_argument, NULL, 'h'                                         \
    }

static int usage_error(const char *help, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *help, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ward-agent: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", help);
    va_end(ap);
    return EXIT_USAGE;
}

/* Handles an option every command accepts. Returns 1 when opt was one. */
static int global_option(int opt, struct agent_overrides *overrides)
{
    switch (opt) {
    case 'c':
        overrides->config_path = optarg;
        return 1;
    case OPT_HOME:
        overrides->home = optarg;
        return 1;
    case OPT_WARD:
        overrides->ward = optarg;
        return 1;
    case OPT_HUB:
        overrides->hub = optarg;
        return 1;
    default:
        return 0;
    }
}

static bool parse_seconds(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v <= 0 || v > 365LL * 86400)
        return false;
    *out = v;
    return true;
}

static int with_settings(const struct agent_overrides *overrides,
                         struct agent_settings *settings)
{
    int rc = settings_load(overrides, settings);
    if (rc < 0)
        return rc == -ENOENT || rc == -EIO ? EXIT_IO : EXIT_USAGE;
    return EXIT_OK;
}

static int command_import(int argc, char **argv,
                          struct agent_overrides *overrides)
{
    static const struct option options[] = {
        GLOBAL_OPTIONS, {"again", no_argument, NULL, OPT_AGAIN}, {0, 0, 0, 0}};
    struct agent_settings settings;
    bool again = false;
    int opt;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(_(import_usage_en), stdout);
            return EXIT_OK;
        }
        if (opt == OPT_AGAIN) {
            again = true;
        } else if (!global_option(opt, overrides)) {
            fputs(_(import_usage_en), stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return usage_error(_(import_usage_en), _("import wants KIND and FILE"));
    int kind = import_kind_parse(argv[optind]);
    if (kind < 0)
        return usage_error(_(import_usage_en),
                           _("unknown kind \"%s\" (want ballots, petitions, "
                             "reception, remediation, inspections or "
                             "rotations)"),
                           argv[optind]);
    int code = with_settings(overrides, &settings);
    if (code != EXIT_OK)
        return code;
    code = import_command(&settings, (enum import_kind)kind, argv[optind + 1],
                          again);
    settings_free(&settings);
    return code;
}

static int command_template(int argc, char **argv,
                            struct agent_overrides *overrides)
{
    static const struct option options[] = {GLOBAL_OPTIONS, {0, 0, 0, 0}};
    struct agent_settings settings;
    int opt;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(_(template_usage_en), stdout);
            return EXIT_OK;
        }
        if (!global_option(opt, overrides)) {
            fputs(_(template_usage_en), stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        return usage_error(_(template_usage_en),
                           _("template wants KIND and at most one FILE"));
    int kind = import_kind_parse(argv[optind]);
    if (kind < 0)
        return usage_error(_(template_usage_en),
                           _("unknown kind \"%s\" (want ballots, petitions, "
                             "reception, remediation, inspections or "
                             "rotations)"),
                           argv[optind]);
    /* The settings only for the language of the template. */
    int code = with_settings(overrides, &settings);
    if (code != EXIT_OK)
        return code;
    code = template_command((enum import_kind)kind,
                            argc - optind == 2 ? argv[optind + 1] : NULL);
    settings_free(&settings);
    return code;
}

static int command_run(int argc, char **argv, struct agent_overrides *overrides)
{
    static const struct option options[] = {
        GLOBAL_OPTIONS,
        {"until-idle", no_argument, NULL, OPT_UNTIL_IDLE},
        {"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
        {0, 0, 0, 0}};
    struct sync_run_options run = {false, 0};
    struct agent_settings settings;
    int opt;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(_(run_usage_en), stdout);
            return EXIT_OK;
        }
        if (opt == OPT_UNTIL_IDLE) {
            run.until_idle = true;
        } else if (opt == OPT_MAX_SECONDS) {
            if (!parse_seconds(optarg, &run.max_seconds))
                return usage_error(_(run_usage_en),
                                   _("--max-seconds: \"%s\" is not a number "
                                     "of seconds (1..31536000)"),
                                   optarg);
        } else if (!global_option(opt, overrides)) {
            fputs(_(run_usage_en), stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return usage_error(_(run_usage_en), _("unexpected argument \"%s\""),
                           argv[optind]);
    int code = with_settings(overrides, &settings);
    if (code != EXIT_OK)
        return code;
    code = sync_command(&settings, &run);
    settings_free(&settings);
    return code;
}

static int command_withdraw(int argc, char **argv,
                            struct agent_overrides *overrides)
{
    static const struct option options[] = {
        GLOBAL_OPTIONS,
        {"reason", required_argument, NULL, OPT_REASON},
        {0, 0, 0, 0}};
    struct agent_settings settings;
    const char *reason = NULL;
    int opt;

    /* Options may follow IMPORT_ID ("withdraw 3 --reason ..."). */
    optind = 0;
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(withdraw_usage, stdout);
            return EXIT_OK;
        }
        if (opt == OPT_REASON) {
            reason = optarg;
        } else if (!global_option(opt, overrides)) {
            fputs(withdraw_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return usage_error(withdraw_usage, "withdraw wants one IMPORT_ID");
    char *end = NULL;
    errno = 0;
    long long id = strtoll(argv[optind], &end, 10);
    if (errno || end == argv[optind] || *end || id <= 0)
        return usage_error(withdraw_usage,
                           "\"%s\" is not an import id (a number from "
                           "\"ward-agent imports\")",
                           argv[optind]);
    int code = with_settings(overrides, &settings);
    if (code != EXIT_OK)
        return code;
    code = withdraw_command(&settings, (int64_t)id, reason);
    settings_free(&settings);
    return code;
}

/* "status" and "imports": the same options (--format table|json), and
 * fn prints its listing. */
static int command_listing(int argc, char **argv,
                           struct agent_overrides *overrides, const char *usage,
                           int (*fn)(const struct agent_settings *,
                                     enum status_format))
{
    static const struct option options[] = {
        GLOBAL_OPTIONS,
        {"format", required_argument, NULL, OPT_FORMAT},
        {0, 0, 0, 0}};
    enum status_format format = STATUS_TABLE;
    struct agent_settings settings;
    int opt;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (opt == OPT_FORMAT) {
            if (strcmp(optarg, "table") == 0)
                format = STATUS_TABLE;
            else if (strcmp(optarg, "json") == 0)
                format = STATUS_JSON;
            else
                return usage_error(usage,
                                   _("--format: unknown format \"%s\" (want "
                                     "table or json)"),
                                   optarg);
        } else if (!global_option(opt, overrides)) {
            fputs(usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc)
        return usage_error(usage, _("unexpected argument \"%s\""),
                           argv[optind]);
    int code = with_settings(overrides, &settings);
    if (code != EXIT_OK)
        return code;
    code = fn(&settings, format);
    settings_free(&settings);
    return code;
}

static int command_status(int argc, char **argv,
                          struct agent_overrides *overrides)
{
    return command_listing(argc, argv, overrides, _(status_usage_en),
                           status_command);
}

static int command_imports(int argc, char **argv,
                           struct agent_overrides *overrides)
{
    return command_listing(argc, argv, overrides, _(imports_usage_en),
                           imports_command);
}

static int command_keygen(int argc, char **argv)
{
    static const struct option options[] = {
        {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    bool force = false;
    int opt;

    optind = 0;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(_(keygen_usage_en), stdout);
            return EXIT_OK;
        }
        if (opt != OPT_FORCE) {
            fputs(_(keygen_usage_en), stderr);
            return EXIT_USAGE;
        }
        force = true;
    }
    if (argc - optind != 1)
        return usage_error(_(keygen_usage_en), _("keygen wants one PATH"));
    struct ws_keypair pair;
    char err[512];
    if (ws_keys_generate(&pair) < 0) {
        fprintf(stderr, _("ward-agent: libzmq was built without CURVE\n"));
        return EXIT_IO;
    }
    int rc = ws_keys_write(argv[optind], &pair, force, err, sizeof err);
    ws_keys_wipe(&pair);
    if (rc < 0) {
        fprintf(stderr, "ward-agent: %s\n", err);
        return rc == -EEXIST ? EXIT_USAGE : EXIT_IO;
    }
    printf(_("public key: %s\nwrote %s and %s_secret\n"), pair.public_z85,
           argv[optind], argv[optind]);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        GLOBAL_OPTIONS, {"version", no_argument, NULL, OPT_VERSION}, {0}};
    struct agent_overrides overrides = {NULL, NULL, NULL, NULL};
    int opt;

    /* The language of --help and usage errors, before any file is read:
     * WARDSYNC_AGENT_LANGUAGE, else the environment's (i18n.h); the
     * configuration file's "language" applies once a command loads it. */
    if (ws_i18n_init(getenv("WARDSYNC_AGENT_LANGUAGE"), NULL, 0) < 0)
        ws_i18n_init(NULL, NULL, 0);

    /* "+": stop at the command; its own options are parsed below. */
    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(_(usage_text_en), stdout);
            return EXIT_OK;
        }
        if (opt == OPT_VERSION) {
            ws_print_version("ward-agent");
            return EXIT_OK;
        }
        if (!global_option(opt, &overrides)) {
            fputs(_(usage_text_en), stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, _("ward-agent: missing command\n%s"), _(usage_text_en));
        return EXIT_USAGE;
    }
    const char *command = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (strcmp(command, "import") == 0)
        return command_import(sub_argc, sub_argv, &overrides);
    if (strcmp(command, "run") == 0)
        return command_run(sub_argc, sub_argv, &overrides);
    if (strcmp(command, "status") == 0)
        return command_status(sub_argc, sub_argv, &overrides);
    if (strcmp(command, "imports") == 0)
        return command_imports(sub_argc, sub_argv, &overrides);
    if (strcmp(command, "withdraw") == 0)
        return command_withdraw(sub_argc, sub_argv, &overrides);
    if (strcmp(command, "template") == 0)
        return command_template(sub_argc, sub_argv, &overrides);
    if (strcmp(command, "keygen") == 0)
        return command_keygen(sub_argc, sub_argv);
    if (strcmp(command, "help") == 0) {
        fputs(_(usage_text_en), stdout);
        return EXIT_OK;
    }
    return usage_error(_(usage_text_en), _("unknown command \"%s\""), command);
}
