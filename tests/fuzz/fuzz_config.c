/*
 * fuzz_config.c - the INI configuration loader (config.c over inih), then
 * the typed getters both programs use.
 */
#include <stdint.h>

#include "fuzz.h"
#include "wardsync/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct ws_config *cfg = NULL;
    const char *path = fuzz_scratch_file(data, size, ".ini");
    if (!path)
        return 0;
    if (ws_config_load(path, &cfg, err, sizeof err) == 0) {
        int64_t v;
        (void)ws_config_get(cfg, "agent", "ward", "");
        (void)ws_config_get(cfg, "hub", "database", "");
        ws_config_get_int(cfg, "agent", "batch_size", 500, 1, 100000, &v, err,
                          sizeof err);
        ws_config_get_int(cfg, "hub", "max_frame", 1024, 1024, INT32_MAX, &v,
                          err, sizeof err);
        ws_config_destroy(&cfg);
    }
    return 0;
}
