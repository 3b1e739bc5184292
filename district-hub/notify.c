/*
 * notify.c - sd_notify for the hub (notify.h).
 */
#include "notify.h"

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-daemon.h>

#include "wardsync/log.h"
#include "wardsync/util.h"

#define MODULE "hub"

/* The watchdog's interval in ms as systemd set it (0: none), read once. */
static int64_t watchdog_ms = -1;
static int64_t last_ping_ms;

void notify_ready(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_ms = (int64_t)(usec / 1000);
    else
        watchdog_ms = 0;
    int rc = sd_notify(0, "READY=1\nSTATUS=serving");
    if (rc > 0)
        ws_info(MODULE, "told systemd ready watchdog_ms=%lld",
                (long long)watchdog_ms);
    last_ping_ms = ws_monotonic_ms();
}

void notify_watchdog(void)
{
    if (watchdog_ms <= 0)
        return;
    int64_t now = ws_monotonic_ms();
    if (now - last_ping_ms < watchdog_ms / 2)
        return;
    last_ping_ms = now;
    sd_notify(0, "WATCHDOG=1");
}

void notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}
