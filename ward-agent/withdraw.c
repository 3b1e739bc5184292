/*
 * withdraw.c - "ward-agent withdraw": a Withdrawal of every event of one
 * import, queued like any event.
 *
 * The events to name are read from the outbox (events.import_id) in the
 * same transaction that queues the Withdrawals and marks the import, so a
 * concurrent "ward-agent run" that records an acknowledgement waits for
 * it (BEGIN IMMEDIATE) and nothing is named twice or missed. Events the
 * hub rejected are left out: they never counted. Events still queued are
 * named: they reach the hub before the Withdrawal (lower seqs); one of
 * them the hub rejects meanwhile is a no-op there.
 */
#include "withdraw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbox.h"
#include "settings.h"
#include "wardsync/codec.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

/* Packs one Withdrawal of ids[0 .. n-1] into ev (body malloc'd). */
static int make_withdrawal(char (*ids)[WS_UUID_LEN + 1], size_t n,
                           const char *reason, struct outbox_new_event *ev,
                           char *err, size_t errlen)
{
    Wardsync__V1__Event event = WARDSYNC__V1__EVENT__INIT;
    Wardsync__V1__Withdrawal body = WARDSYNC__V1__WITHDRAWAL__INIT;
    char **pointers = calloc(n, sizeof(*pointers));
    int rc;

    memset(ev, 0, sizeof(*ev));
    if (!pointers)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        pointers[i] = ids[i];
    if ((rc = ws_uuid4(ev->event_id)) < 0)
        goto free_pointers;
    body.event_ids = pointers;
    body.n_event_ids = n;
    body.reason = (char *)(reason ? reason : "");
    event.event_id = ev->event_id;
    event.occurred_at_ms = event.queued_at_ms = ws_now_ms();
    event.body_case = WARDSYNC__V1__EVENT__BODY_WITHDRAWAL;
    event.withdrawal = &body;
    /* Validation wants a real seq; the outbox assigns the final one. */
    event.seq = 1;
    if (ws_validate_event(&event, NULL, err, errlen) < 0) {
        rc = -EINVAL;
        goto free_pointers;
    }
    event.seq = 0;
    if ((rc = ws_pack(&event.base, &ev->body, &ev->body_len)) < 0)
        goto free_pointers;
    ev->kind = "withdrawal";
    ev->queued_at_ms = event.queued_at_ms;

free_pointers:
    free(pointers);
    return rc;
}

int withdraw_import(struct outbox *outbox, int64_t import_id,
                    const char *reason, struct withdraw_result *result,
                    char *err, size_t errlen)
{
    struct outbox_appender *a = NULL;
    struct outbox_import_events target;
    int rc;

    memset(result, 0, sizeof(*result));
    result->import_id = import_id;
    err[0] = '\0';
    /* The reason is checked even when nothing is sent (it is kept). */
    if (reason && (strlen(reason) > WS_NOTE_MAX ||
                   !ws_utf8_valid(reason, strlen(reason)))) {
        if (strlen(reason) > WS_NOTE_MAX)
            snprintf(err, errlen, "--reason: longer than %d bytes",
                     WS_NOTE_MAX);
        else
            snprintf(err, errlen, "--reason: not valid UTF-8");
        return -EINVAL;
    }
    if ((rc = outbox_append_begin(outbox, NULL, &a)) < 0)
        return rc;
    if ((rc = outbox_append_import_events(a, import_id, &target)) < 0) {
        outbox_append_abort(&a);
        return rc;
    }
    ws_strlcpy(result->name, target.name, sizeof(result->name));
    result->rejected = target.rejected;
    if (target.withdrawn_at_ms) {
        result->already = true;
        result->withdrawn_at_ms = target.withdrawn_at_ms;
        outbox_import_events_free(&target);
        outbox_append_abort(&a);
        return 0;
    }

    uint64_t first = outbox_appender_first(a);
    size_t n = 0;
    for (size_t at = 0; at < target.n_ids; at += WS_WITHDRAWAL_MAX_IDS) {
        size_t count = target.n_ids - at < WS_WITHDRAWAL_MAX_IDS
                           ? target.n_ids - at
                           : WS_WITHDRAWAL_MAX_IDS;
        struct outbox_new_event ev;
        rc = make_withdrawal(target.ids + at, count, reason, &ev, err, errlen);
        if (rc == 0) {
            ev.withdraws = import_id;
            rc = outbox_append_put(a, &ev, first + n);
        }
        free(ev.body);
        if (rc < 0)
            goto rollback;
        n++;
    }
    if ((rc = outbox_append_mark_withdrawn(a, import_id, reason)) < 0)
        goto rollback;
    result->events = target.n_ids;
    outbox_import_events_free(&target);
    if ((rc = outbox_append_commit(&a, n)) < 0)
        return rc;
    result->withdrawals = n;
    result->first_seq = first;
    result->last_seq = first + n - 1;
    result->withdrawn_at_ms = ws_now_ms();
    return 0;

rollback:
    outbox_import_events_free(&target);
    outbox_append_abort(&a);
    return rc;
}

