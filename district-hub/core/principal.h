/*
 * principal.h - who a connection is (docs/DESIGN.md §4): "ward:<code>" (an
 * org unit of kind ward or district: the district office runs an agent
 * too) or "city:<name>". The ZAP handler (zap.c) sets the ZeroMQ User-Id
 * of every accepted connection to the principal its key is enrolled for;
 * the hub trusts that User-Id and nothing a message says.
 *
 * Pure functions: no database, no sockets.
 */
#ifndef DISTRICT_HUB_PRINCIPAL_H
#define DISTRICT_HUB_PRINCIPAL_H

#include <stddef.h>

enum principal_kind { PRINCIPAL_WARD, PRINCIPAL_CITY };

struct principal {
    enum principal_kind kind;
    char code[65]; /* ward code or city name */
};

/* The longest principal text: "ward:" and a 64-character code. */
#define PRINCIPAL_TEXT_MAX 80

/* Parses a User-Id as the ZAP handler sets it. Returns 0, or -EINVAL for
 * NULL or anything the handler would not have set. */
int principal_parse(const char *user_id, struct principal *out);

/* Writes "ward:CODE" or "city:CODE" into out (cap bytes). */
void principal_format(enum principal_kind kind, const char *code, char *out,
                      size_t cap);

#endif
