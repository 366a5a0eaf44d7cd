/* libartifactprov — internal: minisign signatures (Ed25519, libsodium).
 * SPDX-License-Identifier: MIT
 *
 * The format, as the minisign tool writes it:
 *
 *   public key   "untrusted comment: ..."            (optional line)
 *                base64("Ed" | key id[8] | Ed25519 public key[32])
 *   signature    "untrusted comment: ..."
 *                base64(alg[2] | key id[8] | signature[64])
 *                "trusted comment: TEXT"
 *                base64(global signature[64])
 *
 * alg "ED" (the default since minisign 0.8) signs the BLAKE2b-512 digest of
 * the file; "Ed" (legacy, `minisign -l`) signs the file itself.  The global
 * signature is made over signature[64] | TEXT, so the trusted comment cannot
 * be changed without the secret key.  A file is verified only when both
 * signatures check against the trusted key and the key ids agree.
 */
#ifndef AP_MINISIGN_H
#define AP_MINISIGN_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define APX_MINISIGN_KEY_TEXT_MAX 256     /* a .pub file is about 100 bytes */
#define APX_MINISIGN_SIG_TEXT_MAX 65536   /* trusted comments are one line */

typedef struct apx_minisign_key {
    unsigned char id[8];
    unsigned char pk[32];
} apx_minisign_key;

typedef struct apx_minisig {
    int prehashed;                /* 1: "ED" (BLAKE2b-512), 0: legacy "Ed" */
    unsigned char key_id[8];
    unsigned char sig[64];
    char *trusted_comment;        /* apx_malloc'd, without the prefix */
    unsigned char global_sig[64];
} apx_minisig;

/* The key id as minisign prints it ("1CB301FBE0EFADC3"); out >= 17 bytes. */
APX_HIDDEN void apx_minisign_key_id_hex(const unsigned char id[8], char out[17]);

/* Parse a public key: the contents of a .pub file (comment line then the
 * base64 line) or the base64 line alone (`minisign -P KEY`).  AP_EINVAL
 * with a message naming `label` and the cause. */
APX_HIDDEN int apx_minisign_key_parse(const char *text, const char *label,
                                      apx_minisign_key *key, apx_error *err);

/* Parse a .minisig document of len bytes (no NUL needed).  AP_EINVAL or
 * AP_ENOMEM; sig is cleared on failure. */
APX_HIDDEN int apx_minisig_parse(const char *text, size_t len, const char *label,
                                 apx_minisig *sig, apx_error *err);
APX_HIDDEN void apx_minisig_clear(apx_minisig *sig);

/* Verify the open regular file fd (read from offset 0 with pread; mapped
 * for a legacy signature) against sig and the trusted key.  AP_OK;
 * AP_EDIGEST when a signature does not verify, naming which ("the file's
 * signature", "the trusted comment's signature") and the key id; AP_EAUTH
 * when the signature was made by another key than the trusted one; AP_EIO
 * on a read error.  `label` names the file in messages.  The caller's
 * cancel check: `cancelled` (may be NULL) is polled between reads and a
 * non-zero answer ends with AP_ECANCELLED. */
APX_HIDDEN int apx_minisign_verify_fd(const apx_minisign_key *key,
                                      const apx_minisig *sig, int fd,
                                      const char *label,
                                      int (*cancelled)(void *), void *user,
                                      apx_error *err);

#endif
