/*
 * i18n.c - choosing the language of messages and binding the catalogue.
 *
 * gettext ignores LANGUAGE while LC_MESSAGES is the "C" locale, and a
 * server often has no vi_VN locale installed; both are why ws_i18n_init
 * sets LC_MESSAGES to C.UTF-8 when the environment gives no usable locale
 * and then says the language through LANGUAGE itself.
 */
#include "wardsync/i18n.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wardsync/paths.h"

static const char *chosen = "en";

/* "vi", "en" or NULL for the language part of a locale name (up to "_",
 * ".", "@" or ":"); other languages give other. */
static const char *language_of(const char *name, size_t len, const char *other)
{
    size_t n = strcspn(name, "_.@:");

    if (n > len)
        n = len;
    if (n == 2 && strncasecmp(name, "vi", 2) == 0)
        return "vi";
    if (n == 2 && strncasecmp(name, "en", 2) == 0)
        return "en";
    return other;
}

const char *ws_language_choose(const char *configured, const char *language,
                               const char *lc_all, const char *lc_messages,
                               const char *lang)
{
    if (configured != NULL && configured[0] != '\0') {
        size_t len = strlen(configured);

        while (len > 0 &&
               (configured[len - 1] == ' ' || configured[len - 1] == '\t'))
            len--;
        return language_of(configured, len, NULL);
    }
    if (language != NULL && language[0] != '\0') {
        for (const char *p = language; *p;) {
            size_t n = strcspn(p, ":");
            const char *l = language_of(p, n, NULL);

            if (l != NULL)
                return l;
            p += n;
            if (*p == ':')
                p++;
        }
    }
    const char *locale = lc_all && *lc_all             ? lc_all
                         : lc_messages && *lc_messages ? lc_messages
                         : lang && *lang               ? lang
                                                       : NULL;
    if (locale != NULL && strcmp(locale, "POSIX") != 0 &&
        strcmp(locale, "C") != 0 && strncmp(locale, "C.", 2) != 0)
        return language_of(locale, strlen(locale), "en");
    return "vi";
}

int ws_i18n_init(const char *configured, char *err, size_t errlen)
{
    const char *l =
        ws_language_choose(configured, getenv("LANGUAGE"), getenv("LC_ALL"),
                           getenv("LC_MESSAGES"), getenv("LANG"));

    if (l == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "language: \"%.40s\" is not vi or en",
                     configured);
        return -EINVAL;
    }
    chosen = l;
    /* LANGUAGE is what gettext reads first; set it before any lookup. */
    setenv("LANGUAGE", l, 1);
    const char *now = setlocale(LC_MESSAGES, "");
    if (now == NULL || strcmp(now, "C") == 0 || strcmp(now, "POSIX") == 0) {
        if (setlocale(LC_MESSAGES, "C.UTF-8") == NULL)
            setlocale(LC_MESSAGES, "C.utf8");
    }
    char dir[4096];
    if (ws_locale_dir(dir, sizeof dir) == 0)
        bindtextdomain(WS_TEXTDOMAIN, dir);
    bind_textdomain_codeset(WS_TEXTDOMAIN, "UTF-8");
    return 0;
}

const char *ws_i18n_language(void)
{
    return chosen;
}
