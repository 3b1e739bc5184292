/*
 * main.c - the city-pull command line (docs/contracts.md, docs/DESIGN.md
 * §8): parses options and the configuration, reads the keys, and hands
 * the run to files.c (one file per dataset, or stdout) or load.c (the
 * city warehouse, --into); "city-pull report" to report.c.
 *
 * Exit codes: 0 ok, 1 bad configuration, 2 usage, 3 I/O error, 4 some hub
 * or dataset could not be pulled (the others were).
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "hub.h"
#include "report.h"
#include "wardsync/config.h"
#include "wardsync/keys.h"
#include "wardsync/paths.h"
#include "wardsync/util.h"

#define DEFAULT_DATASETS                                                       \
    "indicators,petitions,ballot_aggregates,sync_status,inspections,"          \
    "rotations"

static const char USAGE[] =
    "usage: city-pull [-c FILE] [--hub NAME=ENDPOINT]... [--dataset LIST]\n"
    "                 [--format csv|json] [--output DIR|-] [--state FILE]\n"
    "                 [--scope WARD] [--full] [--page-size N]\n"
    "                 [--timeout-ms N] [--into CONNINFO] [--jobs N]\n"
    "                 [--as-of DATE] [--quiet]\n"
    "\n"
    "Pulls datasets from district hubs into one file per dataset\n"
    "(DIR/DATASET.csv or .json) with a leading hub column. A cursor per\n"
    "hub and dataset is kept in the state file: the next run fetches only\n"
    "rows inserted, corrected or deleted since, applies them to the files\n"
    "(which always hold the whole current dataset) and writes them to\n"
    "DIR/changes/DATASET-YYYYMMDDTHHMMSS.csv (column op: insert, update,\n"
    "delete). With --output -, only the changed rows go to stdout.\n"
    "With --into, every dataset goes into the city warehouse instead\n"
    "(PostgreSQL; city-pull creates and migrates its schema \"city\"),\n"
    "each hub's cursor stored with its rows, hubs loaded in parallel.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE     INI file, section [city]: hubs = NAME=ENDPOINT,\n"
    "                        ...; datasets, format, output, state,\n"
    "                        timeout_ms, page_size (also WARDSYNC_CITY_<KEY>)\n"
    "      --hub \"NAME=EP [key=FILE]\"\n"
    "                        a hub to pull (repeatable; replaces hubs);\n"
    "                        FILE: the hub's public key (CURVE)\n"
    "      --secret-key FILE the city's CURVE secret key (with key=)\n"
    "      --dataset LIST    comma-separated, default " DEFAULT_DATASETS "\n"
    "      --format FORMAT   csv (default; UTF-8 with BOM, opens in Excel)\n"
    "                        or json\n"
    "      --output DIR      folder for the files (default .); - is stdout\n"
    "      --state FILE      cursors (default DIR/city-pull-state.json)\n"
    "      --scope WARD      only this ward's rows\n"
    "      --full            ignore the saved cursors (pull everything)\n"
    "      --as-of DATE      judge the indicators and the petitions'\n"
    "                        overdue as of this district date (YYYY-MM-DD;\n"
    "                        default the district's today); a cursor saved\n"
    "                        for another day pulls those datasets again\n"
    "      --page-size N     rows per page (default 500)\n"
    "      --timeout-ms N    wait for each page (default 30000)\n"
    "      --into CONNINFO   load the city warehouse (libpq connection\n"
    "                        string or URI) instead of writing files\n"
    "      --jobs N          hubs loaded at once with --into (default 4)\n"
    "  -q, --quiet           no progress or summary on stderr\n"
    "  -h, --help            show this help\n"
    "      --version         show the version and the data folder\n"
    "\n"
    "city-pull report --from CONNINFO: the city report (city-pull report\n"
    "--help).\n"
    "exit codes: 0 ok, 1 bad configuration, 2 usage, 3 I/O error, 4 some\n"
    "hub or dataset failed (the others were pulled)\n";

struct options {
    const char *config;
    const char *hub_args[MAX_HUBS];
    size_t n_hub_args;
    const char *datasets, *format, *output, *state, *scope;
    const char *page_size, *timeout_ms, *secret_key, *into, *jobs, *as_of;
    bool full, quiet;
};

static const char REPORT_USAGE[] =
    "usage: city-pull report --from CONNINFO [-o FILE|-]\n"
    "                        [--stale-after SECONDS]\n"
    "\n"
    "Writes the city report from the warehouse: one self-contained HTML\n"
    "file with each district's headline figures, a chart per figure with\n"
    "a bar per district, and the hubs not loaded for longer than\n"
    "--stale-after (default 86400).\n"
    "\n"
    "options:\n"
    "      --from CONNINFO      the warehouse (libpq connection string)\n"
    "  -o, --output FILE        default city.html; - is stdout\n"
    "      --stale-after SECONDS\n"
    "  -h, --help               show this help\n";

/* "city-pull report ...". Returns an exit code. */
static int report_command(int argc, char **argv)
{
    enum { O_FROM = 256, O_STALE };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"output", required_argument, NULL, 'o'},
        {"stale-after", required_argument, NULL, O_STALE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *from = NULL, *output = "city.html";
    long stale_after = 86400;
    char *end = NULL;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (opt) {
        case O_FROM:
            from = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case O_STALE:
            stale_after = strtol(optarg, &end, 10);
            if (!*optarg || *end || stale_after < 1) {
                fprintf(stderr, "city-pull: bad --stale-after \"%s\"\n\n%s",
                        optarg, REPORT_USAGE);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(REPORT_USAGE, stdout);
            return EXIT_OK;
        default:
            fprintf(stderr, "city-pull: bad option \"%s\"\n\n%s",
                    argv[optind - 1], REPORT_USAGE);
            return EXIT_USAGE;
        }
    }
    if (!from || optind < argc) {
        fprintf(stderr, "city-pull: report needs --from CONNINFO\n\n%s",
                REPORT_USAGE);
        return EXIT_USAGE;
    }
    return report_run(from, output, stale_after);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "city-pull: %s%s%s%s\n\n%s", msg, arg ? " \"" : "",
            arg ? arg : "", arg ? "\"" : "", USAGE);
    return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum {
        O_HUB = 256,
        O_DATASET,
        O_FORMAT,
        O_OUTPUT,
        O_STATE,
        O_SCOPE,
        O_FULL,
        O_PAGE,
        O_TIMEOUT,
        O_SECRET,
        O_INTO,
        O_JOBS,
        O_AS_OF,
        O_VERSION
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"hub", required_argument, NULL, O_HUB},
        {"dataset", required_argument, NULL, O_DATASET},
        {"format", required_argument, NULL, O_FORMAT},
        {"output", required_argument, NULL, O_OUTPUT},
        {"state", required_argument, NULL, O_STATE},
        {"scope", required_argument, NULL, O_SCOPE},
        {"full", no_argument, NULL, O_FULL},
        {"page-size", required_argument, NULL, O_PAGE},
        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
        {"secret-key", required_argument, NULL, O_SECRET},
        {"into", required_argument, NULL, O_INTO},
        {"jobs", required_argument, NULL, O_JOBS},
        {"as-of", required_argument, NULL, O_AS_OF},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o->config = optarg;
            break;
        case O_HUB:
            if (o->n_hub_args == MAX_HUBS)
                return usage_error("too many hubs", NULL);
            o->hub_args[o->n_hub_args++] = optarg;
            break;
        case O_DATASET:
            o->datasets = optarg;
            break;
        case O_FORMAT:
            o->format = optarg;
            break;
        case O_OUTPUT:
            o->output = optarg;
            break;
        case O_STATE:
            o->state = optarg;
            break;
        case O_SCOPE:
            o->scope = optarg;
            break;
        case O_FULL:
            o->full = true;
            break;
        case O_PAGE:
            o->page_size = optarg;
            break;
        case O_TIMEOUT:
            o->timeout_ms = optarg;
            break;
        case O_SECRET:
            o->secret_key = optarg;
            break;
        case O_INTO:
            o->into = optarg;
            break;
        case O_JOBS:
            o->jobs = optarg;
            break;
        case O_AS_OF:
            if (ws_date_parse(optarg, NULL) < 0)
                return usage_error("--as-of: not a date (YYYY-MM-DD):", optarg);
            o->as_of = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return EXIT_OK;
        case O_VERSION:
            ws_print_version("city-pull");
            return EXIT_OK;
        case ':':
            return usage_error("option needs a value:", argv[optind - 1]);
        default:
            return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    return -1;
}

