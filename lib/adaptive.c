/* libartifactprov — adaptive connection count (hill climbing on the total
 * rate; docs/fleet.md).
 * SPDX-License-Identifier: MIT */
#include "adaptive.h"

void apx_adapt_init(apx_adapt *a, unsigned floor, unsigned cap)
{
    a->floor = floor;
    a->cap = cap > floor ? cap : floor;
    a->limit = a->peak = floor;
    a->hold = 0;
    a->win_start_ms = 0;
    a->win_bytes = 0;
    a->last_rate = 0;
    a->stepped = 0;
    a->ramped = 0;
    a->confirming = 0;
}

static void restart(apx_adapt *a, uint64_t now_ms, uint64_t rx_total)
{
    a->win_start_ms = now_ms;
    a->win_bytes = rx_total;
}

unsigned apx_adapt_tick(apx_adapt *a, uint64_t now_ms, unsigned active,
                        uint64_t rx_total)
{
    uint64_t rate, span;
    if (a->cap <= a->floor)
        return a->limit;
    /* not every allowed connection busy: nothing to learn, start over */
    if (active < a->limit || !a->win_start_ms) {
        restart(a, now_ms, rx_total);
        return a->limit;
    }
    span = now_ms - a->win_start_ms;
    if (span < (a->ramped ? APX_ADAPT_WINDOW_MS : APX_ADAPT_RAMP_MS))
        return a->limit;
    rate = (rx_total - a->win_bytes) * 1000u / span;
    restart(a, now_ms, rx_total);
    if (a->stepped && rate * 100u < a->last_rate * (100u + APX_ADAPT_GROWTH_PCT)) {
        /* the step did not pay in its first window: one more at this
         * count before deciding (the connections just opened, and the
         * others catching up, swing one window by 15 % either way) */
        if (!a->confirming) {
            a->confirming = 1;
            return a->limit;
        }
        /* nor in the second: back, and wait before trying again */
        a->confirming = 0;
        a->limit = a->limit - APX_ADAPT_STEP > a->floor
                       ? a->limit - APX_ADAPT_STEP : a->floor;
        a->hold = APX_ADAPT_HOLD;
        a->stepped = 0;
        a->ramped = 1;
        a->last_rate = rate;
        return a->limit;
    }
    a->last_rate = rate;
    a->stepped = 0;
    a->confirming = 0;
    if (a->hold) {
        a->hold--;
        return a->limit;
    }
    if (a->limit < a->cap) {
        a->stepped = 1;
        a->limit = a->limit + APX_ADAPT_STEP < a->cap
                       ? a->limit + APX_ADAPT_STEP : a->cap;
        if (a->limit > a->peak)
            a->peak = a->limit;
    } else {
        a->ramped = 1;
    }
    return a->limit;
}
