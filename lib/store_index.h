/* libartifactprov — internal: the store's git blob id → sha256 index
 * (store_index.c), <root>/index/git-sha1.  SPDX-License-Identifier: MIT */
#ifndef AP_STORE_INDEX_H
#define AP_STORE_INDEX_H

#include "internal.h" /* first: it makes AP_EXPORT export */

#include <artifactprov/store.h>

/* Record git_sha1 → sha256 when the stored blob <sha256> has that git
 * blob id (computed from its bytes here; anything else is ignored).  Not
 * fsync'd: made durable by the next apx_store_sync. */
APX_HIDDEN void apx_gitsha1_remember(ap_store *store, const char *git_sha1,
                                     const char *sha256);
/* The sha256 of the stored blob whose git blob id is git_sha1: AP_OK with
 * out filled only when the blob is present and its bytes have that id (a
 * wrong entry is removed); AP_ENOTFOUND, or AP_EINVAL for a bad id. */
APX_HIDDEN int apx_gitsha1_lookup(ap_store *store, const char *git_sha1,
                                  char out[AP_SHA256_HEX_LEN + 1]);

#endif
