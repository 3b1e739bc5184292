/*
 * test_keys.c - CURVE key files: write, read back, refuse what is unsafe or
 * malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wardsync/keys.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wardsync-keys-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_write_and_read_back(void **state)
{
    (void)state;
    struct ws_keypair pair, got;
    char path[128], secret[160], err[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/a.key", dir);
    snprintf(secret, sizeof secret, "%s_secret", path);

    assert_int_equal(ws_keys_generate(&pair), 0);
    assert_true(ws_key_z85_valid(pair.public_z85));
    assert_int_equal(ws_keys_write(path, &pair, false, err, sizeof err), 0);
    assert_int_equal(stat(secret, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    assert_int_equal(ws_keys_read_secret(secret, &got, err, sizeof err), 0);
    assert_string_equal(got.public_z85, pair.public_z85);
    assert_string_equal(got.secret_z85, pair.secret_z85);
    assert_int_equal(ws_keys_read_public(path, &got, err, sizeof err), 0);
    assert_string_equal(got.public_z85, pair.public_z85);
    assert_string_equal(got.secret_z85, "");
    /* A public file is no secret key. */
    assert_int_equal(ws_keys_read_secret(path, &got, err, sizeof err), -EPERM);

    /* Never replaced by accident. */
    assert_int_equal(ws_keys_write(path, &pair, false, err, sizeof err),
                     -EEXIST);
    assert_non_null(strstr(err, "--force"));
}

static void test_secret_readable_by_others_is_refused(void **state)
{
    (void)state;
    struct ws_keypair pair, got;
    char path[128], secret[160], err[256];
    snprintf(path, sizeof path, "%s/b.key", dir);
    snprintf(secret, sizeof secret, "%s_secret", path);
    assert_int_equal(ws_keys_generate(&pair), 0);
    assert_int_equal(ws_keys_write(path, &pair, false, err, sizeof err), 0);
    assert_int_equal(chmod(secret, 0640), 0);
    assert_int_equal(ws_keys_read_secret(secret, &got, err, sizeof err),
                     -EPERM);
    assert_non_null(strstr(err, "accessible to others"));
    assert_int_equal(chmod(secret, 0600), 0);
    assert_int_equal(ws_keys_read_secret(secret, &got, err, sizeof err), 0);
}

static void test_parse_refuses_malformed_files(void **state)
{
    (void)state;
    struct ws_keypair a, b, got;
    char text[512], err[256];
    assert_int_equal(ws_keys_generate(&a), 0);
    assert_int_equal(ws_keys_generate(&b), 0);

    snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n",
             a.public_z85);
    assert_int_equal(ws_keys_parse(text, strlen(text), &got, err, sizeof err),
                     0);
    assert_string_equal(got.public_z85, a.public_z85);

    /* Halves of two different pairs. */
    snprintf(text, sizeof text,
             "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             a.public_z85, b.secret_z85);
    assert_int_equal(ws_keys_parse(text, strlen(text), &got, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "does not match"));

    static const char *const bad[] = {
        "",
        "curve\n",
        "curve\n    public-key = \"tooshort\"\n",
        "curve\n    public-key = \"unterminated\n",
        "curve\n    public-key\n",
        "cur ve\n",
        "curve\n    public-key = \"0123456789012345678901234567890123456789\""
        " trailing\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            ws_keys_parse(bad[i], strlen(bad[i]), &got, err, sizeof err),
            -EINVAL);
    /* A NUL inside the text is not a key character. */
    char with_nul[128];
    int n = snprintf(with_nul, sizeof with_nul,
                     "curve\n    public-key = \"%s\"", a.public_z85);
    with_nul[n - 5] = '\0';
    assert_int_equal(ws_keys_parse(with_nul, (size_t)n, &got, err, sizeof err),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read_back),
        cmocka_unit_test(test_secret_readable_by_others_is_refused),
        cmocka_unit_test(test_parse_refuses_malformed_files),
    };
    return cmocka_run_group_tests_name("keys", tests, setup, teardown);
}
