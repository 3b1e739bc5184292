/*
 * config.c - INI configuration files, read with inih.
 *
 * The file is read into memory first so that a line longer than inih's
 * compiled-in limit (INI_MAX_LINE) is reported instead of being cut
 * silently, then handed to ini_parse_stream line by line, so that each
 * entry knows the line it came from (Debian's inih is built without
 * INI_HANDLER_LINENO). Section and key names compare case-insensitively;
 * when a key appears twice, the later value wins.
 */
#include "wardsync/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A configuration file is a few dozen lines; anything this big is a
 * mistake (a wrong path), not a configuration. */
#define CONFIG_FILE_MAX (1024 * 1024)

struct config_entry {
    char *section;
    char *key;
    char *value;
    long line; /* of its last occurrence in the file */
};

struct ws_config {
    char *path; /* the file loaded, NULL for none */
    size_t n;
    size_t cap;
    struct config_entry *entries;
    bool out_of_memory;
};

/* ini_parse_stream's stream and handler argument: the text still to read
 * and the number of the line last handed to inih. */
struct parse_state {
    struct ws_config *cfg;
    const char *next;
    long line;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static struct config_entry *find_entry(const struct ws_config *cfg,
                                       const char *section, const char *key)
{
    if (cfg == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcasecmp(cfg->entries[i].section, section) == 0 &&
            strcasecmp(cfg->entries[i].key, key) == 0)
            return &cfg->entries[i];
    }
    return NULL;
}

