/*
 * writers.h - is a file still open for writing by some process?
 *
 * The drop folder (inbox.c) takes a file only when no process holds it
 * open for writing. This looks through /proc/PID/fd of every process: a
 * descriptor whose target is the file (same device and inode) and whose
 * /proc/PID/fdinfo flags are O_WRONLY or O_RDWR is a writer.
 *
 * Why /proc and not fcntl(F_SETLEASE): a read lease can only be taken on a
 * file the agent owns (or with CAP_LEASE), and a clerk's copy belongs to
 * the clerk; /proc needs neither. Its limit: only processes whose
 * /proc/PID/fd this process may read are seen, that is those of the
 * agent's own user (all of them when it runs as root). A writer on
 * another machine (a network share) is never seen, which is why the file
 * must also have been unchanged for a while (inbox_settle_ms).
 */
#ifndef WARD_AGENT_WRITERS_H
#define WARD_AGENT_WRITERS_H

#include <sys/types.h>

/* Sets *writer to the pid of a process that has the file (dev, ino) open
 * for writing, or 0 when none was found. Returns 0, or a negative errno
 * when /proc cannot be read at all. */
int writers_find(dev_t dev, ino_t ino, pid_t *writer);

#endif
