/*
 * migrate.c - bring a database to the current schema and seed it.
 *
 * Everything that can be checked without the database (the migration file
 * names and bytes, the org units file, the catalogue) is checked first, so
 * bad input is reported as such (-EINVAL: exit 1) before anything is written.
 *
 * Migrations are forward-only (docs/DESIGN.md §5): each is recorded with
 * the SHA-256 of its file, and a database whose record disagrees with the
 * files (a file edited or removed after it was applied, or a database
 * migrated before the baseline, whose record has no checksums) is refused
 * with exit 1, by "migrate" and by "run" alike, before anything is
 * applied. The SQL itself is db/schema.c's; this file reads and decides.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/conn.h"
#include "db/schema.h"
#include "indicators.h"
#include "roles.h"
#include "wardsync/catalogue.h"
#include "wardsync/csv.h"
#include "wardsync/log.h"
#include "wardsync/validate.h"
#include "wardsync/util.h"

#define MODULE "migrate"
#define ORG_UNIT_NAME_MAX 200

struct migration {
    int version;
    char name[128];
    char path[4096];
    char *sql; /* the file, NUL-terminated; malloc'd */
    char sha256[SCHEMA_SHA256_HEX];
};

struct migration_list {
    size_t n, cap;
    struct migration *items;
};

struct org_unit_list {
    size_t n, cap;
    struct schema_org_unit *items; /* strings strdup'd */
    long *lines;
};

static int compare_migrations(const void *a, const void *b)
{
    const struct migration *ma = a, *mb = b;
    return (ma->version > mb->version) - (ma->version < mb->version);
}

/* "NNN_name.sql" with NNN decimal digits and name of [a-z0-9_]: sets
 * version and name and returns true; other files are not migrations. */
static bool parse_migration_name(const char *file, int *version, char *name,
                                 size_t cap)
{
    const char *p = file;
    long v = 0;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p - '0');
        if (v > 999999)
            return false;
        p++;
    }
    if (*p++ != '_')
        return false;
    size_t len = strlen(p);
    if (len <= 4 || strcmp(p + len - 4, ".sql") != 0 || len - 4 >= cap)
        return false;
    for (size_t i = 0; i < len - 4; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '_')
            return false;
    memcpy(name, p, len - 4);
    name[len - 4] = '\0';
    *version = (int)v;
    return true;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer; its length
 * (which a NUL inside the file makes differ from strlen) in *len. */
static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ws_error(MODULE, "could not open file \"%s\": %s", path,
                 strerror(errno));
        return NULL;
    }
    size_t len = 0, cap = 8192;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 4096 + 1 > cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    if (buf && ferror(f)) {
        ws_error(MODULE, "could not read file \"%s\": %s", path,
                 strerror(errno));
        free(buf);
        buf = NULL;
    } else if (buf) {
        buf[len] = '\0';
        *len_out = len;
    } else {
        ws_error(MODULE, "out of memory reading \"%s\"", path);
    }
    fclose(f);
    return buf;
}

static void migration_list_free(struct migration_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i].sql);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* Reads the file of m and its SHA-256. A NUL byte would cut the SQL
 * short of what the checksum covers, so it is refused. Returns 0, -EINVAL or
 * -EIO. */
static int load_migration(struct migration *m)
{
    size_t len = 0;
    m->sql = read_file(m->path, &len);
    if (!m->sql)
        return -EIO;
    if (strlen(m->sql) != len) {
        ws_error(MODULE, "migration file \"%s\" contains a NUL byte", m->path);
        return -EINVAL;
    }
    unsigned char hash[crypto_hash_sha256_BYTES];
    if (sodium_init() < 0 ||
        crypto_hash_sha256(hash, (const unsigned char *)m->sql, len) != 0) {
        ws_error(MODULE, "could not compute the SHA-256 of \"%s\"", m->path);
        return -EIO;
    }
    sodium_bin2hex(m->sha256, sizeof m->sha256, hash, sizeof hash);
    return 0;
}

