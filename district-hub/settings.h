/*
 * settings.h - the hub's configuration: file, environment, command line.
 *
 * Precedence, highest first: the command line (--database, --ingest), the
 * environment (WARDSYNC_HUB_<KEY>), the [hub] section of the -c file, the
 * compiled-in defaults. Paths of the migrations and seed data default to
 * the data folder of the install (wardsync/paths.h: share/wardsync beside
 * the binary's bin/, or $WARDSYNC_DATA_DIR), never to the source tree.
 */
#ifndef DISTRICT_HUB_SETTINGS_H
#define DISTRICT_HUB_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#define HUB_DEFAULT_DATABASE                                                   \
    "host=127.0.0.1 port=54329 dbname=wardsync user=wardsync_owner"
#define HUB_DEFAULT_INGEST "tcp://*:7401"
#define HUB_DEFAULT_MAX_WAITING_EVENTS 50000
/* Sized for a few thousand agents connecting at once (libzmq's own
 * default is 100). */
#define HUB_DEFAULT_LISTEN_BACKLOG 4096
#define HUB_DEFAULT_SUMMARY_INTERVAL_S 60

/* Every string points into the loaded config, the environment, argv or a
 * literal; all stay valid until settings_release. */
struct hub_settings {
    struct ws_config *config; /* owned */
    const char *database;     /* libpq conninfo */
    const char *ingest;       /* ZeroMQ endpoint to bind */
    int64_t max_frame;        /* largest accepted frame, bytes */
    /* Group commit: once batches are arriving faster than one commit each,
     * wait up to this long for more before committing them together. */
    int64_t group_commit_ms;
    /* Events decoded and waiting for a commit past which the hub is full:
     * a batch of an agent that already has one waiting is answered "hub
     * busy" with retry_after_ms (docs/DESIGN.md §4). */
    int64_t max_waiting_events;
    /* ZMQ_BACKLOG of the ingest and pull endpoints: connections the
     * kernel queues before the hub accepts them (capped by
     * net.core.somaxconn). */
    int64_t listen_backlog;
    /* Seconds between the info-level summary lines of "run"; 0: none. */
    int64_t summary_interval_s;
    /* "HOST:PORT" of the Prometheus metrics endpoint, or "none". */
    const char *metrics_endpoint;
    const char *sql_dir;        /* folder of NNN_name.sql migrations */
    const char *org_units;      /* org_units.csv */
    const char *petition_rules; /* petition_rules.csv */
    const char *catalogue;      /* catalogue.csv */
    const char *secret_key;     /* hub CURVE secret key file, or NULL */
    /* Files holding the passwords migrate gives the wardsync_hub and
     * wardsync_city roles; NULL leaves a role's password as it is. */
    const char *hub_role_password_file;
    const char *city_role_password_file;
    /* The data folder's copies, which the paths above default to. */
    struct {
        char sql_dir[4096];
        char org_units[4096];
        char petition_rules[4096];
        char catalogue[4096];
    } installed;
};

/* Loads config_path (NULL: none) and resolves every setting; database may
 * be NULL (not given on the command line). Returns 0, or -EINVAL
 * (a bad configuration file or value) / -EIO with the reason in err. On success
 * the caller releases *out with settings_release. */
int settings_load(const char *config_path, const char *database,
                  struct hub_settings *out, char *err, size_t errlen);

/* Frees what settings_load allocated; safe on a zeroed struct. */
void settings_release(struct hub_settings *settings);

#endif
