/*
 * locale_dir.c - ws_locale_dir (i18n.h) until this branch meets main,
 * whose common/src/paths.c defines the same function with the same
 * contract (wardsync/paths.h): at that merge keep paths.c's and drop this
 * file and its declaration in i18n.h.
 */
#include "wardsync/i18n.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* From the install's bindir to its locale folder. */
#ifndef WS_BIN_TO_LOCALE
#define WS_BIN_TO_LOCALE "../share/locale"
#endif

int ws_locale_dir(char *out, size_t outlen)
{
    const char *env = getenv("WARDSYNC_LOCALE_DIR");
    char exe[4096];
    int len;

    if (env != NULL && env[0] != '\0') {
        len = snprintf(out, outlen, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n < 0)
            return -errno;
        if ((size_t)n >= sizeof exe - 1)
            return -ENAMETOOLONG;
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash == NULL)
            return -ENOENT;
        *slash = '\0';
        len = snprintf(out, outlen, "%s/%s", exe, WS_BIN_TO_LOCALE);
    }
    return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : 0;
}