/* Lists the migrations of dir in version order, each with its SQL and
 * checksum. Returns 0, -EINVAL or -EIO; the caller frees the list with
 * migration_list_free either way. */
static int list_migrations(const char *dir, struct migration_list *list)
{
    DIR *d = opendir(dir);
    if (!d) {
        ws_error(MODULE, "could not open directory \"%s\": %s", dir,
                 strerror(errno));
        return -EIO;
    }
    struct dirent *entry;
    int rc = 0;
    while ((entry = readdir(d)) != NULL) {
        struct migration m = {0};
        if (!parse_migration_name(entry->d_name, &m.version, m.name,
                                  sizeof m.name))
            continue;
        snprintf(m.path, sizeof m.path, "%s/%s", dir, entry->d_name);
        if (list->n == list->cap) {
            size_t cap = list->cap ? list->cap * 2 : 16;
            struct migration *items = realloc(list->items, cap * sizeof *items);
            if (!items) {
                ws_error(MODULE, "out of memory");
                rc = -EIO;
                goto out_dir;
            }
            list->items = items;
            list->cap = cap;
        }
        list->items[list->n++] = m;
    }
    if (list->n == 0) {
        ws_error(MODULE, "no migrations (NNN_name.sql) in \"%s\"", dir);
        rc = -EIO;
        goto out_dir;
    }
    qsort(list->items, list->n, sizeof *list->items, compare_migrations);
    for (size_t i = 1; i < list->n; i++) {
        if (list->items[i].version == list->items[i - 1].version) {
            ws_error(MODULE, "two migrations with version %d: \"%s\", \"%s\"",
                     list->items[i].version, list->items[i - 1].path,
                     list->items[i].path);
            rc = -EINVAL;
            goto out_dir;
        }
    }
    for (size_t i = 0; i < list->n && rc == 0; i++)
        rc = load_migration(&list->items[i]);

out_dir:
    closedir(d);
    return rc;
}

static const struct migration *find_migration(const struct migration_list *l,
                                              int version)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].version == version)
            return &l->items[i];
    return NULL;
}

/* Compares what the database records with the files of dir: every applied
 * migration must have its file, under the same name and with the same
 * checksum (a migration is never edited once applied), and every file not
 * yet applied must be numbered after the newest applied one (forward-only:
 * a file slipped in before it would run out of order). Logs every
 * disagreement and returns -EINVAL, or 0 with the number
 * of migrations still to apply in *pending. */
static int check_applied(const char *dir, const struct migration_list *files,
                         const struct schema_applied_list *applied,
                         size_t *pending)
{
    *pending = files->n;
    if (!applied->exists)
        return 0;
    if (!applied->checksummed) {
        ws_error(MODULE,
                 "the database predates the baseline schema: its "
                 "schema_migrations has no sha256 column, so it was migrated "
                 "with the migrations that 001_baseline.sql replaced; such a "
                 "database cannot be migrated (no district runs one): "
                 "recreate it empty and run \"district-hub migrate\"");
        return -EINVAL;
    }
    int rc = 0;
    const struct schema_applied *newest = NULL;
    for (size_t i = 0; i < applied->n; i++) {
        const struct schema_applied *a = &applied->items[i];
        if (!newest || a->version > newest->version)
            newest = a;
        const struct migration *m = find_migration(files, a->version);
        if (!m) {
            ws_error(MODULE,
                     "migration %03d_%s is applied to this database but no "
                     "file in \"%s\" has version %d (recorded sha256 %s); a "
                     "migration is never removed once applied: restore it",
                     a->version, a->name, dir, a->version, a->sha256);
            rc = -EINVAL;
            continue;
        }
        (*pending)--;
        if (strcmp(m->name, a->name) != 0) {
            ws_error(MODULE,
                     "migration %d is applied to this database as \"%s\" but "
                     "its file is \"%s\"; a migration is never renamed once "
                     "applied: restore the file's name",
                     a->version, a->name, m->path);
            rc = -EINVAL;
        } else if (strcmp(m->sha256, a->sha256) != 0) {
            ws_error(MODULE,
                     "migration %d file \"%s\" differs from the one applied "
                     "to this database: recorded sha256 %s, file sha256 %s; "
                     "a migration is never edited once applied: restore the "
                     "file and write the change as the next migration",
                     a->version, m->path, a->sha256, m->sha256);
            rc = -EINVAL;
        }
    }
    for (size_t i = 0; newest && i < files->n; i++) {
        const struct migration *m = &files->items[i];
        bool done = false;
        for (size_t j = 0; j < applied->n && !done; j++)
            done = applied->items[j].version == m->version;
        if (!done && m->version < newest->version) {
            ws_error(MODULE,
                     "migration file \"%s\" is numbered before %03d_%s, the "
                     "newest migration applied to this database; migrations "
                     "are forward-only: number it after %d",
                     m->path, newest->version, newest->name, newest->version);
            rc = -EINVAL;
        }
    }
    if (rc < 0)
        ws_error(MODULE,
                 "refusing a database whose migrations do not match the "
                 "files of \"%s\"",
                 dir);
    return rc;
}

