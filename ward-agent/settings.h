/*
 * settings.h - the ward agent's settings: defaults (docs/contracts.md), then
 * the INI file's [agent] section, then WARDSYNC_AGENT_<KEY> environment
 * variables (both through ws_config), then command-line options.
 */
#ifndef WARD_AGENT_SETTINGS_H
#define WARD_AGENT_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

struct ws_config;
struct ws_catalogue;

#define SETTINGS_WINDOW_MAX 64

/* Command-line values that override the file and the environment; NULL
 * means "not given". */
struct agent_overrides {
    const char *config_path;
    const char *home;
    const char *ward;
    const char *hub;
};

struct agent_settings {
    struct ws_config *config; /* owns the strings below */
    const char *ward;         /* "" when not configured */
    const char *hub;
    const char *home;
    const char *catalogue;      /* NULL: the built-in default */
    const char *secret_key;     /* CURVE secret key file; NULL: no CURVE */
    const char *hub_public_key; /* hub's public key file; NULL: no CURVE */
    const char *language;       /* "vi", "en", or NULL: not configured (the
                                   environment decides, i18n.h) */
    int64_t batch_size;
    int64_t ack_timeout_ms;
    int64_t window; /* batches in flight at once, 1..SETTINGS_WINDOW_MAX */
    int64_t inbox_poll_ms;
    int64_t inbox_settle_ms; /* a dropped file unchanged this long is taken */
    int64_t max_frame;
    char outbox_path[4096];
};

/* Loads the settings and sets the language of messages from them
 * (ws_i18n_init). Returns 0, or a negative errno with the reason already
 * printed to stderr (an unreadable file or an out-of-range value). */
int settings_load(const struct agent_overrides *overrides,
                  struct agent_settings *settings);

void settings_free(struct agent_settings *settings);

/* Creates home and its inbox/, done/ and rejected/ folders when missing;
 * home is made readable by the agent's user only (0700), also when it
 * already existed (issue 11: the outbox holds every row the ward sent).
 * Returns 0 or a negative errno (logged). */
int settings_make_home(const struct agent_settings *settings);

/* Loads the configured catalogue (or the built-in default). Returns 0 or a
 * negative errno (logged). */
int settings_load_catalogue(const struct agent_settings *settings,
                            struct ws_catalogue **out);

/* Exit codes of docs/contracts.md. */
enum {
    EXIT_OK = 0,
    EXIT_BAD_INPUT = 1,
    EXIT_USAGE = 2,
    EXIT_IO = 3,
};

#endif
