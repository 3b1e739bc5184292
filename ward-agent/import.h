/*
 * import.h - CSV files into the outbox (docs/contracts.md, "CSV files a ward
 * imports").
 *
 * Files come as Excel writes them (table.h): CSV in UTF-8 or UTF-16 with
 * ",", ";" or tab, or an .xlsx workbook's first sheet. Header names are
 * English or Vietnamese, in any case (ws_fold); empty cells after the
 * header's last column, and rows of empty cells, are ignored; enum values
 * may be Vietnamese (names.h). Messages are translated (i18n.h).
 *
 * Every row is parsed and checked with the shared rules (ws_validate_event)
 * and, for ballots, against the reference data from the hub held in the
 * outbox (reference.h: the round covers the ward and is open, the day is
 * within its dates, the subject is the ward's, the form is the subject's),
 * offline too; without reference data the shared rules alone decide
 * (result no_reference). Each bad row is reported as
 * "FILE:LINE:COLUMN: reason". A file is queued whole, in one outbox
 * transaction, or not at all.
 *
 * Nothing is counted twice because a person repeated a step (docs/DESIGN.md
 * §6): a file with the same normalised content as an earlier import
 * (fingerprint.h) is refused, naming that import; a file whose first rows
 * are exactly an earlier import of the same kind queues only the rows
 * after them; a petitions, reception, remediation, inspections or rotations
 * row whose natural key (petition + status + changed_on; session; survey +
 * subject + status + changed_on; inspection; cadre + post + unit + kind +
 * effective_on) was already queued with the same content is a no-op. Each
 * event remembers its import and line (outbox.h), for "ward-agent status".
 */
#ifndef WARD_AGENT_IMPORT_H
#define WARD_AGENT_IMPORT_H

#include <stdbool.h>
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
    IMPORT_INSPECTIONS,
    IMPORT_ROTATIONS,
};

/* Returned by import_file when the file was refused for bad input. */
#define IMPORT_REFUSED 1

/* Default number of error lines printed before "... N more". */
#define IMPORT_MAX_REPORTED 100

/* "ballots", "petitions", "reception", "remediation", "inspections",
 * "rotations" <-> enum; parse also takes them in any case and the
 * Vietnamese kind names of import_kind_from_filename as whole words
 * ("don-thu", "Tiếp công dân"), and returns -1 for anything else. */
const char *import_kind_name(enum import_kind kind);
int import_kind_parse(const char *name);

/* The kind a drop-folder file name starts with, or -1: the English kind
 * name or a Vietnamese one (phieu, don-thu, tiep-cong-dan, khac-phuc,
 * ke-hoach-khac-phuc), compared without case, diacritics, blanks, "-",
 * "_" and "." ("ballots-2023.csv", "Tiếp công dân tháng 10.csv",
 * "reception.CSV"). The name must end in ".csv" or ".xlsx", any case. */
int import_kind_from_filename(const char *name);

/* Number of columns of kind, and the name of column i: the English one,
 * or when vi the Vietnamese one a template writes. NULL past the end. */
size_t import_column_count(enum import_kind kind);
const char *import_column_name(enum import_kind kind, size_t column, bool vi);

/* Rows between two progress lines: on a terminal, and in the log. */
#define IMPORT_PROGRESS_TERMINAL 10000
#define IMPORT_PROGRESS_LOG 100000

struct outbox_source;

struct import_options {
    const char *label; /* the file's name in messages and in the imports
                          list; the path when NULL */
    const struct outbox_source *source; /* drop-folder identity, or NULL */
    FILE *report;                       /* error lines */
    size_t max_reported; /* error lines printed before "... N more" */
    bool again;          /* import even a file identical to, or starting
                            with, an earlier import (a real second batch);
                            natural keys still apply */
    size_t log_every;    /* rows between progress log lines; 0: the
                            default IMPORT_PROGRESS_LOG */
};

struct import_result {
    size_t rows; /* data rows read */
    size_t bad_rows;
    size_t errors; /* error lines, printed or not */
    size_t queued;
    uint64_t first_seq; /* seqs given, when queued > 0 */
    uint64_t last_seq;
    /* Rows not queued because they were queued before: the first
     * `already_imported` rows are exactly import `earlier_import`, and
     * `repeated` rows had a natural key already queued with the same
     * content. identical: the whole file is earlier_import (refused). */
    size_t already_imported;
    size_t repeated;
    int64_t earlier_import;
    bool identical;
    /* No reference data from the hub was held: ballots were checked with
     * the shared rules only. */
    bool no_reference;
    /* One sentence for the clerk about the rows not queued, or "". */
    char note[512];
};

/* Imports path as kind into outbox. Error lines name the file as
 * options->label and go to options->report, at most max_reported of them
 * followed by a count of the rest. Returns 0 when every new row was queued
 * (result says how many were already queued before), IMPORT_REFUSED when
 * the file holds bad input or is identical to an earlier import (nothing
 * queued; the reason is in the report), or a negative errno for an I/O or
 * database error (logged; nothing queued). The import is recorded with
 * its events (outbox_append_begin). */
int import_file(struct outbox *outbox, const struct ws_catalogue *cat,
                enum import_kind kind, const char *path,
                const struct import_options *options,
                struct import_result *result);

/* "ward-agent import [--again] KIND FILE": opens the outbox (creating it),
 * imports, prints "queued N KIND events from FILE (seq A..B)" and what
 * was not queued because it was before. Returns an exit code
 * (settings.h). */
int import_command(const struct agent_settings *settings, enum import_kind kind,
                   const char *path, bool again);

#endif
