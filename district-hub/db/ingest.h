/*
 * db/ingest.h - the writer: the hub's only code that stores events
 * (docs/DESIGN.md §4, §5).
 *
 * A group of batches from any number of agents is written in one
 * transaction, in four round trips whatever its size: BEGIN with the lock
 * of the agents' rows; one COPY of every new event into the session's
 * ingest_stage; ingest_apply() (the one writer, in SQL), the agents' new
 * marks and COMMIT, pipelined. Duplicates below a mark, gaps and events
 * that fail the shared validation are decided here in C; rules that need
 * the database (a ballot's round, subject and form; an event_id stored
 * before) are decided by ingest_apply() set-based, and a row the database
 * still refuses costs its own batch a few statements, never the group a
 * redo (sql/002_one_writer.sql); so is a Withdrawal naming events that are
 * not its ward's (sql/008_withdrawal.sql).
 */
#ifndef DISTRICT_HUB_DB_INGEST_H
#define DISTRICT_HUB_DB_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/conn.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"

/* What became of one event that was not simply accepted. */
struct db_ingest_outcome {
    uint64_t seq;
    int code; /* WARDSYNC__V1__OUTCOME__CODE__CODE_* */
    char reason[256];
};

struct db_ingest_result {
    bool gap;                   /* nothing stored: first seq > mark + 1 */
    char error[256];            /* whole batch refused (gap, bad seqs) */
    uint64_t committed_through; /* the agent's mark after the call */
    size_t accepted, duplicates, conflicts, rejected;
    size_t n_outcomes;
    struct db_ingest_outcome *outcomes; /* malloc'd; db_ingest_result_clear */
};

/* One batch of a group: the sender's ward (from its User-Id, an already
 * checked code), the decoded batch (its agent_instance already checked),
 * and reject_reason: NULL, or a reason every event above the mark is
 * stored in rejected_events with instead (a batch whose content claims
 * another ward than the authenticated sender). result is filled by
 * db_ingest_commit_group. */
struct db_ingest_batch {
    const char *ward;
    const Wardsync__V1__Batch *batch;
    const char *reject_reason;
    struct db_ingest_result result;
};

/* The writer's state on one session: the stage buffer, kept between
 * groups. Zero-initialise; db_ingest_writer_clear frees it. */
struct db_ingest_writer {
    char *stage;
    size_t stage_cap;
    const struct db *stage_session; /* the session whose stage exists */
    uint64_t stage_generation;
};

void db_ingest_writer_clear(struct db_ingest_writer *w);

/* Writes every batch of group in one transaction on db. Each batch's agent
 * row is locked; a batch that starts above its agent's mark plus one is a
 * gap, and one whose seqs are not consecutive is refused: nothing of
 * either is stored (result->error, result->gap). Events at or below the
 * mark are answered again (their first rejection or conflict, else
 * duplicate). The rest are validated with the shared rules and stored by
 * ingest_apply(), or stored in rejected_events with the reason; then the
 * marks move and the transaction commits. Batches of one agent are taken
 * in the order given. Returns 0 once committed, with every result filled,
 * or -EIO (nothing committed: no ack may be sent; db_ok tells whether the
 * session survived) or -ENOMEM. The caller clears each result with
 * db_ingest_result_clear. */
int db_ingest_commit_group(struct db *db, struct db_ingest_writer *w,
                           uint64_t generation, struct db_ingest_batch *group,
                           size_t n, const struct ws_catalogue *cat, char *err,
                           size_t errlen);

void db_ingest_result_clear(struct db_ingest_result *result);

/* Sets *kind to "ward", "district" or "city" (static strings) for a known
 * org unit, or to NULL when code is unknown. Returns 0 or -EIO. */
int db_ingest_unit_kind(struct db *db, const char *code, const char **kind,
                        char *err, size_t errlen);

#endif
