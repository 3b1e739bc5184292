/*
 * test_clerk_excel.c - a ward clerk's files as Excel writes them, and the
 * agent speaking Vietnamese, against the real agent, hub and database
 * (issue 11, items 6 and 7): a semicolon-separated Windows-1258 file gets
 * one Vietnamese message (on the command line and in the rejected/
 * report); a UTF-16 file imports; Vietnamese headers and values import
 * and reach the hub as the English names; messages are Vietnamese with
 * the default configuration and English with "language = en"; the
 * template imports as it is; an .xlsx workbook and a "reception.CSV"
 * dropped into inbox/ are imported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "xlsx_fixture.h"

#define WARD "LB06"

static struct it_env env;
static pid_t hub = -1;
static char endpoint[128];
static char home[512];
static char secret_env[480], hub_key_env[400];
static char locale_env[600];

static int group_setup(void **state)
{
    (void)state;
    struct it_curve curve;
    char secret_path[420];
    if (it_env_setup(&env, "wardsync_it_excel") != 0)
        return -1;
    hub = it_start_hub(&env, NULL, endpoint, sizeof endpoint);
    if (hub <= 0)
        return -1;
    if (it_principal_keys(&env, "ward", WARD, &curve, secret_path,
                          sizeof secret_path) != 0)
        return -1;
    snprintf(secret_env, sizeof secret_env, "WARDSYNC_AGENT_SECRET_KEY=%s",
             secret_path);
    snprintf(hub_key_env, sizeof hub_key_env,
             "WARDSYNC_AGENT_HUB_PUBLIC_KEY=%s", env.hub_key);
    snprintf(locale_env, sizeof locale_env, "WARDSYNC_LOCALE_DIR=%s",
             WS_LOCALE_DIR);
    snprintf(home, sizeof home, "%s/excel-home", env.workdir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (hub > 0)
        it_stop(hub);
    it_env_teardown(&env);
    return 0;
}

/* Runs ward-agent with the arguments (NULL-terminated, at most 6) in the
 * language the environment and configuration give by default: no
 * language set anywhere (vi), or English when en. */
static int agent_in(bool en, char **out, const char *a1, const char *a2,
                    const char *a3, const char *a4, const char *a5,
                    const char *a6)
{
    const char *extra[] = {secret_env,
                           hub_key_env,
                           locale_env,
                           "WARDSYNC_AGENT_INBOX_SETTLE_MS=300",
                           "WARDSYNC_AGENT_INBOX_POLL_MS=100",
                           en ? "WARDSYNC_AGENT_LANGUAGE=en"
                              : "WARDSYNC_AGENT_LANGUAGE=",
                           "LANGUAGE=",
                           "LC_ALL=",
                           "LC_MESSAGES=",
                           "LANG=C.UTF-8",
                           NULL};
    const char *argv[] = {it_agent_bin, "--home", home, "--ward", WARD,
                          "--hub",      endpoint, a1,   a2,       a3,
                          a4,           a5,       a6,   NULL};
    char *output = NULL;
    int rc = it_run(argv, extra, 120, &output);
    if (out)
        *out = output;
    else
        free(output);
    return rc;
}

#define agent_vi(...) agent_in(false, __VA_ARGS__)
#define agent_en(...) agent_in(true, __VA_ARGS__)

