/* libartifactprov — the retry policy shared by the download engine
 * (apx_fetch) and the small-request client (apx_http_simple): which
 * statuses are tried again, and the delay before the next attempt (docs/engine.md, "Retries").
 * SPDX-License-Identifier: MIT */
#ifndef AP_RETRY_H
#define AP_RETRY_H

#include <stdint.h>

#include "internal.h"

/* Is a response with this HTTP status worth another attempt?  408 (request
 * timeout), 429 (too many requests) and every 5xx; any other status is the
 * answer.  The engine's ranges and the small requests use this one rule. */
APX_HIDDEN int apx_http_status_retryable(long status);

/* The delay before attempt `attempt` + 1 (attempt >= 1): base * 2^(attempt-1)
 * milliseconds, at most 60 s, with +-25 % jitter drawn from *rng (an
 * xorshift state, never 0). */
APX_HIDDEN uint64_t apx_backoff_ms(uint64_t *rng, unsigned base,
                                   unsigned attempt);

#endif
