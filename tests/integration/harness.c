/*
 * harness.c - see harness.h.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "wardsync/keys.h"

const char *it_hub_bin = WS_HUB_BIN;
const char *it_agent_bin = WS_AGENT_BIN;

/* The hub the it_send_* helpers talk to: its env, and whether it runs
 * CURVE (the last one started decides). */
static struct it_env *current_env;
static bool current_secure;

/* Identities made by it_principal_keys, per "kind:code". */
#define IT_MAX_PRINCIPALS 32
static struct {
    char principal[80];
    struct it_curve curve;
    char secret_path[420];
} principals[IT_MAX_PRINCIPALS];
static size_t n_principals;

/* The password file given to migrate for wardsync_hub: run-tests.sh's, or
 * one made in the work dir (then the first migrate sets it). */
static char hub_password_file[512];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Replaces dbname=... in an owner's conninfo with another database. */
static void conninfo_with_db(const char *base, const char *dbname, char *out,
                             size_t outlen)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", base);
    out[0] = '\0';
    size_t used = 0;
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
        if (strncmp(tok, "dbname=", 7) == 0)
            continue;
        used += (size_t)snprintf(out + used, outlen - used, "%s ", tok);
    }
    snprintf(out + used, outlen - used, "dbname=%s", dbname);
}

static int exec_admin(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    int rc = 0;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "harness: could not connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(c));
        rc = -1;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int it_env_setup(struct it_env *env, const char *prefix)
{
    const char *base = getenv("WARDSYNC_TEST_DATABASE");
    char sql[256], admin[1024];

    memset(env, 0, sizeof *env);
    /* The tests read the agents' messages in English; a test of the
     * Vietnamese default passes WARDSYNC_AGENT_LANGUAGE= (empty). */
    setenv("WARDSYNC_AGENT_LANGUAGE", "en", 0);
    if (!base || !*base) {
        fprintf(stderr, "harness: WARDSYNC_TEST_DATABASE is not set "
                        "(run through scripts/run-tests.sh)\n");
        return -1;
    }
    snprintf(env->dbname, sizeof env->dbname, "%s_%ld", prefix, (long)getpid());
    conninfo_with_db(base, "postgres", admin, sizeof admin);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", env->dbname);
    if (exec_admin(admin, sql) != 0)
        return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", env->dbname);
    if (exec_admin(admin, sql) != 0)
        return -1;
    conninfo_with_db(base, env->dbname, env->conninfo, sizeof env->conninfo);

    snprintf(env->workdir, sizeof env->workdir, "/tmp/wardsync-it-%s",
             env->dbname);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", env->workdir,
             env->workdir);
    if (system(cmd) != 0)
        return -1;

    const char *pw = getenv("WARDSYNC_TEST_HUB_PASSWORD_FILE");
    if (pw && *pw) {
        snprintf(hub_password_file, sizeof hub_password_file, "%s", pw);
    } else {
        fprintf(stderr, "harness: WARDSYNC_TEST_HUB_PASSWORD_FILE is not set "
                        "(run through scripts/run-tests.sh)\n");
        return -1;
    }
    char password[256] = "";
    FILE *pf = fopen(hub_password_file, "r");
    if (!pf || !fgets(password, sizeof password, pf)) {
        fprintf(stderr, "harness: could not read %s\n", hub_password_file);
        if (pf)
            fclose(pf);
        return -1;
    }
    fclose(pf);
    password[strcspn(password, "\r\n")] = '\0';
    /* The owner's conninfo with the hub's user and password. */
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", env->conninfo);
    size_t used = 0;
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
        if (strncmp(tok, "user=", 5) == 0 || strncmp(tok, "password=", 9) == 0)
            continue;
        used += (size_t)snprintf(env->hub_conninfo + used,
                                 sizeof env->hub_conninfo - used, "%s ", tok);
    }
    snprintf(env->hub_conninfo + used, sizeof env->hub_conninfo - used,
             "user=wardsync_hub password=%s", password);

    char pw_env[600];
    snprintf(pw_env, sizeof pw_env, "WARDSYNC_HUB_HUB_ROLE_PASSWORD_FILE=%s",
             hub_password_file);
    const char *migrate_env[] = {pw_env, NULL};
    const char *argv[] = {it_hub_bin, "--database", env->conninfo, "migrate",
                          NULL};
    char *out = NULL;
    int rc = it_run(argv, migrate_env, 120, &out);
    if (rc != 0) {
        fprintf(stderr, "harness: district-hub migrate exited %d:\n%s\n", rc,
                out ? out : "");
        free(out);
        return -1;
    }
    free(out);

    snprintf(env->hub_key, sizeof env->hub_key, "%s/hub.key", env->workdir);
    const char *keygen[] = {it_hub_bin, "keygen", env->hub_key, NULL};
    struct ws_keypair hub_pair;
    char err[512];
    if (it_run(keygen, NULL, 30, NULL) != 0 ||
        ws_keys_read_public(env->hub_key, &hub_pair, err, sizeof err) != 0) {
        fprintf(stderr, "harness: could not make the hub's key pair\n");
        return -1;
    }
    memcpy(env->hub_public_z85, hub_pair.public_z85,
           sizeof env->hub_public_z85);

    env->db = PQconnectdb(env->conninfo);
    if (PQstatus(env->db) != CONNECTION_OK) {
        fprintf(stderr, "harness: %s", PQerrorMessage(env->db));
        return -1;
    }
    current_env = env;
    n_principals = 0;
    return 0;
}

