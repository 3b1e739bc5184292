/*
 * test_paths.c - the data folder found from the executable's path, its
 * override, and the version string.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wardsync/paths.h"

static void test_override(void **state)
{
    char dir[4096];
    char path[4096];

    (void)state;
    setenv("WARDSYNC_DATA_DIR", "/opt/x/share/wardsync", 1);
    assert_int_equal(ws_data_dir(dir, sizeof dir), 0);
    assert_string_equal(dir, "/opt/x/share/wardsync");
    assert_int_equal(ws_data_path("district-hub/sql", path, sizeof path), 0);
    assert_string_equal(path, "/opt/x/share/wardsync/district-hub/sql");
    assert_int_equal(ws_data_path("district-hub/sql", path, 10), -ENAMETOOLONG);
    /* An empty value is no setting. */
    setenv("WARDSYNC_DATA_DIR", "", 1);
    assert_int_equal(ws_data_dir(dir, sizeof dir), 0);
    assert_string_not_equal(dir, "");
    unsetenv("WARDSYNC_DATA_DIR");
}

/* Without the override: beside the executable, whatever the working
 * folder is. */
static void test_from_executable(void **state)
{
    char exe[4096];
    char dir[4096];
    char want[4096 + 32];

    (void)state;
    unsetenv("WARDSYNC_DATA_DIR");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(want, sizeof want, "%s/%s", exe, WS_TEST_BIN_TO_DATA);
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(ws_data_dir(dir, sizeof dir), 0);
    assert_string_equal(dir, want);
    assert_int_equal(ws_locale_dir(dir, sizeof dir), 0);
    assert_non_null(strstr(dir, "locale"));
    setenv("WARDSYNC_LOCALE_DIR", "/l", 1);
    assert_int_equal(ws_locale_dir(dir, sizeof dir), 0);
    assert_string_equal(dir, "/l");
    unsetenv("WARDSYNC_LOCALE_DIR");
}

static void test_version(void **state)
{
    (void)state;
    const char *v = ws_version();
    assert_non_null(v);
    /* "MAJOR.MINOR.PATCH", maybe followed by git describe's suffix. */
    assert_true(v[0] >= '0' && v[0] <= '9');
    assert_non_null(strchr(v, '.'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_from_executable),
        cmocka_unit_test(test_version),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
