/*
 * keys.c - the key commands (contract in keys.h); the SQL is db/keys.c's.
 */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db/conn.h"
#include "db/keys.h"
#include "wardsync/keys.h"
#include "wardsync/log.h"

#define MODULE "keys"

int keys_keygen_run(const char *path, bool force)
{
    struct ws_keypair pair;
    char err[512];
    if (ws_keys_generate(&pair) < 0) {
        ws_error(MODULE, "could not generate a key pair: libzmq has no CURVE");
        return -EIO;
    }
    int rc = ws_keys_write(path, &pair, force, err, sizeof err);
    ws_keys_wipe(&pair);
    if (rc < 0) {
        ws_error(MODULE, "%s", err);
        return rc == -EEXIST ? -EEXIST : -EIO;
    }
    printf("public key: %s\nwrote %s and %s_secret\n", pair.public_z85, path,
           path);
    return 0;
}

static struct db *connect_owner(const struct hub_settings *settings,
                                const char *who)
{
    char err[1024];
    struct db *db = NULL;
    if (db_open(settings->database, who, &db, err, sizeof err) < 0)
        ws_error(MODULE, "%s", err);
    return db;
}

int keys_enroll_run(const struct hub_settings *settings,
                    enum principal_kind kind, const char *code,
                    const char *key_file)
{
    char reason[256], err[1024];
    struct ws_keypair key;
    if (ws_keys_read_public(key_file, &key, reason, sizeof reason) < 0) {
        ws_error(MODULE, "%s", reason);
        return -EINVAL;
    }
    struct db *db = connect_owner(settings, "district-hub enroll");
    if (!db)
        return -EIO;
    int rc = db_keys_enroll(db, kind, code, key.public_z85, err, sizeof err);
    db_close(&db);
    if (rc == -ENOENT || rc == -EEXIST) {
        ws_error(MODULE, "%s", err);
        return -EINVAL;
    }
    if (rc < 0) {
        ws_error(MODULE, "could not enroll key: %s", err);
        return -EIO;
    }
    char principal[PRINCIPAL_TEXT_MAX];
    principal_format(kind, code, principal, sizeof principal);
    ws_info(MODULE, "enrolled principal=%s key=%s", principal, key.public_z85);
    return 0;
}

static void log_revoked(const char *principal, const char *key_z85, void *arg)
{
    (void)arg;
    ws_info(MODULE, "revoked principal=%s key=%s", principal, key_z85);
}

int keys_revoke_run(const struct hub_settings *settings,
                    enum principal_kind kind, const char *code,
                    const char *key_file)
{
    char reason[256], err[1024], principal[PRINCIPAL_TEXT_MAX] = "";
    struct ws_keypair key = {{0}, {0}};
    if (code)
        principal_format(kind, code, principal, sizeof principal);
    if (key_file &&
        ws_keys_read_public(key_file, &key, reason, sizeof reason) < 0) {
        ws_error(MODULE, "%s", reason);
        return -EINVAL;
    }
    struct db *db = connect_owner(settings, "district-hub revoke");
    if (!db)
        return -EIO;
    int n = db_keys_revoke(db, principal[0] ? principal : NULL,
                           key.public_z85[0] ? key.public_z85 : NULL,
                           log_revoked, NULL, err, sizeof err);
    db_close(&db);
    if (n < 0) {
        ws_error(MODULE, "could not revoke: %s", err);
        return -EIO;
    }
    if (n == 0) {
        ws_error(MODULE, "no active key matches%s%s%s%s",
                 principal[0] ? " principal=" : "", principal,
                 key.public_z85[0] ? " key=" : "", key.public_z85);
        return -EINVAL;
    }
    return 0;
}
