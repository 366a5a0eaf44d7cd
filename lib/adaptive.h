/* libartifactprov — adaptive connection count of the download engine: open
 * more connections while the total rate still grows, fewer when it does not
 * (docs/fleet.md, "Adaptive connections").
 * SPDX-License-Identifier: MIT */
#ifndef AP_ADAPTIVE_H
#define AP_ADAPTIVE_H

#include <stdint.h>

#include "internal.h"

#define APX_ADAPT_WINDOW_MS 250u /* a measurement at one connection count */
#define APX_ADAPT_RAMP_MS 100u   /* windows of the first ramp (until the
                                    cap or the first step back): it costs
                                    two short windows, not two long ones
                                    (a step that pays adds a third or more
                                    to the rate, far above the noise of
                                    100 ms); later probes use the long one */
#define APX_ADAPT_STEP 4u        /* connections added or taken per step */
#define APX_ADAPT_GROWTH_PCT 8u  /* a step must raise the rate this much */
#define APX_ADAPT_HOLD 4u        /* windows to wait after a step back */

typedef struct apx_adapt {
    unsigned floor, cap;   /* the configured count, the most allowed */
    unsigned limit;        /* connections allowed now */
    unsigned peak;         /* the highest limit reached */
    unsigned hold;         /* windows left before the next probe */
    uint64_t win_start_ms, win_bytes;
    uint64_t last_rate;    /* bytes/s measured in the previous window */
    int stepped;           /* the previous window ended with a step up */
    int ramped;            /* the first ramp is over (cap or step back) */
    int confirming;        /* the step did not pay in one window: the
                              next decides */
} apx_adapt;

/* floor = the configured connection count (where it starts), cap = the most
 * (cap <= floor: no adaptation, the limit stays at floor). */
APX_HIDDEN void apx_adapt_init(apx_adapt *a, unsigned floor, unsigned cap);

/* Called on every turn of the engine's loop with the time, the transfers
 * running and the body bytes received so far in total; returns the limit.
 * A window counts only while every allowed connection is busy (more work
 * than connections): a file ending, a backoff or a wait restart it. */
APX_HIDDEN unsigned apx_adapt_tick(apx_adapt *a, uint64_t now_ms,
                                   unsigned active, uint64_t rx_total);

#endif
