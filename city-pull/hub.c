/*
 * hub.c - the page loop of one dataset of one hub (hub.h).
 */
#include "hub.h"

#include <stdio.h>
#include <string.h>

#include "fetch.h"

/* Whether the rows of dataset depend on the as-of day. */
static bool judged_as_of(const char *dataset)
{
    return strcmp(dataset, "indicators") == 0 ||
           strcmp(dataset, "petitions") == 0;
}

void hub_cursor_start(const struct run_options *o, const char *dataset,
                      const char *saved, char *out, size_t cap)
{
    const char *at = judged_as_of(dataset) ? strchr(saved, '@') : NULL;
    const char *day = o->as_of && judged_as_of(dataset) ? o->as_of : "";
    bool same = at ? strcmp(at + 1, day) == 0 : !day[0];
    size_t len = at ? (size_t)(at - saved) : strlen(saved);
    if (!same)
        len = 0;
    snprintf(out, cap, "%.*s", (int)len, saved);
}

void hub_cursor_saved(const struct run_options *o, const char *dataset,
                      const char *cursor, char *out, size_t cap)
{
    bool day = cursor[0] && o->as_of && o->as_of[0] && judged_as_of(dataset);
    snprintf(out, cap, "%s%s%s", cursor, day ? "@" : "", day ? o->as_of : "");
}

int hub_pull(void *ctx, struct hub *h, const char *dataset, const char *cursor,
             const struct run_options *o, hub_page_fn on_page, void *arg,
             char *cursor_out, size_t cursor_cap)
{
    char err[512];
    struct fetch_client *fc = NULL;
    if (fetch_open(ctx, h->endpoint, h->key_path[0] ? o->own : NULL,
                   h->key_path[0] ? h->key.public_z85 : NULL, o->timeout_ms,
                   &fc, err, sizeof err) < 0) {
        h->dead = true;
        snprintf(h->error, sizeof h->error, "%s", err);
        return -1;
    }
    char from[64];
    snprintf(from, sizeof from, "%s", cursor);
    int rc = 0;
    for (;;) {
        Wardsync__V1__PullPage *page = NULL;
        if (fetch_page(fc, dataset, o->scope, o->as_of, from, o->page_size,
                       &page, err, sizeof err) < 0) {
            h->dead = true;
            snprintf(h->error, sizeof h->error, "%s (%s)", err, h->endpoint);
            rc = -1;
            break;
        }
        if (page->error && page->error[0]) {
            fprintf(stderr, "city-pull: hub %s: %s: %s\n", h->name, dataset,
                    page->error);
            wardsync__v1__pull_page__free_unpacked(page, NULL);
            rc = 1;
            break;
        }
        if (on_page(arg, page, from, err, sizeof err) < 0) {
            fprintf(stderr, "city-pull: hub %s: %s: %s\n", h->name, dataset,
                    err);
            wardsync__v1__pull_page__free_unpacked(page, NULL);
            rc = 1;
            break;
        }
        snprintf(from, sizeof from, "%s",
                 page->next_cursor ? page->next_cursor : "");
        bool more = page->more;
        wardsync__v1__pull_page__free_unpacked(page, NULL);
        if (!more)
            break;
    }
    fetch_close(&fc);
    snprintf(cursor_out, cursor_cap, "%s", from);
    return rc;
}