static void org_units_free(struct org_unit_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free((char *)list->items[i].code);
        free((char *)list->items[i].name);
        free((char *)list->items[i].kind);
        free((char *)list->items[i].parent);
    }
    free(list->items);
    free(list->lines);
    memset(list, 0, sizeof *list);
}

static int org_units_append(struct org_unit_list *list, const char *code,
                            const char *name, const char *kind,
                            const char *parent, long line)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 32;
        struct schema_org_unit *items =
            realloc(list->items, cap * sizeof *items);
        if (!items)
            return -ENOMEM;
        list->items = items;
        long *lines = realloc(list->lines, cap * sizeof *lines);
        if (!lines)
            return -ENOMEM;
        list->lines = lines;
        list->cap = cap;
    }
    struct schema_org_unit *u = &list->items[list->n];
    u->code = strdup(code);
    u->name = strdup(name);
    u->kind = strdup(kind);
    u->parent = strdup(parent);
    list->lines[list->n] = line;
    list->n++;
    if (!u->code || !u->name || !u->kind || !u->parent)
        return -ENOMEM;
    return 0;
}

/* Checks one row; returns true or false with the reason in reason. */
static bool org_unit_row_ok(const char *code, const char *name,
                            const char *kind, const char *parent, char *reason,
                            size_t cap)
{
    if (ws_validate_code("code", code, reason, cap) != 0)
        return false;
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len > ORG_UNIT_NAME_MAX ||
        !ws_utf8_valid(name, name_len)) {
        snprintf(reason, cap, "name: want 1..%d bytes of UTF-8",
                 ORG_UNIT_NAME_MAX);
        return false;
    }
    bool is_city = strcmp(kind, "city") == 0;
    if (!is_city && strcmp(kind, "district") != 0 &&
        strcmp(kind, "ward") != 0) {
        snprintf(reason, cap, "kind: want city, district or ward");
        return false;
    }
    if (is_city && parent[0] != '\0') {
        snprintf(reason, cap, "parent: a city has no parent");
        return false;
    }
    if (!is_city && ws_validate_code("parent", parent, reason, cap) != 0)
        return false;
    return true;
}

static int find_column(const struct ws_csv_record *header, const char *name)
{
    for (size_t i = 0; i < header->n_fields; i++)
        if (strcmp(header->fields[i], name) == 0)
            return (int)i;
    return -1;
}

/* Reads code,name,kind,parent (any column order). Returns 0, -EINVAL or
 * -EIO; every problem is logged as "file:line: reason". */
