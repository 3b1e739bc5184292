/*
 * main.c - the city-pull command line (docs/contracts.md, DESIGN §8).
 *
 * Pulls every dataset from every configured hub, page by page, into one
 * CSV or JSON file per dataset (or stdout), and keeps a cursor per hub and
 * dataset so that the next run fetches only what changed. A hub that does
 * not answer is reported and the others are still pulled.
 * Exit codes: 0 ok, 1 bad configuration, 2 usage, 3 I/O error, 4 some hub
 * or dataset could not be pulled (the others were).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "fetch.h"
#include "sink.h"
#include "state.h"
#include "wardsync/config.h"
#include "wardsync/keys.h"

enum {
    EXIT_OK = 0,
    EXIT_CONFIG = 1,
    EXIT_USAGE = 2,
    EXIT_IO = 3,
    EXIT_PARTIAL = 4
};

#define MAX_HUBS 64
#define MAX_DATASETS 8
#define DEFAULT_DATASETS "indicators,petitions,ballot_aggregates,sync_status"

static const char USAGE[] =
    "usage: city-pull [-c FILE] [--hub NAME=ENDPOINT]... [--dataset LIST]\n"
    "                 [--format csv|json] [--output DIR|-] [--state FILE]\n"
    "                 [--scope WARD] [--full] [--page-size N]\n"
    "                 [--timeout-ms N] [--quiet]\n"
    "\n"
    "Pulls datasets from district hubs into one file per dataset\n"
    "(DIR/DATASET.csv or .json) with a leading hub column, or to stdout.\n"
    "A cursor per hub and dataset is kept in the state file, so the next\n"
    "run returns only rows inserted, corrected or deleted since (column\n"
    "op: insert, update, delete).\n"
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
    "      --page-size N     rows per page (default 500)\n"
    "      --timeout-ms N    wait for each page (default 30000)\n"
    "  -q, --quiet           no progress or summary on stderr\n"
    "  -h, --help            show this help\n"
    "exit codes: 0 ok, 1 bad configuration, 2 usage, 3 I/O error, 4 some\n"
    "hub or dataset failed (the others were pulled)\n";

struct hub {
    char name[64];
    char endpoint[256];
    char key_path[512]; /* the hub's public key file; "" without CURVE */
    struct ws_keypair key;
    bool dead; /* did not answer: skip its other datasets */
    char error[1024];
};

struct options {
    const char *config;
    const char *hub_args[MAX_HUBS];
    size_t n_hub_args;
    const char *datasets, *format, *output, *state, *scope;
    const char *page_size, *timeout_ms, *secret_key;
    bool full, quiet;
};

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
        O_SECRET
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
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
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
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
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

static void progress(bool tty, bool quiet, const char *hub, const char *dataset,
                     unsigned pages, size_t rows)
{
    if (tty && !quiet) {
        fprintf(stderr, "\r%-10s %-18s page %u, %zu rows ", hub, dataset, pages,
                rows);
        fflush(stderr);
    }
}

/* Pulls every page of one dataset of one hub into sink. Returns 0 (cursor
 * saved in state), 1 (the hub refused the dataset) or -1 (no answer: the
 * hub is marked dead). */
