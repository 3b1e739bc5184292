/*
 * fuzz_xlsx.c - the .xlsx reader (ward-agent/xlsx.c) on hostile sheets:
 * the first byte picks the date system, the rest is the body of the first
 * sheet's <sheetData>, wrapped with libzip into a workbook that has shared
 * strings and a date style, then read row by row and imported as a
 * reception file.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "import.h"
#include "outbox.h"
#include "wardsync/catalogue.h"
#include "xlsx.h"
#include "xlsx_fixture.h"

static const char *const shared[] = {"session",  "held_on",       "host_role",
                                     "mode",     "citizens",      "petitions",
                                     "Chủ tịch", "&lt;&amp;&gt;", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ws_catalogue *cat;
    static struct outbox *outbox;
    static FILE *sink;
    char err[512];
    char path[64];

    if (size < 1 || size > 16000)
        return 0;
    if (!cat) {
        if (ws_catalogue_load(WS_FUZZ_CATALOGUE, &cat, err, sizeof err) < 0 ||
            outbox_open(":memory:", "LB01", true, &outbox) < 0 ||
            !(sink = fopen("/dev/null", "w")))
            abort();
    }
    char *rows = malloc(size);
    if (!rows)
        return 0;
    memcpy(rows, data + 1, size - 1);
    rows[size - 1] = '\0';
    snprintf(path, sizeof path, "/tmp/fuzz-xlsx-%d.xlsx", (int)getpid());
    if (xlsx_fixture_write(path, shared, rows, data[0] & 1) == 0) {
        struct xlsx_reader *r = xlsx_open(path, err, sizeof err);
        if (r) {
            struct ws_csv_record rec;
            while (xlsx_next(r, &rec, err, sizeof err) > 0)
                ;
            xlsx_close(&r);
        }
        struct import_result result;
        struct import_options options = {
            .label = "fuzz.xlsx", .report = sink, .max_reported = 5};
        import_file(outbox, cat, IMPORT_RECEPTION, path, &options, &result);
    }
    unlink(path);
    free(rows);
    return 0;
}
