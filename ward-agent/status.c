/*
 * status.c - "ward-agent status [--format table|json]".
 *
 * The JSON object has exactly the keys of docs/contracts.md:
 * ward, agent_instance, queued, delivered, rejected, last_contact_ms (null
 * when the hub never answered) and last_seq.
 */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "outbox.h"
#include "settings.h"
#include "wardsync/log.h"

#define REJECTED_SHOWN 20

static void print_rejected(uint64_t seq, const char *kind, const char *reason,
                           void *arg)
{
    (void)arg;
    printf("  %10llu  %-11s  %s\n", (unsigned long long)seq, kind, reason);
}

static int print_json(struct outbox *outbox, const struct outbox_counts *c)
{
    json_t *obj = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:o, s:I}", "ward", outbox_ward(outbox),
        "agent_instance", outbox_agent_instance(outbox), "queued",
        (json_int_t)c->queued, "delivered", (json_int_t)c->delivered,
        "rejected", (json_int_t)c->rejected, "last_contact_ms",
        c->last_contact_ms < 0 ? json_null() : json_integer(c->last_contact_ms),
        "last_seq", (json_int_t)c->last_seq);
    if (!obj) {
        ws_error("agent", "could not build status JSON");
        return -ENOMEM;
    }
    int rc = json_dumpf(obj, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (rc < 0)
        return -EIO;
    putchar('\n');
    return 0;
}

static void format_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) ||
        strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, cap, "%lld ms", (long long)ms);
}

static int print_table(struct outbox *outbox, const struct outbox_counts *c)
{
    char when[64];
    printf("ward            %s\n", outbox_ward(outbox));
    printf("agent_instance  %s\n", outbox_agent_instance(outbox));
    printf("queued          %llu\n", (unsigned long long)c->queued);
    printf("delivered       %llu\n", (unsigned long long)c->delivered);
    printf("rejected        %llu\n", (unsigned long long)c->rejected);
    printf("last seq        %llu\n", (unsigned long long)c->last_seq);
    printf("hub mark        %llu\n", (unsigned long long)c->hub_mark);
    if (c->last_contact_ms < 0) {
        printf("last contact    never\n");
    } else {
        format_time(c->last_contact_ms, when, sizeof(when));
        printf("last contact    %s\n", when);
    }
    if (c->rejected > 0) {
        printf("\nrejected by the hub (last %d, newest first):\n",
               REJECTED_SHOWN);
        printf("  %10s  %-11s  %s\n", "seq", "kind", "reason");
        return outbox_list_rejected(outbox, REJECTED_SHOWN, print_rejected,
                                    NULL);
    }
    return 0;
}

int status_command(const struct agent_settings *settings,
                   enum status_format format)
{
    struct outbox *outbox = NULL;
    struct outbox_counts counts;
    int code = EXIT_IO;

    int rc = outbox_open(settings->outbox_path, settings->ward, false, &outbox);
    if (rc < 0)
        return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
    if (outbox_get_counts(outbox, &counts) < 0)
        goto close;
    rc = format == STATUS_JSON ? print_json(outbox, &counts)
                               : print_table(outbox, &counts);
    if (rc == 0 && fflush(stdout) == 0)
        code = EXIT_OK;

close:
    outbox_close(&outbox);
    return code;
}
