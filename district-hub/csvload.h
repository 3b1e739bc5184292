/*
 * csvload.h - applies every record of an operator's CSV file (rounds,
 * petition deadline rules) in one transaction of a database session
 * (db/conn.h): all of the file or none of it.
 */
#ifndef DISTRICT_HUB_CSVLOAD_H
#define DISTRICT_HUB_CSVLOAD_H

#include <stddef.h>

struct db;

#include "wardsync/csv.h"

/* Applies one record; returns 0, -EINVAL (bad record, reason in err) or
 * -EIO (database). */
typedef int (*csvload_apply_fn)(struct db *db, const struct ws_csv_record *rec,
                                char *err, size_t errlen);

/* Reads path, skips a first record whose first field is header, applies
 * the others with apply and commits; on any error rolls back. Errors are
 * logged under module as "path:line: reason". Returns 0, -EINVAL
 * (a bad record) or -EIO (the file, the database), and the records applied in
 * *applied. */
int csvload_apply(struct db *db, const char *module, const char *path,
                  const char *header, csvload_apply_fn apply, size_t *applied);

#endif
