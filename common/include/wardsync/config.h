/*
 * config.h - INI configuration files (parsed by inih).
 *
 * A config is a flat list of (section, key, value). Programs read values
 * with defaults, so a missing file section simply means "use defaults".
 * Environment overrides: WARDSYNC_<SECTION>_<KEY> (upper case) wins over
 * the file, so tests and containers can set one value without a file.
 */
#ifndef WARDSYNC_CONFIG_H
#define WARDSYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_config;

/* Loads path (NULL: an empty config). Returns 0 and a new config in *out, or
 * a negative errno with "file:line: reason" in err. Lines longer than inih's
 * compiled-in limit (INI_MAX_LINE, 200 bytes in Debian) are an error rather
 * than silently cut. */
int ws_config_load(const char *path, struct ws_config **out, char *err,
                   size_t errlen);

void ws_config_destroy(struct ws_config **cfg);

/* The value (environment override first), or def when absent. An empty
 * value, in the file ("catalogue =") or the environment, counts as absent.
 * Section and key names compare case-insensitively; a key given twice in
 * the file takes its later value. The returned string belongs to the config
 * or the environment. */
const char *ws_config_get(const struct ws_config *cfg, const char *section,
                          const char *key, const char *def);

/* Integer value in [min, max]; returns 0 and sets *out (def when absent), or
 * -EINVAL with "WHERE: reason" in err, WHERE as ws_config_where. */
int ws_config_get_int(const struct ws_config *cfg, const char *section,
                      const char *key, int64_t def, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t errlen);

/* Writes where the value of section.key comes from into out, for messages:
 * "FILE:LINE: section.key" from the file, "environment WARDSYNC_S_K" from
 * the environment, else "section.key". Returns 0 or -ENAMETOOLONG (out then
 * holds a cut text). */
int ws_config_where(const struct ws_config *cfg, const char *section,
                    const char *key, char *out, size_t outlen);

/* Checks that every entry of the file is in section and one of keys (a
 * NULL-terminated list, compared case-insensitively): a misspelt key is an
 * error, not a silent default. Returns 0, or -EINVAL with
 * "FILE:LINE: unknown key \"k\" in [section]" (or the unknown section) in
 * err. The environment is not checked: it holds other programs' variables
 * too. */
int ws_config_check_keys(const struct ws_config *cfg, const char *section,
                         const char *const *keys, char *err, size_t errlen);

#endif
