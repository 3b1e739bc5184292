/*
 * core/reference.c - the version of a ward's reference data (contract in
 * core/reference.h).
 */
#include "core/reference.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

static void add_uint(crypto_hash_sha256_state *state, uint64_t value)
{
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    crypto_hash_sha256_update(state, bytes, sizeof bytes);
}

/* A string as its length and its bytes: "ab","c" and "a","bc" differ. */
static void add_text(crypto_hash_sha256_state *state, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    add_uint(state, len);
    if (len)
        crypto_hash_sha256_update(state, (const unsigned char *)text, len);
}

void reference_version(const Wardsync__V1__Reference *ref,
                       char out[REFERENCE_VERSION_LEN + 1])
{
    crypto_hash_sha256_state state;
    unsigned char digest[crypto_hash_sha256_BYTES];

    crypto_hash_sha256_init(&state);
    add_text(&state, "wardsync reference 1");
    add_text(&state, ref->ward);
    add_uint(&state, ref->n_rounds);
    for (size_t i = 0; i < ref->n_rounds; i++) {
        const Wardsync__V1__ReferenceRound *r = ref->rounds[i];
        add_text(&state, r->code);
        add_text(&state, r->label);
        add_text(&state, r->opens_on);
        add_text(&state, r->closes_on);
        add_uint(&state, (uint64_t)r->state);
    }
    add_uint(&state, ref->n_subjects);
    for (size_t i = 0; i < ref->n_subjects; i++) {
        const Wardsync__V1__ReferenceSubject *s = ref->subjects[i];
        add_text(&state, s->round);
        add_text(&state, s->subject);
        add_text(&state, s->category);
        add_text(&state, s->form);
    }
    add_text(&state, ref->catalogue_version);
    add_uint(&state, ref->n_deadline_rules);
    for (size_t i = 0; i < ref->n_deadline_rules; i++) {
        const Wardsync__V1__ReferenceDeadlineRule *d = ref->deadline_rules[i];
        add_uint(&state, (uint64_t)d->kind);
        add_text(&state, d->effective_from);
        add_uint(&state, d->accept_days);
        add_uint(&state, d->resolve_days);
        add_uint(&state, d->extension_days);
        add_uint(&state, d->max_extensions);
    }
    crypto_hash_sha256_final(&state, digest);
    for (size_t i = 0; i < sizeof digest; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}
