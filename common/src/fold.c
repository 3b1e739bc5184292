/*
 * fold.c - case- and normalisation-insensitive forms of text (fold.h).
 */
#include "wardsync/fold.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unistr.h>
#include <uninorm.h>

/* Blanks: ASCII ones and U+00A0 (Excel writes it for a typed
 * non-breaking space). Returns the bytes of the blank at s, or 0. */
static size_t blank_at(const char *s, const char *end)
{
    if (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        return 1;
    if (end - s >= 2 && (unsigned char)s[0] == 0xc2 &&
        (unsigned char)s[1] == 0xa0)
        return 2;
    return 0;
}

/* Trims text and collapses inner blanks into buf. Returns its length or
 * -ENAMETOOLONG. */
static int squeeze(const char *text, char *buf, size_t cap)
{
    const char *p = text;
    const char *end = text + strlen(text);
    size_t n = 0;
    size_t b;
    bool gap = false;

    while ((b = blank_at(p, end)) > 0)
        p += b;
    while (p < end) {
        if ((b = blank_at(p, end)) > 0) {
            gap = true;
            p += b;
            continue;
        }
        if (n + 2 >= cap)
            return -ENAMETOOLONG;
        if (gap)
            buf[n++] = ' ';
        gap = false;
        buf[n++] = *p++;
    }
    buf[n] = '\0';
    return (int)n;
}

/* Case-folds and normalises text (nf) into out. */
static int fold_with(const char *text, uninorm_t nf, char *out, size_t cap)
{
    char squeezed[WS_FOLD_MAX * 2];
    int n = squeeze(text, squeezed, sizeof(squeezed));

    if (n < 0)
        return n;
    if (u8_check((const uint8_t *)squeezed, (size_t)n) != NULL)
        return -EILSEQ;
    size_t len = cap;
    uint8_t *folded = u8_casefold((const uint8_t *)squeezed, (size_t)n, NULL,
                                  nf, (uint8_t *)out, &len);
    if (folded == NULL)
        return errno == ENOMEM ? -ENOMEM : -EILSEQ;
    if (folded != (uint8_t *)out) {
        /* u8_casefold allocated: the result did not fit in out. */
        free(folded);
        return -ENAMETOOLONG;
    }
    if (len >= cap)
        return -ENAMETOOLONG;
    out[len] = '\0';
    return (int)len;
}

int ws_fold(const char *text, char *out, size_t cap)
{
    return fold_with(text, UNINORM_NFC, out, cap);
}

int ws_fold_plain(const char *text, char *out, size_t cap)
{
    int n = fold_with(text, UNINORM_NFD, out, cap);
    const uint8_t *p = (const uint8_t *)out;
    const uint8_t *end;
    size_t w = 0;

    if (n < 0)
        return n;
    end = p + n;
    while (p < end) {
        ucs4_t uc;
        int len = u8_mbtouc(&uc, p, (size_t)(end - p));

        if (uc == 0x0111) { /* đ (folded Đ): no decomposition */
            out[w++] = 'd';
        } else if (uc >= 0x0300 && uc <= 0x036f) {
            /* a combining diacritical mark: dropped */
        } else {
            memmove(out + w, p, (size_t)len);
            w += (size_t)len;
        }
        p += len;
    }
    out[w] = '\0';
    return (int)w;
}

bool ws_fold_equal(const char *a, const char *b)
{
    char fa[WS_FOLD_MAX];
    char fb[WS_FOLD_MAX];

    return ws_fold(a, fa, sizeof(fa)) >= 0 && ws_fold(b, fb, sizeof(fb)) >= 0 &&
           strcmp(fa, fb) == 0;
}