static int pull_dataset(void *ctx, struct hub *h, const char *dataset,
                        const struct options *o, const struct ws_keypair *own,
                        unsigned page_size, int timeout_ms, struct sink *sink,
                        struct state *st, bool tty)
{
    char err[512];
    struct fetch_client *fc = NULL;
    if (fetch_open(ctx, h->endpoint, h->key_path[0] ? own : NULL,
                   h->key_path[0] ? h->key.public_z85 : NULL, timeout_ms, &fc,
                   err, sizeof err) < 0) {
        h->dead = true;
        snprintf(h->error, sizeof h->error, "%s", err);
        return -1;
    }
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s",
             o->full ? "" : state_cursor(st, h->name, dataset));
    size_t rows = 0, dropped = 0;
    unsigned pages = 0;
    int rc = 0;
    for (;;) {
        Wardsync__V1__PullPage *page = NULL;
        if (fetch_page(fc, dataset, o->scope, cursor, page_size, &page, err,
                       sizeof err) < 0) {
            h->dead = true;
            snprintf(h->error, sizeof h->error, "%s (%s)", err, h->endpoint);
            rc = -1;
            break;
        }
        if (page->error && page->error[0]) {
            if (tty && !o->quiet)
                fputc('\n', stderr);
            fprintf(stderr, "city-pull: hub %s: %s: %s\n", h->name, dataset,
                    page->error);
            wardsync__v1__pull_page__free_unpacked(page, NULL);
            rc = 1;
            break;
        }
        if (sink_write_page(sink, h->name, page, &dropped, err, sizeof err) <
            0) {
            fprintf(stderr, "city-pull: %s\n", err);
            wardsync__v1__pull_page__free_unpacked(page, NULL);
            rc = 1;
            break;
        }
        pages++;
        rows += page->n_rows;
        snprintf(cursor, sizeof cursor, "%s",
                 page->next_cursor ? page->next_cursor : "");
        bool more = page->more;
        wardsync__v1__pull_page__free_unpacked(page, NULL);
        progress(tty, o->quiet, h->name, dataset, pages, rows);
        if (!more)
            break;
    }
    fetch_close(&fc);
    if (rc == 0) {
        state_set_cursor(st, h->name, dataset, cursor);
        if (tty && !o->quiet)
            fputc('\r', stderr);
        if (!o->quiet)
            fprintf(stderr, "%-10s %-18s %zu rows in %u pages, cursor %s%s\n",
                    h->name, dataset, rows, pages, cursor,
                    dropped ? " (columns dropped)" : "");
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;

    struct ws_config *cfg = NULL;
    char err[1024];
    if (ws_config_load(o.config, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        return EXIT_CONFIG;
    }
#define SETTING(field, key, def)                                               \
    if (!o.field)                                                              \
        o.field = ws_config_get(cfg, "city", key, def);
    SETTING(datasets, "datasets", DEFAULT_DATASETS)
    SETTING(format, "format", "csv")
    SETTING(output, "output", ".")
    SETTING(scope, "scope", "")
    SETTING(page_size, "page_size", "500")
    SETTING(timeout_ms, "timeout_ms", "30000")
    SETTING(secret_key, "secret_key", "")
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
    char *end = NULL;
    long page_size = strtol(o.page_size, &end, 10);
    long timeout_ms = strtol(o.timeout_ms, &end, 10);
    enum sink_format format =
        strcmp(o.format, "json") == 0 ? SINK_JSON : SINK_CSV;
    if (n_hubs == 0 || n_datasets == 0 || page_size < 1 || page_size > 5000 ||
        timeout_ms < 10 ||
        (strcmp(o.format, "csv") != 0 && strcmp(o.format, "json") != 0)) {
        ws_config_destroy(&cfg);
        return usage_error(n_hubs == 0 ? "no hub given (--hub or [city] hubs)"
                                       : "bad dataset list, format, page "
                                         "size or timeout",
                           NULL);
    }
    bool to_stdout = strcmp(o.output, "-") == 0;
    if (!to_stdout && mkdir(o.output, 0755) != 0 && errno != EEXIST) {
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

    struct state *st = NULL;
    if (state_load(state_path, &st, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        ws_config_destroy(&cfg);
        return EXIT_CONFIG;
    }
    void *ctx = zmq_ctx_new();
    bool tty = isatty(STDERR_FILENO);
    rc = EXIT_OK;
    for (size_t d = 0; d < n_datasets && rc != EXIT_IO; d++) {
        struct sink *sink = NULL;
        if (sink_open(to_stdout ? NULL : o.output, datasets[d], format, &sink,
                      err, sizeof err) < 0) {
            fprintf(stderr, "city-pull: %s\n", err);
            rc = EXIT_IO;
            break;
        }
        for (size_t i = 0; i < n_hubs; i++) {
            if (hubs[i].dead)
                continue;
            int prc = pull_dataset(ctx, &hubs[i], datasets[d], &o, &own,
                                   (unsigned)page_size, (int)timeout_ms, sink,
                                   st, tty);
            if (prc < 0) {
                if (tty && !o.quiet)
                    fputc('\n', stderr);
                fprintf(stderr, "city-pull: hub %s does not answer: %s\n",
                        hubs[i].name, hubs[i].error);
            }
            if (prc != 0)
                rc = EXIT_PARTIAL;
        }
        if (sink_close(&sink, true, err, sizeof err) < 0 ||
            state_save(st, err, sizeof err) < 0) {
            fprintf(stderr, "city-pull: %s\n", err);
            rc = EXIT_IO;
        }
    }
    zmq_ctx_term(ctx);
    ws_keys_wipe(&own);
    state_destroy(&st);
    ws_config_destroy(&cfg);
    return rc;
}