static void sync_until_idle(void)
{
    char *out = NULL;
    int rc = agent_en(&out, "run", "--until-idle", "--max-seconds", "60", NULL,
                      NULL);
    if (rc != 0)
        fprintf(stderr, "ward-agent run: exit %d\n%s\n", rc, out ? out : "");
    free(out);
    assert_int_equal(rc, 0);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Excel in a Vietnamese locale, "CSV (Comma delimited)": ";" and
 * Windows-1258 ("không" = kh\xf4ng, "Đất đai" = \xd0\xe2t \xf0ai). */
static const char win1258[] =
    "petition;kind;channel;status;in_jurisdiction;received_on;due_on;"
    "changed_on;note\r\n"
    "LB06-P1;complaint;post;received;yes;2024-03-01;;2024-03-01;ok\r\n"
    "LB06-P2;complaint;post;received;kh\xf4"
    "ng;2024-03-01;;2024-03-01;\xd0\xe2t \xf0"
    "ai\r\n"
    "LB06-P3;complaint;post;received;kh\xf4"
    "ng;2024-03-02;;2024-03-02;\xd0\xe2t\r\n";

static void test_windows_1258_one_vietnamese_message(void **state)
{
    (void)state;
    char path[600], conf[600], *out = NULL;
    snprintf(path, sizeof path, "%s/petitions-1258.csv", env.workdir);
    write_bytes(path, win1258, sizeof(win1258) - 1);

    assert_int_equal(
        agent_vi(&out, "import", "petitions", path, NULL, NULL, NULL), 1);
    if (count(out, "tệp không phải văn bản UTF-8") != 1 ||
        count(out, "\"CSV UTF-8 (Comma delimited) (*.csv)\"") != 1 ||
        count(out, "petitions-1258.csv:3:-: ") != 1 ||
        /* the message and "bị từ chối, ..." (the rest is the log) */
        count(out, "petitions-1258.csv") != 2)
        fail_msg("not one Vietnamese message:\n%s", out);
    assert_non_null(strstr(out, "Lưu Như (File > Save As)"));
    free(out);

    /* The same with "language = en" in the configuration file. */
    snprintf(conf, sizeof conf, "%s/agent-en.ini", env.workdir);
    assert_int_equal(it_write_file(conf, "[agent]\nlanguage = en\n"), 0);
    assert_int_equal(
        agent_vi(&out, "-c", conf, "import", "petitions", path, NULL), 1);
    if (count(out, "the file is not UTF-8 text") != 1 || count(out, "tệp") != 0)
        fail_msg("not one English message:\n%s", out);
    free(out);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM petitions"
                                           " WHERE ward = '" WARD "'"),
                     0);

    /* Dropped into inbox/: rejected, and the report beside it says the
     * same in Vietnamese. */
    assert_int_equal(agent_vi(NULL, "status", NULL, NULL, NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/inbox/Đơn thư tháng 3.csv", home);
    write_bytes(path, win1258, sizeof(win1258) - 1);
    assert_int_equal(agent_vi(&out, "run", "--until-idle", "--max-seconds",
                              "60", NULL, NULL),
                     0);
    free(out);
    char report[700], *text = NULL;
    snprintf(report, sizeof report,
             "%s/rejected/Đơn thư tháng 3.csv.report.txt", home);
    FILE *f = fopen(report, "r");
    if (!f)
        fail_msg("no report %s", report);
    size_t len = 0;
    assert_true(getdelim(&text, &len, '\0', f) > 0);
    fclose(f);
    if (count(text, "tệp không phải văn bản UTF-8") != 1 ||
        !strstr(text, "chưa được nhập") || !strstr(text, "TỆP:DÒNG:CỘT"))
        fail_msg("report not in Vietnamese:\n%s", text);
    free(text);
}

/* "Unicode text" (UTF-16 LE with BOM, tab-separated) imports. */
static void test_utf16_file_imports(void **state)
{
    (void)state;
    static const char text[] =
        "session\theld_on\thost_role\tmode\tcitizens\tpetitions\r\n"
        "LB06-U1\t2024-03-04\tchair\tregular\t4\t1\r\n"
        "LB06-U2\t2024-03-11\tPhó Chủ tịch\tĐột xuất\t2\t0\r\n";
    char buf[1024], path[600], *out = NULL;
    char *in = (char *)text, *o = buf + 2;
    size_t in_left = strlen(text), o_left = sizeof(buf) - 2;
    iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    assert_true(iconv(cd, &in, &in_left, &o, &o_left) != (size_t)-1);
    iconv_close(cd);
    buf[0] = '\xff';
    buf[1] = '\xfe';
    snprintf(path, sizeof path, "%s/reception-utf16.txt", env.workdir);
    write_bytes(path, buf, sizeof(buf) - o_left);
    int rc = agent_en(&out, "import", "reception", path, NULL, NULL, NULL);
    if (rc != 0 || !strstr(out, "queued 2 reception events"))
        fail_msg("exit %d:\n%s", rc, out);
    free(out);
    sync_until_idle();
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM reception_sessions"
                                   " WHERE ward = '" WARD "' AND ((session ="
                                   " 'LB06-U2' AND host_role = 'vice_chair' AND"
                                   " mode = 'ad_hoc') OR session = 'LB06-U1')"),
                     2);
}

/* Vietnamese headers and values (NFD in one cell, any case), ";"
 * separated with a trailing ";" and a row of empty cells; the messages
 * are Vietnamese by default. The hub stores the English names. */
