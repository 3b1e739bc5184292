/*
 * fuzz_catalogue.c - the catalogue file loader (a CSV of records checked
 * for structure: forms, items, groups, levels).
 */
#include "fuzz.h"
#include "wardsync/catalogue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    struct ws_catalogue *cat = NULL;
    const char *path = fuzz_scratch_file(data, size, ".csv");
    if (!path)
        return 0;
    if (ws_catalogue_load(path, &cat, err, sizeof err) == 0) {
        (void)ws_catalogue_form(cat, "leadership");
        ws_catalogue_destroy(&cat);
    }
    return 0;
}
