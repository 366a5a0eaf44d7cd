/* libartifactprov — the retry policy of the download engine and of the
 * small-request client (lib/retry.h).
 * SPDX-License-Identifier: MIT */
#include "retry.h"

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* base * 2^(attempt-1), +-25 % jitter. */
uint64_t apx_backoff_ms(uint64_t *rng, unsigned base, unsigned attempt)
{
    uint64_t d = base;
    unsigned i;
    for (i = 1; i < attempt && d < 60000; i++)
        d *= 2;
    if (d > 60000)
        d = 60000;
    {
        uint64_t span = d / 2; /* -25 % .. +25 % */
        uint64_t r = span ? xorshift(rng) % (span + 1) : 0;
        d = d - d / 4 + r;
    }
    return d;
}

int apx_http_status_retryable(long status)
{
    return status == 408 || status == 429 || status >= 500;
}