/* "NAME=ENDPOINT" or "NAME=ENDPOINT key=HUB_PUBLIC_KEY_FILE". */
static int parse_hub(const char *text, struct hub *h)
{
    const char *eq = strchr(text, '=');
    const char *space = strchr(text, ' ');
    size_t ep_len = space ? (size_t)(space - eq - 1) : strlen(eq ? eq + 1 : "");
    if (!eq || eq == text || !eq[1] || (space && space < eq) ||
        (size_t)(eq - text) >= sizeof h->name || ep_len == 0 ||
        ep_len >= sizeof h->endpoint)
        return -1;
    memset(h, 0, sizeof *h);
    memcpy(h->name, text, (size_t)(eq - text));
    memcpy(h->endpoint, eq + 1, ep_len);
    if (space) {
        while (*space == ' ')
            space++;
        if (strncmp(space, "key=", 4) != 0 || !space[4] ||
            strlen(space + 4) >= sizeof h->key_path)
            return -1;
        snprintf(h->key_path, sizeof h->key_path, "%s", space + 4);
    }
    for (char *p = h->name; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return -1;
    return 0;
}

/* Splits "a, b,c" into trimmed items (modifies buf). */
static size_t split_list(char *buf, char **items, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < max;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*tok)
            items[n++] = tok;
    }
    return n;
}