static void format_day_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) ||
        strftime(buf, cap, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(buf, cap, "%lld ms", (long long)ms);
}

int withdraw_command(const struct agent_settings *settings, int64_t import_id,
                     const char *reason)
{
    struct outbox *outbox = NULL;
    struct withdraw_result result;
    char err[512], when[40];

    int rc = outbox_open(settings->outbox_path, settings->ward, false, &outbox);
    if (rc < 0)
        return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
    rc = withdraw_import(outbox, import_id, reason, &result, err, sizeof err);
    outbox_close(&outbox);
    if (rc == -ENOENT) {
        fprintf(stderr,
                "ward-agent: withdraw: no import %lld in this outbox (see "
                "\"ward-agent imports\"); nothing queued\n",
                (long long)import_id);
        return EXIT_BAD_INPUT;
    }
    if (rc == -EINVAL) {
        fprintf(stderr, "ward-agent: withdraw: %s; nothing queued\n", err);
        return EXIT_BAD_INPUT;
    }
    if (rc < 0) {
        fprintf(stderr,
                "ward-agent: withdraw of import %lld failed: %s; nothing "
                "queued\n",
                (long long)import_id, strerror(-rc));
        return EXIT_IO;
    }
    format_day_time(result.withdrawn_at_ms, when, sizeof when);
    if (result.already) {
        printf("import %lld (%s) was already withdrawn on %s: nothing "
               "queued\n",
               (long long)import_id, result.name, when);
        return EXIT_OK;
    }
    if (result.withdrawals == 0 && result.rejected == 0)
        printf("withdrew import %lld (%s): it queued no events, so nothing "
               "was queued\n",
               (long long)import_id, result.name);
    else if (result.withdrawals == 0)
        printf("withdrew import %lld (%s): the hub rejected all %llu of its "
               "events, none counts, so nothing was queued\n",
               (long long)import_id, result.name,
               (unsigned long long)result.rejected);
    else
        printf("withdrew import %lld (%s): queued %llu withdrawal%s of its "
               "%llu events (seq %llu..%llu); the hub takes them out of its "
               "figures when they are delivered\n",
               (long long)import_id, result.name,
               (unsigned long long)result.withdrawals,
               result.withdrawals == 1 ? "" : "s",
               (unsigned long long)result.events,
               (unsigned long long)result.first_seq,
               (unsigned long long)result.last_seq);
    if (result.withdrawals > 0 && result.rejected > 0)
        printf("import %lld: its %llu events the hub rejected are not named "
               "(they never counted)\n",
               (long long)import_id, (unsigned long long)result.rejected);
    ws_info("withdraw",
            "withdrew import import_id=%lld file=%s events=%llu "
            "rejected=%llu withdrawals=%llu",
            (long long)import_id, result.name,
            (unsigned long long)result.events,
            (unsigned long long)result.rejected,
            (unsigned long long)result.withdrawals);
    return EXIT_OK;
}
