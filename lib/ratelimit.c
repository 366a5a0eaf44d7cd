/* libartifactprov — the download engine's bandwidth cap: one token
 * bucket shared by every transfer of a call, paused transfers resumed.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"

/* The bandwidth cap (max_bytes_per_sec) is our own token bucket rather
 * than CURLOPT_MAX_RECV_SPEED_LARGE: libcurl 7.88 lets several MB through
 * before its limiter engages (measured: 10 MB at a 1 MB/s limit in 4.5 s),
 * and a per-transfer limit cannot follow the number of active transfers.
 * The bucket holds at most 100 ms of budget; a write that finds it empty
 * pauses its transfer, and the loop resumes it when tokens are back. */
void refill_tokens(fetch *F, uint64_t now)
{
    double rate = (double)F->o.max_bytes_per_sec, cap = rate / 10.0;
    if (cap < 16384.0)
        cap = 16384.0;
    if (now > F->tokens_ms) {
        F->tokens += rate * (double)(now - F->tokens_ms) / 1000.0;
        if (F->tokens > cap)
            F->tokens = cap;
    }
    F->tokens_ms = now;
}

/* Resume paused transfers when the bucket allows; bound the poll timeout
 * by when it will. */
void pace(fetch *F, uint64_t now)
{
    xfer *x;
    if (!F->o.max_bytes_per_sec)
        return;
    refill_tokens(F, now);
    for (x = F->active; x && F->tokens > 0.0; x = x->next) {
        if (!x->paused)
            continue;
        x->paused = 0;
        x->last_data_ms = now; /* waiting on the cap is not a stall */
        x->win_start_ms = now; /* nor is it a low rate */
        x->win_bytes = 0;
        curl_easy_pause(x->easy, CURLPAUSE_CONT);
    }
}

/* While a transfer waits on the cap, wake up when the bucket refills. */
void pace_timeout(fetch *F, uint64_t *timeout)
{
    xfer *x;
    uint64_t ms;
    if (!F->o.max_bytes_per_sec)
        return;
    for (x = F->active; x && !x->paused; x = x->next)
        ;
    if (!x)
        return;
    refill_tokens(F, apx_now_ms());
    ms = F->tokens > 0.0 ? 0
         : (uint64_t)(-F->tokens * 1000.0 / (double)F->o.max_bytes_per_sec) + 1;
    if (ms < *timeout)
        *timeout = ms;
}
