/* libartifactprov — private to the store's files: store.c (the handle,
 * blobs, locks, commits, views), store_import.c (imports) and store_gc.c
 * (verify, blob removal, gc).  Nothing else includes it.
 * SPDX-License-Identifier: MIT */
#ifndef AP_STORE_PRIV_H
#define AP_STORE_PRIV_H

#include "internal.h"

#include <artifactprov/store.h>

#define STORE_MAGIC 0x41505354u  /* "APST" */
#define IO_BUF (1u << 20)

struct ap_store {
    unsigned magic;
    char *root;
    int root_fd;
    apx_error err;
};

/* A valid, open store handle. */
APX_HIDDEN int apx_store_ok(const ap_store *s);
/* AP_EINVAL with "'<hex>' is not a lower-case hex sha256" in s->err. */
APX_HIDDEN int apx_store_bad_hex(ap_store *s, const char *hex);
/* Directory fd of blobs/sha256/<2 hex> (made when `create`). */
APX_HIDDEN int apx_store_blob_dir(ap_store *s, const char *hex, int create);
/* Take the exclusive lock locks/<name>.lock (see ap_store_lock). */
APX_HIDDEN int apx_store_lock_name(ap_store *s, const char *name, int nonblock, int *out_fd);
/* Under the blob's lock: is <hex> already stored?  1 yes, 0 no, < 0 when
 * something that is not a regular file sits at the blob's path. */
APX_HIDDEN int apx_store_blob_there(ap_store *s, int dfd, const char *hex);

#endif
