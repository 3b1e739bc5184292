/*
 * keys.c - CURVE key files in czmq's zcert (ZPL) format; see keys.h.
 *
 * The parser reads only what a zcert file holds: comments, section names
 * ("metadata", "curve") and indented `name = "value"` lines. Anything else
 * is an error with its line number; key values are checked to be Z85.
 */
#include "wardsync/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ws_keys_generate(struct ws_keypair *out)
{
    memset(out, 0, sizeof *out);
    if (!zmq_has("curve"))
        return -ENOTSUP;
    if (zmq_curve_keypair(out->public_z85, out->secret_z85) != 0)
        return -ENOTSUP;
    return 0;
}

bool ws_key_z85_valid(const char *s)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   ".-:+=^!/*?&<>()[]{}@%$#";
    if (!s)
        return false;
    for (size_t i = 0; i < WS_KEY_Z85_LEN; i++)
        if (s[i] == '\0' || !strchr(alphabet, s[i]))
            return false;
    if (s[WS_KEY_Z85_LEN] != '\0')
        return false;
    uint8_t raw[32];
    /* Every 5 characters must stay below 2^32: zmq_z85_decode checks. */
    return zmq_z85_decode(raw, s) != NULL;
}

void ws_keys_wipe(struct ws_keypair *pair)
{
    volatile char *p = pair->secret_z85;
    for (size_t i = 0; i < sizeof pair->secret_z85; i++)
        p[i] = 0;
}

/* Writes text to path with mode, exclusively unless force. */
static int write_key_file(const char *path, const char *text, mode_t mode,
                          bool force, char *err, size_t errlen)
{
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, mode);
    if (fd < 0) {
        int e = errno;
        set_err(err, errlen, "could not create file \"%s\": %s%s", path,
                strerror(e), e == EEXIST ? " (use --force to replace it)" : "");
        return -e;
    }
    /* open() keeps the mode of a file it truncates: set it again. */
    if (fchmod(fd, mode) != 0) {
        int e = errno;
        set_err(err, errlen, "could not set the mode of \"%s\": %s", path,
                strerror(e));
        close(fd);
        return -e;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            set_err(err, errlen, "could not write file \"%s\": %s", path,
                    strerror(e));
            close(fd);
            return -e;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        set_err(err, errlen, "could not write file \"%s\": %s", path,
                strerror(e));
        return -e;
    }
    return 0;
}

