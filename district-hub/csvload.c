/*
 * csvload.c - see csvload.h.
 */
#include "csvload.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "db/conn.h"
#include "settings.h"
#include "wardsync/log.h"

int csvload_apply(struct db *db, const char *module, const char *path,
                  const char *header, csvload_apply_fn apply, size_t *applied)
{
    char err[1024], detail[768];
    *applied = 0;
    struct ws_csv_reader *reader = ws_csv_open(path, err, sizeof err);
    if (!reader) {
        ws_error(module, "%s", err);
        return -EIO;
    }
    int rc = 0;
    if (db_command(db, "BEGIN", err, sizeof err) < 0) {
        ws_error(module, "%s", err);
        rc = -EIO;
        goto out_reader;
    }
    struct ws_csv_record rec;
    int got;
    bool first = true;
    while ((got = ws_csv_next(reader, &rec, detail, sizeof detail)) == 1) {
        if (first) {
            first = false;
            if (rec.n_fields >= 1 && strcmp(rec.fields[0], header) == 0)
                continue;
        }
        int r = apply(db, &rec, detail, sizeof detail);
        if (r < 0) {
            ws_error(module, "%s:%ld: %s", path, rec.line, detail);
            rc = r == -EIO ? -EIO : -EINVAL;
            goto out_rollback;
        }
        (*applied)++;
    }
    if (got < 0) {
        ws_error(module, "%s: %s", path, detail);
        rc = -EINVAL;
        goto out_rollback;
    }
    if (db_commit(db, err, sizeof err) < 0) {
        ws_error(module, "%s", err);
        rc = -EIO;
        goto out_rollback;
    }
    goto out_reader;

out_rollback:
    db_rollback(db);
out_reader:
    ws_csv_close(&reader);
    return rc;
}
