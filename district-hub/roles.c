/*
 * roles.c - role passwords from their files (contract in roles.h); the SQL
 * is db/roles.c's.
 */
#include "roles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "db/conn.h"
#include "db/roles.h"
#include "wardsync/log.h"

#define MODULE "roles"

/* Reads the first line of a password file (owner-only, like a key). */
static int read_password_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ws_error(MODULE, "could not open file \"%s\": %s", path,
                 strerror(errno));
        return -EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
        ws_error(MODULE,
                 "password file \"%s\" is accessible to others (mode %04o); "
                 "refusing to use it",
                 path, (unsigned)(st.st_mode & 07777));
        fclose(f);
        return -EPERM;
    }
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (strlen(out) < 12) {
        ws_error(MODULE, "password file \"%s\": want at least 12 characters",
                 path);
        memset(out, 0, cap);
        return -EINVAL;
    }
    return 0;
}

static int set_password(const struct hub_settings *settings, struct db *db,
                        const char *role, const char *path)
{
    char password[256], err[1024];
    int rc = read_password_file(path, password, sizeof password);
    if (rc < 0)
        return rc;
    rc = db_roles_set_password(db, settings->database, role, password, err,
                               sizeof err);
    memset(password, 0, sizeof password);
    if (rc < 0)
        ws_error(MODULE, "could not set the password of %s: %s", role, err);
    else
        ws_info(MODULE, "password current role=%s from=%s", role, path);
    return rc;
}

int roles_set_passwords(const struct hub_settings *settings)
{
    if (!settings->hub_role_password_file && !settings->city_role_password_file)
        return 0;
    char err[1024];
    struct db *db = NULL;
    int rc = db_open(settings->database, "district-hub migrate", &db, err,
                     sizeof err);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        return rc;
    }
    if (settings->hub_role_password_file)
        rc = set_password(settings, db, "wardsync_hub",
                          settings->hub_role_password_file);
    if (rc == 0 && settings->city_role_password_file)
        rc = set_password(settings, db, "wardsync_city",
                          settings->city_role_password_file);
    db_close(&db);
    return rc;
}
