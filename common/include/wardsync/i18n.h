/*
 * i18n.h - messages people read, in their language (docs/contracts.md,
 * "Language"): GNU gettext of glibc, one text domain "wardsync" for the
 * programs and common/, catalogues compiled from po/ at build time.
 *
 * _(s) translates s in the domain "wardsync" (dgettext, so common/ code
 * needs no textdomain() of the program); a program that never calls
 * ws_i18n_init gets the English msgid back. N_(s) only marks s for
 * xgettext, for tables translated where they are used.
 */
#ifndef WARDSYNC_I18N_H
#define WARDSYNC_I18N_H

#include <libintl.h>
#include <stddef.h>

#define WS_TEXTDOMAIN "wardsync"
#define _(s) dgettext(WS_TEXTDOMAIN, s)
#define N_(s) (s)

/* The folder of message catalogues, <lang>/LC_MESSAGES/wardsync.mo:
 * ws_locale_dir() of wardsync/paths.h. */

/* The language messages are shown in, "vi" or "en", by this precedence:
 *  1. configured (the agent's "language" key, file or environment) when
 *     not NULL or empty;
 *  2. LANGUAGE (a colon-separated list): its first entry naming vi or en;
 *  3. the first non-empty of LC_ALL, LC_MESSAGES, LANG, unless it is C or
 *     POSIX (which say nothing about a language): vi or en by its
 *     language part (vi_VN.UTF-8 -> vi), any other language -> en;
 *  4. otherwise vi.
 * Values compare case-insensitively; "vi_VN", "en_US.UTF-8" count as vi,
 * en. Returns "vi" or "en", or NULL when configured is neither (the
 * caller reports it). The environment values are passed in, so that the
 * rule is testable; NULL means unset. */
const char *ws_language_choose(const char *configured, const char *language,
                               const char *lc_all, const char *lc_messages,
                               const char *lang);

/* Chooses the language (ws_language_choose over the real environment) and
 * sets gettext up for it: the domain bound to ws_locale_dir in UTF-8,
 * LC_MESSAGES set to a locale gettext translates in (the environment's,
 * else C.UTF-8), LANGUAGE set to the choice. Only LC_MESSAGES changes, so
 * numbers and dates print as before. Returns 0, or -EINVAL (with the
 * reason in err) when configured is not vi or en. */
int ws_i18n_init(const char *configured, char *err, size_t errlen);

/* The language ws_i18n_init chose ("en" before it ran). */
const char *ws_i18n_language(void);

#endif
