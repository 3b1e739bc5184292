/*
 * fuzz_util.c - see fuzz.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

const char *fuzz_scratch_file(const uint8_t *data, size_t size,
                              const char *suffix)
{
    static char path[256];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/wardsync-fuzz-%ld%s",
             dir && *dir ? dir : "/tmp", (long)getpid(), suffix);
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