static void test_vietnamese_headers_and_values(void **state)
{
    (void)state;
    static const char text[] =
        "\xef\xbb\xbfMã đơn;Loại đơn;Hình thức nhận;Trạng thái;Thuộc thẩm "
        "quyền;Ngày nhận;Hạn giải quyết;Ngày thay đổi;Ghi chú;\r\n"
        "LB06-V1;Kiến nghị;qua bưu điện;Đã thụ lý;có;2024-03-01;2024-04-15;"
        "2024-03-02;đường ngõ 5;\r\n"
        ";;;;;;;;;\r\n"
        "LB06-V2;PH\x41\xcc\x89N \x41\xcc\x81NH;Trực tiếp;đang giải quyết;"
        "kho\xcc\x82ng;2024-03-03;;2024-03-04;;\r\n";
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/don-thu.csv", env.workdir);
    write_bytes(path, text, sizeof(text) - 1);
    int rc = agent_vi(&out, "import", "petitions", path, NULL, NULL, NULL);
    if (rc != 0 || !strstr(out, "đã đưa 2 sự kiện petitions từ "))
        fail_msg("exit %d:\n%s", rc, out);
    free(out);
    sync_until_idle();
    assert_int_equal(
        it_query_long(env.db,
                      "SELECT count(*) FROM petitions WHERE ward = '" WARD
                      "' AND ((petition = 'LB06-V1' AND kind ="
                      " 'recommendation' AND channel = 'post' AND status ="
                      " 'accepted' AND in_jurisdiction AND note = 'đường"
                      " ngõ 5') OR (petition = 'LB06-V2' AND kind ="
                      " 'reflection' AND channel = 'in_person' AND status ="
                      " 'in_progress' AND NOT in_jurisdiction))"),
        2);

    /* A bad value: named with the file's own column name, and the
     * accepted names in Vietnamese. */
    static const char bad[] =
        "Mã đơn,Loại đơn,Hình thức nhận,Trạng thái,Thuộc thẩm quyền,"
        "Ngày nhận,Hạn giải quyết,Ngày thay đổi,Ghi chú\n"
        "LB06-V3,khiếu kiện,trực tiếp,tiếp nhận,có,2024-03-01,,2024-03-01,\n";
    snprintf(path, sizeof path, "%s/don-thu-sai.csv", env.workdir);
    write_bytes(path, bad, sizeof(bad) - 1);
    assert_int_equal(
        agent_vi(&out, "import", "petitions", path, NULL, NULL, NULL), 1);
    if (!strstr(out, "don-thu-sai.csv:2:Loại đơn: loại đơn \"khiếu kiện\" "
                     "không hợp lệ (cần khiếu nại, tố cáo, kiến nghị hoặc "
                     "phản ánh)"))
        fail_msg("%s", out);
    free(out);
}

/* The shared rules' reasons (common/src/validate.c) as the clerk reads
 * them: under the file's own column, in Vietnamese by default, in English
 * with language = en; nothing of the file is queued. */
static void test_shared_rule_reason_in_the_clerks_language(void **state)
{
    (void)state;
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/phieu-sai.csv", env.workdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("survey,form,subject,respondent_group,collected_on", f);
    for (int i = 1; i <= 41; i++)
        fprintf(f, ",i%02d", i);
    fputs("\n2023-R9,staff,S 01,1,2023-10-02", f);
    for (int i = 1; i <= 41; i++)
        fputs(i > 36 ? "," : ",1", f);
    fputc('\n', f);
    assert_int_equal(fclose(f), 0);

    assert_int_equal(
        agent_vi(&out, "import", "ballots", path, NULL, NULL, NULL), 1);
    if (!strstr(out, "phieu-sai.csv:2:subject: ký tự thứ 2 không thuộc A-Z "
                     "a-z 0-9 . _ / -"))
        fail_msg("%s", out);
    assert_null(strstr(out, "is not one of"));
    free(out);
    assert_int_equal(
        agent_en(&out, "import", "ballots", path, NULL, NULL, NULL), 1);
    if (!strstr(out, "phieu-sai.csv:2:subject: character 2 is not one of "
                     "A-Z a-z 0-9 . _ / -"))
        fail_msg("%s", out);
    free(out);
}

/* --help and usage errors: Vietnamese by default, English with
 * language = en. */
