/*
 * fuzz_csv.c - CSV rows as a ward imports them: the first byte picks the
 * kind (ballots, petitions, reception, remediation); the rest is the file,
 * read by the RFC 4180 reader and checked row by row by the agent's import
 * (the shared validation), into an in-memory outbox.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "import.h"
#include "outbox.h"
#include "wardsync/catalogue.h"
#include "wardsync/csv.h"
#include "wardsync/log.h"

#define REOPEN_EVERY 5000

static struct ws_catalogue *cat;
static struct outbox *outbox;
static FILE *sink;
static unsigned runs;

static void setup(void)
{
    char err[256];
    if (!cat) {
        ws_log_set_level(WS_LOG_ERROR);
        if (ws_catalogue_load(WS_FUZZ_CATALOGUE, &cat, err, sizeof err) < 0)
            abort();
        sink = fopen("/dev/null", "w");
        if (!sink)
            abort();
    }
    /* Accepted files queue rows: start afresh now and then. */
    if (outbox && ++runs % REOPEN_EVERY == 0)
        outbox_close(&outbox);
    if (!outbox && outbox_open(":memory:", "LB01", true, &outbox) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    setup();
    const char *path = fuzz_scratch_file(data + 1, size - 1, ".csv");
    if (!path)
        return 0;

    /* The reader alone, every record. */
    char err[512];
    struct ws_csv_reader *reader = ws_csv_open(path, err, sizeof err);
    if (reader) {
        struct ws_csv_record rec;
        while (ws_csv_next(reader, &rec, err, sizeof err) > 0)
            ;
        ws_csv_close(&reader);
    }

    struct import_result result;
    struct import_options options = {
        .label = "fuzz.csv", .report = sink, .max_reported = 5};
    import_file(outbox, cat, (enum import_kind)(data[0] % 4), path, &options,
                &result);
    return 0;
}
