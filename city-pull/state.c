/*
 * state.c - the cursor file (state.h). A cursor is saved only after every
 * page up to it has been written, so that a failed run repeats rows rather
 * than losing them.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct state {
    char path[4096];
    json_t *root;
};

int state_load(const char *path, struct state **out, char *err, size_t errlen)
{
    *out = NULL;
    struct state *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(st->path, sizeof st->path, "%s", path);
    json_error_t jerr;
    st->root = json_load_file(path, 0, &jerr);
    if (!st->root) {
        if (access(path, F_OK) == 0) {
            snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
            free(st);
            return -1;
        }
        st->root = json_pack("{s:{}}", "hubs");
    }
    if (!st->root || !json_is_object(json_object_get(st->root, "hubs"))) {
        snprintf(err, errlen, "%s: not a city-pull state file", path);
        json_decref(st->root);
        free(st);
        return -1;
    }
    *out = st;
    return 0;
}

const char *state_cursor(const struct state *st, const char *hub,
                         const char *dataset)
{
    json_t *hubs = json_object_get(st->root, "hubs");
    const char *c =
        json_string_value(json_object_get(json_object_get(hubs, hub), dataset));
    return c ? c : "";
}

int state_set_cursor(struct state *st, const char *hub, const char *dataset,
                     const char *cursor)
{
    json_t *hubs = json_object_get(st->root, "hubs");
    json_t *h = json_object_get(hubs, hub);
    if (!h) {
        h = json_object();
        if (!h || json_object_set_new(hubs, hub, h) != 0)
            return -1;
    }
    return json_object_set_new(h, dataset, json_string(cursor));
}

int state_save(const struct state *st, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", st->path);
    char *text = json_dumps(st->root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t len = strlen(text);
    int rc = -1;
    if (fd >= 0 && write(fd, text, len) == (ssize_t)len &&
        write(fd, "\n", 1) == 1 && fsync(fd) == 0)
        rc = 0;
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, st->path) != 0)
        rc = -1;
    if (rc < 0) {
        snprintf(err, errlen, "could not write \"%s\": %s", st->path,
                 strerror(errno));
        remove(tmp);
    }
    free(text);
    return rc;
}

void state_destroy(struct state **st)
{
    if (!st || !*st)
        return;
    json_decref((*st)->root);
    free(*st);
    *st = NULL;
}