int it_principal_keys(struct it_env *env, const char *kind, const char *code,
                      struct it_curve *out, char *secret_path, size_t cap)
{
    char principal[80];
    snprintf(principal, sizeof principal, "%s:%s", kind, code);
    for (size_t i = 0; i < n_principals; i++) {
        if (strcmp(principals[i].principal, principal) == 0) {
            *out = principals[i].curve;
            if (secret_path)
                snprintf(secret_path, cap, "%s", principals[i].secret_path);
            return 0;
        }
    }
    if (n_principals == IT_MAX_PRINCIPALS)
        return -1;
    char path[400], opt[16], err[512];
    snprintf(path, sizeof path, "%s/%s-%s.key", env->workdir, kind, code);
    snprintf(opt, sizeof opt, "--%s", kind);
    const char *keygen[] = {it_agent_bin, "keygen", path, NULL};
    const char *enroll[] = {it_hub_bin, "--database", env->conninfo,
                            "enroll",   opt,          code,
                            "--key",    path,         NULL};
    char *output = NULL;
    if (it_run(keygen, NULL, 30, NULL) != 0 ||
        it_run(enroll, NULL, 30, &output) != 0) {
        fprintf(stderr, "harness: could not enroll %s:\n%s\n", principal,
                output ? output : "");
        free(output);
        return -1;
    }
    free(output);
    struct ws_keypair pair;
    char secret[420];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (ws_keys_read_secret(secret, &pair, err, sizeof err) != 0) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    struct it_curve *c = &principals[n_principals].curve;
    memcpy(c->public_z85, pair.public_z85, sizeof c->public_z85);
    memcpy(c->secret_z85, pair.secret_z85, sizeof c->secret_z85);
    memcpy(c->server_z85, env->hub_public_z85, sizeof c->server_z85);
    snprintf(principals[n_principals].principal,
             sizeof principals[n_principals].principal, "%s", principal);
    snprintf(principals[n_principals].secret_path,
             sizeof principals[n_principals].secret_path, "%s", secret);
    *out = *c;
    if (secret_path)
        snprintf(secret_path, cap, "%s", secret);
    n_principals++;
    return 0;
}

void it_env_teardown(struct it_env *env)
{
    const char *base = getenv("WARDSYNC_TEST_DATABASE");
    char admin[1024], sql[256];

    PQfinish(env->db);
    env->db = NULL;
    if (base && env->dbname[0]) {
        conninfo_with_db(base, "postgres", admin, sizeof admin);
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
                 env->dbname);
        exec_admin(admin, sql);
    }
    if (env->workdir[0] && !getenv("WARDSYNC_KEEP_TEST_FILES")) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", env->workdir);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: could not remove %s\n", env->workdir);
    }
}

static void child_exec(const char *const argv[], const char *const extra_env[],
                       int out_fd)
{
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    close(out_fd);
    for (size_t i = 0; extra_env && extra_env[i]; i++)
        putenv((char *)extra_env[i]);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "harness: could not run %s: %s\n", argv[0],
            strerror(errno));
    _exit(127);
}

static int wait_bounded(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0;; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0)
            return -1;
        if (waited >= timeout_ms)
            break;
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int it_run(const char *const argv[], const char *const extra_env[],
           int timeout_s, char **output)
{
    char path[] = "/tmp/wardsync-it-run.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0)
        child_exec(argv, extra_env, fd);
    int rc = wait_bounded(pid, timeout_s * 1000);
    if (output) {
        off_t len = lseek(fd, 0, SEEK_END);
        *output = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
        if (*output && len > 0 && pread(fd, *output, (size_t)len, 0) < 0)
            (*output)[0] = '\0';
    }
    close(fd);
    return rc;
}

pid_t it_spawn(const char *const argv[], const char *const extra_env[],
               const char *log_path)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, extra_env, fd);
    close(fd);
    return pid;
}

int it_stop(pid_t pid)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    return wait_bounded(pid, 10000);
}

/* Searches path from offset for needle: copies the rest of its line into
 * rest and returns the offset just past that line, or -1. */
static long find_in_log(const char *path, long offset, const char *needle,
                        char *rest, size_t restlen)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (offset > 0 && fseek(f, offset, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *hit = strstr(buf, needle);
    if (!hit)
        return -1;
    hit += strlen(needle);
    if (rest) {
        size_t len = strcspn(hit, " \n");
        if (len >= restlen)
            len = restlen - 1;
        memcpy(rest, hit, len);
        rest[len] = '\0';
    }
    return offset + (long)(hit - buf) + (long)strcspn(hit, "\n");
}

int it_wait_for_log(const char *path, const char *needle, int timeout_ms,
                    char *rest, size_t restlen)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (find_in_log(path, 0, needle, rest, restlen) >= 0)
            return 0;
        sleep_ms(50);
    }
    return -1;
}

