/*
 * outbox.h - the ward agent's durable outbox (SQLite, WAL, synchronous=FULL).
 *
 * The outbox gives every event a sequence number 1, 2, 3, ... without gaps
 * and keeps it until the hub has acknowledged it (DESIGN §4). An event is
 * "queued" only once the transaction that inserted it has committed; an
 * import either queues all of its events or none.
 *
 * Every function that acts returns 0 or a negative errno; the SQLite detail
 * goes to the log (module "outbox"). Nothing here is thread-safe: one outbox
 * handle belongs to one thread.
 */
#ifndef WARD_AGENT_OUTBOX_H
#define WARD_AGENT_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wardsync/util.h"

struct outbox;

/* One event ready to enter the outbox. body is the packed
 * wardsync.v1.Event with seq left at 0 (so the field is absent from the
 * encoding); the outbox assigns the seq. line is the line of the file the
 * event came from (0: none); it stays in the outbox, with the import, and
 * is never sent; so is withdraws, the import a Withdrawal event takes
 * back (0: none). The caller keeps ownership. */
struct outbox_new_event {
    const char *kind; /* "ballot", "petition", "reception", "remediation",
                         "withdrawal" */
    char event_id[WS_UUID_LEN + 1];
    int64_t queued_at_ms;
    uint8_t *body;
    size_t body_len;
    long line;
    int64_t withdraws;
};

/* Identity of a drop-folder file, recorded in the same transaction as its
 * events so that a crash between the commit and the move to done/ does not
 * queue the file twice. */
struct outbox_source {
    const char *name;
    int64_t size;
    int64_t mtime_ns;
    uint64_t inode;
};

#define OUTBOX_FINGERPRINT_LEN 32

/* One import as recorded with its events: the file the clerk named, its
 * kind ("ballots", ...), the drop-folder identity (NULL for "ward-agent
 * import"), the SHA-256 of its normalised content (fingerprint.h) and its
 * data rows. Strings are the caller's. */
struct outbox_import {
    const char *name;
    const char *kind;
    const struct outbox_source *source;
    uint8_t fingerprint[OUTBOX_FINGERPRINT_LEN];
    uint64_t rows;
};

/* One recorded import as read back (outbox_list_imports). Strings are
 * valid during the callback only. queued/delivered/rejected count its
 * events by state now (only when asked for). */
struct outbox_import_info {
    int64_t id;
    const char *name;
    const char *kind; /* "" for imports recorded before schema 2 */
    uint64_t rows;    /* data rows of the file */
    uint64_t events;  /* events queued from it (rows less the skipped) */
    uint64_t first_seq, last_seq; /* when events > 0 */
    int64_t imported_at_ms;
    bool has_fingerprint; /* false before schema 2 */
    uint8_t fingerprint[OUTBOX_FINGERPRINT_LEN];
    uint64_t queued, delivered, rejected;
    /* Taken back by "ward-agent withdraw": when (0: not withdrawn) and
     * why; the Withdrawal events queued for it, and of those the ones
     * still queued and the ones the hub rejected (only when asked for
     * the states). */
    int64_t withdrawn_at_ms;
    const char *withdraw_reason;
    uint64_t withdrawals, withdrawals_queued, withdrawals_rejected;
};

/* One stored event as read back for sending: payload is the packed Event
 * including its seq, malloc'd, owned by the array (outbox_rows_free). */
struct outbox_row {
    uint64_t seq;
    uint8_t *payload;
    size_t payload_len;
};

struct outbox_counts {
    uint64_t queued;
    uint64_t delivered;
    uint64_t rejected;
    uint64_t last_seq;       /* 0 when nothing was ever queued */
    uint64_t hub_mark;       /* highest seq the hub said it committed */
    int64_t last_contact_ms; /* -1 when the hub never answered */
};

/* One acknowledged event the hub refused (REJECTED or CONFLICT). */
struct outbox_refusal {
    uint64_t seq;
    const char *reason;
};

/* Opens the outbox at path. When create is true a missing database is
 * created with a new random agent_instance for ward; otherwise a missing
 * file is -ENOENT. The file is made readable and writable by its owner
 * only (0600; SQLite gives its -wal and -shm files the same mode). An
 * outbox of an older schema is migrated forward in one transaction that
 * keeps every event. ward may be NULL or empty to accept the stored ward; when
 * given it must match the stored one (-EINVAL otherwise). Returns 0 and a
 * new handle in *out. */
