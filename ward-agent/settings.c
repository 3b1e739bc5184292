/*
 * settings.c - the ward agent's configuration, resolved once at start.
 */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/config.h"
#include "wardsync/i18n.h"
#include "wardsync/log.h"
#include "wardsync/util.h"
#include "wardsync/validate.h"

#define SECTION "agent"

static int get_int(const struct agent_settings *settings, const char *key,
                   int64_t def, int64_t min, int64_t max, int64_t *out)
{
    char err[256];
    int rc = ws_config_get_int(settings->config, SECTION, key, def, min, max,
                               out, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "ward-agent: %s\n", err);
    return rc;
}

/* Every [agent] key, documented once in packaging/etc/agent.conf: a key
 * not in this list is an error naming its file and line. */
static const char *const agent_keys[] = {"ward",
                                         "hub",
                                         "home",
                                         "catalogue",
                                         "secret_key",
                                         "hub_public_key",
                                         "batch_size",
                                         "ack_timeout_ms",
                                         "window",
                                         "inbox_poll_ms",
                                         "inbox_settle_ms",
                                         "max_frame",
                                         "language",
                                         NULL};

int settings_load(const struct agent_overrides *overrides,
                  struct agent_settings *settings)
{
    char err[512];
    int rc;

    memset(settings, 0, sizeof(*settings));
    rc = ws_config_load(overrides->config_path, &settings->config, err,
                        sizeof(err));
    if (rc == 0)
        rc = ws_config_check_keys(settings->config, SECTION, agent_keys, err,
                                  sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "ward-agent: %s\n", err);
        ws_config_destroy(&settings->config);
        return rc;
    }
    const struct ws_config *cfg = settings->config;
    settings->ward = overrides->ward ? overrides->ward
                                     : ws_config_get(cfg, SECTION, "ward", "");
    settings->hub = overrides->hub ? overrides->hub
                                   : ws_config_get(cfg, SECTION, "hub",
                                                   "tcp://127.0.0.1:7401");
    settings->home = overrides->home ? overrides->home
                                     : ws_config_get(cfg, SECTION, "home",
                                                     "/var/lib/wardsync/agent");
    settings->catalogue = ws_config_get(cfg, SECTION, "catalogue", NULL);
    if (settings->catalogue && !*settings->catalogue)
        settings->catalogue = NULL;
    settings->secret_key = ws_config_get(cfg, SECTION, "secret_key", NULL);
    if (settings->secret_key && !*settings->secret_key)
        settings->secret_key = NULL;
    settings->hub_public_key =
        ws_config_get(cfg, SECTION, "hub_public_key", NULL);
    if (settings->hub_public_key && !*settings->hub_public_key)
        settings->hub_public_key = NULL;
    settings->language = ws_config_get(cfg, SECTION, "language", NULL);
    if (ws_i18n_init(settings->language, err, sizeof(err)) < 0) {
        fprintf(stderr, "ward-agent: %s\n", err);
        rc = -EINVAL;
        goto fail;
    }
    if (!settings->secret_key != !settings->hub_public_key) {
        fprintf(stderr, _("ward-agent: secret_key and hub_public_key: set "
                          "both (CURVE) or neither (only for a hub run "
                          "--insecure)\n"));
        rc = -EINVAL;
        goto fail;
    }

    if ((rc = get_int(settings, "batch_size", 500, 1, 100000,
                      &settings->batch_size)) < 0 ||
        (rc = get_int(settings, "ack_timeout_ms", 5000, 10, 3600000,
                      &settings->ack_timeout_ms)) < 0 ||
        (rc = get_int(settings, "window", 4, 1, SETTINGS_WINDOW_MAX,
                      &settings->window)) < 0 ||
        (rc = get_int(settings, "inbox_poll_ms", 1000, 10, 3600000,
                      &settings->inbox_poll_ms)) < 0 ||
        (rc = get_int(settings, "inbox_settle_ms", 3000, 0, 3600000,
                      &settings->inbox_settle_ms)) < 0 ||
        (rc = get_int(settings, "max_frame", WS_MAX_FRAME_DEFAULT, 65536,
                      1024 * 1024 * 1024, &settings->max_frame)) < 0)
        goto fail;

    if (*settings->ward) {
        if (ws_validate_code("ward", settings->ward, err, sizeof(err)) < 0) {
            /* From the file or the environment: say which line. */
            char where[512] = "--ward";
            if (!overrides->ward)
                ws_config_where(cfg, SECTION, "ward", where, sizeof where);
            fprintf(stderr, "ward-agent: %s: %s\n", where, err);
            rc = -EINVAL;
            goto fail;
        }
    }
    if (!*settings->home) {
        fprintf(stderr, _("ward-agent: home: must not be empty\n"));
        rc = -EINVAL;
        goto fail;
    }
    if (!*settings->hub) {
        fprintf(stderr, _("ward-agent: hub: must not be empty\n"));
        rc = -EINVAL;
        goto fail;
    }
    int n = snprintf(settings->outbox_path, sizeof(settings->outbox_path),
                     "%s/outbox.db", settings->home);
    if (n < 0 || (size_t)n >= sizeof(settings->outbox_path)) {
        fprintf(stderr, _("ward-agent: home: path too long\n"));
        rc = -ENAMETOOLONG;
        goto fail;
    }
    return 0;

fail:
    settings_free(settings);
    return rc;
}

void settings_free(struct agent_settings *settings)
{
    ws_config_destroy(&settings->config);
}

static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        ws_error("agent", "could not use folder \"%s\": not a folder", path);
        return -ENOTDIR;
    }
    int rc = -errno;
    ws_error("agent", "could not create folder \"%s\": %s", path,
             strerror(-rc));
    return rc;
}

int settings_make_home(const struct agent_settings *settings)
{
    static const char *const subdirs[] = {"inbox", "done", "rejected"};
    char path[4096];
    int rc;

    /* mkdir -p for home itself: create each missing parent in turn. */
    ws_strlcpy(path, settings->home, sizeof(path));
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST) {
            rc = -errno;
            ws_error("agent", "could not create folder \"%s\": %s", path,
                     strerror(-rc));
            return rc;
        }
        *p = '/';
    }
    if ((rc = make_dir(settings->home, 0700)) < 0)
        return rc;
    struct stat st;
    if (stat(settings->home, &st) == 0 && (st.st_mode & 077) != 0) {
        if (chmod(settings->home, st.st_mode & 0700) < 0)
            ws_warn("agent",
                    "could not make home \"%s\" readable by its owner "
                    "only: %s",
                    settings->home, strerror(errno));
        else
            ws_info("agent", "made home owner-only home=%s old_mode=%04o",
                    settings->home, (unsigned)(st.st_mode & 07777));
    }
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", settings->home, subdirs[i]);
        if ((rc = make_dir(path, 0700)) < 0)
            return rc;
    }
    return 0;
}

int settings_load_catalogue(const struct agent_settings *settings,
                            struct ws_catalogue **out)
{
    char err[512];
    char installed[4096];
    const char *path = settings->catalogue;
    if (path == NULL) {
        int rc = ws_catalogue_default_path(installed, sizeof installed);
        if (rc < 0) {
            ws_error("agent", "could not find the catalogue: %s",
                     strerror(-rc));
            return rc;
        }
        path = installed;
    }
    int rc = ws_catalogue_load(path, out, err, sizeof(err));
    if (rc < 0)
        ws_error("agent", "could not load catalogue: %s", err);
    return rc;
}
