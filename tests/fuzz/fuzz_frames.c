/*
 * fuzz_frames.c - every decoder of network frames and stored events: the
 * first byte picks Batch (then every event through the shared validation,
 * as the hub does), Ack (as the agent does) or Event (as read back from an
 * outbox, then validated).
 */
#include <stdlib.h>

#include "fuzz.h"
#include "wardsync/catalogue.h"
#include "wardsync/codec.h"
#include "wardsync/validate.h"

static const struct ws_catalogue *catalogue(void)
{
    static struct ws_catalogue *cat;
    static int tried;
    if (!tried) {
        char err[256];
        tried = 1;
        if (ws_catalogue_load(WS_FUZZ_CATALOGUE, &cat, err, sizeof err) < 0)
            abort(); /* the repository's own catalogue must load */
    }
    return cat;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], reason[512];
    const struct ws_catalogue *cat = catalogue();
    if (size < 1)
        return 0;
    const uint8_t *frame = data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        Wardsync__V1__Batch *batch = NULL;
        if (ws_batch_unpack(frame, len, WS_MAX_FRAME_DEFAULT, &batch, err,
                            sizeof err) == 0) {
            for (size_t i = 0; i < batch->n_events; i++) {
                ws_validate_event(batch->events[i], cat, reason, sizeof reason);
                (void)ws_event_kind(batch->events[i]);
            }
            wardsync__v1__batch__free_unpacked(batch, NULL);
        }
        break;
    }
    case 1: {
        Wardsync__V1__Ack *ack = NULL;
        if (ws_ack_unpack(frame, len, WS_MAX_FRAME_DEFAULT, &ack, err,
                          sizeof err) == 0)
            wardsync__v1__ack__free_unpacked(ack, NULL);
        break;
    }
    default: {
        Wardsync__V1__Event *event = NULL;
        if (ws_event_unpack(frame, len, WS_MAX_FRAME_DEFAULT, &event, err,
                            sizeof err) == 0) {
            ws_validate_event(event, cat, reason, sizeof reason);
            wardsync__v1__event__free_unpacked(event, NULL);
        }
        break;
    }
    }
    return 0;
}
