/*
 * fuzz_util.c - see fuzz.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* The scratch files of this process (one per suffix), removed at exit so
 * that neither a fuzzing run nor a corpus replay leaves files behind. */
#define MAX_SCRATCH 8
static char scratch[MAX_SCRATCH][256];
static int n_scratch;

static void remove_scratch(void)
{
    for (int i = 0; i < n_scratch; i++)
        unlink(scratch[i]);
}

static void remember(const char *path)
{
    for (int i = 0; i < n_scratch; i++)
        if (strcmp(scratch[i], path) == 0)
            return;
    if (n_scratch == 0)
        atexit(remove_scratch);
    if (n_scratch < MAX_SCRATCH)
        snprintf(scratch[n_scratch++], sizeof scratch[0], "%s", path);
}

const char *fuzz_scratch_file(const uint8_t *data, size_t size,
                              const char *suffix)
{
    static char path[256];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/wardsync-fuzz-%ld%s",
             dir && *dir ? dir : "/tmp", (long)getpid(), suffix);
    remember(path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return NULL;
    }
    if (fclose(f) != 0)
        return NULL;
    return path;
}
