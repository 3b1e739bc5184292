/*
 * settings.c - resolve the hub's settings once, so every command sees the
 * same values with the same precedence.
 */
#include "settings.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "metrics.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/config.h"

#ifndef WS_HUB_SOURCE_SQL_DIR
#define WS_HUB_SOURCE_SQL_DIR "district-hub/sql"
#endif
#ifndef WS_HUB_INSTALL_SQL_DIR
#define WS_HUB_INSTALL_SQL_DIR "/usr/local/share/wardsync/district-hub/sql"
#endif
#ifndef WS_HUB_SOURCE_ORG_UNITS
#define WS_HUB_SOURCE_ORG_UNITS "district-hub/data/org_units.csv"
#endif
#ifndef WS_HUB_INSTALL_ORG_UNITS
#define WS_HUB_INSTALL_ORG_UNITS                                               \
    "/usr/local/share/wardsync/district-hub/data/org_units.csv"
#endif

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The source-tree copy while the tree the binary was built from is still
 * there (development, tests), else the installed copy. */
static const char *default_path(const char *source, const char *installed)
{
    return path_exists(source) ? source : installed;
}

int settings_load(const char *config_path, const char *database,
                  struct hub_settings *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = ws_config_load(config_path, &out->config, err, errlen);
    if (rc < 0)
        return rc == -EINVAL ? -EINVAL : -EIO;

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
    out->sql_dir = ws_config_get(
        out->config, "hub", "sql_dir",
        default_path(WS_HUB_SOURCE_SQL_DIR, WS_HUB_INSTALL_SQL_DIR));
    out->org_units = ws_config_get(
        out->config, "hub", "org_units",
        default_path(WS_HUB_SOURCE_ORG_UNITS, WS_HUB_INSTALL_ORG_UNITS));
    out->catalogue = ws_config_get(out->config, "hub", "catalogue",
                                   ws_catalogue_default_path());
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
