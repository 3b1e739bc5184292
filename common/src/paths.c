/*
 * paths.c - the data folder from the executable's own path (paths.h).
 */
#include "wardsync/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Relative path from the install's bindir to datadir/wardsync, and from
 * bindir to the locale folder (common/CMakeLists.txt computes both). */
#ifndef WS_BIN_TO_DATA
#define WS_BIN_TO_DATA "../share/wardsync"
#endif
#ifndef WS_BIN_TO_LOCALE
#define WS_BIN_TO_LOCALE "../share/locale"
#endif

/* The folder of the running executable, without a trailing '/'. */
static int exe_dir(char *out, size_t outlen)
{
    char exe[4096];
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
    int len = snprintf(out, outlen, "%s", exe[0] ? exe : "/");
    return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : 0;
}

/* $env when set and not empty, else exe_dir()/rel. */
static int installed_dir(const char *env, const char *rel, char *out,
                         size_t outlen)
{
    const char *set = getenv(env);

    if (set != NULL && set[0] != '\0') {
        int len = snprintf(out, outlen, "%s", set);
        return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : 0;
    }
    char dir[4096];
    int rc = exe_dir(dir, sizeof dir);
    if (rc < 0)
        return rc;
    int len = snprintf(out, outlen, "%s/%s", dir, rel);
    return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : 0;
}

int ws_data_dir(char *out, size_t outlen)
{
    return installed_dir("WARDSYNC_DATA_DIR", WS_BIN_TO_DATA, out, outlen);
}

int ws_data_path(const char *rel, char *out, size_t outlen)
{
    char dir[4096];
    int rc = ws_data_dir(dir, sizeof dir);

    if (rc < 0)
        return rc;
    int len = snprintf(out, outlen, "%s/%s", dir, rel);
    return len < 0 || (size_t)len >= outlen ? -ENAMETOOLONG : 0;
}

int ws_locale_dir(char *out, size_t outlen)
{
    return installed_dir("WARDSYNC_LOCALE_DIR", WS_BIN_TO_LOCALE, out, outlen);
}

/* ws_version_string: generated into the build tree by cmake/version.cmake
 * (git describe, else the CMake project version). */
extern const char ws_version_string[];

const char *ws_version(void)
{
    return ws_version_string;
}

void ws_print_version(const char *program)
{
    char dir[4096];
    char resolved[PATH_MAX];

    printf("%s (wardsync) %s\n", program, ws_version());
    if (ws_data_dir(dir, sizeof dir) == 0)
        printf("data: %s%s\n", realpath(dir, resolved) ? resolved : dir,
               access(dir, R_OK | X_OK) == 0 ? "" : " (missing)");
}
