/*
 * import.h - CSV files into the outbox (docs/contracts.md, "CSV files a ward
 * imports").
 *
 * Every row is parsed and checked with the shared rules (ws_validate_event);
 * each bad row is reported as "FILE:LINE:COLUMN: reason". A file is queued
 * whole, in one outbox transaction, or not at all.
 */
#ifndef WARD_AGENT_IMPORT_H
#define WARD_AGENT_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct outbox;
struct ws_catalogue;
struct agent_settings;

enum import_kind {
    IMPORT_BALLOTS = 0,
    IMPORT_PETITIONS,
    IMPORT_RECEPTION,
    IMPORT_REMEDIATION,
};

/* Returned by import_file when the file was refused for bad input. */
#define IMPORT_REFUSED 1

/* Default number of error lines printed before "... N more". */
#define IMPORT_MAX_REPORTED 100

/* "ballots", "petitions", "reception", "remediation" <-> enum; parse
 * returns -1 for anything else. */
const char *import_kind_name(enum import_kind kind);
int import_kind_parse(const char *name);

/* The kind a drop-folder file name starts with ("ballots-2023.csv" ->
 * IMPORT_BALLOTS), or -1. The name must also end in ".csv". */
int import_kind_from_filename(const char *name);

struct import_result {
    size_t rows; /* data rows read */
    size_t bad_rows;
    size_t errors; /* error lines, printed or not */
    size_t queued;
    uint64_t first_seq; /* seqs given, when queued > 0 */
    uint64_t last_seq;
};

/* Imports path as kind into outbox. Error lines name the file as label
 * (path when NULL) and go to report, at most max_reported of them followed
 * by a count of the rest. Returns 0 when every row was queued,
 * IMPORT_REFUSED when the file holds bad input (nothing queued), or a
 * negative errno for an I/O or database error (logged; nothing queued).
 * source, when not NULL, is recorded with the events (outbox_append). */
struct outbox_source;
int import_file(struct outbox *outbox, const struct ws_catalogue *cat,
                enum import_kind kind, const char *path, const char *label,
                const struct outbox_source *source, FILE *report,
                size_t max_reported, struct import_result *result);

/* "ward-agent import KIND FILE": opens the outbox (creating it), imports,
 * prints "queued N KIND events from FILE (seq A..B)". Returns an exit
 * code (settings.h). */
int import_command(const struct agent_settings *settings, enum import_kind kind,
                   const char *path);

#endif
