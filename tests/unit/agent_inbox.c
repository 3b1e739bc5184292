/*
 * agent_inbox.c - the drop folder takes a file only once it has settled
 * and no process writes it; a rejected file's report is for the clerk.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inbox.h"
#include "outbox.h"
#include "wardsync/catalogue.h"
#include "writers.h"

#define SETTLE_MS 300
#define HEADER "session,held_on,host_role,mode,citizens,petitions\n"

struct fixture {
    char home[64];
    struct outbox *outbox;
    struct ws_catalogue *cat;
    struct inbox *inbox;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[160];
    char err[256];
    assert_non_null(f);
    strcpy(f->home, "/tmp/agent_inbox.XXXXXX");
    assert_non_null(mkdtemp(f->home));
    const char *const dirs[] = {"inbox", "done", "rejected"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", f->home, dirs[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    snprintf(path, sizeof(path), "%s/outbox.db", f->home);
    assert_int_equal(outbox_open(path, "LB01", true, &f->outbox), 0);
    assert_int_equal(
        ws_catalogue_load(WS_TEST_CATALOGUE, &f->cat, err, sizeof(err)), 0);
    assert_int_equal(inbox_new(f->home, SETTLE_MS, &f->inbox), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    inbox_destroy(&f->inbox);
    assert_null(f->inbox);
    outbox_close(&f->outbox);
    ws_catalogue_destroy(&f->cat);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void scan(struct fixture *f, struct inbox_scan_result *r)
{
    assert_int_equal(inbox_scan(f->inbox, f->outbox, f->cat, r), 0);
}

static uint64_t queued(struct fixture *f)
{
    struct outbox_counts c;
    assert_int_equal(outbox_get_counts(f->outbox, &c), 0);
    return c.queued;
}

static void write_all(int fd, const char *text)
{
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* A slow copy: written in pieces with pauses shorter than the settle time,
 * the file is taken only after the last piece, whole. */
static void test_file_is_taken_once_settled(void **state)
{
    struct fixture *f = *state;
    struct inbox_scan_result r;
    char path[160];
    snprintf(path, sizeof(path), "%s/inbox/reception.csv", f->home);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    write_all(fd, HEADER "R-001,2023-09-04,chair,regular,5,2\n");
    close(fd);
    scan(f, &r);
    assert_int_equal(r.waiting, 1);
    sleep_ms(SETTLE_MS / 2);
    fd = open(path, O_WRONLY | O_APPEND);
    write_all(fd, "R-002,2023-09-11,chair,regular,1,0\n");
    close(fd);
    scan(f, &r);
    assert_int_equal(r.waiting, 1);
    sleep_ms(SETTLE_MS / 2);
    scan(f, &r); /* unchanged, but not for SETTLE_MS yet */
    assert_int_equal(r.waiting, 1);
    assert_int_equal(queued(f), 0);
    sleep_ms(SETTLE_MS);
    scan(f, &r);
    assert_int_equal(r.imported, 1);
    assert_int_equal(r.waiting, 0);
    assert_int_equal(queued(f), 2);
}

/* A file still open for writing is not taken, however old. */
static void test_file_open_for_writing_waits(void **state)
{
    struct fixture *f = *state;
    struct inbox_scan_result r;
    char path[160];
    snprintf(path, sizeof(path), "%s/inbox/reception-1.csv", f->home);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    write_all(fd, HEADER "R-001,2023-09-04,chair,regular,5,2\n");
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    pid_t writer = 0;
    assert_int_equal(writers_find(st.st_dev, st.st_ino, &writer), 0);
    assert_int_equal(writer, getpid());

    scan(f, &r);
    sleep_ms(SETTLE_MS + 50);
    scan(f, &r);
    assert_int_equal(r.waiting, 1);
    assert_int_equal(r.imported, 0);

    /* Open for reading only is no writer. */
    int reader = open(path, O_RDONLY);
    close(fd);
    assert_int_equal(writers_find(st.st_dev, st.st_ino, &writer), 0);
    assert_int_equal(writer, 0);
    scan(f, &r);
    assert_int_equal(r.imported, 1);
    close(reader);
}

static char *read_text(const char *path)
{
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    static char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    text[n] = '\0';
    fclose(in);
    return text;
}

/* A bad file and an identical file go to rejected/ with a report a clerk
 * can act on. */
static void test_rejected_reports_are_for_the_clerk(void **state)
{
    struct fixture *f = *state;
    struct inbox_scan_result r;
    char path[200];
    inbox_destroy(&f->inbox);
    assert_int_equal(inbox_new(f->home, 0, &f->inbox), 0);

    snprintf(path, sizeof(path), "%s/inbox/reception-bad.csv", f->home);
    FILE *csv = fopen(path, "w");
    fputs(HEADER "R-001,2023-09-04,chair,regular,5,2\n"
                 "R-002,2023-13-11,chair,regular,1,0\n",
          csv);
    fclose(csv);
    scan(f, &r);
    assert_int_equal(r.rejected, 1);
    snprintf(path, sizeof(path), "%s/rejected/reception-bad.csv.report.txt",
             f->home);
    const char *text = read_text(path);
    assert_non_null(strstr(text, "reception-bad.csv was not imported: 1 of "
                                 "its 2 rows have errors."));
    assert_non_null(strstr(text, "reception-bad.csv:3:held_on: "));
    assert_non_null(strstr(text, "Correct the file"));

    snprintf(path, sizeof(path), "%s/inbox/reception-a.csv", f->home);
    csv = fopen(path, "w");
    fputs(HEADER "R-001,2023-09-04,chair,regular,5,2\n", csv);
    fclose(csv);
    scan(f, &r);
    assert_int_equal(r.imported, 1);
    snprintf(path, sizeof(path), "%s/inbox/reception-b.csv", f->home);
    csv = fopen(path, "w");
    fputs(HEADER "R-001,2023-09-04,chair,regular,5,2\n", csv);
    fclose(csv);
    scan(f, &r);
    assert_int_equal(r.rejected, 1);
    snprintf(path, sizeof(path), "%s/rejected/reception-b.csv.report.txt",
             f->home);
    text = read_text(path);
    assert_non_null(strstr(text, "reception-b.csv was not imported: the same "
                                 "file was imported before."));
    assert_non_null(strstr(text, "as import 1 (\"reception-a.csv\" of "));
    assert_int_equal(queued(f), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_is_taken_once_settled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_open_for_writing_waits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rejected_reports_are_for_the_clerk,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