/* An integer setting in [min, max]: the command line's OPTION when given,
 * else [city] key (its file and line named when bad). Returns 0, or -1
 * with the reason on stderr. */
static int int_setting(const struct ws_config *cfg, const char *given,
                       const char *option, const char *key, int64_t def,
                       int64_t min, int64_t max, int64_t *out)
{
    char err[1024];
    if (given == NULL) {
        if (ws_config_get_int(cfg, "city", key, def, min, max, out, err,
                              sizeof err) == 0)
            return 0;
        fprintf(stderr, "city-pull: %s\n", err);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(given, &end, 10);
    if (errno == 0 && end != given && *end == '\0' && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    fprintf(stderr,
            "city-pull: %s: \"%s\" is not an integer in %" PRId64 "..%" PRId64
            "\n",
            option, given, min, max);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return report_command(argc - 1, argv + 1);
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    struct ws_config *cfg = NULL;
    char err[1024];
    /* Every [city] key, documented once in packaging/etc/city-pull.conf. */
    static const char *const city_keys[] = {
        "hubs",      "datasets",   "format",     "output", "state", "scope",
        "page_size", "timeout_ms", "secret_key", "into",   "jobs",  NULL};
    if (ws_config_load(o.config, &cfg, err, sizeof err) < 0 ||
        ws_config_check_keys(cfg, "city", city_keys, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        ws_config_destroy(&cfg);
        return EXIT_CONFIG;
    }
#define SETTING(field, key, def)                                               \
    if (!o.field)                                                              \
        o.field = ws_config_get(cfg, "city", key, def);
    SETTING(datasets, "datasets", DEFAULT_DATASETS)
    SETTING(format, "format", "csv")
    SETTING(output, "output", ".")
    SETTING(scope, "scope", "")
    SETTING(secret_key, "secret_key", "")
    SETTING(into, "into", "")
#undef SETTING

    static struct hub hubs[MAX_HUBS];
    size_t n_hubs = 0;
    char hub_buf[4096];
    char *items[MAX_HUBS];
    size_t n_items = 0;
    if (o.n_hub_args) {
        for (size_t i = 0; i < o.n_hub_args; i++)
            items[n_items++] = (char *)o.hub_args[i];
    } else {
        snprintf(hub_buf, sizeof hub_buf, "%s",
                 ws_config_get(cfg, "city", "hubs", ""));
        n_items = split_list(hub_buf, items, MAX_HUBS);
    }
    for (size_t i = 0; i < n_items; i++)
        if (parse_hub(items[i], &hubs[n_hubs++]) < 0) {
            fprintf(stderr, "city-pull: bad hub \"%s\" (want NAME=ENDPOINT)\n",
                    items[i]);
            ws_config_destroy(&cfg);
            return EXIT_CONFIG;
        }
    char ds_buf[512];
    char *datasets[MAX_DATASETS];
    snprintf(ds_buf, sizeof ds_buf, "%s", o.datasets);
    size_t n_datasets = split_list(ds_buf, datasets, MAX_DATASETS);
    int64_t page_size, timeout_ms, jobs;
    if (int_setting(cfg, o.page_size, "--page-size", "page_size", 500, 1, 5000,
                    &page_size) < 0 ||
        int_setting(cfg, o.timeout_ms, "--timeout-ms", "timeout_ms", 30000, 10,
                    INT32_MAX, &timeout_ms) < 0 ||
        int_setting(cfg, o.jobs, "--jobs", "jobs", 4, 1, MAX_HUBS, &jobs) < 0) {
        ws_config_destroy(&cfg);
        return EXIT_CONFIG;
    }
    if (strcmp(o.format, "csv") != 0 && strcmp(o.format, "json") != 0) {
        char where[512] = "--format";
        if (ws_config_get(cfg, "city", "format", NULL) == o.format)
            ws_config_where(cfg, "city", "format", where, sizeof where);
        fprintf(stderr, "city-pull: %s: \"%s\" is not csv or json\n", where,
                o.format);
        ws_config_destroy(&cfg);
        return EXIT_CONFIG;
    }
    if (n_hubs == 0 || n_datasets == 0) {
        ws_config_destroy(&cfg);
        return usage_error(n_hubs == 0 ? "no hub given (--hub or [city] hubs)"
                                       : "bad dataset list",
                           NULL);
    }
    struct run_options run = {0};
    for (size_t d = 0; d < n_datasets; d++)
        run.datasets[d] = datasets[d];
    run.n_datasets = n_datasets;
    run.format = strcmp(o.format, "json") == 0 ? SINK_JSON : SINK_CSV;
    run.scope = o.scope;
    run.into = o.into[0] ? o.into : NULL;
    run.full = o.full;
    run.as_of = o.as_of ? o.as_of : "";
    run.quiet = o.quiet;
    run.tty = isatty(STDERR_FILENO);
    run.page_size = (unsigned)page_size;
    run.timeout_ms = (int)timeout_ms;
    run.jobs = (unsigned)jobs;
    bool to_stdout = strcmp(o.output, "-") == 0;
    run.output = to_stdout ? NULL : o.output;
    if (!run.into && !to_stdout && mkdir(o.output, 0755) != 0 &&
        errno != EEXIST) {
        fprintf(stderr, "city-pull: could not create \"%s\": %s\n", o.output,
                strerror(errno));
        ws_config_destroy(&cfg);
        return EXIT_IO;
    }
    char state_path[4096];
    snprintf(state_path, sizeof state_path, "%s",
             o.state ? o.state : ws_config_get(cfg, "city", "state", ""));
    if (!state_path[0])
        snprintf(state_path, sizeof state_path, "%s/city-pull-state.json",
                 to_stdout ? "." : o.output);
    run.state_path = state_path;

    /* CURVE: the city's own secret key, and each hub's public key. */
    struct ws_keypair own;
    memset(&own, 0, sizeof own);
    bool any_key = false;
    for (size_t i = 0; i < n_hubs; i++) {
        if (!hubs[i].key_path[0])
            continue;
        any_key = true;
        if (ws_keys_read_public(hubs[i].key_path, &hubs[i].key, err,
                                sizeof err) < 0) {
            fprintf(stderr, "city-pull: hub %s: %s\n", hubs[i].name, err);
            ws_config_destroy(&cfg);
            return EXIT_CONFIG;
        }
    }
    if (any_key != (o.secret_key[0] != '\0')) {
        fprintf(stderr, "city-pull: CURVE needs both the city's secret key "
                        "(--secret-key) and each hub's key (key=FILE)\n");
        ws_config_destroy(&cfg);
        return EXIT_CONFIG;
    }
    if (any_key &&
        ws_keys_read_secret(o.secret_key, &own, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        ws_config_destroy(&cfg);
        return EXIT_CONFIG;
    }
    run.own = any_key ? &own : NULL;

    void *ctx = zmq_ctx_new();
    rc = run.into ? load_run(ctx, hubs, n_hubs, &run)
                  : files_run(ctx, hubs, n_hubs, &run);
    zmq_ctx_term(ctx);
    ws_keys_wipe(&own);
    ws_config_destroy(&cfg);
    return rc;
}
