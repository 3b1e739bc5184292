/*
 * principal.c - who a connection is (contract in principal.h).
 */
#include "core/principal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wardsync/util.h"
#include "wardsync/validate.h"

int principal_parse(const char *user_id, struct principal *out)
{
    char reason[128];
    memset(out, 0, sizeof *out);
    if (!user_id)
        return -EINVAL;
    const char *code;
    if (strncmp(user_id, "ward:", 5) == 0) {
        out->kind = PRINCIPAL_WARD;
        code = user_id + 5;
    } else if (strncmp(user_id, "city:", 5) == 0) {
        out->kind = PRINCIPAL_CITY;
        code = user_id + 5;
    } else {
        return -EINVAL;
    }
    if (strlen(code) >= sizeof out->code ||
        ws_validate_code("principal", code, reason, sizeof reason) != 0)
        return -EINVAL;
    ws_strlcpy(out->code, code, sizeof out->code);
    return 0;
}

void principal_format(enum principal_kind kind, const char *code, char *out,
                      size_t cap)
{
    snprintf(out, cap, "%s:%s", kind == PRINCIPAL_WARD ? "ward" : "city", code);
}
