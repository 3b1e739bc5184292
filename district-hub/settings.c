/*
 * settings.c - resolve the hub's settings once, so every command sees the
 * same values with the same precedence.
 */
#include "settings.h"

#include <errno.h>
#include <string.h>

#include "metrics.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/config.h"
#include "wardsync/paths.h"

/* The installed copy of a data file: rel under the data folder (paths.h),
 * written into buf. An error leaves buf empty, and opening "" then names
 * the setting to give. */
static const char *data_path(const char *rel, char *buf, size_t cap)
{
    if (ws_data_path(rel, buf, cap) < 0)
        buf[0] = '\0';
    return buf;
}

/* Every [hub] key a module of the hub reads, documented once in
 * packaging/etc/hub.conf: a key not in this list is an error naming its
 * file and line (a module that reads a new key adds it here and there). */
static const char *const hub_keys[] = {"database",
                                       "ingest",
                                       "max_frame",
                                       "group_commit_ms",
                                       "max_waiting_events",
                                       "listen_backlog",
                                       "summary_interval_s",
                                       "metrics_endpoint",
                                       "sql_dir",
                                       "org_units",
                                       "petition_rules",
                                       "catalogue",
                                       "secret_key",
                                       "hub_role_password_file",
                                       "city_role_password_file",
                                       "pull",
                                       "flag_min_ballots",
                                       "flag_level3_share",
                                       "flag_level23_share",
                                       "suppress_below",
                                       "due_soon_days",
                                       NULL};

int settings_load(const char *config_path, const char *database,
                  struct hub_settings *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = ws_config_load(config_path, &out->config, err, errlen);
    if (rc < 0)
        return rc == -EINVAL ? -EINVAL : -EIO;
    if (ws_config_check_keys(out->config, "hub", hub_keys, err, errlen) < 0) {
        settings_release(out);
        return -EINVAL;
    }

    out->database = database ? database
                             : ws_config_get(out->config, "hub", "database",
                                             HUB_DEFAULT_DATABASE);
    out->ingest =
        ws_config_get(out->config, "hub", "ingest", HUB_DEFAULT_INGEST);
    rc =
        ws_config_get_int(out->config, "hub", "max_frame", WS_MAX_FRAME_DEFAULT,
                          1024, INT32_MAX, &out->max_frame, err, errlen);
    if (rc == 0)
        rc = ws_config_get_int(out->config, "hub", "group_commit_ms", 2, 0,
                               1000, &out->group_commit_ms, err, errlen);
    if (rc == 0)
        rc = ws_config_get_int(out->config, "hub", "max_waiting_events",
                               HUB_DEFAULT_MAX_WAITING_EVENTS, 1, 1000000,
                               &out->max_waiting_events, err, errlen);
    if (rc == 0)
        rc = ws_config_get_int(out->config, "hub", "listen_backlog",
                               HUB_DEFAULT_LISTEN_BACKLOG, 1, 65535,
                               &out->listen_backlog, err, errlen);
    if (rc == 0)
        rc = ws_config_get_int(out->config, "hub", "summary_interval_s",
                               HUB_DEFAULT_SUMMARY_INTERVAL_S, 0, 86400,
                               &out->summary_interval_s, err, errlen);
    if (rc < 0) {
        settings_release(out);
        return -EINVAL;
    }
    out->sql_dir =
        ws_config_get(out->config, "hub", "sql_dir",
                      data_path("district-hub/sql", out->installed.sql_dir,
                                sizeof out->installed.sql_dir));
    out->org_units = ws_config_get(out->config, "hub", "org_units",
                                   data_path("district-hub/data/org_units.csv",
                                             out->installed.org_units,
                                             sizeof out->installed.org_units));
    out->petition_rules =
        ws_config_get(out->config, "hub", "petition_rules",
                      data_path("district-hub/data/petition_rules.csv",
                                out->installed.petition_rules,
                                sizeof out->installed.petition_rules));
    if (ws_catalogue_default_path(out->installed.catalogue,
                                  sizeof out->installed.catalogue) < 0)
        out->installed.catalogue[0] = '\0';
    out->catalogue = ws_config_get(out->config, "hub", "catalogue",
                                   out->installed.catalogue);
    out->metrics_endpoint = ws_config_get(
        out->config, "hub", "metrics_endpoint", METRICS_DEFAULT_ENDPOINT);
    out->secret_key = ws_config_get(out->config, "hub", "secret_key", NULL);
    out->hub_role_password_file =
        ws_config_get(out->config, "hub", "hub_role_password_file", NULL);
    out->city_role_password_file =
        ws_config_get(out->config, "hub", "city_role_password_file", NULL);
    return 0;
}

void settings_release(struct hub_settings *settings)
{
    ws_config_destroy(&settings->config);
    memset(settings, 0, sizeof *settings);
}
