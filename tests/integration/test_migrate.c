/*
 * test_migrate.c - forward-only, checksummed migrations (docs/DESIGN.md
 * §5): "district-hub migrate" records each file's SHA-256, says up to date
 * on a second run, applies a migration added after the baseline, and
 * refuses, like "district-hub run", a database whose record disagrees with
 * the files (an edited, renamed or removed migration, a new one numbered
 * before an applied one) or that predates the baseline. Each case points
 * hub.sql_dir (WARDSYNC_HUB_SQL_DIR) at its own copy of district-hub/sql in the
 * scratch folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define BASELINE "001_baseline.sql"
/* Numbered after any migration the tree will hold for a while. */
#define ADDED "999_migrate_test.sql"

static struct it_env env;
static char baseline_sha256[65];

static int group_setup(void **state)
{
    (void)state;
    /* Migrates a fresh database with the source tree's district-hub/sql. */
    return it_env_setup(&env, "wardsync_it_migrate");
}

static int group_teardown(void **state)
{
    (void)state;
    it_env_teardown(&env);
    return 0;
}

/* A copy of the source tree's migrations in the scratch folder: its path
 * in dir. */
static void copy_sql_dir(const char *name, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", env.workdir, name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir,
             WS_HUB_SQL_DIR, dir);
    assert_int_equal(system(cmd), 0);
}

/* "district-hub migrate" (as the owner) or "district-hub run" (as
 * wardsync_hub, which must refuse before it serves) with hub.sql_dir =
 * dir. Returns the exit status; *output is malloc'd. */
static int run_hub(const char *command, const char *dir, char **output)
{
    char sql_env[600], pw_env[600];
    snprintf(sql_env, sizeof sql_env, "WARDSYNC_HUB_SQL_DIR=%s", dir);
    snprintf(pw_env, sizeof pw_env, "WARDSYNC_HUB_HUB_ROLE_PASSWORD_FILE=%s",
             getenv("WARDSYNC_TEST_HUB_PASSWORD_FILE"));
    const char *extra[] = {sql_env, pw_env,
                           "WARDSYNC_HUB_PULL=tcp://127.0.0.1:*", NULL};
    char ingest[64];
    snprintf(ingest, sizeof ingest, "tcp://127.0.0.1:%d", it_free_port());
    bool run = strcmp(command, "run") == 0;
    const char *argv[] = {it_hub_bin,
                          "--database",
                          run ? env.hub_conninfo : env.conninfo,
                          command,
                          run ? "--ingest" : NULL,
                          ingest,
                          "--insecure",
                          NULL};
    return it_run(argv, extra, 60, output);
}

