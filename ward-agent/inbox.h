/*
 * inbox.h - the drop folder: home/inbox/ -> home/done/ or home/rejected/.
 *
 * A file named "<kind>*.csv" or "<kind>*.xlsx" (ballots, petitions,
 * reception, remediation, inspections, rotations), the kind in English or
 * Vietnamese, any case, with or without diacritics
 * (import_kind_from_filename), is imported through import.c, then moved to
 * done/, or to rejected/ with FILE.report.txt beside it (UTF-8 with a BOM,
 * in the language of messages), written for the clerk: what was wrong,
 * where (FILE:LINE:COLUMN), and what to do next.
 *
 * A file is taken only once it is settled (docs/DESIGN.md §6, "Drop
 * folder"): its size and modification time have not changed for settle_ms
 * (seen by this inbox's earlier scans), and no process holds it open for
 * writing (writers.h: /proc/PID/fd). Names starting with '.' or ending in
 * ".tmp" are files still being written and are left alone whatever their
 * age (writers may write to such a name and rename when done). Any other
 * name goes to rejected/ with a report saying why.
 */
#ifndef WARD_AGENT_INBOX_H
#define WARD_AGENT_INBOX_H

#include <stddef.h>
#include <stdint.h>

struct outbox;
struct ws_catalogue;
struct inbox;

struct inbox_scan_result {
    size_t imported; /* files moved to done/ */
    size_t rejected; /* files moved to rejected/ */
    size_t waiting;  /* files left in the inbox (being written, not settled
                        yet, or an import that failed on I/O and will be
                        retried) */
};

/* A watcher of home/inbox that takes files settled for settle_ms (0: as
 * soon as no process writes them). Returns 0 and *out, or -ENOMEM. */
int inbox_new(const char *home, int64_t settle_ms, struct inbox **out);

/* Frees the watcher and sets *inbox to NULL; NULL-safe. */
void inbox_destroy(struct inbox **inbox);

/* Scans the inbox once and handles every settled file in it. Returns 0,
 * or a negative errno when the inbox cannot be read (logged,
 * rate-limited). */
int inbox_scan(struct inbox *inbox, struct outbox *outbox,
               const struct ws_catalogue *cat,
               struct inbox_scan_result *result);

#endif
