/*
 * fold.h - comparing words people type: Vietnamese and English names of
 * columns, values and files, whatever their case and however their
 * diacritics are encoded.
 *
 * Excel on Windows writes precomposed letters (NFC, "ế" = U+1EBF); files
 * from macOS, and text pasted from some web forms, carry decomposed ones
 * (NFD, "e" U+0065 + U+0302 + U+0301). Both must name the same thing.
 * Normalisation and case folding are libunistring's (u8_casefold): the
 * Unicode tables, not a hand-kept list of Vietnamese letters.
 */
#ifndef WARDSYNC_FOLD_H
#define WARDSYNC_FOLD_H

#include <stdbool.h>
#include <stddef.h>

/* Longest folded text, in bytes, these functions produce. */
#define WS_FOLD_MAX 256

/* Writes the comparison form of text into out (cap bytes, NUL-terminated):
 * blanks (space, tab, CR, LF, no-break space) at either end dropped, runs
 * of blanks inside made one space, then Unicode case folding and NFC.
 * "  Kiến   Nghị " and its NFD spelling both give "kiến nghị". Returns the
 * length, -EILSEQ when text is not UTF-8, -ENAMETOOLONG when the result
 * does not fit, -ENOMEM. */
int ws_fold(const char *text, char *out, size_t cap);

/* Like ws_fold, then without diacritics: every combining mark dropped
 * after canonical decomposition and "đ" written "d", so "Tiếp công dân"
 * gives "tiep cong dan" (ASCII for any Vietnamese text). */
int ws_fold_plain(const char *text, char *out, size_t cap);

/* Whether a and b have the same ws_fold (false when either is not UTF-8
 * or too long). */
bool ws_fold_equal(const char *a, const char *b);

#endif
