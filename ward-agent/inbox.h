/*
 * inbox.h - the drop folder: home/inbox/ -> home/done/ or home/rejected/.
 *
 * A file named "<kind>*.csv" (ballots, petitions, reception, remediation) is
 * imported through import.c, then moved to done/, or to rejected/ with
 * FILE.report.txt beside it holding the error lines. Names starting with
 * '.' or ending in ".tmp" are files still being written and are left alone
 * (writers should write to such a name and rename when done). Any other
 * name goes to rejected/ with a report saying why.
 */
#ifndef WARD_AGENT_INBOX_H
#define WARD_AGENT_INBOX_H

#include <stddef.h>

struct outbox;
struct ws_catalogue;

struct inbox_scan_result {
    size_t imported; /* files moved to done/ */
    size_t rejected; /* files moved to rejected/ */
    size_t waiting;  /* files left in the inbox (being written, or an
                        import that failed on I/O and will be retried) */
};

/* Scans home/inbox once and handles every file in it. Returns 0, or a
 * negative errno when the inbox cannot be read (logged, rate-limited). */
int inbox_scan(const char *home, struct outbox *outbox,
               const struct ws_catalogue *cat,
               struct inbox_scan_result *result);

#endif
