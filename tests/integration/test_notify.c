/*
 * test_notify.c - the hub under systemd's Type=notify (district-hub/
 * notify.h): with NOTIFY_SOCKET set, "run" sends READY=1 only once its
 * ingest endpoint is bound (its "ingest endpoint=" line is already in the
 * log), WATCHDOG=1 repeatedly when WATCHDOG_USEC is set, and STOPPING=1
 * on SIGTERM. The socket is a datagram socket this test binds, as systemd
 * does.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int group_setup(void **state)
{
    (void)state;
    return it_env_setup(&env, "wardsync_it_notify") == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    it_env_teardown(&env);
    return 0;
}

/* Waits up to timeout_ms for a datagram holding needle; the datagrams
 * before it are dropped. Returns 0 or -1. */
static int wait_for(int fd, const char *needle, int timeout_ms)
{
    char buf[4096];
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        if (strstr(buf, needle))
            return 0;
    }
    return -1;
}

static void test_ready_watchdog_stopping(void **state)
{
    (void)state;
    char sock_path[512], log[512], notify_env[600], secret_env[400];
    snprintf(sock_path, sizeof sock_path, "%s/notify.sock", env.workdir);
    snprintf(log, sizeof log, "%s/hub-notify.log", env.workdir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(sock_path) < sizeof addr.sun_path);
    strcpy(addr.sun_path, sock_path);
    unlink(sock_path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);

    snprintf(notify_env, sizeof notify_env, "NOTIFY_SOCKET=%s", sock_path);
    snprintf(secret_env, sizeof secret_env, "WARDSYNC_HUB_SECRET_KEY=%s_secret",
             env.hub_key);
    /* A watchdog of 400 ms: the hub pings every 200 ms at least. */
    const char *extra[] = {notify_env, secret_env,
                           "WARDSYNC_HUB_PULL=tcp://127.0.0.1:*",
                           "WATCHDOG_USEC=400000", NULL};
    const char *argv[] = {it_hub_bin, "--database", env.hub_conninfo,
                          "run",      "--ingest",   "tcp://127.0.0.1:*",
                          NULL};
    pid_t pid = it_spawn(argv, extra, log);
    assert_true(pid > 0);

    assert_int_equal(wait_for(fd, "READY=1", 30000), 0);
    /* Ready means bound: the endpoint's line came before. */
    char bound[128];
    assert_int_equal(
        it_wait_for_log(log, "ingest endpoint=", 0, bound, sizeof bound), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wait_for(fd, "WATCHDOG=1", 2000), 0);
    kill(pid, SIGTERM);
    assert_int_equal(wait_for(fd, "STOPPING=1", 10000), 0);
    assert_int_equal(it_stop(pid), 0);
    close(fd);
    unlink(sock_path);
}

/* Without WATCHDOG_USEC the hub sends no WATCHDOG=1 at all. */
static void test_no_watchdog_unless_asked(void **state)
{
    (void)state;
    char sock_path[512], log[512], notify_env[600], secret_env[400];
    snprintf(sock_path, sizeof sock_path, "%s/notify2.sock", env.workdir);
    snprintf(log, sizeof log, "%s/hub-notify2.log", env.workdir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, sock_path);
    unlink(sock_path);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    snprintf(notify_env, sizeof notify_env, "NOTIFY_SOCKET=%s", sock_path);
    snprintf(secret_env, sizeof secret_env, "WARDSYNC_HUB_SECRET_KEY=%s_secret",
             env.hub_key);
    const char *extra[] = {notify_env, secret_env,
                           "WARDSYNC_HUB_PULL=tcp://127.0.0.1:*", NULL};
    const char *argv[] = {it_hub_bin, "--database", env.hub_conninfo,
                          "run",      "--ingest",   "tcp://127.0.0.1:*",
                          NULL};
    pid_t pid = it_spawn(argv, extra, log);
    assert_true(pid > 0);
    assert_int_equal(wait_for(fd, "READY=1", 30000), 0);
    assert_int_equal(wait_for(fd, "WATCHDOG=1", 1500), -1);
    assert_int_equal(it_stop(pid), 0);
    close(fd);
    unlink(sock_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_watchdog_stopping),
        cmocka_unit_test(test_no_watchdog_unless_asked),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
