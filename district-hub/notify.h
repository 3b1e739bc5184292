/*
 * notify.h - telling systemd how the hub is (sd_notify(3)): ready, alive,
 * stopping. Without NOTIFY_SOCKET (not run by systemd with Type=notify)
 * every call does nothing.
 */
#ifndef DISTRICT_HUB_NOTIFY_H
#define DISTRICT_HUB_NOTIFY_H

/* READY=1: call once the ingest and pull sockets are bound and the
 * database answered (packaging/systemd/wardsync-hub.service is
 * Type=notify, so units ordered after the hub start only then). */
void notify_ready(void);

/* WATCHDOG=1 when WatchdogSec= is set, at most once per half of its
 * interval however often it is called: call it from every turn of the main
 * loop, so a loop stuck for a whole interval gets the hub restarted. */
void notify_watchdog(void);

/* STOPPING=1: the hub received its signal and is closing down. */
void notify_stopping(void);

#endif
