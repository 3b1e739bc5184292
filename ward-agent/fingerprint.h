/*
 * fingerprint.h - SHA-256 of an import's normalised content (docs/DESIGN.md
 * §6 "Re-imports and corrections").
 *
 * Normalisation: what the importer sees, not the bytes on disk. The
 * fingerprint covers the kind and then every data row as its fields in the
 * kind's column order (whatever the header's order), each field as the CSV
 * reader gives it (quotes and doubled quotes resolved, a BOM dropped, CRLF
 * or LF line ends alike), written as a 4-byte length followed by the
 * bytes, so no two different files share a fingerprint by concatenation.
 * The header itself is implied by the kind.
 *
 * The hash of the first k rows is a prefix of the running state, so a
 * file whose first rows are exactly an earlier import is found while it
 * is read (fingerprint_peek). libsodium's crypto_hash_sha256 does the
 * hashing.
 */
#ifndef WARD_AGENT_FINGERPRINT_H
#define WARD_AGENT_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define FINGERPRINT_LEN 32
#define FINGERPRINT_HEX_LEN (2 * FINGERPRINT_LEN)

struct fingerprint {
    crypto_hash_sha256_state state;
    uint64_t rows; /* rows added so far */
};

/* Starts the fingerprint of a file of kind ("ballots", ...). */
void fingerprint_init(struct fingerprint *fp, const char *kind);

/* Adds one data row: n fields in the kind's column order, with their
 * lengths (fields may hold NUL bytes). */
void fingerprint_add_row(struct fingerprint *fp, const char *const *fields,
                         const size_t *lengths, size_t n);

/* The fingerprint of the rows added so far; fp can go on growing. */
void fingerprint_peek(const struct fingerprint *fp,
                      uint8_t out[FINGERPRINT_LEN]);

/* The hash of one row alone (the same encoding, no kind): what a natural
 * key remembers of the row it was last queued with. */
void fingerprint_row(const char *const *fields, const size_t *lengths, size_t n,
                     uint8_t out[FINGERPRINT_LEN]);

/* Lower-case hex, NUL-terminated, into out[FINGERPRINT_HEX_LEN + 1]. */
void fingerprint_hex(const uint8_t fp[FINGERPRINT_LEN], char *out);

#endif