int outbox_open(const char *path, const char *ward, bool create,
                struct outbox **out);

/* Closes the database and sets *outbox to NULL; NULL-safe. */
void outbox_close(struct outbox **outbox);

/* The outbox's random id and ward; valid while the outbox is open. */
const char *outbox_agent_instance(const struct outbox *outbox);
const char *outbox_ward(const struct outbox *outbox);

/* Queues n events in one transaction, giving them the seqs next_seq ..
 * next_seq + n - 1 in array order, and records import (when not NULL) with
 * them. On success sets *first_seq and *last_seq (when non-NULL) and
 * returns 0; on any error nothing is queued. */
int outbox_append(struct outbox *outbox, const struct outbox_new_event *events,
                  size_t n, const struct outbox_import *import,
                  uint64_t *first_seq, uint64_t *last_seq);

/* The same, one event at a time, for files too large to hold in memory:
 * outbox_append_begin opens the transaction, records import (when not
 * NULL) and reserves the seqs from outbox_appender_first();
 * outbox_append_put queues one event under a seq of the caller's choosing
 * (each of first .. first + n - 1 exactly once, in any order);
 * outbox_append_commit moves next_seq past them, notes n as the import's
 * events and commits; outbox_append_abort rolls back. Commit and abort
 * free the appender and set it to NULL. Until the commit returns 0,
 * nothing is queued. Return 0 or a negative errno. */
struct outbox_appender;
int outbox_append_begin(struct outbox *outbox,
                        const struct outbox_import *import,
                        struct outbox_appender **out);
uint64_t outbox_appender_first(const struct outbox_appender *a);
int outbox_append_put(struct outbox_appender *a,
                      const struct outbox_new_event *ev, uint64_t seq);
int outbox_append_commit(struct outbox_appender **a, size_t n);
void outbox_append_abort(struct outbox_appender **a);

/* Natural keys (docs/DESIGN.md §6): within the open transaction, claims
 * key (opaque bytes, unique per kind) for the row whose hash is row_hash,
 * to be queued as seq. When the key was already claimed by an event with
 * the same row hash that the hub did not reject, of an import not
 * withdrawn, sets *repeated and changes nothing (the row is a no-op);
 * otherwise the key now points at
 * seq (a first sighting, or a correction of the row) and *repeated is
 * false. *earlier_seq is the seq the key pointed at before (0: none).
 * Rolled back with the rest by outbox_append_abort. */
int outbox_append_claim(struct outbox_appender *a, const char *kind,
                        const void *key, size_t key_len,
                        const uint8_t row_hash[OUTBOX_FINGERPRINT_LEN],
                        uint64_t seq, bool *repeated, uint64_t *earlier_seq);

/* What "ward-agent withdraw" needs of one import, read inside the open
 * transaction of an appender (outbox_append_begin without an import):
 * its name, when it was withdrawn (0: never), how many of its events the
 * hub rejected, and the event_id of every other event of it (delivered or
 * still queued), in seq order. ids and name are malloc'd
 * (outbox_import_events_free). */
struct outbox_import_events {
    char *name;
    int64_t withdrawn_at_ms;
    uint64_t rejected;
    char (*ids)[WS_UUID_LEN + 1];
    size_t n_ids;
};

/* Fills *out for import import_id; -ENOENT when there is no such import
 * (nothing to free then). */
int outbox_append_import_events(struct outbox_appender *a, int64_t import_id,
                                struct outbox_import_events *out);
void outbox_import_events_free(struct outbox_import_events *e);

/* Within the open transaction, records import_id as withdrawn now, with
 * reason (may be NULL). -ENOENT when it does not exist or is withdrawn
 * already. Rolled back with the rest by outbox_append_abort. */
int outbox_append_mark_withdrawn(struct outbox_appender *a, int64_t import_id,
                                 const char *reason);

/* Sets *imported to whether a file with this identity was already queued
 * (source given to outbox_append). */
int outbox_source_imported(struct outbox *outbox,
                           const struct outbox_source *source, bool *imported);

