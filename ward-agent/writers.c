/*
 * writers.c - processes holding a file open for writing (writers.h).
 */
#include "writers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Whether /proc/PID/fdinfo/FD says the descriptor was opened to write. */
static bool opened_for_writing(const char *pid, const char *fd)
{
    char path[320];
    char line[256];
    bool writing = false;
    snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
    FILE *f = fopen(path, "re");
    if (!f)
        return false; /* closed meanwhile */
    while (fgets(line, sizeof(line), f)) {
        unsigned long flags = 0;
        if (sscanf(line, "flags: %lo", &flags) == 1) {
            int mode = (int)(flags & O_ACCMODE);
            writing = mode == O_WRONLY || mode == O_RDWR;
            break;
        }
    }
    fclose(f);
    return writing;
}

/* Looks through the descriptors of one process. */
static bool process_writes(const char *pid, dev_t dev, ino_t ino)
{
    char path[320];
    snprintf(path, sizeof(path), "/proc/%s/fd", pid);
    DIR *dir = opendir(path);
    if (!dir)
        return false; /* gone, or not ours to look at */
    bool found = false;
    struct dirent *entry;
    while (!found && (entry = readdir(dir))) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
            continue;
        char fd_path[600];
        struct stat st;
        snprintf(fd_path, sizeof(fd_path), "/proc/%s/fd/%s", pid,
                 entry->d_name);
        /* stat follows the link to the open file itself, renamed or not. */
        if (stat(fd_path, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
            continue;
        found = opened_for_writing(pid, entry->d_name);
    }
    closedir(dir);
    return found;
}

int writers_find(dev_t dev, ino_t ino, pid_t *writer)
{
    *writer = 0;
    DIR *proc = opendir("/proc");
    if (!proc)
        return -errno;
    struct dirent *entry;
    while ((entry = readdir(proc))) {
        char *end = NULL;
        long pid = strtol(entry->d_name, &end, 10);
        if (pid <= 0 || *end)
            continue;
        if (process_writes(entry->d_name, dev, ino)) {
            *writer = (pid_t)pid;
            break;
        }
    }
    closedir(proc);
    return 0;
}