static void assert_contains(const char *output, const char *needle)
{
    if (!strstr(output, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, output);
}

/* The SHA-256 of a file as hex, computed by PostgreSQL from its bytes. */
static void file_sha256(const char *path, char *hex, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 0 && len < sizeof buf);
    const char *values[] = {buf};
    const int lengths[] = {(int)len};
    const int formats[] = {1};
    PGresult *r =
        PQexecParams(env.db, "SELECT encode(sha256($1::bytea), 'hex')", 1, NULL,
                     values, lengths, formats, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(hex, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static long applied_count(void)
{
    return it_query_long(env.db, "SELECT count(*) FROM schema_migrations");
}

/* The baseline and the migrations written after it, each recorded with
 * the checksum of its file. */
static void test_fresh_database_records_each_file_checksum(void **state)
{
    (void)state;
    glob_t files;
    assert_int_equal(glob(WS_HUB_SQL_DIR "/[0-9]*_*.sql", 0, NULL, &files), 0);
    assert_true(files.gl_pathc >= 1);
    assert_int_equal(applied_count(), (long)files.gl_pathc);
    for (size_t i = 0; i < files.gl_pathc; i++) {
        char sha256[65];
        file_sha256(files.gl_pathv[i], sha256, sizeof sha256);
        const char *base = strrchr(files.gl_pathv[i], '/') + 1;
        char name[256];
        snprintf(name, sizeof name, "%s", strchr(base, '_') + 1);
        name[strlen(name) - 4] = '\0'; /* ".sql" */
        char version[16];
        snprintf(version, sizeof version, "%d", atoi(base));
        const char *params[] = {name, version};
        PGresult *r = PQexecParams(env.db,
                                   "SELECT sha256 FROM schema_migrations "
                                   "WHERE name = $1 AND version = $2::integer",
                                   2, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        if (PQntuples(r) != 1)
            fail_msg("%s is not recorded as version %s, name %s", base, version,
                     name);
        assert_string_equal(PQgetvalue(r, 0, 0), sha256);
        PQclear(r);
        if (strcmp(base, BASELINE) == 0)
            snprintf(baseline_sha256, sizeof baseline_sha256, "%s", sha256);
    }
    globfree(&files);
    assert_int_equal(strlen(baseline_sha256), 64);
}

static void test_second_run_is_up_to_date(void **state)
{
    (void)state;
    char *out = NULL;
    long before = applied_count();
    assert_int_equal(run_hub("migrate", WS_HUB_SQL_DIR, &out), 0);
    assert_contains(out, "schema up to date version=");
    assert_contains(out, " applied=0 ");
    assert_null(strstr(out, "applied migration"));
    free(out);
    assert_int_equal(applied_count(), before);
}

static void test_edited_migration_is_refused(void **state)
{
    (void)state;
    char dir[512], path[1024], edited_sha256[65];
    copy_sql_dir("sql-edited", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, BASELINE);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("-- edited after it was applied\n", f);
    fclose(f);
    file_sha256(path, edited_sha256, sizeof edited_sha256);
    long before = applied_count();

    for (int i = 0; i < 2; i++) {
        const char *command = i == 0 ? "migrate" : "run";
        char *out = NULL;
        int rc = run_hub(command, dir, &out);
        if (rc != 1)
            fail_msg("%s exited %d, want 1 (bad input):\n%s", command, rc, out);
        char want[1200];
        snprintf(want, sizeof want, "migration 1 file \"%s\" differs", path);
        assert_contains(out, want);
        snprintf(want, sizeof want, "recorded sha256 %s, file sha256 %s",
                 baseline_sha256, edited_sha256);
        assert_contains(out, want);
        assert_contains(out, "a migration is never edited once applied");
        assert_contains(out, "write the change as the next migration");
        free(out);
    }
    /* Nothing was applied or recorded. */
    assert_int_equal(applied_count(), before);
}

static void test_renamed_or_removed_migration_is_refused(void **state)
{
    (void)state;
    char dir[512], cmd[2048], *out = NULL;
    long before = applied_count();
    copy_sql_dir("sql-renamed", dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "mv '%s/%s' '%s/001_renamed.sql'", dir, BASELINE,
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run_hub("migrate", dir, &out), 1);
    assert_contains(out, "migration 1 is applied to this database as "
                         "\"baseline\" but its file is");
    assert_contains(out, "never renamed once applied");
    free(out);

    copy_sql_dir("sql-removed", dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "rm '%s/%s'", dir, BASELINE);
    assert_int_equal(system(cmd), 0);
    /* Not an empty folder, which is refused as such. */
    char path[1024];
    snprintf(path, sizeof path, "%s/" ADDED, dir);
    assert_int_equal(it_write_file(path, "SELECT 1;\n"), 0);
    assert_int_equal(run_hub("migrate", dir, &out), 1);
    assert_contains(out, "migration 001_baseline is applied to this database "
                         "but no file in");
    assert_contains(out, baseline_sha256);
    free(out);
    assert_int_equal(applied_count(), before);
}

static void test_migration_numbered_before_applied_is_refused(void **state)
{
    (void)state;
    char dir[512], path[1024], *out = NULL;
    long before = applied_count();
    copy_sql_dir("sql-early", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/000_too_early.sql", dir);
    assert_int_equal(
        it_write_file(path, "CREATE TABLE migrate_too_early (id integer);\n"),
        0);
    assert_int_equal(run_hub("migrate", dir, &out), 1);
    char want[1200];
    snprintf(want, sizeof want, "migration file \"%s\" is numbered before",
             path);
    assert_contains(out, want);
    assert_contains(out, "migrations are forward-only");
    free(out);
    assert_int_equal(applied_count(), before);
    assert_int_equal(it_query_long(env.db,
                                   "SELECT count(*) FROM pg_class "
                                   "WHERE relname = 'migrate_too_early'"),
                     0);
}

static void test_added_migration_applies_once(void **state)
{
    (void)state;
    char dir[512], path[1024], sha256[65], *out = NULL;
    copy_sql_dir("sql-added", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/" ADDED, dir);
    assert_int_equal(
        it_write_file(path, "CREATE TABLE migrate_test (id integer);\n"), 0);
    file_sha256(path, sha256, sizeof sha256);

    assert_int_equal(run_hub("migrate", dir, &out), 0);
    assert_contains(out, "applied migration version=999 name=migrate_test");
    assert_contains(out, "schema up to date version=999 applied=1 ");
    free(out);
    PGresult *r =
        PQexec(env.db, "SELECT sha256 FROM schema_migrations "
                       "WHERE version = 999 AND name = 'migrate_test'");
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), sha256);
    PQclear(r);
    assert_int_equal(it_query_long(env.db, "SELECT count(*) FROM migrate_test"),
                     0);

    assert_int_equal(run_hub("migrate", dir, &out), 0);
    assert_contains(out, "schema up to date version=999 applied=0 ");
    free(out);
    /* Without the new file the database records a version no file has. */
    assert_int_equal(run_hub("migrate", WS_HUB_SQL_DIR, &out), 1);
    assert_contains(out, "migration 999_migrate_test is applied to this "
                         "database but no file in");
    free(out);
}

/* The last test: it leaves the database unusable. */
static void test_database_before_the_baseline_is_refused(void **state)
{
    (void)state;
    /* What the runner of migrations 001..011 left: no checksums. */
    PGresult *r =
        PQexec(env.db, "ALTER TABLE schema_migrations DROP COLUMN sha256");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    for (int i = 0; i < 2; i++) {
        const char *command = i == 0 ? "migrate" : "run";
        char *out = NULL;
        int rc = run_hub(command, WS_HUB_SQL_DIR, &out);
        if (rc != 1)
            fail_msg("%s exited %d, want 1 (bad input):\n%s", command, rc, out);
        assert_contains(out, "the database predates the baseline schema");
        assert_contains(out, "recreate it empty");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_database_records_each_file_checksum),
        cmocka_unit_test(test_second_run_is_up_to_date),
        cmocka_unit_test(test_edited_migration_is_refused),
        cmocka_unit_test(test_renamed_or_removed_migration_is_refused),
        cmocka_unit_test(test_migration_numbered_before_applied_is_refused),
        cmocka_unit_test(test_added_migration_applies_once),
        cmocka_unit_test(test_database_before_the_baseline_is_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