int ws_keys_write(const char *path, const struct ws_keypair *pair, bool force,
                  char *err, size_t errlen)
{
    char secret_path[4096], stamp[32], text[1024];
    if (!ws_key_z85_valid(pair->public_z85) ||
        !ws_key_z85_valid(pair->secret_z85)) {
        set_err(err, errlen, "not a valid key pair");
        return -EINVAL;
    }
    if ((size_t)snprintf(secret_path, sizeof secret_path, "%s_secret", path) >=
        sizeof secret_path) {
        set_err(err, errlen, "path too long: \"%s\"", path);
        return -ENAMETOOLONG;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    snprintf(text, sizeof text,
             "#   ****  Generated on %s by wardsync  ****\n"
             "#   ZeroMQ CURVE **Secret** Certificate\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
             "permissions.\n\n"
             "metadata\n"
             "curve\n"
             "    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             stamp, pair->public_z85, pair->secret_z85);
    int rc = write_key_file(secret_path, text, 0600, force, err, errlen);
    memset(text, 0, sizeof text);
    if (rc < 0)
        return rc;
    snprintf(text, sizeof text,
             "#   ****  Generated on %s by wardsync  ****\n"
             "#   ZeroMQ CURVE Public Certificate\n"
             "#   Exchange securely, or use a secure mechanism to verify "
             "the contents\n"
             "#   of this file after exchange. Store public certificates in "
             "your home\n"
             "#   directory, in the .curve subdirectory.\n\n"
             "metadata\n"
             "curve\n"
             "    public-key = \"%s\"\n",
             stamp, pair->public_z85);
    return write_key_file(path, text, 0644, force, err, errlen);
}

/* One `name = "value"` line of a section; value copied when it fits. */
static int parse_assignment(const char *p, const char *end, char *name,
                            size_t name_cap, char *value, size_t value_cap)
{
    size_t n = 0;
    while (p < end && (*p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') ||
                       (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
        if (n + 1 >= name_cap)
            return -1;
        name[n++] = *p++;
    }
    name[n] = '\0';
    if (n == 0)
        return -1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p++ != '=')
        return -1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char quote = p < end && (*p == '"' || *p == '\'') ? *p++ : 0;
    size_t v = 0;
    while (p < end && (quote ? *p != quote : (*p != ' ' && *p != '\t'))) {
        if (*p == '\0' || v + 1 >= value_cap)
            return -1;
        value[v++] = *p++;
    }
    value[v] = '\0';
    if (quote) {
        if (p == end)
            return -1;
        p++;
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    if (p < end && *p != '#')
        return -1;
    return 0;
}

int ws_keys_parse(const char *text, size_t len, struct ws_keypair *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p = text, *end = text + len;
    bool in_curve = false;
    long line = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;
        line++;
        const char *q = p;
        size_t indent = 0;
        while (q < stop && (*q == ' ' || *q == '\t')) {
            q++;
            indent++;
        }
        const char *last = stop;
        while (last > q && (last[-1] == '\r' || last[-1] == ' '))
            last--;
        if (q == last || *q == '#') {
            /* blank or comment */
        } else if (indent == 0) {
            size_t n = (size_t)(last - q);
            in_curve = n == 5 && memcmp(q, "curve", 5) == 0;
            for (const char *c = q; c < last; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
                      *c == '/' || *c == '.')) {
                    set_err(err, errlen, "line %ld: not a section name", line);
                    goto fail;
                }
        } else {
            char name[64], value[256];
            if (parse_assignment(q, last, name, sizeof name, value,
                                 sizeof value) != 0) {
                set_err(err, errlen, "line %ld: want name = \"value\"", line);
                goto fail;
            }
            char *target = NULL;
            if (in_curve && strcmp(name, "public-key") == 0)
                target = out->public_z85;
            else if (in_curve && strcmp(name, "secret-key") == 0)
                target = out->secret_z85;
            if (target) {
                if (target[0]) {
                    set_err(err, errlen, "line %ld: %s given twice", line,
                            name);
                    goto fail;
                }
                if (!ws_key_z85_valid(value)) {
                    set_err(err, errlen,
                            "line %ld: %s is not 40 characters "
                            "of Z85",
                            line, name);
                    goto fail;
                }
                memcpy(target, value, WS_KEY_Z85_LEN + 1);
            }
            memset(value, 0, sizeof value);
        }
        p = eol ? eol + 1 : end;
    }
    if (!out->public_z85[0]) {
        set_err(err, errlen, "no curve public-key");
        goto fail;
    }
    if (out->secret_z85[0]) {
        /* The two halves must belong together. */
        char derived[WS_KEY_Z85_LEN + 1];
        if (zmq_curve_public(derived, out->secret_z85) != 0 ||
            strcmp(derived, out->public_z85) != 0) {
            set_err(err, errlen, "public-key does not match secret-key");
            goto fail;
        }
    }
    return 0;

fail:
    ws_keys_wipe(out);
    memset(out, 0, sizeof *out);
    return -EINVAL;
}

/* Reads a key file into buf (at most WS_KEY_FILE_MAX bytes) through an
 * open descriptor, so the mode checked is that of the file read. */
static int read_key_file(const char *path, bool secret, char *buf, size_t cap,
                         size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        set_err(err, errlen, "could not open file \"%s\": %s", path,
                strerror(e));
        return -e;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        set_err(err, errlen, "could not stat file \"%s\": %s", path,
                strerror(-rc));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "key file \"%s\" is not a regular file", path);
        rc = -EINVAL;
        goto out;
    }
    if (secret && (st.st_mode & 077) != 0) {
        set_err(err, errlen,
                "secret key file \"%s\" is accessible to others (mode %04o); "
                "refusing to use it: chmod 600 it",
                path, (unsigned)(st.st_mode & 07777));
        rc = -EPERM;
        goto out;
    }
    if (secret && st.st_uid != geteuid()) {
        set_err(err, errlen,
                "secret key file \"%s\" belongs to another user (uid %u)", path,
                (unsigned)st.st_uid);
        rc = -EPERM;
        goto out;
    }
    size_t n = 0;
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            set_err(err, errlen, "could not read file \"%s\": %s", path,
                    strerror(-rc));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n == cap) {
            set_err(err, errlen, "key file \"%s\" is larger than %zu bytes",
                    path, cap);
            rc = -EFBIG;
            goto out;
        }
    }
    *len = n;
out:
    close(fd);
    return rc;
}

static int read_keys(const char *path, bool secret, struct ws_keypair *out,
                     char *err, size_t errlen)
{
    char buf[WS_KEY_FILE_MAX];
    size_t len = 0;
    memset(out, 0, sizeof *out);
    int rc = read_key_file(path, secret, buf, sizeof buf, &len, err, errlen);
    if (rc == 0) {
        char why[200];
        rc = ws_keys_parse(buf, len, out, why, sizeof why);
        if (rc < 0)
            set_err(err, errlen, "key file \"%s\": %s", path, why);
    }
    memset(buf, 0, sizeof buf);
    if (rc == 0 && secret && !out->secret_z85[0]) {
        set_err(err, errlen, "key file \"%s\" holds no secret-key", path);
        rc = -EINVAL;
    }
    if (rc == 0 && !secret)
        ws_keys_wipe(out);
    return rc;
}

int ws_keys_read_public(const char *path, struct ws_keypair *out, char *err,
                        size_t errlen)
{
    return read_keys(path, false, out, err, errlen);
}

int ws_keys_read_secret(const char *path, struct ws_keypair *out, char *err,
                        size_t errlen)
{
    return read_keys(path, true, out, err, errlen);
}
