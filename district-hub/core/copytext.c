/*
 * core/copytext.c - COPY text and array literals (contract in copytext.h).
 */
#include "core/copytext.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct copytext *b, size_t more)
{
    if (b->oom)
        return false;
    if (more <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->oom = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

void copytext_reset(struct copytext *b, size_t keep_bytes)
{
    if (b->cap > keep_bytes) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    b->len = 0;
    b->col = 0;
    b->oom = false;
}

void copytext_free(struct copytext *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Starts the next column of the line. */
static void separate(struct copytext *b)
{
    if (b->col++ > 0 && reserve(b, 1))
        b->data[b->len++] = '\t';
}

void copytext_null(struct copytext *b)
{
    separate(b);
    if (reserve(b, 2)) {
        memcpy(b->data + b->len, "\\N", 2);
        b->len += 2;
    }
}

void copytext_text(struct copytext *b, const char *s)
{
    if (!s) {
        copytext_null(b);
        return;
    }
    separate(b);
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 2 || !reserve(b, 2 * n))
        return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char esc = c == '\\'   ? '\\'
                   : c == '\t' ? 't'
                   : c == '\n' ? 'n'
                   : c == '\r' ? 'r'
                               : 0;
        if (esc) {
            *o++ = '\\';
            *o++ = esc;
        } else {
            *o++ = c;
        }
    }
    b->len = (size_t)(o - b->data);
}

void copytext_text_or_null(struct copytext *b, const char *s)
{
    copytext_text(b, s && s[0] ? s : NULL);
}

void copytext_int(struct copytext *b, int64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    copytext_text(b, text);
}

void copytext_bytea(struct copytext *b, const uint8_t *data, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    separate(b);
    if (n > (SIZE_MAX - 3) / 2 || !reserve(b, 3 + 2 * n))
        return;
    char *o = b->data + b->len;
    /* \x in hex form, its backslash escaped for COPY. */
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = HEX[data[i] >> 4];
        *o++ = HEX[data[i] & 15];
    }
    b->len = (size_t)(o - b->data);
}

void copytext_uint_array(struct copytext *b, const uint32_t *values, size_t n)
{
    separate(b);
    if (n > (SIZE_MAX - 2) / 11 || !reserve(b, 2 + 11 * n))
        return;
    char *o = b->data + b->len;
    *o++ = '{';
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "%s%" PRIu32, i ? "," : "", values[i]);
    *o++ = '}';
    b->len = (size_t)(o - b->data);
}

void copytext_end_row(struct copytext *b)
{
    if (reserve(b, 1))
        b->data[b->len++] = '\n';
    b->col = 0;
}

char *copytext_text_array(const char *const *items, size_t stride, size_t n)
{
    struct copytext b = {0};
    if (reserve(&b, 3))
        b.data[b.len++] = '{';
    for (size_t i = 0; i < n && !b.oom; i++) {
        const char *s =
            *(const char *const *)((const char *)items + i * stride);
        size_t len = strlen(s);
        if (!reserve(&b, 4 + 2 * len))
            break;
        if (i)
            b.data[b.len++] = ',';
        b.data[b.len++] = '"';
        for (size_t k = 0; k < len; k++) {
            if (s[k] == '"' || s[k] == '\\')
                b.data[b.len++] = '\\';
            b.data[b.len++] = s[k];
        }
        b.data[b.len++] = '"';
    }
    if (!reserve(&b, 2)) {
        free(b.data);
        return NULL;
    }
    b.data[b.len++] = '}';
    b.data[b.len] = '\0';
    return b.data;
}

char *copytext_int_array(const int64_t *values, size_t stride, size_t n)
{
    char *out = malloc(3 + n * 21);
    if (!out)
        return NULL;
    size_t o = 0;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        int64_t v = *(const int64_t *)((const char *)values + i * stride);
        o += (size_t)sprintf(out + o, "%s%" PRId64, i ? "," : "", v);
    }
    out[o++] = '}';
    out[o] = '\0';
    return out;
}
