/*
 * files.c - city-pull into files (docs/contracts.md, docs/DESIGN.md §8).
 *
 * For each dataset: the file as the last run left it, plus what every hub
 * sent since its cursor, written back whole (dataset.h); a hub's changes
 * count only when its whole pull came through, so a hub that stops
 * answering keeps its previous rows. The cursors are saved after the file
 * is in place: a run that dies between the two pulls those changes again
 * next time, and applying a change twice by key leaves the same file.
 * Without a file (first run, or deleted) a hub is pulled from the
 * beginning whatever the state says, so the file is never only a delta.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "hub.h"
#include "state.h"

struct staging {
    struct dataset *d;
    json_t *staged;
    const struct hub *h;
    const char *dataset;
    const struct run_options *o;
    unsigned pages;
    size_t rows;
};

static int stage_page(void *arg, const Wardsync__V1__PullPage *page,
                      const char *from, char *err, size_t errlen)
{
    (void)from;
    struct staging *s = arg;
    if (dataset_stage_page(s->d, s->h->name, page, s->staged) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->pages++;
    s->rows += page->n_rows;
    if (s->o->tty && !s->o->quiet) {
        fprintf(stderr, "\r%-10s %-18s page %u, %zu rows ", s->h->name,
                s->dataset, s->pages, s->rows);
        fflush(stderr);
    }
    return 0;
}

/* One dataset from every live hub. Returns an exit code. */
static int pull_one_dataset(void *ctx, struct hub *hubs, size_t n_hubs,
                            const char *name, struct state *st,
                            const char *stamp, const struct run_options *o)
{
    char err[1024];
    struct dataset *d = NULL;
    bool had_file = false;
    if (dataset_open(o->output, name, o->format, &d, &had_file, err,
                     sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        return EXIT_IO;
    }
    char cursors[MAX_HUBS][64];
    bool done[MAX_HUBS] = {false};
    int rc = EXIT_OK;
    for (size_t i = 0; i < n_hubs; i++) {
        struct hub *h = &hubs[i];
        if (h->dead)
            continue;
        char start[64] = "";
        if (!o->full && !(o->output && !had_file))
            hub_cursor_start(o, name, state_cursor(st, h->name, name), start,
                             sizeof start);
        struct staging s = {d, json_array(), h, name, o, 0, 0};
        int prc = s.staged ? hub_pull(ctx, h, name, start, o, stage_page, &s,
                                      cursors[i], sizeof cursors[i])
                           : 1;
        if (o->tty && !o->quiet && s.pages)
            fputc('\r', stderr);
        if (prc == 0 && dataset_apply(d, h->name, s.staged, !start[0]) < 0) {
            fprintf(stderr, "city-pull: out of memory\n");
            prc = 1;
        }
        json_decref(s.staged);
        if (prc < 0)
            fprintf(stderr,
                    "city-pull: hub %s does not answer: %s (its rows in "
                    "%s are kept as they were)\n",
                    h->name, h->error, name);
        if (prc != 0) {
            rc = EXIT_PARTIAL;
            continue;
        }
        done[i] = true;
        if (!o->quiet)
            fprintf(stderr, "%-10s %-18s %zu rows in %u pages, cursor %s\n",
                    h->name, name, s.rows, s.pages, cursors[i]);
    }
    int wrc =
        o->output
            ? dataset_write(d, o->output, o->format, stamp, err, sizeof err)
            : dataset_write_changes(d, stdout, o->format, err, sizeof err);
    if (wrc == 0) {
        for (size_t i = 0; i < n_hubs; i++) {
            char saved[96];
            hub_cursor_saved(o, name, cursors[i], saved, sizeof saved);
            if (done[i] && state_set_cursor(st, hubs[i].name, name, saved) < 0)
                wrc = -1;
        }
        if (wrc == 0)
            wrc = state_save(st, err, sizeof err);
        else
            snprintf(err, sizeof err, "out of memory");
    }
    if (wrc < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        rc = EXIT_IO;
    } else if (o->output && !o->quiet)
        fprintf(stderr, "%-29s %zu rows, %zu changed\n", name, dataset_size(d),
                dataset_changed(d));
    dataset_destroy(&d);
    return rc;
}

int files_run(void *ctx, struct hub *hubs, size_t n_hubs,
              const struct run_options *o)
{
    char err[1024];
    struct state *st = NULL;
    if (state_load(o->state_path, &st, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        return EXIT_CONFIG;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    int rc = EXIT_OK;
    for (size_t d = 0; d < o->n_datasets && rc != EXIT_IO; d++) {
        int drc =
            pull_one_dataset(ctx, hubs, n_hubs, o->datasets[d], st, stamp, o);
        if (drc != EXIT_OK)
            rc = drc;
    }
    state_destroy(&st);
    return rc;
}
