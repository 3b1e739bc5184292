/*
 * migrations.h - the warehouse migrations, city-pull/sql/NNN_name.sql,
 * built into the program (embed_sql.cmake), in version order.
 */
#ifndef CITY_PULL_MIGRATIONS_H
#define CITY_PULL_MIGRATIONS_H

#include <stddef.h>

struct migration {
    int version;
    const char *name; /* the file's name */
    const char *sql;  /* the file's bytes */
};

extern const struct migration MIGRATIONS[];
extern const size_t N_MIGRATIONS;

#endif
