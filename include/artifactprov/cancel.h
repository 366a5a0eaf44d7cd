/* libartifactprov — cancellation token.  SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_CANCEL_H
#define ARTIFACTPROV_CANCEL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A cancellation token.  Created by the caller, handed to one or more
 * operations through their options, and triggered with ap_cancel().
 *
 * Thread safety: ap_cancel() and ap_cancel_is_set() may be called from any
 * thread at any time, and ap_cancel() is also async-signal-safe (it stores
 * an atomic flag and writes one byte to a pipe), so a SIGINT handler may
 * call it.  Every other function follows the one-thread-at-a-time rule.
 *
 * An operation watching the token returns AP_ECANCELLED promptly: the
 * engine waits on the token's file descriptor, so it wakes at once rather
 * than at the end of a chunk.
 */
typedef struct ap_cancel_token ap_cancel_token;

/** Create a token in the "not cancelled" state.  NULL on out-of-memory. */
AP_EXPORT ap_cancel_token *ap_cancel_token_new(void);

/** Destroy a token.  No operation may still be using it.  NULL is fine. */
AP_EXPORT void ap_cancel_token_free(ap_cancel_token *token);

/** Request cancellation.  Idempotent; thread-safe; async-signal-safe. */
AP_EXPORT void ap_cancel(ap_cancel_token *token);

/** Non-zero once ap_cancel() has been called (and not reset). */
AP_EXPORT int ap_cancel_is_set(const ap_cancel_token *token);

/**
 * Clear the token so it can be reused.  Not safe to call while an
 * operation watches it.
 */
AP_EXPORT void ap_cancel_reset(ap_cancel_token *token);

/**
 * A file descriptor that becomes readable once the token is cancelled,
 * for callers that run their own poll() loop.  Owned by the token.
 */
AP_EXPORT int ap_cancel_token_fd(const ap_cancel_token *token);

#ifdef __cplusplus
}
#endif

#endif
