/*
 * hub.h - what one run of city-pull knows: the hubs to pull and the
 * options (main.c fills them), and the page loop both outputs share.
 */
#ifndef CITY_PULL_HUB_H
#define CITY_PULL_HUB_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"
#include "wardsync/keys.h"
#include "wardsync/v1/pull.pb-c.h"

#define MAX_HUBS 64
#define MAX_DATASETS 8

enum {
    EXIT_OK = 0,
    EXIT_CONFIG = 1,
    EXIT_USAGE = 2,
    EXIT_IO = 3,
    EXIT_PARTIAL = 4
};

struct hub {
    char name[64]; /* the district, in files and in the warehouse */
    char endpoint[256];
    char key_path[512]; /* the hub's public key file; "" without CURVE */
    struct ws_keypair key;
    bool dead; /* did not answer: skip its other datasets */
    char error[1024];
};

struct run_options {
    char *datasets[MAX_DATASETS];
    size_t n_datasets;
    enum sink_format format;
    const char *output; /* folder; NULL: stdout (changes only) */
    const char *state_path;
    const char *scope;
    const char *into;  /* warehouse conninfo; NULL: files */
    const char *as_of; /* --as-of DAY, "" for the district's today */
    bool full, quiet, tty;
    unsigned page_size;
    int timeout_ms;
    unsigned jobs;                /* hubs loaded at once (--into) */
    const struct ws_keypair *own; /* NULL without CURVE */
};

/* Called with each page in order; from: the cursor the page was asked
 * with. Returns 0, or -1 to stop (err set). */
typedef int (*hub_page_fn)(void *arg, const Wardsync__V1__PullPage *page,
                           const char *from, char *err, size_t errlen);

/* Pulls every page of dataset from hub h, starting at cursor, calling
 * on_page for each; the last page's next_cursor goes to cursor_out.
 * Returns 0, 1 (the hub refused the dataset, or on_page failed: reported
 * on stderr) or -1 (no answer: h->dead and h->error set). */
int hub_pull(void *ctx, struct hub *h, const char *dataset, const char *cursor,
             const struct run_options *o, hub_page_fn on_page, void *arg,
             char *cursor_out, size_t cursor_cap);

/* The cursors as city-pull saves them (state file, warehouse): for a
 * dataset judged as of a day (indicators, petitions) pulled with --as-of
 * DAY, the hub's cursor followed by "@DAY", so that a cursor of one day is
 * never used to pull another day's figures. hub_cursor_start gives the
 * hub's cursor to start from ("" when saved was saved for another day,
 * or for today and DAY is given, or the other way round);
 * hub_cursor_saved the text to save for the hub's cursor ("" stays "":
 * from the beginning). */
void hub_cursor_start(const struct run_options *o, const char *dataset,
                      const char *saved, char *out, size_t cap);
void hub_cursor_saved(const struct run_options *o, const char *dataset,
                      const char *cursor, char *out, size_t cap);

/* files.c: pull into files or stdout. Returns an exit code. */
int files_run(void *ctx, struct hub *hubs, size_t n_hubs,
              const struct run_options *o);

/* load.c: pull into the warehouse (o->into). Returns an exit code. */
int load_run(void *ctx, struct hub *hubs, size_t n_hubs,
             const struct run_options *o);

#endif
