/*
 * core/copytext.h - PostgreSQL COPY text format and array literals, built
 * in memory (pure: no libpq, unit-tested in tests/unit/test_copytext.c).
 *
 * One line per row, columns separated by tabs, \N for NULL; backslash,
 * tab, newline and carriage return escaped, so any text crosses exactly.
 * The writer's stage (db/ingest.c) is sent this way.
 *
 * Appending never fails loudly: when memory runs out the buffer sets oom
 * and ignores further appends; the caller checks oom once per row.
 */
#ifndef DISTRICT_HUB_CORE_COPYTEXT_H
#define DISTRICT_HUB_CORE_COPYTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copytext {
    char *data; /* owned; copytext_free */
    size_t len;
    size_t cap;
    size_t col; /* columns written on the current line */
    bool oom;
};

/* Empties the buffer and keeps its memory (unless it grew above
 * keep_bytes, which is then given back). */
void copytext_reset(struct copytext *b, size_t keep_bytes);
void copytext_free(struct copytext *b);

void copytext_null(struct copytext *b);
/* A text column; NULL writes \N. */
void copytext_text(struct copytext *b, const char *s);
/* A text column where "" is NULL (an empty date). */
void copytext_text_or_null(struct copytext *b, const char *s);
void copytext_int(struct copytext *b, int64_t v);
/* A bytea column in hex form. */
void copytext_bytea(struct copytext *b, const uint8_t *data, size_t n);
/* An integer array column "{1,2,3}". */
void copytext_uint_array(struct copytext *b, const uint32_t *values, size_t n);
void copytext_end_row(struct copytext *b);

/* Array literals for bound parameters: text[] ("{\"a\",\"b\"}", each
 * element double-quoted with " and \ escaped) and bigint[] of n values
 * found stride bytes apart. Return a malloc'd string, or NULL. */
char *copytext_text_array(const char *const *items, size_t stride, size_t n);
char *copytext_int_array(const int64_t *values, size_t stride, size_t n);

#endif
