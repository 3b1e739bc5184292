/*
 * test_metrics.c - the hub's counters as text (district-hub/metrics.c):
 * the exposition format's rules (cumulative buckets, +Inf equal to
 * _count, escaped label values), the summary's deltas, the bounds of the
 * unit and dataset tables, and the endpoint setting's parsing. Each test
 * reads the change it made: the counters are process-wide.
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

#include "metrics.h"
#include "wardsync/v1/transport.pb-c.h"

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(&text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* The value of the sample named series, or -1 when it is absent. */
static double sample(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

static double now_value(const char *series)
{
    char *text = render();
    double v = sample(text, series);
    free(text);
    return v;
}

static void test_every_family_has_help_and_type(void **state)
{
    (void)state;
    static const char *const families[] = {
        "wardsync_hub_batches_total counter",
        "wardsync_hub_events_total counter",
        "wardsync_hub_group_commit_seconds histogram",
        "wardsync_hub_ack_latency_seconds histogram",
        "wardsync_hub_database_up gauge",
        "wardsync_hub_connections gauge",
        "wardsync_hub_unit_last_contact_timestamp_seconds gauge",
        "wardsync_hub_unit_backlog_events gauge",
        "wardsync_hub_pull_requests_total counter",
    };
    char *text = render();
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        char type[128], help[128];
        snprintf(type, sizeof type, "# TYPE %s\n", families[i]);
        snprintf(help, sizeof help, "# HELP %.*s ",
                 (int)strcspn(families[i], " "), families[i]);
        if (!strstr(text, type) || !strstr(text, help))
            fail_msg("no HELP and TYPE for %s in:\n%s", families[i], text);
    }
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
}

static void test_batches_by_outcome(void **state)
{
    (void)state;
    const char *committed = "wardsync_hub_batches_total{outcome=\"committed\"}";
    const char *gap = "wardsync_hub_batches_total{outcome=\"gap\"}";
    const char *other = "wardsync_hub_batches_total{outcome=\"other\"}";
    const char *dup = "wardsync_hub_events_total{outcome=\"duplicate\"}";
    double c0 = now_value(committed), g0 = now_value(gap),
           o0 = now_value(other), d0 = now_value(dup);
    metrics_batch_committed(3, 2, 1, 0);
    metrics_batch_committed(0, 5, 0, 0);
    metrics_batch_refused(WARDSYNC__V1__ACK__REFUSAL__REFUSAL_GAP);
    metrics_batch_refused(42); /* a refusal newer than this code */
    metrics_batch_refused(-1);
    char *text = render();
    assert_int_equal(sample(text, committed), c0 + 2);
    assert_int_equal(sample(text, dup), d0 + 7);
    assert_int_equal(sample(text, gap), g0 + 1);
    assert_int_equal(sample(text, other), o0 + 2);
    free(text);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    metrics_ack_latency(400);      /* 0.4 ms */
    metrics_ack_latency(1000);     /* exactly 1 ms: in le="0.001" */
    metrics_ack_latency(20000000); /* 20 s: +Inf only */
    char *text = render();
    const char *h = "wardsync_hub_ack_latency_seconds";
    char series[128];
    snprintf(series, sizeof series, "%s_bucket{le=\"0.0005\"}", h);
    assert_int_equal(sample(text, series), 1);
    snprintf(series, sizeof series, "%s_bucket{le=\"0.001\"}", h);
    assert_int_equal(sample(text, series), 2);
    snprintf(series, sizeof series, "%s_bucket{le=\"10\"}", h);
    assert_int_equal(sample(text, series), 2);
    snprintf(series, sizeof series, "%s_bucket{le=\"+Inf\"}", h);
    assert_int_equal(sample(text, series), 3);
    snprintf(series, sizeof series, "%s_count", h);
    assert_int_equal(sample(text, series), 3);
    snprintf(series, sizeof series, "%s_sum", h);
    assert_float_equal(sample(text, series), 20.0014, 1e-9);
    free(text);
}

