/*
 * keys.h - CURVE key files (DESIGN §4).
 *
 * A key pair is two files in the ZPL format of czmq's zcert, so that the
 * files interoperate with czmq tools, written and read here without linking
 * czmq (two functions do not justify the library and its dependencies):
 *
 *   PATH         public key, mode 0644:  curve / public-key = "<z85>"
 *   PATH_secret  both keys, mode 0600:   curve / public-key, secret-key
 *
 * Keys travel as 40-character Z85 text. A secret key file that anyone but
 * its owner can read (or write) is refused, like ssh does.
 */
#ifndef WARDSYNC_KEYS_H
#define WARDSYNC_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define WS_KEY_Z85_LEN 40
/* Largest key file read; real ones are about 400 bytes. */
#define WS_KEY_FILE_MAX 8192

struct ws_keypair {
    char public_z85[WS_KEY_Z85_LEN + 1];
    char secret_z85[WS_KEY_Z85_LEN + 1]; /* "" when only the public is known */
};

/* Makes a new key pair with libzmq. Returns 0, or -ENOTSUP when libzmq was
 * built without CURVE. */
int ws_keys_generate(struct ws_keypair *out);

/* True when s is exactly 40 characters of Z85 that decode to 32 bytes. */
bool ws_key_z85_valid(const char *s);

/* Writes path (public) and path_secret (secret, 0600), refusing to replace
 * existing files unless force. Returns 0 or a negative errno with the
 * reason in err. */
int ws_keys_write(const char *path, const struct ws_keypair *pair, bool force,
                  char *err, size_t errlen);

/* Parses the text of a key file (len bytes, need not be NUL-terminated):
 * sets out->public_z85 and, when present, out->secret_z85. Returns 0, or
 * -EINVAL with the reason (line and what is wrong) in err. */
int ws_keys_parse(const char *text, size_t len, struct ws_keypair *out,
                  char *err, size_t errlen);

/* Reads a public key file (a secret one works too: its secret half is
 * wiped). Returns 0 or a negative errno with the reason in err. */
int ws_keys_read_public(const char *path, struct ws_keypair *out, char *err,
                        size_t errlen);

/* Reads a secret key file: refuses one that group or others may read or
 * write (-EPERM), or that has no secret key (-EINVAL). Returns 0 or a
 * negative errno with the reason in err. */
int ws_keys_read_secret(const char *path, struct ws_keypair *out, char *err,
                        size_t errlen);

/* Overwrites the secret half so it does not linger in memory. */
void ws_keys_wipe(struct ws_keypair *pair);

#endif
