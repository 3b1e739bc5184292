/*
 * store.h - the hub's PostgreSQL store: the only module that speaks libpq.
 *
 * Every statement is either a constant (BEGIN, COMMIT, SAVEPOINT, the COPY
 * of the ingest stage) or a prepared statement with parameters; no SQL text is
 * ever built from input (the COPY data is escaped, parameters are bound).
 * Statements are prepared on first use, once per connection.
 *
 * Errors: functions return 0 or a negative errno, with the reason in the
 * caller's err buffer. -EIO means the connection is unusable (lost, or a
 * transaction failed outside a savepoint): the caller closes the store and
 * reconnects; nothing of an uncommitted batch has been acknowledged.
 */
#ifndef DISTRICT_HUB_STORE_H
#define DISTRICT_HUB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wardsync/catalogue.h"
#include "wardsync/codec.h"

struct store;

/* Connects with a libpq conninfo string. Returns 0 and a new store in *out,
 * or -EIO with libpq's reason in err (the failed connection is finished). */
int store_open(const char *conninfo, struct store **out, char *err,
               size_t errlen);

/* Closes the connection and frees the store; sets *st to NULL; NULL-safe. */
void store_close(struct store **st);

/* ---- ingest (ingest.c) ---- */

/* Sets *kind to "ward", "district" or "city" (static strings) for a known
 * org unit, or to NULL when code is unknown. */
int store_org_unit_kind(struct store *st, const char *code, const char **kind,
                        char *err, size_t errlen);

/* What became of one event that was not simply accepted. */
struct store_outcome {
    uint64_t seq;
    int code; /* WARDSYNC__V1__OUTCOME__CODE__CODE_* */
    char reason[256];
};

struct store_batch_result {
    bool gap;                   /* nothing stored: first seq > mark + 1 */
    char error[256];            /* whole batch refused (gap, bad seqs) */
    uint64_t committed_through; /* the agent's mark after the call */
    size_t accepted, duplicates, conflicts, rejected;
    size_t n_outcomes;
    struct store_outcome *outcomes; /* malloc'd; store_batch_result_clear */
};

/* One batch of a group commit: the sender's ward (from its User-Id, an
 * already checked code), the decoded batch (its agent_instance already
 * checked), and reject_reason: NULL, or a reason every event above the
 * mark is stored in rejected_events with instead (a batch whose content
 * claims another ward than the authenticated sender). result is filled by
 * store_commit_group. */
struct store_group_batch {
    const char *ward;
    const Wardsync__V1__Batch *batch;
    const char *reject_reason;
    struct store_batch_result result;
};

/* Group commit (DESIGN §4): writes every batch of group in one
 * transaction. Each batch's agent row is locked; a batch that starts above
 * its agent's mark plus one is a gap, and one whose seqs are not
 * consecutive is refused: nothing of either is stored (result->error,
 * result->gap). Events at or below the mark are answered again (their
 * first rejection or conflict, else duplicate). The rest are validated
 * with the shared rules and stored in events and their typed tables, or
 * in rejected_events with the reason (validation failure, event_id
 * conflict, or a row the database refused); then the marks move and the
 * transaction COMMITs. Batches of one agent are taken in the order given.
 * Returns 0 once committed, with every result filled
 * (result->committed_through is the batch's mark after the commit), or
 * -EIO (connection unusable, nothing committed: no ack may be sent) or
 * -ENOMEM. The caller clears each result with store_batch_result_clear. */
int store_commit_group(struct store *st, struct store_group_batch *group,
                       size_t n, const struct ws_catalogue *cat, char *err,
                       size_t errlen);

void store_batch_result_clear(struct store_batch_result *result);

/* ---- indicators (indicators.c) ---- */

/* One count of one indicator for one org unit row of the report. */
struct store_indicator_row {
    char code[64];     /* indicator code */
    char org_unit[80]; /* ward code, "<district>-office" or "<district>" */
    char name[256];    /* Vietnamese name of the unit (UTF-8) */
    char kind[16];     /* ward, office or rollup */
    int64_t count;
};

/* Counts every count indicator for every ward, every district's own office
 * and every district rolled up over its office and wards, over the dates
 * [from, to) ("YYYY-MM-DD"; NULL means unbounded). Sorted by indicator,
 * then wards by code, the office, the rollup. *rows is malloc'd (free()). */
int store_indicator_counts(struct store *st, const char *from, const char *to,
                           struct store_indicator_row **rows, size_t *n,
                           char *err, size_t errlen);

#endif