static void test_summary_is_the_change_since_the_last(void **state)
{
    (void)state;
    struct metrics_summary s;
    metrics_summary_take(&s); /* whatever earlier tests did */
    metrics_batch_committed(4, 1, 0, 2);
    metrics_batch_refused(WARDSYNC__V1__ACK__REFUSAL__REFUSAL_BUSY);
    metrics_commit_time(1500);
    metrics_commit_time(9000);
    metrics_commit_time(3000);
    metrics_connections("ingest", 17);
    metrics_connections("pull", 2);
    metrics_summary_take(&s);
    assert_int_equal(s.batches, 1);
    assert_int_equal(s.events, 7);
    assert_int_equal(s.duplicates, 1);
    assert_int_equal(s.conflicts, 0);
    assert_int_equal(s.rejected, 2);
    assert_int_equal(s.refused, 1);
    assert_int_equal(s.slowest_commit_us, 9000);
    assert_int_equal(s.agents, 17);
    metrics_summary_take(&s);
    assert_int_equal(s.batches, 0);
    assert_int_equal(s.events, 0);
    assert_int_equal(s.refused, 0);
    assert_int_equal(s.slowest_commit_us, 0); /* the slowest of its own */
    assert_int_equal(s.agents, 17);           /* a gauge, not a delta */
    assert_int_equal(now_value("wardsync_hub_connections{socket=\"pull\"}"), 2);
}

static void test_units_keep_their_last_contact(void **state)
{
    (void)state;
    metrics_unit_contact("LB05", 12);
    metrics_unit_contact("LB05", 3);
    metrics_unit_contact("a\"b\\c\nd", 1); /* escaped, never breaks a line */
    metrics_unit_contact("", 9);           /* not a unit: ignored */
    char *text = render();
    assert_int_equal(
        sample(text, "wardsync_hub_unit_backlog_events{unit=\"LB05\"}"), 3);
    assert_int_equal(
        sample(text,
               "wardsync_hub_unit_backlog_events{unit=\"a\\\"b\\\\c\\nd\"}"),
        1);
    assert_true(
        sample(
            text,
            "wardsync_hub_unit_last_contact_timestamp_seconds{unit=\"LB05\"}") >
        1.6e9);
    assert_null(strstr(text, "{unit=\"\"}"));
    free(text);
}

static void test_datasets_are_bounded(void **state)
{
    (void)state;
    metrics_pull_request("indicators");
    metrics_pull_request("indicators");
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "set%02d", i);
        metrics_pull_request(name);
    }
    char *text = render();
    assert_int_equal(
        sample(text,
               "wardsync_hub_pull_requests_total{dataset=\"indicators\"}"),
        2);
    size_t lines = 0;
    for (const char *p = text;
         (p = strstr(p, "\nwardsync_hub_pull_requests_total{")); p++)
        lines++;
    assert_int_equal(lines, 16); /* the table's size: never unbounded */
    free(text);
}

static void test_endpoint_setting(void **state)
{
    (void)state;
    struct metrics_server *s = (struct metrics_server *)&s;
    char err[512];
    assert_int_equal(metrics_start("none", &s, err, sizeof err), 0);
    assert_null(s);
    assert_int_equal(metrics_start("", &s, err, sizeof err), 0);
    assert_null(s);
    static const char *const bad[] = {
        "9741",        "127.0.0.1",       "127.0.0.1:",
        "127.0.0.1:x", "127.0.0.1:70000", "localhost:9741",
        "[::1:9741",   ":9741",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (metrics_start(bad[i], &s, err, sizeof err) != -EDOM)
            fail_msg("\"%s\" taken as an endpoint", bad[i]);
        assert_null(s);
        assert_non_null(strstr(err, "hub.metrics_endpoint"));
    }
    assert_int_equal(metrics_start("127.0.0.1:0", &s, err, sizeof err), 0);
    assert_non_null(s);
    metrics_stop(&s);
    assert_null(s);
    metrics_stop(&s); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_family_has_help_and_type),
        cmocka_unit_test(test_batches_by_outcome),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_summary_is_the_change_since_the_last),
        cmocka_unit_test(test_units_keep_their_last_contact),
        cmocka_unit_test(test_datasets_are_bounded),
        cmocka_unit_test(test_endpoint_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