static int load_org_units(const char *path, struct org_unit_list *list)
{
    char err[512];
    struct ws_csv_reader *reader = ws_csv_open(path, err, sizeof err);
    if (!reader) {
        ws_error(MODULE, "%s", err);
        return -EIO;
    }
    static const char *const columns[] = {"code", "name", "kind", "parent"};
    int col[4];
    struct ws_csv_record rec;
    int rc = 0;
    int got = ws_csv_next(reader, &rec, err, sizeof err);
    if (got <= 0) {
        ws_error(MODULE, "%s: %s", path, got < 0 ? err : "empty file");
        rc = -EINVAL;
        goto out_reader;
    }
    for (int i = 0; i < 4; i++) {
        col[i] = find_column(&rec, columns[i]);
        if (col[i] < 0) {
            ws_error(MODULE, "%s:%ld: header: missing column \"%s\"", path,
                     rec.line, columns[i]);
            rc = -EINVAL;
            goto out_reader;
        }
    }
    while ((got = ws_csv_next(reader, &rec, err, sizeof err)) > 0) {
        const char *v[4];
        for (int i = 0; i < 4; i++)
            v[i] = (size_t)col[i] < rec.n_fields ? rec.fields[col[i]] : "";
        char reason[256];
        if (!org_unit_row_ok(v[0], v[1], v[2], v[3], reason, sizeof reason)) {
            ws_error(MODULE, "%s:%ld: %s", path, rec.line, reason);
            rc = -EINVAL;
            continue;
        }
        if (org_units_append(list, v[0], v[1], v[2], v[3], rec.line) < 0) {
            ws_error(MODULE, "out of memory");
            rc = -EIO;
            goto out_reader;
        }
    }
    if (got < 0) {
        ws_error(MODULE, "%s: %s", path, err);
        rc = -EINVAL;
        goto out_reader;
    }

    /* The file is the whole hierarchy: codes unique, parents listed. */
    for (size_t i = 0; i < list->n; i++) {
        const struct schema_org_unit *u = &list->items[i];
        bool parent_found = u->parent[0] == '\0';
        for (size_t j = 0; j < list->n; j++) {
            if (j < i && strcmp(list->items[j].code, u->code) == 0) {
                ws_error(MODULE, "%s:%ld: code: %s already on line %ld", path,
                         list->lines[i], u->code, list->lines[j]);
                rc = -EINVAL;
            }
            if (j != i && strcmp(list->items[j].code, u->parent) == 0)
                parent_found = true;
        }
        if (!parent_found) {
            ws_error(MODULE, "%s:%ld: parent: unknown org unit %s", path,
                     list->lines[i], u->parent);
            rc = -EINVAL;
        }
    }

out_reader:
    ws_csv_close(&reader);
    return rc;
}

/* Applies the pending migrations and the seed data; the advisory lock is
 * held by the caller. Returns 0, -EINVAL or -EIO. */
static int migrate_locked(struct db *db, const char *dir,
                          const struct migration_list *migrations,
                          const struct org_unit_list *units,
                          const struct ws_catalogue *cat)
{
    char err[1024];
    struct schema_applied_list applied = {0};
    size_t pending = 0;
    int rc = 0;
    if (schema_applied_read(db, &applied, err, sizeof err) < 0) {
        ws_error(MODULE, "could not read schema_migrations: %s", err);
        rc = -EIO;
        goto out_applied;
    }
    rc = check_applied(dir, migrations, &applied, &pending);
    if (rc < 0)
        goto out_applied;

    size_t applied_now = 0;
    for (size_t i = 0; i < migrations->n; i++) {
        const struct migration *m = &migrations->items[i];
        bool done = false;
        for (size_t j = 0; j < applied.n && !done; j++)
            done = applied.items[j].version == m->version;
        if (done)
            continue;
        if (schema_apply(db, m->version, m->name, m->sha256, m->sql, err,
                         sizeof err) < 0) {
            ws_error(MODULE, "migration %03d_%s failed: %s", m->version,
                     m->name, err);
            rc = -EIO;
            goto out_applied;
        }
        ws_info(MODULE, "applied migration version=%d name=%s sha256=%s",
                m->version, m->name, m->sha256);
        applied_now++;
    }
    if (schema_org_units_upsert(db, units->items, units->n, err, sizeof err) <
        0) {
        ws_error(MODULE, "could not load org units: %s", err);
        rc = -EIO;
        goto out_applied;
    }
    if (schema_catalogue_upsert(db, cat, err, sizeof err) < 0) {
        ws_error(MODULE, "could not load the catalogue: %s", err);
        rc = -EIO;
        goto out_applied;
    }
    size_t items = 0;
    for (size_t i = 0; i < cat->n_forms; i++)
        items += cat->forms[i].n_items;
    ws_info(MODULE,
            "schema up to date version=%d applied=%zu org_units=%zu "
            "forms=%zu items=%zu",
            migrations->items[migrations->n - 1].version, applied_now, units->n,
            cat->n_forms, items);

out_applied:
    schema_applied_list_clear(&applied);
    return rc;
}