/* inih's reader (fgets's contract): the next line of the text, counted. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_state *st = stream;
    size_t n = 0;

    if (*st->next == '\0' || num < 2)
        return NULL;
    while (st->next[n] != '\0' && n < (size_t)num - 1) {
        if (st->next[n++] == '\n')
            break;
    }
    memcpy(str, st->next, n);
    str[n] = '\0';
    st->next += n;
    st->line++;
    return str;
}

static int on_entry(void *user, const char *section, const char *name,
                    const char *value)
{
    struct parse_state *st = user;
    struct ws_config *cfg = st->cfg;
    struct config_entry *entry = find_entry(cfg, section, name);
    char *copy = strdup(value);

    if (copy == NULL)
        goto fail;
    if (entry != NULL) {
        free(entry->value);
        entry->value = copy;
        entry->line = st->line;
        return 1;
    }
    if (cfg->n == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 16;
        struct config_entry *grown =
            realloc(cfg->entries, cap * sizeof(*grown));

        if (grown == NULL)
            goto free_copy;
        cfg->entries = grown;
        cfg->cap = cap;
    }
    entry = &cfg->entries[cfg->n];
    entry->section = strdup(section);
    entry->key = strdup(name);
    entry->value = copy;
    entry->line = st->line;
    if (entry->section == NULL || entry->key == NULL) {
        free(entry->section);
        free(entry->key);
        goto free_copy;
    }
    cfg->n++;
    return 1;

free_copy:
    free(copy);
fail:
    cfg->out_of_memory = true;
    return 0;
}

/* Reads the whole file into a NUL-terminated buffer. */
static int read_file(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    int rc;

    if (f == NULL) {
        rc = -errno;
        set_err(err, errlen, "could not open file \"%s\": %s", path,
                strerror(-rc));
        return rc;
    }
    for (;;) {
        if (cap - len < 4097) {
            char *grown;

            cap = cap ? cap * 2 : 8192;
            grown = realloc(buf, cap);
            if (grown == NULL) {
                rc = -ENOMEM;
                set_err(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            buf = grown;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > CONFIG_FILE_MAX) {
            rc = -EFBIG;
            set_err(err, errlen, "%s: larger than %d bytes", path,
                    CONFIG_FILE_MAX);
            goto fail;
        }
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        rc = -EIO;
        set_err(err, errlen, "could not read file \"%s\"", path);
        goto fail;
    }
    fclose(f);
    buf[len] = '\0';
    if (memchr(buf, '\0', len) != NULL) {
        set_err(err, errlen, "%s: holds a NUL byte, not a text file", path);
        free(buf);
        return -EINVAL;
    }
    *out = buf;
    return 0;

fail:
    free(buf);
    fclose(f);
    return rc;
}

static int check_line_lengths(const char *path, const char *text, char *err,
                              size_t errlen)
{
    long line = 1;

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        /* inih keeps INI_MAX_LINE - 1 bytes including the newline. */
        if (len + 1 >= INI_MAX_LINE) {
            set_err(err, errlen, "%s:%ld: line longer than %d bytes", path,
                    line, INI_MAX_LINE - 2);
            return -EINVAL;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
        line++;
    }
    return 0;
}

int ws_config_load(const char *path, struct ws_config **out, char *err,
                   size_t errlen)
{
    struct ws_config *cfg;
    char *text = NULL;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (path == NULL) {
        *out = cfg;
        return 0;
    }
    rc = read_file(path, &text, err, errlen);
    if (rc < 0)
        goto fail;
    rc = check_line_lengths(path, text, err, errlen);
    if (rc < 0)
        goto fail;
    cfg->path = strdup(path);
    if (cfg->path == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        rc = -ENOMEM;
        goto fail;
    }
    struct parse_state st = {cfg, text, 0};
    rc = ini_parse_stream(read_line, &st, on_entry, &st);
    if (cfg->out_of_memory || rc == -2) {
        set_err(err, errlen, "%s: out of memory", path);
        rc = -ENOMEM;
        goto fail;
    }
    if (rc != 0) {
        set_err(err, errlen,
                "%s:%d: syntax error, want \"key = value\" or "
                "\"[section]\"",
                path, rc);
        rc = -EINVAL;
        goto fail;
    }
    free(text);
    *out = cfg;
    return 0;

fail:
    free(text);
    ws_config_destroy(&cfg);
    return rc;
}

void ws_config_destroy(struct ws_config **cfg)
{
    if (cfg == NULL || *cfg == NULL)
        return;
    for (size_t i = 0; i < (*cfg)->n; i++) {
        free((*cfg)->entries[i].section);
        free((*cfg)->entries[i].key);
        free((*cfg)->entries[i].value);
    }
    free((*cfg)->entries);
    free((*cfg)->path);
    free(*cfg);
    *cfg = NULL;
}

/* WARDSYNC_<SECTION>_<KEY>: upper case, anything but a letter or digit
 * becomes '_'. Returns NULL when the name does not fit. */
static const char *env_name(const char *section, const char *key, char *buf,
                            size_t cap)
{
    int n = snprintf(buf, cap, "WARDSYNC_%s%s%s", section,
                     section[0] ? "_" : "", key);

    if (n < 0 || (size_t)n >= cap)
        return NULL;
    for (char *p = buf + 9; *p; p++)
        *p =
            isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    return buf;
}

/* An empty value, in the file or the environment, counts as absent, so that
 * "catalogue =" or WARDSYNC_AGENT_CATALOGUE= means "use the default". */
const char *ws_config_get(const struct ws_config *cfg, const char *section,
                          const char *key, const char *def)
{
    char name[256];
    const char *env;
    const struct config_entry *entry;

    if (section == NULL)
        section = "";
    if (key == NULL)
        return def;
    if (env_name(section, key, name, sizeof(name)) != NULL) {
        env = getenv(name);
        if (env != NULL && env[0] != '\0')
            return env;
    }
    entry = find_entry(cfg, section, key);
    if (entry != NULL && entry->value[0] != '\0')
        return entry->value;
    return def;
}

int ws_config_where(const struct ws_config *cfg, const char *section,
                    const char *key, char *out, size_t outlen)
{
    char name[256];
    const struct config_entry *entry;
    int n;

    if (section == NULL)
        section = "";
    if (env_name(section, key, name, sizeof(name)) != NULL) {
        const char *env = getenv(name);
        if (env != NULL && env[0] != '\0') {
            n = snprintf(out, outlen, "environment %s", name);
            return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
        }
    }
    entry = find_entry(cfg, section, key);
    if (entry != NULL && entry->value[0] != '\0' && cfg->path != NULL)
        n = snprintf(out, outlen, "%s:%ld: %s.%s", cfg->path, entry->line,
                     section, key);
    else
        n = snprintf(out, outlen, "%s.%s", section, key);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int ws_config_check_keys(const struct ws_config *cfg, const char *section,
                         const char *const *keys, char *err, size_t errlen)
{
    if (cfg == NULL)
        return 0;
    for (size_t i = 0; i < cfg->n; i++) {
        const struct config_entry *e = &cfg->entries[i];
        const char *where = cfg->path ? cfg->path : "(no file)";

        if (strcasecmp(e->section, section) != 0) {
            if (e->section[0] == '\0')
                set_err(err, errlen,
                        "%s:%ld: key \"%s\" outside any section, want it "
                        "under [%s]",
                        where, e->line, e->key, section);
            else
                set_err(err, errlen,
                        "%s:%ld: unknown section [%s] (key \"%s\"), want "
                        "[%s]",
                        where, e->line, e->section, e->key, section);
            return -EINVAL;
        }
        bool known = false;
        for (size_t k = 0; keys[k] != NULL && !known; k++)
            known = strcasecmp(keys[k], e->key) == 0;
        if (!known) {
            set_err(err, errlen, "%s:%ld: unknown key \"%s\" in [%s]", where,
                    e->line, e->key, section);
            return -EINVAL;
        }
    }
    return 0;
}

int ws_config_get_int(const struct ws_config *cfg, const char *section,
                      const char *key, int64_t def, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t errlen)
{
    const char *text = ws_config_get(cfg, section, key, NULL);
    char *end;
    long long value;

    if (out == NULL)
        return -EINVAL;
    if (text == NULL) {
        *out = def;
        return 0;
    }
    errno = 0;
    value = strtoll(text, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    char where[512];
    ws_config_where(cfg, section, key, where, sizeof where);
    if (end == text || *end != '\0' || errno == ERANGE) {
        set_err(err, errlen, "%s: \"%.40s\" is not an integer", where, text);
        return -EINVAL;
    }
    if (value < min || value > max) {
        set_err(err, errlen,
                "%s: %lld is out of range, want %" PRId64 "..%" PRId64, where,
                value, min, max);
        return -EINVAL;
    }
    *out = value;
    return 0;
}
