/*
 * withdraw.h - "ward-agent withdraw IMPORT_ID [--reason TEXT]": takes back
 * a wrong import (issue 11, docs/DESIGN.md §4, §6).
 */
#ifndef WARD_AGENT_WITHDRAW_H
#define WARD_AGENT_WITHDRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_settings;
struct outbox;

/* What withdraw_import did. */
struct withdraw_result {
    int64_t import_id;
    char name[1024];              /* the import's file name */
    int64_t withdrawn_at_ms;      /* when it was withdrawn, now or before */
    bool already;                 /* withdrawn before: nothing queued now */
    uint64_t events;              /* events named (the hub did not reject) */
    uint64_t rejected;            /* events of it the hub rejected: not named */
    uint64_t withdrawals;         /* Withdrawal events queued */
    uint64_t first_seq, last_seq; /* their seqs, when withdrawals > 0 */
};

/* In one outbox transaction: queues Withdrawal events naming every event
 * of import import_id that the hub did not reject (delivered or still
 * queued), at most WS_WITHDRAWAL_MAX_IDS per Withdrawal, each with reason
 * (NULL: none), and records the import as withdrawn. An import withdrawn
 * before is left as it is (result->already, returns 0, nothing queued);
 * one none of whose events can count (no events, or all rejected) is
 * recorded as withdrawn without queueing anything. Returns 0, -ENOENT
 * (no such import), -EINVAL (reason refused by the shared validation,
 * with the reason in err) or another negative errno; on any error nothing
 * changes. */
int withdraw_import(struct outbox *outbox, int64_t import_id,
                    const char *reason, struct withdraw_result *result,
                    char *err, size_t errlen);

/* The command: opens the outbox under settings->home, withdraws and says
 * what it did. Returns an exit code (settings.h): 0 also when the import
 * was withdrawn before (a no-op, said so), 1 when there is no such import
 * or the reason is refused. */
int withdraw_command(const struct agent_settings *settings, int64_t import_id,
                     const char *reason);

#endif