void it_log_cursor_at_end(const char *path, struct it_log_cursor *cursor)
{
    snprintf(cursor->path, sizeof cursor->path, "%s", path);
    struct stat st;
    cursor->offset = stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int it_log_wait(struct it_log_cursor *cursor, const char *needle,
                int timeout_ms, char *rest, size_t restlen)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        long past =
            find_in_log(cursor->path, cursor->offset, needle, rest, restlen);
        if (past >= 0) {
            cursor->offset = past;
            return 0;
        }
        sleep_ms(50);
    }
    return -1;
}

int it_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

pid_t it_start_hub(struct it_env *env, const char *endpoint, char *endpoint_out,
                   size_t outlen)
{
    return it_start_hub_mode(env, endpoint, false, endpoint_out, outlen, NULL,
                             0);
}

pid_t it_start_hub_mode(struct it_env *env, const char *endpoint, bool insecure,
                        char *endpoint_out, size_t outlen, char *log_out,
                        size_t log_outlen)
{
    static int starts;
    char log[512], ep[128], secret_env[400];
    /* The system picks a free port when none is given, and the hub's log
     * line says which: no window in which another test could take it. */
    snprintf(ep, sizeof ep, "%s", endpoint ? endpoint : "tcp://127.0.0.1:*");
    snprintf(log, sizeof log, "%s/hub-%d.log", env->workdir, ++starts);
    if (log_out)
        snprintf(log_out, log_outlen, "%s", log);
    snprintf(secret_env, sizeof secret_env, "WARDSYNC_HUB_SECRET_KEY=%s_secret",
             env->hub_key);
    /* The pull and metrics endpoints on free ports: tests run in
     * parallel. */
    const char *extra[] = {secret_env, "WARDSYNC_HUB_PULL=tcp://127.0.0.1:*",
                           "WARDSYNC_HUB_METRICS_ENDPOINT=127.0.0.1:0", NULL};
    const char *argv[] = {it_hub_bin,
                          "--database",
                          env->hub_conninfo,
                          "run",
                          "--ingest",
                          ep,
                          insecure ? "--insecure" : NULL,
                          NULL};
    current_secure = !insecure;
    pid_t pid = it_spawn(argv, extra, log);
    if (pid < 0)
        return -1;
    char bound[128];
    if (it_wait_for_log(log, "ingest endpoint=", 20000, bound, sizeof bound) !=
        0) {
        fprintf(stderr, "harness: hub did not start, see %s\n", log);
        it_stop(pid);
        return -1;
    }
    snprintf(endpoint_out, outlen, "%s", bound);
    return pid;
}

long it_query_long(PGconn *db, const char *sql)
{
    PGresult *r = PQexecParams(db, sql, 0, NULL, NULL, NULL, NULL, 0);
    long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
        !PQgetisnull(r, 0, 0))
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return v;
}

int it_exchange(const char *endpoint, const struct it_curve *curve,
                const void *data, size_t len, int timeout_ms,
                Wardsync__V1__Ack **ack)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, rc = -1;
    char err[256];
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    if (curve) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, curve->server_z85, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, curve->public_z85, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve->secret_z85, 40);
    }
    if (zmq_connect(s, endpoint) != 0 || zmq_send(s, data, len, 0) < 0)
        goto close;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s, 0) >= 0 &&
        ws_ack_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg),
                      WS_MAX_FRAME_DEFAULT, ack, err, sizeof err) == 0)
        rc = 0;
    zmq_msg_close(&msg);
close:
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

/* The enrolled identity of ward when the current hub runs CURVE. */
static int default_curve(const char *ward, struct it_curve *curve,
                         const struct it_curve **out)
{
    *out = NULL;
    if (!current_secure)
        return 0;
    if (!current_env ||
        it_principal_keys(current_env, "ward", ward && *ward ? ward : "LB01",
                          curve, NULL, 0) != 0)
        return -1;
    *out = curve;
    return 0;
}

int it_send_raw(const char *endpoint, const void *data, size_t len,
                int timeout_ms, Wardsync__V1__Ack **ack)
{
    struct it_curve curve;
    const struct it_curve *c;
    if (default_curve(NULL, &curve, &c) != 0)
        return -1;
    return it_exchange(endpoint, c, data, len, timeout_ms, ack);
}

int it_send_batch(const char *endpoint, const Wardsync__V1__Batch *batch,
                  int timeout_ms, Wardsync__V1__Ack **ack)
{
    uint8_t *buf;
    size_t len;
    if (ws_pack(&batch->base, &buf, &len) != 0)
        return -1;
    struct it_curve curve;
    const struct it_curve *c;
    int rc = default_curve(batch->ward, &curve, &c);
    if (rc == 0)
        rc = it_exchange(endpoint, c, buf, len, timeout_ms, ack);
    free(buf);
    return rc;
}

int it_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}