static void test_help_language(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(agent_vi(&out, "--help", NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "cách dùng: ward-agent"));
    free(out);
    assert_int_equal(agent_en(&out, "--help", NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "usage: ward-agent"));
    assert_null(strstr(out, "cách dùng"));
    free(out);
    assert_int_equal(
        agent_vi(&out, "import", "bogus", "x.csv", NULL, NULL, NULL), 2);
    assert_non_null(strstr(out, "loại \"bogus\" không hợp lệ"));
    free(out);
    assert_int_equal(agent_vi(&out, "status", NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "phường         " WARD));
    free(out);
}

/* The template, written and imported as it is. */
static void test_template_reimports(void **state)
{
    (void)state;
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/mau-tiep-cong-dan.csv", env.workdir);
    int rc = agent_vi(&out, "template", "reception", path, NULL, NULL, NULL);
    if (rc != 0)
        fail_msg("template: exit %d\n%s", rc, out);
    free(out);
    rc = agent_vi(&out, "template", "reception", path, NULL, NULL, NULL);
    assert_int_equal(rc, 2); /* an existing file is kept */
    free(out);
    rc = agent_vi(&out, "import", "reception", path, NULL, NULL, NULL);
    if (rc != 0)
        fail_msg("template import: exit %d\n%s", rc, out);
    free(out);
    sync_until_idle();
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM reception_sessions"
                                   " WHERE ward = '" WARD "' AND session ="
                                   " 'VI-DU-001' AND host_role = 'chair'"),
                     1);
}

/* An .xlsx workbook named in Vietnamese and "reception.CSV" dropped into
 * inbox/ are both imported; the workbook's date cell arrives as a date. */
static void test_xlsx_and_names_in_inbox(void **state)
{
    (void)state;
    static const char *const shared[] = {
        "Mã buổi tiếp",   "Ngày tiếp",   "Người chủ trì",
        "Hình thức tiếp", "Số công dân", "Số đơn",
        "Chủ tịch",       "đột xuất",    NULL};
    static const char rows[] =
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\">"
        "<v>1</v></c><c r=\"C1\" t=\"s\"><v>2</v></c><c r=\"D1\" t=\"s\">"
        "<v>3</v></c><c r=\"E1\" t=\"s\"><v>4</v></c><c r=\"F1\" t=\"s\">"
        "<v>5</v></c></row>"
        "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>LB06-X1</t></is>"
        "</c><c r=\"B2\" s=\"1\"><v>45356</v></c><c r=\"C2\" t=\"s\"><v>6"
        "</v></c><c r=\"D2\" t=\"s\"><v>7</v></c><c r=\"E2\"><v>5</v></c>"
        "<c r=\"F2\"><v>2</v></c></row>";
    char path[700], *out = NULL;
    assert_int_equal(agent_en(NULL, "status", NULL, NULL, NULL, NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/inbox/Tiếp công dân tháng 10.xlsx", home);
    assert_int_equal(xlsx_fixture_write(path, shared, rows, 0), 0);
    snprintf(path, sizeof path, "%s/inbox/reception.CSV", home);
    assert_int_equal(it_write_file(path, "session,held_on,host_role,mode,"
                                         "citizens,petitions\n"
                                         "LB06-C1,2024-03-20,officer,"
                                         "regular,1,0\n"),
                     0);
    int rc = agent_en(&out, "run", "--until-idle", "--max-seconds", "60", NULL,
                      NULL);
    if (rc != 0)
        fail_msg("run: exit %d\n%s", rc, out);
    free(out);
    struct stat st;
    snprintf(path, sizeof path, "%s/done/Tiếp công dân tháng 10.xlsx", home);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/done/reception.CSV", home);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM reception_sessions"
                                   " WHERE ward = '" WARD "' AND ((session ="
                                   " 'LB06-X1' AND held_on = DATE '2024-03-05'"
                                   " AND mode = 'ad_hoc' AND citizens = 5) OR"
                                   " session = 'LB06-C1')"),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_1258_one_vietnamese_message),
        cmocka_unit_test(test_utf16_file_imports),
        cmocka_unit_test(test_vietnamese_headers_and_values),
        cmocka_unit_test(test_shared_rule_reason_in_the_clerks_language),
        cmocka_unit_test(test_help_language),
        cmocka_unit_test(test_template_reimports),
        cmocka_unit_test(test_xlsx_and_names_in_inbox),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