int migrate_run(const struct hub_settings *settings)
{
    struct migration_list migrations = {0};
    struct org_unit_list units = {0};
    struct ws_catalogue *cat = NULL;
    struct db *db = NULL;
    char err[1024];

    int rc = list_migrations(settings->sql_dir, &migrations);
    if (rc < 0)
        goto out;
    rc = load_org_units(settings->org_units, &units);
    if (rc < 0)
        goto out;
    int load = ws_catalogue_load(settings->catalogue, &cat, err, sizeof err);
    if (load < 0) {
        ws_error(MODULE, "could not load catalogue: %s", err);
        rc = (load == -ENOENT || load == -EIO || load == -EACCES) ? -EIO
                                                                  : -EINVAL;
        goto out;
    }

    if (db_open(settings->database, "district-hub migrate", &db, err,
                sizeof err) < 0) {
        ws_error(MODULE, "%s", err);
        rc = -EIO;
        goto out;
    }
    if (schema_lock(db, err, sizeof err) < 0) {
        ws_error(MODULE, "could not lock the schema: %s", err);
        rc = -EIO;
        goto out;
    }
    rc = migrate_locked(db, settings->sql_dir, &migrations, &units, cat);
    /* Closing the connection would release the lock too; say so anyway. */
    if (schema_unlock(db, err, sizeof err) < 0)
        ws_warn(MODULE, "could not unlock the schema: %s", err);
    if (rc == 0 && roles_set_passwords(settings) < 0)
        rc = -EIO;
    if (rc == 0)
        rc = indicators_write_settings(settings);

out:
    db_close(&db);
    ws_catalogue_destroy(&cat);
    org_units_free(&units);
    migration_list_free(&migrations);
    return rc;
}

int migrate_ensure(const struct hub_settings *settings)
{
    struct migration_list migrations = {0};
    struct schema_applied_list applied = {0};
    struct db *db = NULL;
    char err[1024];
    size_t pending = 0;

    int rc = list_migrations(settings->sql_dir, &migrations);
    if (rc < 0)
        goto out;
    if (db_open(settings->database, "district-hub run", &db, err, sizeof err) <
        0) {
        ws_error(MODULE, "%s", err);
        rc = -EIO;
        goto out;
    }
    if (schema_applied_read(db, &applied, err, sizeof err) < 0) {
        ws_error(MODULE, "could not read schema_migrations: %s", err);
        rc = -EIO;
        goto out;
    }
    db_close(&db);
    rc = check_applied(settings->sql_dir, &migrations, &applied, &pending);
    if (rc < 0)
        goto out;
    if (pending == 0) {
        ws_info(MODULE, "schema up to date version=%d",
                migrations.items[migrations.n - 1].version);
        goto out;
    }
    ws_info(MODULE, "migrations pending=%zu, migrating", pending);
    rc = migrate_run(settings);
    if (rc == -EIO)
        ws_error(MODULE, "the schema is not current and could not be "
                         "migrated with this connection; run \"district-hub "
                         "migrate\" as the database owner");

out:
    db_close(&db);
    schema_applied_list_clear(&applied);
    migration_list_free(&migrations);
    return rc;
}