/* Calls fn for every recorded import, oldest first, with the counts of
 * its events by state when with_states (a scan of the events: for
 * "ward-agent imports", not for every file). kind, when not NULL, keeps
 * only imports of that kind. Returns 0 or a negative errno. */
typedef void (*outbox_import_fn)(const struct outbox_import_info *info,
                                 void *arg);
int outbox_list_imports(struct outbox *outbox, const char *kind,
                        bool with_states, outbox_import_fn fn, void *arg);

/* Reads up to max_events events with seq >= from_seq in seq order, whatever
 * their state (a hub that lost its mark is answered by going back N), and
 * stops before the total payload would pass max_bytes (but always returns
 * at least one event when there is one). Sets *rows (free with
 * outbox_rows_free) and *n_rows. */
int outbox_read(struct outbox *outbox, uint64_t from_seq, size_t max_events,
                size_t max_bytes, struct outbox_row **rows, size_t *n_rows);

void outbox_rows_free(struct outbox_row **rows, size_t n_rows);

/* Records an acknowledgement in one transaction: the refused events become
 * "rejected" with their reason, every other queued event with seq <=
 * committed_through becomes "delivered", the hub mark becomes
 * committed_through and last contact now_ms. Refusals above
 * committed_through are ignored. */
int outbox_apply_ack(struct outbox *outbox, uint64_t committed_through,
                     const struct outbox_refusal *refusals, size_t n_refusals,
                     int64_t now_ms);

/* Records that the hub answered without committing anything new (retry
 * later, gap): only last_contact_ms and the hub mark change. */
int outbox_touch(struct outbox *outbox, uint64_t hub_mark, int64_t now_ms);

int outbox_get_counts(struct outbox *outbox, struct outbox_counts *counts);

/* Number of queued events with seq > after_seq. Counts rows: for status,
 * not for every batch (see outbox_last_seq). */
int outbox_count_queued_after(struct outbox *outbox, uint64_t after_seq,
                              uint64_t *count);

/* Sets *last_seq to the highest seq ever queued (0 when none), committed
 * by this or another process. Reads the one row of meta, so it costs the
 * same whatever the size of the outbox: the sync loop calls it on every
 * batch and every ack. */
int outbox_last_seq(struct outbox *outbox, uint64_t *last_seq);

/* One event the hub rejected, with where it came from: file is the name
 * of its import ("" when it has none, e.g. queued before schema 2; for a
 * Withdrawal, the import it takes back) and line its line there (0:
 * unknown). Valid during the callback only. */
struct outbox_rejected_event {
    uint64_t seq;
    const char *kind;
    const char *reason;
    const char *file;
    long line;
    int64_t import_id; /* 0: none */
};

/* Calls fn for the last (up to limit) rejected events, newest first. */
typedef void (*outbox_rejected_fn)(const struct outbox_rejected_event *ev,
                                   void *arg);
int outbox_list_rejected(struct outbox *outbox, size_t limit,
                         outbox_rejected_fn fn, void *arg);

/* The reference data the hub sent last (docs/DESIGN.md §4): its version,
 * when it came, and when the hub last said it was current (a request
 * answered "unchanged"). present is false when none ever came. */
struct outbox_reference_info {
    bool present;
    char version[80];
    int64_t received_at_ms;
    int64_t checked_at_ms;
};

/* Keeps payload (a packed wardsync.v1.Reference of version) as the
 * reference data, received and checked now, in place of any earlier. */
int outbox_reference_store(struct outbox *outbox, const char *version,
                           const uint8_t *payload, size_t len, int64_t now_ms);

/* The hub said version is still current: sets its checked time to now
 * (nothing when the stored version is another). */
int outbox_reference_checked(struct outbox *outbox, const char *version,
                             int64_t now_ms);

/* Reads the stored reference into *info and, when payload is not NULL,
 * a malloc'd copy of its packed message into *payload and *len (the
 * caller frees it; NULL when none is stored). Returns 0 (also when none
 * is stored: info->present is false) or a negative errno. */
int outbox_reference_load(struct outbox *outbox,
                          struct outbox_reference_info *info, uint8_t **payload,
                          size_t *len);

#endif
