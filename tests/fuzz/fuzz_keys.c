/*
 * fuzz_keys.c - the CURVE key file parser (keys.c).
 */
#include "fuzz.h"
#include "wardsync/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_keypair pair;
    char err[256];
    if (size > WS_KEY_FILE_MAX)
        return 0; /* the reader refuses larger files before parsing */
    ws_keys_parse((const char *)data, size, &pair, err, sizeof err);
    ws_keys_wipe(&pair);
    return 0;
}
