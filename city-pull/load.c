/*
 * load.c - city-pull --into: every dataset of every hub into the city
 * warehouse (docs/DESIGN.md §8, §10; city-pull/sql/001_warehouse.sql).
 *
 * Hubs are loaded in parallel, o->jobs at a time, each by a thread with
 * its own warehouse connection and its own socket. Each page goes into
 * the warehouse with the cursor it leads to, in one transaction
 * (warehouse_apply_page): whenever the loader stops, kill -9 included,
 * the warehouse holds exactly the pages up to its saved cursor, and the
 * next run asks the hub from there. Only what a hub publishes on its pull
 * endpoint reaches the warehouse.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "columns.h"
#include "hub.h"
#include "warehouse.h"

struct load_run {
    void *ctx;
    struct hub *hubs;
    size_t n_hubs, next;
    const struct run_options *o;
    pthread_mutex_t lock; /* next, and stderr lines */
    int rc;
};

struct load_page {
    struct load_run *run;
    struct warehouse *w;
    struct hub *h;
    const char *dataset;
    unsigned pages;
    long long rows, loaded;
    struct timespec last_report;
};

static bool is_null(const Wardsync__V1__Row *row, size_t i)
{
    for (size_t k = 0; k < row->n_nulls; k++)
        if (row->nulls[k] == i)
            return true;
    return false;
}

/* The page's rows as city.apply_page takes them, compact JSON (malloc'd),
 * or NULL when out of memory. */
