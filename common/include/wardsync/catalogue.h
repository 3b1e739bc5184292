/*
 * catalogue.h - the identification catalogue (DESIGN §6).
 *
 * Two forms (41 items for leadership posts, 36 for staff), each item refining
 * one of 25 manifestations, grouped in 6 content groups; 3 level labels and
 * 4 respondent groups. Loaded from a CSV data file (common/data/
 * catalogue.csv by default) with the header
 *     record,form,code,parent,label
 * where record is one of group, manifestation, form, item, level,
 * respondent_group. See common/data/README.md for the format.
 */
#ifndef WARDSYNC_CATALOGUE_H
#define WARDSYNC_CATALOGUE_H

#include <stddef.h>

#define WS_CODE_MAX 64

struct ws_catalogue_item {
    int number;                      /* 1-based position in its form */
    char code[WS_CODE_MAX];          /* e.g. "L07" */
    char manifestation[WS_CODE_MAX]; /* manifestation code, e.g. "M03" */
    char group[WS_CODE_MAX];         /* content group code, e.g. "G1" */
    char *label;                     /* owned by the catalogue */
};

struct ws_catalogue_form {
    char code[WS_CODE_MAX]; /* "leadership" or "staff" */
    char *label;
    size_t n_items;
    struct ws_catalogue_item *items; /* items[i] answers levels[i] */
};

struct ws_catalogue_entry {
    char code[WS_CODE_MAX];
    char parent[WS_CODE_MAX]; /* group of a manifestation, else "" */
    char *label;
};

struct ws_catalogue {
    size_t n_forms;
    struct ws_catalogue_form *forms;
    size_t n_groups;
    struct ws_catalogue_entry *groups;
    size_t n_manifestations;
    struct ws_catalogue_entry *manifestations;
    size_t n_levels; /* 3: codes "1", "2", "3" */
    struct ws_catalogue_entry *levels;
    size_t n_respondent_groups; /* 4: codes "1".."4" */
    struct ws_catalogue_entry *respondent_groups;
};

/* Loads and checks a catalogue file: every item names a known
 * manifestation, every manifestation a known group, items of a form are
 * numbered 1..n without gaps, there are at least one form, exactly 3 levels
 * and at least one respondent group. Returns 0 and a new catalogue in *out,
 * or a negative errno with "file:line: reason" in err. */
int ws_catalogue_load(const char *path, struct ws_catalogue **out, char *err,
                      size_t errlen);

/* Frees the catalogue and sets *cat to NULL; NULL-safe. */
void ws_catalogue_destroy(struct ws_catalogue **cat);

/* The form with this code, or NULL. */
const struct ws_catalogue_form *
ws_catalogue_form(const struct ws_catalogue *cat, const char *code);

/* Writes the path of the default catalogue into out: $WARDSYNC_CATALOGUE
 * if set and not empty, else catalogue.csv in the data folder (paths.h:
 * share/wardsync under the install prefix, or $WARDSYNC_DATA_DIR).
 * Returns 0 or a negative errno (-ENAMETOOLONG). */
int ws_catalogue_default_path(char *out, size_t outlen);

#endif
