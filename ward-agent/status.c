/*
 * status.c - "ward-agent status [--format table|json]".
 *
 * The JSON object has exactly the keys of docs/contracts.md:
 * ward, agent_instance, queued, delivered, rejected, last_contact_ms (null
 * when the hub never answered), last_seq and rejected_events (the last
 * REJECTED_SHOWN events the hub rejected, newest first, each with seq,
 * kind, file, line and reason: where the clerk finds the paper form) and
 * reference (null when no reference data came from the hub yet, else its
 * version, received_at_ms, checked_at_ms and age_s: seconds since the hub
 * last said it was current).
 */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "outbox.h"
#include "settings.h"
#include "wardsync/i18n.h"
#include "wardsync/log.h"
#include "wardsync/util.h"

#define REJECTED_SHOWN 20

/* "FILE:LINE" of a rejected event, or "-" when it came from no file. */
static void format_where(const struct outbox_rejected_event *ev, char *buf,
                         size_t cap)
{
    if (!ev->file[0])
        snprintf(buf, cap, "-");
    else if (ev->line > 0)
        snprintf(buf, cap, "%s:%ld", ev->file, ev->line);
    else
        snprintf(buf, cap, "%s", ev->file);
}

static void print_rejected(const struct outbox_rejected_event *ev, void *arg)
{
    char where[512];
    (void)arg;
    format_where(ev, where, sizeof(where));
    printf("  %10llu  %-11s  %-24s  %s\n", (unsigned long long)ev->seq,
           ev->kind, where, ev->reason);
}

struct rejected_json {
    json_t *array;
    int rc;
};

static void add_rejected(const struct outbox_rejected_event *ev, void *arg)
{
    struct rejected_json *out = arg;
    json_t *item = json_pack(
        "{s:I, s:s, s:o, s:o, s:s}", "seq", (json_int_t)ev->seq, "kind",
        ev->kind, "file", ev->file[0] ? json_string(ev->file) : json_null(),
        "line", ev->line > 0 ? json_integer(ev->line) : json_null(), "reason",
        ev->reason);
    if (!item || json_array_append_new(out->array, item) < 0)
        out->rc = -ENOMEM;
}

/* Seconds since the hub last said the reference data was current. */
static int64_t reference_age_s(const struct outbox_reference_info *info)
{
    int64_t age = (ws_now_ms() - info->checked_at_ms) / 1000;
    return age < 0 ? 0 : age;
}

static json_t *reference_json(const struct outbox_reference_info *info)
{
    if (!info->present)
        return json_null();
    return json_pack("{s:s, s:I, s:I, s:I}", "version", info->version,
                     "received_at_ms", (json_int_t)info->received_at_ms,
                     "checked_at_ms", (json_int_t)info->checked_at_ms, "age_s",
                     (json_int_t)reference_age_s(info));
}

static int print_json(struct outbox *outbox, const struct outbox_counts *c,
                      const struct outbox_reference_info *ref)
{
    struct rejected_json rejected = {json_array(), 0};
    if (!rejected.array)
        return -ENOMEM;
    int rc =
        outbox_list_rejected(outbox, REJECTED_SHOWN, add_rejected, &rejected);
    if (rc == 0)
        rc = rejected.rc;
    if (rc < 0) {
        json_decref(rejected.array);
        return rc;
    }
    json_t *obj = json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:o, s:o}", "ward",
        outbox_ward(outbox), "agent_instance", outbox_agent_instance(outbox),
        "queued", (json_int_t)c->queued, "delivered", (json_int_t)c->delivered,
        "rejected", (json_int_t)c->rejected, "last_contact_ms",
        c->last_contact_ms < 0 ? json_null() : json_integer(c->last_contact_ms),
        "last_seq", (json_int_t)c->last_seq, "rejected_events", rejected.array,
        "reference", reference_json(ref));
    if (!obj) {
        ws_error("agent", "could not build status JSON");
        return -ENOMEM;
    }
    rc = json_dumpf(obj, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
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

/* "3 min", "2 h", "5 days": how long ago, for the clerk. */
static void format_age(int64_t s, char *buf, size_t cap)
{
    if (s < 120)
        snprintf(buf, cap, _("%lld s"), (long long)s);
    else if (s < 2 * 3600)
        snprintf(buf, cap, _("%lld min"), (long long)(s / 60));
    else if (s < 2 * 86400)
        snprintf(buf, cap, _("%lld h"), (long long)(s / 3600));
    else
        snprintf(buf, cap, _("%lld days"), (long long)(s / 86400));
}

static int print_table(struct outbox *outbox, const struct outbox_counts *c,
                       const struct outbox_reference_info *ref)
{
    char when[64];
    printf(_("ward            %s\n"), outbox_ward(outbox));
    printf(_("agent_instance  %s\n"), outbox_agent_instance(outbox));
    printf(_("queued          %llu\n"), (unsigned long long)c->queued);
    printf(_("delivered       %llu\n"), (unsigned long long)c->delivered);
    printf(_("rejected        %llu\n"), (unsigned long long)c->rejected);
    printf(_("last seq        %llu\n"), (unsigned long long)c->last_seq);
    printf(_("hub mark        %llu\n"), (unsigned long long)c->hub_mark);
    if (c->last_contact_ms < 0) {
        printf(_("last contact    never\n"));
    } else {
        format_time(c->last_contact_ms, when, sizeof(when));
        printf(_("last contact    %s\n"), when);
    }
    if (!ref->present) {
        printf(_("reference       none yet: imports are checked with the "
                 "shared rules only\n"));
    } else {
        char age[64];
        format_time(ref->checked_at_ms, when, sizeof(when));
        format_age(reference_age_s(ref), age, sizeof(age));
        printf(_("reference       %.12s (confirmed by the hub %s, %s ago)\n"),
               ref->version, when, age);
    }
    if (c->rejected > 0) {
        printf(_("\nrejected by the hub (last %d, newest first; FILE:LINE is "
                 "where the row was):\n"),
               REJECTED_SHOWN);
        printf("  %10s  %-11s  %-24s  %s\n", _("seq"), _("kind"),
               _("file:line"), _("reason"));
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
    struct outbox_reference_info ref;
    if (outbox_get_counts(outbox, &counts) < 0 ||
        outbox_reference_load(outbox, &ref, NULL, NULL) < 0)
        goto close;
    rc = format == STATUS_JSON ? print_json(outbox, &counts, &ref)
                               : print_table(outbox, &counts, &ref);
    if (rc == 0 && fflush(stdout) == 0)
        code = EXIT_OK;

close:
    outbox_close(&outbox);
    return code;
}