static char *rows_json(const char *dataset, const Wardsync__V1__PullPage *page)
{
    json_t *rows = json_array();
    for (size_t r = 0; rows && r < page->n_rows; r++) {
        const Wardsync__V1__Row *in = page->rows[r];
        json_t *values = json_object();
        for (size_t c = 0; values && c < page->n_columns; c++) {
            const char *text =
                c < in->n_values && !is_null(in, c) ? in->values[c] : NULL;
            enum column_type t = columns_type(dataset, page->columns[c]);
            json_t *v = t == COLUMN_JSON ? columns_json_value(t, text)
                        : text           ? json_string(text)
                                         : json_null();
            if (!v || json_object_set_new(values, page->columns[c], v) != 0) {
                json_decref(values);
                values = NULL;
            }
        }
        const char *op =
            in->op == WARDSYNC__V1__ROW_OP__ROW_OP_INSERT   ? "insert"
            : in->op == WARDSYNC__V1__ROW_OP__ROW_OP_DELETE ? "delete"
                                                            : "update";
        json_t *row =
            values
                ? json_pack("{s:s, s:s, s:I, s:o}", "op", op, "key", in->key,
                            "change", (json_int_t)in->change, "values", values)
                : NULL;
        if (!row || json_array_append_new(rows, row) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
    json_decref(rows);
    return text;
}

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) +
           (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static int load_page(void *arg, const Wardsync__V1__PullPage *page,
                     const char *from, char *err, size_t errlen)
{
    struct load_page *lp = arg;
    char *json = rows_json(lp->dataset, page);
    if (!json) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    long long loaded = 0;
    /* The cursors as the warehouse keeps them (hub_cursor_saved). */
    char saved_from[96], saved_to[96];
    hub_cursor_saved(lp->run->o, lp->dataset, from, saved_from,
                     sizeof saved_from);
    hub_cursor_saved(lp->run->o, lp->dataset,
                     page->next_cursor ? page->next_cursor : "", saved_to,
                     sizeof saved_to);
    int rc = warehouse_apply_page(lp->w, lp->dataset, lp->h->name, json,
                                  saved_from, saved_to, &loaded, err, errlen);
    free(json);
    if (rc < 0)
        return -1;
    lp->pages++;
    lp->rows += (long long)page->n_rows;
    lp->loaded += loaded;
    const struct run_options *o = lp->run->o;
    if (!o->quiet && page->more && seconds_since(&lp->last_report) >= 1.0) {
        pthread_mutex_lock(&lp->run->lock);
        fprintf(stderr, "%-10s %-18s page %u, %lld rows...\n", lp->h->name,
                lp->dataset, lp->pages, lp->rows);
        pthread_mutex_unlock(&lp->run->lock);
        clock_gettime(CLOCK_MONOTONIC, &lp->last_report);
    }
    return 0;
}

/* One line on stderr (NULL: none), and rc into the run's exit code. */
static void report(struct load_run *run, int rc, const char *line)
{
    pthread_mutex_lock(&run->lock);
    if (line)
        fprintf(stderr, "%s\n", line);
    if (rc != EXIT_OK && (run->rc == EXIT_OK || rc == EXIT_IO))
        run->rc = rc;
    pthread_mutex_unlock(&run->lock);
}

/* Every dataset of one hub, on the thread's own connection. */
static void load_hub(struct load_run *run, struct hub *h)
{
    const struct run_options *o = run->o;
    char err[1024], line[1400];
    struct warehouse *w = NULL;
    if (warehouse_open(o->into, &w, err, sizeof err) < 0) {
        snprintf(line, sizeof line, "city-pull: hub %s: %s", h->name, err);
        report(run, EXIT_IO, line);
        return;
    }
    for (size_t d = 0; d < o->n_datasets && !h->dead; d++) {
        const char *dataset = o->datasets[d];
        char saved[96] = "", from[64] = "", to[64];
        if (!o->full && warehouse_cursor(w, h->name, dataset, saved,
                                         sizeof saved, err, sizeof err) < 0) {
            snprintf(line, sizeof line, "city-pull: hub %s: %s", h->name, err);
            report(run, EXIT_IO, line);
            break;
        }
        hub_cursor_start(o, dataset, saved, from, sizeof from);
        struct load_page lp = {run, w, h, dataset, 0, 0, 0, {0, 0}};
        clock_gettime(CLOCK_MONOTONIC, &lp.last_report);
        int prc = hub_pull(run->ctx, h, dataset, from, o, load_page, &lp, to,
                           sizeof to);
        if (prc < 0) {
            snprintf(line, sizeof line,
                     "city-pull: hub %s does not answer: %s (%s kept as "
                     "loaded; the next run goes on from there)",
                     h->name, h->error, dataset);
            report(run, EXIT_PARTIAL, line);
        } else if (prc > 0) {
            report(run, EXIT_PARTIAL, NULL); /* hub_pull said why */
        } else if (!o->quiet) {
            snprintf(line, sizeof line,
                     "%-10s %-18s %lld rows in %u pages, cursor %s", h->name,
                     dataset, lp.rows, lp.pages, to);
            report(run, EXIT_OK, line);
        }
    }
    warehouse_close(&w);
}

static void *worker(void *arg)
{
    struct load_run *run = arg;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        size_t i = run->next < run->n_hubs ? run->next++ : run->n_hubs;
        pthread_mutex_unlock(&run->lock);
        if (i == run->n_hubs)
            return NULL;
        load_hub(run, &run->hubs[i]);
    }
}

int load_run(void *ctx, struct hub *hubs, size_t n_hubs,
             const struct run_options *o)
{
    char err[1024];
    struct warehouse *w = NULL;
    if (warehouse_open(o->into, &w, err, sizeof err) < 0 ||
        warehouse_migrate(w, err, sizeof err) < 0) {
        fprintf(stderr, "city-pull: %s\n", err);
        warehouse_close(&w);
        return EXIT_IO;
    }
    warehouse_close(&w);
    struct load_run run = {
        ctx, hubs, n_hubs, 0, o, PTHREAD_MUTEX_INITIALIZER, EXIT_OK};
    size_t n_threads = o->jobs < n_hubs ? o->jobs : n_hubs;
    pthread_t threads[MAX_HUBS];
    size_t started = 0;
    for (; started < n_threads; started++)
        if (pthread_create(&threads[started], NULL, worker, &run) != 0)
            break;
    if (started == 0)
        worker(&run); /* no thread to be had: one hub after the other */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&run.lock);
    return run.rc;
}
