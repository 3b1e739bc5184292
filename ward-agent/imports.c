/*
 * imports.c - "ward-agent imports [--format table|json]".
 *
 * An import's state is read from its events: "queued" while any is still
 * queued, then "delivered" (with how many the hub rejected), or "nothing
 * new" when every row had been queued before; once "ward-agent withdraw"
 * took it back, "withdrawal queued" until its Withdrawals are delivered,
 * then "withdrawn" ("withdrawal rejected" when the hub refused one). The
 * JSON array holds one object per import: id, file, kind, rows, events,
 * first_seq, last_seq (null when events is 0), imported_at_ms, state,
 * queued, delivered, rejected, withdrawn_at_ms and withdraw_reason (null
 * when not withdrawn) (docs/contracts.md).
 */
#include "imports.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "outbox.h"
#include "settings.h"
#include "wardsync/i18n.h"
#include "wardsync/log.h"

static const char *import_state(const struct outbox_import_info *info)
{
    if (info->withdrawn_at_ms) {
        if (info->withdrawals_rejected > 0)
            return "withdrawal rejected";
        return info->withdrawals_queued > 0 ? "withdrawal queued" : "withdrawn";
    }
    if (info->queued > 0)
        return N_("queued");
    if (info->delivered + info->rejected == 0)
        return N_("nothing new");
    if (info->rejected > 0)
        return info->delivered > 0 ? N_("delivered, some rejected")
                                   : N_("rejected");
    return N_("delivered");
}

struct listing {
    enum status_format format;
    json_t *array;
    int rc;
};

static void print_import(const struct outbox_import_info *info, void *arg)
{
    struct listing *out = arg;
    if (out->format == STATUS_JSON) {
        json_t *item = json_pack(
            "{s:I, s:s, s:s, s:I, s:I, s:o, s:o, s:I, s:s, s:I, s:I, s:I}",
            "id", (json_int_t)info->id, "file", info->name, "kind", info->kind,
            "rows", (json_int_t)info->rows, "events", (json_int_t)info->events,
            "first_seq",
            info->events ? json_integer((json_int_t)info->first_seq)
                         : json_null(),
            "last_seq",
            info->events ? json_integer((json_int_t)info->last_seq)
                         : json_null(),
            "imported_at_ms", (json_int_t)info->imported_at_ms, "state",
            import_state(info), "queued", (json_int_t)info->queued, "delivered",
            (json_int_t)info->delivered, "rejected",
            (json_int_t)info->rejected);
        if (item &&
            (json_object_set_new(
                 item, "withdrawn_at_ms",
                 info->withdrawn_at_ms
                     ? json_integer((json_int_t)info->withdrawn_at_ms)
                     : json_null()) < 0 ||
             json_object_set_new(item, "withdraw_reason",
                                 info->withdrawn_at_ms
                                     ? json_string(info->withdraw_reason)
                                     : json_null()) < 0)) {
            json_decref(item);
            item = NULL;
        }
        if (!item || json_array_append_new(out->array, item) < 0)
            out->rc = -ENOMEM;
        return;
    }
    char when[32];
    time_t secs = (time_t)(info->imported_at_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) ||
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(when, sizeof(when), "?");
    char state[64];
    if (info->rejected > 0)
        snprintf(state, sizeof(state), _("%s (%llu rejected)"),
                 _(import_state(info)), (unsigned long long)info->rejected);
    else
        snprintf(state, sizeof(state), "%s", _(import_state(info)));
    printf("%6lld  %-11s  %8llu  %8llu  %-16s  %-24s  %s\n",
           (long long)info->id, info->kind[0] ? info->kind : "-",
           (unsigned long long)info->rows, (unsigned long long)info->events,
           when, state, info->name);
}

int imports_command(const struct agent_settings *settings,
                    enum status_format format)
{
    struct outbox *outbox = NULL;
    struct listing listing = {format, NULL, 0};
    int code = EXIT_IO;

    int rc = outbox_open(settings->outbox_path, settings->ward, false, &outbox);
    if (rc < 0)
        return rc == -EINVAL ? EXIT_USAGE : EXIT_IO;
    if (format == STATUS_JSON) {
        if (!(listing.array = json_array()))
            goto close;
    } else {
        printf("%6s  %-11s  %8s  %8s  %-16s  %-24s  %s\n", _("id"), _("kind"),
               _("rows"), _("events"), _("imported (UTC)"), _("state"),
               _("file"));
    }
    rc = outbox_list_imports(outbox, NULL, true, print_import, &listing);
    if (rc == 0)
        rc = listing.rc;
    if (rc < 0)
        goto close;
    if (format == STATUS_JSON) {
        if (json_dumpf(listing.array, stdout, JSON_COMPACT) < 0)
            goto close;
        putchar('\n');
    }
    if (fflush(stdout) == 0)
        code = EXIT_OK;

close:
    json_decref(listing.array);
    outbox_close(&outbox);
    return code;
}
