/* libartifactprov — internal digest interface.
 * SHA-256 through libcrypto (EVP, SHA-NI when the CPU has it) by default,
 * libsodium when built with AP_DIGEST=sodium (about 6 times slower:
 * docs/design-notes.md, "SHA-256 through libcrypto, not libsodium").  SHA-1 (git blob ids) via libcrypto,
 * or a small portable implementation in the sodium build.
 * SPDX-License-Identifier: MIT */
#ifndef AP_DIGEST_H
#define AP_DIGEST_H

#include "internal.h"

typedef enum apx_digest_alg { APX_SHA256 = 1, APX_SHA1 = 2 } apx_digest_alg;

typedef struct apx_digest apx_digest;

APX_HIDDEN apx_digest *apx_digest_new(apx_digest_alg alg);
APX_HIDDEN void apx_digest_free(apx_digest *d);
APX_HIDDEN int apx_digest_reset(apx_digest *d);
APX_HIDDEN int apx_digest_update(apx_digest *d, const void *data, size_t n);
/* A git blob id is the sha1 of "blob <size>" and its NUL, then the bytes:
 * feed that header into the (sha1) digest d before the bytes. */
APX_HIDDEN int apx_digest_git_blob_head(apx_digest *d, uint64_t size);
/* Writes lower-case hex (65 bytes for sha256, 41 for sha1). */
APX_HIDDEN int apx_digest_final_hex(apx_digest *d, char *hex_out);
/* Name of the backend in use ("libcrypto" or "libsodium"). */
APX_HIDDEN const char *apx_digest_backend(void);
/* Feed the whole content of fd (from offset 0, with pread: the file
 * offset is left alone) into d, without finishing it; *size (may be NULL)
 * receives the byte count.  AP_OK, AP_ENOMEM or AP_EIO (errno kept). */
APX_HIDDEN int apx_digest_fd(apx_digest *d, int fd, uint64_t *size);
/* Hash a whole file (sha256) to hex; AP_OK or AP_EIO. */
APX_HIDDEN int apx_sha256_file(const char *path, char hex_out[65],
                               uint64_t *size_out);

#endif
