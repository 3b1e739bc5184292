/*
 * fingerprint.c - SHA-256 of normalised import content (fingerprint.h).
 */
#include "fingerprint.h"

#include <string.h>

/* The field's length as 4 bytes, little-endian, then its bytes. A CSV
 * field longer than 4 GiB does not reach here (the reader refuses it). */
static void add_field(crypto_hash_sha256_state *state, const char *field,
                      size_t len)
{
    uint8_t prefix[4];
    uint32_t n = (uint32_t)len;
    for (int i = 0; i < 4; i++)
        prefix[i] = (uint8_t)(n >> (8 * i));
    crypto_hash_sha256_update(state, prefix, sizeof(prefix));
    if (len)
        crypto_hash_sha256_update(state, (const unsigned char *)field, len);
}

static void add_fields(crypto_hash_sha256_state *state,
                       const char *const *fields, const size_t *lengths,
                       size_t n)
{
    uint8_t count[4];
    uint32_t c = (uint32_t)n;
    for (int i = 0; i < 4; i++)
        count[i] = (uint8_t)(c >> (8 * i));
    /* The field count first: a row is never read as part of the next. */
    crypto_hash_sha256_update(state, count, sizeof(count));
    for (size_t i = 0; i < n; i++)
        add_field(state, fields[i], lengths[i]);
}

void fingerprint_init(struct fingerprint *fp, const char *kind)
{
    crypto_hash_sha256_init(&fp->state);
    add_field(&fp->state, kind, strlen(kind));
    fp->rows = 0;
}

void fingerprint_add_row(struct fingerprint *fp, const char *const *fields,
                         const size_t *lengths, size_t n)
{
    add_fields(&fp->state, fields, lengths, n);
    fp->rows++;
}

void fingerprint_peek(const struct fingerprint *fp,
                      uint8_t out[FINGERPRINT_LEN])
{
    /* Finalising consumes the state: finalise a copy. */
    crypto_hash_sha256_state copy = fp->state;
    crypto_hash_sha256_final(&copy, out);
}

void fingerprint_row(const char *const *fields, const size_t *lengths, size_t n,
                     uint8_t out[FINGERPRINT_LEN])
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    add_fields(&state, fields, lengths, n);
    crypto_hash_sha256_final(&state, out);
}

void fingerprint_hex(const uint8_t fp[FINGERPRINT_LEN], char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < FINGERPRINT_LEN; i++) {
        out[2 * i] = digits[fp[i] >> 4];
        out[2 * i + 1] = digits[fp[i] & 0xf];
    }
    out[FINGERPRINT_HEX_LEN] = '\0';
}
