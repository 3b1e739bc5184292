/*
 * test_fold.c - the comparison forms of what clerks type (fold.h) and the
 * choice of the message language (i18n.h).
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

#include "wardsync/fold.h"
#include "wardsync/i18n.h"
#include "wardsync/paths.h"

/* "Tiếp công dân" decomposed (NFD): base letters + combining marks. */
#define TIEP_NFD "Ti\x65\xcc\x82\xcc\x81p co\xcc\x82ng da\xcc\x82n"

static void test_fold_nfc_nfd_case(void **state)
{
    char out[WS_FOLD_MAX];

    (void)state;
    assert_int_equal(ws_fold("Tiếp công dân", out, sizeof(out)),
                     (int)strlen("tiếp công dân"));
    assert_string_equal(out, "tiếp công dân");
    assert_true(ws_fold(TIEP_NFD, out, sizeof(out)) > 0);
    assert_string_equal(out, "tiếp công dân");
    assert_true(ws_fold("ĐÃ GIẢI QUYẾT", out, sizeof(out)) > 0);
    assert_string_equal(out, "đã giải quyết");
    assert_true(ws_fold_equal("Kiến Nghị", "ki\x65\xcc\x82\xcc\x81n "
                                           "ngh\x69\xcc\xa3"));
    assert_false(ws_fold_equal("kiến nghị", "kien nghi"));
    assert_false(ws_fold_equal("có", "cố"));
}

static void test_fold_blanks(void **state)
{
    char out[WS_FOLD_MAX];

    (void)state;
    /* Ends trimmed, inner runs one space; U+00A0 counts as a blank. */
    assert_true(ws_fold(" \t Số\xc2\xa0  công   dân \r\n", out, sizeof(out)) >
                0);
    assert_string_equal(out, "số công dân");
    assert_int_equal(ws_fold("   ", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* Underscores are letters of a name, not blanks. */
    assert_true(ws_fold("In_Progress", out, sizeof(out)) > 0);
    assert_string_equal(out, "in_progress");
}

static void test_fold_errors(void **state)
{
    char out[WS_FOLD_MAX];
    char small[4];
    char longer[WS_FOLD_MAX * 3];

    (void)state;
    /* "kh\xf4ng": Windows-1258 "không", not UTF-8. */
    assert_int_equal(ws_fold("kh\xf4ng", out, sizeof(out)), -EILSEQ);
    assert_int_equal(ws_fold("abcdef", small, sizeof(small)), -ENAMETOOLONG);
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(ws_fold(longer, out, sizeof(out)), -ENAMETOOLONG);
    assert_false(ws_fold_equal("kh\xf4ng", "kh\xf4ng"));
}

static void test_fold_plain(void **state)
{
    char out[WS_FOLD_MAX];

    (void)state;
    assert_true(ws_fold_plain("Tiếp công dân tháng 10.csv", out, sizeof(out)) >
                0);
    assert_string_equal(out, "tiep cong dan thang 10.csv");
    assert_true(ws_fold_plain(TIEP_NFD, out, sizeof(out)) > 0);
    assert_string_equal(out, "tiep cong dan");
    assert_true(ws_fold_plain("ĐƠN THƯ", out, sizeof(out)) > 0);
    assert_string_equal(out, "don thu");
    assert_true(ws_fold_plain("Kế hoạch khắc phục", out, sizeof(out)) > 0);
    assert_string_equal(out, "ke hoach khac phuc");
    assert_true(ws_fold_plain("phiếu-nhận-diện", out, sizeof(out)) > 0);
    assert_string_equal(out, "phieu-nhan-dien");
}

static void test_language_precedence(void **state)
{
    (void)state;
    /* Nothing said: Vietnamese. */
    assert_string_equal(ws_language_choose(NULL, NULL, NULL, NULL, NULL), "vi");
    /* C and POSIX say nothing about a language. */
    assert_string_equal(ws_language_choose(NULL, NULL, NULL, NULL, "C.UTF-8"),
                        "vi");
    assert_string_equal(ws_language_choose("", "", "C", NULL, "POSIX"), "vi");
    /* LANG, LC_MESSAGES, LC_ALL: the first set of LC_ALL, LC_MESSAGES,
     * LANG; another language is English. */
    assert_string_equal(
        ws_language_choose(NULL, NULL, NULL, NULL, "en_US.UTF-8"), "en");
    assert_string_equal(
        ws_language_choose(NULL, NULL, NULL, NULL, "vi_VN.UTF-8"), "vi");
    assert_string_equal(
        ws_language_choose(NULL, NULL, NULL, NULL, "fr_FR.UTF-8"), "en");
    assert_string_equal(
        ws_language_choose(NULL, NULL, NULL, "vi_VN", "en_US.UTF-8"), "vi");
    assert_string_equal(
        ws_language_choose(NULL, NULL, "en_GB.UTF-8", "vi_VN", NULL), "en");
    /* LANGUAGE wins over them: its first vi or en entry. */
    assert_string_equal(
        ws_language_choose(NULL, "fr:vi:en", NULL, NULL, "en_US.UTF-8"), "vi");
    assert_string_equal(
        ws_language_choose(NULL, "de", NULL, NULL, "vi_VN.UTF-8"), "vi");
    /* The configuration wins over everything. */
    assert_string_equal(
        ws_language_choose("en", "vi", "vi_VN", NULL, "vi_VN.UTF-8"), "en");
    assert_string_equal(
        ws_language_choose("VI ", "en", NULL, NULL, "en_US.UTF-8"), "vi");
    assert_null(ws_language_choose("fr", NULL, NULL, NULL, NULL));
    assert_null(ws_language_choose("vietnamese", NULL, NULL, NULL, NULL));
}

static void test_locale_dir(void **state)
{
    char dir[4096];
    char exe[4096];
    char want[8192];

    (void)state;
    setenv("WARDSYNC_LOCALE_DIR", "/some/where", 1);
    assert_int_equal(ws_locale_dir(dir, sizeof dir), 0);
    assert_string_equal(dir, "/some/where");
    /* Unset or empty: beside the program, as installed. */
    setenv("WARDSYNC_LOCALE_DIR", "", 1);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(want, sizeof want, "%s/../share/locale", exe);
    assert_int_equal(ws_locale_dir(dir, sizeof dir), 0);
    assert_string_equal(dir, want);
    unsetenv("WARDSYNC_LOCALE_DIR");
    char small[4];
    assert_int_equal(ws_locale_dir(small, sizeof small), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_nfc_nfd_case),
        cmocka_unit_test(test_fold_blanks),
        cmocka_unit_test(test_fold_errors),
        cmocka_unit_test(test_fold_plain),
        cmocka_unit_test(test_language_precedence),
        cmocka_unit_test(test_locale_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
